//! Limits of the kernel that a ring's compiled form must fit in. Checked here, so `nonoc
//! check` says what `nonoc compile` would refuse.

use crate::backend::seccomp::{self, LowerError};
use crate::data::Arch;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::Ir;

/// Each confined ring's seccomp filter, for every arch, within `BPF_MAXINSNS`.
pub fn limits(ir: &Ir, diags: &mut Diagnostics) {
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        for arch in Arch::ALL {
            let Err(LowerError::TooLong { length, .. }) = seccomp::length(ring, arch) else {
                continue;
            };
            diags.push(
                Diagnostic::new(
                    Code::SeccompTooLong,
                    ring.span,
                    format!(
                        "ring {}'s seccomp filter for {} would have {length} instructions; the kernel takes at most {}",
                        ring.level,
                        arch.name(),
                        seccomp::MAX_INSTRUCTIONS
                    ),
                )
                .label("this ring's syscall, network and process rules")
                .help("each argument check costs instructions: merge rules that test the same argument (a `masked_eq` or bit test instead of many `eq`), or deny the whole syscall"),
            );
        }
    }
}
