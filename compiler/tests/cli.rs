//! The `nonoc` binary, run as a user runs it: exit codes, stdout and stderr per
//! `design/CLI.md`. Every run has a fixed environment (only `PATH`, plus `NO_COLOR=1` and
//! `COLUMNS=100`) and no stdin, so the output is plain and its width fixed; snapshots hold
//! stdout, stderr and the exit code together, as jj's CLI tests do.
//!
//! These tests live in the `nonoc` crate, not in `nonoc-tests`: Cargo builds a package's
//! binaries for its own integration tests (and sets `CARGO_BIN_EXE_nonoc`) but never for a
//! dependent package, so from `nonoc-tests` the binary could be missing or stale.
#![expect(
    clippy::panic,
    reason = "test helpers report a broken test set-up by panicking, as a failed assertion does"
)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Every command and its error paths, as snapshot transcripts.
#[path = "cli/every_command.rs"]
mod every_command;

/// The workspace root: `policies/` and `schemas/` are relative to it.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// An empty directory of its own for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// The names in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stdout)?;
        if !self.stderr.is_empty() {
            writeln!(f, "------- stderr -------")?;
            f.write_str(&self.stderr)?;
        }
        write!(f, "[exit status: {}]", self.code)
    }
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

/// Runs `nonoc ARGS` in `dir` with the fixed environment.
fn nonoc(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_nonoc"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run nonoc: {e}"));
    Run {
        // A signal (no code) shows as -1, which no test expects.
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `nonoc ARGS` from the workspace root, where `policies/...` resolves.
fn nonoc_at_root(args: &[&str]) -> Run {
    nonoc(&workspace(), args)
}

/// A policy with one error from each later stage: a path, a port and a syscall.
const INVALID: &str = "\
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: broken
rings:
  3:
    filesystem:
      read: [relative/path, /usr]
    network:
      mode: restricted
      connect_tcp: [443, 70000]
    syscalls:
      deny: [not_a_syscall]
";

/// A policy the parser refuses: an unknown field.
const UNKNOWN_FIELD: &str = "\
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: typo
rings:
  3:
    netwrok:
      mode: blocked
";

/// A policy with one warning and no error: a deny inside an allowed directory.
const WARNS: &str = "\
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: warns
rings:
  3:
    filesystem:
      read: [/usr]
    deny:
      - path: /usr/secret
";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
}

// --- check ---

