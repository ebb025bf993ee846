//! `nonoc test` and `nonoc explain`, called as library handlers with in-memory writers and a
//! fixed environment (no variable set, so defaults apply, unless a test says otherwise).
#![expect(
    clippy::panic,
    reason = "test helpers report a broken test set-up by panicking, as a failed assertion does"
)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use nonoc::cli::explain::{ExplainArgs, ListenArg, RequestArgs};
use nonoc::cli::test::{TestArgs, run_probing_with};
use nonoc::cli::{Context, Format, Outcome, Style, VarArgs, finish};
use nonoc::explain::ExplainRequest;
use nonoc::ir::ListenFamily;

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

fn example(name: &str) -> PathBuf {
    workspace().join("policies").join(format!("{name}.yaml"))
}

/// Writes `text` as `policy.yaml` in a directory of the test's own.
fn policy(test: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cmd_test_explain")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let path = dir.join("policy.yaml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// What a handler did: exit code, stdout, stderr, with the policy's directory removed from
/// file names so the text does not depend on where the tests run.
#[derive(Debug)]
struct Run {
    code: u8,
    stdout: String,
    stderr: String,
}

impl Run {
    fn new(policy: &Path, code: u8, out: &[u8], err: &[u8]) -> Run {
        let strip = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes).into_owned();
            match policy.parent() {
                Some(dir) => text.replace(&format!("{}/", dir.display()), ""),
                None => text,
            }
        };
        Run {
            code,
            stdout: strip(out),
            stderr: strip(err),
        }
    }

    fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }

    fn snapshot(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn no_env(_: &str) -> Option<OsString> {
    None
}

fn var_args(vars: &[&str]) -> VarArgs {
    VarArgs {
        vars: vars.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// Runs a command's handler with in-memory writers and `env`, its error rendered as `nonoc`
/// renders it.
fn handle(
    policy: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
    run: impl FnOnce(&mut Context<'_>) -> Outcome,
) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut ctx = Context {
        out: &mut out,
        err: &mut err,
        style: STYLE,
        env,
    };
    let code = finish(run(&mut ctx), ctx.err).code();
    Run::new(policy, code, &out, &err)
}

fn run_test(policy: &Path, vars: &[&str], env: &dyn Fn(&str) -> Option<OsString>) -> Run {
    let args = TestArgs {
        policy: policy.to_owned(),
        vars: var_args(vars),
        kernel: false,
    };
    handle(policy, env, |ctx| nonoc::cli::test::run(&args, ctx))
}

fn run_explain(
    policy: &Path,
    ring: u8,
    request: ExplainRequest,
    vars: &[&str],
    format: Format,
) -> Run {
    let mut flags = RequestArgs {
        read: None,
        write: None,
        execute: None,
        connect_tcp: None,
        bind_tcp: None,
        syscall: None,
        listen: None,
        unix_connect: None,
        capability: None,
        host: None,
    };
    match request {
        ExplainRequest::Read(p) => flags.read = Some(p),
        ExplainRequest::Write(p) => flags.write = Some(p),
        ExplainRequest::Execute(p) => flags.execute = Some(p),
        ExplainRequest::ConnectTcp(p) => flags.connect_tcp = Some(p),
        ExplainRequest::BindTcp(p) => flags.bind_tcp = Some(p),
        ExplainRequest::Syscall(name) => flags.syscall = Some(name),
        ExplainRequest::Listen(family) => {
            flags.listen = Some(match family {
                ListenFamily::Tcp => ListenArg::Tcp,
                ListenFamily::Unix => ListenArg::Unix,
            });
        }
        ExplainRequest::UnixConnect(p) => flags.unix_connect = Some(p),
        ExplainRequest::Capability(name) => flags.capability = Some(name),
        ExplainRequest::Host(host) => flags.host = Some(host),
    }
    let args = ExplainArgs {
        policy: policy.to_owned(),
        ring,
        request: flags,
        vars: var_args(vars),
        format,
    };
    handle(policy, &no_env, |ctx| nonoc::cli::explain::run(&args, ctx))
}

const SMALL: &str = r#"apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: small
variables:
  ws:
    env: SMALL_WS
  cache:
    default: "${ws}/.cache"
deny:
  - path: /usr/secret
rings:
  1:
    filesystem:
      read: [/usr, /etc]
      write: ["${ws}"]
    network:
      mode: restricted
      connect_tcp: [443]
    process:
      fork: true
tests:
  - { ring: 1, read: /usr/bin/env, expect: allow }
  - { ring: 1, read: /usr/secret/key, expect: allow }
  - { ring: 1, connect_tcp: 443, expect: deny }
  - { ring: 1, connect_tcp: 80, expect: deny }
  - { ring: 1, write: "${ws}/out", expect: allow }
  - { ring: 1, write: "${cache}/x", expect: allow }
  - { ring: 1, syscall: ptrace, expect: deny }
"#;

// ---------------------------------------------------------------------------------------
// nonoc test

#[test]
fn the_example_policies_pass_their_tests() {
    for name in ["agt-rings", "coding-agent", "ci-runner"] {
        let path = example(name);
        let run = run_test(&path, &[], &no_env);
        assert_eq!(run.code, 0, "{name}: {}", run.snapshot());
        let last = run.last_line();
        assert!(
            last.ends_with(" passed, 0 failed") && run.stdout.lines().count() == 1,
            "{name}: {}",
            run.snapshot()
        );
    }
}

#[test]
fn the_environment_binds_before_the_default() {
    // With `HOME` elsewhere, the tests written for `/root` no longer hold.
    let path = example("coding-agent");
    let env = |name: &str| (name == "HOME").then(|| OsString::from("/home/agent"));
    let run = run_test(&path, &[], &env);
    assert_eq!(run.code, 1, "{}", run.snapshot());
    assert!(run.last_line().ends_with(" failed") && !run.last_line().ends_with(" 0 failed"));
    // `--var` comes before the environment.
    let run = run_test(&path, &["home=/root"], &env);
    assert_eq!(run.code, 0, "{}", run.snapshot());
}

#[test]
fn failures_name_the_test_and_the_deciding_rule() {
    let path = policy("failures", SMALL);
    let run = run_test(&path, &["ws=/w"], &no_env);
    assert_eq!(run.code, 1, "{}", run.snapshot());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "policy.yaml:24:5: ring 1, read `/usr/secret/key`: expected allow, decided deny: denied by `/usr/secret` (read_file) at policy.yaml:11:5",
            "policy.yaml:25:5: ring 1, connect_tcp 443: expected deny, decided allow: network.connect_tcp lists port 443",
            "5 passed, 2 failed",
        ]
    );
    insta::assert_snapshot!("test_failures", run.snapshot());
}

#[test]
fn a_test_needing_an_unbound_variable_fails_and_the_others_run() {
    let path = policy("unbound", SMALL);
    let run = run_test(&path, &[], &no_env);
    assert_eq!(run.code, 1, "{}", run.snapshot());
    assert_eq!(run.last_line(), "2 passed, 5 failed");
    // Every path test of ring 1 needs `ws` (its write rule uses it); `cache` through its
    // default.
    assert!(run.stdout.contains(
        "policy.yaml:27:5: ring 1, write `${ws}/out`: cannot decide: variable `ws` is unbound: pass `--var ws=PATH`, set `SMALL_WS`, or give it a default"
    ), "{}", run.snapshot());
    assert!(
        run.stdout.contains(
            "ring 1, write `${cache}/x`: cannot decide: variable `cache` is unbound: pass `--var cache=PATH`, or bind `ws` (its default `${ws}/.cache` uses it)"
        ),
        "{}",
        run.snapshot()
    );
    insta::assert_snapshot!("test_unbound", run.snapshot());
    // Bound by the environment.
    let env = |name: &str| (name == "SMALL_WS").then(|| OsString::from("/w"));
    let run = run_test(&path, &[], &env);
    assert_eq!(run.last_line(), "5 passed, 2 failed", "{}", run.snapshot());
}

#[test]
fn bad_variables_are_usage_errors() {
    let path = policy("bad_vars", SMALL);
    for (vars, message) in [
        (
            &["nope=/x"][..],
            "error: `--var nope=...`: the policy declares no variable `nope`\n",
        ),
        (
            &["ws=relative"][..],
            "error: `--var ws=relative`: the value must be an absolute normalized path (not absolute)\n",
        ),
        (&["ws"][..], "error: `--var ws` is not NAME=VALUE\n"),
        (
            &["ws=/a", "ws=/b"][..],
            "error: `--var ws=...` is given twice\n",
        ),
    ] {
        let run = run_test(&path, vars, &no_env);
        assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{vars:?}");
        assert_eq!(run.stderr, message, "{vars:?}");
    }
    // A bad value from the environment only fails the tests that need the variable.
    let env = |name: &str| (name == "SMALL_WS").then(|| OsString::from("w/rel"));
    let run = run_test(&path, &[], &env);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("variable `ws` is bound by `$SMALL_WS` to `w/rel`, which is not an absolute normalized path (not absolute)"),
        "{}",
        run.snapshot()
    );
}

