//! `nonoc exec ARTIFACT (--ring N | --trust-score S) [--var NAME=VALUE]... [--pass-fd N]...
//! -- CMD`: applies a ring of the artifact to this process, then replaces it with CMD. On
//! Linux CMD gets a session of its own and no inherited descriptor but 0, 1, 2 and the ones
//! passed on; on macOS the ring's Seatbelt profile is applied as [`Ring::apply`] does, and
//! what needs a process that waits for CMD (an egress proxy, a private temporary directory to
//! remove) is refused (`common::exec_refusal`). Its plain form is parsed without clap
//! ([`parse_plain`]): `nonoc exec` starts agents, so its start-up is on every launch.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use std::net::IpAddr;

#[cfg(target_os = "linux")]
use nonoc_runtime::Options;
#[cfg(target_os = "linux")]
use nonoc_runtime::egress::EgressOptions;
use nonoc_runtime::hosts::HostName;
use nonoc_runtime::{Artifact, Bindings, EgressTier, EnforcementReport, Ring};

use super::common::{CliError, Context, Exit, Outcome, VarArgs};

/// Arguments of `nonoc exec`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ExecArgs {
    pub artifact: PathBuf,
    #[arg(
        long,
        conflicts_with = "trust_score",
        required_unless_present = "trust_score"
    )]
    pub ring: Option<u8>,
    /// Trust score 0..=1000; selects the ring by the artifact's trust tiers.
    #[arg(long)]
    pub trust_score: Option<u32>,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Allow applying an unconfined ring (which applies nothing).
    #[arg(long)]
    pub allow_unconfined: bool,
    /// Print the enforcement report as JSON on stderr.
    #[arg(long)]
    pub report: bool,
    /// Keep this inherited file descriptor open for CMD (every other one but 0, 1 and 2
    /// is closed); repeatable.
    #[arg(long = "pass-fd", value_name = "N")]
    pub pass_fds: Vec<i32>,
    /// For a ring with hosts: the egress proxy resolves HOST to ADDR instead of asking DNS
    /// (like curl's `--resolve`; the address is still checked); repeatable.
    #[arg(long = "resolve", value_name = "HOST=ADDR")]
    pub resolve: Vec<String>,
    /// For a ring with hosts: append the egress proxy's decisions to this file, one JSON
    /// line each.
    #[arg(long = "egress-log", value_name = "PATH")]
    pub egress_log: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `nonoc exec` in its plain form, parsed without clap: `nonoc exec` starts agents, so its
