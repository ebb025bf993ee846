//! `nonoc exec` and `nonoc doctor`: the runtime's command-line face.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use nonoc_runtime::{Artifact, Bindings, EnforcementReport};

/// Exit code when the sandbox cannot be applied (CLI.md).
pub const EXIT_CANNOT_APPLY: u8 = 126;
/// Exit code when the command is not found (CLI.md).
pub const EXIT_NOT_FOUND: u8 = 127;

/// How `exec` picks the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    Ring(u8),
    TrustScore(u32),
}

/// Parses `NAME=VALUE` pairs.
pub fn parse_vars(vars: &[String]) -> Result<Bindings, String> {
    let mut bindings = Bindings::new();
    for var in vars {
        match var.split_once('=') {
            Some((name, _)) if bindings.get(name).is_some() => {
                return Err(format!("`--var {name}=...` is given twice"));
            }
            Some((name, value)) if !name.is_empty() => bindings.insert(name, value),
            _ => return Err(format!("`--var {var}` is not NAME=VALUE")),
        }
    }
    Ok(bindings)
}

/// The arguments of `nonoc exec`, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecArgs {
    pub artifact: PathBuf,
    pub selector: Selector,
    pub vars: Vec<String>,
    pub allow_unconfined: bool,
    pub report: bool,
    /// `--pass-fd N`, in the order given.
    pub pass_fds: Vec<i32>,
    pub command: Vec<OsString>,
}

/// `nonoc exec` in its plain form, parsed without clap: `nonoc exec` starts agents, so its
/// start-up is on every launch, and building clap's command tree for the whole CLI costs
/// page faults the apply itself does not need (docs/performance.md).
///
/// The plain form: `exec`, then in any order one artifact path, exactly one of `--ring N` and
/// `--trust-score S` (decimal digits), any `--var NAME=VALUE` and `--pass-fd N` (decimal
/// digits), `--allow-unconfined` and `--report` at most once each (a value joined with `=` or in the next argument, never
/// starting with `-`), then `--` and a command. Anything else returns `None`, and clap
/// parses the arguments (and explains any error): both routes reach the same [`run`] with the
/// same [`ExecArgs`], which a test checks against clap.
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
    let selector = match (ring, trust_score) {
        (Some(level), None) => Selector::Ring(level),
        (None, Some(score)) => Selector::TrustScore(score),
        _ => return None,
    };
    if command.is_empty() {
        return None;
    }
    Some(ExecArgs {
        artifact: artifact?,
        selector,
        vars,
        allow_unconfined,
        report,
        pass_fds,
        command,
    })
}

/// Runs `nonoc exec`: binds the variables, applies the ring, replaces this process with the
/// command. Returns only on failure, with the exit code to use.
pub fn run(args: &ExecArgs, err: &mut dyn Write) -> u8 {
    let bindings = match parse_vars(&args.vars) {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return crate::cli::EXIT_USAGE;
        }
    };
    let options = ExecOptions {
        artifact: &args.artifact,
        selector: args.selector,
        bindings,
        allow_unconfined: args.allow_unconfined,
        report: args.report,
        pass_fds: &args.pass_fds,
        command: &args.command,
    };
    exec(options, err)
}

/// Options of `nonoc exec`.
#[derive(Debug)]
pub struct ExecOptions<'a> {
    pub artifact: &'a Path,
    pub selector: Selector,
    pub bindings: Bindings,
    pub allow_unconfined: bool,
    pub report: bool,
    /// Inherited descriptors to keep open for the command (every other but 0, 1, 2 closes).
    pub pass_fds: &'a [i32],
    pub command: &'a [std::ffi::OsString],
}

