//! Lints on the IR: monotonicity of the ring ladder, and rules Landlock enforces only partly.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::artifact::Targets;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::rule_index::RuleIndex;
use crate::ir::{
    Access, AccessSet, Effect, FsRule, FsTarget, Ir, PathTemplate, Platform, Ring, SyscallAction,
};
use crate::syntax::{Isolation, NetworkMode};

/// The lints for an artifact of `targets`: the Seatbelt profile's only when macOS is one.
pub fn lints(ir: &Ir, targets: Targets, diags: &mut Diagnostics) {
    if ir.settings.monotonic {
        monotonicity(ir, diags);
    }
    partial_enforcement(ir, diags);
    signals_self(ir, diags);
    execute_without_read(ir, diags);
    if targets.macos {
        seatbelt(ir, diags);
    }
}

/// The Seatbelt backend's diagnostics: what keeps a ring from having a macOS profile, and
/// where the profile enforces a rule other than as written. A failed self-check of the
/// compiler is not the policy's fault; `compile` reports it.
pub(super) fn seatbelt(ir: &Ir, diags: &mut Diagnostics) {
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        if let Err(problems) = crate::backend::seatbelt::compile(&ir.name, ring) {
            for problem in problems {
                let Some(code) = problem.code else { continue };
                let mut d = Diagnostic::new(code, problem.span, problem.message);
                if let Some(help) = problem.help {
                    d = d.help(help);
                }
                diags.push(d);
            }
        }
        for d in crate::backend::seatbelt::findings(ring) {
            diags.push(d);
        }
    }
}

