//! What `nonoc inspect` reports: an artifact summarized for people and machines, and the
//! ring-against-capability matrix.
//!
//! Everything in a [`Summary`] comes from the artifact, which carries the Landlock plans and
//! the compiled seccomp filters but not the IR: fork, ptrace, UDP and syscall rules are inside
//! the filters, which are not read back as rules. [`matrix_of_ir`] builds the full matrix from
//! a policy's IR instead.

use nonoc_runtime::artifact::{
    Artifact, Compatibility, Effect, LandlockPlan, PathRule, Rights, ScopeName, Target,
};
use serde::Serialize;

use crate::ir::{AccessSet, FsTarget, Ir, PathTemplate, SyscallAction, action_name};
use crate::syntax::NetworkMode;

/// What the cells of a matrix mean (printed under it as `key: ...`).
const KEY: &str = "key: r = read, w = write, x = execute, all = every right, `a+b` = those rights; \
`deny ...` = denied (global and ring denies), `(except N)` = with N exceptions; `-` = nothing; \
`any` = unconfined (no sandbox) or not restricted; `none` = no port; `blocked` = no TCP \
socket (`network.mode: blocked`); `scoped` = only within the sandbox (a Landlock scope)";

/// The note under a matrix built from an artifact.
const PLAN_FOOTNOTE: &str = "note: fork, ptrace, UDP and syscall rules are compiled into the \
seccomp filters, which are not read back as rules; `nonoc inspect POLICY --matrix --policy` \
shows them";

/// What `inspect` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub format: String,
    pub compiler: String,
    pub policy: String,
    pub source_sha256: String,
    pub digest: String,
    pub digest_verified: bool,
    pub landlock_compatibility: &'static str,
    pub landlock_min_abi: u32,
    pub variables: Vec<String>,
    /// The variable the runtime binds to a private temporary directory per run (`tmp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_tmp: Option<String>,
    pub trust_tiers: Vec<TierSummary>,
    pub rings: Vec<RingSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Matrix>,
}

/// A trust tier with the score range it selects.
#[derive(Debug, Clone, Serialize)]
pub struct TierSummary {
    pub name: String,
    pub min_score: u16,
    pub max_score: u16,
    pub ring: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct RingSummary {
    pub ring: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub unconfined: bool,
    pub targets: Targets,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<RuleCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Tcp>,
    pub scopes: Vec<ScopeName>,
    /// Egress by host name: the hosts the egress proxy allows and refuses (v1.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<nonoc_runtime::hosts::HostPolicy>,
    /// Denies inside allowed paths: the runtime carves them out at apply time.
    pub carve_outs: Vec<CarveOut>,
    /// The seccomp filter of each arch.
    pub seccomp: Vec<BpfSummary>,
    /// The Seatbelt profile, when the artifact has one for the ring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seatbelt: Option<SbplSummary>,
}

/// A ring's Seatbelt profile, by size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SbplSummary {
    /// Bytes of SBPL text.
    pub bytes: usize,
    pub lines: usize,
    /// Parameters the profile reads (one per host path).
    pub params: usize,
    /// Parts of the ring's policy that do not apply on macOS.
    pub not_enforced: usize,
}

/// One arch's seccomp filter, by the compiler's measurements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BpfSummary {
    pub arch: &'static str,
    pub stats: nonoc_runtime::artifact::SeccompStats,
}

