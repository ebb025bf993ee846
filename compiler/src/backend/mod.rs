//! Stage 5: backends. Each lowers an IR ring to what its kernel interface takes, and reports
//! what it finds as diagnostics: a seccomp filter longer than the kernel takes (`NC1001`), a
//! Seatbelt profile macOS would refuse or that enforces a rule other than as written
//! (`NC09xx`). [`lower`] runs each backend once per policy; the artifact is assembled from
//! what it returns.

pub mod landlock;
pub mod seatbelt;
pub mod seccomp;

use std::collections::BTreeMap;

use nonoc_runtime::artifact::LandlockPlan;

use crate::data::Arch;
use crate::diagnostic::Diagnostics;
use crate::ir::Ir;

/// Which systems an artifact carries sections for (`nonoc compile --target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub linux: bool,
    pub macos: bool,
}

impl Targets {
    pub const ALL: Targets = Targets {
        linux: true,
        macos: true,
    };
    pub const LINUX: Targets = Targets {
        linux: true,
        macos: false,
    };
    pub const MACOS: Targets = Targets {
        linux: false,
        macos: true,
    };
}

/// A ring's Linux sections: its Landlock plan and its seccomp filter for every arch (none
/// for an unconfined ring). `Err` says why a backend could not lower it.
#[derive(Debug, Clone)]
pub struct LinuxRing {
    pub landlock: Result<Option<LandlockPlan>, String>,
    pub seccomp: BTreeMap<Arch, Result<seccomp::Program, seccomp::LowerError>>,
}

/// A ring's Seatbelt section: its profile (`None` for an unconfined ring), or what stopped it.
pub type MacosRing = Result<Option<seatbelt::Compiled>, Vec<seatbelt::Problem>>;

/// Every ring as the backends of the systems asked for lowered it.
#[derive(Debug, Clone, Default)]
pub struct Lowered {
    /// `None` when Linux was not asked for, or the policy has errors.
    pub linux: Option<BTreeMap<u8, LinuxRing>>,
    /// `None` when macOS was not asked for.
    pub macos: Option<BTreeMap<u8, MacosRing>>,
}

/// Runs the backends of `targets` on every ring, each once, and adds what they find to
/// `diags`. The Seatbelt backend runs whatever the diagnostics so far, as a lint would; the
/// Linux backends only on a policy without errors (they report limits of a valid policy).
pub fn lower(ir: &Ir, targets: Targets, diags: &mut Diagnostics) -> Lowered {
    let macos = targets.macos.then(|| {
        let lowered = ir
            .rings
            .iter()
            .map(|(level, ring)| (*level, seatbelt::lower_reporting(&ir.name, ring, diags)))
            .collect();
        let found = ir
            .rings
            .iter()
            .flat_map(|(level, ring)| seatbelt::findings(ring).into_iter().map(|d| (*level, d)))
            .collect();
        for d in crate::diagnostic::merge_rings(found) {
            diags.push(d);
        }
        lowered
    });
    let linux = (targets.linux && !diags.has_errors()).then(|| {
        ir.rings
            .iter()
            .map(|(level, ring)| {
                let seccomp = match ring.unconfined {
                    true => BTreeMap::new(),
                    false => Arch::ALL
                        .into_iter()
                        .map(|arch| (arch, seccomp::lower_reporting(ring, arch, diags)))
                        .collect(),
                };
                let linux = LinuxRing {
                    landlock: landlock::lower(ring),
                    seccomp,
                };
                (*level, linux)
            })
            .collect()
    });
    Lowered { linux, macos }
}
