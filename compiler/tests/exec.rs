//! `nonoc exec` end to end: the real binary applies a ring to itself, then runs coreutils,
//! `sh` and `bash` in it; the tests look at what those programs could do, at the exit status
//! and at the `--report` JSON (`design/CLI.md`: CMD's status; 126 when the sandbox cannot be
//! applied; 127 when CMD is not found; 2 for usage errors).
//!
//! `harness = false`, with the reporting contract of `nonoc_tests::kernel::runner` (which
//! this crate cannot depend on): one `test NAME ... ok|FAILED|skipped` line per test, then
//! exactly `N passed, N failed, N skipped`; exit status 1 when anything failed. A test that
//! needs Landlock reports `skipped` on a kernel without it, or `FAILED` with
//! `NONOC_REQUIRE_LANDLOCK=1`; `NONOC_TEST_LANDLOCK_ABI=N` caps the ABI the runner believes
//! the kernel has. Usage errors and refusals before the restriction run everywhere.
//!
//! Every run has a fixed environment (`PATH=/usr/bin:/bin`, `HOME` in the test's directory,
//! `LC_ALL=C`) and works in a directory under `CARGO_TARGET_TMPDIR`, outside `/tmp`, which
//! example rings grant wholesale.
#![expect(
    clippy::panic,
    reason = "test code: a failed assertion or a broken set-up is how a test reports"
)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use serde_json::Value;

use nonoc_test_runner::{Run, Scratch, Test, run as run_tests};

const NONOC: &str = env!("CARGO_BIN_EXE_nonoc");

/// Environment variables added to the fixed environment of a run.
type Env<'a> = [(&'a str, &'a str)];

fn main() -> ExitCode {
    run_tests(&[
        // Anywhere: these fail before any restriction.
        Test::new("usage_errors_exit_2", 0, usage_errors),
        Test::new("artifact_problems_exit_126", 0, artifact_problems),
        Test::new(
            "resealed_tampering_is_refused_by_every_command",
            0,
            resealed_tampering,
        ),
        Test::new("oversized_artifacts_are_not_read", 0, oversized_artifacts),
        Test::new("bad_or_unbound_variables_exit_126", 0, bad_variables),
        Test::new("unconfined_ring_needs_the_opt_in", 0, unconfined_ring),
        // Landlock.
        Test::new("agt_rings_by_ring_and_trust_score", 1, agt_rings_selection),
        Test::new("own_tiers_by_ring_and_trust_score", 1, own_tiers_selection),
        Test::new(
            "variables_flag_then_env_then_default",
            1,
            variables_precedence,
        ),
        Test::new("exit_status_passes_through", 1, exit_status),
        Test::new("confinement_holds_in_the_command", 1, confinement),
        Test::new(
            "allow_unconfined_does_not_widen_a_ring",
            1,
            opt_in_on_confined,
        ),
        Test::new("report_is_one_json_line_on_stderr", 1, report),
        Test::new(
            "deny_holds_when_home_is_reached_through_a_symlink",
            1,
            deny_through_symlinked_home,
        ),
        Test::new(
            "a_planted_except_link_does_not_lift_a_deny",
            1,
            except_link_planted,
        ),
        Test::new("a_denied_link_cannot_be_replaced", 1, denied_link_kept),
        Test::new(
            "a_deny_glob_match_that_is_a_link_denies_nothing",
            1,
            glob_match_link,
        ),
        Test::new(
            "links_planted_by_ring_2_break_no_later_run",
            1,
            planted_glob_links,
        ),
        Test::new(
            "a_deny_path_with_glob_characters_is_taken_literally",
            1,
            deny_path_literal,
        ),
        Test::new(
            "ring_2_cannot_redirect_ring_3_through_a_link",
            1,
            link_across_rings,
        ),
        Test::new(
            "an_allow_through_a_planted_link_is_skipped",
            1,
            allow_link_planted,
        ),
        Test {
            needs_program: Some("/bin/bash"),
            ..Test::new("tcp_connect_outside_the_list_is_eacces", 4, tcp_connect)
        },
        Test {
            needs_program: Some("/usr/bin/unshare"),
            ..Test::new("seccomp_holds_in_the_command", 1, seccomp_in_the_command)
        },
        Test {
            needs_program: Some("/usr/bin/python3"),
            ..Test::new(
                "listen_unix_sockets_and_other_processes_in_the_command",
                1,
                escapes_in_the_command,
            )
        },
    ])
}

// ---------------------------------------------------------------------------------------
// Helpers

/// A scratch directory for one test of this target.
fn scratch(test: &str) -> Scratch {
    Scratch::new(env!("CARGO_TARGET_TMPDIR"), "exec", test)
}

/// What the tests ask of a run.
trait Expect {
    fn expect_code(&self, code: i32) -> &Run;
    fn expect_refused(&self, reason: &str);
    fn report(&self) -> Value;
    fn allowed(&self) -> bool;
}

impl Expect for Run {
    #[track_caller]
    fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code(), Some(code), "{self}");
        self
    }

    /// A refusal: 126, the reason on stderr, and no report (nothing was applied).
    #[track_caller]
    fn expect_refused(&self, reason: &str) {
        self.expect_code(126);
        assert!(
            self.stderr.contains(reason) && self.stderr.contains("not running the command"),
            "expected `{reason}`:\n{self}"
        );
        // The report is a line of JSON (a value in the reason may hold a brace).
        assert!(
            !self.stderr.lines().any(|line| line.starts_with('{')),
            "a report after a refusal:\n{self}"
        );
    }

    /// The `--report` JSON: the first line of stderr.
    #[track_caller]
    fn report(&self) -> Value {
        let line = self.stderr.lines().next().unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| panic!("no report ({e}):\n{self}"))
    }

    /// Whether a coreutils file operation was allowed: 0 yes; 1 with `Permission denied`
    /// no (the sandbox said so); anything else is a broken test, not a denial.
    #[track_caller]
    fn allowed(&self) -> bool {
        match self.code() {
            Some(0) => true,
            Some(1) if self.stderr.contains("Permission denied") => false,
            _ => panic!("neither allowed nor denied:\n{self}"),
        }
    }
}

/// Runs `nonoc ARGS` with the fixed environment plus `env`.
fn nonoc(s: &Scratch, args: &[&str], env: &Env) -> Run {
    let output = Command::new(NONOC)
        .args(args)
        .current_dir(&s.root)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", s.path("home"))
        .env("LC_ALL", "C")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {NONOC}: {e}"));
    Run::new(args, output)
}

/// `nonoc exec ARTIFACT OPTS... -- CMD...`
fn exec(s: &Scratch, artifact: &str, opts: &[&str], cmd: &[&str], env: &Env) -> Run {
    let args: Vec<&str> = ["exec", artifact]
        .into_iter()
        .chain(opts.iter().copied())
        .chain(["--"])
        .chain(cmd.iter().copied())
        .collect();
    nonoc(s, &args, env)
}

