//! Stage 6: the artifact. Built from the IR and the backends' output; the format is defined
//! once, in `nonoc_runtime::artifact`.

use std::collections::BTreeMap;

use nonoc_runtime::artifact::{
    Artifact, CompilerInfo, FORMAT, LandlockSettings, PolicyInfo, RingTargets, Settings, TrustTier,
    Variable, hex,
};
use sha2::{Digest, Sha256};

use crate::backend;
use crate::ir::Ir;
use crate::syntax::Compatibility;

/// Builds the sealed artifact; `Err` names the ring a backend could not lower.
pub fn build(ir: &Ir, source: &[u8]) -> Result<(Artifact, Vec<u8>), String> {
    let mut rings = BTreeMap::new();
    for (level, ring) in &ir.rings {
        let landlock = backend::landlock::lower(ring).map_err(|e| format!("ring {level}: {e}"))?;
        rings.insert(
            *level,
            RingTargets {
                description: ring.description.clone(),
                unconfined: ring.unconfined,
                landlock,
                seatbelt: None,
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
