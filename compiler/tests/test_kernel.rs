//! `nonoc test --kernel` end to end: the real binary compiles a policy, applies each test's
//! ring in a fresh `nonoc __probe` process and asks the kernel; the tests look at the lines it
//! prints, the counts and the exit status. Run as root here, so a denial can only come from
//! the sandbox.
//!
//! `harness = false`, with the reporting contract of `tests/exec.rs`: one
//! `test NAME ... ok|FAILED|skipped` line per test, then `N passed, N failed, N skipped`; a
//! test that needs a Landlock ABI the kernel lacks is `skipped`, or `FAILED` with
//! `NONOC_REQUIRE_LANDLOCK=1`; `NONOC_TEST_LANDLOCK_ABI=N` caps the ABI the runner believes
//! the kernel has.
//!
//! Every run has a fixed environment (`PATH=/usr/bin:/bin`, `LC_ALL=C`, `NO_COLOR=1`) and
//! works in a directory under `CARGO_TARGET_TMPDIR`, outside `/tmp`, which rings often grant.
#![expect(
    clippy::panic,
    reason = "test code: a failed assertion or a broken set-up is how a test reports"
)]

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use nonoc_test_runner::{Test, outside_tmp, run as run_tests};

const NONOC: &str = env!("CARGO_BIN_EXE_nonoc");

fn main() -> ExitCode {
    run_tests(&[
        Test::new("a_ring_that_cannot_be_applied_fails", 1, cannot_apply),
        Test::new("files_execute_and_seccomp_agree_with_decide", 1, agree),
        Test::new("the_probe_changes_nothing_on_the_host", 1, changes_nothing),
        Test::new("a_wrong_expectation_fails_twice_in_one_line_each", 1, wrong),
        Test::new(
            "execute_without_read_is_caught_by_the_kernel",
            1,
            exec_no_read,
        ),
        Test::new("what_cannot_be_asked_is_not_run_and_said", 1, not_run),
        Test::new("variables_flag_then_env_then_default", 1, variables),
        Test::new("tcp_connect_and_bind", 4, tcp),
        Test::new("signals_by_scope", 6, signals),
        Test::new(
            "listen_unix_sockets_and_capabilities",
            4,
            listen_unix_capabilities,
        ),
    ])
}

// ---------------------------------------------------------------------------------------
// Helpers

/// A directory of its own for one test, with a workspace `ws`: `notes.txt`, `secret/key`,
/// `out/log.txt`, an executable `bin/tool` and `other-tool`, and a file `plain` nobody may
/// execute.
struct Scratch {
    root: String,
}

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = outside_tmp(env!("CARGO_TARGET_TMPDIR"))
            .unwrap_or_else(|e| panic!("{e}"))
            .join("test_kernel")
            .join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let root = std::fs::canonicalize(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let tmp = std::fs::canonicalize(std::env::temp_dir()).unwrap_or_else(|_| "/tmp".into());
        assert!(
            !root.starts_with(&tmp) && !root.starts_with("/tmp"),
            "{} is under the temp directory: set CARGO_TARGET_DIR elsewhere",
            root.display()
        );
        let root = root
            .to_str()
            .unwrap_or_else(|| panic!("{} is not UTF-8", root.display()))
            .to_owned();
        let s = Scratch { root };
        s.file("ws/notes.txt", "notes\n", 0o644);
        s.file("ws/secret/key", "key\n", 0o600);
        s.file("ws/out/log.txt", "log\n", 0o644);
        s.file("ws/bin/tool", "#!/bin/sh\nexit 0\n", 0o755);
        s.file("ws/other-tool", "#!/bin/sh\nexit 0\n", 0o755);
        s.file("ws/plain", "not a program\n", 0o644);
        s
    }

    fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }

    fn file(&self, rel: &str, contents: &str, mode: u32) -> String {
        let p = self.path(rel);
        if let Some(parent) = Path::new(&p).parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("{p}: {e}"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{p}: {e}"));
        p
    }

    /// Writes a policy: the header, a `ws` variable (env `PROBE_WS`, no default), then `body`.
    fn policy(&self, name: &str, body: &str) -> String {
        let text = format!(
            "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: {name}\nvariables:\n  ws:\n    env: PROBE_WS\n{body}"
        );
        self.file(&format!("{name}.yaml"), &text, 0o644)
    }
}