/// start-up is on every launch, and building clap's command tree for the whole CLI costs
/// page faults the apply itself does not need (docs/performance.md).
///
/// The plain form: `exec`, then in any order one artifact path, exactly one of `--ring N` and
/// `--trust-score S` (decimal digits), any `--var NAME=VALUE` and `--pass-fd N` (decimal
/// digits), `--allow-unconfined` and `--report` at most once each (a value joined with `=` or
/// in the next argument, never starting with `-`), then `--` and a command. Anything else returns `None`, and clap
/// parses the arguments (and explains any error): both routes reach the same [`run`] with the
/// same [`ExecArgs`], which a test (in `cli/mod.rs`) checks against clap.
pub fn parse_plain(args: &[OsString]) -> Option<ExecArgs> {
    let (first, rest) = args.get(1..)?.split_first()?;
    if first != "exec" {
        return None;
    }
    let mut artifact: Option<PathBuf> = None;
    let (mut ring, mut trust_score) = (None, None);
    let mut vars = Vec::new();
    let mut pass_fds = Vec::new();
    let mut resolve = Vec::new();
    let mut egress_log: Option<PathBuf> = None;
    let (mut allow_unconfined, mut report) = (false, false);
    let mut tokens = rest.iter();
    let set_once = |slot: &mut bool| (!std::mem::replace(slot, true)).then_some(());
    loop {
        let token = tokens.next()?;
        if token == "--" {
            break;
        }
        if !token.as_encoded_bytes().starts_with(b"-") {
            if artifact.is_some() || token.is_empty() {
                return None;
            }
            artifact = Some(PathBuf::from(token));
            continue;
        }
        let text = token.to_str()?;
        let (flag, joined) = match text.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (text, None),
        };
        let mut value = || -> Option<&str> {
            let v = match joined {
                Some(v) => v,
                None => tokens.next()?.to_str()?,
            };
            (!v.is_empty() && !v.starts_with('-')).then_some(v)
        };
        let digits = |v: &str| v.bytes().all(|b| b.is_ascii_digit()).then_some(());
        match flag {
            "--ring" if ring.is_none() => {
                let v = value()?;
                digits(v)?;
                ring = Some(v.parse::<u8>().ok()?);
            }
            "--trust-score" if trust_score.is_none() => {
                let v = value()?;
                digits(v)?;
                trust_score = Some(v.parse::<u32>().ok()?);
            }
            "--var" => vars.push(value()?.to_owned()),
            "--pass-fd" => {
                let v = value()?;
                digits(v)?;
                pass_fds.push(v.parse::<i32>().ok()?);
            }
            "--resolve" => resolve.push(value()?.to_owned()),
            "--egress-log" if egress_log.is_none() => {
                egress_log = Some(PathBuf::from(value()?));
            }
            "--allow-unconfined" if joined.is_none() => set_once(&mut allow_unconfined)?,
            "--report" if joined.is_none() => set_once(&mut report)?,
            _ => return None,
        }
    }
    let command: Vec<OsString> = tokens.cloned().collect();
    if ring.is_some() == trust_score.is_some() || command.is_empty() {
        return None;
    }
    Some(ExecArgs {
        artifact: artifact?,
        ring,
        trust_score,
        vars: VarArgs { vars },
        allow_unconfined,
        report,
        pass_fds,
        resolve,
        egress_log,
        command,
    })
}

/// `nonoc exec`: binds the variables, applies the ring, replaces this process with the
/// command (or, on Linux, for a ring with hosts or a private temporary directory, spawns it
/// and waits: `run_spawned`). Returns only on failure: 126 when the ring cannot be applied,
/// 127 when the command is not found, 2 on a usage problem.
pub fn run(args: &ExecArgs, ctx: &mut Context<'_>) -> Outcome {
    let bindings = args.vars.bindings()?;
    let resolve = resolve_entries(&args.resolve)?;
    let artifact = Artifact::load(&args.artifact).map_err(|e| {
        cannot_apply(
            super::common::policy_not_artifact(&args.artifact, "exec")
                .unwrap_or_else(|| e.to_string()),
        )
    })?;
    let ring = select(args, &artifact).map_err(cannot_apply)?;
    #[cfg(target_os = "linux")]
    if (ring.egress().is_some() && !ring.is_unconfined()) || ring.creates_private_tmp(&bindings) {
        return run_spawned(args, ctx, &ring, &bindings, resolve);
    }
    #[cfg(not(target_os = "linux"))]
    {
        // `--resolve` is checked above wherever it is given; it only serves the egress proxy.
        drop(resolve);
        if let Some(why) = super::common::exec_refusal(&artifact, &ring, &bindings) {
            return Err(cannot_apply(why));
        }
    }
    let report = apply(args, &ring, &bindings).map_err(|message| {
        CliError::new(
            Exit::CannotApply,
            format!("{message}; not running the command"),
        )
        .by("nonoc exec")
    })?;
    warnings(args, ctx, &report);
    let Some((program, rest)) = args.command.split_first() else {
        return Err(CliError::usage("no command given").by("nonoc exec"));
    };
    let mut command = std::process::Command::new(program);
    command.args(rest);
    // The ring's private temporary directory, bound by `--var`: CMD's `TMPDIR` (on Linux
    // `apply_with` has set it in this process already).
    if let Some(dir) = &report.private_tmp {
        command.env(nonoc_runtime::private_tmp::ENV, dir);
    }
    let error = command.exec();
    let exit = match error.kind() {
        std::io::ErrorKind::NotFound => Exit::NotFound,
        _ => Exit::CannotApply,
    };
    Err(CliError::new(
        exit,
        format!("cannot run `{}`: {error}", program.to_string_lossy()),
    )
    .by("nonoc exec"))
}

