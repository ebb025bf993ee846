//! Stage 6: the artifact. Built from the IR and the backends' output; the format is defined
//! once, in `nonoc_runtime::artifact`.

use std::collections::BTreeMap;

use nonoc_runtime::artifact::{
    Artifact, CompilerInfo, FORMAT, LandlockSettings, PolicyInfo, RingTargets, SeatbeltProfile,
    SeccompFilter, Settings, TrustTier, hex,
};
use sha2::{Digest, Sha256};

use crate::backend::{Lowered, MacosRing, Targets};
use crate::ir::Ir;
use crate::syntax::{Compatibility, Isolation};

/// Assembles the sealed artifact with the sections of `targets` from what the backends made
/// of each ring (`lowered`, from [`crate::analyze_for`] with those targets or more). `Err`
/// names the ring a backend could not lower.
pub fn build(
    ir: &Ir,
    lowered: &Lowered,
    source: &[u8],
    targets: Targets,
) -> Result<(Artifact, Vec<u8>), String> {
    let not_lowered = |system: &str| format!("the policy was not lowered for {system}");
    let mut rings = BTreeMap::new();
    for (level, ring) in &ir.rings {
        let linux = match targets.linux {
            true => lowered
                .linux
                .as_ref()
                .and_then(|rings| rings.get(level))
                .map(Some)
                .ok_or_else(|| not_lowered("Linux"))?,
            false => None,
        };
        let landlock = match linux {
            Some(linux) => linux
                .landlock
                .clone()
                .map_err(|e| format!("ring {level}: {e}"))?,
            None => None,
        };
        let seatbelt = match targets.macos {
            true => seatbelt(
                *level,
                lowered
                    .macos
                    .as_ref()
                    .and_then(|rings| rings.get(level))
                    .ok_or_else(|| not_lowered("macOS"))?,
            )?,
            false => None,
        };
        let mut seccomp = BTreeMap::new();
        for (arch, program) in linux.iter().flat_map(|l| &l.seccomp) {
            let program = program.as_ref().map_err(ToString::to_string)?;
            seccomp.insert(
                arch.artifact_arch(),
                SeccompFilter::new(&program.instructions, program.stats.clone()),
            );
        }
        rings.insert(
            *level,
            RingTargets {
                description: ring.description.clone(),
                unconfined: ring.unconfined,
                landlock,
                seatbelt,
                seccomp,
                capabilities: ring.process.capabilities.clone(),
                egress: ring.network.host_policy(),
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
            file: Some(ir.file.clone())
                .filter(|f| !f.is_empty() && f.len() <= 255 && !f.chars().any(char::is_control)),
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
            unenforceable: match ir.settings.unenforceable {
                crate::syntax::Unenforceable::Warn => nonoc_runtime::artifact::Unenforceable::Warn,
                crate::syntax::Unenforceable::Error => {
                    nonoc_runtime::artifact::Unenforceable::Error
                }
            },
            isolation: match ir.settings.isolation {
                Isolation::BestEffort => nonoc_runtime::artifact::Isolation::BestEffort,
                Isolation::Required => nonoc_runtime::artifact::Isolation::Required,
                Isolation::Off => nonoc_runtime::artifact::Isolation::Off,
            },
        },
        variables: crate::ir::declared(ir),
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
    if bytes.len() as u64 > nonoc_runtime::artifact::MAX_ARTIFACT_BYTES {
        return Err(format!(
            "the artifact would be {} bytes, more than the {} a runtime reads",
            bytes.len(),
            nonoc_runtime::artifact::MAX_ARTIFACT_BYTES
        ));
    }
    Ok((artifact, bytes))
}

/// A ring's Seatbelt section from the backend's result; `Err` says what stopped it, with the
/// ring's level.
pub fn seatbelt(level: u8, lowered: &MacosRing) -> Result<Option<SeatbeltProfile>, String> {
    match lowered {
        Ok(compiled) => Ok(compiled.as_ref().map(|c| c.profile.clone())),
        Err(problems) => Err(format!(
            "ring {level}: {}",
            problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}
