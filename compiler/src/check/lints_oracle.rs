//! The lints as they were first written: every rule compared with every other. Too slow for
//! large policies, kept as the reference the indexed lints are tested against.

use std::collections::BTreeSet;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::{Access, Effect, FsRule, FsTarget, Ir, Platform, Ring};

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
    out.extend(super::lints::settings_escalations(a, b, span));
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
                    FsTarget::Path(path) if path != allowed && path.is_within(allowed) => (
                        Code::DenyInsideAllow,
                        format!(
                            "deny of `{}` inside allowed `{}` is enforced on Linux by a Landlock carve-out",
                            path.as_str(),
                            allowed.as_str()
                        ),
                        "at apply time the allowed directory is split along the path to the denied entry: siblings keep their rights, and the split directories lose the right to create new entries directly in them",
                    ),
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
