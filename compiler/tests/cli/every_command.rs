//! Every command and its error paths, as transcripts: for each run the command line, stdout,
//! stderr and the exit code, one snapshot per command. The runs use small policies written
//! here (not `policies/`, which change for their own reasons) in a directory of the test's
//! own, by relative names; what still depends on the host or the build is replaced: the
//! scratch directory by `[dir]`, sha256 digests by `[sha256]`, the version by `[version]`,
//! and `doctor`'s findings about this kernel by what they stand for.

use super::*;

/// Three rings (3 read-only, 2 writes the workspace and reaches HTTPS, 0 unconfined), trust
/// tiers, a variable, a global deny, and tests that pass.
const EXAMPLE: &str = r#"apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: example
  description: A small policy for the CLI tests
variables:
  workspace:
    env: EXAMPLE_WORKSPACE
    default: /srv/workspace
trust_tiers:
  - { name: trusted, min_score: 700, ring: 2 }
  - { name: untrusted, min_score: 0, ring: 3 }
deny:
  - path: /srv/secrets
rings:
  3:
    description: Read-only
    filesystem:
      read: [/usr, "${workspace}"]
      execute: [/usr/bin]
    network:
      mode: blocked
    process:
      fork: false
    syscalls:
      presets: [hardening]
  2:
    description: Workspace read-write, HTTPS out
    extends: 3
    filesystem:
      write: ["${workspace}"]
    network:
      mode: restricted
      connect_tcp: [443]
      bind_tcp: [8080]
    process:
      fork: true
      signals: sandbox
  0:
    unconfined: true
tests:
  - { ring: 3, read: /usr/lib/os-release, expect: allow }
  - { ring: 3, write: "${workspace}/out.txt", expect: deny }
  - { ring: 2, write: "${workspace}/out.txt", expect: allow }
  - { ring: 2, connect_tcp: 443, expect: allow }
  - { trust_score: 100, fork: true, expect: deny }
  - { ring: 2, syscall: { name: unshare, args: [CLONE_NEWUSER] }, expect: deny }
"#;

/// One small ring for `compile --emit`, whose outputs are long for bigger rings.
const SMALL: &str = r#"apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: small
rings:
  3:
    filesystem:
      read: [/usr]
      write: [/var/cache/app]
    network:
      mode: restricted
      connect_tcp: [443]
    process:
      fork: false
      signals: sandbox
"#;

/// Tests that fail: a wrong expectation, and a request on a variable with no value.
const FAILING_TESTS: &str = r#"  - { ring: 3, connect_tcp: 443, expect: allow }
  - { ring: 2, read: "${scratch}/notes", expect: allow }
"#;

/// EXAMPLE with ring 3 given TCP to port 22, ring 2's bind port dropped, and the trusted
/// tier lowered to 500 (scores 500..=699 now get ring 2).
fn escalated() -> String {
    EXAMPLE
        .replace(
            "    network:\n      mode: blocked\n",
            "    network:\n      mode: restricted\n      connect_tcp: [22]\n",
        )
        .replace("      bind_tcp: [8080]\n", "")
        .replace("min_score: 700, ring: 2", "min_score: 500, ring: 2")
}

/// A directory of its own holding `example.yaml`, `small.yaml`, `failing.yaml`, `escalated.yaml`,
/// `broken.yaml` (three errors), `warns.yaml` (one warning) and the artifacts
/// `example.nonoc.json` and `tampered.nonoc.json`.
fn setup(test: &str) -> PathBuf {
    let dir = scratch(test);
    write(&dir, "example.yaml", EXAMPLE);
    write(&dir, "small.yaml", SMALL);
    let failing = EXAMPLE.replace(
        "variables:\n",
        "variables:\n  scratch:\n    env: EXAMPLE_SCRATCH\n",
    ) + FAILING_TESTS;
    write(&dir, "failing.yaml", &failing);
    write(&dir, "escalated.yaml", &escalated());
    write(&dir, "broken.yaml", INVALID);
    write(&dir, "warns.yaml", WARNS);
    let run = nonoc(
        &dir,
        &["compile", "example.yaml", "-o", "example.nonoc.json"],
    );
    assert_eq!(run.code, 0, "{run}");
    let text = std::fs::read_to_string(dir.join("example.nonoc.json")).unwrap_or_default();
    assert!(text.contains("\"bind_tcp\":[8080]"), "{text}");
    write(
        &dir,
        "tampered.nonoc.json",
        &text.replace("\"bind_tcp\":[8080]", "\"bind_tcp\":[8080,22]"),
    );
    dir
}

