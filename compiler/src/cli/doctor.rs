//! `nonoc doctor [ARTIFACT] [--var NAME=VALUE]...`: what this host supports and, with an
//! artifact, what each ring would get here (`Ring::preview`, which restricts nothing).

use std::io::Write;
use std::path::{Path, PathBuf};

use nonoc_runtime::{Artifact, Bindings};

use super::common::{CliError, Context, Exit, Outcome, VarArgs};
use crate::diagnostic::terminal_safe;

/// Arguments of `nonoc doctor`.
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    pub artifact: Option<PathBuf>,
    #[command(flatten)]
    pub vars: VarArgs,
}

/// `nonoc doctor`: 0, or 1 when the artifact cannot be loaded.
pub fn run(args: &DoctorArgs, ctx: &mut Context<'_>) -> Outcome {
    let bindings = args.vars.bindings()?;
    // Paths and descriptions come from the artifact: written for people, escaped.
    let mut text = Vec::new();
    let result = doctor(args.artifact.as_deref(), &bindings, &mut text);
    let text = terminal_safe(&String::from_utf8_lossy(&text));
    let _ = ctx.out.write_all(text.as_bytes());
    result.map(|()| Exit::Ok)
}

/// What this host offers, and with an artifact what each ring would get.
fn doctor(
    artifact: Option<&Path>,
    bindings: &Bindings,
    out: &mut dyn Write,
) -> Result<(), CliError> {
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
        return Ok(());
    };
    let artifact =
        Artifact::load(path).map_err(|e| CliError::failed(e.to_string()).by("nonoc doctor"))?;
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
    Ok(())
}
