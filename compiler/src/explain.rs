//! What `nonoc explain` answers: whether a ring allows or denies one request, the rules (or
//! the default) that decided it, notes where the verdict promises less than it seems to, and
//! what each backend does with the request, and (Linux) when this host's isolation tier
//! refuses a request the policy allows.

use serde::Serialize;

use crate::backend::{landlock, seccomp};
use crate::data::{self, Arch};
use crate::ir::presets::{AF_INET, AF_UNIX, SOCK_STREAM};
use crate::ir::{
    self, BoundVariables, Capability, Decision, Effect, FsRule, FsTarget, ListenFamily,
    PartialBindings, PathError, PathTemplate, Platform, Request, Right, Ring, Verdict,
    describe_request,
};

/// The request to explain, as typed on the command line ([`explain`] checks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainRequest {
    Read(String),
    Write(String),
    Execute(String),
    ConnectTcp(String),
    BindTcp(String),
    Syscall(String),
    Listen(ListenFamily),
    UnixConnect(String),
    Capability(String),
    /// `NAME[:PORT]` (port 443 when not given).
    Host(String),
}

/// What `explain` prints with `--format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    pub ring: u8,
    pub request: String,
    pub because: Vec<JsonReason>,
    /// What the verdict does not say by itself (what `execute` governs, what the kernel
    /// cannot check here).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub backends: Backends,
    /// Why the request, which the policy allows, fails on this host anyway (the isolation
    /// tier's carve-out or a mask; Linux).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// One rule or default behind the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct JsonReason {
    pub detail: String,
    /// `global deny`, `ring 3`, `preset hardening`, ...; `None` for a default.
    pub scope: Option<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The source line of the rule.
    pub text: Option<String>,
}

/// What each backend does with the request, in words.
#[derive(Debug, Clone, Serialize)]
pub struct Backends {
    pub landlock: String,
    pub seccomp: String,
    /// Only on macOS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seatbelt: Option<String>,
}

/// The ring asked about; `Err` names the rings the policy has.
pub fn ring(ir: &ir::Ir, level: u8) -> Result<&Ring, String> {
    ir.rings.get(&level).ok_or_else(|| {
        let rings: Vec<String> = ir.rings.keys().map(u8::to_string).collect();
        format!(
            "the policy has no ring {level} (its rings: {})",
            rings.join(", ")
        )
    })
}

/// Why `ring` allows or denies the request as typed, for the policy `analysis` read (its IR
/// `ir`), with what can be bound bound. `Err` (a usage error) for a request that is not one.
pub fn explain(
    ir: &ir::Ir,
    analysis: &crate::Analysis,
    ring: &Ring,
    asked: &ExplainRequest,
    partial: &PartialBindings,
) -> Result<Explanation, String> {
    let file = analysis.source.name.as_str();
    let request = build_request(ir, partial, asked)?;
    let bindings = &partial.bindings;
    let decision = ir::decide(ring, &request, bindings);
    let backends = Backends {
        landlock: landlock_says(ring, &request, &decision, bindings),
        seccomp: seccomp_says(ring, &request, &decision),
        seatbelt: (Platform::host() == Platform::Macos).then(|| {
            format!(
                "enforced by the ring's profile (`nonoc compile --emit sbpl --ring {}`); where it answers other than `decide` is in docs/backends/seatbelt.md",
                ring.level
            )
        }),
    };
    // The isolation layer, which can refuse what `decide` allows, is Linux's.
    #[cfg(target_os = "linux")]
    let host = match (&request, decision.verdict) {
        (Request::Path { path, access, .. }, Verdict::Allow) => {
            path.expand(bindings).and_then(|p| {
                crate::isolation::host_note(ir, analysis, ring.level, &p, *access, bindings)
            })
        }
        _ => None,
    };
    #[cfg(not(target_os = "linux"))]
    let host = None;
    Ok(Explanation {
        verdict: decision.verdict,
        ring: ring.level,
        request: describe_request(&request),
        because: decision
            .because
            .iter()
            .map(|r| JsonReason {
                detail: r.detail.clone(),
                scope: r.origin.as_ref().map(|o| o.scope.clone()),
                file: r.origin.as_ref().map(|_| file.to_owned()),
                line: r.origin.as_ref().map(|o| o.line),
                column: r.origin.as_ref().map(|o| o.column),
                text: r.origin.as_ref().map(|o| o.text.clone()),
            })
            .collect(),
        notes: notes(ring, &request, &decision, bindings),
        backends,
        host,
    })
}