#[test]
fn a_kernel_run_whose_probe_cannot_start_fails_every_test() {
    // `--kernel` runs `nonoc __probe` per test; when it cannot be started, no test passes by
    // the kernel, and the run fails (the probe itself is tested in `tests/test_kernel.rs`).
    let path = policy(
        "kernel_probe_missing",
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: k\nrings:\n  3:\n    network: { mode: blocked }\ntests:\n  - { ring: 3, connect_tcp: 443, expect: deny }\n  - { ring: 3, read: /x, platform: macos, expect: deny }\n",
    );
    let args = TestArgs {
        policy: path.clone(),
        vars: VarArgs::default(),
        kernel: true,
    };
    let probe = Path::new("/nonexistent/nonoc");
    let run = handle(&path, &no_env, |ctx| {
        run_probing_with(&args, Some(probe), ctx)
    });
    assert_eq!(run.code, 1, "{}", run.snapshot());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("policy.yaml:9:5: ring 3, connect_tcp 443: kernel: cannot run `/nonexistent/nonoc __probe`"),
        "{}",
        run.snapshot()
    );
    assert_eq!(
        lines[1],
        "policy.yaml:10:5: ring 3, read `/x` on macos: not run by the kernel: a macos test cannot be asked of the linux kernel"
    );
    assert!(
        lines[2].ends_with(": 0 agreed, 1 disagreed, 1 not run"),
        "{}",
        run.snapshot()
    );
    assert_eq!(run.last_line(), "1 passed, 1 failed");
}

