//! The lints as they were first written: every rule compared with every other. Too slow for
//! large policies, kept as the reference the indexed lints are tested against.

use std::collections::BTreeSet;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::{Access, Effect, FsRule, FsTarget, Ir, Platform, Ring, SyscallAction};
use crate::syntax::NetworkMode;

pub fn lints(ir: &Ir, diags: &mut Diagnostics) {
    if ir.settings.monotonic {
        monotonicity(ir, diags);
    }
    partial_enforcement(ir, diags);
    signals_self(ir, diags);
    execute_without_read(ir, diags);
    // Not a pairwise lint: the same code on both sides.
    super::lints::seatbelt(ir, diags);
}

/// Landlock checks `read_file` as well as `execute` when a program is executed (execve opens
/// the file for reading): an execute grant without read does not let anything run.
fn execute_without_read(ir: &Ir, diags: &mut Diagnostics) {
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        for rule in ring.filesystem.iter().filter(|r| {
            r.effect == Effect::Allow && on_linux(r) && r.access.contains(Access::Execute)
        }) {
            let FsTarget::Path(path) = &rule.target else {
                continue;
            };
            let readable = ring.filesystem.iter().any(|other| {
                other.effect == Effect::Allow
                    && on_linux(other)
                    && other.access.contains(Access::ReadFile)
                    && matches!(&other.target, FsTarget::Path(p) if path.is_within(p))
            });
            if !readable {
                diags.push(
                    Diagnostic::new(
                        Code::ExecuteWithoutRead,
                        rule.origin.span(),
                        format!("ring {} may execute `{}` but not read it: on Linux nothing there can run", ring.level, path.as_str()),
                    )
                    .help("Landlock also checks `read_file` when a program is executed; grant `read` on the path too"),
                );
            }
        }
    }
}

/// Landlock scopes signals to the sandbox's domain; it cannot narrow them to the process
/// itself. Exact only when the ring cannot create processes.
fn signals_self(ir: &Ir, diags: &mut Diagnostics) {
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        if ring.process.signals == crate::syntax::SignalScope::Own && ring.process.fork {
            diags.push(
                Diagnostic::new(
                    Code::SignalsSelfWithFork,
                    ring.span,
                    format!("ring {} has `signals: self` and `fork: true`: on Linux its processes can signal each other", ring.level),
                )
                .help("Landlock confines signals to the sandbox (the process and its children), not to one process; write `signals: sandbox` to say so, or set `fork: false`"),
            );
        }
    }
}

fn on_linux(rule: &FsRule) -> bool {
    rule.platform.is_none_or(|p| p == Platform::Linux)
}

fn is_global(rule: &FsRule) -> bool {
    rule.origin.scope == "global deny"
}

/// A less privileged ring must not be granted what a more privileged ring is denied.
fn monotonicity(ir: &Ir, diags: &mut Diagnostics) {
    let mut reported: BTreeSet<(u8, String)> = BTreeSet::new();
    for (b_level, b) in &ir.rings {
        for (a_level, a) in ir.rings.range(..*b_level).rev() {
            if a.unconfined {
                continue;
            }
            for (span, item) in escalations(a, b) {
                if reported.insert((*b_level, item.clone())) {
                    diags.push(
                        Diagnostic::new(
                            Code::Monotonicity,
                            span,
                            format!("ring {b_level} is granted {item}, which more privileged ring {a_level} is denied"),
                        )
                        .help(format!(
                            "grant it to ring {a_level} too, remove it from ring {b_level}, or set `settings.monotonic: false` if the ladder is meant to branch"
                        )),
                    );
                }
            }
        }
    }
}

