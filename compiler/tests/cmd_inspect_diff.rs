//! `nonoc inspect` and `nonoc diff`, through their library handlers.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers report a broken test set-up by panicking, as a failed assertion does"
)]

use std::path::{Path, PathBuf};

use nonoc::cli::diff::DiffArgs;
use nonoc::cli::inspect::InspectArgs;
use nonoc::cli::{Command, Context, Format, Style, dispatch};

const STYLE: Style = Style {
    color: false,
    width: 100,
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn agt_rings() -> String {
    std::fs::read_to_string(workspace().join("policies/agt-rings.yaml")).unwrap()
}

/// An empty directory of its own for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cmd_inspect_diff")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` as `name` in the scratch dir and returns the path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `agt-rings.yaml` with each `(from, to)` replaced (each must occur).
fn variant(edits: &[(&str, &str)]) -> String {
    let mut text = agt_rings();
    for (from, to) in edits {
        assert!(text.contains(from), "`{from}` is not in agt-rings.yaml");
        text = text.replacen(from, to, 1);
    }
    text
}

/// Compiles a policy's text into artifact bytes.
fn compile(text: &str) -> Vec<u8> {
    let analysis = nonoc::analyze("policy.yaml", text.as_bytes());
    let ir = analysis.ir.expect("the policy compiles");
    let targets = nonoc::backend::Targets::ALL;
    nonoc::artifact::build(&ir, &analysis.lowered, text.as_bytes(), targets)
        .unwrap()
        .1
}

/// Replaces what changes with every edit of the policy or release of the compiler, so the
/// snapshot holds the layout.
fn redact(text: &str, artifact: &Path) -> String {
    let loaded = nonoc_runtime::Artifact::load(artifact).unwrap();
    text.replace(&loaded.digest, "sha256:[digest]")
        .replace(&loaded.policy.source_sha256, "[sha256]")
        .replace(env!("CARGO_PKG_VERSION"), "[version]")
}

struct Run {
    code: u8,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.stdout)?;
        if !self.stderr.is_empty() {
            writeln!(f, "------- stderr -------")?;
            f.write_str(&self.stderr)?;
        }
        write!(f, "[exit status: {}]", self.code)
    }
}

/// Runs a command as `nonoc` does, with in-memory writers and no environment.
fn run(command: Command) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut ctx = Context {
        out: &mut out,
        err: &mut err,
        style: STYLE,
        env: &|_| None,
    };
    let code = dispatch(&command, &mut ctx).code();
    Run {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

/// Replaces the scratch dir in output, so snapshots do not hold absolute paths.
fn scrub(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "[dir]")
}

fn run_inspect(path: &Path, matrix: bool, format: Format) -> Run {
    run(Command::Inspect(InspectArgs {
        artifact: path.to_owned(),
        matrix,
        policy: false,
        format,
    }))
}

fn run_diff(old: &Path, new: &Path, flag: bool, format: Format) -> Run {
    run(Command::Diff(DiffArgs {
        old: old.to_owned(),
        new: new.to_owned(),
        fail_on_escalation: flag,
        format,
    }))
}

/// A diff's stdout and exit code. Its stderr holds the policies' warnings (agt-rings has
/// carve-out warnings), rendered with the scratch paths; only their absence of errors is
/// checked.
fn diff_snapshot(r: &Run) -> String {
    assert!(!r.stderr.contains("error"), "{r}");
    format!("{}[exit status: {}]", r.stdout, r.code)
}

