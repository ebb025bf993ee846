//! Landlock lowering: an IR ring to the artifact's `LandlockPlan`.
//!
//! What each policy construct becomes is in docs/backends/landlock.md. Filesystem rules keep
//! their variables symbolic and deny globs are parsed into components; the carve-outs a deny
//! inside an allowed directory needs are computed by the runtime, where variables are bound
//! and the directories can be read. The compiler reports each one (lint `NC0802`).

mod glob;

use std::fmt::Write;

use nonoc_runtime::artifact::{
    Effect as PlanEffect, LandlockPlan, NetRules, PathRule, Right, Rights, RuleOrigin, ScopeName,
    Target,
};

use crate::ir::{AccessSet, Effect, FsTarget, Platform, Ring};
use crate::syntax::{NetworkMode, SignalScope};

pub use glob::parse as parse_glob;

fn rights(set: AccessSet) -> Rights {
    Rights(set.iter().fold(0, |m, r| m | r.bit()))
}

fn target(t: &FsTarget) -> Result<Target, String> {
    Ok(match t {
        FsTarget::Path(p) => Target::Path(p.as_str().to_owned()),
        FsTarget::Glob(g) => Target::Glob(parse_glob(g)?),
    })
}

/// Lowers a confined ring. `None` for an unconfined ring.
pub fn lower(ring: &Ring) -> Result<Option<LandlockPlan>, String> {
    if ring.unconfined {
        return Ok(None);
    }
    let mut rules = Vec::new();
    for rule in ring
        .filesystem
        .iter()
        .filter(|r| r.platform.is_none_or(|p| p == Platform::Linux))
    {
        rules.push(PathRule {
            effect: match rule.effect {
                Effect::Allow => PlanEffect::Allow,
                Effect::Deny => PlanEffect::Deny,
            },
            target: target(&rule.target)?,
            access: rights(rule.access),
            except: rule.except.iter().map(target).collect::<Result<_, _>>()?,
            origin: Some(RuleOrigin {
                line: u32::try_from(rule.origin.line).unwrap_or(u32::MAX),
                scope: rule.origin.scope.clone(),
            }),
        });
    }
    let network = match ring.network.mode {
        NetworkMode::Allowed => None,
        NetworkMode::Blocked => Some(NetRules {
            connect_tcp: Vec::new(),
            bind_tcp: Vec::new(),
        }),
        NetworkMode::Restricted => Some(NetRules {
            connect_tcp: ring.network.connect_tcp.clone(),
            bind_tcp: ring.network.bind_tcp.clone(),
        }),
    };
    let scopes = match ring.process.signals {
        SignalScope::Own | SignalScope::Sandbox => {
            vec![ScopeName::Signal, ScopeName::AbstractUnixSocket]
        }
        SignalScope::Any => Vec::new(),
    };
    Ok(Some(LandlockPlan {
        rules,
        network,
        scopes,
        unix_connect: ring
            .network
            .unix_connect
            .iter()
            .map(|g| g.path.as_str().to_owned())
            .collect(),
    }))
}

/// The ABI a plan needs for everything to be enforced.
pub fn needed_abi(plan: &LandlockPlan) -> u32 {
    let fs = Right::ALL.iter().map(|r| r.min_abi()).max().unwrap_or(1);
    let net = if plan.network.is_some() { 4 } else { 1 };
    let scopes = if plan.scopes.is_empty() { 1 } else { 6 };
    fs.max(net).max(scopes)
}

/// The plan as stable text (`--emit landlock`).
pub fn render(level: u8, plan: Option<&LandlockPlan>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ring {level}: landlock");
    let Some(plan) = plan else {
        let _ = writeln!(out, "  unconfined: nothing is applied");
        return out;
    };
    let _ = writeln!(
        out,
        "  needs ABI {} to enforce everything",
        needed_abi(plan)
    );
    let _ = writeln!(out, "  handled filesystem rights (denied unless granted):");
    for r in Right::ALL {
        let _ = writeln!(out, "    {:<12} ABI {}", r.name(), r.min_abi());
    }
    match &plan.network {
        None => {
            let _ = writeln!(out, "  tcp: not restricted");
        }
        Some(net) => {
            let ports = |p: &[u16]| {
                if p.is_empty() {
                    "none".to_owned()
                } else {
                    p.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
                }
            };
            let _ = writeln!(
                out,
                "  tcp (ABI 4): connect to {}; bind to {}",
                ports(&net.connect_tcp),
                ports(&net.bind_tcp)
            );
        }
    }
    if plan.scopes.is_empty() {
        let _ = writeln!(out, "  scopes: none");
    } else {
        let names: Vec<&str> = plan
            .scopes
            .iter()
            .map(|s| match s {
                ScopeName::Signal => "signal",
                ScopeName::AbstractUnixSocket => "abstract_unix_socket",
            })
            .collect();
        let _ = writeln!(out, "  scopes (ABI 6): {}", names.join(", "));
    }
    if !plan.unix_connect.is_empty() {
        let _ = writeln!(
            out,
            "  unix sockets: may be created; connecting is not restricted by path (needs ABI 9, unused), granted under {}",
            plan.unix_connect.join(", ")
        );
    }
    let _ = writeln!(out, "  rules:");
    for rule in &plan.rules {
        let effect = match rule.effect {
            PlanEffect::Allow => "allow",
            PlanEffect::Deny => "deny ",
        };
        let what = match &rule.target {
            Target::Path(p) => p.clone(),
            Target::Glob(g) => format!("glob {}", g.text),
        };
        let access: Vec<&str> = rule.access.iter().map(|r| r.name()).collect();
        let access = if rule.access == Rights::ALL {
            "all".to_owned()
        } else {
            access.join(", ")
        };
        let _ = writeln!(out, "    {effect} {what} [{access}]");
        for e in &rule.except {
            let text = match e {
                Target::Path(p) => p.clone(),
                Target::Glob(g) => g.text.clone(),
            };
            let _ = writeln!(out, "      except {text}");
        }
    }
    let carve: Vec<&PathRule> = plan
        .rules
        .iter()
        .filter(|r| r.effect == PlanEffect::Deny)
        .collect();
    if !carve.is_empty() {
        let _ = writeln!(
            out,
            "  denies inside allowed directories are enforced at apply time by splitting those directories; deny globs by their existing matches"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn plans_of_the_example_policies_are_stable() {
        for name in ["agt-rings", "coding-agent", "ci-runner"] {
            let path = format!("{}/../policies/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
            let bytes = std::fs::read(&path).unwrap();
            let ir = crate::analyze(&path, &bytes).ir.unwrap();
            let mut text = String::new();
            for (level, ring) in &ir.rings {
                let plan = super::lower(ring).unwrap();
                text.push_str(&super::render(*level, plan.as_ref()));
            }
            insta::assert_snapshot!(name, text);
        }
    }
}
