//! Every kind of request `decide` answers, in one place: which candidates of each kind a
//! comparison asks, how a request is written for people, and which finding it belongs to.
//!
//! Adding a request kind to `decide` (a variant of [`Request`]) fails to compile here until
//! [`describe`], [`group`] and [`short`] know it. Then give it candidates:
//! - a kind whose answer does not depend on variable values (ports, syscalls, host names):
//!   in [`candidates`], every value the rules of either ring name, its boundaries, and one
//!   value no rule names;
//! - a kind that names a path (`unix_connect`): its rules in [`path_rules`], so the pool of
//!   paths covers them under every variable value, and the request in [`at_path`].

use std::collections::BTreeSet;

use super::args;
use super::report::Area;
use crate::ir::{
    AccessSet, Capability, Effect, FsTarget, ListenFamily, PathTemplate, Platform, Request, Right,
    Ring,
};
use crate::syntax::SignalScope;

/// The requests other than paths to ask two rings (paths depend on variable values: see
/// `paths.rs`).
pub(super) fn candidates(rings: &[&Ring]) -> Vec<Request> {
    let mut out = Vec::new();
    // TCP ports: each listed port and its neighbours, the ends of the range, and one port no
    // ring lists.
    let mut ports: BTreeSet<u16> = [0, 1, u16::MAX].into();
    for ring in rings {
        for p in ring
            .network
            .connect_tcp
            .iter()
            .chain(&ring.network.bind_tcp)
        {
            ports.extend([p.saturating_sub(1), *p, p.saturating_add(1)]);
        }
    }
    if let Some(unlisted) = (2..u16::MAX).find(|p| {
        !rings
            .iter()
            .any(|r| r.network.connect_tcp.contains(p) || r.network.bind_tcp.contains(p))
    }) {
        ports.insert(unlisted);
    }
    for port in &ports {
        out.push(Request::ConnectTcp { port: *port });
        out.push(Request::BindTcp { port: *port });
    }
    out.extend(host_candidates(rings));
    out.push(Request::Udp);
    for scope in [SignalScope::Own, SignalScope::Sandbox, SignalScope::Any] {
        out.push(Request::Signal { scope });
    }
    out.push(Request::Fork);
    out.push(Request::Ptrace);
    for family in [ListenFamily::Tcp, ListenFamily::Unix] {
        out.push(Request::Listen { family });
    }
    // Capabilities: each one a ring keeps, and one no ring keeps.
    let kept: BTreeSet<Capability> = rings
        .iter()
        .flat_map(|r| r.process.capabilities.iter().copied())
        .collect();
    let unkept = Capability::ALL.iter().copied().find(|c| !kept.contains(c));
    for capability in kept.into_iter().chain(unkept) {
        out.push(Request::Capability { capability });
    }
    out.extend(
        args::syscall_requests(rings)
            .into_iter()
            .map(|(name, args)| Request::Syscall { name, args }),
    );
    out
}

/// Host requests: each host a `hosts` or `deny_hosts` entry of either ring names (for a
/// wildcard its apex and a name below it; for a range its first address), and one name no
/// entry names, each at every port an entry lists, 443, and one port no entry lists.
fn host_candidates(rings: &[&Ring]) -> Vec<Request> {
    use nonoc_runtime::hosts::{HostPattern, Ports};
    let grants = || {
        rings
            .iter()
            .flat_map(|r| r.network.hosts.iter().chain(&r.network.deny_hosts))
    };
    if grants().next().is_none() {
        return Vec::new();
    }
    let mut hosts: BTreeSet<String> = ["unlisted.invalid".to_owned()].into();
    let mut ports: BTreeSet<u16> = [443].into();
    for grant in grants() {
        match &grant.rule.pattern {
            HostPattern::Exact(n) => {
                hosts.insert(n.to_string());
            }
            HostPattern::Subdomains(n) => {
                hosts.insert(n.to_string());
                hosts.insert(format!("sub.{n}"));
            }
            HostPattern::Range(r) => {
                hosts.insert(match r.network() {
                    std::net::IpAddr::V6(a) => format!("[{a}]"),
                    a => a.to_string(),
                });
            }
        }
        if let Ports::Only(list) = &grant.rule.ports {
            ports.extend(list);
        }
    }
    if let Some(unlisted) = (1..u16::MAX).rev().find(|p| !ports.contains(p)) {
        ports.insert(unlisted);
    }
    hosts
        .iter()
        .flat_map(|host| {
            ports.iter().map(|port| Request::Host {
                host: host.clone(),
                port: *port,
            })
        })
        .collect()
}

/// A rule that decides requests naming a path, without its origin: the paths and globs it
/// names, and a key equal for two rules that decide alike.
#[derive(Debug, Clone)]
pub(super) struct PathRule {
    pub key: String,
    /// The rule's own path or glob first, then its exceptions.
    pub targets: Vec<FsTarget>,
    /// For people: `the deny of `${home}/.ssh``, `the write grant on `/tmp``.
    pub what: String,
    /// Where it stands: `line 12 (global deny)`.
    pub at: String,
}

