//! Lints on the IR: monotonicity of the ring ladder, and rules Landlock enforces only partly.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::rule_index::RuleIndex;
use crate::ir::{
    AccessSet, Effect, FsRule, FsTarget, Ir, PathTemplate, Platform, Right, Ring, SyscallAction,
};
use crate::syntax::{Isolation, NetworkMode};

/// The lints.
pub fn lints(ir: &Ir, diags: &mut Diagnostics) {
    if ir.settings.monotonic {
        monotonicity(ir, diags);
    }
    partial_enforcement(ir, diags);
    signals_self(ir, diags);
    execute_without_read(ir, diags);
    hosts(ir, diags);
}

/// Public suffixes of more than one label under which anyone can register a name: a
/// wildcard on one of them (or on a single label, `*.com`) covers names of many owners.
/// Not the whole Public Suffix List: the common shared suffixes, so the lint has no false
/// alarms and catches the usual mistakes.
const SHARED_SUFFIXES: &[&str] = &[
    "co.uk",
    "org.uk",
    "ac.uk",
    "gov.uk",
    "me.uk",
    "ltd.uk",
    "plc.uk",
    "com.au",
    "net.au",
    "org.au",
    "co.nz",
    "co.jp",
    "ne.jp",
    "or.jp",
    "co.kr",
    "com.br",
    "com.cn",
    "com.tw",
    "com.mx",
    "com.ar",
    "com.tr",
    "co.in",
    "co.za",
    "com.sg",
    "com.hk",
    "github.io",
    "gitlab.io",
    "pages.dev",
    "workers.dev",
    "vercel.app",
    "netlify.app",
    "herokuapp.com",
    "appspot.com",
    "web.app",
    "firebaseapp.com",
    "azurewebsites.net",
    "cloudfront.net",
    "s3.amazonaws.com",
    "blogspot.com",
    "fly.dev",
    "onrender.com",
    "ngrok.io",
    "ngrok-free.app",
];

/// `network.hosts` entries that can never allow anything (NC0806) and wildcards wider than
/// a registrable domain (NC0807). Each entry is reported once, at the ring that writes it.
fn hosts(ir: &Ir, diags: &mut Diagnostics) {
    use nonoc_runtime::hosts::{HostPattern, Ports, classify, is_metadata};
    let mut seen = BTreeSet::new();
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        let net = &ring.network;
        for grant in &net.hosts {
            let (rule, origin) = (&grant.rule, &grant.origin);
            let span = origin.span();
            let never = if let Some(deny) = net.deny_hosts.iter().find(|d| {
                pattern_covers(&d.rule.pattern, &rule.pattern)
                    && match (&d.rule.ports, &rule.ports) {
                        (Ports::All, _) => true,
                        (Ports::Only(d), Ports::Only(a)) => a.iter().all(|p| d.contains(p)),
                        (Ports::Only(_), Ports::All) => false,
                    }
            }) {
                Some(format!(
                    "deny_hosts `{}` (line {}) refuses everything it allows",
                    deny.rule.pattern, deny.origin.line
                ))
            } else {
                match &rule.pattern {
                    HostPattern::Range(r) if r.is_single() && is_metadata(r.network()) => Some(
                        "it is a cloud metadata address, refused whatever the policy says"
                            .to_owned(),
                    ),
                    HostPattern::Range(r)
                        if r.is_single() && !classify(r.network()).is_destination() =>
                    {
                        Some(format!(
                            "{} is a {} address, no single destination",
                            r.network(),
                            classify(r.network()).name()
                        ))
                    }
                    _ => None,
                }
            };
            if let Some(why) = never
                && seen.insert((Code::HostNeverMatches, span.offset))
            {
                diags.push(
                    Diagnostic::new(
                        Code::HostNeverMatches,
                        span,
                        format!(
                            "hosts entry `{}` of ring {} can never allow a request: {why}",
                            rule.pattern, ring.level
                        ),
                    )
                    .help("remove the entry, or narrow the deny so the entry means something"),
                );
            }
        }
        for grant in net.hosts.iter().chain(&net.deny_hosts) {
            let HostPattern::Subdomains(base) = &grant.rule.pattern else {
                continue;
            };
            let text = base.as_str();
            let shared = !text.contains('.') || SHARED_SUFFIXES.contains(&text);
            let span = grant.origin.span();
            // Only allowing wide is a risk; a wide deny refuses more, which is its point.
            let allowing = net.hosts.iter().any(|g| std::ptr::eq(g, grant));
            if shared && allowing && seen.insert((Code::WideWildcard, span.offset)) {
                diags.push(
                    Diagnostic::new(
                        Code::WideWildcard,
                        span,
                        format!("`*.{text}` covers names anyone can register: `{text}` is a public suffix, not a domain"),
                    )
                    .help(format!("name the registrable domain, e.g. `*.example.{text}`, or list the hosts one by one")),
                );
            }
        }
    }
}

