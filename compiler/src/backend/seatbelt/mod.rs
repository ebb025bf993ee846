//! Seatbelt (macOS) lowering: an IR ring to an SBPL profile and its parameters.
//!
//! The lowering builds a typed tree (`sbpl.rs`), the lints check it (`lint.rs`), and one
//! printer (`print.rs`) turns it into text; no other code writes SBPL. The profile has this
//! shape, in this order:
//!
//! ```text
//! (version 1)
//! ; header: policy, ring, and each parameter with the path it stands for
//! (deny default)
//! ; platform baseline, each rule with its reason (baseline.rs)
//! ; filesystem: one allow per rule and operation group, host paths as (param "NONOC_Pn"),
//! ;   /tmp, /var and /etc paths also under /private, denies inside with require-not
//! ; network: (remote tcp "*:PORT"), (local tcp "*:PORT"), or (allow network*); with hosts,
//! ;   (remote tcp "localhost:@NONOC_PROXY_PORT@"), the runtime putting the proxy's port in
//! ; processes: process-fork, signal by target, ptrace as mach-priv-task-port
//! ; denies, last: the policy's denies with the operation names of the allows they beat,
//! ;   rename protection, device nodes, the keychain's Mach services
//! ```
//!
//! Rights map to operations as `grants` and `withholds` in `rights.rs` say: `read_file` and
//! `read_dir` are `file-read*` on objects that are or are not directories (`vnode-type`),
//! the write group is `file-write*`, its parts `file-write-data` (`write_file`, and
//! `truncate` with it), `file-write-create` and `file-write-unlink` narrowed by object type,
//! `execute` is `process-exec` and `file-map-executable`, `ioctl_dev` is `file-ioctl`.
//! Deny globs become anchored regular expressions (`regex.rs`).
//!
//! The decision oracle (`oracle/`, test-only) reads the printed text back and evaluates it
//! under two precedence models; the tests hold every ring of every example policy and
//! fixture to `decide`. docs/backends/seatbelt.md is the long form of all this.

mod baseline;
mod findings;
mod lint;
mod lower;
pub mod names;
pub mod print;
pub mod regex;
mod rights;
pub mod sbpl;
mod sections;

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;

use nonoc_runtime::artifact::{SeatbeltProfile, proxy_rules};
use nonoc_runtime::seatbelt::MAX_PROFILE_BYTES;

use super::MacosRing;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::Ring;

pub use baseline::{COVERAGE as BASELINE_COVERAGE, DYLD_CACHE, KEYCHAIN_SERVICES};
pub use findings::findings;
pub use lower::{Problem, Tree, param_name};
pub use rights::withholds;

/// A ring's profile: the tree, and what the artifact carries.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub tree: sbpl::Profile,
    pub profile: SeatbeltProfile,
}

/// What macOS leaves out of every confined ring: the syscall filter, including the rules the
/// ring's network and process settings imply on Linux (the profile enforces those settings
/// with its own operations).
const SYSCALLS_NOT_APPLIED: &str = "`syscalls:` is the Linux seccomp layer and does not apply on macOS; the ring's network and process settings are enforced by the profile";

/// Lowers a ring; `None` for an unconfined ring, which has no profile.
pub fn compile(policy: &str, ring: &Ring) -> Result<Option<Compiled>, Vec<Problem>> {
    if ring.unconfined {
        return Ok(None);
    }
    let Tree {
        profile: tree,
        params,
    } = lower::tree(policy, ring)?;
    let failures = lint::check(&tree, &params);
    if !failures.is_empty() {
        return Err(failures
            .into_iter()
            .map(|f| Problem {
                code: None,
                span: None,
                message: format!(
                    "the Seatbelt profile of ring {} failed a self-check: {f}",
                    ring.level
                ),
                help: None,
            })
            .collect());
    }
    let sbpl = print::print(&tree).map_err(|e| {
        vec![Problem {
            code: Some(Code::SeatbeltUnprintable),
            span: Some(ring.span),
            message: format!(
                "ring {} cannot be printed as a Seatbelt profile: `{}`: {}",
                ring.level,
                lower::shown(&e.text),
                e.reason
            ),
            help: None,
        }]
    })?;
    // The egress proxy's rule, once in a ring with hosts, never elsewhere: a glob that spells
    // the placeholder's name would make an artifact the runtime refuses.
    let proxy = usize::from(ring.network.host_policy().is_some());
    match proxy_rules(&sbpl) {
        Ok(n) if n == proxy => {}
        Ok(n) => {
            return Err(vec![Problem {
                code: None,
                span: None,
                message: format!(
                    "the Seatbelt profile of ring {} failed a self-check: {n} rules for the egress proxy's port, expected {proxy}",
                    ring.level
                ),
                help: None,
            }]);
        }
        Err(e) => {
            return Err(vec![Problem {
                code: Some(Code::SeatbeltUnprintable),
                span: Some(ring.span),
                message: format!(
                    "ring {} cannot be printed as a Seatbelt profile: {e}",
                    ring.level
                ),
                help: Some(
                    "`NONOC_PROXY_PORT` is reserved in macOS profiles for the egress proxy's port: match that part of the name with a wildcard".to_owned(),
                ),
            }]);
        }
    }
    if sbpl.len() > MAX_PROFILE_BYTES {
        return Err(vec![Problem {
            code: Some(Code::SeatbeltBudget),
            span: Some(ring.span),
            message: format!(
                "the Seatbelt profile of ring {} is {} bytes; macOS refuses profiles over {MAX_PROFILE_BYTES}",
                ring.level,
                sbpl.len()
            ),
            help: Some(
                "grant a common parent directory instead of many paths under it, or split the ring"
                    .to_owned(),
            ),
        }]);
    }
    Ok(Some(Compiled {
        tree,
        profile: SeatbeltProfile {
            sbpl,
            params,
            not_enforced: vec![SYSCALLS_NOT_APPLIED.to_owned()],
        },
    }))
}

/// [`compile`], reporting what the backend finds to `diags`: what keeps a confined ring from
/// having a macOS profile (where the profile enforces a rule other than as written is
/// [`findings`], merged across rings by [`super::lower`]). A
/// failed self-check of the compiler is not the policy's fault; `nonoc compile` reports it.
pub fn lower_reporting(policy: &str, ring: &Ring, diags: &mut Diagnostics) -> MacosRing {
    let compiled = compile(policy, ring);
    if ring.unconfined {
        return compiled;
    }
    if let Err(problems) = &compiled {
        for problem in problems {
            let Some(code) = problem.code else { continue };
            let mut d = Diagnostic::new(code, problem.span, problem.message.clone());
            if let Some(help) = &problem.help {
                d = d.help(help.clone());
            }
            diags.push(d);
        }
    }
    compiled
}

/// A ring's profile as `--emit sbpl` prints it: the SBPL text, or for an unconfined ring a
/// comment saying there is none.
pub fn render(level: u8, profile: Option<&SeatbeltProfile>) -> String {
    match profile {
        Some(p) => p.sbpl.clone(),
        None => format!("; ring {level} is unconfined: no Seatbelt profile is applied\n"),
    }
}
