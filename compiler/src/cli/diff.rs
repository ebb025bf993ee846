//! `nonoc diff OLD NEW [--fail-on-escalation]`: loads both policies, compares them with
//! [`crate::diff::compare`], and prints the result for people or as JSON.

use std::path::PathBuf;

use super::common::{Context, Exit, Format, Outcome, load_ir};
use crate::diagnostic::terminal_safe;

/// Arguments of `nonoc diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    pub old: PathBuf,
    pub new: PathBuf,
    /// Exit 1 when any right is gained.
    #[arg(long)]
    pub fail_on_escalation: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `nonoc diff`: 0, or 1 with `fail_on_escalation` when a right is gained; 1 when either
/// policy has errors; 2 when a file cannot be read.
pub fn run(args: &DiffArgs, ctx: &mut Context<'_>) -> Outcome {
    // Both are read first, so the diagnostics of both are shown.
    let old = load_ir(&args.old, ctx).map_err(|e| e.report(ctx.err));
    let new = load_ir(&args.new, ctx).map_err(|e| e.report(ctx.err));
    let (old_ir, new_ir) = match (old, new) {
        (Ok((_, a)), Ok((_, b))) => (a, b),
        (a, b) => return Ok(a.err().max(b.err()).unwrap_or(Exit::Ok)),
    };
    let result = crate::diff::compare(&old_ir, &new_ir);
    // `sarif` is for `check`: anything but JSON is for people.
    if args.format == Format::Json {
        let _ = serde_json::to_writer_pretty(&mut *ctx.out, &result);
        let _ = writeln!(ctx.out);
    } else {
        let _ = ctx
            .out
            .write_all(terminal_safe(&result.render()).as_bytes());
    }
    if args.fail_on_escalation && result.escalation {
        Ok(Exit::Failed)
    } else {
        Ok(Exit::Ok)
    }
}
