//! `nonoc doctor [ARTIFACT] [--var NAME=VALUE]...`: what this host supports (namespaces for
//! the isolation layer included) and, with an artifact, what each ring would get here
//! (`Ring::preview`, which restricts nothing): on Linux its tier, masks and carve-outs, on
//! macOS its Seatbelt profile and whether `nonoc exec` runs it.

use std::io::Write;
use std::path::{Path, PathBuf};

use nonoc_runtime::{Artifact, Bindings, EnforcementReport, Ring};
#[cfg(target_os = "linux")]
use nonoc_runtime::{IsolationReport, LandlockReport, Tier};

use super::common::{CliError, Context, Exit, Outcome, VarArgs};
use crate::diagnostic::terminal_safe;

/// Arguments of `nonoc doctor`.
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    pub artifact: Option<PathBuf>,
    #[command(flatten)]
    pub vars: VarArgs,
}

/// `nonoc doctor`: 0, or 1 when the artifact cannot be loaded or one of its rings cannot be
/// applied here.
pub fn run(args: &DoctorArgs, ctx: &mut Context<'_>) -> Outcome {
    let bindings = args.vars.bindings()?;
    // Paths and descriptions come from the artifact: written for people, escaped.
    let mut text = Vec::new();
    let result = doctor(args.artifact.as_deref(), &bindings, &mut text);
    let text = terminal_safe(&String::from_utf8_lossy(&text));
    let _ = ctx.out.write_all(text.as_bytes());
    result
}

/// What this host offers, and with an artifact what each ring would get.
fn doctor(artifact: Option<&Path>, bindings: &Bindings, out: &mut dyn Write) -> Outcome {
    let _ = writeln!(out, "arch: {}", std::env::consts::ARCH);
    host(out);
    let Some(path) = artifact else {
        return Ok(Exit::Ok);
    };
    let artifact = Artifact::load(path).map_err(|e| {
        let message = super::common::policy_not_artifact(path, "doctor");
        CliError::failed(message.unwrap_or_else(|| e.to_string())).by("nonoc doctor")
    })?;
    let _ = writeln!(
        out,
        "artifact: {} (policy {}, {})",
        path.display(),
        artifact.policy.name,
        artifact.digest
    );
    let mut exit = Exit::Ok;
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
            Ok(report) => ring_lines(&artifact, &ring, bindings, &report, out),
            Err(e) => {
                let _ = writeln!(out, "ring {level}: cannot be applied here: {e}");
                exit = Exit::Failed;
            }
        }
    }
    Ok(exit)
}

/// The host's sandboxes (Linux): Landlock, seccomp and the isolation layer.
#[cfg(target_os = "linux")]
fn host(out: &mut dyn Write) {
    let abi = nonoc_runtime::landlock_abi();
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
}

/// The host's sandbox (macOS): Seatbelt, which `nonoc exec` applies to itself; the Linux
/// checks do not apply.
#[cfg(not(target_os = "linux"))]
fn host(out: &mut dyn Write) {
    let os = std::env::consts::OS;
    let _ = writeln!(out, "os: {os}");
    if os == "macos" {
        let _ = writeln!(
            out,
            "seatbelt: the ring's profile is applied in-process (sandbox_init_with_parameters)"
        );
    } else {
        let _ = writeln!(out, "sandbox: none that nonoc applies on {os}");
    }
    let _ = writeln!(
        out,
        "landlock, seccomp, isolation: Linux checks, which do not apply on {os}"
    );
}

/// What a ring would get here (Linux): Landlock, its tier, masks and carve-outs, seccomp.
#[cfg(target_os = "linux")]
fn ring_lines(
    _artifact: &Artifact,
    ring: &Ring<'_>,
    _bindings: &Bindings,
    report: &EnforcementReport,
    out: &mut dyn Write,
) {
    let level = ring.level();
    let Some(ll) = &report.landlock else {
        return;
    };
    let dropped: Vec<String> = ll.dropped.iter().map(ToString::to_string).collect();
    let status = if dropped.is_empty() {
        "landlock fully enforced".to_owned()
    } else {
        format!("landlock partly enforced: {}", dropped.join("; "))
    };
    let _ = writeln!(
        out,
        "ring {level}: {status}; {}",
        crate::diagnostic::count(ll.rules, "rule", "rules")
    );
    if let Some(isolation) = &report.isolation {
        let _ = writeln!(out, "  {}", tier_line(isolation, ll));
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

/// What a ring would get here (macOS): its Seatbelt profile with the parameters bound, what
/// it does not enforce, and why `nonoc exec` refuses it when it does.
#[cfg(not(target_os = "linux"))]
fn ring_lines(
    artifact: &Artifact,
    ring: &Ring<'_>,
    bindings: &Bindings,
    report: &EnforcementReport,
    out: &mut dyn Write,
) {
    let level = ring.level();
    let params = artifact
        .rings
        .get(&level)
        .and_then(|targets| targets.seatbelt.as_ref())
        .map_or(0, |profile| profile.params.len());
    let _ = writeln!(
        out,
        "ring {level}: seatbelt profile, {} bound",
        crate::diagnostic::count(params, "parameter", "parameters")
    );
    for line in &report.not_enforced {
        let _ = writeln!(out, "  not enforced: {line}");
    }
    if let Some(why) = super::common::exec_refusal(artifact, ring, bindings) {
        let _ = writeln!(out, "  nonoc exec refuses it here: {why}");
    }
}

/// `doctor`'s line on the isolation layer: whether this process may enter namespaces, and
/// why not.
#[cfg(target_os = "linux")]
fn isolation_line() -> String {
    match nonoc_runtime::isolation_available() {
        Ok(true) => "isolation: mount namespaces available (CAP_SYS_ADMIN, no user namespace needed): tier namespace for rings that need masks".to_owned(),
        Ok(false) => "isolation: user namespaces available (unprivileged): tier namespace for rings that need masks".to_owned(),
        Err(why) => format!("isolation: user namespaces unavailable ({why}): tier landlock, denies inside allowed directories are carved out"),
    }
}

/// The tier a ring gets here, in words.
#[cfg(target_os = "linux")]
fn tier_line(isolation: &IsolationReport, landlock: &LandlockReport) -> String {
    match (isolation.tier, &isolation.unavailable) {
        (Tier::Namespace, _) => format!(
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
