//! `decide`: the one decision function every backend is tested against.
//!
//! Precedence (POLICY-LANGUAGE.md, "Decision"): a matching deny wins; else a matching allow
//! grants; else deny. An unconfined ring allows everything. A ring whose rules use a variable
//! that the bindings leave unbound is denied everything, as the runtime refuses to apply it.

use serde::Serialize;

use super::model::{
    Effect, FsRule, FsTarget, ListenFamily, Origin, Request, Ring, SyscallAction, SyscallRule,
    UnixGrant,
};
use super::{AccessSet, BoundVariables, Right, path_within};
use crate::data::{self, Arch, ArgKind};
use crate::syntax::{NetworkMode, Platform};
use nonoc_runtime::hosts::{Host, Private, Rule as HostRuleId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
}

/// A verdict and the rules (or defaults) behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub because: Vec<Reason>,
    /// For syscall requests: what the kernel does with the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<SyscallAction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl Decision {
    fn new(verdict: Verdict, detail: impl Into<String>, origin: Option<&Origin>) -> Self {
        Decision {
            verdict,
            because: vec![Reason {
                detail: detail.into(),
                origin: origin.cloned(),
            }],
            action: None,
        }
    }

    pub fn is_allow(&self) -> bool {
        self.verdict == Verdict::Allow
    }
}

impl Platform {
    /// The platform this build runs on (macOS or, for everything else, Linux).
    pub fn host() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Macos
        } else {
            Platform::Linux
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::Macos => "macos",
        }
    }
}

/// Decides a request for a ring.
pub fn decide(ring: &Ring, request: &Request, bindings: &BoundVariables) -> Decision {
    if ring.unconfined {
        let mut d = Decision::new(
            Verdict::Allow,
            format!("ring {} is unconfined", ring.level),
            None,
        );
        if matches!(request, Request::Syscall { .. }) {
            d.action = Some(SyscallAction::Allow);
        }
        return d;
    }
    match request {
        Request::Path {
            path,
            access,
            platform,
        } => match expand_request_path(ring, path, bindings) {
            Ok(path) => decide_path(
                ring,
                &path,
                *access,
                platform.unwrap_or_else(Platform::host),
                bindings,
            ),
            Err(denied) => denied,
        },
        Request::ConnectTcp { port } => {
            decide_port(ring, *port, &ring.network.connect_tcp, "connect")
        }
        Request::BindTcp { port } => decide_port(ring, *port, &ring.network.bind_tcp, "bind"),
        Request::Udp => match ring.network.mode {
            NetworkMode::Allowed => Decision::new(Verdict::Allow, "network.mode: allowed", None),
            NetworkMode::Restricted if ring.network.udp => {
                Decision::new(Verdict::Allow, "network.udp: true", None)
            }
            NetworkMode::Restricted => Decision::new(
                Verdict::Deny,
                "network.mode: restricted without udp: true blocks UDP and raw sockets",
                None,
            ),
            NetworkMode::Blocked => Decision::new(Verdict::Deny, "network.mode: blocked", None),
        },
        Request::Syscall { name, args } => decide_syscall(ring, name, args),
        Request::Signal { scope } => {
            let allowed = *scope <= ring.process.signals;
            Decision::new(
                verdict(allowed),
                format!("process.signals: {}", ring.process.signals.name()),
                None,
            )
        }
        Request::Fork => Decision::new(
            verdict(ring.process.fork),
            format!("process.fork: {}", ring.process.fork),
            None,
        ),
        Request::Ptrace => Decision::new(
            verdict(ring.process.ptrace),
            format!("process.ptrace: {}", ring.process.ptrace),
            None,
        ),
        Request::Listen { family } => decide_listen(ring, *family),
        Request::UnixConnect { path, platform } => {
            match expand_request_path(ring, path, bindings) {
                Ok(path) => decide_unix_connect(
                    ring,
                    &path,
                    platform.unwrap_or_else(Platform::host),
                    bindings,
                ),
                Err(denied) => denied,
            }
        }
        Request::Host { host, port } => decide_host(ring, host, *port),
        Request::Capability { capability } => {
            let kept = ring.process.capabilities.contains(capability);
            Decision::new(
                verdict(kept),
                if kept {
                    format!("process.capabilities keeps `{capability}`")
                } else if ring.process.capabilities.is_empty() {
                    "process.capabilities is empty: every capability is dropped".to_owned()
                } else {
                    format!("process.capabilities does not list `{capability}`: it is dropped")
                },
                None,
            )
        }
    }
}