/// Landlock checks `read_file` as well as `execute` when a program is executed (execve opens
/// the file for reading): an execute grant without read does not let anything run.
fn execute_without_read(ir: &Ir, diags: &mut Diagnostics) {
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        let readable = RuleIndex::new(
            ring.filesystem.iter().filter(|r| {
                r.effect == Effect::Allow && on_linux(r) && r.access.contains(Access::ReadFile)
            }),
            path_of,
        );
        for rule in ring.filesystem.iter().filter(|r| {
            r.effect == Effect::Allow && on_linux(r) && r.access.contains(Access::Execute)
        }) {
            let FsTarget::Path(path) = &rule.target else {
                continue;
            };
            if readable.at_or_above(path.as_str()).next().is_none() {
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

/// The path of a rule on a path (not a glob).
fn path_of(rule: &FsRule) -> Option<PathTemplate> {
    match &rule.target {
        FsTarget::Path(p) => Some(p.clone()),
        FsTarget::Glob(_) => None,
    }
}

/// A ring's rules indexed for [`escalations`].
struct Indexed<'a> {
    ring: &'a Ring,
    /// Allow rules on paths, on Linux.
    allows: RuleIndex<'a>,
    /// The ring's own deny rules (not the global ones), on Linux, by their roots.
    denies: RuleIndex<'a>,
    /// Every deny rule by its target.
    deny_targets: HashMap<&'a FsTarget, Vec<&'a FsRule>>,
}

impl<'a> Indexed<'a> {
    fn new(ring: &'a Ring) -> Indexed<'a> {
        let mut deny_targets: HashMap<&FsTarget, Vec<&FsRule>> = HashMap::new();
        for rule in ring.filesystem.iter().filter(|r| r.effect == Effect::Deny) {
            deny_targets.entry(&rule.target).or_default().push(rule);
        }
        Indexed {
            ring,
            allows: RuleIndex::new(
                ring.filesystem
                    .iter()
                    .filter(|r| r.effect == Effect::Allow && on_linux(r)),
                path_of,
            ),
            denies: RuleIndex::new(
                ring.filesystem
                    .iter()
                    .filter(|r| r.effect == Effect::Deny && !is_global(r) && on_linux(r)),
                |r| Some(r.target.root()),
            ),
            deny_targets,
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
    let indexed: BTreeMap<u8, Indexed> = ir
        .rings
        .iter()
        .map(|(level, ring)| (*level, Indexed::new(ring)))
        .collect();
    for (b_level, b) in &indexed {
        for (a_level, a) in indexed.range(..*b_level).rev() {
            if a.ring.unconfined {
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
fn escalations(ai: &Indexed, bi: &Indexed) -> Vec<(crate::diagnostic::Span, String)> {
    let (a, b) = (ai.ring, bi.ring);
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
        // What `a` grants at or above the path.
        let granted = ai
            .allows
            .at_or_above(path.as_str())
            .fold(AccessSet::EMPTY, |set, i| {
                set.union(ai.allows.rule(i).access)
            });
        let missing = rule.access.difference(granted);
        if !missing.is_empty() {
            out.push((
                rule.origin.span(),
                format!("`{}` on `{}`", missing.describe(), path.as_str()),
            ));
        }
        // `a`'s denies whose roots lie at, above or below the path.
        for i in ai.denies.related(path.as_str()) {
            let deny = ai.denies.rule(i);
            let overlap = deny.access.intersection(rule.access);
            if overlap.is_empty() {
                continue;
            }
            let b_denies = bi.deny_targets.get(&deny.target).is_some_and(|rules| {
                rules
                    .iter()
                    .any(|br| br.access.is_superset(overlap) && br.except == deny.except)
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

/// How Linux enforces a deny inside an allowed directory under `settings.isolation`, and the
/// help that says what it costs (NC0802).
pub(crate) fn deny_inside_allow(isolation: Isolation) -> (&'static str, &'static str) {
    match isolation {
        Isolation::Off => (
            "a Landlock carve-out",
            "at apply time the allowed directory is split along the path to the denied entry: siblings keep their rights, and the split directories lose the right to create new entries directly in them",
        ),
        Isolation::BestEffort | Isolation::Required => (
            "a mount mask, or a Landlock carve-out where namespaces are unavailable",
            "with namespaces (root, or unprivileged user namespaces) the denied path is masked and the allowed directory keeps every right; without, the allowed directory is split along the path to the denied entry and the split directories lose the right to create new entries directly in them; `nonoc doctor` says which this host gives",
        ),
    }
}

/// Deny rules Landlock enforces by a carve-out, and deny globs it enforces on existing files.
fn partial_enforcement(ir: &Ir, diags: &mut Diagnostics) {
    let mut seen: BTreeSet<(usize, Code)> = BTreeSet::new();
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        let allows = RuleIndex::new(
            ring.filesystem
                .iter()
                .filter(|r| r.effect == Effect::Allow && on_linux(r)),
            path_of,
        );
        for deny in ring
            .filesystem
            .iter()
            .filter(|r| r.effect == Effect::Deny && on_linux(r))
        {
            let overlaps = |i: &usize| !deny.access.intersection(allows.rule(*i).access).is_empty();
            // The first allow (in rule order) the deny lies inside, or its glob's root overlaps.
            let (first, code) = match &deny.target {
                FsTarget::Path(path) => (
                    allows.strictly_above(path.as_str()).filter(overlaps).min(),
                    Code::DenyInsideAllow,
                ),
                FsTarget::Glob(_) => (
                    allows
                        .related(deny.target.root().as_str())
                        .into_iter()
                        .find(overlaps),
                    Code::DenyGlobPartial,
                ),
            };
            let Some(allow) = first.map(|i| allows.rule(i)) else {
                continue;
            };
            let FsTarget::Path(allowed) = &allow.target else {
                continue;
            };
            let (message, help) = match &deny.target {
                FsTarget::Path(path) => {
                    let (how, help) = deny_inside_allow(ir.settings.isolation);
                    (
                        format!(
                            "deny of `{}` inside allowed `{}` is enforced on Linux by {how}",
                            path.as_str(),
                            allowed.as_str()
                        ),
                        help,
                    )
                }
                FsTarget::Glob(glob) => (
                    format!(
                        "deny glob `{}` is enforced on Linux only on files that exist when the sandbox is applied",
                        glob.as_str()
                    ),
                    "Landlock has no pattern rules: the glob is expanded inside allowed directories at apply time; a matching file created later is not covered",
                ),
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

#[cfg(test)]
mod tests {
    use crate::diagnostic::{Code, Diagnostics};

    fn codes(rings: &str) -> Vec<Code> {
        let text = format!(
            "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: t }}\nrings:\n{rings}"
        );
        crate::analyze("t.yaml", text.as_bytes())
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn signals_self_with_fork_is_flagged_only_when_children_exist() {
        assert!(codes("  3: { process: { fork: true } }\n").contains(&Code::SignalsSelfWithFork));
        assert!(
            !codes("  3: { process: { fork: true, signals: sandbox } }\n")
                .contains(&Code::SignalsSelfWithFork)
        );
        assert!(!codes("  3: { process: { fork: false } }\n").contains(&Code::SignalsSelfWithFork));
    }

    #[test]
    fn execute_without_read_is_flagged() {
        assert!(
            codes("  3: { filesystem: { execute: [/usr/bin] } }\n")
                .contains(&Code::ExecuteWithoutRead)
        );
        assert!(
            !codes("  3: { filesystem: { execute: [/usr/bin], read: [/usr] } }\n")
                .contains(&Code::ExecuteWithoutRead)
        );
    }

    #[test]
    fn a_less_privileged_ring_with_default_allow_under_default_deny_is_flagged() {
        let rings = "  1: { syscalls: { default: deny, allow: [read] } }\n  2: { syscalls: { default: allow } }\n";
        assert!(codes(rings).contains(&Code::Monotonicity));
        let rings = "  1: { syscalls: { default: deny, allow: [read, write] } }\n  2: { syscalls: { default: deny, allow: [read] } }\n";
        assert!(!codes(rings).contains(&Code::Monotonicity));
    }

    /// A policy from a small pool of paths and globs, so rules nest, repeat and overlap.
    fn policy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        const PATHS: &[&str] = &[
            "/",
            "/a",
            "/a/b",
            "/a/b/c",
            "/ab",
            "/z",
            "${ws}",
            "${ws}/a",
            "${ws}/a/b",
            "${home}",
        ];
        const GLOBS: &[&str] = &["/a/**/k", "${ws}/**/.env", "/a/b/*", "/**/x"];
        const ACCESS: &[&str] = &[
            "[read]",
            "[write]",
            "[execute]",
            "[read_file]",
            "[read, write, execute]",
        ];
        let path = proptest::sample::select(PATHS);
        let list = proptest::collection::vec(path, 0..4);
        let deny = (
            proptest::bool::ANY,
            0..PATHS.len() + GLOBS.len(),
            proptest::sample::select(ACCESS),
        )
            .prop_map(|(own, i, access)| {
                let target = match PATHS.get(i) {
                    Some(p) => format!("path: \"{p}\""),
                    None => format!("glob: \"{}\"", GLOBS[i - PATHS.len()]),
                };
                (own, format!("{{ {target}, access: {access} }}"))
            });
        let ring = (
            list.clone(),
            list.clone(),
            list,
            proptest::collection::vec(deny, 0..4),
            proptest::bool::ANY,
        );
        proptest::collection::vec(ring, 1..4).prop_map(|rings| {
            let quote = |l: &[&str]| {
                let items: Vec<String> = l.iter().map(|p| format!("\"{p}\"")).collect();
                format!("[{}]", items.join(", "))
            };
            let mut text = String::from(
                "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\nvariables:\n  ws: { default: /w }\n  home: { default: /h }\n",
            );
            let mut global = Vec::new();
            let mut body = String::new();
            for (level, (read, write, execute, denies, extends)) in rings.iter().enumerate() {
                body.push_str(&format!(
                    "  {}:\n    filesystem: {{ read: {}, write: {}, execute: {} }}\n",
                    level + 1,
                    quote(read),
                    quote(write),
                    quote(execute)
                ));
                if *extends && level + 1 < rings.len() {
                    body.push_str(&format!("    extends: {}\n", level + 2));
                }
                let own: Vec<&String> = denies.iter().filter(|d| d.0).map(|d| &d.1).collect();
                global.extend(denies.iter().filter(|d| !d.0).map(|d| d.1.clone()));
                if !own.is_empty() {
                    body.push_str("    deny:\n");
                    for d in own {
                        body.push_str(&format!("      - {d}\n"));
                    }
                }
            }
            if !global.is_empty() {
                text.push_str("deny:\n");
                for d in global {
                    text.push_str(&format!("  - {d}\n"));
                }
            }
            text.push_str("rings:\n");
            text.push_str(&body);
            text
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// The indexed lints report exactly what comparing every rule with every other does.
        #[test]
        fn indexed_lints_agree_with_the_pairwise_ones(text in policy()) {
            let analysis = crate::analyze("t.yaml", text.as_bytes());
            let Some(ir) = analysis.ir else {
                let codes: Vec<Code> = analysis.diagnostics.iter().map(|d| d.code).collect();
                return Err(proptest::test_runner::TestCaseError::fail(format!(
                    "the generated policy has errors {codes:?}:\n{text}"
                )));
            };
            let (mut indexed, mut pairwise) = (Diagnostics::default(), Diagnostics::default());
            super::lints(&ir, crate::artifact::Targets::ALL, &mut indexed);
            crate::check::lints_oracle::lints(&ir, &mut pairwise);
            let show = |d: Diagnostics| d.into_iter().map(|d| format!("{d:?}")).collect::<Vec<_>>();
            let indexed = show(indexed);
            proptest::prop_assert!(!text.is_empty());
            proptest::prop_assert_eq!(indexed, show(pairwise), "{}", text);
        }
    }
}
