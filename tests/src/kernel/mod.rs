//! Kernel enforcement tests: compile a policy, apply a ring in a fresh `nonoc-probe`
//! process, try operations, and compare each answer of the kernel with `decide`.
//!
//! - [`fixture`]: temporary trees (with a tiny static executable) and compilation
//! - [`probe`]: running `nonoc-probe` and parsing its output and enforcement report
//! - [`expect`]: operations as `decide` requests, and the kernel's predicted answer

pub mod expect;
pub mod fixture;
pub mod probe;

use nonoc::ir::{BoundVariables, Ir};
use nonoc_runtime::Bindings;

pub use expect::{Difference, Expectation, Judged, Oracle};
pub use fixture::{Compiled, TempTree, compile};
pub use probe::{Op, Outcome, ProbeArgs, ProbeRun, Report, Select};

/// Binds a policy's variables as the probe's runtime does with a cleared environment: the
/// `--var` values, then defaults.
pub fn bindings(ir: &Ir, vars: &[(String, String)]) -> BoundVariables {
    let given = vars.iter().fold(Bindings::new(), |b, (k, v)| b.with(k, v));
    nonoc::ir::bind(ir, &given, &|_| None)
        .unwrap_or_else(|e| panic!("cannot bind the policy's variables: {e}"))
}

/// The outcome of probing one ring: the run, every operation judged, and the failures.
#[derive(Debug)]
pub struct Probed {
    pub run: ProbeRun,
    pub judged: Vec<Judged>,
    pub failures: Vec<String>,
}

/// Applies `args`'s ring (`NONOC_KERNEL_VERBOSE=1` prints every judged operation) in a fresh
/// probe process, performs `ops`, and judges every outcome against `decide` for the ring the
/// report names. Panics if the probe could not apply the ring.
pub fn probe_ring(probe: &str, ir: &Ir, args: &ProbeArgs, ops: &[Op]) -> Probed {
    let run = probe::run(probe, args, ops);
    if let Some((kind, message)) = &run.apply_error {
        panic!(
            "the probe could not apply the ring ({kind}): {message}\n{}",
            run.stderr
        );
    }
    judge(ir, args, run)
}

/// Judges a probe run that applied its ring.
pub fn judge(ir: &Ir, args: &ProbeArgs, run: ProbeRun) -> Probed {
    let report = run.report().clone();
    let ring = ir.rings.get(&report.ring).unwrap_or_else(|| {
        panic!(
            "the report names ring {}, which the policy lacks",
            report.ring
        )
    });
    let bound = bindings(ir, &args.vars);
    let oracle = Oracle {
        ring,
        bindings: &bound,
        report: &report,
    };
    let (judged, failures) = oracle.judge_all(&run.results);
    if std::env::var_os("NONOC_KERNEL_VERBOSE").is_some() {
        eprintln!(
            "    ring {} {:?}",
            report.ring,
            report.landlock.as_ref().map(|l| &l.carve_outs)
        );
        for j in &judged {
            let e = &j.expected;
            let d = e
                .difference
                .as_ref()
                .map(|(k, why)| format!(" [{k}: {why}]"))
                .unwrap_or_default();
            eprintln!(
                "    {} -> {} (decide {}, kernel expected {}){d}",
                j.op, j.outcome, e.decide, e.kernel
            );
        }
    }
    Probed {
        run,
        judged,
        failures,
    }
}