#[test]
fn a_policy_with_errors_or_no_file() {
    let path = policy(
        "errors",
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: e\nrings:\n  1:\n    filesystem:\n      read: [relative/path]\n",
    );
    let run = run_test(&path, &[], &no_env);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, ""),
        "{}",
        run.snapshot()
    );
    assert!(run.stderr.contains("relative/path"), "{}", run.snapshot());
    assert!(run.stderr.contains("has errors"), "{}", run.snapshot());
    let run = run_explain(
        &path,
        1,
        ExplainRequest::Read("/x".into()),
        &[],
        Format::Human,
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, ""),
        "{}",
        run.snapshot()
    );

    let missing = path.with_file_name("missing.yaml");
    let run = run_test(&missing, &[], &no_env);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("error: cannot read `missing.yaml`"));
}

#[test]
fn no_tests_is_zero_and_zero() {
    let path = policy(
        "none",
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: n\nrings:\n  1:\n    filesystem:\n      read: [/usr]\n",
    );
    let run = run_test(&path, &[], &no_env);
    assert_eq!((run.code, run.stdout.as_str()), (0, "0 passed, 0 failed\n"));
}

// ---------------------------------------------------------------------------------------
// nonoc explain

fn first_line(run: &Run) -> &str {
    run.stdout.lines().next().unwrap_or("")
}

