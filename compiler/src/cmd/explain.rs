//! `nonoc explain POLICY --ring N (--read P | --write P | --execute P | --connect-tcp PORT |
//! --bind-tcp PORT | --syscall NAME) [--var NAME=VALUE]...`: `allow` or `deny` on the first
//! line, the rules (or the default) that decided it, then what each backend does with the
//! request. `--format json` gives the same as one object.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backend::{landlock, seccomp};
use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, Style};
use crate::data::{self, Arch};
use crate::diagnostic::terminal_safe;
use crate::ir::{
    self, Access, Bindings, Decision, Effect, FsRule, FsTarget, PathTemplate, Platform, Request,
    Ring, Verdict,
};

use super::test::verdict_name;
use super::{bind_partial, describe_request};

/// The request to explain, as typed on the command line (the handler checks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainRequest {
    Read(String),
    Write(String),
    Execute(String),
    ConnectTcp(String),
    BindTcp(String),
    Syscall(String),
}

/// Output formats of `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// The request flags of `nonoc explain`: exactly one.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct RequestArgs {
    /// Reading a file.
    #[arg(long, value_name = "PATH")]
    pub read: Option<String>,
    /// Writing a file.
    #[arg(long, value_name = "PATH")]
    pub write: Option<String>,
    /// Executing a file.
    #[arg(long, value_name = "PATH")]
    pub execute: Option<String>,
    /// Connecting to a TCP port.
    #[arg(long, value_name = "PORT")]
    pub connect_tcp: Option<String>,
    /// Binding a TCP port.
    #[arg(long, value_name = "PORT")]
    pub bind_tcp: Option<String>,
    /// Calling a syscall (arguments zero).
    #[arg(long, value_name = "NAME")]
    pub syscall: Option<String>,
}

impl RequestArgs {
    /// The one request given (clap's group makes it exactly one).
    pub fn request(&self) -> Option<ExplainRequest> {
        let RequestArgs {
            read,
            write,
            execute,
            connect_tcp,
            bind_tcp,
            syscall,
        } = self.clone();
        read.map(ExplainRequest::Read)
            .or(write.map(ExplainRequest::Write))
            .or(execute.map(ExplainRequest::Execute))
            .or(connect_tcp.map(ExplainRequest::ConnectTcp))
            .or(bind_tcp.map(ExplainRequest::BindTcp))
            .or(syscall.map(ExplainRequest::Syscall))
    }
}

/// Arguments of `nonoc explain`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// The policy to ask.
    pub policy: PathBuf,
    /// The ring to ask about.
    #[arg(long)]
    pub ring: u8,
    #[command(flatten)]
    pub request: RequestArgs,
    /// Bind a variable (before its environment variable and default).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

impl ExplainArgs {
    /// Runs the command with the process environment.
    pub fn run(&self, style: Style, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        let Some(request) = self.request.request() else {
            let _ = writeln!(
                err,
                "error: give one request: --read, --write, --execute, --connect-tcp, --bind-tcp or --syscall"
            );
            return EXIT_USAGE;
        };
        explain(
            &self.policy,
            self.ring,
            &request,
            &self.vars,
            self.format,
            style,
            out,
            err,
        )
    }
}

/// What `explain` prints with `--format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    pub ring: u8,
    pub request: String,
    pub because: Vec<JsonReason>,
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

/// `nonoc explain`, variables read from the process environment.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per command-line input, as the other handlers take them"
)]
pub fn explain(
    policy: &Path,
    ring: u8,
    request: &ExplainRequest,
    vars: &[String],
    format: Format,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let asked = Asked {
        ring,
        request,
        vars,
        format,
    };
    explain_with_env(policy, &asked, &super::process_env, style, out, err)
}

/// The question `explain` answers.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub ring: u8,
    pub request: &'a ExplainRequest,
    pub vars: &'a [String],
    pub format: Format,
}

