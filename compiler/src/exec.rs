//! `nonoc exec` and `nonoc doctor`: the runtime's command-line face.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;

use nonoc_runtime::{Artifact, Bindings, EnforcementReport};

/// Exit code when the sandbox cannot be applied (CLI.md).
pub const EXIT_CANNOT_APPLY: u8 = 126;
/// Exit code when the command is not found (CLI.md).
pub const EXIT_NOT_FOUND: u8 = 127;

/// How `exec` picks the ring.
#[derive(Debug, Clone, Copy)]
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

/// Options of `nonoc exec`.
#[derive(Debug)]
pub struct ExecOptions<'a> {
    pub artifact: &'a Path,
    pub selector: Selector,
    pub bindings: Bindings,
    pub allow_unconfined: bool,
    pub report: bool,
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
    ring.allow_unconfined(options.allow_unconfined)
        .apply(&options.bindings)
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
            }
        }
    }
    crate::cli::EXIT_OK
}