#[test]
fn inspect_a_compiled_artifact() {
    let dir = scratch("inspect_a_compiled_artifact");
    let artifact = dir.join("agt.json");
    std::fs::write(&artifact, compile(&agt_rings())).unwrap();
    let r = run_inspect(&artifact, false, Format::Human);
    assert_eq!(r.code, 0, "{r}");
    insta::assert_snapshot!(redact(&r.to_string(), &artifact));

    let r = run_inspect(&artifact, false, Format::Json);
    assert_eq!(r.code, 0, "{r}");
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["digest_verified"], true);
    assert_eq!(json["policy"], "agt-rings");
    assert_eq!(json["rings"].as_array().map(Vec::len), Some(4));
    assert_eq!(json["rings"][0]["unconfined"], true);
    assert_eq!(json["rings"][3]["tcp"]["restricted"], true);
    assert_eq!(json["rings"][3]["targets"]["seccomp"], "present");
    assert_eq!(json["rings"][0]["targets"]["seccomp"], "none");
    let arches: Vec<&str> = json["rings"][3]["seccomp"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["arch"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(arches, ["x86_64", "aarch64"]);
    assert!(json["rings"][3]["seccomp"][0]["stats"]["length"].as_u64() > Some(0));
    assert!(json.get("matrix").is_none());
}

#[test]
fn inspect_matrix_shows_the_ladder() {
    let dir = scratch("inspect_matrix_shows_the_ladder");
    let artifact = dir.join("agt.json");
    std::fs::write(&artifact, compile(&agt_rings())).unwrap();
    let r = run_inspect(&artifact, true, Format::Human);
    assert_eq!(r.code, 0, "{r}");
    let matrix = &r.stdout[r.stdout.find("capability").unwrap()..];
    insta::assert_snapshot!(matrix);

    let r = run_inspect(&artifact, true, Format::Json);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["matrix"]["rings"], serde_json::json!([0, 1, 2, 3]));
}

#[test]
fn matrix_from_a_policy_has_process_and_syscall_rows() {
    let policy = workspace().join("policies/agt-rings.yaml");
    let r = run(Command::Inspect(InspectArgs {
        artifact: policy.clone(),
        matrix: true,
        policy: true,
        format: Format::Human,
    }));
    assert_eq!(r.code, 0, "{r}");
    insta::assert_snapshot!(r.stdout);
}

#[test]
fn inspect_refuses_a_tampered_artifact() {
    let dir = scratch("inspect_refuses_a_tampered_artifact");
    let bytes = compile(&agt_rings());
    let text = String::from_utf8(bytes).unwrap();
    // Widen an execute rule to `/`: what an attacker would do. The digest no longer matches.
    let tampered = text.replacen("\"/usr/bin\"", "\"/\"", 1);
    assert_ne!(tampered, text);
    let path = write(&dir, "tampered.json", &tampered);
    let r = run_inspect(&path, false, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.is_empty(), "{r}");
    assert!(r.stderr.contains("is not a valid artifact"), "{r}");
    assert!(r.stderr.contains("modified after compilation"), "{r}");
}

#[test]
fn inspect_refuses_a_malformed_artifact_and_reports_io_errors() {
    let dir = scratch("inspect_refuses_a_malformed_artifact");
    let path = write(&dir, "bad.json", "{\"format\":\"nonoc-artifact/v1\"}");
    let r = run_inspect(&path, false, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("malformed"), "{r}");

    let path = write(&dir, "other.json", "{\"format\":\"other/v9\"}");
    let r = run_inspect(&path, false, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("unknown artifact format `other/v9`"),
        "{r}"
    );

    let r = run_inspect(&dir.join("missing.json"), false, Format::Human);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("cannot read"), "{r}");
}

#[test]
fn diff_of_a_policy_with_itself_is_empty() {
    let policy = workspace().join("policies/agt-rings.yaml");
    let r = run_diff(&policy, &policy, true, Format::Human);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(r.stdout, "no change in rights\n");
    // The policy's warnings are shown, as `check` shows them.
    assert!(!r.stderr.contains("error"), "{r}");
}