#[test]
fn check_a_valid_policy() {
    let run = nonoc_at_root(&["check", "policies/ci-runner.yaml"]);
    insta::assert_snapshot!(run, @r"
    policies/ci-runner.yaml: ok (2 rings, 0 warnings)
    [exit status: 0]
    ");
}

#[test]
fn check_every_example_policy() {
    let run = nonoc_at_root(&[
        "check",
        "policies/agt-rings.yaml",
        "policies/ci-runner.yaml",
        "policies/coding-agent.yaml",
    ]);
    assert_eq!(run.code, 0, "{run}");
    let ok: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(ok.len(), 3, "{run}");
    assert!(ok.iter().all(|l| l.contains(": ok (")), "{run}");
    assert!(!run.stderr.contains('×'), "errors reported:\n{run}");
}

#[test]
fn check_an_invalid_policy() {
    let dir = scratch("check_an_invalid_policy");
    write(&dir, "broken.yaml", INVALID);
    let run = nonoc(&dir, &["check", "broken.yaml"]);
    assert_eq!(run.code, 1);
    for code in ["NC0401", "NC0501", "NC0601"] {
        assert!(run.stderr.contains(code), "{code} missing:\n{run}");
    }
    insta::assert_snapshot!(run);
}

#[test]
fn check_a_policy_the_parser_refuses() {
    let dir = scratch("check_a_policy_the_parser_refuses");
    write(&dir, "typo.yaml", UNKNOWN_FIELD);
    let run = nonoc(&dir, &["check", "typo.yaml"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!(run);
}

#[test]
fn check_reports_every_file() {
    // One bad file does not stop the others; the exit code is the worst.
    let dir = scratch("check_reports_every_file");
    write(&dir, "broken.yaml", INVALID);
    write(&dir, "warns.yaml", WARNS);
    let run = nonoc(&dir, &["check", "broken.yaml", "warns.yaml"]);
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(run.stdout, "warns.yaml: ok (1 ring, 1 warning)\n");
    assert!(
        run.stderr.contains("broken.yaml: 3 errors, 0 warnings"),
        "{run}"
    );
}

#[test]
fn check_a_missing_file() {
    let dir = scratch("check_a_missing_file");
    let run = nonoc(&dir, &["check", "missing.yaml"]);
    insta::assert_snapshot!(run, @r"
    ------- stderr -------
    error: cannot read `missing.yaml`: No such file or directory (os error 2)
    [exit status: 2]
    ");
    // Usage and I/O problems outrank policy errors.
    write(&dir, "broken.yaml", INVALID);
    let run = nonoc(&dir, &["check", "broken.yaml", "missing.yaml"]);
    assert_eq!(run.code, 2, "{run}");
}

/// A policy is read up to the size limit and no further: an endless file (`/dev/zero`) is
/// one coded diagnostic, for every command that reads a policy, and nothing is written.
#[test]
fn an_endless_policy_is_refused_at_the_size_limit() {
    let dir = scratch("an_endless_policy_is_refused_at_the_size_limit");
    let run = nonoc(&dir, &["check", "/dev/zero"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("NC0004"), "{run}");
    assert!(
        run.stderr
            .contains("larger than the limit of 4194304 bytes"),
        "{run}"
    );
    let run = nonoc(&dir, &["compile", "/dev/zero", "-o", "out.json"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("NC0004"), "{run}");
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
    for args in [
        ["test", "/dev/zero"].as_slice(),
        [
            "explain",
            "/dev/zero",
            "--ring",
            "3",
            "--read",
            "/etc/passwd",
        ]
        .as_slice(),
    ] {
        let run = nonoc(&dir, args);
        assert_eq!(run.code, 1, "{args:?}: {run}");
        assert!(run.stderr.contains("NC0004"), "{args:?}: {run}");
    }
    let run = nonoc(&dir, &["check", "--format", "json", "/dev/zero"]);
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(run.json()[0]["code"], "NC0004", "{run}");
}

#[test]
fn bad_command_lines_exit_2() {
    let dir = scratch("bad_command_lines_exit_2");
    write(&dir, "p.yaml", WARNS);
    for args in [
        &["check"][..],
        &["check", "--bogus", "p.yaml"],
        &["check", "--format", "xml", "p.yaml"],
        &["frobnicate"],
        &[],
        &["compile"],
        &["compile", "p.yaml", "--emit", "nonsense"],
        &["compile", "p.yaml", "--emit", "ir", "--ring", "256"],
        &["compile", "p.yaml", "--emit", "ir", "--ring", "-1"],
    ] {
        let run = nonoc(&dir, args);
        assert_eq!(run.code, 2, "nonoc {args:?}:\n{run}");
        assert!(run.stdout.is_empty(), "nonoc {args:?}:\n{run}");
        assert!(
            run.stderr.contains("error:") || run.stderr.contains("Usage:"),
            "nonoc {args:?}:\n{run}"
        );
    }
    insta::assert_snapshot!(nonoc(&dir, &["check", "--bogus", "p.yaml"]), @r"
    ------- stderr -------
    error: unexpected argument '--bogus' found

      tip: to pass '--bogus' as a value, use '-- --bogus'

    Usage: nonoc check [OPTIONS] <POLICIES>...

    For more information, try '--help'.
    [exit status: 2]
    ");
}

#[test]
fn help_and_version_exit_0() {
    let root = workspace();
    let help = nonoc(&root, &["--help"]);
    assert_eq!(help.code, 0, "{help}");
    for command in ["check", "compile", "schema"] {
        assert!(help.stdout.contains(command), "{help}");
    }
    let version = nonoc(&root, &["--version"]);
    assert_eq!(version.code, 0, "{version}");
    assert_eq!(
        version.stdout,
        format!("nonoc {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn warnings_pass_unless_denied() {
    // The shipped policies accept their remaining warnings (`settings.accept`): counted, not
    // printed, and not raised by `--deny-warnings`.
    for args in [
        &["check", "policies/agt-rings.yaml"][..],
        &["check", "--deny-warnings", "policies/agt-rings.yaml"],
    ] {
        let run = nonoc_at_root(args);
        assert_eq!(run.code, 0, "{run}");
        assert_eq!(
            run.stdout,
            "policies/agt-rings.yaml: ok (4 rings, 0 warnings, 8 accepted in `settings.accept`)\n",
            "{run}"
        );
        assert!(run.stderr.is_empty(), "{run}");
    }
    // Without its `settings.accept`, the same policy warns, and `--deny-warnings` fails it.
    let dir = scratch("warnings_pass_unless_denied");
    let text = std::fs::read_to_string(workspace().join("policies/agt-rings.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let start = text
        .find("  accept:\n")
        .unwrap_or_else(|| panic!("no accept in agt-rings"));
    let end = text[start..]
        .find("\nvariables:")
        .map_or(text.len(), |i| start + i);
    write(
        &dir,
        "unaccepted.yaml",
        &format!("{}{}", &text[..start], &text[end..]),
    );
    let run = nonoc(&dir, &["check", "unaccepted.yaml"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains('⚠'), "{run}");
    assert_eq!(
        run.stdout, "unaccepted.yaml: ok (4 rings, 8 warnings)\n",
        "{run}"
    );
    let run = nonoc(&dir, &["check", "--deny-warnings", "unaccepted.yaml"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(
        !run.stderr.contains('⚠'),
        "every warning is an error now:\n{run}"
    );
    assert!(run.stderr.contains("8 errors, 0 warnings"), "{run}");
    // SARIF keeps accepted findings as suppressed results.
    let run = nonoc_at_root(&["check", "--format", "sarif", "policies/agt-rings.yaml"]);
    let log = run.json();
    let results = log["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 8, "{run}");
    assert!(
        results
            .iter()
            .all(|r| r["suppressions"][0]["kind"] == "inSource"),
        "{run}"
    );

    let dir = scratch("warnings_pass_unless_denied");
    write(&dir, "warns.yaml", WARNS);
    insta::assert_snapshot!("warnings", nonoc(&dir, &["check", "warns.yaml"]));
    insta::assert_snapshot!(
        "warnings_denied",
        nonoc(&dir, &["check", "--deny-warnings", "warns.yaml"])
    );
}

#[test]
fn check_as_json() {
    let dir = scratch("check_as_json");
    write(&dir, "broken.yaml", INVALID);
    let run = nonoc(&dir, &["check", "--format", "json", "broken.yaml"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.is_empty(), "{run}");
    let found: Vec<(String, String, u64, u64)> = run
        .json()
        .as_array()
        .unwrap_or_else(|| panic!("not an array:\n{run}"))
        .iter()
        .map(|d| {
            assert_eq!(d["file"], "broken.yaml");
            assert_eq!(d["severity"], "error");
            assert!(d["message"].as_str().is_some_and(|m| !m.is_empty()), "{d}");
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["severity"].as_str().unwrap_or_default().to_owned(),
                d["line"].as_u64().unwrap_or_default(),
                d["column"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let expected = [("NC0401", 8, 14), ("NC0501", 11, 26), ("NC0601", 13, 14)];
    let expected: Vec<(String, String, u64, u64)> = expected
        .iter()
        .map(|&(c, l, col)| (c.to_owned(), "error".to_owned(), l, col))
        .collect();
    assert_eq!(found, expected, "{run}");

    // Warnings are listed too, with exit 0; `--deny-warnings` makes them errors.
    write(&dir, "warns.yaml", WARNS);
    let run = nonoc(&dir, &["check", "--format", "json", "warns.yaml"]);
    assert_eq!(run.code, 0, "{run}");
    let warnings = run.json();
    let warnings = warnings.as_array().map_or(&[][..], Vec::as_slice);
    assert!(!warnings.is_empty(), "{run}");
    assert!(warnings.iter().all(|d| d["severity"] == "warning"), "{run}");
    let run = nonoc(
        &dir,
        &["check", "--format", "json", "--deny-warnings", "warns.yaml"],
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.json()
            .as_array()
            .is_some_and(|a| a.iter().all(|d| d["severity"] == "error")),
        "{run}"
    );
}

// --- compile ---

#[test]
fn compile_emits_the_ir() {
    let run = nonoc_at_root(&["compile", "policies/agt-rings.yaml", "--emit", "ir"]);
    assert_eq!(run.code, 0, "{run}");
    let ir = run.json();
    assert_eq!(ir["name"], "agt-rings", "{run}");
    let rings = ir["rings"].as_object().cloned().unwrap_or_default();
    let levels: Vec<&str> = rings.keys().map(String::as_str).collect();
    assert_eq!(levels, ["0", "1", "2", "3"], "{run}");
    // No absolute build path leaks into the output.
    assert!(
        !run.stdout.contains(&workspace().display().to_string()),
        "{run}"
    );

    for level in ["0", "1", "2", "3"] {
        let one = nonoc_at_root(&[
            "compile",
            "policies/agt-rings.yaml",
            "--emit",
            "ir",
            "--ring",
            level,
        ]);
        assert_eq!(one.code, 0, "{one}");
        assert_eq!(one.json(), rings[level], "ring {level} alone differs");
    }
}

#[test]
fn compile_an_unknown_ring() {
    let run = nonoc_at_root(&[
        "compile",
        "policies/ci-runner.yaml",
        "--emit",
        "ir",
        "--ring",
        "9",
    ]);
    insta::assert_snapshot!(run, @r"
    ------- stderr -------
    error: the policy has no ring 9
    [exit status: 2]
    ");
}

#[test]
fn compile_an_invalid_policy() {
    let dir = scratch("compile_an_invalid_policy");
    write(&dir, "broken.yaml", INVALID);
    let run = nonoc(&dir, &["compile", "broken.yaml", "--emit", "ir"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    insta::assert_snapshot!(run);
}

#[test]
fn compile_to_a_file() {
    let dir = scratch("compile_to_a_file");
    let policy = workspace().join("policies/ci-runner.yaml");
    let policy = policy.to_string_lossy();
    let stdout = nonoc(&dir, &["compile", &policy, "--emit", "ir"]);
    assert_eq!(stdout.code, 0, "{stdout}");

    let run = nonoc(&dir, &["compile", &policy, "--emit", "ir", "-o", "ir.json"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    let written = std::fs::read_to_string(dir.join("ir.json")).unwrap();
    assert_eq!(written, stdout.stdout, "the file differs from stdout");
    assert_eq!(listing(&dir), ["ir.json"], "a temporary file was left");

    // Writing again replaces the file whole.
    std::fs::write(dir.join("ir.json"), "old").unwrap();
    let run = nonoc(
        &dir,
        &["compile", &policy, "--emit", "ir", "--output", "ir.json"],
    );
    assert_eq!(run.code, 0, "{run}");
    let written = std::fs::read_to_string(dir.join("ir.json")).unwrap();
    assert_eq!(written, stdout.stdout);
    assert_eq!(listing(&dir), ["ir.json"]);
}

#[test]
fn compile_leaves_no_file_on_error() {
    let dir = scratch("compile_leaves_no_file_on_error");
    write(&dir, "broken.yaml", INVALID);
    write(&dir, "warns.yaml", WARNS);

    let run = nonoc(
        &dir,
        &["compile", "broken.yaml", "--emit", "ir", "-o", "out.json"],
    );
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(listing(&dir), ["broken.yaml", "warns.yaml"], "{run}");

    let denied = [
        "compile",
        "warns.yaml",
        "--emit",
        "ir",
        "--deny-warnings",
        "-o",
        "out.json",
    ];
    let run = nonoc(&dir, &denied);
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(listing(&dir), ["broken.yaml", "warns.yaml"], "{run}");

    let run = nonoc(
        &dir,
        &[
            "compile",
            "warns.yaml",
            "--emit",
            "ir",
            "--ring",
            "7",
            "-o",
            "out.json",
        ],
    );
    assert_eq!(run.code, 2, "{run}");
    assert_eq!(listing(&dir), ["broken.yaml", "warns.yaml"], "{run}");

    // A file that is there already is left as it was.
    write(&dir, "out.json", "previous");
    let run = nonoc(
        &dir,
        &["compile", "broken.yaml", "--emit", "ir", "-o", "out.json"],
    );
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(
        std::fs::read_to_string(dir.join("out.json")).unwrap(),
        "previous"
    );
    assert_eq!(listing(&dir), ["broken.yaml", "out.json", "warns.yaml"]);
}

#[test]
fn compile_to_a_place_that_cannot_be_written() {
    let dir = scratch("compile_to_a_place_that_cannot_be_written");
    write(&dir, "warns.yaml", WARNS);
    std::fs::create_dir(dir.join("taken")).unwrap();
    for output in ["no/such/dir/out.json", "taken"] {
        let run = nonoc(
            &dir,
            &["compile", "warns.yaml", "--emit", "ir", "-o", output],
        );
        assert_eq!(run.code, 2, "-o {output}:\n{run}");
        assert!(
            run.stderr
                .contains(&format!("error: cannot write `{output}`")),
            "-o {output}:\n{run}"
        );
        assert_eq!(
            listing(&dir),
            ["taken", "warns.yaml"],
            "-o {output}:\n{run}"
        );
        assert!(listing(&dir.join("taken")).is_empty());
    }
}

#[test]
fn compile_writes_the_artifact() {
    let dir = scratch("compile_writes_the_artifact");
    write(&dir, "warns.yaml", WARNS);
    write(&dir, "broken.yaml", INVALID);
    let run = nonoc(&dir, &["compile", "warns.yaml", "-o", "out.nonoc.json"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert_eq!(
        listing(&dir),
        ["broken.yaml", "out.nonoc.json", "warns.yaml"]
    );
    let bytes = std::fs::read(dir.join("out.nonoc.json")).unwrap();
    let artifact: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert!(
        artifact["format"]
            .as_str()
            .is_some_and(|f| f.starts_with("nonoc-artifact/")),
        "not an artifact: {}",
        String::from_utf8_lossy(&bytes)
    );
    // `--emit artifact` is the same thing, on stdout without `-o`.
    let run = nonoc(&dir, &["compile", "warns.yaml", "--emit", "artifact"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.as_bytes() == bytes,
        "stdout differs from the file"
    );

    let run = nonoc(&dir, &["compile", "broken.yaml", "-o", "broken.nonoc.json"]);
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(
        listing(&dir),
        ["broken.yaml", "out.nonoc.json", "warns.yaml"]
    );
}

#[test]
fn every_emit_kind_works_or_says_it_is_not_available() {
    // Backends arrive one at a time; until one does, asking for it is a usage error with a
    // clear message, and nothing is written.
    let dir = scratch("every_emit_kind_works_or_says_it_is_not_available");
    write(&dir, "warns.yaml", WARNS);
    let requests: [&[&str]; 9] = [
        &["--emit", "ir"],
        &["--emit", "landlock", "--ring", "3"],
        &["--emit", "bpf", "--ring", "3"],
        &["--emit", "bpf-asm", "--ring", "3"],
        &["--emit", "sbpl", "--ring", "3"],
        &["--emit", "sbpl-params", "--ring", "3"],
        &["--emit", "artifact"],
        &["--target", "macos"],
        &["--target", "linux"],
    ];
    for request in requests {
        let mut args = vec!["compile", "warns.yaml", "-o", "out"];
        args.extend(request);
        let run = nonoc(&dir, &args);
        match run.code {
            0 => {
                assert!(!std::fs::read(dir.join("out")).unwrap().is_empty());
                std::fs::remove_file(dir.join("out")).unwrap();
            }
            2 => assert!(
                run.stderr.contains("is not available yet"),
                "{request:?}:\n{run}"
            ),
            _ => panic!("{request:?}:\n{run}"),
        }
        assert!(run.stdout.is_empty(), "{request:?}:\n{run}");
        assert_eq!(listing(&dir), ["warns.yaml"], "{request:?}:\n{run}");
    }
}

#[test]
fn compile_is_deterministic() {
    let dir = scratch("compile_is_deterministic");
    for name in ["agt-rings", "ci-runner", "coding-agent"] {
        let policy = workspace().join(format!("policies/{name}.yaml"));
        let policy = policy.to_string_lossy();
        let first = nonoc(&dir, &["compile", &policy, "--emit", "ir", "-o", "a.json"]);
        let second = nonoc(&dir, &["compile", &policy, "--emit", "ir", "-o", "b.json"]);
        assert_eq!((first.code, second.code), (0, 0), "{first}\n{second}");
        let a = std::fs::read(dir.join("a.json")).unwrap();
        let b = std::fs::read(dir.join("b.json")).unwrap();
        assert!(!a.is_empty());
        assert!(a == b, "{name}: two compiles differ");
        let third = nonoc(&dir, &["compile", &policy, "--emit", "ir"]);
        assert!(
            third.stdout.as_bytes() == a,
            "{name}: stdout differs from the file"
        );
        let first = nonoc(&dir, &["compile", &policy]);
        let second = nonoc(&dir, &["compile", &policy]);
        assert_eq!(first.code, second.code, "{first}\n{second}");
        assert!(
            first.stdout == second.stdout,
            "{name}: two artifacts differ"
        );
        assert!(
            !first.stdout.contains(&workspace().display().to_string()),
            "{name}: the artifact holds a build path"
        );
    }
}

#[test]
fn emit_sbpl_prints_the_profile_the_artifact_carries() {
    let dir = scratch("emit_sbpl_prints_the_profile_the_artifact_carries");
    for name in ["agt-rings", "ci-runner", "coding-agent"] {
        let policy = workspace().join(format!("policies/{name}.yaml"));
        let policy = policy.to_string_lossy();
        let artifact = nonoc(&dir, &["compile", &policy, "--target", "macos"]);
        assert_eq!(artifact.code, 0, "{artifact}");
        let artifact = artifact.json();
        for (level, ring) in artifact["rings"].as_object().unwrap() {
            assert!(
                ring.get("landlock").is_none(),
                "{name} {level}: --target macos"
            );
            let first = nonoc(
                &dir,
                &["compile", &policy, "--emit", "sbpl", "--ring", level],
            );
            let second = nonoc(
                &dir,
                &["compile", &policy, "--emit", "sbpl", "--ring", level],
            );
            assert_eq!((first.code, second.code), (0, 0), "{first}");
            assert!(
                first.stdout == second.stdout,
                "{name} ring {level}: two runs differ"
            );
            match ring.get("seatbelt") {
                Some(seatbelt) => {
                    assert_eq!(first.stdout, seatbelt["sbpl"].as_str().unwrap());
                    assert!(first.stdout.starts_with("(version 1)\n"), "{first}");
                }
                None => assert!(first.stdout.contains("unconfined"), "{first}"),
            }
        }
        let linux = nonoc(&dir, &["compile", &policy, "--target", "linux"]).json();
        for ring in linux["rings"].as_object().unwrap().values() {
            assert!(ring.get("seatbelt").is_none(), "{name}: --target linux");
        }
    }
}

#[test]
fn emit_sbpl_params_binds_as_the_runtime_does() {
    let policy = workspace().join("policies/coding-agent.yaml");
    let policy = policy.to_string_lossy();
    let dir = scratch("emit_sbpl_params_binds_as_the_runtime_does");
    let run = nonoc(
        &dir,
        &[
            "compile",
            &policy,
            "--emit",
            "sbpl-params",
            "--ring",
            "2",
            "--var",
            "workspace=/tmp/ws",
        ],
    );
    assert_eq!(run.code, 0, "{run}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.contains(&"NONOC_P0=/usr"), "{run}");
    assert!(lines.contains(&"NONOC_P4=/tmp/ws"), "{run}");
    assert!(lines.contains(&"NONOC_P5=/private/tmp/ws"), "{run}");
    assert!(lines.contains(&"NONOC_P15=/root/.cache"), "{run}");
    let profile = nonoc(&dir, &["compile", &policy, "--emit", "sbpl", "--ring", "2"]);
    for line in &lines {
        let (name, _) = line.split_once('=').unwrap();
        assert!(
            profile.stdout.contains(&format!("(param \"{name}\")")),
            "{name}"
        );
    }

    for (args, message) in [
        (vec!["--emit", "sbpl"], "needs `--ring N`"),
        (
            vec!["--emit", "sbpl", "--ring", "2", "--target", "linux"],
            "not `--target linux`",
        ),
        (
            vec!["--emit", "landlock", "--ring", "2", "--target", "macos"],
            "not `--target macos`",
        ),
        (
            vec!["--emit", "sbpl", "--ring", "2", "--var", "home=/h"],
            "`--var` applies to",
        ),
        (
            vec!["--emit", "sbpl-params", "--ring", "2", "--var", "nope=/h"],
            "not declared",
        ),
        (
            vec!["--emit", "sbpl-params", "--ring", "2", "--var", "home=rel"],
            "not absolute",
        ),
    ] {
        let mut all = vec!["compile", &policy];
        all.extend(args);
        let run = nonoc(&dir, &all);
        assert_eq!(run.code, 2, "{run}");
        assert!(run.stdout.is_empty(), "{run}");
        assert!(run.stderr.contains(message), "{message}: {run}");
    }
}

// --- schema ---

#[test]
fn schema_prints_the_policy_schema() {
    let run = nonoc_at_root(&["schema"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.is_empty(), "{run}");
    assert_eq!(run.stdout, nonoc::schema::policy_schema());
    let committed =
        std::fs::read_to_string(workspace().join("schemas/policy.schema.json")).unwrap();
    assert_eq!(
        run.stdout, committed,
        "schemas/policy.schema.json is stale: cargo run -p nonoc -- schema > schemas/policy.schema.json"
    );
    let schema = run.json();
    assert_eq!(schema["title"], "nonoc ring policy (v1)");
}

#[test]
fn completions_and_man_page_are_generated_from_the_cli() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = nonoc_at_root(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for word in ["check", "compile", "exec", "doctor", "schema"] {
            assert!(
                run.stdout.contains(word),
                "{shell} completions lack `{word}`"
            );
        }
    }
    let run = nonoc_at_root(&["completions", "nosuchshell"]);
    assert_eq!(run.code, 2);
    let run = nonoc_at_root(&["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(".TH nonoc 1"), "{}", run.stdout);
    assert!(run.stdout.contains("exec"));
}

#[test]
fn test_explain_inspect_and_diff_run_from_the_binary() {
    // `nonoc test`: every example policy passes its own tests.
    for policy in [
        "policies/agt-rings.yaml",
        "policies/coding-agent.yaml",
        "policies/ci-runner.yaml",
    ] {
        let run = nonoc_at_root(&["test", policy]);
        assert_eq!(run.code, 0, "{run}");
        assert!(
            run.stdout
                .trim_end()
                .lines()
                .last()
                .is_some_and(|l| l.ends_with(" passed, 0 failed")),
            "{run}"
        );
    }
    // `nonoc explain`: the first line is the verdict.
    let run = nonoc_at_root(&[
        "explain",
        "policies/agt-rings.yaml",
        "--ring",
        "1",
        "--read",
        "/root/.ssh/id",
    ]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout.lines().next(), Some("deny"), "{run}");
    assert!(run.stdout.contains("policies/agt-rings.yaml:48:5"), "{run}");
    let run = nonoc_at_root(&[
        "explain",
        "policies/agt-rings.yaml",
        "--ring",
        "2",
        "--connect-tcp",
        "443",
    ]);
    assert_eq!(run.stdout.lines().next(), Some("allow"), "{run}");
    let run = nonoc_at_root(&[
        "explain",
        "policies/agt-rings.yaml",
        "--ring",
        "9",
        "--read",
        "/x",
    ]);
    assert_eq!(run.code, 2, "{run}");
    // `nonoc inspect`: a compiled artifact verifies; a tampered one does not.
    let dir = scratch("inspect-bin");
    let artifact = dir.join("a.json");
    let artifact = artifact.to_str().unwrap();
    let policy = workspace().join("policies/agt-rings.yaml");
    assert_eq!(
        nonoc(&dir, &["compile", policy.to_str().unwrap(), "-o", artifact]).code,
        0
    );
    let run = nonoc(&dir, &["inspect", artifact, "--matrix"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("(verified)"), "{run}");
    let mut bytes = std::fs::read(artifact).unwrap();
    let at = bytes.iter().position(|b| *b == b'3').unwrap();
    bytes[at] = b'4';
    std::fs::write(artifact, &bytes).unwrap();
    assert_eq!(nonoc(&dir, &["inspect", artifact]).code, 1);
    // `nonoc diff`: a policy against itself has no escalation.
    let run = nonoc_at_root(&[
        "diff",
        "policies/agt-rings.yaml",
        "policies/agt-rings.yaml",
        "--fail-on-escalation",
    ]);
    assert_eq!(run.code, 0, "{run}");
}

#[test]
fn a_policy_too_large_for_macos_compiles_for_linux() {
    // macOS refuses Seatbelt profiles over 64 KiB; 2,000 paths need more. The macOS check is
    // an error for `check` and for an artifact of every system, and is not run for Linux only.
    let dir = scratch("a_policy_too_large_for_macos_compiles_for_linux");
    let mut text = String::from(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: large\nrings:\n  3:\n    filesystem:\n      read:\n",
    );
    for i in 0..2000 {
        text.push_str(&format!("        - /srv/data/p{i}\n"));
    }
    write(&dir, "large.yaml", &text);
    let run = nonoc(&dir, &["check", "large.yaml"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("NC0902"), "{run}");
    let run = nonoc(&dir, &["compile", "large.yaml", "-o", "all.nonoc.json"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("NC0902"), "{run}");
    let run = nonoc(
        &dir,
        &[
            "compile",
            "large.yaml",
            "--target",
            "linux",
            "-o",
            "linux.nonoc.json",
        ],
    );
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.is_empty(), "{run}");
    assert_eq!(listing(&dir), ["large.yaml", "linux.nonoc.json"]);
    let run = nonoc(
        &dir,
        &[
            "compile",
            "large.yaml",
            "--target",
            "macos",
            "-o",
            "mac.json",
        ],
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(!dir.join("mac.json").exists());
}

/// A policy given where an artifact is expected, and an artifact where a policy is: each
/// command says which it got and names the command to run instead.
#[test]
fn a_policy_and_an_artifact_mixed_up_name_the_command_to_run() {
    let dir = scratch("mixed-up");
    let policy = workspace().join("policies/agt-rings.yaml");
    let policy = policy.to_string_lossy();
    let artifact = dir.join("agt.nonoc.json");
    let artifact = artifact.to_string_lossy();
    let run = nonoc(&dir, &["compile", &policy, "-o", &artifact]);
    assert_eq!(run.code, 0, "{run}");
    let expected =
        format!("`{policy}` is a policy, not an artifact: run `nonoc compile {policy} -o ");
    for (args, code) in [
        (vec!["inspect", &*policy], 1),
        (vec!["doctor", &*policy], 1),
        (vec!["exec", &*policy, "--ring", "3", "--", "true"], 126),
    ] {
        let run = nonoc(&dir, &args);
        assert_eq!(run.code, code, "{args:?}:\n{run}");
        assert!(run.stderr.contains(&expected), "{args:?}:\n{run}");
        assert!(!run.stderr.contains("malformed"), "{args:?}:\n{run}");
    }
    let expected = format!(
        "error: `{artifact}` is an artifact, not a policy: give the policy it was compiled from, or run `nonoc inspect {artifact}`"
    );
    for args in [
        vec!["check", &*artifact],
        vec!["compile", &*artifact, "-o", "out.json"],
        vec!["test", &*artifact],
        vec!["explain", &*artifact, "--ring", "3", "--read", "/etc"],
        vec!["diff", &*artifact, &*policy],
        vec!["inspect", "--matrix", "--policy", &*artifact],
    ] {
        let run = nonoc(&dir, &args);
        assert_eq!(run.code, 2, "{args:?}:\n{run}");
        assert!(run.stderr.contains(&expected), "{args:?}:\n{run}");
        assert!(!run.stderr.contains("NC0"), "{args:?}:\n{run}");
    }
    assert!(!dir.join("out.json").exists());
}

/// `doctor` exits 1 when a ring of the artifact cannot be applied here (a variable with no
/// value), and says which ring and why; the other rings are still reported.
#[test]
fn doctor_exits_1_when_a_ring_cannot_be_applied() {
    let dir = scratch("doctor-cannot-apply");
    let policy = "\
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: { name: unbound }
variables:
  data: { env: NONOC_CLI_TEST_UNSET }
rings:
  2:
    filesystem: { read: [/usr] }
  3:
    filesystem: { read: [/usr, \"${data}\"] }
";
    std::fs::write(dir.join("unbound.yaml"), policy).unwrap_or_else(|e| panic!("{e}"));
    let run = nonoc(
        &dir,
        &["compile", "unbound.yaml", "-o", "unbound.nonoc.json"],
    );
    assert_eq!(run.code, 0, "{run}");
    let run = nonoc(&dir, &["doctor", "unbound.nonoc.json"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains("ring 2: landlock"), "{run}");
    assert!(
        run.stdout.contains("ring 3: cannot be applied here: "),
        "{run}"
    );
    assert!(run.stdout.contains("`data`"), "{run}");
    let run = nonoc(
        &dir,
        &["doctor", "unbound.nonoc.json", "--var", "data=/usr"],
    );
    assert_eq!(run.code, 0, "{run}");
}