/// What one run of the binary did, with the scratch root shown as `<dir>` and the kernel's
/// Landlock ABI as `N`.
struct Run {
    args: Vec<String>,
    code: Option<i32>,
    /// Without the `kernel tiers:` line.
    stdout: String,
    stderr: String,
    /// What the `kernel tiers:` line says.
    tiers: Option<String>,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ nonoc {}", self.args.join(" "))?;
        writeln!(f, "------- stdout -------\n{}", self.stdout)?;
        writeln!(f, "------- stderr -------\n{}", self.stderr)?;
        write!(f, "[{:?}]", self.code)
    }
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// `nonoc test POLICY --kernel ARGS...` with `PROBE_WS` set to the workspace (unless `env`
/// says otherwise: `("PROBE_WS", "")` removes it).
fn kernel_test(s: &Scratch, policy: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["test", policy, "--kernel"];
    all.extend(args);
    let mut cmd = Command::new(NONOC);
    cmd.args(&all)
        .current_dir(&s.root)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .env("NO_COLOR", "1")
        .env("PROBE_WS", s.path("ws"))
        .stdin(Stdio::null());
    for (name, value) in env {
        if value.is_empty() {
            cmd.env_remove(name);
        } else {
            cmd.env(name, value);
        }
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {NONOC}: {e}"));
    let clean = |bytes: &[u8]| {
        let abi = nonoc_runtime::landlock_abi();
        String::from_utf8_lossy(bytes)
            .replace(&s.root, "<dir>")
            .replace(&format!("(Landlock ABI {abi})"), "(Landlock ABI N)")
    };
    // The tiers line depends on the host (whether it gives namespaces): kept apart.
    let stdout = clean(&output.stdout);
    let tiers = stdout
        .lines()
        .find_map(|l| l.strip_prefix("kernel tiers: "))
        .map(str::to_owned);
    let stdout = stdout
        .lines()
        .filter(|l| !l.starts_with("kernel tiers: "))
        .map(|l| format!("{l}\n"))
        .collect();
    Run {
        args: all.iter().map(|a| (*a).to_owned()).collect(),
        code: output.status.code(),
        stdout,
        stderr: clean(&output.stderr),
        tiers,
    }
}

#[track_caller]
fn expect(run: &Run, code: i32, stdout: &str) {
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (Some(code), stdout),
        "\n{run}"
    );
}

/// Rings 3 (read-only workspace, no network, no processes, the hardening preset), 2 (also
/// writes `out/`, creates processes) and 0 (unconfined), with trust tiers.
const RINGS: &str = r#"trust_tiers:
  - { name: low, min_score: 0, ring: 3 }
  - { name: high, min_score: 500, ring: 2 }
rings:
  3:
    filesystem:
      read: ["${ws}"]
      execute: ["${ws}/bin"]
    deny:
      - path: "${ws}/secret"
    network: { mode: blocked }
    process: { fork: false, signals: sandbox }
    syscalls: { presets: [hardening] }
  2:
    extends: 3
    filesystem:
      write: ["${ws}/out"]
    network: { mode: restricted, connect_tcp: [443] }
    process: { fork: true }
  0:
    unconfined: true
"#;

// ---------------------------------------------------------------------------------------
// Tests

