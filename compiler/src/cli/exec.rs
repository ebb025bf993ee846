//! `nonoc exec ARTIFACT (--ring N | --trust-score S) [--var NAME=VALUE]... [--pass-fd N]...
//! -- CMD`: applies a ring of the artifact to this process, in a session of its own and with no
//! inherited descriptor but 0, 1, 2 and the ones passed on, then replaces it with CMD. Its
//! plain form is parsed without clap ([`parse_plain`]): `nonoc exec` starts agents, so its
//! start-up is on every launch.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use nonoc_runtime::{Artifact, Bindings, EnforcementReport, Options};

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
        command,
    })
}

/// `nonoc exec`: binds the variables, applies the ring, replaces this process with the
/// command. Returns only on failure: 126 when the ring cannot be applied, 127 when the command
/// is not found, 2 on a usage problem.
pub fn run(args: &ExecArgs, ctx: &mut Context<'_>) -> Outcome {
    let bindings = args.vars.bindings()?;
    let report = apply(args, &bindings).map_err(|message| {
        CliError::new(
            Exit::CannotApply,
            format!("{message}; not running the command"),
        )
        .by("nonoc exec")
    })?;
    if args.report {
        let _ = serde_json::to_writer(&mut *ctx.err, &report);
        let _ = writeln!(ctx.err);
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
    if let Some(line) = missing_bindings(&report) {
        let _ = writeln!(ctx.err, "nonoc exec: warning: {line}");
    }
    // The carve-out fallback costs the split directories rights the policy gives them.
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
    let Some((program, rest)) = args.command.split_first() else {
        return Err(CliError::usage("no command given").by("nonoc exec"));
    };
    let error = std::process::Command::new(program).args(rest).exec();
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

/// Loads the artifact and applies the ring its selector names.
fn apply(args: &ExecArgs, bindings: &Bindings) -> Result<EnforcementReport, String> {
    let artifact = Artifact::load(&args.artifact).map_err(|e| {
        super::common::policy_not_artifact(&args.artifact, "exec").unwrap_or_else(|| e.to_string())
    })?;
    let ring = match (args.ring, args.trust_score) {
        (Some(level), _) => artifact.ring(level),
        (None, Some(score)) => artifact.ring_for_trust_score(score),
        // clap and the plain parser let neither through.
        (None, None) => return Err("give `--ring N` or `--trust-score S`".to_owned()),
    }
    .map_err(|e| e.to_string())?;
    // The command gets a session of its own (no way into the caller's terminal) and no
    // inherited descriptor but 0, 1, 2 and the ones passed on.
    let mut confine = Options::new().new_session(true).close_fds(true);
    for fd in &args.pass_fds {
        confine = confine.pass_fd(*fd);
    }
    ring.allow_unconfined(args.allow_unconfined)
        .apply_with(bindings, &confine)
        .map_err(|e| e.to_string())
}