/// `listen()`: seccomp sees no socket family there, so where the ring may create TCP
/// sockets but bind no port, `listen()` is denied on every socket, unix ones included.
fn decide_listen(ring: &Ring, family: ListenFamily) -> Decision {
    let net = &ring.network;
    let no_unix = || {
        Decision::new(
            Verdict::Deny,
            "the ring has no network.unix_connect grant: socket(AF_UNIX) is denied",
            None,
        )
    };
    if family == ListenFamily::Unix && net.unix_connect.is_empty() {
        return no_unix();
    }
    match (net.mode, family) {
        (NetworkMode::Allowed, _) => Decision::new(Verdict::Allow, "network.mode: allowed", None),
        (NetworkMode::Blocked, ListenFamily::Tcp) => Decision::new(
            Verdict::Deny,
            "network.mode: blocked: no TCP socket can be created",
            None,
        ),
        (NetworkMode::Blocked, ListenFamily::Unix) => Decision::new(
            Verdict::Allow,
            "network.mode: blocked creates no TCP socket, so listen() stays allowed for unix sockets (a network.unix_connect grant allows creating them)",
            None,
        ),
        (NetworkMode::Restricted, _) if !net.bind_tcp.is_empty() => Decision::new(
            Verdict::Allow,
            "network.bind_tcp lists ports, so listen() is allowed (on Linux a listen() on an unbound TCP socket binds an ephemeral port, which Landlock does not check)",
            None,
        ),
        (NetworkMode::Restricted, _) => Decision::new(
            Verdict::Deny,
            "network.mode: restricted without bind_tcp: listen() is denied on every socket, unix ones too (the syscall filter cannot tell a TCP socket from a unix one)",
            None,
        ),
    }
}

/// Connecting to a unix socket: a `network.unix_connect` grant on the path or a directory
/// above it; a deny rule that withholds every right on the path wins over it.
fn decide_unix_connect(
    ring: &Ring,
    path: &str,
    platform: Platform,
    bindings: &BoundVariables,
) -> Decision {
    if ring.network.unix_connect.is_empty() {
        return Decision::new(
            Verdict::Deny,
            format!(
                "ring {} has no network.unix_connect grant: socket(AF_UNIX) is denied",
                ring.level
            ),
            None,
        );
    }
    let denies: Vec<&FsRule> = ring
        .filesystem
        .iter()
        .filter(|r| {
            r.effect == Effect::Deny
                && r.access == AccessSet::ALL
                && r.platform.is_none_or(|p| p == platform)
                && covers(&r.target, path, bindings, true)
                && !r.except.iter().any(|e| covers(e, path, bindings, false))
        })
        .collect();
    if !denies.is_empty() {
        return Decision {
            verdict: Verdict::Deny,
            because: denies
                .iter()
                .map(|r| Reason {
                    detail: format!(
                        "denied by `{}` (a deny of every right covers connecting to sockets)",
                        r.target.text()
                    ),
                    origin: Some(r.origin.clone()),
                })
                .collect(),
            action: None,
        };
    }
    let grants: Vec<&UnixGrant> = ring
        .network
        .unix_connect
        .iter()
        .filter(|g| {
            g.path
                .expand(bindings)
                .is_some_and(|root| path_within(path, &root, false))
        })
        .collect();
    if grants.is_empty() {
        return Decision::new(
            Verdict::Deny,
            format!(
                "no network.unix_connect grant of ring {} covers `{path}` (default deny)",
                ring.level
            ),
            None,
        );
    }
    Decision {
        verdict: Verdict::Allow,
        because: grants
            .iter()
            .map(|g| Reason {
                detail: format!("allowed by network.unix_connect `{}`", g.path.as_str()),
                origin: Some(g.origin.clone()),
            })
            .collect(),
        action: None,
    }
}

