//! `nonoc diff OLD NEW [--fail-on-escalation]`: loads both policies, compares them with
//! [`crate::diff::compare`], and prints the result for people or as JSON.

use std::io::Write;
use std::path::Path;

use crate::cli::{EXIT_FAILED, EXIT_OK, Format, Style};
use crate::diagnostic::terminal_safe;

/// `nonoc diff`: 0, or 1 with `fail_on_escalation` when a right is gained; 1 when either
/// policy has errors; 2 when a file cannot be read.
pub fn diff(
    old: &Path,
    new: &Path,
    fail_on_escalation: bool,
    format: Format,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    // Both are read first, so the diagnostics of both are shown.
    let (old_ir, new_ir) = match (super::load(old, style, err), super::load(new, style, err)) {
        (Ok((_, a)), Ok((_, b))) => (a, b),
        (a, b) => {
            let code = |r: &Result<_, u8>| r.as_ref().err().copied().unwrap_or(EXIT_OK);
            return code(&a).max(code(&b));
        }
    };
    let result = crate::diff::compare(&old_ir, &new_ir);
    // `sarif` is for `check`: anything but JSON is for people.
    if format == Format::Json {
        let _ = serde_json::to_writer_pretty(&mut *out, &result);
        let _ = writeln!(out);
    } else {
        let _ = out.write_all(terminal_safe(&result.render()).as_bytes());
    }
    if fail_on_escalation && result.escalation {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}