#[test]
fn explain_paths() {
    let path = example("coding-agent");
    let cases = [
        (
            3,
            ExplainRequest::Read("/app/workspace/src/main.rs".into()),
            "allow",
            "Landlock: allowed by a path-beneath rule on `/app/workspace` (read_file)",
        ),
        (
            3,
            ExplainRequest::Read("/app/workspace/.env".into()),
            "deny",
            "Landlock: deny inside an allowed directory: carve-out of `/app/workspace`",
        ),
        (
            3,
            ExplainRequest::Write("/app/workspace/src/main.rs".into()),
            "deny",
            "Landlock: denied by default: no path-beneath rule grants write_file on `/app/workspace/src/main.rs`",
        ),
        (
            2,
            ExplainRequest::Write("${workspace}/src/main.rs".into()),
            "allow",
            "Landlock: allowed by a path-beneath rule on `/app/workspace` (write_file)",
        ),
        (
            3,
            ExplainRequest::Execute("/usr/bin/git".into()),
            "allow",
            "Landlock: allowed by a path-beneath rule on `/usr/bin` (execute)",
        ),
        (
            3,
            ExplainRequest::Execute("/app/workspace/run.sh".into()),
            "deny",
            "Landlock: denied by default",
        ),
        (
            3,
            ExplainRequest::Read("/root/.ssh/id_ed25519".into()),
            "deny",
            "needs no carve-out",
        ),
    ];
    for (ring, request, verdict, landlock) in cases {
        let run = run_explain(&path, ring, request.clone(), &[], Format::Human);
        assert_eq!(run.code, 0, "{request:?}: {}", run.snapshot());
        assert_eq!(first_line(&run), verdict, "{request:?}: {}", run.snapshot());
        assert!(
            run.stdout.contains(landlock),
            "{request:?}: {}",
            run.snapshot()
        );
        assert!(
            run.stdout.contains("\nseccomp: not involved\n"),
            "{request:?}"
        );
        assert!(run.stderr.is_empty(), "{request:?}: {}", run.snapshot());
    }
}

#[test]
fn explain_a_carve_out_snapshot() {
    let run = run_explain(
        &example("coding-agent"),
        2,
        ExplainRequest::Write("/app/workspace/.git/hooks/pre-commit".into()),
        &[],
        Format::Human,
    );
    let text = run
        .snapshot()
        .replace(&format!("{}/", workspace().display()), "");
    insta::assert_snapshot!("explain_carve_out", text);
}

#[test]
fn explain_ports() {
    let path = example("coding-agent");
    let cases = [
        (
            2,
            ExplainRequest::ConnectTcp("443".into()),
            "allow",
            "Landlock: allowed by a TCP connect port rule for port 443",
        ),
        (
            2,
            ExplainRequest::ConnectTcp("80".into()),
            "deny",
            "Landlock: denied: the ruleset handles TCP connect and has no port rule for port 80",
        ),
        (
            2,
            ExplainRequest::BindTcp("8080".into()),
            "deny",
            "no port rule for port 8080",
        ),
        (
            3,
            ExplainRequest::ConnectTcp("443".into()),
            "deny",
            "seccomp: socket() of inet families gets errno EPERM",
        ),
        (
            1,
            ExplainRequest::ConnectTcp("22".into()),
            "allow",
            "Landlock: TCP not restricted (network.mode: allowed)",
        ),
    ];
    for (ring, request, verdict, text) in cases {
        let run = run_explain(&path, ring, request.clone(), &[], Format::Human);
        assert_eq!(run.code, 0, "{request:?}: {}", run.snapshot());
        assert_eq!(first_line(&run), verdict, "{request:?}: {}", run.snapshot());
        assert!(run.stdout.contains(text), "{request:?}: {}", run.snapshot());
    }
}

