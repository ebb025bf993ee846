//! Stage 6: the artifact. Built from the IR and the backends' output; the format is defined
//! once, in `nonoc_runtime::artifact`.

use std::collections::BTreeMap;

use nonoc_runtime::artifact::{
    Artifact, CompilerInfo, FORMAT, LandlockSettings, PolicyInfo, RingTargets, SeatbeltProfile,
    SeccompFilter, Settings, TrustTier, Variable, hex,
};
use sha2::{Digest, Sha256};

use crate::backend;
use crate::data::Arch;
use crate::ir::Ir;
use crate::syntax::{Compatibility, Isolation};

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
}

/// Builds the sealed artifact for every system: per ring the Landlock plan, a seccomp
/// filter for every arch and the Seatbelt profile. `Err` names the ring a backend could not
/// lower.
pub fn build(ir: &Ir, source: &[u8]) -> Result<(Artifact, Vec<u8>), String> {
    build_for(ir, source, Targets::ALL)
}

/// A ring's Seatbelt section; `Err` says what stopped it.
pub fn seatbelt(ir: &Ir, ring: &crate::ir::Ring) -> Result<Option<SeatbeltProfile>, String> {
    match backend::seatbelt::compile(&ir.name, ring) {
        Ok(compiled) => Ok(compiled.map(|c| c.profile)),
        Err(problems) => Err(problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Builds the sealed artifact with the sections of the given systems.
pub fn build_for(ir: &Ir, source: &[u8], targets: Targets) -> Result<(Artifact, Vec<u8>), String> {
    let mut rings = BTreeMap::new();
    for (level, ring) in &ir.rings {
        let landlock = match targets.linux {
            true => backend::landlock::lower(ring).map_err(|e| format!("ring {level}: {e}"))?,
            false => None,
        };
        let seatbelt = match targets.macos {
            true => seatbelt(ir, ring).map_err(|e| format!("ring {level}: {e}"))?,
            false => None,
        };
        let mut seccomp = BTreeMap::new();
        if targets.linux && !ring.unconfined {
            for arch in Arch::ALL {
                let program = backend::seccomp::lower(ring, arch).map_err(|e| e.to_string())?;
                seccomp.insert(
                    arch.artifact_arch(),
                    SeccompFilter::new(&program.instructions, program.stats),
                );
            }
        }
        rings.insert(
            *level,
            RingTargets {
                description: ring.description.clone(),
                unconfined: ring.unconfined,
                landlock,
                seatbelt,
                seccomp,
            },
        );
    }
    let mut artifact = Artifact {
        format: FORMAT.to_owned(),
        compiler: CompilerInfo {
            name: "nonoc".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        policy: PolicyInfo {
            name: ir.name.clone(),
            source_sha256: hex(&Sha256::digest(source)),
        },
        settings: Settings {
            landlock: LandlockSettings {
                compatibility: match ir.settings.landlock_compatibility {
                    Compatibility::BestEffort => nonoc_runtime::artifact::Compatibility::BestEffort,
                    Compatibility::HardRequirement => {
                        nonoc_runtime::artifact::Compatibility::HardRequirement
                    }
                },
                min_abi: ir.settings.landlock_min_abi,
            },
            isolation: match ir.settings.isolation {
                Isolation::BestEffort => nonoc_runtime::artifact::Isolation::BestEffort,
                Isolation::Required => nonoc_runtime::artifact::Isolation::Required,
                Isolation::Off => nonoc_runtime::artifact::Isolation::Off,
            },
        },
        variables: ir
            .variables
            .iter()
            .map(|(name, v)| {
                (
                    name.clone(),
                    Variable {
                        env: v.env.clone(),
                        default: v.default.as_ref().map(|d| d.as_str().to_owned()),
                    },
                )
            })
            .collect(),
        trust_tiers: ir
            .trust_tiers
            .iter()
            .map(|t| TrustTier {
                name: t.name.clone(),
                min_score: t.min_score,
                ring: t.ring,
            })
            .collect(),
        rings,
        digest: String::new(),
    };
    let bytes = artifact.seal().map_err(|e| e.to_string())?;
    Ok((artifact, bytes))
}
