//! `nonoc test POLICY [--var NAME=VALUE]... [--kernel]`: runs the policy's `tests:` against
//! `decide` and, with `--kernel`, against the real kernel ([`super::kernel`]). One line per
//! failure on stdout, `FILE:LINE:COL: ...`; the last line is `N passed, N failed`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, Style};
use crate::diagnostic::terminal_safe;
use crate::ir::{self, Decision, Ir, Platform, Request, TestOutcome, Verdict};
use crate::syntax::Expect;

use super::kernel::{KernelVerdict, Prober};
use super::{PartialBindings, bind_partial, describe_request, describe_selector, location};

/// Arguments of `nonoc test`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// The policy whose `tests:` to run.
    pub policy: PathBuf,
    /// Bind a variable (before its environment variable and default).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Also ask the kernel: apply each test's ring in a fresh process and try the request.
    #[arg(long)]
    pub kernel: bool,
}

impl TestArgs {
    /// Runs the command with the process environment.
    pub fn run(&self, style: Style, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        test(&self.policy, &self.vars, self.kernel, style, out, err)
    }
}

/// `nonoc test`, variables read from the process environment; with `kernel`, this program is
/// re-executed as the probe.
pub fn test(
    policy: &Path,
    vars: &[String],
    kernel: bool,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let exe = if kernel {
        match std::env::current_exe() {
            Ok(exe) => Some(exe),
            Err(e) => {
                let _ = writeln!(err, "error: `--kernel`: cannot find this program: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        None
    };
    test_with_env(
        policy,
        vars,
        exe.as_deref(),
        &super::process_env,
        style,
        out,
        err,
    )
}

/// `nonoc test` with `env` standing for the environment (tests pass a fixed one). `kernel`:
/// the `nonoc` binary to probe the kernel with (`nonoc __probe`), or `None` for `decide` only.
pub fn test_with_env(
    policy: &Path,
    vars: &[String],
    kernel: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    if kernel.is_some() && Platform::host() != Platform::Linux {
        let _ = writeln!(
            err,
            "error: `nonoc test --kernel` probes Linux sandboxes and runs on Linux only"
        );
        return EXIT_USAGE;
    }
    let (analysis, ir) = match super::load(policy, style, err) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let partial = match bind_partial(&ir, vars, env) {
        Ok(p) => p,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return EXIT_USAGE;
        }
    };
    let prober = match kernel {
        None => None,
        // The probe applies Linux sections only.
        Some(exe) => match crate::artifact::build_for(
            &ir,
            &analysis.bytes,
            crate::artifact::Targets {
                linux: true,
                macos: false,
            },
        ) {
            Ok((_, artifact)) => Some(Prober {
                exe,
                artifact,
                deadline: super::kernel::PROBE_DEADLINE,
                tiers: Default::default(),
            }),
            Err(e) => {
                let _ = writeln!(err, "error: cannot compile the policy for the kernel: {e}");
                return EXIT_FAILED;
            }
        },
    };
    let file = analysis.source.name.as_str();
    let outcomes = ir::run_tests(&ir, &partial.bindings, Platform::host());
    let mut passed = 0usize;
    let mut failed = 0usize;
    let (mut agreed, mut disagreed, mut not_run) = (0usize, 0usize, 0usize);
    for outcome in &outcomes {
        let at = location(file, &outcome.test.origin);
        let mut ok = true;
        if let Some(line) = failure(&ir, &partial, outcome, file) {
            ok = false;
            let _ = writeln!(out, "{}", terminal_safe(&format!("{at}: {line}")));
        }
        if let Some(prober) = &prober {
            let what = describe(&ir, &outcome.test);
            let unbound = needs_unbound(&ir, &partial, outcome);
            match prober.run(&ir, &partial, outcome, unbound) {
                KernelVerdict::Agreed => agreed += 1,
                KernelVerdict::Disagreed(why) => {
                    disagreed += 1;
                    ok = false;
                    let line = format!("{at}: {what}: kernel: {why}");
                    let _ = writeln!(out, "{}", terminal_safe(&line));
                }
                KernelVerdict::NotRun(why) => {
                    not_run += 1;
                    let line = format!("{at}: {what}: not run by the kernel: {why}");
                    let _ = writeln!(out, "{}", terminal_safe(&line));
                }
            }
        }
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    if let Some(prober) = &prober {
        let tiers = prober.tiers.lock().map(|t| t.clone()).unwrap_or_default();
        if !tiers.is_empty() {
            let list: Vec<String> = tiers
                .iter()
                .map(|(ring, tier)| format!("ring {ring} {tier}"))
                .collect();
            let _ = writeln!(out, "kernel tiers: {}", list.join("; "));
        }
        let _ = writeln!(
            out,
            "kernel (Landlock ABI {}): {agreed} agreed, {disagreed} disagreed, {not_run} not run",
            nonoc_runtime::landlock_abi()
        );
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    if failed == 0 { EXIT_OK } else { EXIT_FAILED }
}

/// `ring 3, read `/x`` as the test writes it (its own platform, not the host's filled in).
fn describe(ir: &Ir, test: &ir::Test) -> String {
    format!(
        "{}, {}",
        describe_selector(ir, test.selector),
        describe_request(&test.request)
    )
}

/// Why a test failed (the line without its location), or `None` when it passed.
fn failure(
    ir: &Ir,
    partial: &PartialBindings,
    outcome: &TestOutcome,
    file: &str,
) -> Option<String> {
    let test = &outcome.test;
    let what = describe(ir, test);
    if let Some(message) = needs_unbound(ir, partial, outcome) {
        return Some(format!("{what}: cannot decide: {message}"));
    }
    if outcome.passed {
        return None;
    }
    let expected = match test.expect {
        Expect::Allow => "allow",
        Expect::Deny => "deny",
    };
    let (decided, why) = match &outcome.decision {
        Some(decision) => (verdict_name(decision.verdict), reasons(decision, file)),
        None => ("deny", "the trust score selects no ring".to_owned()),
    };
    Some(format!(
        "{what}: expected {expected}, decided {decided}: {why}"
    ))
}

/// The message of an unbound variable the test needs: its request path's, or (for a path
/// request, which the ring's filesystem rules decide) one its ring's rules use.
fn needs_unbound<'a>(
    ir: &Ir,
    partial: &'a PartialBindings,
    outcome: &TestOutcome,
) -> Option<&'a str> {
    let Request::Path { path, .. } = &outcome.test.request else {
        return None;
    };
    let ring = outcome.ring.and_then(|level| ir.rings.get(&level));
    let mut names: Vec<&str> = path.variable().into_iter().collect();
    if let Some(ring) = ring.filter(|r| !r.unconfined) {
        names.extend(
            ring.filesystem
                .iter()
                .flat_map(|r| std::iter::once(&r.target).chain(&r.except))
                .filter_map(ir::FsTarget::variable),
        );
    }
    partial.first_unbound(names)
}

pub(super) fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Allow => "allow",
        Verdict::Deny => "deny",
    }
}

/// The reasons of a decision on one line: each detail, with the rule's location.
fn reasons(decision: &Decision, file: &str) -> String {
    decision
        .because
        .iter()
        .map(|r| match &r.origin {
            Some(origin) => format!("{} at {}", r.detail, location(file, origin)),
            None => r.detail.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
