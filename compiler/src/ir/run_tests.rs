//! Running a policy's `tests:` section against `decide`.

use serde::Serialize;

use super::{BoundVariables, Decision, Ir, Platform, Request, RingSelector, Test, Verdict, decide};
use crate::syntax::Expect;

/// The outcome of one test.
#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    pub test: Test,
    /// The ring the selector chose (`None`: the trust score selects no ring).
    pub ring: Option<u8>,
    pub decision: Option<Decision>,
    pub passed: bool,
}

/// Runs every test with the given bindings. `platform` fills in tests that name none.
pub fn run_tests(ir: &Ir, bindings: &BoundVariables, platform: Platform) -> Vec<TestOutcome> {
    ir.tests
        .iter()
        .map(|test| {
            let ring = match test.selector {
                RingSelector::Ring(level) => Some(level),
                RingSelector::TrustScore(score) => ir.ring_for_trust_score(score),
            };
            let request = match &test.request {
                Request::Path {
                    path,
                    access,
                    platform: p,
                } => Request::Path {
                    path: path.clone(),
                    access: *access,
                    platform: Some(p.unwrap_or(platform)),
                },
                other => other.clone(),
            };
            let decision = ring
                .and_then(|r| ir.rings.get(&r))
                .map(|r| decide(r, &request, bindings));
            let verdict = decision.as_ref().map_or(Verdict::Deny, |d| d.verdict);
            let expected = match test.expect {
                Expect::Allow => Verdict::Allow,
                Expect::Deny => Verdict::Deny,
            };
            TestOutcome {
                test: test.clone(),
                ring,
                decision,
                passed: verdict == expected,
            }
        })
        .collect()
}