/// The rules of a ring that decide requests naming a path: its filesystem rules (with their
/// `except` entries), then its `network.unix_connect` grants.
pub(super) fn path_rules(ring: &Ring) -> Vec<PathRule> {
    let unix = ring.network.unix_connect.iter().map(|g| PathRule {
        key: format!("unix_connect {:?}", g.path),
        targets: vec![FsTarget::Path(g.path.clone())],
        what: format!("the unix_connect grant on `{}`", g.path.as_str()),
        at: format!("line {} ({})", g.origin.line, g.origin.scope),
    });
    ring.filesystem
        .iter()
        .map(|r| {
            let mut except = r.except.clone();
            except.sort();
            except.dedup();
            PathRule {
                key: format!(
                    "filesystem {:?} {:?} {:?} {except:?} {:?}",
                    r.effect, r.target, r.access, r.platform
                ),
                targets: std::iter::once(r.target.clone()).chain(except).collect(),
                what: match r.effect {
                    Effect::Deny => format!("the deny of `{}`", r.target.text()),
                    Effect::Allow => {
                        format!("the {} grant on `{}`", r.access.describe(), r.target.text())
                    }
                },
                at: format!("line {} ({})", r.origin.line, r.origin.scope),
            }
        })
        .chain(unix)
        .collect()
}

/// The requests asked at one candidate path: one right of each class of rights the rules treat
/// alike (with the class), on each platform; and, when a ring has unix socket grants
/// (`unix`), connecting to a socket there, on each platform.
pub(super) fn at_path(
    path: &PathTemplate,
    classes: &[AccessSet],
    platforms: &[Platform],
    unix: bool,
) -> Vec<(Request, AccessSet)> {
    let mut out = Vec::new();
    if unix {
        for platform in platforms {
            out.push((
                Request::UnixConnect {
                    path: path.clone(),
                    platform: Some(*platform),
                },
                AccessSet::EMPTY,
            ));
        }
    }
    for class in classes {
        let Some(access) = class.iter().next() else {
            continue;
        };
        for platform in platforms {
            out.push((
                Request::Path {
                    path: path.clone(),
                    access,
                    platform: Some(*platform),
                },
                *class,
            ));
        }
    }
    out
}

/// A request as the policy language writes it: `write_file /etc/x`, `connect_tcp 443`, ...
/// `path` shows the request's path for people.
pub(super) fn describe(request: &Request, path: &dyn Fn(&str) -> String) -> String {
    match request {
        Request::Path {
            path: p, access, ..
        } => {
            format!("{} `{}`", access_verb(*access), path(p.as_str()))
        }
        Request::ConnectTcp { port } => format!("connect_tcp {port}"),
        Request::Host { host, port } => format!("reach host `{host}` at port {port}"),
        Request::BindTcp { port } => format!("bind_tcp {port}"),
        Request::Udp => "use udp".to_owned(),
        Request::Syscall { name, args } if args.is_empty() => format!("syscall `{name}`"),
        Request::Syscall { name, args } => format!(
            "syscall `{name}({})`",
            args.iter()
                .map(|a| format!("{a:#x}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Request::Signal { scope } => format!("signal {}", scope.name()),
        Request::Fork => "fork".to_owned(),
        Request::Ptrace => "ptrace".to_owned(),
        Request::Listen { family } => format!("listen {}", family.name()),
        Request::UnixConnect { path: p, .. } => format!("unix_connect `{}`", path(p.as_str())),
        Request::Capability { capability } => format!("keep capability {capability}"),
    }
}

fn access_verb(access: Right) -> &'static str {
    match access {
        Right::ReadFile => "read",
        Right::WriteFile => "write",
        other => other.name(),
    }
}

/// Which finding a request that is answered differently belongs to, for requests other than
/// those naming a path (those are grouped by the rules that decide them): its area and a
/// label shared by the requests one finding lists.
pub(super) fn group(request: &Request) -> (Area, String) {
    match request {
        Request::Path { .. } => (Area::Filesystem, "path".to_owned()),
        Request::UnixConnect { .. } => (Area::Network, "unix_connect".to_owned()),
        Request::ConnectTcp { .. } => (Area::Network, "connect_tcp".to_owned()),
        Request::Host { .. } => (Area::Network, "host".to_owned()),
        Request::BindTcp { .. } => (Area::Network, "bind_tcp".to_owned()),
        Request::Udp => (Area::Network, "udp".to_owned()),
        Request::Syscall { name, .. } => (Area::Syscalls, format!("syscall `{name}`")),
        Request::Signal { .. } => (Area::Process, "signals".to_owned()),
        Request::Fork => (Area::Process, "fork".to_owned()),
        Request::Ptrace => (Area::Process, "ptrace".to_owned()),
        Request::Listen { .. } => (Area::Network, "listen".to_owned()),
        Request::Capability { .. } => (Area::Process, "keep capability".to_owned()),
    }
}

/// The short form a finding lists its requests in after the group's label: `22` of
/// `connect_tcp 22`, `(0x2, 0x1)` of `syscall socket(0x2, 0x1)`; empty when the label says it
/// all.
pub(super) fn short(request: &Request) -> String {
    match request {
        Request::ConnectTcp { port } | Request::BindTcp { port } => port.to_string(),
        Request::Host { host, port } => format!("{host}:{port}"),
        Request::Signal { scope } => scope.name().to_owned(),
        Request::Listen { family } => family.name().to_owned(),
        Request::Capability { capability } => capability.name().to_owned(),
        Request::Syscall { args, .. } if args.is_empty() => String::new(),
        Request::Syscall { args, .. } => format!(
            "({})",
            args.iter()
                .map(|a| format!("{a:#x}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Request::Path { .. }
        | Request::UnixConnect { .. }
        | Request::Udp
        | Request::Fork
        | Request::Ptrace => String::new(),
    }
}