#[derive(Debug, Clone, Serialize)]
pub struct Targets {
    /// `present`, or `none` for an unconfined ring (or an artifact compiled for the other
    /// system only).
    pub landlock: &'static str,
    /// `present` (for the arches in `seccomp`), or `none` for an unconfined ring.
    pub seccomp: &'static str,
    pub seatbelt: &'static str,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RuleCounts {
    pub allow: usize,
    pub deny: usize,
    pub globs: usize,
    pub excepts: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tcp {
    /// The ring's `network.mode` as written: `allowed` (no port rules), `blocked` (the
    /// seccomp filter refuses a TCP socket), or `restricted`.
    pub mode: &'static str,
    /// `false`: TCP is not restricted (`network.mode: allowed`).
    pub restricted: bool,
    pub connect: Vec<u16>,
    pub bind: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CarveOut {
    pub deny: String,
    pub inside: String,
}

/// Rings (columns) against capabilities (rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    pub rings: Vec<u8>,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub capability: String,
    /// One cell per ring, in `rings` order.
    pub cells: Vec<String>,
}

/// Summarizes a verified artifact.
pub fn summarize(artifact: &Artifact, matrix: bool) -> Summary {
    let mut tiers: Vec<&nonoc_runtime::artifact::TrustTier> = artifact.trust_tiers.iter().collect();
    tiers.sort_by_key(|t| std::cmp::Reverse(t.min_score));
    let mut ceiling = 1000u16;
    let mut trust_tiers = Vec::new();
    for tier in tiers {
        trust_tiers.push(TierSummary {
            name: tier.name.clone(),
            min_score: tier.min_score,
            max_score: ceiling.max(tier.min_score),
            ring: tier.ring,
        });
        ceiling = tier.min_score.saturating_sub(1);
    }
    let rings = artifact
        .rings
        .iter()
        .map(|(level, targets)| {
            let plan = targets.landlock.as_ref();
            RingSummary {
                ring: *level,
                description: targets.description.clone(),
                unconfined: targets.unconfined,
                targets: Targets {
                    landlock: if plan.is_some() { "present" } else { "none" },
                    seccomp: if targets.seccomp.is_empty() {
                        "none"
                    } else {
                        "present"
                    },
                    seatbelt: if targets.seatbelt.is_some() {
                        "present"
                    } else {
                        "none"
                    },
                },
                rules: plan.map(|p| count_rules(&p.rules)),
                tcp: plan.map(|p| match &p.network {
                    None => Tcp {
                        mode: "allowed",
                        restricted: false,
                        connect: Vec::new(),
                        bind: Vec::new(),
                    },
                    Some(net) => Tcp {
                        mode: network_mode(targets),
                        restricted: true,
                        connect: net.connect_tcp.clone(),
                        bind: net.bind_tcp.clone(),
                    },
                }),
                scopes: plan.map(|p| p.scopes.clone()).unwrap_or_default(),
                egress: targets.egress.clone(),
                carve_outs: plan.map(carve_outs).unwrap_or_default(),
                seccomp: targets
                    .seccomp
                    .iter()
                    .map(|(arch, filter)| BpfSummary {
                        arch: arch.name(),
                        stats: filter.stats.clone(),
                    })
                    .collect(),
                seatbelt: targets.seatbelt.as_ref().map(|p| SbplSummary {
                    bytes: p.sbpl.len(),
                    lines: p.sbpl.lines().count(),
                    params: p.params.len(),
                    not_enforced: p.not_enforced.len(),
                }),
            }
        })
        .collect();
    Summary {
        format: artifact.format.clone(),
        compiler: format!("{} {}", artifact.compiler.name, artifact.compiler.version),
        policy: artifact.policy.name.clone(),
        source_sha256: artifact.policy.source_sha256.clone(),
        digest: artifact.digest.clone(),
        digest_verified: true,
        landlock_compatibility: match artifact.settings.landlock.compatibility {
            Compatibility::BestEffort => "best_effort",
            Compatibility::HardRequirement => "hard_requirement",
        },
        landlock_min_abi: artifact.settings.landlock.min_abi,
        variables: artifact.variables.keys().cloned().collect(),
        private_tmp: artifact
            .variables
            .iter()
            .find(|(_, v)| v.private_tmp)
            .map(|(name, _)| name.clone()),
        trust_tiers,
        rings,
        matrix: matrix.then(|| matrix_of_artifact(artifact)),
    }
}

fn count_rules(rules: &[PathRule]) -> RuleCounts {
    let mut counts = RuleCounts::default();
    for rule in rules {
        match rule.effect {
            Effect::Allow => counts.allow += 1,
            Effect::Deny => counts.deny += 1,
        }
        if matches!(rule.target, Target::Glob(_)) {
            counts.globs += 1;
        }
        counts.excepts += rule.except.len();
    }
    counts
}

fn target_text(target: &Target) -> &str {
    match target {
        Target::Path(p) => p,
        Target::Glob(g) => &g.text,
    }
}

/// The directory a target's matches lie under.
fn target_root(target: &Target) -> &str {
    match target {
        Target::Path(p) => p,
        Target::Glob(g) => &g.root,
    }
}

/// Denies that lie at or under an allowed path and share a right with it, judged on the
/// templates (`${home}/.ssh` under `${home}`; everything under `/`).
fn carve_outs(plan: &LandlockPlan) -> Vec<CarveOut> {
    let mut found = Vec::new();
    for deny in plan.rules.iter().filter(|r| r.effect == Effect::Deny) {
        let Ok(root) = PathTemplate::parse(target_root(&deny.target)) else {
            continue;
        };
        for allow in plan.rules.iter().filter(|r| r.effect == Effect::Allow) {
            let Ok(allowed) = PathTemplate::parse(target_root(&allow.target)) else {
                continue;
            };
            if deny.access.0 & allow.access.0 != 0 && root.is_within(&allowed) {
                let carve = CarveOut {
                    deny: target_text(&deny.target).to_owned(),
                    inside: target_text(&allow.target).to_owned(),
                };
                if !found.contains(&carve) {
                    found.push(carve);
                }
            }
        }
    }
    found
}

/// Rights in short form: `r`, `w`, `x` for whole groups, names for the rest; `all`.
fn short_rights(bits: u16) -> String {
    let set: AccessSet = Rights(bits).iter().collect();
    if set == AccessSet::ALL {
        return "all".to_owned();
    }
    let mut text = String::new();
    let mut rest = set;
    for (group, letter) in [
        (AccessSet::READ, 'r'),
        (AccessSet::WRITE, 'w'),
        (AccessSet::EXECUTE, 'x'),
    ] {
        if rest.is_superset(group) {
            text.push(letter);
            rest = rest.difference(group);
        }
    }
    let names: Vec<&str> = rest.iter().map(|r| r.name()).collect();
    match (text.is_empty(), names.is_empty()) {
        (_, true) => text,
        (true, false) => names.join("+"),
        (false, false) => format!("{text}+{}", names.join("+")),
    }
}

/// One cell of a path row: `rw`, `deny all`, `rx, deny w`, or `-`.
fn path_cell(allow: u16, deny: u16, excepts: usize) -> String {
    let mut parts = Vec::new();
    if allow != 0 {
        parts.push(short_rights(allow));
    }
    if deny != 0 {
        let except = if excepts > 0 {
            format!(" (except {excepts})")
        } else {
            String::new()
        };
        parts.push(format!("deny {}{except}", short_rights(deny)));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

/// A ring's `network.mode` as the artifact enforces it: `allowed` without Landlock port
/// rules; `blocked` when a seccomp filter refuses `socket(AF_INET, SOCK_STREAM, 0)` (what
/// `blocked` adds to empty port lists); `restricted` otherwise.
pub fn network_mode(targets: &nonoc_runtime::artifact::RingTargets) -> &'static str {
    use crate::backend::seccomp::{SECCOMP_RET_ALLOW, SeccompData, run};
    use crate::data::Arch;
    if targets
        .landlock
        .as_ref()
        .is_none_or(|p| p.network.is_none())
    {
        return "allowed";
    }
    let refuses = Arch::ALL.into_iter().any(|arch| {
        let (Some(filter), Some(socket)) = (
            targets.seccomp.get(&arch.artifact_arch()),
            crate::data::syscall(arch, "socket"),
        ) else {
            return false;
        };
        let Ok(program) = filter.instructions() else {
            return false;
        };
        // AF_INET = 2, SOCK_STREAM = 1.
        let data = SeccompData {
            nr: socket.number,
            arch: arch.audit_arch(),
            args: [2, 1, 0, 0, 0, 0],
        };
        run(&program, &data).is_ok_and(|t| t.ret != SECCOMP_RET_ALLOW)
    });
    if refuses { "blocked" } else { "restricted" }
}

/// A list of ports as a matrix cell: `80,443`, or `none`.
pub fn ports_cell(ports: &[u16]) -> String {
    if ports.is_empty() {
        "none".to_owned()
    } else {
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A filesystem rule as a matrix sees it: target text, allow?, rights, number of excepts.
type Cell = (String, bool, u16, usize);

/// Path rows: one per distinct target text, sorted. `None` is an unconfined ring.
fn path_rows(per_ring: &[Option<Vec<Cell>>]) -> Vec<Row> {
    let targets: std::collections::BTreeSet<&str> = per_ring
        .iter()
        .flatten()
        .flatten()
        .map(|c| c.0.as_str())
        .collect();
    targets
        .into_iter()
        .map(|target| {
            let cells = per_ring
                .iter()
                .map(|rules| {
                    let Some(rules) = rules else {
                        return "any".to_owned();
                    };
                    let (mut allow, mut deny, mut excepts) = (0u16, 0u16, 0usize);
                    for (t, is_allow, bits, n) in rules {
                        if t != target {
                            continue;
                        }
                        if *is_allow {
                            allow |= bits;
                        } else {
                            deny |= bits;
                            excepts += n;
                        }
                    }
                    path_cell(allow, deny, excepts)
                })
                .collect();
            Row {
                capability: target.to_owned(),
                cells,
            }
        })
        .collect()
}

/// The matrix of what the artifact's Landlock plans carry.
pub fn matrix_of_artifact(artifact: &Artifact) -> Matrix {
    let rings: Vec<u8> = artifact.rings.keys().copied().collect();
    let plans: Vec<Option<&LandlockPlan>> = artifact
        .rings
        .values()
        .map(|t| t.landlock.as_ref())
        .collect();
    let cells: Vec<Option<Vec<Cell>>> = plans
        .iter()
        .map(|p| {
            p.map(|p| {
                p.rules
                    .iter()
                    .map(|r| {
                        (
                            target_text(&r.target).to_owned(),
                            r.effect == Effect::Allow,
                            r.access.0,
                            r.except.len(),
                        )
                    })
                    .collect()
            })
        })
        .collect();
    let mut rows = path_rows(&cells);
    let per_plan = |f: &dyn Fn(&LandlockPlan) -> String| -> Vec<String> {
        plans
            .iter()
            .map(|p| p.map_or_else(|| "any".to_owned(), f))
            .collect()
    };
    let modes: Vec<String> = artifact
        .rings
        .values()
        .map(|t| match t.unconfined {
            true => "any".to_owned(),
            false => network_mode(t).to_owned(),
        })
        .collect();
    // A blocked ring's port cells say `blocked`, not `none`.
    let ports = |ports: &dyn Fn(&LandlockPlan) -> String| -> Vec<String> {
        per_plan(ports)
            .into_iter()
            .zip(&modes)
            .map(|(cell, mode)| {
                if mode == "blocked" {
                    mode.clone()
                } else {
                    cell
                }
            })
            .collect()
    };
    let connect = ports(&|p| {
        p.network
            .as_ref()
            .map_or_else(|| "any".to_owned(), |n| ports_cell(&n.connect_tcp))
    });
    let bind = ports(&|p| {
        p.network
            .as_ref()
            .map_or_else(|| "any".to_owned(), |n| ports_cell(&n.bind_tcp))
    });
    rows.push(Row {
        capability: "network mode".to_owned(),
        cells: modes.clone(),
    });
    rows.push(Row {
        capability: "tcp connect".to_owned(),
        cells: connect,
    });
    rows.push(Row {
        capability: "tcp bind".to_owned(),
        cells: bind,
    });
    rows.push(Row {
        capability: "signals".to_owned(),
        cells: per_plan(&|p| {
            if p.scopes.contains(&ScopeName::Signal) {
                "scoped".to_owned()
            } else {
                "any".to_owned()
            }
        }),
    });
    rows.push(Row {
        capability: "abstract unix sockets".to_owned(),
        cells: per_plan(&|p| {
            if p.scopes.contains(&ScopeName::AbstractUnixSocket) {
                "scoped".to_owned()
            } else {
                "any".to_owned()
            }
        }),
    });
    Matrix {
        rings,
        rows,
        notes: vec![KEY.to_owned(), PLAN_FOOTNOTE.to_owned()],
    }
}

fn fs_text(target: &FsTarget, platform: Option<crate::ir::Platform>) -> String {
    match platform {
        None => target.text().to_owned(),
        Some(p) => format!("{} [{}]", target.text(), p.name()),
    }
}

fn access_bits(set: AccessSet) -> u16 {
    set.iter().fold(0, |m, r| m | r.bit())
}

/// The full matrix of a policy, from its IR: paths, network, process and syscalls.
pub fn matrix_of_ir(ir: &Ir) -> Matrix {
    let rings: Vec<u8> = ir.rings.keys().copied().collect();
    let list: Vec<&crate::ir::Ring> = ir.rings.values().collect();
    let cells: Vec<Option<Vec<Cell>>> = list
        .iter()
        .map(|ring| {
            (!ring.unconfined).then(|| {
                ring.filesystem
                    .iter()
                    .map(|r| {
                        (
                            fs_text(&r.target, r.platform),
                            r.effect == crate::ir::Effect::Allow,
                            access_bits(r.access),
                            r.except.len(),
                        )
                    })
                    .collect()
            })
        })
        .collect();
    let mut rows = path_rows(&cells);
    let per_ring = |f: &dyn Fn(&crate::ir::Ring) -> String| -> Vec<String> {
        list.iter()
            .map(|r| if r.unconfined { "any".to_owned() } else { f(r) })
            .collect()
    };
    let mode = |r: &crate::ir::Ring| r.network.mode;
    rows.push(Row {
        capability: "network mode".to_owned(),
        cells: per_ring(&|r| mode(r).name().to_owned()),
    });
    rows.push(Row {
        capability: "tcp connect".to_owned(),
        cells: per_ring(&|r| match mode(r) {
            NetworkMode::Allowed => "any".to_owned(),
            NetworkMode::Blocked => "blocked".to_owned(),
            NetworkMode::Restricted => ports_cell(&r.network.connect_tcp),
        }),
    });
    rows.push(Row {
        capability: "tcp bind".to_owned(),
        cells: per_ring(&|r| match mode(r) {
            NetworkMode::Allowed => "any".to_owned(),
            NetworkMode::Blocked => "blocked".to_owned(),
            NetworkMode::Restricted => ports_cell(&r.network.bind_tcp),
        }),
    });
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    rows.push(Row {
        capability: "udp".to_owned(),
        cells: per_ring(&|r| yes_no(r.network.udp)),
    });
    rows.push(Row {
        capability: "fork".to_owned(),
        cells: per_ring(&|r| yes_no(r.process.fork)),
    });
    rows.push(Row {
        capability: "ptrace".to_owned(),
        cells: per_ring(&|r| yes_no(r.process.ptrace)),
    });
    rows.push(Row {
        capability: "signals".to_owned(),
        cells: per_ring(&|r| r.process.signals.name().to_owned()),
    });
    rows.push(Row {
        capability: "syscalls: default".to_owned(),
        cells: per_ring(&|r| {
            if r.syscalls.default_allow {
                "allow".to_owned()
            } else {
                action_name(r.syscalls.deny_action)
            }
        }),
    });
    rows.push(Row {
        capability: "syscalls: deny rules".to_owned(),
        cells: per_ring(&|r| {
            r.syscalls
                .deny
                .iter()
                .filter(|d| d.action != SyscallAction::Allow)
                .count()
                .to_string()
        }),
    });
    Matrix {
        rings,
        rows,
        notes: vec![KEY.to_owned()],
    }
}

#[cfg(test)]
mod network_tests {
    use super::*;

    const POLICY: &str = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\nrings:\n  1: { network: { mode: allowed } }\n  2: { network: { mode: restricted } }\n  3: { network: { mode: blocked } }\n";

    fn artifact() -> Artifact {
        let analysis = crate::analyze("t.yaml", POLICY.as_bytes());
        let ir = analysis.ir.expect("the policy compiles");
        let (_, bytes) = crate::artifact::build(
            &ir,
            &analysis.lowered,
            POLICY.as_bytes(),
            crate::backend::Targets::ALL,
        )
        .expect("the artifact builds");
        Artifact::from_slice(&bytes).expect("the artifact loads")
    }

    #[test]
    fn each_network_mode_is_shown_as_written() {
        let artifact = artifact();
        let summary = summarize(&artifact, true);
        let modes: Vec<&str> = summary
            .rings
            .iter()
            .filter_map(|r| r.tcp.as_ref().map(|t| t.mode))
            .collect();
        assert_eq!(modes, ["allowed", "restricted", "blocked"]);
        let analysis = crate::analyze("t.yaml", POLICY.as_bytes());
        for matrix in [
            summary.matrix.expect("asked for"),
            matrix_of_ir(&analysis.ir.expect("the policy compiles")),
        ] {
            let row = |name: &str| {
                matrix
                    .rows
                    .iter()
                    .find(|r| r.capability == name)
                    .map(|r| r.cells.clone())
                    .unwrap_or_default()
            };
            assert_eq!(row("network mode"), ["allowed", "restricted", "blocked"]);
            assert_eq!(row("tcp connect"), ["any", "none", "blocked"]);
            // Every note says what it is; none explains a marker the table lacks.
            assert!(
                matrix
                    .notes
                    .iter()
                    .all(|n| n.starts_with("key: ") || n.starts_with("note: ")),
                "{:?}",
                matrix.notes
            );
        }
    }
}