/// Compiles policy text as `nonoc compile` does and writes the artifact into the scratch
/// directory; returns its path.
fn compile(s: &Scratch, name: &str, yaml: &str) -> String {
    let analysis = nonoc::analyze(name, yaml.as_bytes());
    let Some(ir) = analysis.ir else {
        let errors: Vec<String> = analysis
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{:?} {}", d.code, d.message))
            .collect();
        panic!("{name} does not compile:\n{}\n{yaml}", errors.join("\n"));
    };
    let targets = nonoc::backend::Targets::ALL;
    let (_, bytes) = nonoc::artifact::build(&ir, &analysis.lowered, yaml.as_bytes(), targets)
        .unwrap_or_else(|e| panic!("{name}: cannot build the artifact: {e}"));
    s.file(&format!("{name}.artifact.json"), &bytes)
}

/// What a ring of our own policies needs to run dynamically linked system programs.
/// Paths this system lacks (`/lib64` on merged or non-x86 systems) are skipped at apply time.
const SYSTEM_READ: &str = "/usr, /lib, /lib64, /bin, /etc";
const SYSTEM_EXEC: &str = "/usr, /lib, /lib64, /bin";

/// `policies/agt-rings.yaml`, compiled by `nonoc compile`, with a workspace, a secret outside
/// every ring and an SSH key under `HOME` (denied in every ring).
struct Agt {
    s: Scratch,
    artifact: String,
    workspace: String,
    notes: String,
    secret: String,
    key: String,
}

impl Agt {
    fn new(test: &str) -> Agt {
        let s = scratch(test);
        let workspace = s.dir("ws");
        let notes = s.file("ws/notes.txt", b"notes\n");
        let secret = s.file("secret.txt", b"secret\n");
        let key = s.file("home/.ssh/id_ed25519", b"key\n");
        let artifact = s.path("agt-rings.artifact.json");
        let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/agt-rings.yaml");
        let policy = policy.to_str().unwrap_or_default().to_owned();
        nonoc(&s, &["compile", &policy, "-o", &artifact], &[]).expect_code(0);
        Agt {
            s,
            artifact,
            workspace,
            notes,
            secret,
            key,
        }
    }

    /// `nonoc exec` of the agt artifact with `--var workspace=...` after `opts`.
    fn exec(&self, opts: &[&str], cmd: &[&str]) -> Run {
        let var = format!("workspace={}", self.workspace);
        let opts: Vec<&str> = opts.iter().copied().chain(["--var", &var]).collect();
        exec(&self.s, &self.artifact, &opts, cmd, &[])
    }

    fn can_read(&self, opts: &[&str], path: &str) -> bool {
        let run = self.exec(opts, &["cat", path]);
        let allowed = run.allowed();
        if allowed {
            let want = std::fs::read_to_string(path).unwrap_or_default();
            assert_eq!(run.stdout, want, "{run}");
        }
        allowed
    }

    fn can_create(&self, opts: &[&str], rel: &str) -> bool {
        let path = self.s.fresh(rel);
        let run = self.exec(opts, &["touch", &path]);
        let allowed = run.allowed();
        assert_eq!(Path::new(&path).exists(), allowed, "{run}");
        allowed
    }

    /// The ring `opts` select, by the report and by behaviour.
    #[track_caller]
    fn check_ring(&self, opts: &[&str], ring: u64) {
        let with_report: Vec<&str> = opts.iter().copied().chain(["--report"]).collect();
        let run = self.exec(&with_report, &["cat", &self.notes]);
        run.expect_code(0);
        assert_eq!(run.stdout, "notes\n", "{run}");
        assert_eq!(run.report()["ring"], ring, "{opts:?}: {run}");
        // Ring 3 reads the workspace; 2 also writes it; 1 also reads everything else.
        let what = format!("{opts:?} (ring {ring})");
        assert_eq!(self.can_create(opts, "ws/new"), ring <= 2, "{what}");
        assert_eq!(self.can_read(opts, &self.secret), ring == 1, "{what}");
        assert!(!self.can_read(opts, &self.key), "{what}: read the SSH key");
    }
}

// ---------------------------------------------------------------------------------------
// Anywhere

/// Clap's and `--var`'s usage errors: 2, a message, and the command never runs.
fn usage_errors() {
    let agt = Agt::new("usage");
    let marker = agt.s.path("marker");
    for case in [
        "exec ART --ring 3",
        "exec ART --ring 3 --",
        "exec ART --ring 3 --trust-score 500 -- touch MARKER",
        "exec ART -- touch MARKER",
        "exec --ring 3 -- touch MARKER",
        "exec ART --ring 3 --var workspace -- touch MARKER",
        "exec ART --ring 3 --var =/srv -- touch MARKER",
        "exec ART --ring 256 -- touch MARKER",
        "exec ART --ring three -- touch MARKER",
        "exec ART --trust-score -1 -- touch MARKER",
        "exec ART --ring 3 --no-such-flag -- touch MARKER",
        "exec ART --ring 3 touch MARKER",
    ] {
        let args: Vec<&str> = case
            .split(' ')
            .map(|a| match a {
                "ART" => agt.artifact.as_str(),
                "MARKER" => marker.as_str(),
                _ => a,
            })
            .collect();
        let run = nonoc(&agt.s, &args, &[]);
        run.expect_code(2);
        assert!(!run.stderr.is_empty(), "no message:\n{run}");
        if case.contains("--var") {
            assert!(run.stderr.contains("is not NAME=VALUE"), "{run}");
        }
        assert!(!Path::new(&marker).exists(), "the command ran:\n{run}");
    }
}

/// Everything wrong with the artifact or the selection: 126 before anything is applied.
fn artifact_problems() {
    let s = scratch("artifact");
    let marker = s.path("marker");
    let touch = ["touch", marker.as_str()];
    let yaml = tiers_policy(&s);
    let art = compile(&s, "tiers", &yaml);
    let good = std::fs::read(&art).unwrap_or_else(|e| panic!("{art}: {e}"));
    let refused = |artifact: &str, opts: &[&str], reason: &str| {
        exec(&s, artifact, opts, &touch, &[]).expect_refused(reason);
        assert!(!Path::new(&marker).exists(), "the command ran");
    };
    let variant = |name: &str, bytes: &[u8]| s.file(name, bytes);

    refused(&s.path("missing.json"), &["--ring", "3"], "cannot read");
    refused(&s.dir("a-directory"), &["--ring", "3"], "cannot read");
    // Tampering: ring 3 widened to the whole scratch directory; the lowest tier moved.
    let text = String::from_utf8_lossy(&good);
    let r3 = format!("\"{}\"", s.path("r3"));
    assert!(text.contains(&r3), "{text}");
    let widened = text.replace(&r3, &format!("\"{}\"", s.root));
    refused(
        &variant("widened.json", widened.as_bytes()),
        &["--ring", "3"],
        "digest",
    );
    assert!(text.contains("\"min_score\":800"), "{text}");
    let moved = text.replacen("\"min_score\":800", "\"min_score\":100", 1);
    refused(
        &variant("moved.json", moved.as_bytes()),
        &["--trust-score", "100"],
        "digest",
    );
    // Any one flipped bit, anywhere (sampled), including the digest and the final newline.
    let stride = good.len() / 40 + 1;
    for at in (0..good.len())
        .step_by(stride)
        .chain([good.len() - 1, good.len() - 5])
    {
        let mut bad = good.clone();
        bad[at] ^= 1;
        let path = variant("flipped.json", &bad);
        let run = exec(&s, &path, &["--ring", "3"], &touch, &[]);
        assert_eq!(run.code(), Some(126), "byte {at} flipped:\n{run}");
        assert!(
            !Path::new(&marker).exists(),
            "byte {at} flipped: the command ran"
        );
    }
    let future = text.replace("nonoc-artifact/v1", "nonoc-artifact/v2");
    let future = variant("future.json", future.as_bytes());
    refused(
        &future,
        &["--ring", "3"],
        "unknown artifact format `nonoc-artifact/v2`",
    );
    refused(&variant("empty.json", b""), &["--ring", "3"], "malformed");
    // A policy where the artifact belongs: the refusal says so and names the command.
    refused(
        &variant("yaml.json", yaml.as_bytes()),
        &["--ring", "3"],
        "is a policy, not an artifact: run `nonoc compile",
    );
    // The selection.
    refused(&art, &["--ring", "4"], "no ring 4");
    refused(&art, &["--trust-score", "1001"], "outside 0..=1000");
    refused(&art, &["--trust-score", "4294967295"], "outside 0..=1000");
    let untiered = compile(&s, "untiered", &untiered_policy(&s));
    refused(&untiered, &["--trust-score", "500"], "no trust tier");
    // The untouched artifact loads: the refusals above are the changes'. (Applying a
    // confined ring needs Landlock; only the load is checked here.)
    if let Err(e) = nonoc_runtime::Artifact::load(&art) {
        panic!("the untouched artifact is rejected: {e}");
    }
}

