//! Settings: one that weakens enforcement is a gain (an escalation), one that strengthens it a
//! loss, and a change that cannot change what is enforced a note.

use super::report::{Area, Changes, Finding};
use crate::diagnostic::{Code, Diagnostics};
use crate::ir::Ir;
use crate::syntax::{Compatibility, Isolation, Unenforceable};

pub(super) fn compare(old: &Ir, new: &Ir, out: &mut Changes) {
    let (a, b) = (&old.settings, &new.settings);
    let record = |out: &mut Changes, gain: bool, text: String| {
        out.push(gain, Finding::plain(Area::Settings, text));
    };
    let compat = |c: Compatibility| match c {
        Compatibility::BestEffort => "best_effort",
        Compatibility::HardRequirement => "hard_requirement",
    };
    let hard = |c: Compatibility| c == Compatibility::HardRequirement;
    if a.landlock_compatibility != b.landlock_compatibility {
        let weaker = !hard(b.landlock_compatibility);
        let what = if weaker {
            "on a kernel without a Landlock feature a ring needs, the ring now runs without it (it was refused)"
        } else {
            "on a kernel without a Landlock feature a ring needs, the ring is now refused"
        };
        record(
            out,
            weaker,
            format!(
                "landlock.compatibility {} -> {}: {what}",
                compat(a.landlock_compatibility),
                compat(b.landlock_compatibility)
            ),
        );
    }
    if a.landlock_min_abi != b.landlock_min_abi {
        let text = format!(
            "landlock.min_abi {} -> {}",
            a.landlock_min_abi, b.landlock_min_abi
        );
        if hard(a.landlock_compatibility) && hard(b.landlock_compatibility) {
            let lower = b.landlock_min_abi < a.landlock_min_abi;
            let (x, y) = if lower {
                (b.landlock_min_abi, a.landlock_min_abi)
            } else {
                (a.landlock_min_abi, b.landlock_min_abi)
            };
            let span = if y - x == 1 {
                format!("ABI {x}")
            } else {
                format!("ABI {x} to {}", y - 1)
            };
            let what = if lower {
                format!("kernels with Landlock {span} are no longer refused")
            } else {
                format!("kernels with Landlock {span} are now refused")
            };
            record(out, lower, format!("{text}: {what}"));
        } else {
            out.notes.push(format!(
                "{text} (with `best_effort` only what is reported below it changes)"
            ));
        }
    }
    if a.unenforceable != b.unenforceable {
        let weaker = b.unenforceable == Unenforceable::Warn;
        let name = |u: Unenforceable| match u {
            Unenforceable::Warn => "warn",
            Unenforceable::Error => "error",
        };
        let what = if weaker {
            "rules a backend enforces only partly are accepted again (they were errors)"
        } else {
            "rules a backend enforces only partly are now errors"
        };
        record(
            out,
            weaker,
            format!(
                "unenforceable {} -> {}: {what}",
                name(a.unenforceable),
                name(b.unenforceable)
            ),
        );
    }
    if a.isolation != b.isolation {
        let weaker = strength(b.isolation) < strength(a.isolation);
        record(
            out,
            weaker,
            format!(
                "isolation {} -> {}: {}",
                a.isolation.name(),
                b.isolation.name(),
                isolation_meaning(b.isolation)
            ),
        );
    }
    if a.monotonic != b.monotonic {
        // It matters where the policy that turns the lint off has rings it would flag.
        let (off, ir) = if b.monotonic {
            (old, "OLD")
        } else {
            (new, "NEW")
        };
        let findings = monotonicity_findings(off);
        let text = format!("monotonic {} -> {}", a.monotonic, b.monotonic);
        match findings.first() {
            Some(first) if !b.monotonic => record(
                out,
                true,
                format!(
                    "{text}: a less privileged ring now grants what a more privileged one denies ({first})"
                ),
            ),
            Some(first) => record(
                out,
                false,
                format!(
                    "{text}: the rings {ir} let grant what a more privileged ring denies are flagged again ({first})"
                ),
            ),
            None => out.notes.push(format!(
                "{text} (no ring grants what a more privileged ring denies)"
            )),
        }
    }
}

/// Higher is stricter.
fn strength(isolation: Isolation) -> u8 {
    match isolation {
        Isolation::Off => 0,
        Isolation::BestEffort => 1,
        Isolation::Required => 2,
    }
}

fn isolation_meaning(isolation: Isolation) -> &'static str {
    match isolation {
        Isolation::Off => "Landlock and seccomp only, never the namespace layer",
        Isolation::BestEffort => {
            "the namespace layer where the host allows it, else Landlock alone"
        }
        Isolation::Required => "a host without user namespaces is an apply error",
    }
}

/// The monotonicity lint's messages for a policy, as if `monotonic` were on.
fn monotonicity_findings(ir: &Ir) -> Vec<String> {
    let mut on = ir.clone();
    on.settings.monotonic = true;
    let mut diags = Diagnostics::default();
    crate::check::lints(&on, &mut diags);
    diags
        .iter()
        .filter(|d| d.code == Code::Monotonicity)
        .map(|d| d.message.clone())
        .collect()
}