/// Applies the ring to this process, then replaces it with the command. Returns only on
/// failure, with the exit code to use.
pub fn exec(options: ExecOptions<'_>, err: &mut dyn Write) -> u8 {
    let report = match apply(&options) {
        Ok(report) => report,
        Err(message) => {
            let _ = writeln!(err, "nonoc exec: {message}; not running the command");
            return EXIT_CANNOT_APPLY;
        }
    };
    if options.report {
        let _ = serde_json::to_writer(&mut *err, &report);
        let _ = writeln!(err);
    }
    // Best effort applied less than the policy asks for: never silently.
    for dropped in report.landlock.iter().flat_map(|l| &l.dropped) {
        let _ = writeln!(
            err,
            "nonoc exec: warning: not enforced on this kernel: {dropped}"
        );
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
            err,
            "nonoc exec: warning: tier landlock ({why}): denies inside allowed directories are carved out, and {} cannot have new entries created directly in them",
            dirs.join(", ")
        );
    }
    let Some((program, args)) = options.command.split_first() else {
        let _ = writeln!(err, "nonoc exec: no command given");
        return crate::cli::EXIT_USAGE;
    };
    let error = std::process::Command::new(program).args(args).exec();
    let _ = writeln!(
        err,
        "nonoc exec: cannot run `{}`: {error}",
        program.to_string_lossy()
    );
    if error.kind() == std::io::ErrorKind::NotFound {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_APPLY
    }
}

fn apply(options: &ExecOptions<'_>) -> Result<EnforcementReport, String> {
    let artifact = Artifact::load(options.artifact).map_err(|e| e.to_string())?;
    let ring = match options.selector {
        Selector::Ring(level) => artifact.ring(level),
        Selector::TrustScore(score) => artifact.ring_for_trust_score(score),
    }
    .map_err(|e| e.to_string())?;
    // The command gets a session of its own (no way into the caller's terminal) and no
    // inherited descriptor but 0, 1, 2 and the ones passed on.
    let mut confine = nonoc_runtime::Options::new()
        .new_session(true)
        .close_fds(true);
    for fd in options.pass_fds {
        confine = confine.pass_fd(*fd);
    }
    ring.allow_unconfined(options.allow_unconfined)
        .apply_with(&options.bindings, &confine)
        .map_err(|e| e.to_string())
}