/// `nonoc ARGS` for each line of `commands` (split at spaces), one after the other in `dir`,
/// as one transcript.
fn transcript(dir: &Path, commands: &[&str]) -> String {
    let mut text = String::new();
    for command in commands {
        let args: Vec<&str> = command.split(' ').filter(|a| !a.is_empty()).collect();
        let run = nonoc(dir, &args);
        text.push_str(&format!("$ nonoc {command}\n{run}\n\n"));
    }
    redact(&text, dir)
}

/// Replaces what depends on where and with what the tests run.
fn redact(text: &str, dir: &Path) -> String {
    let text = text
        .replace(&dir.display().to_string(), "[dir]")
        .replace(env!("CARGO_PKG_VERSION"), "[version]");
    // Runs of 64 hex digits: artifact digests and source hashes.
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let len = from
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(from.len());
        let prev_is_word = out.chars().last().is_some_and(char::is_alphanumeric);
        if len == 64 && !prev_is_word {
            out.push_str("[sha256]");
        } else {
            out.push_str(&from[..len]);
        }
        rest = &from[len..];
    }
    out.push_str(rest);
    out
}

/// Replaces `doctor`'s findings about this machine and its kernel by what they stand for.
fn redact_host(text: &str) -> String {
    let host = [
        ("arch: ", "arch: [this machine's]"),
        ("landlock: ABI ", "landlock: [this kernel's ABI]"),
        ("landlock: unavailable", "landlock: [this kernel's ABI]"),
        ("seccomp: ", "seccomp: [this kernel's actions]"),
        ("isolation: ", "isolation: [this host's namespaces]"),
        (
            "  seccomp (",
            "  seccomp ([this machine's arch]): [its filter's stats]",
        ),
    ];
    text.lines()
        .map(|line| {
            if let Some((_, stands_for)) = host.iter().find(|(p, _)| line.starts_with(p)) {
                return (*stands_for).to_owned();
            }
            // `ring N: landlock fully enforced; K rules` depends on the kernel's ABI.
            if let Some((ring, status)) = line.split_once(": landlock ")
                && ring.starts_with("ring ")
            {
                let rules = status.rsplit_once("; ").map_or("", |(_, r)| r);
                return format!("{ring}: landlock [as this kernel enforces it]; {rules}");
            }
            line.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn redaction_leaves_everything_else() {
    let dir = Path::new("/some/dir");
    let digest = "ab".repeat(32);
    let text = format!(
        "/some/dir/x.json sha256:{digest} nonoc {}\nkeep deadbeef and a{digest}\narch: aarch64\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        redact(&text, dir),
        format!(
            "[dir]/x.json sha256:[sha256] nonoc [version]\nkeep deadbeef and a{digest}\narch: aarch64\n"
        )
    );
    assert_eq!(
        redact_host("arch: aarch64\nring 2: landlock fully enforced; 9 rules\n  ring 2 stays\n"),
        "arch: [this machine's]\nring 2: landlock [as this kernel enforces it]; 9 rules\n  ring 2 stays\n"
    );
}

#[test]
fn check_transcript() {
    let dir = setup("check_transcript");
    insta::assert_snapshot!(
        "check_transcript",
        transcript(
            &dir,
            &[
                "check example.yaml",
                "check warns.yaml",
                "check warns.yaml --deny-warnings",
                "check example.yaml --format json",
                "check broken.yaml --format json",
                "check broken.yaml missing.yaml",
                "check --format yaml example.yaml",
            ]
        )
    );
}

/// SARIF: the results in full; the rule metadata (the pages of docs/diagnostics.md of the
/// codes reported) by the ids only, in the order of the log.
#[test]
fn check_sarif() {
    let dir = setup("check_sarif");
    let mut text = String::new();
    for file in ["example.yaml", "broken.yaml"] {
        let run = nonoc(&dir, &["check", "--format", "sarif", file]);
        let log = run.json();
        let run0 = &log["runs"][0];
        let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r["id"].as_str()).collect())
            .unwrap_or_default();
        // One rule per code reported, in the order of the codes, each linking to its page.
        let mut reported: Vec<&str> = run0["results"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r["ruleId"].as_str()).collect())
            .unwrap_or_default();
        reported.sort_unstable();
        reported.dedup();
        assert_eq!(rules, reported, "one rule per code reported, in order");
        for rule in run0["tool"]["driver"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let uri = rule["helpUri"].as_str().unwrap_or_default();
            assert!(uri.contains("docs/diagnostics.md#nc"), "{rule}");
        }
        // Each result points at its rule; the index itself moves whenever a code is added.
        let mut results = run0["results"].clone();
        for result in results.as_array_mut().into_iter().flatten() {
            let index = result["ruleIndex"].as_u64().unwrap_or(u64::MAX);
            let id = usize::try_from(index).ok().and_then(|i| rules.get(i));
            assert_eq!(id.copied(), result["ruleId"].as_str(), "{run}");
            result["ruleIndex"] = Value::from("[index of ruleId]");
        }
        let results = serde_json::to_string_pretty(&results).unwrap_or_default();
        text.push_str(&format!(
            "$ nonoc check --format sarif {file}\nversion: {}\nrules: {rules:?}\nresults: {results}\nstderr: {:?}\n[exit status: {}]\n\n",
            log["version"], run.stderr, run.code
        ));
    }
    insta::assert_snapshot!("check_sarif", redact(&text, &dir));
}