fn verdict(allowed: bool) -> Verdict {
    if allowed {
        Verdict::Allow
    } else {
        Verdict::Deny
    }
}

/// A request's path with its variable bound, or the denial: the ring cannot be applied with a
/// variable its rules use unbound, and a request path naming an unbound variable is denied.
fn expand_request_path(
    ring: &Ring,
    path: &crate::resolve::PathTemplate,
    bindings: &BoundVariables,
) -> Result<String, Decision> {
    if let Some(unbound) = unbound_variable(ring, bindings) {
        return Err(Decision::new(
            Verdict::Deny,
            format!("variable `{unbound}` is unbound; the ring cannot be applied"),
            None,
        ));
    }
    path.expand(bindings).ok_or_else(|| {
        Decision::new(
            Verdict::Deny,
            format!(
                "the request path `{}` uses an unbound variable",
                path.as_str()
            ),
            None,
        )
    })
}

/// The first variable the ring's rules use that the bindings leave unbound.
pub fn unbound_variable<'a>(ring: &'a Ring, bindings: &BoundVariables) -> Option<&'a str> {
    ring.filesystem
        .iter()
        .flat_map(|r| std::iter::once(&r.target).chain(&r.except))
        .filter_map(FsTarget::variable)
        .chain(
            ring.network
                .unix_connect
                .iter()
                .filter_map(|g| g.path.variable()),
        )
        .find(|v| bindings.get(v).is_none())
}

fn decide_path(
    ring: &Ring,
    path: &str,
    access: Right,
    platform: Platform,
    bindings: &BoundVariables,
) -> Decision {
    let applies = |rule: &&FsRule| {
        rule.access.contains(access)
            && rule.platform.is_none_or(|p| p == platform)
            && covers(&rule.target, path, bindings, true)
    };
    let denies: Vec<&FsRule> = ring
        .filesystem
        .iter()
        .filter(|r| r.effect == Effect::Deny)
        .filter(applies)
        .filter(|r| !r.except.iter().any(|e| covers(e, path, bindings, false)))
        .collect();
    if !denies.is_empty() {
        return from_rules(Verdict::Deny, &denies, "denied by", access);
    }
    let allows: Vec<&FsRule> = ring
        .filesystem
        .iter()
        .filter(|r| r.effect == Effect::Allow)
        .filter(applies)
        .collect();
    if !allows.is_empty() {
        return from_rules(Verdict::Allow, &allows, "allowed by", access);
    }
    Decision::new(
        Verdict::Deny,
        format!(
            "no rule of ring {} grants {access} on `{path}` (default deny)",
            ring.level
        ),
        None,
    )
}

fn from_rules(verdict: Verdict, rules: &[&FsRule], what: &str, access: Right) -> Decision {
    Decision {
        verdict,
        because: rules
            .iter()
            .map(|r| Reason {
                detail: format!("{what} `{}` ({access})", r.target.text()),
                origin: Some(r.origin.clone()),
            })
            .collect(),
        action: None,
    }
}

/// Whether a rule target covers a concrete path: the path itself or anything under it.
/// A glob that does not compile after expansion covers everything when it denies
/// (`fail_closed`) and nothing when it excepts.
pub fn covers(target: &FsTarget, path: &str, bindings: &BoundVariables, fail_closed: bool) -> bool {
    match target {
        FsTarget::Path(template) => template
            .expand(bindings)
            .is_some_and(|root| path_within(path, &root, false)),
        FsTarget::Glob(template) => {
            let Some(pattern) = template.expand(bindings) else {
                return fail_closed;
            };
            with_glob(&pattern, |matcher| match matcher {
                Some(matcher) => ancestors(path).any(|p| matcher.is_match(p)),
                None => fail_closed,
            })
        }
    }
}