/// Checks the request as typed and turns it into `decide`'s.
fn build_request(
    ir: &ir::Ir,
    partial: &PartialBindings,
    asked: &ExplainRequest,
) -> Result<Request, String> {
    let path = |flag: &str, text: &str, access: Right| -> Result<Request, String> {
        // `access` is unused for `--unix-connect`, which takes the request's path only.
        let template = PathTemplate::parse(text).map_err(|e| {
            format!(
                "`--{flag} {text}`: the path must be absolute and normalized ({})",
                path_error(&e)
            )
        })?;
        if let Some(v) = template.variable() {
            if !ir.variables.contains_key(v) {
                return Err(format!(
                    "`--{flag} {text}`: the policy declares no variable `{v}`"
                ));
            }
            if let Some(message) = partial.first_unbound([v]) {
                return Err(format!("`--{flag} {text}`: {message}"));
            }
        }
        Ok(Request::Path {
            path: template,
            access,
            platform: Some(Platform::host()),
        })
    };
    let port = |flag: &str, text: &str| -> Result<u16, String> {
        text.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`--{flag} {text}`: a TCP port is a number in 1..=65535"))
    };
    match asked {
        ExplainRequest::Read(p) => path("read", p, Right::ReadFile),
        ExplainRequest::Write(p) => path("write", p, Right::WriteFile),
        ExplainRequest::Execute(p) => path("execute", p, Right::Execute),
        ExplainRequest::ConnectTcp(p) => Ok(Request::ConnectTcp {
            port: port("connect-tcp", p)?,
        }),
        ExplainRequest::BindTcp(p) => Ok(Request::BindTcp {
            port: port("bind-tcp", p)?,
        }),
        ExplainRequest::Listen(family) => Ok(Request::Listen { family: *family }),
        ExplainRequest::UnixConnect(p) => match path("unix-connect", p, Right::ReadFile)? {
            Request::Path { path, platform, .. } => Ok(Request::UnixConnect { path, platform }),
            other => Ok(other),
        },
        ExplainRequest::Host(text) => {
            nonoc_runtime::hosts::parse_authority(text, Some(nonoc_runtime::hosts::Ports::DEFAULT_ALLOW))
                .map(|(host, port)| Request::Host {
                    host: host.to_string(),
                    port,
                })
                .map_err(|e| format!("`--host {text}`: {e}"))
        }
        ExplainRequest::Capability(name) => Capability::from_name(name)
            .map(|capability| Request::Capability { capability })
            .ok_or_else(|| {
                format!(
                    "`--capability {name}`: not a Linux capability (names are lower case without `CAP_`, e.g. `net_bind_service`)"
                )
            }),
        ExplainRequest::Syscall(name) => {
            if Arch::ALL
                .iter()
                .any(|arch| data::syscall(*arch, name).is_some())
            {
                Ok(Request::Syscall {
                    name: name.clone(),
                    args: Vec::new(),
                })
            } else {
                Err(format!(
                    "`--syscall {name}`: no such syscall on x86_64 or aarch64"
                ))
            }
        }
    }
}

/// What the Landlock ruleset the runtime builds for the ring does with the request.
fn landlock_says(
    ring: &Ring,
    request: &Request,
    decision: &Decision,
    b: &BoundVariables,
) -> String {
    let plan = match landlock::lower(ring) {
        Ok(Some(plan)) => plan,
        Ok(None) => return format!("not applied: ring {} is unconfined", ring.level),
        Err(e) => return format!("the ring cannot be lowered: {e}"),
    };
    match request {
        Request::Path { path, access, .. } => {
            if let Some(v) = ir::unbound_variable(ring, b) {
                return format!(
                    "not applied: variable `{v}` is unbound, and the runtime refuses a ring it cannot bind"
                );
            }
            let path = path.expand(b).unwrap_or_else(|| path.as_str().to_owned());
            landlock_path(ring, &path, *access, decision.verdict, b)
        }
        Request::ConnectTcp { port } | Request::BindTcp { port } => {
            let (what, ports) = match (request, &plan.network) {
                (_, None) => return "TCP not restricted (network.mode: allowed)".to_owned(),
                (Request::ConnectTcp { .. }, Some(net)) => ("connect", &net.connect_tcp),
                (_, Some(net)) => ("bind", &net.bind_tcp),
            };
            if ports.contains(port) {
                format!("allowed by a TCP {what} port rule for port {port} (Landlock ABI 4)")
            } else {
                format!(
                    "denied: the ruleset handles TCP {what} and has no port rule for port {port} (Landlock ABI 4)"
                )
            }
        }
        Request::UnixConnect { .. } if ring.network.unix_connect.is_empty() => {
            "not involved (the seccomp filter denies socket(AF_UNIX): the ring has no network.unix_connect grant)".to_owned()
        }
        Request::UnixConnect { .. } => format!(
            "not enforced by path: Landlock restricts connecting to unix sockets only from ABI 9, which the runtime does not use; with its network.unix_connect grant (`{}`) the ring may connect to any socket path",
            ring.network
                .unix_connect
                .iter()
                .map(|g| g.path.as_str())
                .collect::<Vec<_>>()
                .join("`, `")
        ),
        Request::Listen { .. } => "not involved: Landlock checks bind() to a port, not the ephemeral port listen() binds on an unbound socket".to_owned(),
        Request::Capability { .. } => "not involved (the runtime drops the capabilities the ring does not keep before the command runs)".to_owned(),
        Request::Host { port, .. } if !ring.network.hosts.is_empty() => format!(
            "the egress proxy outside the sandbox decides by name; namespace tier: the process runs in a network namespace with only `lo` and the proxy's socket; landlock tier: TCP connect is pinned to the proxy's loopback port{} (port-pinned){}",
            if plan.network.as_ref().is_some_and(|n| !n.connect_tcp.is_empty()) {
                " and the connect_tcp ports"
            } else {
                ""
            },
            if plan.network.as_ref().is_some_and(|n| n.connect_tcp.contains(port)) {
                format!("; port {port} is also reachable directly at any host in the landlock tier")
            } else {
                String::new()
            }
        ),
        Request::Host { port, .. } => match &plan.network {
            None => "TCP not restricted (network.mode: allowed)".to_owned(),
            Some(net) if net.connect_tcp.contains(port) => format!(
                "allowed by a TCP connect port rule for port {port}, to any host (no proxy: the ring lists no hosts)"
            ),
            Some(_) => format!(
                "denied: the ruleset handles TCP connect and has no port rule for port {port} (the ring lists no hosts, so there is no proxy)"
            ),
        },
        _ => "not involved".to_owned(),
    }
}

