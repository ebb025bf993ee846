//! `nonoc test POLICY [--var NAME=VALUE]... [--kernel]`: runs the policy's `tests:` against
//! `decide` and, with `--kernel`, against the real kernel ([`crate::kernel`]). One line per
//! failure on stdout, `FILE:LINE:COL: ...`; the last line is `N passed, N failed`.

use std::path::{Path, PathBuf};

use super::common::{CliError, Context, Exit, Outcome, VarArgs, load_ir};
use crate::backend::Targets;
use crate::diagnostic::terminal_safe;
use crate::ir::{
    self, Decision, Ir, PartialBindings, Platform, Request, TestOutcome, bind_partial,
    describe_request, describe_selector, location, verdict_name,
};
use crate::kernel::{KernelVerdict, PROBE_DEADLINE, Prober};
use crate::syntax::Expect;
use nonoc_runtime::Bindings;
use nonoc_runtime::private_tmp::PrivateTmp;

/// Arguments of `nonoc test`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// The policy whose `tests:` to run.
    pub policy: PathBuf,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Also ask the kernel: apply each test's ring in a fresh process and try the request.
    #[arg(long)]
    pub kernel: bool,
}

/// `nonoc test`: 0 when every test passes, 1 when one fails or the policy has errors, 2 on a
/// usage or I/O problem. With `--kernel` this program is re-executed as the probe.
pub fn run(args: &TestArgs, ctx: &mut Context<'_>) -> Outcome {
    let exe =
        match args.kernel {
            true => Some(std::env::current_exe().map_err(|e| {
                CliError::usage(format!("`--kernel`: cannot find this program: {e}"))
            })?),
            false => None,
        };
    run_probing_with(args, exe.as_deref(), ctx)
}

/// `nonoc test` asking the kernel with `exe`, the `nonoc` binary to run as the probe (`nonoc
/// __probe`, on Linux only), or `decide` alone when `None` (`args.kernel` is not read).
pub fn run_probing_with(args: &TestArgs, exe: Option<&Path>, ctx: &mut Context<'_>) -> Outcome {
    if exe.is_some() && Platform::host() != Platform::Linux {
        return Err(CliError::usage(
            "`nonoc test --kernel` probes Linux sandboxes and runs on Linux only",
        ));
    }
    let (analysis, ir) = load_ir(&args.policy, ctx)?;
    let mut given = args.vars.bindings()?;
    // The kernel is asked about a real private temporary directory, created as the runtime
    // creates one for a run (and removed when the tests end); `decide` then binds `${tmp}` to
    // the same directory.
    let _private_tmp = match exe {
        Some(_) => private_tmp(&ir, &mut given)?,
        None => None,
    };
    let partial = bind_partial(&ir, &given, ctx.env).map_err(CliError::usage)?;
    let prober = match exe {
        None => None,
        // The probe applies Linux sections only.
        Some(exe) => {
            let lowered = &analysis.lowered;
            let (_, artifact) =
                crate::artifact::build(&ir, lowered, &analysis.bytes, Targets::LINUX).map_err(
                    |e| CliError::failed(format!("cannot compile the policy for the kernel: {e}")),
                )?;
            Some(Prober {
                exe,
                artifact,
                deadline: PROBE_DEADLINE,
                tiers: Default::default(),
            })
        }
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
            let _ = writeln!(ctx.out, "{}", terminal_safe(&format!("{at}: {line}")));
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
                    let _ = writeln!(ctx.out, "{}", terminal_safe(&line));
                }
                KernelVerdict::NotRun(why) => {
                    not_run += 1;
                    let line = format!("{at}: {what}: not run by the kernel: {why}");
                    let _ = writeln!(ctx.out, "{}", terminal_safe(&line));
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
            let _ = writeln!(ctx.out, "kernel tiers: {}", list.join("; "));
        }
        let _ = writeln!(
            ctx.out,
            "kernel (Landlock ABI {}): {agreed} agreed, {disagreed} disagreed, {not_run} not run",
            nonoc_runtime::landlock_abi()
        );
    }
    let _ = writeln!(ctx.out, "{passed} passed, {failed} failed");
    Ok(if failed == 0 { Exit::Ok } else { Exit::Failed })
}

/// A private temporary directory for the policy's `tmp` variable, bound in `given`, unless
/// the policy has none or the caller binds it.
fn private_tmp(ir: &Ir, given: &mut Bindings) -> Result<Option<PrivateTmp>, CliError> {
    let Some((name, _)) = ir.variables.iter().find(|(_, v)| v.private_tmp) else {
        return Ok(None);
    };
    if given.get(name).is_some() {
        return Ok(None);
    }
    let tmp = PrivateTmp::create().map_err(|e| {
        CliError::failed(format!(
            "cannot create a private temporary directory for `${{{name}}}`: {e}"
        ))
    })?;
    let value = tmp.as_str().ok_or_else(|| {
        CliError::failed(format!(
            "the private temporary directory `{}` is not UTF-8 (pass `--var {name}=DIR` to use another)",
            tmp.path().display()
        ))
    })?;
    given.insert(name.clone(), value);
    Ok(Some(tmp))
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