/// `nonoc doctor`: what this host offers, and with an artifact what each ring would get.
pub fn doctor(
    artifact: Option<&Path>,
    bindings: &Bindings,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let abi = nonoc_runtime::landlock_abi();
    let _ = writeln!(out, "arch: {}", std::env::consts::ARCH);
    if abi == 0 {
        let _ = writeln!(
            out,
            "landlock: unavailable (not built into this kernel, or not enabled at boot)"
        );
    } else {
        let _ = writeln!(out, "landlock: ABI {abi}");
    }
    let seccomp = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").ok();
    match seccomp {
        Some(actions) => {
            let _ = writeln!(
                out,
                "seccomp: filters available (actions: {})",
                actions.trim()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "seccomp: unknown (/proc/sys/kernel/seccomp/actions_avail unreadable)"
            );
        }
    }
    let _ = writeln!(out, "{}", isolation_line());
    let Some(path) = artifact else {
        return crate::cli::EXIT_OK;
    };
    let artifact = match Artifact::load(path) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "nonoc doctor: {e}");
            return crate::cli::EXIT_FAILED;
        }
    };
    let _ = writeln!(
        out,
        "artifact: {} (policy {}, {})",
        path.display(),
        artifact.policy.name,
        artifact.digest
    );
    let mut code = crate::cli::EXIT_OK;
    for level in artifact.rings.keys() {
        let Ok(ring) = artifact.ring(*level) else {
            continue;
        };
        if ring.is_unconfined() {
            let _ = writeln!(
                out,
                "ring {level}: unconfined (applies nothing; needs --allow-unconfined)"
            );
            continue;
        }
        match ring.preview(bindings) {
            Ok(report) => {
                let Some(ll) = report.landlock else { continue };
                let dropped: Vec<String> = ll.dropped.iter().map(ToString::to_string).collect();
                let status = if dropped.is_empty() {
                    "landlock fully enforced".to_owned()
                } else {
                    format!("landlock partly enforced: {}", dropped.join("; "))
                };
                let _ = writeln!(out, "ring {level}: {status}; {} rules", ll.rules);
                if let Some(isolation) = &report.isolation {
                    let _ = writeln!(out, "  {}", tier_line(isolation, &ll));
                    for mask in &isolation.masks {
                        let also: Vec<&str> = mask.also_denied.iter().map(|r| r.name()).collect();
                        let also = if also.is_empty() {
                            String::new()
                        } else {
                            format!(" (also takes {})", also.join(", "))
                        };
                        let _ = writeln!(out, "  mask: `{}` {}{also}", mask.path, mask.kind.name());
                    }
                    for (path, why) in &isolation.unmasked {
                        let _ = writeln!(out, "  not masked: `{path}`: {why}");
                    }
                }
                if let Some(sc) = &report.seccomp {
                    let _ = writeln!(
                        out,
                        "  seccomp ({}): {} instructions, at most {} run per syscall, {} of {} syscalls allowed by the kernel's cache",
                        sc.arch.name(),
                        sc.stats.length,
                        sc.stats.worst_case,
                        sc.stats.cache_allowed,
                        sc.stats.syscalls
                    );
                }
                for path in &ll.missing_paths {
                    let _ = writeln!(out, "  missing, skipped: {path}");
                }
                for (dir, lost) in &ll.carve_outs {
                    let names: Vec<&str> = lost.iter().map(|r| r.name()).collect();
                    let _ = writeln!(
                        out,
                        "  carve-out: `{dir}` is split; it loses {} for itself",
                        names.join(", ")
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(out, "ring {level}: cannot be applied here: {e}");
                code = crate::cli::EXIT_FAILED;
            }
        }
    }
    code
}

/// `doctor`'s line on the isolation layer: whether this process may enter namespaces, and
/// why not.
fn isolation_line() -> String {
    match nonoc_runtime::isolation_available() {
        Ok(true) => "isolation: mount namespaces available (CAP_SYS_ADMIN, no user namespace needed): tier namespace for rings that need masks".to_owned(),
        Ok(false) => "isolation: user namespaces available (unprivileged): tier namespace for rings that need masks".to_owned(),
        Err(why) => format!("isolation: user namespaces unavailable ({why}): tier landlock, denies inside allowed directories are carved out"),
    }
}

/// The tier a ring gets here, in words.
fn tier_line(
    isolation: &nonoc_runtime::IsolationReport,
    landlock: &nonoc_runtime::LandlockReport,
) -> String {
    match (isolation.tier, &isolation.unavailable) {
        (nonoc_runtime::Tier::Namespace, _) => format!(
            "tier namespace: {} mask{} in fresh {}mount namespaces",
            isolation.masks.len(),
            if isolation.masks.len() == 1 { "" } else { "s" },
            if isolation.user_namespace {
                "user and "
            } else {
                ""
            }
        ),
        (_, Some(why)) => format!(
            "tier landlock ({why}): {} directories split",
            landlock.carve_outs.len()
        ),
        _ => "tier landlock (no deny inside an allowed directory: nothing to mask)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use proptest::prelude::*;

    use super::*;
    use crate::cli::Cli;

    fn os(args: &[&str]) -> Vec<OsString> {
        std::iter::once("nonoc")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// What clap makes of the arguments, when it parses them as `exec`.
    fn clap(args: &[OsString]) -> Option<ExecArgs> {
        Cli::try_parse_from(args).ok()?.command.into_exec_args()
    }

    #[test]
    fn the_plain_form_parses_as_clap_does() {
        let plain = [
            &["exec", "a.json", "--ring", "3", "--", "/bin/true"][..],
            &["exec", "--ring=3", "a.json", "--", "/bin/sh", "-c", "x"],
            &[
                "exec",
                "--trust-score",
                "720",
                "a.json",
                "--",
                "cmd",
                "--ring",
            ],
            &[
                "exec",
                "a.json",
                "--var",
                "workspace=/w",
                "--var=home=/h",
                "--ring",
                "255",
                "--report",
                "--allow-unconfined",
                "--",
                "cmd",
            ],
            &[
                "exec",
                "a.json",
                "--ring",
                "2",
                "--pass-fd",
                "5",
                "--pass-fd=7",
                "--",
                "cmd",
            ],
        ];
        for args in plain {
            let args = os(args);
            let fast = parse_plain(&args);
            assert!(fast.is_some(), "{args:?}");
            assert_eq!(fast, clap(&args), "{args:?}");
        }
    }

    #[test]
    fn anything_else_is_left_to_clap() {
        let others = [
            &["exec", "--help"][..],
            &["exec", "a.json", "--ring", "3"],
            &["exec", "a.json", "--ring", "3", "--"],
            &["exec", "a.json", "--ring", "3", "--ring", "3", "--", "x"],
            &[
                "exec",
                "a.json",
                "--ring",
                "3",
                "--trust-score",
                "5",
                "--",
                "x",
            ],
            &["exec", "a.json", "b.json", "--ring", "3", "--", "x"],
            &["exec", "a.json", "--ring", "256", "--", "x"],
            &["exec", "a.json", "--ring", "+3", "--", "x"],
            &["exec", "a.json", "--ring", "-3", "--", "x"],
            &["exec", "a.json", "--ring=", "--", "x"],
            &["exec", "a.json", "--var", "--ring", "3", "--", "x"],
            &[
                "exec", "a.json", "--report", "--report", "--ring", "3", "--", "x",
            ],
            &["exec", "a.json", "--report=true", "--ring", "3", "--", "x"],
            &[
                "exec",
                "a.json",
                "--pass-fd",
                "-1",
                "--ring",
                "3",
                "--",
                "x",
            ],
            &["exec", "a.json", "--pass-fd", "x", "--ring", "3", "--", "x"],
            &["exec", "a.json", "-r", "3", "--", "x"],
            &["exec", "", "--ring", "3", "--", "x"],
            &["compile", "a.yaml"],
            &[],
        ];
        for args in others {
            assert_eq!(parse_plain(&os(args)), None, "{args:?}");
        }
    }

    proptest! {
        /// Whatever the tokens, the plain parser either declines or agrees with clap.
        #[test]
        fn never_disagrees_with_clap(tokens in proptest::collection::vec(
            prop_oneof![
                Just("--ring"), Just("3"), Just("--ring=2"), Just("--trust-score"),
                Just("700"), Just("--trust-score=1001"), Just("--var"), Just("a=b"),
                Just("--var=c=d"), Just("--report"), Just("--allow-unconfined"),
                Just("a.json"), Just("b.json"), Just("--"), Just("-h"), Just("-x"),
                Just("--pass-fd"), Just("5"), Just("--pass-fd=9"),
                Just(""), Just("cmd"), Just("-"), Just("99999999999"),
            ],
            0..12,
        )) {
            let mut args = vec!["exec"];
            args.extend(tokens);
            let args = os(&args);
            if let Some(fast) = parse_plain(&args) {
                prop_assert_eq!(Some(fast), clap(&args));
            }
        }

        /// Plain forms in any order of their options are taken, as clap takes them.
        #[test]
        fn takes_plain_forms_in_any_order(
            selector in prop_oneof![
                (0_u16..=255).prop_map(|r| vec!["--ring".to_owned(), r.to_string()]),
                (0_u32..=2000).prop_map(|s| vec![format!("--trust-score={s}")]),
            ],
            vars in proptest::collection::vec("[a-z]{1,4}=[a-z/]{0,4}", 0..3),
            report in any::<bool>(),
            unconfined in any::<bool>(),
            order in Just(()).prop_perturb(|(), mut rng| rng.random::<u64>()),
            command in proptest::collection::vec("[a-z-]{1,5}", 1..4),
        ) {
            let mut groups: Vec<Vec<String>> = vec![vec!["art.json".to_owned()], selector];
            groups.extend(vars.iter().map(|v| vec!["--var".to_owned(), v.clone()]));
            if report {
                groups.push(vec!["--report".to_owned()]);
            }
            if unconfined {
                groups.push(vec!["--allow-unconfined".to_owned()]);
            }
            let n = groups.len() as u64;
            groups.rotate_left((order % n) as usize);
            let mut args: Vec<String> = vec!["exec".to_owned()];
            args.extend(groups.into_iter().flatten());
            args.push("--".to_owned());
            args.extend(command);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let args = os(&refs);
            let fast = parse_plain(&args);
            prop_assert!(fast.is_some(), "{:?}", args);
            prop_assert_eq!(fast, clap(&args));
        }
    }
}