#[test]
fn compile_transcript() {
    let dir = setup("compile_transcript");
    insta::assert_snapshot!(
        "compile_transcript",
        transcript(
            &dir,
            &[
                "compile small.yaml --emit ir --ring 3",
                "compile small.yaml --emit landlock --ring 3",
                "compile example.yaml --emit landlock --ring 0",
                "compile small.yaml --emit bpf-asm --ring 3 --arch x86_64",
                "compile small.yaml --emit bpf-asm --ring 3 --arch aarch64",
                "compile small.yaml --emit bpf --ring 3 --arch x86_64 -o ring3.bpf",
                "compile small.yaml --emit sbpl --ring 3",
                "compile small.yaml --emit sbpl-params --ring 3",
                "compile small.yaml --target macos -o macos.nonoc.json",
                "compile example.yaml -o out.nonoc.json",
                "compile example.yaml --target linux -o linux.nonoc.json",
            ]
        )
    );
    // The raw program is the listing's instructions, 8 bytes each.
    let asm = nonoc(
        &dir,
        &[
            "compile",
            "small.yaml",
            "--emit",
            "bpf-asm",
            "--ring",
            "3",
            "--arch",
            "x86_64",
        ],
    );
    let instructions = asm
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    let raw = std::fs::read(dir.join("ring3.bpf")).unwrap_or_default();
    assert_eq!(raw.len(), instructions * 8, "{asm}");
    assert_eq!(
        std::fs::read(dir.join("out.nonoc.json")).unwrap_or_default(),
        std::fs::read(dir.join("example.nonoc.json")).unwrap_or_default(),
    );
}

#[test]
fn compile_errors_transcript() {
    let dir = setup("compile_errors_transcript");
    let before = listing(&dir);
    insta::assert_snapshot!(
        "compile_errors_transcript",
        transcript(
            &dir,
            &[
                "compile example.yaml --emit ir --ring 9 -o out.json",
                "compile example.yaml --emit bpf --ring 3 --arch sparc -o out.json",
                "compile example.yaml --emit landlock -o out.json",
                "compile missing.yaml -o out.json",
                "compile broken.yaml -o out.json",
                "compile warns.yaml --deny-warnings -o out.json",
                "compile example.yaml -o no/such/dir/out.json",
                "compile example.yaml --emit nonsense",
                "compile",
            ]
        )
    );
    assert_eq!(listing(&dir), before, "an error left a file behind");
}

#[test]
fn exec_errors_transcript() {
    let dir = setup("exec_errors_transcript");
    write(
        &dir,
        "malformed.nonoc.json",
        "{\"format\": \"nonoc-artifact/v1\"",
    );
    let marker = "marker";
    insta::assert_snapshot!(
        "exec_errors_transcript",
        transcript(
            &dir,
            &[
                "exec example.nonoc.json --ring 3 --var workspace -- touch marker",
                "exec example.nonoc.json --ring 3 --var =/srv -- touch marker",
                "exec example.nonoc.json -- touch marker",
                "exec missing.nonoc.json --ring 3 -- touch marker",
                "exec tampered.nonoc.json --ring 3 -- touch marker",
                "exec malformed.nonoc.json --ring 3 -- touch marker",
                "exec example.nonoc.json --ring 9 -- touch marker",
                "exec example.nonoc.json --trust-score 1001 -- touch marker",
                "exec example.nonoc.json --ring 0 -- touch marker",
                "exec example.nonoc.json --ring 3 --var nope=/srv -- touch marker",
                "exec example.nonoc.json --ring 3 --var workspace=relative -- touch marker",
                "exec example.nonoc.json --ring 0 --allow-unconfined -- no-such-command-nonoc",
            ]
        )
    );
    assert!(!dir.join(marker).exists(), "a command ran");
}

#[test]
fn test_transcript() {
    let dir = setup("test_transcript");
    insta::assert_snapshot!(
        "test_transcript",
        transcript(
            &dir,
            &[
                "test example.yaml",
                "test failing.yaml",
                "test failing.yaml --var scratch=/srv/scratch",
                "test example.yaml --var nope=/x",
                "test example.yaml --var workspace=relative",
                "test example.yaml --var workspace",
                "test broken.yaml",
                "test missing.yaml",
                "test missing.yaml --kernel",
            ]
        )
    );
}