/// v1.1 requests: `--listen`, `--unix-connect`, `--capability`, each with what the filter
/// does, and `--execute` noting what `execute` does not stop.
#[test]
fn explain_listen_unix_sockets_capabilities_and_execute() {
    let agt = example("agt-rings");
    let v11 = workspace().join("tests/fixtures/valid/08-unix-sockets-listen-capabilities.yaml");
    use nonoc::ir::ListenFamily::{Tcp, Unix};
    let cases = [
        (
            &agt,
            2,
            ExplainRequest::Listen(Tcp),
            "deny",
            "then listen(): x86_64 (nr 50): errno EPERM",
        ),
        (
            &agt,
            1,
            ExplainRequest::Listen(Tcp),
            "allow",
            "network.mode: allowed",
        ),
        (
            &agt,
            3,
            ExplainRequest::Listen(Tcp),
            "deny",
            "no TCP socket can be created",
        ),
        (
            &v11,
            3,
            ExplainRequest::Listen(Unix),
            "allow",
            "socket(AF_UNIX, SOCK_STREAM): x86_64 (nr 41): allow",
        ),
        (
            &agt,
            3,
            ExplainRequest::UnixConnect("/var/run/docker.sock".into()),
            "deny",
            "seccomp: socket(AF_UNIX, SOCK_STREAM): x86_64 (nr 41): errno EPERM",
        ),
        (
            &v11,
            1,
            ExplainRequest::UnixConnect("/run/docker.sock".into()),
            "deny",
            "Landlock: not enforced by path",
        ),
        (
            &v11,
            1,
            ExplainRequest::UnixConnect("/run/user/1000/bus".into()),
            "allow",
            "allowed by network.unix_connect `/run`",
        ),
        (
            &v11,
            1,
            ExplainRequest::Capability("net_bind_service".into()),
            "allow",
            "process.capabilities keeps `net_bind_service`",
        ),
        (
            &agt,
            1,
            ExplainRequest::Capability("sys_admin".into()),
            "deny",
            "process.capabilities is empty: every capability is dropped",
        ),
        (
            &agt,
            2,
            ExplainRequest::Execute("/tmp/script.sh".into()),
            "deny",
            "note: `execute` governs execve only: the ring may read this file and may execute programs under `/usr/bin`, `/usr/lib`",
        ),
    ];
    for (path, ring, request, verdict, text) in cases {
        let run = run_explain(path, ring, request.clone(), &[], Format::Human);
        assert_eq!(run.code, 0, "{request:?}: {}", run.snapshot());
        assert_eq!(first_line(&run), verdict, "{request:?}: {}", run.snapshot());
        assert!(run.stdout.contains(text), "{request:?}: {}", run.snapshot());
    }
    // No note where the file cannot be read either, or may be executed.
    for file in ["/root/.ssh/tool", "/usr/bin/env"] {
        let run = run_explain(
            &agt,
            1,
            ExplainRequest::Execute(file.into()),
            &[],
            Format::Json,
        );
        assert!(
            !run.stdout.contains("\"notes\""),
            "{file}: {}",
            run.snapshot()
        );
    }
    let run = run_explain(
        &agt,
        1,
        ExplainRequest::Capability("CAP_SYS_ADMIN".into()),
        &[],
        Format::Human,
    );
    assert_eq!(run.code, 2, "{}", run.snapshot());
    assert!(
        run.stderr.contains("not a Linux capability"),
        "{}",
        run.snapshot()
    );
}