fn cannot_apply(message: String) -> CliError {
    CliError::new(
        Exit::CannotApply,
        format!("{message}; not running the command"),
    )
    .by("nonoc exec")
}

/// `--resolve HOST=ADDR` entries, checked (a usage error otherwise).
fn resolve_entries(entries: &[String]) -> Result<Vec<(HostName, IpAddr)>, CliError> {
    entries
        .iter()
        .map(|entry| {
            nonoc_runtime::hosts::parse_resolve(entry)
                .map_err(|e| CliError::usage(format!("`--resolve {entry}`: {e}")).by("nonoc exec"))
        })
        .collect()
}

/// A ring with hosts, or with a private temporary directory: the command is spawned (never
/// executed in place: the egress proxy runs in this process for the command's lifetime, and
/// the private directory is removed once the command ends), and `nonoc exec` exits with the
/// command's status once it ends (128 + N when signal N ended it). Linux.
#[cfg(target_os = "linux")]
fn run_spawned(
    args: &ExecArgs,
    ctx: &mut Context<'_>,
    ring: &Ring<'_>,
    bindings: &Bindings,
    resolve: Vec<(HostName, IpAddr)>,
) -> Outcome {
    let Some((program, rest)) = args.command.split_first() else {
        return Err(CliError::usage("no command given").by("nonoc exec"));
    };
    let mut egress = EgressOptions::new();
    for (name, addr) in resolve {
        egress = egress.resolve(name, addr);
    }
    if let Some(path) = &args.egress_log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                CliError::new(
                    Exit::CannotApply,
                    format!(
                        "cannot open `{}`: {e}; not running the command",
                        path.display()
                    ),
                )
                .by("nonoc exec")
            })?;
        egress = egress.log_file(file);
    }
    let mut options = Options::new();
    for fd in &args.pass_fds {
        options = options.pass_fd(*fd);
    }
    let mut command = std::process::Command::new(program);
    command.args(rest);
    let confined = ring
        .clone()
        .allow_unconfined(args.allow_unconfined)
        .spawn_with_proxy(bindings, command, &options, egress)
        .map_err(|e| {
            let exit = match &e {
                nonoc_runtime::Error::System { source, .. }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Exit::NotFound
                }
                _ => Exit::CannotApply,
            };
            CliError::new(exit, format!("{e}; not running the command")).by("nonoc exec")
        })?;
    // Ctrl-C and the like reach `nonoc exec`, not the command in its own session: passed on.
    if let Err(e) = confined.forward_termination_signals() {
        let _ = writeln!(
            ctx.err,
            "nonoc exec: warning: signals to nonoc exec are not passed on to the command: {e}"
        );
    }
    warnings(args, ctx, &confined.child.report);
    let _ = ctx.err.flush();
    let status = confined.wait().map_err(|e| {
        CliError::new(
            Exit::CannotApply,
            format!("cannot wait for the command: {e}"),
        )
        .by("nonoc exec")
    })?;
    let code = status
        .code()
        .or_else(|| std::os::unix::process::ExitStatusExt::signal(&status).map(|s| 128 + s))
        .unwrap_or(1);
    std::process::exit(code)
}