/// Whether every host `inner` matches is also matched by `outer`.
fn pattern_covers(
    outer: &nonoc_runtime::hosts::HostPattern,
    inner: &nonoc_runtime::hosts::HostPattern,
) -> bool {
    use nonoc_runtime::hosts::HostPattern::{Exact, Range, Subdomains};
    match (outer, inner) {
        (Exact(a), Exact(b)) => a == b,
        (Subdomains(a), Exact(b)) => b.is_within(a, true),
        (Subdomains(a), Subdomains(b)) => b.is_within(a, false),
        (Range(a), Range(b)) => a.covers(b),
        _ => false,
    }
}

/// Landlock checks `read_file` as well as `execute` when a program is executed (execve opens
/// the file for reading): an execute grant without read does not let anything run.
fn execute_without_read(ir: &Ir, diags: &mut Diagnostics) {
    let mut found = Vec::new();
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        let readable = RuleIndex::new(
            ring.filesystem.iter().filter(|r| {
                r.effect == Effect::Allow && on_linux(r) && r.access.contains(Right::ReadFile)
            }),
            path_of,
        );
        // A read grant on a link covers what the link leads to (the runtime opens the path,
        // following it): where the ring's read paths lead on this host.
        let readable_links: Vec<String> = ring
            .filesystem
            .iter()
            .filter(|r| {
                r.effect == Effect::Allow && on_linux(r) && r.access.contains(Right::ReadFile)
            })
            .filter_map(|r| path_of(r).as_ref().and_then(resolved_here))
            .collect();
        for rule in ring.filesystem.iter().filter(|r| {
            r.effect == Effect::Allow && on_linux(r) && r.access.contains(Right::Execute)
        }) {
            let FsTarget::Path(path) = &rule.target else {
                continue;
            };
            // The kernel follows links before it checks the file: a link whose target is
            // readable runs (`/lib64/ld-linux-x86-64.so.2` -> `/usr/lib/...`). Resolved on
            // this host, as the runtime resolves on the host it applies on.
            let target = resolved_here(path);
            let judged = target.as_deref().unwrap_or(path.as_str());
            let read_through_link = || {
                readable_links.iter().any(|r| {
                    judged == r
                        || judged
                            .strip_prefix(r.as_str())
                            .is_some_and(|rest| rest.starts_with('/'))
                })
            };
            if readable.at_or_above(judged).next().is_none() && !read_through_link() {
                found.push((
                    ring.level,
                    Diagnostic::new(
                        Code::ExecuteWithoutRead,
                        rule.origin.span(),
                        match &target {
                            Some(t) => format!("on Linux nothing under `{}` can run: it may be executed but `{t}`, where it leads on this host, may not be read", path.as_str()),
                            None => format!("on Linux nothing under `{}` can run: it may be executed but not read", path.as_str()),
                        },
                    )
                    .help("Landlock also checks `read_file` when a program is executed; grant `read` on the path too"),
                ));
            }
        }
    }
    for d in crate::diagnostic::merge_rings(found) {
        diags.push(d);
    }
}