#[test]
fn explain_syscalls() {
    let path = example("agt-rings");
    let cases = [
        (
            2,
            "ptrace",
            "deny",
            "seccomp: x86_64 (nr 101): errno EPERM; aarch64 (nr 117): errno EPERM",
        ),
        (
            2,
            "read",
            "allow",
            "seccomp: x86_64 (nr 0): allow; aarch64 (nr 63): allow",
        ),
        (
            3,
            "fork",
            "deny",
            "x86_64 (nr 57): errno EPERM; aarch64: no such syscall",
        ),
        (
            0,
            "ptrace",
            "allow",
            "seccomp: no filter: ring 0 is unconfined",
        ),
    ];
    for (ring, name, verdict, text) in cases {
        let run = run_explain(
            &path,
            ring,
            ExplainRequest::Syscall(name.into()),
            &[],
            Format::Human,
        );
        assert_eq!(run.code, 0, "{name}: {}", run.snapshot());
        assert_eq!(first_line(&run), verdict, "{name}: {}", run.snapshot());
        assert!(run.stdout.contains(text), "{name}: {}", run.snapshot());
        assert!(
            !run.stdout.contains("mismatch"),
            "{name}: {}",
            run.snapshot()
        );
        assert!(
            run.stdout.contains("Landlock: not"),
            "{name}: {}",
            run.snapshot()
        );
    }
    let run = run_explain(
        &path,
        2,
        ExplainRequest::Syscall("ptrace".into()),
        &[],
        Format::Human,
    );
    let text = run
        .snapshot()
        .replace(&format!("{}/", workspace().display()), "");
    insta::assert_snapshot!("explain_syscall", text);
}

#[test]
fn explain_json_parses() {
    let path = example("coding-agent");
    let run = run_explain(
        &path,
        3,
        ExplainRequest::Read("/app/workspace/.env".into()),
        &[],
        Format::Json,
    );
    assert_eq!(run.code, 0, "{}", run.snapshot());
    let value: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(value["verdict"], "deny");
    let because = value["because"].as_array().cloned().unwrap_or_default();
    assert_eq!(because.len(), 1, "{value}");
    let reason = &because[0];
    assert_eq!(reason["file"], "coding-agent.yaml");
    assert!(reason["line"].as_u64().is_some_and(|l| l > 0), "{value}");
    assert!(reason["column"].as_u64().is_some_and(|c| c > 0), "{value}");
    assert!(
        reason["text"].as_str().is_some_and(|t| t.contains(".env")),
        "{value}"
    );
    assert!(
        reason["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("denied by"))
    );
    assert!(
        value["backends"]["landlock"]
            .as_str()
            .is_some_and(|t| t.contains("carve-out"))
    );
    assert_eq!(value["backends"]["seccomp"], "not involved");

    // A default decided it: no location.
    let run = run_explain(
        &path,
        2,
        ExplainRequest::ConnectTcp("80".into()),
        &[],
        Format::Json,
    );
    let value: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(value["verdict"], "deny");
    assert_eq!(value["because"][0]["file"], serde_json::Value::Null);
    assert_eq!(
        value["because"][0]["detail"],
        "network.connect_tcp does not list port 80"
    );
}

#[test]
fn explain_usage_errors() {
    let path = example("coding-agent");
    let small = policy("explain_usage", SMALL);
    let cases = [
        (
            &path,
            7,
            ExplainRequest::Read("/x".into()),
            "error: the policy has no ring 7 (its rings: 1, 2, 3)",
        ),
        (
            &path,
            2,
            ExplainRequest::ConnectTcp("http".into()),
            "error: `--connect-tcp http`: a TCP port is a number in 1..=65535",
        ),
        (
            &path,
            2,
            ExplainRequest::BindTcp("0".into()),
            "error: `--bind-tcp 0`: a TCP port is a number in 1..=65535",
        ),
        (
            &path,
            2,
            ExplainRequest::ConnectTcp("70000".into()),
            "error: `--connect-tcp 70000`: a TCP port",
        ),
        (
            &path,
            2,
            ExplainRequest::Read("relative/x".into()),
            "error: `--read relative/x`: the path must be absolute and normalized (not absolute)",
        ),
        (
            &path,
            2,
            ExplainRequest::Write("/a/../b".into()),
            "error: `--write /a/../b`: the path must be absolute and normalized",
        ),
        (
            &path,
            2,
            ExplainRequest::Read("${nope}/x".into()),
            "error: `--read ${nope}/x`: the policy declares no variable `nope`",
        ),
        (
            &small,
            1,
            ExplainRequest::Read("${ws}/x".into()),
            "error: `--read ${ws}/x`: variable `ws` is unbound: pass `--var ws=PATH`, set `SMALL_WS`, or give it a default",
        ),
        (
            &path,
            2,
            ExplainRequest::Syscall("nosuchcall".into()),
            "error: `--syscall nosuchcall`: no such syscall on x86_64 or aarch64",
        ),
    ];
    for (policy, ring, request, message) in cases {
        let run = run_explain(policy, ring, request.clone(), &[], Format::Human);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (2, ""),
            "{request:?}: {}",
            run.snapshot()
        );
        assert!(
            run.stderr.starts_with(message),
            "{request:?}: {}",
            run.snapshot()
        );
    }
}

