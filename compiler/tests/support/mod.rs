//! What the `harness = false` test targets of this crate share: a runner with the reporting
//! contract of the kernel tests (one `test NAME ... ok|FAILED|skipped` line per test, then
//! `N passed, N failed, N skipped`; a test that needs a Landlock ABI the kernel lacks is
//! `skipped`, or `FAILED` with `NONOC_REQUIRE_LANDLOCK=1`; `NONOC_TEST_LANDLOCK_ABI=N` caps
//! the ABI the runner believes the kernel has), and a base directory outside `/tmp`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

pub struct Test {
    pub name: &'static str,
    /// Landlock ABI the test needs; 0 for none.
    pub needs_abi: u32,
    /// A program the test runs that not every system has (skipped without it).
    pub needs_program: Option<&'static str>,
    pub run: fn(),
}

impl Test {
    pub const fn new(name: &'static str, needs_abi: u32, run: fn()) -> Test {
        Test {
            name,
            needs_abi,
            needs_program: None,
            run,
        }
    }
}

pub fn run_tests(tests: &[Test]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for t in tests {
            println!("{}: test", t.name);
        }
        return ExitCode::SUCCESS;
    }
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let kernel = nonoc_runtime::landlock_abi();
    let abi = std::env::var("NONOC_TEST_LANDLOCK_ABI")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(kernel, |cap| cap.min(kernel));
    let required = std::env::var("NONOC_REQUIRE_LANDLOCK").is_ok_and(|v| v == "1");
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|t| filter.is_none_or(|f| t.name.contains(f.as_str())))
        .collect();
    let req = if required { ", required" } else { "" };
    println!(
        "\nrunning {} tests (Landlock ABI {abi}{req})",
        selected.len()
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for test in selected {
        let missing = test.needs_program.filter(|p| !Path::new(p).exists());
        if abi < test.needs_abi && required {
            let needs = test.needs_abi;
            println!(
                "test {} ... FAILED (needs Landlock ABI {needs}, the kernel has {abi}; NONOC_REQUIRE_LANDLOCK=1)",
                test.name
            );
            failed += 1;
            failures.push(test.name);
            continue;
        }
        if abi < test.needs_abi || missing.is_some() {
            let why = match missing {
                Some(program) => format!("needs {program}"),
                None => format!(
                    "needs Landlock ABI {}, the kernel has {abi}",
                    test.needs_abi
                ),
            };
            println!("test {} ... skipped ({why})", test.name);
            skipped += 1;
            continue;
        }
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(test.run));
        let took = start.elapsed().as_secs_f64();
        if result.is_ok() {
            println!("test {} ... ok ({took:.2}s)", test.name);
            passed += 1;
        } else {
            println!("test {} ... FAILED ({took:.2}s)", test.name);
            failed += 1;
            failures.push(test.name);
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:");
        for name in &failures {
            println!("    {name}");
        }
    }
    println!("\n{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A base directory outside the temp directory: `CARGO_TARGET_TMPDIR`, unless the checkout
/// itself lies under `/tmp` (CI may clone anywhere), then `/var/tmp/nonoc-tests`.
pub fn outside_tmp() -> std::path::PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let real = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
    let tmp = std::fs::canonicalize(std::env::temp_dir()).unwrap_or_else(|_| "/tmp".into());
    if real.starts_with(&tmp) || real.starts_with("/tmp") {
        Path::new("/var/tmp/nonoc-tests").to_path_buf()
    } else {
        target.to_path_buf()
    }
}