/// Where a path without variables resolves on this host, when it goes through a symbolic
/// link (`None` for a path with a variable, one that does not exist here, or no link).
fn resolved_here(path: &PathTemplate) -> Option<String> {
    if path.variable().is_some() {
        return None;
    }
    let real = std::fs::canonicalize(path.as_str()).ok()?;
    let real = real.to_str()?;
    (real != path.as_str()).then(|| real.to_owned())
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
///
/// One finding is one diagnostic: a rule granted to several rings is reported once with the
/// rings listed, and the syscalls a ring is granted against a more privileged ring are
/// reported together, counted, with the list in the help.
fn monotonicity(ir: &Ir, diags: &mut Diagnostics) {
    let mut reported: BTreeSet<(u8, String)> = BTreeSet::new();
    let indexed: BTreeMap<u8, Indexed> = ir
        .rings
        .iter()
        .map(|(level, ring)| (*level, Indexed::new(ring)))
        .collect();
    // (span, what, more privileged ring) -> the less privileged rings granted it.
    let mut grants: BTreeMap<(crate::diagnostic::Span, String, u8), Vec<u8>> = BTreeMap::new();
    // (less privileged ring, more privileged ring) -> the syscalls.
    let mut syscalls: BTreeMap<(u8, u8), Vec<String>> = BTreeMap::new();
    for (b_level, b) in &indexed {
        for (a_level, a) in indexed.range(..*b_level).rev() {
            if a.ring.unconfined {
                continue;
            }
            for escalation in escalations(a, b) {
                if !reported.insert((*b_level, escalation.item.clone())) {
                    continue;
                }
                match escalation.syscall {
                    Some(name) => syscalls.entry((*b_level, *a_level)).or_default().push(name),
                    None => grants
                        .entry((escalation.span, escalation.item, *a_level))
                        .or_default()
                        .push(*b_level),
                }
            }
        }
    }
    for ((span, item, a_level), b_levels) in grants {
        let (rings, verb) = rings_subject(&b_levels);
        diags.push(
            Diagnostic::new(
                Code::Monotonicity,
                span,
                format!("{rings} {verb} granted {item}, which more privileged ring {a_level} is denied"),
            )
            .help(format!(
                "grant it to ring {a_level} too, remove it from {rings}, or set `settings.monotonic: false` if the ladder is meant to branch"
            )),
        );
    }
    for ((b_level, a_level), names) in syscalls {
        let Some(b) = ir.rings.get(&b_level) else {
            continue;
        };
        // Why ring B allows them, and how to make it deny them; `it` is `it` or `them`.
        let help = |it: &str, list: &str| {
            let (how, fix) = if b.syscalls.default_allow {
                (
                    format!(
                        "ring {b_level}'s `syscalls.default` is `allow` and none of its rules denies"
                    ),
                    format!(
                        "deny {it} in ring {b_level} too (the same `syscalls.presets` or `syscalls.deny`)"
                    ),
                )
            } else {
                (
                    format!("ring {b_level}'s `syscalls.allow` lists"),
                    format!("remove {it} from ring {b_level}'s `syscalls.allow`"),
                )
            };
            format!(
                "{how} {it}{list}; {fix}, allow {it} in ring {a_level}, or set `settings.monotonic: false` if the ladder is meant to branch"
            )
        };
        let (message, help) = match names.as_slice() {
            [name] => (
                format!(
                    "ring {b_level} is granted syscall `{name}`, which more privileged ring {a_level} is denied"
                ),
                help("it", ""),
            ),
            _ => {
                let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                (
                    format!(
                        "ring {b_level} is granted {} syscalls which more privileged ring {a_level} is denied",
                        names.len()
                    ),
                    help("them", &format!(": {}", list.join(", "))),
                )
            }
        };
        diags.push(Diagnostic::new(Code::Monotonicity, b.span, message).help(help));
    }
}

/// `ring 3` and `is`, or `rings 2 and 3` and `are`.
fn rings_subject(levels: &[u8]) -> (String, &'static str) {
    match levels {
        [level] => (format!("ring {level}"), "is"),
        _ => (
            format!("rings {}", crate::diagnostic::and_list(levels)),
            "are",
        ),
    }
}

/// One thing a less privileged ring is granted that a more privileged ring is denied.
struct Escalation {
    /// The rule or ring that grants it.
    span: crate::diagnostic::Span,
    /// What is granted, in words.
    item: String,
    /// The syscall, when it is one a more privileged ring's `syscalls:` denies by name.
    syscall: Option<String>,
}

impl Escalation {
    fn new(span: crate::diagnostic::Span, item: String) -> Escalation {
        Escalation {
            span,
            item,
            syscall: None,
        }
    }
}

/// What `b` is granted that `a` is denied, each with the span of `b`'s rule.
fn escalations(ai: &Indexed, bi: &Indexed) -> Vec<Escalation> {
    let (a, b) = (ai.ring, bi.ring);
    let mut out = Vec::new();
    let span = b.span;
    if b.unconfined {
        out.push(Escalation::new(
            span,
            "everything (it is unconfined)".to_owned(),
        ));
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
            out.push(Escalation::new(
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
                out.push(Escalation::new(
                    rule.origin.span(),
                    format!("`{}` on `{}`", overlap.describe(), deny.target.text()),
                ));
            }
        }
    }
    out.extend(settings_escalations(a, b, span));
    out
}

/// What `b` is granted that `a` is denied outside the filesystem: network, processes,
/// syscalls. The syscall rules that network and process settings imply are compared through
/// those settings.
fn settings_escalations(a: &Ring, b: &Ring, span: crate::diagnostic::Span) -> Vec<Escalation> {
    let mut out = Vec::new();
    let rank = |m: NetworkMode| m as u8;
    if rank(b.network.mode) > rank(a.network.mode) {
        out.push(Escalation::new(
            span,
            format!("network mode `{}`", b.network.mode.name()),
        ));
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
                out.push(Escalation::new(span, format!("{what} {port}")));
            }
        }
        if b.network.udp && !a.network.udp {
            out.push(Escalation::new(span, "UDP sockets".to_owned()));
        }
    }
    for grant in &b.network.unix_connect {
        let covered = a
            .network
            .unix_connect
            .iter()
            .any(|g| grant.path.is_within(&g.path));
        if !covered {
            out.push(Escalation::new(
                grant.origin.span(),
                format!("connecting to unix sockets under `{}`", grant.path.as_str()),
            ));
        }
    }
    // Where TCP sockets exist and no port may be bound, `listen()` is denied on every socket.
    let listen_denied =
        |r: &Ring| r.network.mode == NetworkMode::Restricted && r.network.bind_tcp.is_empty();
    if listen_denied(a) && !listen_denied(b) && !b.network.unix_connect.is_empty() {
        out.push(Escalation::new(span, "listen() on unix sockets".to_owned()));
    }
    if b.process.fork && !a.process.fork {
        out.push(Escalation::new(span, "process creation (fork)".to_owned()));
    }
    if b.process.ptrace && !a.process.ptrace {
        out.push(Escalation::new(span, "ptrace".to_owned()));
    }
    if b.process.signals > a.process.signals {
        out.push(Escalation::new(span, "a wider signal scope".to_owned()));
    }
    for cap in b
        .process
        .capabilities
        .iter()
        .filter(|c| !a.process.capabilities.contains(c))
    {
        out.push(Escalation::new(span, format!("capability `{cap}`")));
    }
    if a.syscalls.default_allow != b.syscalls.default_allow && b.syscalls.default_allow {
        out.push(Escalation::new(
            span,
            "syscalls by default (`default: allow`)".to_owned(),
        ));
    } else if !a.syscalls.default_allow && !b.syscalls.default_allow {
        for name in b
            .syscalls
            .allow
            .iter()
            .filter(|n| !a.syscalls.allow.contains(n))
        {
            out.push(Escalation {
                span,
                item: format!("syscall `{name}`"),
                syscall: Some(name.clone()),
            });
        }
    }
    for rule in a
        .syscalls
        .deny
        .iter()
        .filter(|r| r.args.is_empty() && r.action != SyscallAction::Log && !r.implied)
    {
        let b_denies = b.syscalls.deny.iter().any(|br| {
            br.name == rule.name && br.args.is_empty() && br.action != SyscallAction::Log
        });
        // A ring with `default: deny` is granted only what its allow list names.
        let b_allows = b.syscalls.default_allow || b.syscalls.allow.contains(&rule.name);
        if !b_denies && b_allows {
            out.push(Escalation {
                span,
                item: format!("syscall `{}`", rule.name),
                syscall: Some(rule.name.clone()),
            });
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
    fn host_entries_that_never_match_and_wide_wildcards_are_flagged() {
        let net = |body: &str| format!("  3: {{ network: {{ mode: restricted, {body} }} }}\n");
        let never = |body: &str| codes(&net(body)).contains(&Code::HostNeverMatches);
        let wide = |body: &str| codes(&net(body)).contains(&Code::WideWildcard);
        assert!(never(
            "hosts: [a.example.com], deny_hosts: [\"*.example.com\"]"
        ));
        assert!(never(
            "hosts: [\"*.a.example.com\"], deny_hosts: [\"*.example.com\"]"
        ));
        assert!(never("hosts: [a.test], deny_hosts: [a.test]"));
        assert!(never("hosts: [10.1.2.0/24], deny_hosts: [10.0.0.0/8]"));
        assert!(never("hosts: [169.254.169.254]"));
        assert!(never("hosts: [0.0.0.0]"));
        assert!(never(
            "hosts: [{ host: a.test, ports: [80] }], deny_hosts: [{ host: a.test, ports: [80, 443] }]"
        ));
        // The deny leaves something: a wildcard's apex, another port, a wider pattern.
        assert!(!never(
            "hosts: [example.com], deny_hosts: [\"*.example.com\"]"
        ));
        assert!(!never(
            "hosts: [\"*.example.com\"], deny_hosts: [a.example.com]"
        ));
        assert!(!never(
            "hosts: [{ host: a.test, ports: [80, 443] }], deny_hosts: [{ host: a.test, ports: [80] }]"
        ));
        assert!(!never("hosts: [10.0.0.0/8], deny_hosts: [10.1.0.0/16]"));
        assert!(!never("hosts: [api.example.com]"));

        assert!(wide("hosts: [\"*.com\"]"));
        assert!(wide("hosts: [\"*.co.uk\"]"));
        assert!(wide("hosts: [\"*.github.io\"]"));
        assert!(!wide("hosts: [\"*.example.co.uk\"]"));
        assert!(!wide("hosts: [\"*.githubusercontent.com\"]"));
        assert!(!wide("hosts: [api.example.com], deny_hosts: [\"*.io\"]"));
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

    /// The kernel resolves links before it checks `read_file`: a link whose target is
    /// readable is no finding, the link's own name notwithstanding.
    #[test]
    fn execute_through_a_link_is_judged_at_its_target() {
        let dir = std::env::temp_dir().join(format!("nonoc-nc0805-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("real")).unwrap();
        std::fs::create_dir_all(dir.join("links")).unwrap();
        std::fs::write(dir.join("real/ld.so"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.join("real/ld.so"), dir.join("links/ld.so")).unwrap();
        let dir = std::fs::canonicalize(&dir).unwrap();
        let d = dir.to_str().unwrap();
        let through_link =
            format!("  3: {{ filesystem: {{ execute: [{d}/links/ld.so], read: [{d}/real] }} }}\n");
        assert!(!codes(&through_link).contains(&Code::ExecuteWithoutRead));
        let unreadable =
            format!("  3: {{ filesystem: {{ execute: [{d}/links/ld.so], read: [{d}/links] }} }}\n");
        assert!(codes(&unreadable).contains(&Code::ExecuteWithoutRead));
        // Read and execute both granted on the link itself: both lead to the same file.
        let same_link = format!(
            "  3: {{ filesystem: {{ execute: [{d}/links/ld.so], read: [{d}/links/ld.so] }} }}\n"
        );
        assert!(!codes(&same_link).contains(&Code::ExecuteWithoutRead));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_less_privileged_ring_with_default_allow_under_default_deny_is_flagged() {
        let rings = "  1: { syscalls: { default: deny, allow: [read] } }\n  2: { syscalls: { default: allow } }\n";
        assert!(codes(rings).contains(&Code::Monotonicity));
        let rings = "  1: { syscalls: { default: deny, allow: [read, write] } }\n  2: { syscalls: { default: deny, allow: [read] } }\n";
        assert!(!codes(rings).contains(&Code::Monotonicity));
    }

    fn messages(rings: &str) -> Vec<String> {
        let text = format!(
            "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: t }}\nrings:\n{rings}"
        );
        crate::analyze("t.yaml", text.as_bytes())
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::Monotonicity)
            .map(|d| d.message.clone())
            .collect()
    }

    #[test]
    fn unix_sockets_listen_and_capabilities_are_part_of_the_ladder() {
        // The syscall rules network settings imply are compared through those settings: a
        // blocked ring below a restricted one (which loses `listen`) is not flagged for it.
        assert_eq!(
            messages("  2: { network: { mode: restricted, connect_tcp: [443] } }\n  3: {}\n"),
            Vec::<String>::new()
        );
        let found = messages(
            "  2: { network: { mode: restricted, connect_tcp: [443], unix_connect: [/run/a] }, process: { capabilities: [chown] } }\n  3: { network: { unix_connect: [/run/a, /run/b] }, process: { capabilities: [chown, kill] } }\n",
        );
        assert_eq!(
            found,
            [
                "ring 3 is granted capability `kill`, which more privileged ring 2 is denied",
                "ring 3 is granted listen() on unix sockets, which more privileged ring 2 is denied",
                "ring 3 is granted connecting to unix sockets under `/run/b`, which more privileged ring 2 is denied",
            ]
        );
        // A grant under a more privileged ring's grant is no escalation.
        assert!(
            messages("  2: { network: { unix_connect: [/run] } }\n  3: { network: { unix_connect: [/run/a] } }\n")
                .is_empty()
        );
    }

    #[test]
    fn the_syscalls_a_ring_is_granted_against_a_preset_are_one_finding() {
        let found = messages("  2: { syscalls: { presets: [hardening] } }\n  3: {}\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "ring 3 is granted 38 syscalls which more privileged ring 2 is denied"
            ),
            "{found:?}"
        );
        let text = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\nrings:\n  2: { syscalls: { presets: [hardening] } }\n  3: {}\n";
        let analysis = crate::analyze("t.yaml", text.as_bytes());
        let help = analysis
            .diagnostics
            .iter()
            .find_map(|d| d.help.clone())
            .unwrap();
        assert!(
            help.contains("`syscalls.default` is `allow`") && help.contains("`acct`"),
            "{help}"
        );
    }

    #[test]
    fn a_ring_with_default_deny_is_not_granted_what_it_does_not_allow() {
        // Ring 3 denies every syscall it does not name: `acct` is not granted to it.
        assert!(
            messages("  2: { syscalls: { presets: [hardening] } }\n  3: { syscalls: { default: deny, allow: [read] } }\n")
                .is_empty()
        );
        assert_eq!(
            messages(
                "  2: { syscalls: { presets: [hardening] } }\n  3: { syscalls: { default: deny, allow: [read, acct] } }\n"
            ),
            ["ring 3 is granted syscall `acct`, which more privileged ring 2 is denied"]
        );
    }

    #[test]
    fn a_rule_granted_to_several_rings_is_one_finding() {
        let found = messages(
            "  1: { filesystem: { read: [/usr] } }\n  2: { extends: 3 }\n  3: { filesystem: { read: [/usr, /etc] } }\n",
        );
        assert_eq!(
            found,
            ["rings 2 and 3 are granted `read` on `/etc`, which more privileged ring 1 is denied"]
        );
    }

    #[test]
    fn an_execute_grant_without_read_in_several_rings_is_one_finding() {
        let text = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\nrings:\n  2: { extends: 3 }\n  3: { filesystem: { execute: [/usr/bin] } }\n";
        let found: Vec<String> = crate::analyze("t.yaml", text.as_bytes())
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::ExecuteWithoutRead)
            .map(|d| d.message.clone())
            .collect();
        assert_eq!(
            found,
            [
                "on Linux nothing under `/usr/bin` can run: it may be executed but not read in rings 2 and 3"
            ]
        );
    }

    #[test]
    fn the_warnings_of_a_system_not_compiled_for_are_silent() {
        use crate::backend::Targets;
        // NC0803 (Linux) and NC0907 (macOS), in ring 3 and ring 2 (which extends it).
        let text = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\nrings:\n  2: { extends: 3 }\n  3:\n    filesystem: { read: [/w], write: [/w] }\n    deny: [{ glob: \"/w/**/.env\" }]\n";
        let codes = |targets| -> Vec<Code> {
            crate::analyze_for("t.yaml", text.as_bytes(), targets)
                .diagnostics
                .iter()
                .map(|d| d.code)
                .collect()
        };
        assert_eq!(
            codes(Targets::ALL),
            [Code::DenyGlobPartial, Code::SeatbeltRename]
        );
        assert_eq!(codes(Targets::LINUX), [Code::DenyGlobPartial]);
        assert_eq!(codes(Targets::MACOS), [Code::SeatbeltRename]);
        let merged = crate::analyze("t.yaml", text.as_bytes());
        let rename = merged
            .diagnostics
            .iter()
            .find(|d| d.code == Code::SeatbeltRename)
            .unwrap();
        assert!(
            rename
                .message
                .ends_with("cannot be removed or renamed in rings 2 and 3"),
            "{}",
            rename.message
        );
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

    /// What `decide` says of the filesystem lints of a policy from [`policy`], on every path of
    /// its pool and children of them: the spans each lint must report, found without the
    /// lints' code (no rule index, no template comparison: `decide` on bound paths).
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Expected {
        /// `NC0802`: path denies whose parent directory an allow grants one of their rights.
        deny_inside_allow: std::collections::BTreeSet<usize>,
        /// `NC0803`: glob denies that match a path an allow grants one of their rights on.
        glob_partial: std::collections::BTreeSet<usize>,
        /// `NC0805`: per execute grant, the number of rings where no allow grants `read_file`.
        execute_without_read: std::collections::BTreeMap<usize, usize>,
        /// `NC0801`: rings granted something `decide` denies a more privileged ring.
        escalated: std::collections::BTreeSet<u8>,
    }

    fn expected(ir: &crate::ir::Ir) -> Expected {
        use crate::ir::{
            BoundVariables, Effect, FsTarget, PathTemplate, Platform, Request, Right, Ring,
            Verdict, covers, decide,
        };
        let bindings: BoundVariables = [("ws", "/w"), ("home", "/h")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into_iter()
            .collect();
        let pool = [
            "/", "/a", "/a/b", "/a/b/c", "/ab", "/z", "/w", "/w/a", "/w/a/b", "/h",
        ];
        let mut probes: Vec<String> = pool.iter().map(|p| (*p).to_owned()).collect();
        for p in pool {
            for child in ["k", "x", ".env", "q"] {
                let base = if p == "/" { "" } else { p };
                probes.push(format!("{base}/{child}"));
            }
        }
        let allows = |v: Verdict| v == Verdict::Allow;
        let ask = |ring: &Ring, path: &str, right: Right| {
            let request = Request::Path {
                path: PathTemplate::parse(path).unwrap(),
                access: right,
                platform: Some(Platform::Linux),
            };
            decide(ring, &request, &bindings).verdict
        };
        let mut out = Expected::default();
        let confined: Vec<&Ring> = ir.rings.values().filter(|r| !r.unconfined).collect();
        for ring in &confined {
            // The ring as its allow rules alone make it: what a deny lies inside.
            let mut allowed = (*ring).clone();
            allowed.filesystem.retain(|r| r.effect == Effect::Allow);
            for rule in &ring.filesystem {
                let offset = rule.origin.offset;
                match (rule.effect, &rule.target) {
                    (Effect::Deny, FsTarget::Path(path)) => {
                        let path = path.expand(&bindings).unwrap();
                        let parent = match path.rsplit_once('/') {
                            Some(("", _)) if path != "/" => Some("/".to_owned()),
                            Some((parent, _)) if !parent.is_empty() => Some(parent.to_owned()),
                            _ => None,
                        };
                        if let Some(parent) = parent
                            && rule
                                .access
                                .iter()
                                .any(|r| allows(ask(&allowed, &parent, r)))
                        {
                            out.deny_inside_allow.insert(offset);
                        }
                    }
                    (Effect::Deny, FsTarget::Glob(_)) => {
                        let partial = probes.iter().any(|p| {
                            covers(&rule.target, p, &bindings, false)
                                && rule.access.iter().any(|r| allows(ask(&allowed, p, r)))
                        });
                        if partial {
                            out.glob_partial.insert(offset);
                        }
                    }
                    (Effect::Allow, FsTarget::Path(path))
                        if rule.access.contains(Right::Execute) =>
                    {
                        let path = path.expand(&bindings).unwrap();
                        if !allows(ask(&allowed, &path, Right::ReadFile)) {
                            *out.execute_without_read.entry(offset).or_default() += 1;
                        }
                    }
                    _ => {}
                }
            }
        }
        for (i, a) in confined.iter().enumerate() {
            for b in &confined[i + 1..] {
                let escalates = probes.iter().any(|p| {
                    Right::ALL
                        .into_iter()
                        .any(|r| allows(ask(b, p, r)) && !allows(ask(a, p, r)))
                });
                if escalates {
                    out.escalated.insert(b.level);
                }
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// The filesystem lints report what `decide` finds: exactly the carve-outs, partial
        /// glob denies and execute grants without read, and at least one `NC0801` for every
        /// ring that `decide` lets do something a more privileged ring may not (the lint
        /// compares rules, so it may also report a grant the ring's own deny takes back).
        #[test]
        fn the_filesystem_lints_report_what_decide_finds(text in policy()) {
            let analysis = crate::analyze("t.yaml", text.as_bytes());
            let Some(ir) = analysis.ir else {
                let codes: Vec<Code> = analysis.diagnostics.iter().map(|d| d.code).collect();
                return Err(proptest::test_runner::TestCaseError::fail(format!(
                    "the generated policy has errors {codes:?}:\n{text}"
                )));
            };
            let mut diags = Diagnostics::default();
            super::lints(&ir, &mut diags);
            let spans = |code: Code| {
                diags
                    .iter()
                    .filter(move |d| d.code == code)
                    .filter_map(|d| d.span.map(|s| s.offset))
            };
            let mut reported = Expected {
                deny_inside_allow: spans(Code::DenyInsideAllow).collect(),
                glob_partial: spans(Code::DenyGlobPartial).collect(),
                ..Expected::default()
            };
            // One `NC0805` per rule, naming its rings: `... in ring 2`, `... in rings 2 and 3`.
            for d in diags.iter().filter(|d| d.code == Code::ExecuteWithoutRead) {
                let rings = d.message.rsplit(" in ring").next().unwrap_or("");
                let count = rings
                    .split([' ', ','])
                    .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
                    .count();
                if let Some(span) = d.span {
                    *reported.execute_without_read.entry(span.offset).or_default() += count;
                }
            }
            let expected = expected(&ir);
            // The rings a `NC0801` names: `ring 3 is granted ...`, `rings 2 and 3 are granted ...`.
            let names = |message: &str, level: u8| {
                let subject = message.split(" granted ").next().unwrap_or("");
                subject
                    .split([' ', ','])
                    .any(|word| word == level.to_string())
            };
            for level in &expected.escalated {
                proptest::prop_assert!(
                    diags
                        .iter()
                        .any(|d| d.code == Code::Monotonicity && names(&d.message, *level)),
                    "no NC0801 for ring {}:\n{}", level, text
                );
            }
            reported.escalated = expected.escalated.clone();
            proptest::prop_assert_eq!(reported, expected, "{}", text);
        }
    }
}