/// The report (`--report`) and the warnings about what this host enforces less strictly.
fn warnings(args: &ExecArgs, ctx: &mut Context<'_>, report: &EnforcementReport) {
    if args.report {
        let _ = serde_json::to_writer(&mut *ctx.err, report);
        let _ = writeln!(ctx.err);
    }
    if let Some(egress) = &report.egress
        && egress.tier == EgressTier::PortPinned
    {
        let _ = writeln!(
            ctx.err,
            "nonoc exec: warning: egress port-pinned ({}): the command reaches the network through the proxy at {}, but could reach that port on another host too",
            egress
                .unavailable
                .as_deref()
                .unwrap_or("no network namespace"),
            egress.proxy
        );
    }
    // Best effort applied less than the policy asks for: never silently.
    for dropped in report.landlock.iter().flat_map(|l| &l.dropped) {
        let _ = writeln!(
            ctx.err,
            "nonoc exec: warning: not enforced on this kernel: {dropped}"
        );
    }
    // A variable bound to a path that does not exist (a typo in `--var`): its rules grant
    // nothing, and the command would fail on it in ways that do not say why.
    if let Some(line) = missing_bindings(report) {
        let _ = writeln!(ctx.err, "nonoc exec: warning: {line}");
    }
    // The carve-out fallback costs the split directories rights the policy gives them
    // (Linux's isolation layer).
    #[cfg(target_os = "linux")]
    if let (Some(isolation), Some(landlock)) = (&report.isolation, &report.landlock)
        && let Some(why) = &isolation.unavailable
        && !landlock.carve_outs.is_empty()
    {
        let dirs: Vec<&str> = landlock
            .carve_outs
            .iter()
            .map(|(d, _)| d.as_str())
            .collect();
        let _ = writeln!(
            ctx.err,
            "nonoc exec: warning: tier landlock ({why}): denies inside allowed directories are carved out, and {} cannot have new entries created directly in them",
            dirs.join(", ")
        );
    }
}

/// The variables bound to a path that does not exist, said in one line: those whose value
/// is, or is above, an allow path the apply skipped as missing.
fn missing_bindings(report: &EnforcementReport) -> Option<String> {
    let missing = &report.landlock.as_ref()?.missing_paths;
    let found: Vec<String> = report
        .variables
        .iter()
        .filter(|(_, value)| value.starts_with('/') && value != "/")
        .filter(|(_, value)| {
            missing.iter().any(|p| {
                p == value
                    || p.strip_prefix(value.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        })
        .map(|(name, value)| format!("`{name}` is bound to `{value}`"))
        .collect();
    if found.is_empty() {
        return None;
    }
    let (which, it) = match found.len() {
        1 => ("which does not exist", "its rules grant"),
        _ => ("which do not exist", "their rules grant"),
    };
    Some(format!(
        "{}, {which}: {it} nothing",
        crate::diagnostic::and_list(&found)
    ))
}

/// The ring the selector names.
fn select<'a>(args: &ExecArgs, artifact: &'a Artifact) -> Result<Ring<'a>, String> {
    match (args.ring, args.trust_score) {
        (Some(level), _) => artifact.ring(level),
        (None, Some(score)) => artifact.ring_for_trust_score(score),
        // clap and the plain parser let neither through.
        (None, None) => return Err("give `--ring N` or `--trust-score S`".to_owned()),
    }
    .map_err(|e| e.to_string())
}

/// Applies the ring to this process: in a session of its own, with every inherited
/// descriptor but 0, 1, 2 and `--pass-fd`'s marked close-on-exec.
#[cfg(target_os = "linux")]
fn apply(
    args: &ExecArgs,
    ring: &Ring<'_>,
    bindings: &Bindings,
) -> Result<EnforcementReport, String> {
    // The command gets a session of its own (no way into the caller's terminal) and no
    // inherited descriptor but 0, 1, 2 and the ones passed on.
    let mut confine = Options::new().new_session(true).close_fds(true);
    for fd in &args.pass_fds {
        confine = confine.pass_fd(*fd);
    }
    ring.clone()
        .allow_unconfined(args.allow_unconfined)
        .apply_with(bindings, &confine)
        .map_err(|e| e.to_string())
}

/// Applies the ring to this process with [`Ring::apply`] (macOS: the ring's Seatbelt profile,
/// with its parameters bound). The session and the inherited descriptors stay as they are:
/// `--pass-fd`, which promises that the others are closed, is refused.
#[cfg(not(target_os = "linux"))]
fn apply(
    args: &ExecArgs,
    ring: &Ring<'_>,
    bindings: &Bindings,
) -> Result<EnforcementReport, String> {
    if !args.pass_fds.is_empty() {
        return Err(format!(
            "`--pass-fd` is Linux-only: on {} `nonoc exec` does not close inherited descriptors, so it cannot keep only some open",
            std::env::consts::OS
        ));
    }
    ring.clone()
        .allow_unconfined(args.allow_unconfined)
        .apply(bindings)
        .map_err(|e| e.to_string())
}
