//! `Ring::spawn` on the real kernel: the parent prepares, a forked child enters the sequence
//! (a session of its own, namespaces and masks, descriptors, capabilities, Landlock, seccomp)
//! and runs a small Python program that prints what it could do; the parent is never
//! confined. The network namespace step: only `lo` inside, no route out, and a listening
//! socket made inside that the parent accepts on. `harness = false`: see the runner.
//!
//! These tests enter namespaces as root (no user namespace) and need `/usr/bin/python3`;
//! without either they fail under `NONOC_REQUIRE_LANDLOCK=1` and are skipped otherwise.
//! `compiler/tests/isolation.rs` runs the same sequence through `nonoc exec`, also as an
//! unprivileged user and without user namespaces.

use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};

use nonoc_runtime::{Artifact, Bindings, ErrorKind, Options};
use nonoc_test_runner::Test;
use nonoc_tests::kernel::{TempTree, compile};

const PYTHON: &str = "/usr/bin/python3";

fn main() -> ExitCode {
    let ready = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    }) && std::path::Path::new(PYTHON).exists();
    if !ready {
        if nonoc_test_runner::landlock_required() {
            println!(
                "kernel_isolation: FAILED (needs root and {PYTHON}; NONOC_REQUIRE_LANDLOCK=1)"
            );
            return ExitCode::FAILURE;
        }
        println!("kernel_isolation: all skipped (needs root and {PYTHON})");
        return ExitCode::SUCCESS;
    }
    nonoc_test_runner::run(&[
        Test::new("spawn_masks_and_reports_like_exec", 1, spawn_masks),
        Test::new(
            "spawn_reports_the_failing_step_and_runs_nothing",
            1,
            spawn_failures,
        ),
        Test::new(
            "spawn_is_safe_beside_a_thread_that_allocates",
            1,
            spawn_beside_threads,
        ),
        Test::new(
            "the_network_namespace_has_only_loopback_and_hands_its_listener_out",
            4,
            network_namespace,
        ),
    ])
}

/// Prints `OP ARGS -> RESULT` per operation (RESULT `ok`, an errno name, or `= VALUE`).
const PROBE: &str = r##"
import errno, os, socket, stat, sys
def run(op, a):
    if op == "create": os.mknod(a[0], 0o644 | stat.S_IFREG)
    elif op == "write":
        fd = os.open(a[0], os.O_WRONLY); os.write(fd, b"x"); os.close(fd)
    elif op == "read": open(a[0], "rb").read(1)
    elif op == "cwd": return "= " + os.getcwd()
    elif op == "env": return "= " + os.environ.get(a[0], "")
    elif op == "session": return "= %s" % ("own" if os.getsid(0) == os.getpid() else "caller's")
    elif op == "fds": return "= " + " ".join(sorted(os.listdir("/proc/self/fd"), key=int))
    elif op == "interfaces": return "= " + " ".join(n for _, n in socket.if_nameindex())
    elif op == "connect":
        s = socket.create_connection((a[0], int(a[1])), timeout=5)
        reply = s.recv(16).decode()
        s.close()
        return "= " + reply
    else: raise SystemExit("unknown operation " + op)
    return "ok"
ARITY = {"cwd": 0, "session": 0, "fds": 0, "interfaces": 0, "connect": 2}
args = sys.argv[1:]
while args:
    op, n = args[0], ARITY.get(args[0], 1)
    a, args = args[1:1 + n], args[1 + n:]
    try:
        result = run(op, a)
    except OSError as e:
        result = errno.errorcode.get(e.errno, str(e.errno))
    print(" ".join([op] + a), "->", result, flush=True)
"##;

fn probe(ops: &[&str]) -> Command {
    let mut cmd = Command::new(PYTHON);
    cmd.args(["-I", "-S", "-c", PROBE]).args(ops);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The probe's results, once it has exited successfully.
fn results(child: std::process::Child) -> Vec<(String, String)> {
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .map(|(op, r)| (op.to_owned(), r.to_owned()))
        .collect()
}

fn result<'a>(results: &'a [(String, String)], op: &str) -> &'a str {
    results
        .iter()
        .find(|(o, _)| o == op)
        .map_or_else(|| panic!("`{op}` not probed: {results:?}"), |(_, r)| r)
}

fn policy(body: &str) -> String {
    format!(
        r#"apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: spawn }}
variables:
  t: {{ env: NONOC_SPAWN_TREE }}
rings:
  2:
    filesystem:
      read: [/usr, /lib, /lib64, /bin, /etc, /proc, "${{t}}"]
      execute: [/usr, /lib, /lib64, /bin]
      write: ["${{t}}"]
      rules: [{{ path: /dev/null, access: [read_file, write_file] }}]
{body}
    process: {{ fork: true }}
"#
    )
}

