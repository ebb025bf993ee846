//! The runner of every kernel test target (`harness = false`): libtest cannot report a test as
//! skipped at run time, and a kernel without what a test needs must show up as `skipped`,
//! never as `ok`, or as `FAILED` when `NONOC_REQUIRE_LANDLOCK=1` (CI).
//!
//! Off Linux every test is `skipped` (`FAILED` with `NONOC_REQUIRE_LANDLOCK=1`): they test
//! Linux's sandboxes.
//!
//! Output: one `test NAME ... ok|FAILED|skipped` line per test, then exactly
//! `N passed, N failed, N skipped`. Exit status 1 when anything failed. Arguments: an optional
//! substring filter (as libtest's); `--list` lists the tests; other flags are ignored.
//!
//! `NONOC_TEST_LANDLOCK_ABI=N` caps the ABI the runner believes the kernel has, to exercise
//! the skip (and, with `NONOC_REQUIRE_LANDLOCK=1`, the failure) path on a Landlock host. A
//! test that needs a program the system lacks (`needs_program`) is skipped even then: that is
//! the host's make-up, not the kernel's.

mod scratch;

pub use scratch::{Run, Scratch};

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// One kernel test.
#[derive(Debug, Clone, Copy)]
pub struct Test {
    pub name: &'static str,
    /// The Landlock ABI the test needs; 0 for none, 1 for plain Landlock.
    pub needs_abi: u32,
    /// A program the test runs that not every system has.
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

/// Whether the environment demands Landlock (`NONOC_REQUIRE_LANDLOCK=1`).
pub fn landlock_required() -> bool {
    std::env::var("NONOC_REQUIRE_LANDLOCK").is_ok_and(|v| v == "1")
}

/// The Landlock ABI the tests may use: the kernel's, capped by `NONOC_TEST_LANDLOCK_ABI`.
pub fn landlock_abi() -> u32 {
    let kernel = nonoc_runtime::landlock_abi();
    std::env::var("NONOC_TEST_LANDLOCK_ABI")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(kernel, |cap| cap.min(kernel))
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
    let abi = landlock_abi();
    let required = landlock_required();
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
        // Every kernel test is a test of Linux's sandboxes (Landlock, seccomp, namespaces).
        if !cfg!(target_os = "linux") {
            let os = std::env::consts::OS;
            if required {
                println!(
                    "test {} ... FAILED (a Linux kernel test, on {os}; NONOC_REQUIRE_LANDLOCK=1)",
                    test.name
                );
                failed += 1;
                failures.push(test.name);
            } else {
                println!(
                    "test {} ... skipped (a Linux kernel test, on {os})",
                    test.name
                );
                skipped += 1;
            }
            continue;
        }
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

/// A seccomp filter that makes `unshare` and `clone` with `CLONE_NEWUSER` fail with `EPERM`
/// (and `clone3`, which a filter cannot look into, with `ENOSYS`), then `execv` of the rest of
/// the arguments: a host where user namespaces are unavailable, as a non-root user meets it
/// where they are turned off (`python3 -I -S -c WITHOUT_USER_NAMESPACES PROGRAM ARGS...`).
pub const WITHOUT_USER_NAMESPACES: &str = r##"
import ctypes, os, struct, sys
arch, unshare, clone, clone3 = {"x86_64": (0xC000003E, 272, 56, 435),
                                "aarch64": (0xC00000B7, 97, 220, 435)}[os.uname().machine]
ins = lambda code, jt, jf, k: struct.pack("HBBI", code, jt, jf, k)
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
prog = b"".join([
    ins(0x20, 0, 0, 4), ins(0x15, 0, 9, arch), ins(0x20, 0, 0, 0),
    ins(0x15, 6, 0, clone3), ins(0x15, 2, 0, unshare), ins(0x15, 1, 0, clone),
    ins(0x06, 0, 0, ALLOW), ins(0x20, 0, 0, 16), ins(0x45, 0, 2, 0x10000000),
    ins(0x06, 0, 0, ERRNO | 1), ins(0x06, 0, 0, ERRNO | 38), ins(0x06, 0, 0, ALLOW)])
buf = ctypes.create_string_buffer(prog, len(prog))
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
fprog = Prog(len(prog) // 8, ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
ul = ctypes.c_ulong
if libc.prctl(38, ul(1), ul(0), ul(0), ul(0)) != 0 or libc.prctl(22, ul(2), ctypes.byref(fprog), ul(0), ul(0)) != 0:
    raise OSError(ctypes.get_errno(), "seccomp")
os.execv(sys.argv[1], sys.argv[1:])
"##;

/// A base directory outside the temporary directories (`/tmp`, `/var/tmp` and the system's
/// temp directory), which rings often grant (the `tmp` preset grants both): the target's temp
/// directory (`env!("CARGO_TARGET_TMPDIR")` of the test target), unless the checkout itself
/// lies under one of them (CI may clone anywhere), then `/var/lib/nonoc-tests`, or
/// `$HOME/.cache/nonoc-tests` where that cannot be created (created either way).
pub fn outside_tmp(target_tmpdir: &str) -> std::io::Result<PathBuf> {
    let target = Path::new(target_tmpdir);
    let real = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
    if !under_a_temp_dir(&real) {
        return Ok(target.to_path_buf());
    }
    let system = PathBuf::from("/var/lib/nonoc-tests");
    let error = match std::fs::create_dir_all(&system) {
        Ok(()) => return Ok(system),
        Err(e) => e,
    };
    match std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/nonoc-tests")) {
        Some(base) if base.is_absolute() && !under_a_temp_dir(&base) => {
            std::fs::create_dir_all(&base)?;
            Ok(base)
        }
        _ => Err(std::io::Error::new(
            error.kind(),
            format!(
                "the checkout is in a temporary directory and neither /var/lib/nonoc-tests ({error}) nor $HOME/.cache can hold the tests' files"
            ),
        )),
    }
}

/// Whether `path` lies in `/tmp`, `/var/tmp` or the system's temp directory.
fn under_a_temp_dir(path: &Path) -> bool {
    let tmp = std::fs::canonicalize(std::env::temp_dir()).unwrap_or_else(|_| "/tmp".into());
    [tmp.as_path(), Path::new("/tmp"), Path::new("/var/tmp")]
        .iter()
        .any(|t| path.starts_with(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_in_a_temporary_directory_gets_a_base_outside_them() {
        for checkout in ["/tmp/ci/target/tmp", "/var/tmp/ci/target/tmp"] {
            let base = outside_tmp(checkout).unwrap_or_else(|e| panic!("{e}"));
            assert!(!under_a_temp_dir(&base), "{checkout} -> {}", base.display());
            assert!(base.is_dir(), "{}", base.display());
        }
        let elsewhere = "/work/checkout/target/tmp";
        assert_eq!(outside_tmp(elsewhere).ok(), Some(PathBuf::from(elsewhere)));
    }
}