/// What `b` is granted that `a` is denied, each with the span of `b`'s rule.
fn escalations(a: &Ring, b: &Ring) -> Vec<(crate::diagnostic::Span, String)> {
    let mut out = Vec::new();
    let span = b.span;
    if b.unconfined {
        out.push((span, "everything (it is unconfined)".to_owned()));
        return out;
    }
    for rule in b
        .filesystem
        .iter()
        .filter(|r| r.effect == Effect::Allow && on_linux(r))
    {
        let FsTarget::Path(path) = &rule.target else {
            continue;
        };
        let missing: Vec<Access> = rule
            .access
            .iter()
            .filter(|access| {
                !a.filesystem.iter().any(|ar| {
                    ar.effect == Effect::Allow
                        && on_linux(ar)
                        && ar.access.contains(*access)
                        && matches!(&ar.target, FsTarget::Path(p) if path.is_within(p))
                })
            })
            .collect();
        if !missing.is_empty() {
            let set: crate::ir::AccessSet = missing.into_iter().collect();
            out.push((
                rule.origin.span(),
                format!("`{}` on `{}`", set.describe(), path.as_str()),
            ));
        }
        for deny in a
            .filesystem
            .iter()
            .filter(|r| r.effect == Effect::Deny && !is_global(r) && on_linux(r))
        {
            let overlap = deny.access.intersection(rule.access);
            let root = deny.target.root();
            if overlap.is_empty() || !(root.is_within(path) || path.is_within(&root)) {
                continue;
            }
            let b_denies = b.filesystem.iter().any(|br| {
                br.effect == Effect::Deny
                    && br.target == deny.target
                    && br.access.is_superset(overlap)
                    && br.except == deny.except
            });
            if !b_denies {
                out.push((
                    rule.origin.span(),
                    format!("`{}` on `{}`", overlap.describe(), deny.target.text()),
                ));
            }
        }
    }
    let rank = |m: NetworkMode| m as u8;
    if rank(b.network.mode) > rank(a.network.mode) {
        out.push((span, format!("network mode `{}`", b.network.mode.name())));
    } else if b.network.mode == NetworkMode::Restricted && a.network.mode == NetworkMode::Restricted
    {
        for (ports, theirs, what) in [
            (
                &b.network.connect_tcp,
                &a.network.connect_tcp,
                "TCP connect to port",
            ),
            (&b.network.bind_tcp, &a.network.bind_tcp, "TCP bind to port"),
        ] {
            for port in ports.iter().filter(|p| !theirs.contains(p)) {
                out.push((span, format!("{what} {port}")));
            }
        }
        if b.network.udp && !a.network.udp {
            out.push((span, "UDP sockets".to_owned()));
        }
    }
    if b.process.fork && !a.process.fork {
        out.push((span, "process creation (fork)".to_owned()));
    }
    if b.process.ptrace && !a.process.ptrace {
        out.push((span, "ptrace".to_owned()));
    }
    if b.process.signals > a.process.signals {
        out.push((span, "a wider signal scope".to_owned()));
    }
    if a.syscalls.default_allow != b.syscalls.default_allow && b.syscalls.default_allow {
        out.push((span, "syscalls by default (`default: allow`)".to_owned()));
    } else if !a.syscalls.default_allow && !b.syscalls.default_allow {
        for name in b
            .syscalls
            .allow
            .iter()
            .filter(|n| !a.syscalls.allow.contains(n))
        {
            out.push((span, format!("syscall `{name}` (in `syscalls.allow`)")));
        }
    }
    for rule in a
        .syscalls
        .deny
        .iter()
        .filter(|r| r.args.is_empty() && r.action != SyscallAction::Log)
    {
        let b_denies = b.syscalls.deny.iter().any(|br| {
            br.name == rule.name && br.args.is_empty() && br.action != SyscallAction::Log
        });
        if !b_denies {
            out.push((span, format!("syscall `{}`", rule.name)));
        }
    }
    out
}

/// Deny rules Landlock enforces by a carve-out, and deny globs it enforces on existing files.
fn partial_enforcement(ir: &Ir, diags: &mut Diagnostics) {
    let mut seen: BTreeSet<(usize, Code)> = BTreeSet::new();
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        let allows: Vec<&FsRule> = ring
            .filesystem
            .iter()
            .filter(|r| r.effect == Effect::Allow && on_linux(r))
            .collect();
        for deny in ring
            .filesystem
            .iter()
            .filter(|r| r.effect == Effect::Deny && on_linux(r))
        {
            let root = deny.target.root();
            for allow in &allows {
                let FsTarget::Path(allowed) = &allow.target else {
                    continue;
                };
                if deny.access.intersection(allow.access).is_empty() {
                    continue;
                }
                let (code, message, help) = match &deny.target {
                    FsTarget::Path(path) if path != allowed && path.is_within(allowed) => {
                        let (how, help) = super::lints::deny_inside_allow(ir.settings.isolation);
                        (
                            Code::DenyInsideAllow,
                            format!(
                                "deny of `{}` inside allowed `{}` is enforced on Linux by {how}",
                                path.as_str(),
                                allowed.as_str()
                            ),
                            help,
                        )
                    }
                    FsTarget::Glob(glob) if root.is_within(allowed) || allowed.is_within(&root) => {
                        (
                            Code::DenyGlobPartial,
                            format!(
                                "deny glob `{}` is enforced on Linux only on files that exist when the sandbox is applied",
                                glob.as_str()
                            ),
                            "Landlock has no pattern rules: the glob is expanded inside allowed directories at apply time; a matching file created later is not covered",
                        )
                    }
                    _ => continue,
                };
                if seen.insert((deny.origin.offset, code)) {
                    diags.push(
                        Diagnostic::new(code, deny.origin.span(), message)
                            .label(format!(
                                "inside `{}`, allowed at line {} in ring {}",
                                allowed.as_str(),
                                allow.origin.line,
                                ring.level
                            ))
                            .help(help),
                    );
                }
            }
        }
    }
}