#[test]
fn explain_transcript() {
    let dir = setup("explain_transcript");
    insta::assert_snapshot!(
        "explain_transcript",
        transcript(
            &dir,
            &[
                "explain example.yaml --ring 3 --read /usr/lib/os-release",
                "explain example.yaml --ring 3 --read /srv/secrets/key",
                "explain example.yaml --ring 2 --write /srv/workspace/out.txt",
                "explain example.yaml --ring 2 --write /srv/workspace/out.txt --var workspace=/data",
                "explain example.yaml --ring 3 --execute /usr/bin/git",
                "explain example.yaml --ring 2 --connect-tcp 443",
                "explain example.yaml --ring 3 --connect-tcp 443",
                "explain example.yaml --ring 2 --bind-tcp 8080",
                "explain example.yaml --ring 2 --syscall ptrace",
                "explain example.yaml --ring 3 --syscall mount",
                "explain example.yaml --ring 0 --syscall mount",
                "explain example.yaml --ring 2 --connect-tcp 443 --format json",
                "explain example.yaml --ring 9 --read /usr",
                "explain example.yaml --ring 3",
                "explain example.yaml --ring 3 --read /usr --write /usr",
                "explain example.yaml --ring 3 --syscall no_such_call",
                "explain missing.yaml --ring 3 --read /usr",
                "explain broken.yaml --ring 3 --read /usr",
            ]
        )
    );
}

#[test]
fn inspect_transcript() {
    let dir = setup("inspect_transcript");
    write(
        &dir,
        "malformed.nonoc.json",
        "{\"format\": \"nonoc-artifact/v1\"",
    );
    insta::assert_snapshot!(
        "inspect_transcript",
        transcript(
            &dir,
            &[
                "inspect example.nonoc.json",
                "inspect example.nonoc.json --matrix",
                "inspect example.yaml --matrix --policy",
                "inspect tampered.nonoc.json",
                "inspect malformed.nonoc.json",
                "inspect missing.nonoc.json",
                "inspect example.yaml --policy",
            ]
        )
    );
    let run = nonoc(&dir, &["inspect", "example.nonoc.json", "--format", "json"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.json()["digest_verified"], true, "{run}");
}

#[test]
fn diff_transcript() {
    let dir = setup("diff_transcript");
    insta::assert_snapshot!(
        "diff_transcript",
        transcript(
            &dir,
            &[
                "diff example.yaml example.yaml --fail-on-escalation",
                "diff example.yaml escalated.yaml",
                "diff example.yaml escalated.yaml --fail-on-escalation",
                "diff escalated.yaml example.yaml --fail-on-escalation",
                "diff example.yaml escalated.yaml --format json --fail-on-escalation",
                "diff example.yaml missing.yaml",
                "diff example.yaml broken.yaml",
            ]
        )
    );
}

#[test]
fn doctor_transcript() {
    let dir = setup("doctor_transcript");
    std::fs::create_dir_all(dir.join("ws")).unwrap_or_default();
    let ws = format!("workspace={}", dir.join("ws").display());
    insta::assert_snapshot!(
        "doctor_transcript",
        redact_host(&transcript(
            &dir,
            &[
                "doctor",
                &format!("doctor example.nonoc.json --var {ws}"),
                "doctor missing.nonoc.json",
                "doctor tampered.nonoc.json",
                "doctor example.nonoc.json --var nope",
            ]
        ))
    );
}

/// Generated from the clap definition: the opening lines show each is what it says.
#[test]
fn completions_man_schema_and_top_level_transcript() {
    let dir = setup("completions_man_schema_and_top_level_transcript");
    let mut text = String::new();
    for (command, lines) in [
        ("completions bash", 2),
        ("completions zsh", 2),
        ("completions fish", 1),
        ("completions elvish", 2),
        ("completions powershell", 2),
        ("man", 6),
        ("schema", 4),
        ("schema --artifact", 4),
    ] {
        let args: Vec<&str> = command.split(' ').collect();
        let run = nonoc(&dir, &args);
        let head: Vec<&str> = run.stdout.lines().take(lines).collect();
        text.push_str(&format!(
            "$ nonoc {command} | head -{lines}\n{}\nstderr: {:?}\n[exit status: {}]\n\n",
            head.join("\n"),
            run.stderr,
            run.code
        ));
    }
    let text = redact(&text, &dir)
        + &transcript(
            &dir,
            &[
                "completions nosuchshell",
                "--version",
                "frobnicate",
                "",
                "help test",
            ],
        );
    insta::assert_snapshot!("completions_man_schema_and_top_level", text);
}