/// A ring that cannot be applied here fails every test asked of the kernel, never passes one:
/// the workspace holds a name that is not UTF-8 where the ring's deny splits it (the runtime
/// refuses to apply such a split).
fn cannot_apply() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new("cannot_apply");
    let odd = Path::new(&s.path("ws")).join(std::ffi::OsStr::from_bytes(b"odd-\xff"));
    std::fs::write(&odd, "x").unwrap_or_else(|e| panic!("{}: {e}", odd.display()));
    // The carve-out reads the directory (a mask would not need to).
    let policy = s.policy(
        "cannot-apply",
        "settings: { isolation: off }\nrings:\n  3:\n    filesystem:\n      read: [\"${ws}\"]\n    deny:\n      - path: \"${ws}/secret\"\ntests:\n  - { ring: 3, udp: true, expect: deny }\n",
    );
    let run = kernel_test(&s, &policy, &[], &[]);
    assert_eq!(run.code, Some(1), "{run}");
    let lines = run.lines();
    assert!(
        lines[0].starts_with(
            "<dir>/cannot-apply.yaml:16:5: ring 3, udp: kernel: the ring cannot be applied here: "
        ),
        "{run}"
    );
    assert_eq!(
        &lines[1..],
        [
            "kernel (Landlock ABI N): 0 agreed, 1 disagreed, 0 not run",
            "0 passed, 1 failed"
        ],
        "{run}"
    );
}

fn agree() {
    let s = Scratch::new("agree");
    let tests = r#"tests:
  - { ring: 3, read: "${ws}/notes.txt", expect: allow }
  - { ring: 3, read: "${ws}/secret/key", expect: deny }
  - { ring: 3, write: "${ws}/out/log.txt", expect: deny }
  - { ring: 2, write: "${ws}/out/log.txt", expect: allow }
  - { ring: 2, write: "${ws}/notes.txt", expect: deny }
  - { ring: 2, read: "${ws}/secret/key", expect: deny }
  - { ring: 3, execute: "${ws}/bin/tool", expect: allow }
  - { ring: 3, execute: "${ws}/other-tool", expect: deny }
  - { ring: 0, execute: "${ws}/other-tool", expect: allow }
  - { ring: 3, udp: true, expect: deny }
  - { ring: 2, udp: true, expect: deny }
  - { ring: 0, udp: true, expect: allow }
  - { ring: 3, fork: true, expect: deny }
  - { ring: 2, fork: true, expect: allow }
  - { ring: 3, syscall: { name: unshare, args: [CLONE_NEWUSER] }, expect: deny }
  - { ring: 3, syscall: unshare, expect: allow }
  - { ring: 3, syscall: ptrace, expect: deny }
  - { ring: 3, syscall: mount, expect: deny }
  - { ring: 3, syscall: { name: socket, args: [AF_PACKET] }, expect: deny }
  - { ring: 2, syscall: { name: socket, args: [AF_INET, SOCK_STREAM] }, expect: allow }
  - { ring: 0, syscall: ptrace, expect: allow }
  - { ring: 3, signal: self, expect: allow }
  - { trust_score: 700, write: "${ws}/out/log.txt", expect: allow }
  - { trust_score: 100, write: "${ws}/out/log.txt", expect: deny }
"#;
    let policy = s.policy("agree", &format!("{RINGS}{tests}"));
    let run = kernel_test(&s, &policy, &[], &[]);
    expect(
        &run,
        0,
        "kernel (Landlock ABI N): 24 agreed, 0 disagreed, 0 not run\n24 passed, 0 failed\n",
    );
    // Each ring's tier, as this host gives it: the deny of `${ws}/secret` inside the readable
    // workspace is masked where namespaces are available.
    let tier = match nonoc_runtime::isolation_available() {
        Ok(_) => "namespace, 1 mask".to_owned(),
        Err(why) => format!("landlock ({why})"),
    };
    assert_eq!(
        run.tiers.as_deref(),
        Some(format!("ring 2 {tier}; ring 3 {tier}").as_str()),
        "{run}"
    );
}