/// `nonoc explain` with `env` standing for the environment (tests pass a fixed one).
pub fn explain_with_env(
    policy: &Path,
    asked: &Asked<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let (analysis, ir) = match super::load(policy, style, err) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let Some(ring) = ir.rings.get(&asked.ring) else {
        let rings: Vec<String> = ir.rings.keys().map(u8::to_string).collect();
        let _ = writeln!(
            err,
            "error: the policy has no ring {} (its rings: {})",
            asked.ring,
            rings.join(", ")
        );
        return EXIT_USAGE;
    };
    let partial = match bind_partial(&ir, asked.vars, env) {
        Ok(p) => p,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return EXIT_USAGE;
        }
    };
    let request = match build_request(&ir, &partial, asked.request) {
        Ok(r) => r,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return EXIT_USAGE;
        }
    };
    let bindings = &partial.bindings;
    let decision = ir::decide(ring, &request, bindings);
    let backends = Backends {
        landlock: landlock_says(ring, &request, &decision, bindings),
        seccomp: seccomp_says(ring, &request, &decision),
        seatbelt: (Platform::host() == Platform::Macos).then(|| {
            format!(
                "enforced by the ring's profile (`nonoc compile --emit sbpl --ring {}`); where it answers other than `decide` is in docs/backends/seatbelt.md",
                asked.ring
            )
        }),
    };
    let host = match (&request, decision.verdict) {
        (Request::Path { path, access, .. }, Verdict::Allow) => {
            path.expand(bindings).and_then(|p| {
                super::isolation::host_note(&ir, &analysis.bytes, asked.ring, &p, *access, bindings)
            })
        }
        _ => None,
    };
    let file = analysis.source.name.as_str();
    let explanation = Explanation {
        verdict: decision.verdict,
        ring: asked.ring,
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
        backends,
        host,
    };
    match asked.format {
        Format::Json => match serde_json::to_string_pretty(&explanation) {
            Ok(text) => {
                let _ = writeln!(out, "{text}");
            }
            Err(e) => {
                let _ = writeln!(err, "error: the explanation could not be serialized: {e}");
                return EXIT_FAILED;
            }
        },
        Format::Human => {
            // The rule's source line is the policy's text: nothing in it reaches the terminal
            // as a control.
            let _ = out.write_all(terminal_safe(&human(&explanation)).as_bytes());
        }
    }
    EXIT_OK
}

fn human(e: &Explanation) -> String {
    let mut text = format!("{}\n", verdict_name(e.verdict));
    for r in &e.because {
        text.push_str(&format!("because: {}\n", r.detail));
        if let (Some(file), Some(line), Some(column)) = (&r.file, r.line, r.column) {
            let scope = r.scope.as_deref().unwrap_or("");
            let source = r.text.as_deref().unwrap_or("");
            text.push_str(&format!(
                "  at {file}:{line}:{column} ({scope}): {source}\n"
            ));
        }
    }
    text.push_str(&format!("Landlock: {}\n", e.backends.landlock));
    text.push_str(&format!("seccomp: {}\n", e.backends.seccomp));
    if let Some(seatbelt) = &e.backends.seatbelt {
        text.push_str(&format!("Seatbelt: {seatbelt}\n"));
    }
    if let Some(host) = &e.host {
        text.push_str(&format!("on this host: {host}\n"));
    }
    text
}

/// Checks the request as typed and turns it into `decide`'s.
fn build_request(
    ir: &ir::Ir,
    partial: &super::PartialBindings,
    asked: &ExplainRequest,
) -> Result<Request, String> {
    let path = |flag: &str, text: &str, access: Access| -> Result<Request, String> {
        let template = PathTemplate::parse(text).map_err(|e| {
            format!(
                "`--{flag} {text}`: the path must be absolute and normalized ({})",
                super::path_error(&e)
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
        ExplainRequest::Read(p) => path("read", p, Access::ReadFile),
        ExplainRequest::Write(p) => path("write", p, Access::WriteFile),
        ExplainRequest::Execute(p) => path("execute", p, Access::Execute),
        ExplainRequest::ConnectTcp(p) => Ok(Request::ConnectTcp {
            port: port("connect-tcp", p)?,
        }),
        ExplainRequest::BindTcp(p) => Ok(Request::BindTcp {
            port: port("bind-tcp", p)?,
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
fn landlock_says(ring: &Ring, request: &Request, decision: &Decision, b: &Bindings) -> String {
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
        _ => "not involved".to_owned(),
    }
}

fn landlock_path(
    ring: &Ring,
    path: &str,
    access: Access,
    verdict: Verdict,
    b: &Bindings,
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
fn shown(target: &FsTarget, b: &Bindings) -> String {
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
            args: [0; 6],
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