/// Runs `f` with the compiled matcher of a glob (`None` when it does not compile). Compiling
/// costs tens of microseconds, far more than matching, and callers that ask many requests of
/// one ring (`diff`, the lints' property test, the decide tests) see the same few globs again and
/// again: the matchers are kept per thread, and the cache is emptied when it grows large.
fn with_glob<T>(pattern: &str, f: impl FnOnce(Option<&globset::GlobMatcher>) -> T) -> T {
    use std::cell::RefCell;
    use std::collections::HashMap;
    const MAX_CACHED: usize = 4096;
    thread_local! {
        static GLOBS: RefCell<HashMap<String, Option<globset::GlobMatcher>>> =
            RefCell::new(HashMap::new());
    }
    GLOBS.with(|cell| {
        let mut cache = cell.borrow_mut();
        if !cache.contains_key(pattern) {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            let matcher = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .ok()
                .map(|g| g.compile_matcher());
            cache.insert(pattern.to_owned(), matcher);
        }
        f(cache.get(pattern).and_then(Option::as_ref))
    })
}

/// The path and each of its ancestors, nearest first, ending with `/`.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.rfind('/') {
            Some(0) if current.len() > 1 => Some("/"),
            Some(0) | None => None,
            Some(i) => Some(&current[..i]),
        };
        Some(current)
    })
}

/// Reaching a host at a port: in `restricted` mode the ring's host lists decide, through
/// the runtime's own egress decision ([`nonoc_runtime::hosts::HostPolicy::decide`], the one
/// the proxy makes); a port in `connect_tcp` is reachable directly, at any host.
fn decide_host(ring: &Ring, host: &str, port: u16) -> Decision {
    let net = &ring.network;
    match net.mode {
        NetworkMode::Allowed => {
            return Decision::new(
                Verdict::Allow,
                "network.mode: allowed: any host, directly (no proxy)",
                None,
            );
        }
        NetworkMode::Blocked => {
            return Decision::new(Verdict::Deny, "network.mode: blocked", None);
        }
        NetworkMode::Restricted => {}
    }
    let parsed = match Host::parse(host) {
        Ok(h) => h,
        Err(e) => return Decision::new(Verdict::Deny, format!("not a host: {e}"), None),
    };
    let direct = net.connect_tcp.contains(&port).then(|| {
        Reason {
            detail: format!(
                "network.connect_tcp lists port {port}: a direct connection to any host (in the namespace tier only to the sandbox's own loopback)"
            ),
            origin: None,
        }
    });
    let Some(policy) = net.host_policy() else {
        return match direct {
            Some(reason) => Decision {
                verdict: Verdict::Allow,
                because: vec![reason],
                action: None,
            },
            None => Decision::new(
                Verdict::Deny,
                format!(
                    "the ring lists no network.hosts (no egress proxy) and network.connect_tcp does not list port {port}"
                ),
                None,
            ),
        };
    };
    let verdict = policy.decide(&parsed, port);
    let origin = match verdict.rule {
        HostRuleId::Host(i) | HostRuleId::Port(i) => net.hosts.get(i).map(|g| &g.origin),
        HostRuleId::DenyHost(i) => net.deny_hosts.get(i).map(|g| &g.origin),
        _ => None,
    };
    let mut decision = Decision::new(
        if verdict.is_allowed() {
            Verdict::Allow
        } else {
            Verdict::Deny
        },
        format!(
            "{} (through the egress proxy)",
            policy.describe(&parsed, port, &verdict)
        ),
        origin,
    );
    if verdict.is_allowed() && matches!(parsed, Host::Name(_)) {
        decision.because.push(Reason {
            detail: format!(
                "the proxy resolves the name and refuses it if any address is a metadata endpoint{}",
                match net.private {
                    Private::Deny => " or not global (network.private: deny)",
                    Private::Allow => "",
                }
            ),
            origin: None,
        });
    }
    if !verdict.is_allowed()
        && let Some(reason) = direct
    {
        decision.verdict = Verdict::Allow;
        decision.because.insert(0, reason);
    }
    decision
}