/// An artifact's bytes with the digest computed again over what they now hold: what someone
/// who edits an artifact and re-seals it produces (the digest proves nothing then).
fn reseal(text: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let body = text.trim_end_matches('\n');
    let at = body
        .rfind(",\"digest\":\"sha256:")
        .unwrap_or_else(|| panic!("no digest in {body}"));
    let content = &body[..at];
    let mut hasher = Sha256::new();
    hasher.update(content.as_bytes());
    hasher.update(b"}");
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{content},\"digest\":\"sha256:{hex}\"}}\n").into_bytes()
}

/// Re-sealed tampering, each of which an older runtime accepted: a second ring 3 (a copy of
/// the permissive ring 1, which JSON parsers keep over the first), a rule path with `..`, a
/// seccomp program that jumps past its end. `exec`, `inspect` and `doctor` refuse each
/// before anything is applied, naming what is wrong.
fn resealed_tampering() {
    use nonoc_runtime::artifact::{Artifact, SeccompArch, SeccompFilter, Target};
    let agt = Agt::new("resealed");
    let s = &agt.s;
    let good = std::fs::read(&agt.artifact).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&good).into_owned();
    assert_eq!(
        reseal(&text),
        good,
        "re-sealing the untouched artifact changes it"
    );
    let parsed = Artifact::from_slice(&good).unwrap_or_else(|e| panic!("{e}"));

    // A duplicate ring key: ring 1's section again as ring 3, last in the rings object.
    let ring1 = serde_json::to_string(&parsed.rings[&1]).unwrap_or_default();
    let content = &text[..text.rfind(",\"digest\"").unwrap_or(0)];
    let rings = content
        .strip_suffix('}')
        .unwrap_or_else(|| panic!("the rings end the content: {content}"));
    let duplicate = format!(
        "{rings},\"3\":{ring1}}},\"digest\":\"sha256:{}\"}}\n",
        "0".repeat(64)
    );
    let duplicate = reseal(&duplicate);
    // `..` in a ring 3 rule path: `/etc/ssl/../..` is `/`.
    let mut dotdot = parsed.clone();
    let plan = dotdot.rings.get_mut(&3).and_then(|r| r.landlock.as_mut());
    let rule = plan
        .and_then(|p| {
            p.rules
                .iter_mut()
                .find(|r| r.target == Target::Path("/etc/ssl".into()))
        })
        .unwrap_or_else(|| panic!("ring 3 reads /etc/ssl"));
    rule.target = Target::Path("/etc/ssl/../..".into());
    let dotdot = dotdot.seal().unwrap_or_default();
    // A seccomp program whose arch check jumps past the end of the program.
    let mut jump = parsed.clone();
    for arch in [SeccompArch::X86_64, SeccompArch::Aarch64] {
        let filter = jump
            .rings
            .get_mut(&3)
            .and_then(|r| r.seccomp.get_mut(&arch))
            .unwrap_or_else(|| panic!("ring 3 has a filter"));
        let mut program = filter.instructions().unwrap_or_default();
        let at = program
            .iter()
            .position(|i| i.code == 0x15)
            .unwrap_or_else(|| panic!("a conditional jump"));
        program[at].jt = 255;
        *filter = SeccompFilter::new(&program, filter.stats.clone());
    }
    let jump = jump.seal().unwrap_or_default();

    let marker = s.path("marker");
    for (name, bytes, why) in [
        ("duplicate-ring.json", duplicate, "duplicate key 3"),
        ("dotdot.json", dotdot, "has a `..` component"),
        ("jump.json", jump, "past the end of the program"),
    ] {
        let art = s.file(name, &bytes);
        let var = format!("workspace={}", agt.workspace);
        let run = exec(
            s,
            &art,
            &["--ring", "3", "--var", &var],
            &["touch", &marker],
            &[],
        );
        run.expect_refused(why);
        assert!(!run.stderr.contains("Landlock is applied"), "{run}");
        assert!(!Path::new(&marker).exists(), "{name}: the command ran");
        let run = nonoc(s, &["inspect", &art], &[]);
        run.expect_code(1);
        assert!(
            run.stderr.contains("not a valid artifact") && run.stderr.contains(why),
            "{run}"
        );
        let run = nonoc(s, &["doctor", &art, "--var", &var], &[]);
        run.expect_code(1);
        assert!(run.stderr.contains(why), "{run}");
    }
}

/// Artifacts larger than the runtime reads are refused without reading them whole:
/// `/dev/zero` never ends. Each command must answer within the deadline.
fn oversized_artifacts() {
    let s = scratch("oversized");
    let marker = s.path("marker");
    for args in [
        vec!["exec", "/dev/zero", "--ring", "3", "--", "touch", &marker],
        vec!["inspect", "/dev/zero"],
        vec!["doctor", "/dev/zero"],
    ] {
        let mut child = Command::new(NONOC)
            .args(&args)
            .current_dir(&s.root)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{NONOC}: {e}"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`nonoc {}` still reading after 60 s", args.join(" "));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use std::io::Read as _;
            let _ = pipe.read_to_string(&mut stderr);
        }
        assert!(!status.success(), "nonoc {}: {status}", args.join(" "));
        assert!(
            stderr.contains("larger than 16777216 bytes"),
            "nonoc {}: {stderr}",
            args.join(" ")
        );
        assert!(!Path::new(&marker).exists(), "the command ran");
    }
}