#[test]
fn diff_finds_a_widened_ring() {
    let dir = scratch("diff_finds_a_widened_ring");
    let old = write(&dir, "old.yaml", &agt_rings());
    let new = write(
        &dir,
        "new.yaml",
        &variant(&[
            (
                "connect_tcp: [53, 80, 443]",
                "connect_tcp: [22, 53, 80, 443]",
            ),
            (
                "write: [\"${workspace}\", /tmp]",
                "write: [\"${workspace}\", /tmp, /etc]",
            ),
            (
                "fork: true\n      signals: sandbox",
                "fork: true\n      signals: any",
            ),
        ]),
    );
    let r = run_diff(&old, &new, true, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    insta::assert_snapshot!(diff_snapshot(&r));
    let r = run_diff(&old, &new, false, Format::Human);
    assert_eq!(r.code, 0, "{r}");

    let r = run_diff(&old, &new, false, Format::Json);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["escalation"], true);
    let ring = |level: u64| {
        json["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["level"] == level)
    };
    let two = ring(2).unwrap();
    assert_eq!((&two["old_ring"], &two["new_ring"]), (&2.into(), &2.into()));
    let gains = two["gains"].as_array().unwrap();
    let port = gains
        .iter()
        .find(|g| g["area"] == "network" && g["text"] == "connect_tcp 22")
        .unwrap_or_else(|| panic!("{gains:?}"));
    // The same evidence as the human output, as data.
    let e = &port["evidence"][0];
    assert_eq!(e["subject"], "ring 2");
    assert_eq!(e["request"], "connect_tcp 22");
    assert_eq!(e["old"]["verdict"], "deny");
    assert_eq!(e["new"]["verdict"], "allow");
    assert_eq!(two["scores"][0]["tier"], "standard");
    // Ring 3 gains nothing and has no textual change: it is not listed.
    assert!(ring(3).is_none());
}

/// A unix socket grant and a kept capability are escalations (v1.1).
#[test]
fn diff_finds_unix_sockets_and_capabilities() {
    let dir = scratch("diff_finds_unix_sockets_and_capabilities");
    let old = write(&dir, "old.yaml", &agt_rings());
    let new = write(
        &dir,
        "new.yaml",
        &variant(&[(
            "    network:\n      mode: blocked\n    process:\n      fork: false",
            "    network:\n      mode: blocked\n      unix_connect: [/run/app.sock]\n    process:\n      capabilities: [net_bind_service]\n      fork: false",
        )]),
    );
    let r = run_diff(&old, &new, true, Format::Json);
    assert_eq!(r.code, 1, "{r}");
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let three = json["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["level"] == 3)
        .unwrap();
    let gains = three["gains"].as_array().unwrap();
    for (area, text) in [
        ("network", "unix_connect `/run/app.sock`"),
        ("process", "keep capability net_bind_service"),
    ] {
        assert!(
            gains
                .iter()
                .any(|g| g["area"] == area && g["text"].as_str().unwrap().starts_with(text)),
            "{gains:?}"
        );
    }
    let r = run_diff(&new, &old, true, Format::Json);
    assert_eq!(r.code, 0, "{r}");
}

#[test]
fn diff_of_a_narrowed_ring_has_only_losses() {
    let dir = scratch("diff_of_a_narrowed_ring_has_only_losses");
    let old = write(&dir, "old.yaml", &agt_rings());
    let new = write(
        &dir,
        "new.yaml",
        &variant(&[
            (
                "write: [\"${workspace}\", /tmp]",
                "write: [\"${workspace}\"]",
            ),
            ("connect_tcp: [53, 80, 443]", "connect_tcp: [443]"),
        ]),
    );
    let r = run_diff(&old, &new, true, Format::Human);
    assert_eq!(r.code, 0, "{r}");
    insta::assert_snapshot!(diff_snapshot(&r));
    let r = run_diff(&old, &new, true, Format::Json);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["escalation"], false);
    assert_eq!(json["gains"], 0);
    assert!(json["losses"].as_u64().unwrap() > 0);
}

#[test]
fn diff_reports_a_tier_moved_to_a_more_privileged_ring() {
    let dir = scratch("diff_reports_a_tier_moved");
    let old = write(&dir, "old.yaml", &agt_rings());
    let new = write(
        &dir,
        "new.yaml",
        &variant(&[(
            "{ name: trusted,          min_score: 700, ring: 2 }",
            "{ name: trusted,          min_score: 700, ring: 1 }",
        )]),
    );
    let r = run_diff(&old, &new, true, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    insta::assert_snapshot!(diff_snapshot(&r));
    // And back: losses only, no escalation.
    let r = run_diff(&new, &old, true, Format::Human);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout
            .starts_with("scores 700..=899 (tier `trusted`): ring 1 -> ring 2:\n  - read `/`"),
        "{r}"
    );
    assert!(!r.stdout.contains("\n  + "), "{r}");
}

#[test]
fn diff_names_a_variable_change_with_the_rules_it_moves() {
    let dir = scratch("diff_names_a_variable_change");
    let old = write(&dir, "old.yaml", &agt_rings());
    let new = write(
        &dir,
        "new.yaml",
        &variant(&[
            ("default: /root", "default: /root/sub"),
            (
                "compatibility: best_effort",
                "compatibility: hard_requirement",
            ),
        ]),
    );
    // With the defaults the deny of `${home}/.ssh` moves away from `/root/.ssh`, which ring 1
    // reads through its grant of `/`.
    let r = run_diff(&old, &new, true, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    insta::assert_snapshot!(diff_snapshot(&r));
    let r = run_diff(&old, &new, true, Format::Json);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let policy = &json["policy"];
    let variable = policy["gains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["area"] == "variables")
        .unwrap_or_else(|| panic!("{policy}"));
    assert!(
        variable["text"].as_str().unwrap().contains(
            "the deny of `${home}/.ssh` now covers `/root/sub/.ssh`, no longer `/root/.ssh`"
        ),
        "{variable}"
    );
    assert_eq!(variable["evidence"][0]["subject"], "ring 1");
    // The compatibility change strengthens enforcement: a loss.
    assert_eq!(policy["losses"][0]["area"], "settings");
    // The other direction of the same change of default is an escalation too: the deny moves.
    let r = run_diff(&new, &old, true, Format::Human);
    assert_eq!(r.code, 1, "{r}");
}

#[test]
fn diff_of_deny_excepts() {
    let policy = |except: &str| {
        format!(
            "apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: excepts }}
deny:
  - {{ path: /srv/secret, except: [{except}] }}
rings:
  1:
    filesystem:
      read: [/srv]
"
        )
    };
    let dir = scratch("diff_of_deny_excepts");
    let wide = write(&dir, "wide.yaml", &policy("/srv/secret/a, /srv/secret/b"));
    let narrow = write(&dir, "narrow.yaml", &policy("/srv/secret/a"));
    // Fewer excepts: the deny covers more, a loss only.
    let r = run_diff(&wide, &narrow, true, Format::Human);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("  - read `/srv/secret/b`"), "{r}");
    assert!(!r.stdout.contains("+ "), "{r}");
    // More excepts: a gain.
    let r = run_diff(&narrow, &wide, true, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains("  + read `/srv/secret/b`"), "{r}");
    assert!(
        r.stdout
            .contains("before: denied by `/srv/secret` (read_file) at line 5 (global deny)"),
        "{r}"
    );
}

#[test]
fn diff_of_rings_added_and_an_unconfined_one() {
    let dir = scratch("diff_of_rings_added");
    let old = write(
        &dir,
        "old.yaml",
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: r }\nrings:\n  3:\n    filesystem:\n      read: [/usr]\n",
    );
    let confined = write(
        &dir,
        "confined.yaml",
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: r }\nrings:\n  3:\n    filesystem:\n      read: [/usr]\n  4:\n    filesystem:\n      read: [/usr]\n",
    );
    // A ring no tier selects is still reachable with `--ring`: compared against nothing.
    let r = run_diff(&old, &confined, true, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stdout.starts_with("ring 4 (new):\n  + read `/usr`"),
        "{r}"
    );
    let unconfined = write(
        &dir,
        "unconfined.yaml",
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: r }\nrings:\n  3:\n    filesystem:\n      read: [/usr]\n  0:\n    unconfined: true\n",
    );
    let r = run_diff(&old, &unconfined, true, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stdout.contains(
            "ring 0 (new):\n  + unconfined: applies no sandbox, every request is allowed"
        ),
        "{r}"
    );
    // Removing a ring is a loss.
    let r = run_diff(&confined, &old, true, Format::Human);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.starts_with("ring 4 (removed):\n  - read `/usr`"),
        "{r}"
    );
}

#[test]
fn diff_fails_on_errors_and_io() {
    let dir = scratch("diff_fails_on_errors_and_io");
    let good = workspace().join("policies/agt-rings.yaml");
    let bad = write(&dir, "bad.yaml", "apiVersion: nonoc.dev/v1\nkind: Nope\n");
    let r = run_diff(&good, &bad, false, Format::Human);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.is_empty(), "{r}");
    assert!(
        r.stderr.contains("has errors"),
        "{}",
        scrub(&r.stderr, &dir)
    );
    let r = run_diff(&dir.join("missing.yaml"), &bad, false, Format::Human);
    assert_eq!(r.code, 2, "{r}");
}
