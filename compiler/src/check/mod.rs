//! Stage 4, semantic checks: the document checks run on the parsed file; the `tests:`
//! section and the lints run on the IR, where rings are merged. (Single values are checked
//! while lowering, in `ir::values`; what a backend's output must fit in, each backend
//! reports.)

mod lints;
mod tests;

pub use lints::lints;
pub use tests::tests;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::syntax::PolicyFile;

/// Highest Landlock ABI this compiler knows.
pub const MAX_LANDLOCK_ABI: i64 = nonoc_runtime::artifact::MAX_LANDLOCK_ABI as i64;

/// Checks of the document header and settings.
pub fn header(file: &PolicyFile, diags: &mut Diagnostics) {
    if file.api_version.value != "nonoc.dev/v1" {
        diags.push(
            Diagnostic::new(
                Code::ApiVersion,
                file.api_version.span,
                format!("unsupported apiVersion `{}`", file.api_version.value),
            )
            .help("this compiler reads `apiVersion: nonoc.dev/v1`"),
        );
    }
    if file.kind.value != "RingPolicy" {
        diags.push(
            Diagnostic::new(
                Code::Kind,
                file.kind.span,
                format!("unsupported kind `{}`", file.kind.value),
            )
            .help("a policy file has `kind: RingPolicy`"),
        );
    }
    let name = &file.metadata.name;
    let valid = name
        .value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        diags.push(
            Diagnostic::new(Code::PolicyName, name.span, format!("policy name `{}` is not valid", name.value))
                .help("use lower-case letters, digits and `-`, starting with a letter or digit, e.g. `coding-agent`"),
        );
    }
    if let Some(abi) = &file.settings.landlock.min_abi
        && !(1..=MAX_LANDLOCK_ABI).contains(&abi.value)
    {
        diags.push(
            Diagnostic::new(
                Code::MinAbi,
                abi.span,
                format!("`min_abi: {}` is not a known Landlock ABI", abi.value),
            )
            .help(format!(
                "Landlock ABIs known to this compiler are 1 to {MAX_LANDLOCK_ABI}"
            )),
        );
    }
}

/// The codes of `settings.accept`, checked: each must be a warning code (`NC0011`).
pub fn accepted(file: &PolicyFile, diags: &mut Diagnostics) -> Vec<Code> {
    let mut codes = Vec::new();
    for entry in &file.settings.accept {
        match Code::ALL.iter().find(|c| c.as_str() == entry.value) {
            Some(code) if code.default_severity() == crate::diagnostic::Severity::Warning => {
                codes.push(*code);
            }
            found => {
                let what = match found {
                    Some(_) => "an error code: errors cannot be accepted",
                    None => "not a diagnostic code",
                };
                diags.push(
                    Diagnostic::new(
                        Code::AcceptCode,
                        entry.span,
                        format!("`{}` in `settings.accept` is {what}", entry.value),
                    )
                    .help("`settings.accept` lists warning codes (`NC0802`, `NC0907`, ...) whose findings the policy accepts; see docs/diagnostics.md"),
                );
            }
        }
    }
    codes
}