fn decide_port(ring: &Ring, port: u16, allowed: &[u16], what: &str) -> Decision {
    match ring.network.mode {
        NetworkMode::Allowed => Decision::new(Verdict::Allow, "network.mode: allowed", None),
        NetworkMode::Blocked => Decision::new(Verdict::Deny, "network.mode: blocked", None),
        NetworkMode::Restricted if allowed.contains(&port) => Decision::new(
            Verdict::Allow,
            format!("network.{what}_tcp lists port {port}"),
            None,
        ),
        NetworkMode::Restricted => Decision::new(
            Verdict::Deny,
            format!("network.{what}_tcp does not list port {port}"),
            None,
        ),
    }
}

/// Width of a syscall argument: `int` arguments compare on the low 32 bits only.
pub fn arg_is_int(name: &str, index: usize) -> bool {
    Arch::ALL
        .iter()
        .find_map(|arch| data::syscall(*arch, name))
        .is_some_and(|s| s.args.get(index).is_some_and(|k| *k == ArgKind::Int))
}

/// The value the kernel's filter sees for an argument.
pub fn effective_arg(name: &str, index: usize, value: u64) -> u64 {
    if arg_is_int(name, index) {
        value & 0xffff_ffff
    } else {
        value
    }
}

fn decide_syscall(ring: &Ring, name: &str, args: &[u64]) -> Decision {
    let arg = |i: u8| {
        let i = usize::from(i);
        effective_arg(name, i, args.get(i).copied().unwrap_or(0))
    };
    let matching: Vec<&SyscallRule> = ring
        .syscalls
        .deny
        .iter()
        .filter(|r| r.name == name && r.args.iter().all(|c| c.holds(arg(c.index))))
        .collect();
    // What the call gets when no deny rule matches.
    let (fallback, fallback_why) = if ring.syscalls.default_allow {
        (SyscallAction::Allow, "syscalls.default: allow".to_owned())
    } else if ring.syscalls.allow.iter().any(|a| a == name) {
        (
            SyscallAction::Allow,
            format!("syscalls.allow lists `{name}`"),
        )
    } else {
        (
            ring.syscalls.deny_action,
            format!("syscalls.default: deny and `{name}` is not in syscalls.allow"),
        )
    };
    // The strictest action wins, and a matching rule never weakens the fallback: a `log`
    // rule on a call that `default: deny` refuses leaves it refused. On a tie the rule's own
    // action is kept (clone3's ENOSYS must survive `default: deny`).
    let strictest = matching
        .iter()
        .max_by_key(|r| {
            (
                SyscallAction::strictness(r.action),
                std::cmp::Reverse(r.origin.clone()),
            )
        })
        .map(|r| r.action)
        .filter(|a| SyscallAction::strictness(*a) >= SyscallAction::strictness(fallback));
    let action = strictest.unwrap_or(fallback);
    // `log` is an audit action: the kernel logs the call and lets it run.
    let verdict = verdict(matches!(action, SyscallAction::Allow | SyscallAction::Log));
    let mut because: Vec<Reason> = matching
        .iter()
        .map(|r| Reason {
            detail: format!(
                "{} by syscall rule `{}` ({})",
                if r.action == SyscallAction::Log {
                    "logged"
                } else {
                    "denied"
                },
                r.name,
                action_name(r.action)
            ),
            origin: Some(r.origin.clone()),
        })
        .collect();
    if strictest.is_none() {
        because.push(Reason {
            detail: fallback_why,
            origin: None,
        });
    }
    Decision {
        verdict,
        because,
        action: Some(action),
    }
}

pub fn action_name(action: SyscallAction) -> String {
    match action {
        SyscallAction::Allow => "allow".to_owned(),
        SyscallAction::Errno(n) => match data::errno_name(u32::from(n)) {
            Some(name) => format!("errno {name}"),
            None => format!("errno {n}"),
        },
        SyscallAction::KillProcess => "kill_process".to_owned(),
        SyscallAction::Log => "log".to_owned(),
        SyscallAction::Trap => "trap".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_walk_to_the_root() {
        assert_eq!(
            ancestors("/a/b/c").collect::<Vec<_>>(),
            ["/a/b/c", "/a/b", "/a", "/"]
        );
        assert_eq!(ancestors("/").collect::<Vec<_>>(), ["/"]);
    }
}
