//! A tiny test runner for the kernel test targets (`harness = false`): libtest cannot report
//! a test as skipped at run time, and a kernel without Landlock must show up as `skipped`,
//! never as `ok` — or as `FAILED` when `NONOC_REQUIRE_LANDLOCK=1` (CI).
//!
//! Output: one `test NAME ... ok|FAILED|skipped` line per test, then exactly
//! `N passed, N failed, N skipped`. Exit status 1 when anything failed. Arguments: an optional
//! substring filter (as libtest's); `--list` lists the tests; other flags are ignored.
//!
//! `NONOC_TEST_LANDLOCK_ABI=N` caps the ABI the runner believes the kernel has, to exercise
//! the skip (and, with `NONOC_REQUIRE_LANDLOCK=1`, the failure) path on a Landlock host.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::time::Instant;

/// One kernel test: it needs at least this Landlock ABI (1 for plain Landlock).
#[derive(Debug, Clone, Copy)]
pub struct Test {
    pub name: &'static str,
    pub needs_abi: u32,
    pub run: fn(),
}

/// Whether the environment demands Landlock (`NONOC_REQUIRE_LANDLOCK=1`).
pub fn landlock_required() -> bool {
    std::env::var("NONOC_REQUIRE_LANDLOCK").is_ok_and(|v| v == "1")
}

/// Runs the tests and returns the process exit code.
pub fn run(tests: &[Test]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for t in tests {
            println!("{}: test", t.name);
        }
        return ExitCode::SUCCESS;
    }
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let cap = std::env::var("NONOC_TEST_LANDLOCK_ABI")
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    let abi = cap.map_or(nonoc_runtime::landlock_abi(), |c| {
        c.min(nonoc_runtime::landlock_abi())
    });
    let required = landlock_required();
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|t| filter.is_none_or(|f| t.name.contains(f.as_str())))
        .collect();
    println!(
        "\nrunning {} tests (Landlock ABI {abi}{})",
        selected.len(),
        if required { ", required" } else { "" }
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for test in selected {
        if abi < test.needs_abi {
            if required {
                println!(
                    "test {} ... FAILED (needs Landlock ABI {}, the kernel has {abi}; NONOC_REQUIRE_LANDLOCK=1)",
                    test.name, test.needs_abi
                );
                failed += 1;
                failures.push(test.name);
            } else {
                println!(
                    "test {} ... skipped (needs Landlock ABI {}, the kernel has {abi})",
                    test.name, test.needs_abi
                );
                skipped += 1;
            }
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