#[test]
fn explain_binds_variables() {
    let small = policy("explain_vars", SMALL);
    let run = run_explain(
        &small,
        1,
        ExplainRequest::Write("${ws}/x".into()),
        &["ws=/w"],
        Format::Human,
    );
    assert_eq!(
        (run.code, first_line(&run)),
        (0, "allow"),
        "{}",
        run.snapshot()
    );
    assert!(
        run.stdout.contains("path-beneath rule on `/w`"),
        "{}",
        run.snapshot()
    );
    // A ring whose rules use an unbound variable is refused, so everything on paths is denied.
    let run = run_explain(
        &small,
        1,
        ExplainRequest::Read("/usr/x".into()),
        &[],
        Format::Human,
    );
    assert_eq!(
        (run.code, first_line(&run)),
        (0, "deny"),
        "{}",
        run.snapshot()
    );
    assert!(
        run.stdout.contains("variable `ws` is unbound"),
        "{}",
        run.snapshot()
    );
}

/// A ring with the `tmp` preset: `${tmp}` stands for the run's private directory (the
/// placeholder `/tmp/nonoc-tmp-XXXXXX`), the shared `/tmp` is denied, and `--var tmp=` binds
/// it like any variable. `nonoc test` decides the same way.
#[test]
fn explain_and_test_take_tmp_as_the_private_directory() {
    let text = "apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: { name: tmp }
rings:
  2:
    filesystem: { presets: [tmp] }
  3:
    filesystem: { read: [/usr] }
tests:
  - { ring: 2, write: \"${tmp}/x\", expect: allow }
  - { ring: 2, write: /tmp/x, expect: deny }
  - { ring: 2, read: /var/tmp/x, expect: deny }
  - { ring: 3, write: \"${tmp}/x\", expect: deny }
";
    let path = policy("explain_tmp", text);
    let cases = [
        (
            2,
            ExplainRequest::Write("${tmp}/x".into()),
            &[][..],
            "allow",
        ),
        (2, ExplainRequest::Write("/tmp/x".into()), &[], "deny"),
        (2, ExplainRequest::Read("/var/tmp/x".into()), &[], "deny"),
        (3, ExplainRequest::Write("${tmp}/x".into()), &[], "deny"),
        (
            2,
            ExplainRequest::Write("/srv/t/x".into()),
            &["tmp=/srv/t"],
            "allow",
        ),
    ];
    for (ring, request, vars, verdict) in cases {
        let run = run_explain(&path, ring, request, vars, Format::Human);
        assert_eq!(
            (run.code, first_line(&run)),
            (0, verdict),
            "{}",
            run.snapshot()
        );
    }
    let run = run_explain(
        &path,
        2,
        ExplainRequest::Write("${tmp}/x".into()),
        &[],
        Format::Human,
    );
    assert!(
        run.stdout.contains("(preset tmp)") && run.stdout.contains("`/tmp/nonoc-tmp-XXXXXX`"),
        "{}",
        run.snapshot()
    );
    let run = run_test(&path, &[], &no_env);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "4 passed, 0 failed\n"),
        "{}",
        run.snapshot()
    );
}

