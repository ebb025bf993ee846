//! Fixture tests. Every bad policy in `tests/fixtures/invalid/` is rejected with at least one
//! error, the code its file name promises among them, and its rendered diagnostics match the
//! snapshot beside this file; `nonoc check` exits 1 on it and never panics. Every policy in
//! `tests/fixtures/valid/` checks without errors and passes its own `tests:` section. Every
//! error code a file can produce has an invalid fixture.
//!
//! Review a changed snapshot by reading it: the code, the span on the right token, a lower-case
//! message with user input in backticks, and help that says how to fix it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nonoc::cli::check::CheckArgs;
use nonoc::cli::{Command, Context, Exit, Format, Style, dispatch};
use nonoc::diagnostic::{Code, Diagnostic, Severity, render};
use nonoc::ir::{Platform, bind, run_tests};
use nonoc::syntax::MAX_INPUT_BYTES;

/// Codes with error severity that no file can produce as an error, and why. Every other code
/// that is an error by default or can be raised to one by a setting needs an invalid fixture.
const NOT_FROM_A_FILE: &[(Code, &str)] = &[
    // Warnings that no setting of the file raises; only `--deny-warnings` on the command line
    // does. `warning_codes_are_warnings` shows each of them.
    (
        Code::SyscallOneArch,
        "a warning; raised only by --deny-warnings",
    ),
    (
        Code::AllowListIgnored,
        "a warning; raised only by --deny-warnings",
    ),
    (
        Code::Monotonicity,
        "a warning; raised only by --deny-warnings",
    ),
    (
        Code::PathConfusableChar,
        "a warning; raised only by --deny-warnings",
    ),
];

/// Warnings that `settings.unenforceable: error` raises to errors.
const RAISED_BY_SETTINGS: &[Code] = &[
    Code::DenyInsideAllow,
    Code::DenyGlobPartial,
    Code::SeatbeltCoarse,
    Code::SeatbeltRename,
];

/// Fixture files larger than this do not belong in the repository; generate them in a test.
const MAX_FIXTURE_BYTES: u64 = 100 * 1024;

fn fixtures_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(kind)
}