/// Opening for writing, executing and the syscall probe leave files and the host as they were.
fn changes_nothing() {
    let s = Scratch::new("changes_nothing");
    let tests = r#"tests:
  - { ring: 0, write: "${ws}/out/log.txt", expect: allow }
  - { ring: 2, write: "${ws}/out/log.txt", expect: allow }
  - { ring: 0, execute: "${ws}/bin/tool", expect: allow }
  - { ring: 0, syscall: { name: unlinkat, args: [0xffffff9c] }, expect: allow }
"#;
    // `tool` would write a marker if it ran.
    let marker = s.path("ran");
    s.file(
        "ws/bin/tool",
        &format!("#!/bin/sh\ntouch {marker}\n"),
        0o755,
    );
    let policy = s.policy("nothing", &format!("{RINGS}{tests}"));
    let before = std::fs::read_dir(s.path("ws")).map_or(0, Iterator::count);
    let run = kernel_test(&s, &policy, &[], &[]);
    expect(
        &run,
        0,
        "kernel (Landlock ABI N): 4 agreed, 0 disagreed, 0 not run\n4 passed, 0 failed\n",
    );
    assert_eq!(
        std::fs::read_to_string(s.path("ws/out/log.txt")).unwrap_or_default(),
        "log\n"
    );
    assert!(!Path::new(&marker).exists(), "the program ran");
    assert_eq!(
        std::fs::read_dir(s.path("ws")).map_or(0, Iterator::count),
        before
    );
}

/// A test whose expectation is wrong fails against `decide` and against the kernel: one line
/// each, one failed test.
fn wrong() {
    let s = Scratch::new("wrong");
    let tests = "tests:\n  - { ring: 3, read: \"${ws}/notes.txt\", expect: deny }\n  - { ring: 3, fork: true, expect: allow }\n";
    let policy = s.policy("wrong", &format!("{RINGS}{tests}"));
    let run = kernel_test(&s, &policy, &[], &[]);
    let file = "<dir>/wrong.yaml";
    let lines = run.lines();
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(lines.len(), 6, "{run}");
    assert!(
        lines[0].starts_with(&format!(
            "{file}:30:5: ring 3, read `${{ws}}/notes.txt`: expected deny, decided allow: "
        )),
        "{run}"
    );
    assert_eq!(
        lines[1],
        format!(
            "{file}:30:5: ring 3, read `${{ws}}/notes.txt`: kernel: expected deny, the kernel allowed it"
        )
    );
    assert!(
        lines[2].starts_with(&format!(
            "{file}:31:5: ring 3, fork: expected allow, decided deny: process.fork: false"
        )),
        "{run}"
    );
    assert_eq!(
        lines[3],
        format!("{file}:31:5: ring 3, fork: kernel: expected allow, the kernel denied it (EPERM)")
    );
    assert_eq!(
        &lines[4..],
        [
            "kernel (Landlock ABI N): 0 agreed, 2 disagreed, 0 not run",
            "0 passed, 2 failed"
        ]
    );
}

/// `execute` without `read_file` is allowed by `decide` and refused by the kernel (NC0805):
/// the kernel run finds what `decide` cannot.
fn exec_no_read() {
    let s = Scratch::new("exec_no_read");
    let body = "rings:\n  3:\n    filesystem:\n      execute: [\"${ws}/bin\"]\ntests:\n  - { ring: 3, execute: \"${ws}/bin/tool\", expect: allow }\n";
    let policy = s.policy("exec-no-read", body);
    let run = kernel_test(&s, &policy, &[], &[]);
    expect(
        &run,
        1,
        "<dir>/exec-no-read.yaml:13:5: ring 3, execute `${ws}/bin/tool`: kernel: expected allow, the kernel denied it (EACCES)\n\
         kernel (Landlock ABI N): 0 agreed, 1 disagreed, 0 not run\n\
         0 passed, 1 failed\n",
    );
}