#[test]
fn explain_args_parse_with_clap() {
    use clap::Parser;
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ExplainArgs,
    }
    let cli = Cli::try_parse_from([
        "explain",
        "p.yaml",
        "--ring",
        "2",
        "--connect-tcp",
        "443",
        "--format",
        "json",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cli.args.request.request(),
        Some(ExplainRequest::ConnectTcp("443".into()))
    );
    assert_eq!(cli.args.format, Format::Json);
    assert!(Cli::try_parse_from(["explain", "p.yaml", "--ring", "2"]).is_err());
    assert!(
        Cli::try_parse_from([
            "explain", "p.yaml", "--ring", "2", "--read", "/a", "--write", "/b"
        ])
        .is_err()
    );

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(flatten)]
        args: TestArgs,
    }
    let cli = TestCli::try_parse_from(["test", "p.yaml", "--var", "a=/b", "--kernel"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cli.args.vars.vars, ["a=/b"]);
    assert!(cli.args.kernel);
}

#[test]
fn policy_text_reaches_the_terminal_escaped() {
    // A right-to-left override in a comment on a rule's line, which explain quotes, and in
    // the path of a failing test, which its line names.
    let text = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: b }\n\
                rings:\n  3:\n    filesystem:\n      read: [/usr]  # \u{202e} evil\n\
                tests:\n  - { ring: 3, read: \"/usr/a\u{202e}b\", expect: deny }\n";
    let path = policy("policy_text_reaches_the_terminal_escaped", text);
    let run = run_explain(
        &path,
        3,
        ExplainRequest::Read("/usr/x".into()),
        &[],
        Format::Human,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("# \\u{202e} evil"), "{}", run.stdout);
    assert!(!run.stdout.contains('\u{202e}'), "{}", run.stdout);
    let run = run_test(&path, &[], &no_env);
    assert!(run.stdout.contains("/usr/a\\u{202e}b"), "{}", run.stdout);
    assert!(!run.stdout.contains('\u{202e}'), "{}", run.stdout);
}

/// `--host NAME[:PORT]`: the egress proxy's own decision, with the entry that made it, and
/// what keeps the ring to the proxy; a host that cannot be read is a usage error.
#[test]
fn explain_host() {
    let path = workspace().join("tests/fixtures/valid/09-egress-hosts.yaml");
    let cases = [
        (
            2,
            "API.example.com.",
            "allow",
            "`api.example.com:443` is allowed by hosts[0] `api.example.com` (443)",
        ),
        (
            2,
            "raw.githubusercontent.com",
            "allow",
            "the proxy resolves the name and refuses it if any address is a metadata endpoint or not global",
        ),
        (
            2,
            "githubusercontent.com",
            "deny",
            "`githubusercontent.com` is not in `hosts`",
        ),
        (
            2,
            "uploads.githubusercontent.com",
            "deny",
            "refused by deny_hosts[0] `uploads.githubusercontent.com` (every port)",
        ),
        (
            2,
            "api.example.com:8443",
            "deny",
            "port 8443 is not among the ports of hosts[0]",
        ),
        (
            2,
            "169.254.169.254:80",
            "deny",
            "a cloud metadata endpoint, refused whatever the policy says",
        ),
        (
            2,
            "evil.test:22",
            "allow",
            "network.connect_tcp lists port 22: a direct connection to any host",
        ),
        (
            2,
            "evil.test",
            "deny",
            "landlock tier: TCP connect is pinned to the proxy's loopback port and the connect_tcp ports (port-pinned)",
        ),
        (
            3,
            "files.example.org",
            "allow",
            "hosts[4] `files.example.org`",
        ),
    ];
    for (ring, host, verdict, text) in cases {
        let request = ExplainRequest::Host(host.into());
        let run = run_explain(&path, ring, request, &[], Format::Human);
        assert_eq!(run.code, 0, "{host}: {}", run.snapshot());
        assert_eq!(first_line(&run), verdict, "{host}: {}", run.snapshot());
        assert!(run.stdout.contains(text), "{host}: {}", run.snapshot());
    }
    let run = run_explain(
        &path,
        2,
        ExplainRequest::Host("https://api.example.com".into()),
        &[],
        Format::Human,
    );
    assert_eq!(run.code, 2, "{}", run.snapshot());
    assert!(
        run.stderr.contains("--host https://api.example.com"),
        "{}",
        run.snapshot()
    );
}