/// The files of `tests/fixtures/<kind>/`, sorted.
fn fixtures(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The code a fixture's name promises: `042-nc0005-binary-junk.yaml` -> `NC0005`.
fn promised_code(name: &str) -> Option<String> {
    name.split(['-', '.'])
        .find(|part| {
            part.len() == 6
                && part.starts_with("nc")
                && part[2..].bytes().all(|b| b.is_ascii_digit())
        })
        .map(str::to_uppercase)
}

/// Control characters (binary junk) shown escaped, so the snapshot stays plain text.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn severity(d: &Diagnostic) -> &'static str {
    match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

#[test]
fn invalid_fixtures_are_rejected() {
    insta::glob!("../fixtures/invalid", "*.yaml", |path| {
        let name = file_name(path);
        let bytes = std::fs::read(path).unwrap();
        let analysis = nonoc::analyze(&name, &bytes);
        let diagnostics: Vec<Diagnostic> = analysis.diagnostics.iter().cloned().collect();

        assert!(
            diagnostics.iter().any(Diagnostic::is_error),
            "{name}: no error in {diagnostics:#?}"
        );
        assert!(analysis.ir.is_none(), "{name}: an IR despite errors");
        for d in &diagnostics {
            assert!(
                Code::ALL.contains(&d.code),
                "{name}: unknown code {:?}",
                d.code
            );
        }
        if let Some(code) = promised_code(&name) {
            assert!(
                diagnostics
                    .iter()
                    .any(|d| d.is_error() && d.code.as_str() == code),
                "{name}: the name promises {code}, the errors are {diagnostics:#?}"
            );
        }

        let mut index = String::new();
        for d in &diagnostics {
            let place = d.span.map_or_else(
                || "no span".to_owned(),
                |s| {
                    let (line, column) = analysis.source.line_col(s.offset);
                    format!("{line}:{column}")
                },
            );
            index.push_str(&format!("{} {} at {place}\n", d.code, severity(d)));
        }
        let rendered = render(&diagnostics, &name, &analysis.source.text, false, 100);
        // The fixture's leading comment says what is wrong with it.
        let text = String::from_utf8_lossy(&bytes);
        let comment: Vec<&str> = text.lines().map_while(|l| l.strip_prefix("# ")).collect();
        let description = (!comment.is_empty()).then(|| printable(&comment.join(" ")));

        let mut settings = insta::Settings::clone_current();
        settings.set_omit_expression(true);
        if let Some(description) = description {
            settings.set_description(description);
        }
        settings.bind(|| {
            insta::assert_snapshot!(printable(&format!("{index}---\n{rendered}")));
        });
    });
}

#[test]
fn invalid_fixtures_make_check_exit_1_without_panicking() {
    let style = Style {
        color: false,
        width: 100,
    };
    let mut failures = Vec::new();
    for path in fixtures("invalid") {
        let name = file_name(&path);
        for format in [Format::Human, Format::Json, Format::Sarif] {
            let run =
                std::panic::catch_unwind(|| check(std::slice::from_ref(&path), format, style));
            let Ok((code, out, err)) = run else {
                failures.push(format!("{name} ({format:?}): `nonoc check` panicked"));
                continue;
            };
            if code != Exit::Failed {
                failures.push(format!("{name} ({format:?}): exit code {code:?}, not 1"));
            }
            match format {
                Format::Human => {
                    let err = String::from_utf8_lossy(&err);
                    if !err.contains(" error, ") && !err.contains(" errors, ") {
                        failures.push(format!("{name}: no error count on stderr: {err}"));
                    }
                }
                Format::Json => {
                    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
                    let errors = json
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|d| d["severity"] == "error")
                        .count();
                    if errors == 0 {
                        failures.push(format!("{name}: no error in the JSON output"));
                    }
                }
                Format::Sarif => {
                    let log: serde_json::Value = serde_json::from_slice(&out).unwrap();
                    let results = log["runs"][0]["results"].as_array().unwrap();
                    if !results.iter().any(|r| r["level"] == "error") {
                        failures.push(format!("{name}: no error result in the SARIF log"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_error_code_has_an_invalid_fixture() {
    let mut shown: BTreeMap<Code, Vec<String>> = BTreeMap::new();
    for path in fixtures("invalid") {
        let name = file_name(&path);
        let analysis = nonoc::analyze(&name, &std::fs::read(&path).unwrap());
        for d in analysis.diagnostics.iter().filter(|d| d.is_error()) {
            shown.entry(d.code).or_default().push(name.clone());
        }
    }
    let excluded: BTreeSet<Code> = NOT_FROM_A_FILE.iter().map(|(c, _)| *c).collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| c.default_severity() == Severity::Error || RAISED_BY_SETTINGS.contains(c))
        .filter(|c| !excluded.contains(c) && !shown.contains_key(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "no invalid fixture shows these codes as errors: {missing:?}"
    );
    // The exclusions are warnings, and stay warnings: else they need a fixture.
    for (code, why) in NOT_FROM_A_FILE {
        assert_eq!(code.default_severity(), Severity::Warning, "{code}: {why}");
        assert!(!RAISED_BY_SETTINGS.contains(code), "{code}: {why}");
    }
}

#[test]
fn invalid_fixture_names_say_which_code_they_show() {
    for path in fixtures("invalid") {
        let name = file_name(&path);
        let (number, rest) = name.split_at(3.min(name.len()));
        assert!(
            number.bytes().all(|b| b.is_ascii_digit())
                && rest.starts_with('-')
                && rest.ends_with(".yaml")
                && rest
                    .trim_end_matches(".yaml")
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}: fixture names are `NNN-ncXXXX-short-name.yaml`"
        );
        // Only the fixture that shows many errors at once names no single code.
        assert!(
            promised_code(&name).is_some() || name.contains("many-errors"),
            "{name}: the name should say which code the fixture shows"
        );
        let known = Code::ALL
            .iter()
            .any(|c| Some(c.as_str().to_owned()) == promised_code(&name));
        assert!(
            known || promised_code(&name).is_none(),
            "{name}: no such code"
        );
    }
}

#[test]
fn fixtures_are_small() {
    for kind in ["invalid", "valid"] {
        for path in fixtures(kind) {
            let size = std::fs::metadata(&path).unwrap().len();
            assert!(
                size <= MAX_FIXTURE_BYTES,
                "{}: {size} bytes; generate large inputs in a test instead",
                path.display()
            );
        }
    }
}

#[test]
fn valid_fixtures_check_clean_and_pass_their_tests() {
    let valid = fixtures("valid");
    assert!(valid.len() >= 4, "{valid:?}");
    for path in valid {
        let name = file_name(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(
                "# yaml-language-server: $schema=../../../schemas/policy.schema.json\n"
            ),
            "{name}: a valid fixture names the schema on its first line"
        );
        let analysis = nonoc::analyze(&name, text.as_bytes());
        let errors: Vec<&Diagnostic> = analysis
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        let ir = analysis.ir.unwrap();
        assert!(!ir.tests.is_empty(), "{name} has no tests");
        let bindings = bind(&ir, &nonoc_runtime::Bindings::new(), &|_| None).unwrap();
        let failed: Vec<_> = run_tests(&ir, &bindings, Platform::Linux)
            .into_iter()
            .filter(|o| !o.passed)
            .collect();
        assert!(failed.is_empty(), "{name}: failed tests: {failed:#?}");

        let style = Style {
            color: false,
            width: 100,
        };
        let (code, _, err) = check(&[path], Format::Human, style);
        assert_eq!(code, Exit::Ok, "{name}: {}", String::from_utf8_lossy(&err));
    }
}

/// The codes excluded above are real: each is produced, as a warning, by a policy that
/// otherwise checks clean.
#[test]
fn warning_codes_are_warnings() {
    const HEAD: &str = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: warn\n";
    let cases = [
        (
            Code::SyscallOneArch,
            "rings:\n  3:\n    syscalls:\n      deny: [fork]\n",
        ),
        (
            Code::AllowListIgnored,
            "rings:\n  3:\n    syscalls:\n      allow: [read]\n",
        ),
        (
            Code::Monotonicity,
            "rings:\n  2:\n    filesystem:\n      read: [/usr]\n  3:\n    filesystem:\n      read: [/etc]\n",
        ),
        (
            Code::PathConfusableChar,
            "deny:\n  - path: /root/.\u{0455}sh\nrings:\n  3:\n    filesystem:\n      read: [/usr]\n",
        ),
        (
            Code::HostNeverMatches,
            "rings:\n  3:\n    network:\n      mode: restricted\n      hosts: [api.example.com]\n      deny_hosts: [\"*.example.com\"]\n",
        ),
        (
            Code::WideWildcard,
            "rings:\n  3:\n    network:\n      mode: restricted\n      hosts: [\"*.co.uk\"]\n",
        ),
    ];
    for (code, rings) in cases {
        let analysis = nonoc::analyze("warn.yaml", format!("{HEAD}{rings}").as_bytes());
        let diagnostics: Vec<&Diagnostic> = analysis.diagnostics.iter().collect();
        assert!(
            diagnostics
                .iter()
                .any(|d| d.code == code && d.severity == Severity::Warning),
            "{code}: {diagnostics:#?}"
        );
        assert!(
            diagnostics.iter().all(|d| !d.is_error()),
            "{code}: {diagnostics:#?}"
        );
    }
}

/// A file over the size limit is refused before it is parsed (the bytes are made here: a
/// 5 MiB fixture does not belong in the repository).
#[test]
fn a_five_mib_file_exceeds_the_size_budget() {
    let mut text = String::from(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: huge\nrings:\n  3:\n    filesystem:\n      read:\n",
    );
    while text.len() < 5 * 1024 * 1024 {
        text.push_str("        - /usr/share/doc/a-rather-long-directory-name-to-fill-the-file\n");
    }
    assert!(text.len() > MAX_INPUT_BYTES);
    let analysis = nonoc::analyze("huge.yaml", text.as_bytes());
    let diagnostics: Vec<&Diagnostic> = analysis.diagnostics.iter().collect();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let d = diagnostics[0];
    assert_eq!(d.code, Code::ParserBudget);
    assert!(d.is_error());
    assert!(
        d.message.contains(&text.len().to_string())
            && d.message.contains(&MAX_INPUT_BYTES.to_string()),
        "{}",
        d.message
    );
    assert!(d.help.is_some());
}

/// `nonoc check` on the paths, as the binary runs it: exit code, stdout, stderr.
fn check(paths: &[PathBuf], format: Format, style: Style) -> (Exit, Vec<u8>, Vec<u8>) {
    let args = CheckArgs {
        policies: paths.to_vec(),
        deny_warnings: false,
        format,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut ctx = Context {
        out: &mut out,
        err: &mut err,
        style,
        env: &|_| None,
    };
    let code = dispatch(&Command::Check(args), &mut ctx);
    (code, out, err)
}