/// Another platform, a missing path, a directory, a file no one may execute: each is said,
/// none counts as agreed; `decide` still answers them.
fn not_run() {
    let s = Scratch::new("not_run");
    let tests = r#"tests:
  - { ring: 3, read: /opt/homebrew/bin/git, platform: macos, expect: deny }
  - { ring: 3, read: "${ws}/missing.txt", expect: allow }
  - { ring: 3, read: "${ws}/bin", expect: allow }
  - { ring: 0, execute: "${ws}/plain", expect: allow }
  - { ring: 3, read: "${ws}/notes.txt", expect: allow }
"#;
    let policy = s.policy("not-run", &format!("{RINGS}{tests}"));
    let run = kernel_test(&s, &policy, &[], &[]);
    let file = "<dir>/not-run.yaml";
    expect(
        &run,
        0,
        &format!(
            "{file}:30:5: ring 3, read `/opt/homebrew/bin/git` on macos: not run by the kernel: a macos test cannot be asked of the linux kernel\n\
             {file}:31:5: ring 3, read `${{ws}}/missing.txt`: not run by the kernel: `<dir>/ws/missing.txt` does not exist on this host: the kernel checks a right when a file is opened\n\
             {file}:32:5: ring 3, read `${{ws}}/bin`: not run by the kernel: `<dir>/ws/bin` is a directory: the kernel checks this right on files\n\
             {file}:33:5: ring 0, execute `${{ws}}/plain`: not run by the kernel: it fails without the sandbox too (EACCES), so a denial could not be told from one\n\
             kernel (Landlock ABI N): 1 agreed, 0 disagreed, 4 not run\n\
             5 passed, 0 failed\n"
        ),
    );
}

/// The probe gets the values `nonoc test` bound: `--var` over the environment over the default.
fn variables() {
    let s = Scratch::new("variables");
    s.file("other/notes.txt", "other\n", 0o644);
    let body = "rings:\n  3:\n    filesystem:\n      read: [\"${ws}\"]\ntests:\n  - { ring: 3, read: \"${ws}/notes.txt\", expect: allow }\n  - { ring: 3, read: \"<dir>/ws/notes.txt\", expect: deny }\n";
    let policy = s.policy("vars", &body.replace("<dir>", &s.root));
    // The environment binds `ws` to the workspace: both tests name the workspace's notes,
    // which the ring then reads, so the second (deny) fails against decide and the kernel.
    let run = kernel_test(&s, &policy, &[], &[]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout.contains(
            "ring 3, read `<dir>/ws/notes.txt`: kernel: expected deny, the kernel allowed it"
        ),
        "{run}"
    );
    // `--var` wins over the environment: the ring now reads `other`, and the workspace's
    // notes are denied by the kernel too.
    let other = s.path("other");
    let var = format!("ws={other}");
    let run = kernel_test(&s, &policy, &["--var", &var], &[]);
    expect(
        &run,
        0,
        "kernel (Landlock ABI N): 2 agreed, 0 disagreed, 0 not run\n2 passed, 0 failed\n",
    );
    // Unbound (no `--var`, no environment, no default): every test that needs it fails
    // against `decide` and is not asked of the kernel.
    let run = kernel_test(&s, &policy, &[], &[("PROBE_WS", "")]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout.contains(
            "ring 3, read `${ws}/notes.txt`: not run by the kernel: variable `ws` is unbound"
        ),
        "{run}"
    );
    assert!(run.stdout.ends_with("0 passed, 2 failed\n"), "{run}");
}

/// TCP needs Landlock ABI 4. Ports chosen high and unlikely to be in use; a port in use only
/// changes `ECONNREFUSED` or `EADDRINUSE` into success, both "allowed".
fn tcp() {
    let s = Scratch::new("tcp");
    let body = r#"rings:
  3:
    network: { mode: blocked }
  2:
    network: { mode: restricted, connect_tcp: [47811], bind_tcp: [47813] }
  1:
    network: { mode: allowed }
tests:
  - { ring: 2, connect_tcp: 47811, expect: allow }
  - { ring: 2, connect_tcp: 47812, expect: deny }
  - { ring: 2, bind_tcp: 47813, expect: allow }
  - { ring: 2, bind_tcp: 47814, expect: deny }
  - { ring: 3, connect_tcp: 47811, expect: deny }
  - { ring: 1, connect_tcp: 47812, expect: allow }
  - { ring: 1, bind_tcp: 47814, expect: allow }
"#;
    let policy = s.policy("tcp", body);
    let run = kernel_test(&s, &policy, &[], &[]);
    expect(
        &run,
        0,
        "kernel (Landlock ABI N): 7 agreed, 0 disagreed, 0 not run\n7 passed, 0 failed\n",
    );
}