/// `--var` values are checked: relative and non-normalized paths, and unbound variables,
/// refuse with 126 whatever the environment says.
fn bad_variables() {
    let s = scratch("bad-variables");
    let marker = s.path("marker");
    let touch = ["touch", marker.as_str()];
    let art = compile(&s, "vars", &vars_policy(&s));
    let refused = |opts: &[&str], env: &Env, reason: &str| {
        exec(&s, &art, opts, &touch, env).expect_refused(reason);
        assert!(!Path::new(&marker).exists(), "the command ran");
    };
    let good = s.dir("flag");
    let dotdot = format!("data={}/../flag", s.root);
    let dot = format!("data={}/./flag", s.root);
    let trailing = format!("data={good}/");
    for (var, why) in [
        ("data=relative/dir", "not absolute"),
        ("data=", "not absolute"),
        ("data=~/dir", "not absolute"),
        (dotdot.as_str(), "not normalized"),
        (dot.as_str(), "not normalized"),
        (trailing.as_str(), "not normalized"),
        ("data=/a\u{7}b", "control character"),
        // A value is never expanded again: `${` in it is refused, as the compiler refuses it.
        ("data=/x/${y}", "it has `${`"),
    ] {
        refused(&["--ring", "1", "--var", var], &[], why);
        // The flag wins over a good environment value, so it is the flag that is refused.
        refused(
            &["--ring", "1", "--var", var],
            &[("NONOC_EXEC_DATA", good.as_str())],
            why,
        );
    }
    // A bad environment value refuses too.
    refused(
        &["--ring", "1"],
        &[("NONOC_EXEC_DATA", "rel")],
        "not absolute",
    );
    // An environment value that is not UTF-8 is refused, not taken as unset (which would
    // bind the default instead).
    let run = Command::new(NONOC)
        .args(["exec", &art, "--ring", "1", "--"])
        .args(touch)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env(
            "NONOC_EXEC_DATA",
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"/tmp/\xff"),
        )
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.status.code(), Some(126), "{run:?}");
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("not valid UTF-8"),
        "{run:?}"
    );
    assert!(!Path::new(&marker).exists(), "the command ran");
    // `need` has an environment variable and no default.
    refused(&["--ring", "2"], &[], "variable `need` is unbound");
    refused(&["--ring", "2"], &[("NONOC_EXEC_NEED", "")], "not absolute");
    let need = format!("need={good}/..");
    refused(&["--ring", "2", "--var", &need], &[], "not normalized");
    // A name the policy does not declare (a typo) is refused, not ignored.
    let typo = format!("dta={good}");
    refused(
        &["--ring", "1", "--var", &typo],
        &[],
        "variable `dta` is not declared",
    );
    // The same variable twice is a usage error.
    let once = format!("data={good}");
    let run = exec(
        &s,
        &art,
        &["--ring", "1", "--var", &once, "--var", &once],
        &touch,
        &[],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("given twice"), "{run}");
    assert!(!Path::new(&marker).exists(), "the command ran");
}

/// Ring 0 of agt-rings is unconfined: refused without `--allow-unconfined`, and with it the
/// command runs with nothing applied.
fn unconfined_ring() {
    let agt = Agt::new("unconfined");
    let marker = agt.s.path("marker");
    let run = agt.exec(&["--ring", "0", "--report"], &["touch", &marker]);
    run.expect_refused("ring 0 is unconfined");
    assert!(run.stderr.contains("--allow-unconfined"), "{run}");
    assert!(!Path::new(&marker).exists(), "the command ran:\n{run}");

    let script = format!(
        "cat {} {}; grep NoNewPrivs /proc/self/status; touch {marker}; exit 5",
        agt.secret, agt.key
    );
    let opts = ["--ring", "0", "--allow-unconfined", "--report"];
    let run = agt.exec(&opts, &["/bin/sh", "-c", &script]);
    run.expect_code(5);
    let ours = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let nnp = ours
        .lines()
        .find(|l| l.starts_with("NoNewPrivs"))
        .unwrap_or("?");
    assert_eq!(run.stdout, format!("secret\nkey\n{nnp}\n"), "{run}");
    assert!(Path::new(&marker).exists(), "{run}");
    let report = run.report();
    assert_eq!(report["ring"], 0, "{run}");
    assert_eq!(report["unconfined"], true, "{run}");
    assert!(report.get("landlock").is_none(), "{run}");
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
}

// ---------------------------------------------------------------------------------------
// Landlock

/// agt-rings: `--ring N` and every trust tier's boundary select the documented ring.
fn agt_rings_selection() {
    let agt = Agt::new("agt-selection");
    for ring in [3, 2, 1] {
        agt.check_ring(&["--ring", &ring.to_string()], ring);
    }
    for (score, ring) in [
        (0, 3),
        (299, 3),
        (300, 3),
        (499, 3),
        (500, 2),
        (699, 2),
        (700, 2),
        (899, 2),
        (900, 1),
        (1000, 1),
    ] {
        agt.check_ring(&["--trust-score", &score.to_string()], ring);
    }
}

/// Three rings that each read one directory of their own (`rN`), selected by tiers at
/// 0 → 3, 400 → 2, 800 → 1.
fn tiers_policy(s: &Scratch) -> String {
    let ring = |n: u32| {
        format!(
            "  {n}:\n    filesystem:\n      read: [{SYSTEM_READ}, \"{}\"]\n      execute: [{SYSTEM_EXEC}]\n",
            s.path(&format!("r{n}"))
        )
    };
    format!(
        "apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: exec-tiers }}
trust_tiers:
  - {{ name: low, min_score: 0, ring: 3 }}
  - {{ name: mid, min_score: 400, ring: 2 }}
  - {{ name: high, min_score: 800, ring: 1 }}
rings:
{}{}{}",
        ring(1),
        ring(2),
        ring(3)
    )
}