fn ring_artifact(tree: &TempTree, body: &str) -> Artifact {
    let compiled = compile("spawn.yaml", &policy(body)).unwrap_or_else(|e| panic!("{e}"));
    let _ = tree;
    Artifact::from_slice(&compiled.bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn bindings(tree: &TempTree) -> Bindings {
    let mut b = Bindings::new();
    b.insert("t", tree.path(""));
    b
}

/// A write deny next to which files can be created, the working directory entered again
/// below the masks, the environment and stdio as the caller set them, a session of its own,
/// no inherited descriptor, and the report of what was enforced.
fn spawn_masks() {
    let tree = TempTree::new("spawn");
    tree.file("ws/.git/config", b"[core]\n");
    tree.dir("ws/.git/hooks");
    let artifact = ring_artifact(
        &tree,
        "    deny:\n      - { path: \"${t}/ws/.git\", access: [write] }",
    );
    let ring = artifact.ring(2).unwrap_or_else(|e| panic!("{e}"));
    let (new, config, hook) = (
        tree.path("ws/new.txt"),
        tree.path("ws/.git/config"),
        tree.path("ws/.git/hooks/post-checkout"),
    );
    let mut cmd = probe(&[
        "create", &new, "write", &config, "create", &hook, "cwd", "env", "MARK", "session", "fds",
    ]);
    cmd.current_dir(tree.path("ws/.git")).env("MARK", "set");
    let child = ring
        .spawn(&bindings(&tree), cmd, &Options::new())
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let report = child.report.clone();
    let got = results(child.process);
    assert_eq!(result(&got, &format!("create {new}")), "ok");
    assert_eq!(result(&got, &format!("write {config}")), "EROFS");
    assert_eq!(result(&got, &format!("create {hook}")), "EROFS");
    // The working directory is the masked one, not the directory below it.
    assert_eq!(result(&got, "cwd"), format!("= {}", tree.path("ws/.git")));
    assert_eq!(result(&got, "env MARK"), "= set");
    assert_eq!(result(&got, "session"), "= own");
    // 0, 1, 2, and the one Python opens to list the directory.
    assert_eq!(result(&got, "fds"), "= 0 1 2 3");
    let json = serde_json::to_value(&report).unwrap_or_default();
    assert_eq!(json["isolation"]["tier"], "namespace", "{json}");
    assert_eq!(json["isolation"]["masks"][0]["kind"], "read_only", "{json}");
    assert_eq!(json["process"]["session"], "new", "{json}");
    assert_eq!(json["process"]["inherited_fds_closed"], true, "{json}");
    assert!(std::path::Path::new(&new).exists());
    assert!(!std::path::Path::new(&hook).exists());
}

/// A failure in the child before `execve` fails `spawn` with the step and its errno, and
/// the command does not run.
fn spawn_failures() {
    let tree = TempTree::new("spawn-fail");
    tree.dir("ws");
    let artifact = ring_artifact(&tree, "");
    let ring = artifact.ring(2).unwrap_or_else(|e| panic!("{e}"));
    let marker = tree.path("ws/ran");
    // A descriptor to pass on that is not open.
    let mut cmd = probe(&["create", &marker]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let err = ring
        .spawn(&bindings(&tree), cmd, &Options::new().pass_fd(999))
        .map(|_| ())
        .expect_err("a descriptor that is not open cannot be passed on");
    assert_eq!(err.kind(), ErrorKind::Apply);
    assert!(err.to_string().contains("descriptor 999"), "{err}");
    let errno = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .and_then(std::io::Error::raw_os_error);
    assert_eq!(errno, Some(libc::EBADF), "{err}");
    // A program that does not exist.
    let err = ring
        .spawn(
            &bindings(&tree),
            Command::new("/nonexistent/program"),
            &Options::new(),
        )
        .map(|_| ())
        .expect_err("no such program");
    let errno = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .and_then(std::io::Error::raw_os_error);
    assert_eq!(errno, Some(libc::ENOENT), "{err}");
    assert!(!std::path::Path::new(&marker).exists());
}

/// The child makes raw system calls only between fork and execve: spawning while another
/// thread allocates and frees all the time (so it often holds the allocator's lock at the
/// fork) never hangs.
fn spawn_beside_threads() {
    let tree = TempTree::new("spawn-threads");
    tree.file("ws/secret", b"x\n");
    let artifact = ring_artifact(&tree, "    deny:\n      - { path: \"${t}/ws/secret\" }");
    let ring = artifact.ring(2).unwrap_or_else(|e| panic!("{e}"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0_usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let v: Vec<u8> = vec![1; 1 + n % 4096];
                n = n.wrapping_add(v.len());
            }
            n
        })
    };
    let secret = tree.path("ws/secret");
    for _ in 0..40 {
        let child = ring
            .spawn(&bindings(&tree), probe(&["read", &secret]), &Options::new())
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let got = results(child.process);
        assert_eq!(result(&got, &format!("read {secret}")), "EACCES");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = busy.join();
}

/// `Options::loopback_listener`: inside, only `lo`, and no route to any other address; the
/// parent accepts the connection the child makes to the listener's port on loopback.
fn network_namespace() {
    let tree = TempTree::new("spawn-net");
    tree.dir("ws");
    let artifact = ring_artifact(
        &tree,
        "    network: { mode: restricted, connect_tcp: [80, 8080] }",
    );
    let ring = artifact.ring(2).unwrap_or_else(|e| panic!("{e}"));
    let cmd = probe(&[
        "interfaces",
        "connect",
        "192.0.2.1",
        "80",
        "connect",
        "127.0.0.1",
        "8080",
    ]);
    let child = ring
        .spawn(
            &bindings(&tree),
            cmd,
            &Options::new().loopback_listener(8080),
        )
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let json = serde_json::to_value(&child.report).unwrap_or_default();
    assert_eq!(json["isolation"]["network_namespace"], true, "{json}");
    assert_eq!(json["isolation"]["tier"], "namespace", "{json}");
    let listener = child
        .listener
        .as_ref()
        .unwrap_or_else(|| panic!("no listener"));
    assert_eq!(
        listener.local_addr().map(|a| a.to_string()).ok(),
        Some("127.0.0.1:8080".to_owned())
    );
    // The listener is the parent's: it accepts the child's connection from inside.
    let (mut conn, _) = listener.accept().unwrap_or_else(|e| panic!("accept: {e}"));
    conn.write_all(b"pong").unwrap_or_else(|e| panic!("{e}"));
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
    let got = results(child.process);
    assert_eq!(result(&got, "interfaces"), "= lo");
    assert_eq!(result(&got, "connect 192.0.2.1 80"), "ENETUNREACH");
    assert_eq!(result(&got, "connect 127.0.0.1 8080"), "= pong");
}