/// Notes where the verdict promises less than it seems to.
fn notes(ring: &Ring, request: &Request, decision: &Decision, b: &BoundVariables) -> Vec<String> {
    let mut out = Vec::new();
    if let Request::Path {
        path,
        access: Right::Execute,
        platform,
    } = request
        && decision.verdict == Verdict::Deny
        && !ring.unconfined
    {
        let readable = ir::decide(
            ring,
            &Request::Path {
                path: path.clone(),
                access: Right::ReadFile,
                platform: *platform,
            },
            b,
        )
        .is_allow();
        let runnable: Vec<String> = ring
            .filesystem
            .iter()
            .filter(|r| r.effect == Effect::Allow && r.access.contains(Right::Execute))
            .map(|r| format!("`{}`", shown(&r.target, b)))
            .collect();
        if readable && !runnable.is_empty() {
            out.push(format!(
                "`execute` governs execve only: the ring may read this file and may execute programs under {}, so a program it may run (the dynamic loader, an interpreter such as `python3 FILE` or `sh FILE`) can still load or run what it may read",
                runnable.join(", ")
            ));
        }
    }
    out
}

fn landlock_path(
    ring: &Ring,
    path: &str,
    access: Right,
    verdict: Verdict,
    b: &BoundVariables,
) -> String {
    let on_linux =
        |r: &&FsRule| r.platform.is_none_or(|p| p == Platform::Linux) && r.access.contains(access);
    let allows: Vec<&FsRule> = ring
        .filesystem
        .iter()
        .filter(|r| r.effect == Effect::Allow)
        .filter(on_linux)
        .filter(|r| ir::covers(&r.target, path, b, false))
        .collect();
    let denies: Vec<&FsRule> = ring
        .filesystem
        .iter()
        .filter(|r| r.effect == Effect::Deny)
        .filter(on_linux)
        .filter(|r| ir::covers(&r.target, path, b, true))
        .filter(|r| !r.except.iter().any(|e| ir::covers(e, path, b, false)))
        .collect();
    let list = |rules: &[&FsRule]| {
        rules
            .iter()
            .map(|r| format!("`{}`", shown(&r.target, b)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match verdict {
        Verdict::Allow if allows.is_empty() => format!(
            "denied by default: no Linux rule grants {access} on `{path}` (the verdict comes from another platform's rules)"
        ),
        Verdict::Allow if allows.len() == 1 => format!(
            "allowed by a path-beneath rule on {} ({access})",
            list(&allows)
        ),
        Verdict::Allow => format!(
            "allowed by path-beneath rules on {} ({access})",
            list(&allows)
        ),
        Verdict::Deny if denies.is_empty() => {
            format!("denied by default: no path-beneath rule grants {access} on `{path}`")
        }
        Verdict::Deny => {
            let glob = if denies.iter().any(|r| matches!(r.target, FsTarget::Glob(_))) {
                "; a deny glob covers the paths that match when the ring is applied"
            } else {
                ""
            };
            if allows.is_empty() {
                format!(
                    "denied by default: no path-beneath rule grants {access} here, so the deny of {} needs no carve-out{glob}",
                    list(&denies)
                )
            } else {
                format!(
                    "deny inside an allowed directory: carve-out of {}: at apply time it is split along the path to {}, whose siblings keep their rights{glob}",
                    list(&allows),
                    list(&denies)
                )
            }
        }
    }
}

/// A rule target with its variable bound.
fn shown(target: &FsTarget, b: &BoundVariables) -> String {
    match target {
        FsTarget::Path(p) => p.expand(b).unwrap_or_else(|| p.as_str().to_owned()),
        FsTarget::Glob(g) => format!(
            "glob {}",
            g.expand(b).unwrap_or_else(|| g.as_str().to_owned())
        ),
    }
}

/// What the ring's seccomp filters do with the request.
fn seccomp_says(ring: &Ring, request: &Request, decision: &Decision) -> String {
    match request {
        Request::Syscall { name, .. } => {
            if ring.unconfined {
                return format!("no filter: ring {} is unconfined", ring.level);
            }
            Arch::ALL
                .iter()
                .map(|arch| seccomp_on(ring, *arch, name, decision))
                .collect::<Vec<_>>()
                .join("; ")
        }
        Request::UnixConnect { .. } | Request::Listen { .. } if !ring.unconfined => {
            let calls: &[(&str, [u64; 6])] = match request {
                Request::Listen {
                    family: ListenFamily::Tcp,
                } => &[
                    ("socket", [AF_INET, SOCK_STREAM, 0, 0, 0, 0]),
                    ("listen", [0; 6]),
                ],
                Request::Listen {
                    family: ListenFamily::Unix,
                } => &[
                    ("socket", [AF_UNIX, SOCK_STREAM, 0, 0, 0, 0]),
                    ("listen", [0; 6]),
                ],
                _ => &[("socket", [AF_UNIX, SOCK_STREAM, 0, 0, 0, 0])],
            };
            calls
                .iter()
                .map(|(name, args)| {
                    let decision = ir::decide(
                        ring,
                        &Request::Syscall {
                            name: (*name).to_owned(),
                            args: args.to_vec(),
                        },
                        &BoundVariables::default(),
                    );
                    let what = match (*name, args[0]) {
                        ("socket", AF_UNIX) => "socket(AF_UNIX, SOCK_STREAM)",
                        ("socket", _) => "socket(AF_INET, SOCK_STREAM)",
                        _ => "listen()",
                    };
                    let on: Vec<String> = Arch::ALL
                        .iter()
                        .map(|arch| seccomp_with(ring, *arch, name, *args, &decision))
                        .collect();
                    format!("{what}: {}", on.join("; "))
                })
                .collect::<Vec<_>>()
                .join("; then ")
        }
        Request::ConnectTcp { .. } | Request::BindTcp { .. } if !ring.unconfined => {
            match ring.network.mode {
                crate::syntax::NetworkMode::Blocked => format!(
                    "socket() of inet families gets {}, so no TCP socket exists (network.mode: blocked)",
                    ir::action_name(ring.syscalls.deny_action)
                ),
                _ => "not involved (TCP sockets may be created; ports are Landlock's)".to_owned(),
            }
        }
        _ => "not involved".to_owned(),
    }
}

/// The filter's answer on one arch for the syscall with zero arguments, run in the BPF
/// simulator; compared with `decide`'s action.
fn seccomp_on(ring: &Ring, arch: Arch, name: &str, decision: &Decision) -> String {
    seccomp_with(ring, arch, name, [0; 6], decision)
}

/// [`seccomp_on`] with these arguments.
fn seccomp_with(
    ring: &Ring,
    arch: Arch,
    name: &str,
    args: [u64; 6],
    decision: &Decision,
) -> String {
    let Some(syscall) = data::syscall(arch, name) else {
        return format!("{}: no such syscall", arch.name());
    };
    let program = match seccomp::lower(ring, arch) {
        Ok(p) => p,
        Err(e) => return format!("{}: {e}", arch.name()),
    };
    let ret = seccomp::simulate(
        &program,
        &seccomp::SeccompData {
            nr: syscall.number,
            arch: arch.audit_arch(),
            args,
        },
    );
    let mut text = format!(
        "{} (nr {}): {}",
        arch.name(),
        syscall.number,
        seccomp::ret_name(ret)
    );
    if let Some(action) = decision.action
        && seccomp::ret_value(action) != ret
    {
        text.push_str(&format!(
            " (decide says {}: please report this mismatch)",
            ir::action_name(action)
        ));
    }
    text
}

fn path_error(why: &PathError) -> String {
    match why {
        PathError::MalformedVariable(v) => format!("malformed variable `{v}`"),
        PathError::NotAbsolute => "not absolute".to_owned(),
        PathError::NotNormalized(part) => format!("not normalized at `{part}`"),
        PathError::ControlChar => "it contains a control character".to_owned(),
        PathError::TooLong(n) => format!("{n} bytes, longer than 4096"),
    }
}