/// One ring, no tiers.
fn untiered_policy(s: &Scratch) -> String {
    format!(
        "apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: exec-untiered }}
rings:
  1:
    filesystem: {{ read: [\"{}\"] }}
",
        s.path("r1")
    )
}

fn own_tiers_selection() {
    let s = scratch("own-tiers");
    let art = compile(&s, "tiers", &tiers_policy(&s));
    let files: Vec<String> = (1..=3)
        .map(|n| s.file(&format!("r{n}/id"), format!("ring {n}\n").as_bytes()))
        .collect();
    let cases = [
        (vec!["--ring", "1"], 1),
        (vec!["--ring", "2"], 2),
        (vec!["--ring", "3"], 3),
        (vec!["--trust-score", "0"], 3),
        (vec!["--trust-score", "399"], 3),
        (vec!["--trust-score", "400"], 2),
        (vec!["--trust-score", "799"], 2),
        (vec!["--trust-score", "800"], 1),
        (vec!["--trust-score", "1000"], 1),
    ];
    for (opts, ring) in cases {
        // The selected ring reads its own file, and no other ring's.
        for (i, file) in files.iter().enumerate() {
            let mine = i + 1 == ring;
            let mut with_report = opts.clone();
            with_report.push("--report");
            let run = exec(&s, &art, &with_report, &["cat", file], &[]);
            assert_eq!(run.report()["ring"], ring, "{opts:?}:\n{run}");
            assert_eq!(run.allowed(), mine, "{opts:?} reading {file}:\n{run}");
            if mine {
                assert_eq!(run.stdout, format!("ring {ring}\n"), "{run}");
            }
        }
    }
}

/// Ring 1 reads `${data}` (env `NONOC_EXEC_DATA`, default `ROOT/default`); ring 2 reads
/// `${need}` (env `NONOC_EXEC_NEED`, no default).
fn vars_policy(s: &Scratch) -> String {
    format!(
        "apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: exec-vars }}
variables:
  data: {{ env: NONOC_EXEC_DATA, default: {} }}
  need: {{ env: NONOC_EXEC_NEED }}
rings:
  1:
    filesystem:
      read: [{SYSTEM_READ}, \"${{data}}\"]
      execute: [{SYSTEM_EXEC}]
  2:
    filesystem:
      read: [{SYSTEM_READ}, \"${{need}}\"]
      execute: [{SYSTEM_EXEC}]
",
        s.path("default")
    )
}

/// `--var` binds before the environment, which binds before the default; the report shows
/// the value used, and exactly that directory is readable.
fn variables_precedence() {
    let s = scratch("variables");
    let art = compile(&s, "vars", &vars_policy(&s));
    let dirs = ["flag", "env", "default"];
    let files: Vec<String> = dirs
        .iter()
        .map(|d| s.file(&format!("{d}/f"), d.as_bytes()))
        .collect();
    let flag = format!("data={}", s.path("flag"));
    let env_value = s.path("env");
    let env = [("NONOC_EXEC_DATA", env_value.as_str())];
    let cases: [(&[&str], &Env, &str); 4] = [
        (&["--var", &flag], &env, "flag"),
        (&["--var", &flag], &[], "flag"),
        (&[], &env, "env"),
        (&[], &[], "default"),
    ];
    for (vars, env, winner) in cases {
        let opts: Vec<&str> = ["--ring", "1", "--report"]
            .into_iter()
            .chain(vars.iter().copied())
            .collect();
        for (dir, file) in dirs.iter().zip(&files) {
            let run = exec(&s, &art, &opts, &["cat", file], env);
            let what = format!("{vars:?} {env:?}: reading {file}");
            assert_eq!(run.allowed(), dir == &winner, "{what}:\n{run}");
            // Only the variables ring 1 uses are bound (`need` is unbound and unused).
            let want = serde_json::json!([["data", s.path(winner)]]);
            assert_eq!(run.report()["variables"], want, "{what}:\n{run}");
        }
    }
    // With `need` bound, ring 2 applies and reads it.
    let need = format!("need={}", s.path("env"));
    let run = exec(
        &s,
        &art,
        &["--ring", "2", "--var", &need],
        &["cat", &files[1]],
        &[],
    );
    assert!(run.allowed(), "{run}");
    assert_eq!(run.stdout, "env", "{run}");
    assert!(!run.stderr.contains("does not exist"), "{run}");
    // A variable bound to a path that does not exist: the command runs, and one line on
    // stderr says so.
    let nope = s.path("nope");
    let run = exec(
        &s,
        &art,
        &["--ring", "1", "--var", &format!("data={nope}")],
        &["true"],
        &[],
    );
    assert!(run.allowed(), "{run}");
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("does not exist"))
        .collect();
    assert_eq!(
        warnings,
        [format!(
            "nonoc exec: warning: `data` is bound to `{nope}`, which does not exist: its rules grant nothing"
        )],
        "{run}"
    );
}

/// CMD's status (or death by signal) passes through; 127 when CMD does not exist; 126 when
/// the ring does not let it execute.
fn exit_status() {
    let agt = Agt::new("exit-status");
    // Ring 3 reads /usr and /lib and executes /usr/bin: enough for /bin/sh.
    let ring3 = ["--ring", "3"];
    for code in [0, 1, 7, 125, 126, 127, 255] {
        let script = format!("exit {code}");
        agt.exec(&ring3, &["/bin/sh", "-c", &script])
            .expect_code(code);
    }
    let run = agt.exec(&ring3, &["/bin/sh", "-c", "kill -KILL $$"]);
    assert_eq!(run.status.signal(), Some(9), "{run}");
    // Arguments and stdout reach the command unchanged.
    let run = agt.exec(
        &ring3,
        &[
            "/bin/sh",
            "-c",
            "printf '%s|' \"$@\"",
            "sh",
            "a b",
            "",
            "-x",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "a b||-x|", "{run}");
    // Not found, by path and by PATH search.
    for cmd in ["/nonexistent/command", "nonoc-no-such-command"] {
        let run = agt.exec(&ring3, &[cmd]);
        run.expect_code(127);
        assert!(
            run.stderr.contains("cannot run") && run.stderr.contains(cmd),
            "{run}"
        );
    }
    // A program outside the ring's execute paths: 126, where ring 1 (execute /) runs it.
    let copy = agt.s.path("bin/true");
    std::fs::create_dir_all(agt.s.path("bin")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy("/bin/true", &copy).unwrap_or_else(|e| panic!("copy /bin/true: {e}"));
    let run = agt.exec(&ring3, &[&copy]);
    run.expect_code(126);
    assert!(run.stderr.contains("Permission denied"), "{run}");
    agt.exec(&["--ring", "1"], &[&copy]).expect_code(0);
}

/// Inside the command (and its children): denied reads and writes fail with `Permission
/// denied`, allowed writes land.
fn confinement() {
    let agt = Agt::new("confinement");
    let ring2 = ["--ring", "2"];
    // Allowed: write, create a directory, rename and remove inside the workspace.
    let out = agt.s.path("ws/sub/out.txt");
    let script = format!(
        "mkdir {ws}/sub && echo data > {out}.tmp && mv {out}.tmp {out} && rm {notes} && cat {out}",
        ws = agt.workspace,
        notes = agt.notes
    );
    let run = agt.exec(&ring2, &["/bin/sh", "-c", &script]);
    run.expect_code(0);
    assert_eq!(run.stdout, "data\n", "{run}");
    assert_eq!(std::fs::read_to_string(&out).unwrap_or_default(), "data\n");
    assert!(!Path::new(&agt.notes).exists(), "{run}");
    // Denied: a read outside the ring, in a child of the shell, fails and the shell sees it.
    let script = format!("cat {}; echo status=$?", agt.secret);
    let run = agt.exec(&ring2, &["/bin/sh", "-c", &script]);
    run.expect_code(0);
    assert_eq!(run.stdout, "status=1\n", "{run}");
    assert!(run.stderr.contains("Permission denied"), "{run}");
    // Denied: the SSH key inside HOME, a new file outside the workspace, a listing. (Not
    // `touch` of an existing file: it falls back to utimensat, which Landlock does not
    // cover; docs/backends/landlock.md lists `utime` among what it leaves alone.)
    let outside = agt.s.fresh("outside");
    for cmd in [["cat", agt.key.as_str()], ["touch", outside.as_str()]] {
        let run = agt.exec(&ring2, &cmd);
        assert!(!run.allowed(), "{run}");
    }
    assert!(!Path::new(&outside).exists());
    let run = agt.exec(&ring2, &["ls", &agt.s.root]);
    assert!(run.code().is_some_and(|c| c != 0), "{run}");
    assert!(run.stderr.contains("Permission denied"), "{run}");
    let run = agt.exec(
        &ring2,
        &["/bin/sh", "-c", &format!("echo x >> {}", agt.secret)],
    );
    assert_ne!(run.code(), Some(0), "{run}");
    assert!(run.stderr.contains("Permission denied"), "{run}");
    assert_eq!(
        std::fs::read_to_string(&agt.secret).unwrap_or_default(),
        "secret\n"
    );
    // Ring 3 cannot write the workspace, not even truncate an existing file.
    let kept = agt.s.file("ws/kept.txt", b"kept\n");
    let run = agt.exec(&["--ring", "3"], &["/bin/sh", "-c", &format!(": > {kept}")]);
    assert_ne!(run.code(), Some(0), "{run}");
    assert_eq!(std::fs::read_to_string(&kept).unwrap_or_default(), "kept\n");
    // No descriptor of the runtime's (rule paths, the ruleset) reaches the command, nor any
    // this process inherited (a plain child of it gets those): 0, 1, 2 and the one `ls`
    // opens to list the directory. Ring 1 reads /proc.
    let run = agt.exec(&["--ring", "1"], &["ls", "/proc/self/fd"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "0\n1\n2\n3\n", "{run}");
}

/// `--allow-unconfined` is an opt-in for unconfined rings, not a way out of a confined one.
fn opt_in_on_confined() {
    let agt = Agt::new("opt-in");
    let opts = ["--ring", "3", "--allow-unconfined", "--report"];
    let run = agt.exec(&opts, &["cat", &agt.secret]);
    assert!(!run.allowed(), "{run}");
    assert_eq!(run.report()["unconfined"], false, "{run}");
    assert!(!agt.can_create(&["--ring", "3", "--allow-unconfined"], "ws/new"));
}

/// `--report`: one JSON line on stderr before the command's own output.
fn report() {
    let agt = Agt::new("report");
    let abi = nonoc_runtime::landlock_abi();
    let run = agt.exec(
        &["--trust-score", "750", "--report"],
        &["/bin/sh", "-c", "echo out; echo err >&2"],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "out\n", "{run}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run}");
    assert_eq!(lines[1], "err", "{run}");
    let report = run.report();
    assert_eq!(report["ring"], 2, "{run}");
    assert_eq!(report["unconfined"], false, "{run}");
    let ll = &report["landlock"];
    assert_eq!(ll["abi"], abi, "{run}");
    assert!(ll["rules"].as_u64().is_some_and(|n| n > 0), "{run}");
    // Ring 2 asks for TCP ports (ABI 4) and scopes (ABI 6); nothing is dropped from ABI 6 on.
    let dropped = ll["dropped"].as_array().map_or(0, Vec::len);
    if abi >= 6 {
        assert_eq!(dropped, 0, "{run}");
    } else {
        assert!(dropped > 0, "{run}");
    }
    assert_eq!(ll["tcp_ports_enforced"], abi >= 4, "{run}");
    let want = serde_json::json!([["home", agt.s.path("home")], ["workspace", agt.workspace]]);
    assert_eq!(report["variables"], want, "{run}");
    // Without `--report`, stderr is the command's alone.
    let run = agt.exec(&["--ring", "2"], &["/bin/sh", "-c", "echo err >&2"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "err\n", "{run}");
}

/// TCP connect: allowed to a listed port, EACCES to a listening port not in the list (and
/// in a ring whose network is blocked), while the same connect works outside the sandbox.
fn tcp_connect() {
    let listen =
        || std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let (listed, other) = (listen(), listen());
    let port = |l: &std::net::TcpListener| {
        l.local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port()
            .to_string()
    };
    let (listed, other) = (port(&listed), port(&other));
    let s = scratch("tcp");
    let yaml = format!(
        "apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: exec-tcp }}
rings:
  1:
    filesystem: {{ read: [{SYSTEM_READ}], execute: [{SYSTEM_EXEC}] }}
    network: {{ mode: restricted, connect_tcp: [{listed}] }}
"
    );
    let art = compile(&s, "tcp", &yaml);
    let connect = |p: &str| format!("exec 3<>/dev/tcp/127.0.0.1/{p} && echo connected");
    let bash = |opts: &[&str], p: &str| {
        let script = connect(p);
        exec(&s, &art, opts, &["/bin/bash", "-c", &script], &[])
    };
    let run = bash(&["--ring", "1"], &listed);
    run.expect_code(0);
    assert_eq!(run.stdout, "connected\n", "{run}");
    let run = bash(&["--ring", "1"], &other);
    run.expect_code(1);
    assert!(run.stderr.contains("Permission denied"), "{run}");
    // The control: unsandboxed, the same connect succeeds.
    let direct = Command::new("/bin/bash")
        .args(["-c", &connect(&other)])
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    assert!(direct.status.success(), "{direct:?}");
    // agt-rings ring 3 blocks the network: even the port exec-tcp lists is refused, by the
    // seccomp filter (EPERM on the inet socket) before Landlock is asked (EACCES).
    let agt = Agt::new("tcp-agt");
    let script = connect(&listed);
    let run = agt.exec(&["--ring", "3"], &["/bin/bash", "-c", &script]);
    run.expect_code(1);
    assert!(run.stderr.contains("Operation not permitted"), "{run}");
}

/// The seccomp filter holds in the command `nonoc exec` runs: agt-rings ring 3 has
/// `fork: false` (a shell cannot start a child, threads still run), ring 2 `fork: true`;
/// both deny user namespaces (the `hardening` preset).
fn seccomp_in_the_command() {
    let agt = Agt::new("seccomp");
    let script = "/bin/true && echo forked; echo done";
    let run = agt.exec(&["--ring", "3"], &["/bin/sh", "-c", script]);
    assert_ne!(run.code(), Some(0), "{run}");
    assert!(!run.stdout.contains("forked"), "{run}");
    assert!(
        run.stderr.contains("fork"),
        "the shell says it cannot fork: {run}"
    );
    let run = agt.exec(&["--ring", "2"], &["/bin/sh", "-c", script]);
    run.expect_code(0);
    assert_eq!(run.stdout, "forked\ndone\n", "{run}");
    for ring in ["2", "3"] {
        // exec, not fork: unshare(1) itself makes the call.
        let run = agt.exec(
            &["--ring", ring],
            &["/usr/bin/unshare", "--user", "/bin/true"],
        );
        assert_ne!(run.code(), Some(0), "ring {ring}: {run}");
        assert!(
            run.stderr.contains("Operation not permitted"),
            "ring {ring}: {run}"
        );
    }
    // The control: unsandboxed, the same namespace is created.
    let direct = Command::new("/usr/bin/unshare")
        .args(["--user", "/bin/true"])
        .output()
        .unwrap_or_else(|e| panic!("unshare: {e}"));
    assert!(direct.status.success(), "{direct:?}");
}

/// A `HOME` bound through a symlink (`/home` -> `var/home` on some systems) must not open a
/// way around the global `${home}/.ssh` deny: neither through the link nor through the real
/// directory. Ring 1 reads `/`, so the deny is enforced by a carve-out.
fn deny_through_symlinked_home() {
    let agt = Agt::new("symlinked-home");
    let real_key = agt.s.file("realhome/.ssh/id_ed25519", b"key\n");
    let link = agt.s.path("homelink");
    std::os::unix::fs::symlink(agt.s.path("realhome"), &link)
        .unwrap_or_else(|e| panic!("cannot create the link: {e}"));
    let via_link = format!("{link}/.ssh/id_ed25519");
    let home = format!("home={link}");
    for path in [via_link.as_str(), real_key.as_str()] {
        let run = agt.exec(&["--ring", "1", "--var", &home], &["cat", path]);
        assert!(
            !run.allowed(),
            "ring 1 read {path} with HOME through a link: {run}"
        );
        assert!(run.stderr.contains("Permission denied"), "{run}");
    }
    // The rest of the real home stays readable, as ring 1 reads `/`.
    let notes = agt.s.file("realhome/notes.txt", b"notes\n");
    let run = agt.exec(&["--ring", "1", "--var", &home], &["cat", &notes]);
    assert!(run.allowed(), "{run}");
}

/// A policy of one ring with system paths, `extra` filesystem lines and global denies.
fn link_policy(ws: &str, denies: &str, filesystem: &str) -> String {
    format!(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: links }}\n\
         variables:\n  workspace: {{ default: \"{ws}\" }}\ndeny:\n{denies}\n\
         rings:\n  1:\n    filesystem:\n      read: [{SYSTEM_READ}, \"${{workspace}}\"]\n      \
         execute: [{SYSTEM_EXEC}]\n{filesystem}\n    process: {{ fork: true, signals: sandbox }}\n"
    )
}

/// A deny `path:` is a literal path, glob characters and all: the runtime loads the artifact,
/// refuses the file named so, and leaves alone a file the text would match as a glob.
fn deny_path_literal() {
    let s = scratch("deny-path-literal");
    let ws = s.dir("ws");
    let named = s.file("ws/a{b*", b"secret\n");
    let matching = s.file("ws/axb", b"fine\n");
    let policy = link_policy(&ws, "  - path: \"${workspace}/a{b*\"", "");
    let art = compile(&s, "deny-path-literal", &policy);
    let run = exec(&s, &art, &["--ring", "1"], &["cat", &named], &[]);
    assert!(!run.allowed(), "{run}");
    let run = exec(&s, &art, &["--ring", "1"], &["cat", &matching], &[]);
    assert!(run.allowed(), "{run}");
}

/// An exception is placed by its name under the deny: replacing it with a link between two
/// runs must not lift the deny.
fn except_link_planted() {
    let s = scratch("except-link");
    let ws = s.dir("ws");
    let secret = s.file("ws/secret/private.txt", b"secret\n");
    s.dir("ws/secret/pub");
    let policy = link_policy(
        &ws,
        "  - path: \"${workspace}/secret\"\n    access: [read]\n    except: [\"${workspace}/secret/pub\"]",
        "      write: [\"${workspace}\"]",
    );
    let art = compile(&s, "except-link", &policy);
    let plant = format!("rmdir {ws}/secret/pub && ln -s {ws} {ws}/secret/pub");
    let run = exec(&s, &art, &["--ring", "1"], &["sh", "-c", &plant], &[]);
    assert!(run.allowed(), "planting is allowed by the policy: {run}");
    let run = exec(&s, &art, &["--ring", "1"], &["cat", &secret], &[]);
    assert!(
        !run.allowed(),
        "the deny was lifted by a planted link: {run}"
    );
}

/// A denied path that is a link: the link itself cannot be removed and replaced by a
/// directory of the agent's.
fn denied_link_kept() {
    let s = scratch("denied-link");
    let ws = s.dir("ws");
    let vault = s.dir("vault/ssh");
    s.file("vault/ssh/id", b"key\n");
    std::os::unix::fs::symlink(&vault, format!("{ws}/.ssh"))
        .unwrap_or_else(|e| panic!("link: {e}"));
    let policy = link_policy(
        &ws,
        "  - path: \"${workspace}/.ssh\"",
        "      write: [\"${workspace}\"]",
    );
    let art = compile(&s, "denied-link", &policy);
    let replace =
        format!("rm {ws}/.ssh && mkdir {ws}/.ssh && echo evil > {ws}/.ssh/authorized_keys");
    let run = exec(&s, &art, &["--ring", "1"], &["sh", "-c", &replace], &[]);
    assert!(!run.allowed(), "the denied link was replaced: {run}");
    assert!(Path::new(&format!("{ws}/.ssh")).is_symlink());
    let run = exec(
        &s,
        &art,
        &["--ring", "1"],
        &["cat", &format!("{vault}/id")],
        &[],
    );
    assert!(!run.allowed(), "{run}");
}

/// A deny-glob match that is a link denies nothing by itself: its target keeps its own rules
/// (here: readable), while a link to a file the glob matches too reaches a denied file.
fn glob_match_link() {
    let s = scratch("glob-link");
    let ws = s.dir("ws");
    s.dir("ws/app");
    let shared = s.file("ws/shared/prod.conf", b"shared\n");
    let real = s.file("ws/.env", b"secret\n");
    for (link, target) in [
        ("app/.env", "../shared/prod.conf"),
        ("app/.env.x", "../.env"),
    ] {
        std::os::unix::fs::symlink(target, format!("{ws}/{link}"))
            .unwrap_or_else(|e| panic!("link: {e}"));
    }
    let policy = link_policy(&ws, "  - glob: \"${workspace}/**/.env*\"", "");
    let art = compile(&s, "glob-link", &policy);
    let read = |path: &str| {
        let run = exec(&s, &art, &["--ring", "1", "--report"], &["cat", path], &[]);
        (run.allowed(), run)
    };
    let (allowed, run) = read(&format!("{ws}/app/.env"));
    assert!(
        allowed,
        "a link matched by the glob denied its target: {run}"
    );
    assert_eq!(
        run.report()["landlock"]["glob_links"],
        serde_json::json!([format!("{ws}/app/.env"), format!("{ws}/app/.env.x")]),
        "{run}"
    );
    assert!(read(&shared).0);
    for path in [real, format!("{ws}/app/.env.x")] {
        let (allowed, run) = read(&path);
        assert!(!allowed, "{path}: {run}");
    }
}

/// `policies/coding-agent.yaml`: ring 2 may write the workspace, and plants links that its
/// `**/.env*` deny matches: to `/usr/bin/dash` (which every ring runs), to `/usr` (whose
/// 100,000-odd entries a walk would read), to the denied `.env`. Every later run of every
/// ring still applies and runs dash; the link to `.env` still does not read it.
fn planted_glob_links() {
    let s = scratch("planted-glob-links");
    let ws = s.dir("ws");
    let main = s.file("ws/src/main.rs", b"fn main() {}\n");
    let env = s.file("ws/.env", b"TOKEN=secret\n");
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/coding-agent.yaml");
    let art = s.path("coding-agent.artifact.json");
    let policy = policy.to_str().unwrap_or_default().to_owned();
    nonoc(&s, &["compile", &policy, "-o", &art], &[]).expect_code(0);
    let var = format!("workspace={ws}");
    let run_in = |ring: &str, cmd: &[&str]| {
        exec(
            &s,
            &art,
            &["--ring", ring, "--var", &var, "--report"],
            cmd,
            &[],
        )
    };
    let plant = format!(
        "ln -s /usr/bin/dash {ws}/src/.envY && ln -s /usr {ws}/src/.envZ && ln -s ../.env {ws}/src/.envW"
    );
    run_in("2", &["/bin/sh", "-c", &plant]).expect_code(0);
    for ring in ["3", "2", "1"] {
        let run = run_in(ring, &["/usr/bin/dash", "-c", &format!("cat {main}")]);
        run.expect_code(0);
        assert_eq!(run.stdout, "fn main() {}\n", "ring {ring}: {run}");
        let links = &run.report()["landlock"]["glob_links"];
        assert_eq!(
            links.as_array().map_or(0, Vec::len),
            3,
            "ring {ring}: {run}"
        );
        // Through the link, dash is what it is anywhere: readable and runnable.
        let run = run_in(ring, &[&format!("{ws}/src/.envY"), "-c", "echo ran"]);
        run.expect_code(0);
        assert_eq!(run.stdout, "ran\n", "ring {ring}: {run}");
        for denied in [env.clone(), format!("{ws}/src/.envW")] {
            let run = run_in(ring, &["cat", &denied]);
            run.expect_code(1);
            assert!(
                run.stderr.contains("Permission denied"),
                "ring {ring}, {denied}: {run}"
            );
        }
    }
}

/// Row 1 of the review, `policies/agt-rings.yaml`: ring 2 may write `/tmp`, and replaces a
/// workspace under it with a link to `/etc`; the next ring 3 run (which writes nothing) must
/// not follow the link, and its report names the grant it skipped. With
/// `settings.unenforceable: error` the run is refused instead.
fn link_across_rings() {
    let s = scratch("link-across-rings");
    let tmp = std::fs::canonicalize(std::env::temp_dir())
        .unwrap_or_else(|e| panic!("temp dir: {e}"))
        .join(format!("nonoc-link-across-rings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("ws")).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    let ws = tmp.join("ws").to_str().unwrap_or_default().to_owned();
    assert!(
        ws.starts_with("/tmp/"),
        "ring 2 of agt-rings writes `/tmp`, not {ws}"
    );
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/agt-rings.yaml");
    let yaml = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{e}"));
    let art = compile(&s, "agt-rings", &yaml);
    // The same rings in short, with `settings.unenforceable: error` (which agt-rings'
    // carve-outs would not compile with).
    let strict = format!(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: strict-links }}\n\
         settings: {{ unenforceable: error }}\nvariables:\n  workspace: {{ default: /app/workspace }}\n\
         rings:\n  2:\n    filesystem:\n      read: [{SYSTEM_READ}, /tmp, \"${{workspace}}\"]\n\
         \x20     write: [/tmp]\n      execute: [{SYSTEM_EXEC}]\n  3:\n    filesystem:\n\
         \x20     read: [{SYSTEM_READ}, \"${{workspace}}\"]\n      execute: [{SYSTEM_EXEC}]\n"
    );
    let strict = compile(&s, "strict-links", &strict);
    let var = format!("workspace={ws}");
    let secret = ["/etc/shadow", "/etc/passwd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/etc/passwd");
    let ring = |artifact: &str, level: &str, cmd: &[&str]| {
        exec(
            &s,
            artifact,
            &["--ring", level, "--var", &var, "--report"],
            cmd,
            &[],
        )
    };
    // The first run: ring 2 swaps the workspace for a link, as its policy lets it.
    let swap = format!("rmdir {ws} && ln -s /etc {ws}");
    let swapped = ring(&art, "2", &["/bin/sh", "-c", &swap]);
    let planted = Path::new(&ws).is_symlink();
    // The next runs: ring 3, reading what the link points to, and reading its own files.
    let attack = ring(&art, "3", &["cat", secret]);
    let own = ring(&art, "3", &["cat", "/usr/lib/os-release"]);
    let refused = exec(
        &s,
        &strict,
        &["--ring", "3", "--var", &var],
        &["cat", secret],
        &[],
    );
    let _ = std::fs::remove_dir_all(&tmp);

    swapped.expect_code(0);
    assert!(planted, "{swapped}");
    assert!(
        !attack.allowed(),
        "ring 3 read {secret} through the link ring 2 planted: {attack}"
    );
    assert_eq!(
        attack.report()["landlock"]["skipped_through_links"],
        serde_json::json!([ws]),
        "{attack}"
    );
    own.expect_code(0);
    refused.expect_refused(&format!("`{ws}`"));
    assert!(refused.stderr.contains("unenforceable: error"), "{refused}");
}

/// An allow path inside a directory the ring may write goes through a link the agent could
/// have planted between runs: it is skipped (and reported), not followed.
fn allow_link_planted() {
    let s = scratch("allow-link");
    let ws = s.dir("ws");
    let admin = s.dir("admin");
    let tool = s.file("admin/tool.txt", b"admin\n");
    s.dir("ws/bin");
    let policy = link_policy(
        &ws,
        "  - path: \"/nonexistent-deny\"",
        "      write: [\"${workspace}\"]\n      rules:\n        - { path: \"${workspace}/bin\", access: [read] }",
    );
    let art = compile(&s, "allow-link", &policy);
    let plant = format!("rmdir {ws}/bin && ln -s {admin} {ws}/bin");
    let run = exec(&s, &art, &["--ring", "1"], &["sh", "-c", &plant], &[]);
    assert!(run.allowed(), "planting is allowed by the policy: {run}");
    let run = exec(&s, &art, &["--ring", "1", "--report"], &["cat", &tool], &[]);
    assert!(!run.allowed(), "an allow followed a planted link: {run}");
    assert!(run.stderr.contains("skipped_through_links"), "{run}");
}

/// What a program in the ring sees (issue 11, rows 3 to 5): in agt ring 2 (TCP connect
/// only) `listen()` on an unbound TCP socket, unix sockets and another process's limits are
/// refused with EPERM, while `socketpair` and the process's own limits stay; in ring 1
/// (`mode: allowed`) the TCP listen works. Python reports each call by its errno.
fn escapes_in_the_command() {
    const SCRIPT: &str = r#"
import errno, os, resource, socket, sys
def attempt(name, call):
    try:
        call()
        print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
other = int(sys.argv[1])
attempt("listen", lambda: socket.socket().listen(1))
attempt("unix", lambda: socket.socket(socket.AF_UNIX))
attempt("socketpair", lambda: socket.socketpair())
attempt("prlimit-other", lambda: resource.prlimit(other, resource.RLIMIT_CORE, (0, 0)))
attempt("prlimit-self", lambda: resource.prlimit(0, resource.RLIMIT_CORE, (0, 0)))
attempt("setpriority-other", lambda: os.setpriority(os.PRIO_PROCESS, other, 5))
"#;
    let agt = Agt::new("escapes");
    let mut outsider = Command::new("sleep")
        .arg("300")
        .spawn()
        .unwrap_or_else(|e| panic!("sleep: {e}"));
    let pid = outsider.id().to_string();
    let run = agt.exec(&["--ring", "2"], &["/usr/bin/python3", "-c", SCRIPT, &pid]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "listen EPERM\nunix EPERM\nsocketpair ok\nprlimit-other EPERM\nprlimit-self ok\nsetpriority-other EPERM\n",
        "{run}"
    );
    let run = agt.exec(&["--ring", "1"], &["/usr/bin/python3", "-c", SCRIPT, &pid]);
    run.expect_code(0);
    assert!(
        run.stdout
            .starts_with("listen ok\nunix EPERM\nsocketpair ok\n"),
        "{run}"
    );
    let _ = outsider.kill();
    let _ = outsider.wait();
}