/// Signal scopes need Landlock ABI 6. A process inside the sandbox is started by executing
/// `nonoc` itself, so the ring must let it run (its directory and the system's libraries).
fn signals() {
    let s = Scratch::new("signals");
    let bin_dir = Path::new(NONOC)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let body = r#"rings:
  3:
    filesystem:
      read: [/usr, /lib, /lib64, /etc, "BIN"]
      execute: [/usr, /lib, /lib64, "BIN"]
    process: { fork: true, signals: sandbox }
  1:
    process: { fork: true, signals: any }
tests:
  - { ring: 3, signal: self, expect: allow }
  - { ring: 3, signal: sandbox, expect: allow }
  - { ring: 3, signal: any, expect: deny }
  - { ring: 1, signal: any, expect: allow }
"#;
    let policy = s.policy("signals", &body.replace("BIN", &bin_dir));
    let run = kernel_test(&s, &policy, &[], &[]);
    expect(
        &run,
        0,
        "kernel (Landlock ABI N): 4 agreed, 0 disagreed, 0 not run\n4 passed, 0 failed\n",
    );
}

/// v1.1 requests: `listen`, `unix_connect` and `capability`. The unix sockets are served by
/// this test; a path without a socket is not run; a path the ring's grant does not cover is
/// still reachable on this kernel, which the run says with the report's note.
fn listen_unix_capabilities() {
    let s = Scratch::new("listen_unix_capabilities");
    std::fs::create_dir_all(s.path("ws/sock")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(s.path("other")).unwrap_or_else(|e| panic!("{e}"));
    let _granted = std::os::unix::net::UnixListener::bind(s.path("ws/sock/daemon.sock"))
        .unwrap_or_else(|e| panic!("{e}"));
    let _other = std::os::unix::net::UnixListener::bind(s.path("other/daemon.sock"))
        .unwrap_or_else(|e| panic!("{e}"));
    let body = r#"rings:
  3:
    network: { mode: blocked }
  2:
    network: { mode: restricted, connect_tcp: [443] }
  1:
    network: { mode: allowed, unix_connect: ["${ws}/sock"] }
    process: { capabilities: [net_bind_service] }
tests:
  - { ring: 3, listen: tcp, expect: deny }
  - { ring: 2, listen: tcp, expect: deny }
  - { ring: 2, listen: unix, expect: deny }
  - { ring: 1, listen: tcp, expect: allow }
  - { ring: 1, listen: unix, expect: allow }
  - { ring: 3, unix_connect: "${ws}/sock/daemon.sock", expect: deny }
  - { ring: 2, unix_connect: "${ws}/sock/daemon.sock", expect: deny }
  - { ring: 1, unix_connect: "${ws}/sock/daemon.sock", expect: allow }
  - { ring: 1, unix_connect: "${ws}/sock/missing.sock", expect: allow }
  - { ring: 1, capability: net_bind_service, expect: allow }
"#;
    let policy = s.policy("v11", body);
    let run = kernel_test(&s, &policy, &[], &[]);
    let file = "<dir>/v11.yaml";
    expect(
        &run,
        0,
        &format!(
            "{file}:25:5: ring 1, unix_connect `${{ws}}/sock/missing.sock`: not run by the kernel: no unix socket at `<dir>/ws/sock/missing.sock` on this host (ENOENT)\n\
             kernel (Landlock ABI N): 9 agreed, 0 disagreed, 1 not run\n\
             10 passed, 0 failed\n"
        ),
    );
    // Outside the grant: `decide` denies, the kernel cannot, and the run says why.
    let other = s.path("other/daemon.sock");
    let body = format!(
        "rings:\n  1:\n    network: {{ mode: blocked, unix_connect: [\"${{ws}}/sock\"] }}\ntests:\n  - {{ ring: 1, unix_connect: \"{other}\", expect: deny }}\n"
    );
    let policy = s.policy("outside", &body);
    let run = kernel_test(&s, &policy, &[], &[]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout.contains("kernel: expected deny, the kernel allowed it (network.unix_connect is not enforced by path (Landlock restricts it only from ABI 9"),
        "{run}"
    );
}
