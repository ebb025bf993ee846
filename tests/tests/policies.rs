//! Every policy in `policies/` checks clean (warnings allowed) and passes its own `tests:`
//! section against `decide`, with variables bound to their defaults.

use nonoc::ir::{Platform, bind, run_tests};

#[test]
fn there_are_the_three_example_policies() {
    let names: Vec<String> = nonoc_tests::example_policies()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["agt-rings.yaml", "ci-runner.yaml", "coding-agent.yaml"]
    );
}

#[test]
fn every_policy_passes_its_own_tests() {
    for path in nonoc_tests::example_policies() {
        let bytes = std::fs::read(&path).unwrap();
        let analysis = nonoc::analyze(&path.display().to_string(), &bytes);
        let errors: Vec<_> = analysis
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        let ir = analysis.ir.unwrap();
        assert!(!ir.tests.is_empty(), "{} has no tests", path.display());
        let bindings = bind(&ir, &nonoc_runtime::Bindings::new(), &|_| None).unwrap();
        let outcomes = run_tests(&ir, &bindings, Platform::Linux);
        assert_eq!(outcomes.len(), ir.tests.len());
        let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed).collect();
        assert!(
            failed.is_empty(),
            "{}: failed tests: {failed:#?}",
            path.display()
        );
    }
}
