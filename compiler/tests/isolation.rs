//! The isolation layer and the confining sequence, end to end on the real kernel: `nonoc exec`
//! applies a ring, then a small Python program (`/usr/bin/python3`, the system's) tries
//! operations inside and prints each errno by name; the tests compare with what must hold
//! (docs/isolation.md, POLICY-LANGUAGE.md "Isolation layer (v1.1)" and "Process").
//!
//! What runs as whom: as root (no user namespace: a mount namespace alone), as the
//! unprivileged user 65534 (a user namespace mapping its own ids), and as 65534 behind a
//! seccomp filter that makes `unshare(CLONE_NEWUSER)` fail with `EPERM` (a host without user
//! namespaces: the Landlock carve-outs, or an apply error under `isolation: required`).
//! Switching user and installing that filter need root: on a run that is not root these
//! tests fail under `NONOC_REQUIRE_LANDLOCK=1` (CI) and are skipped otherwise, as they are
//! on a kernel without Landlock.
//!
//! `harness = false` with the runner of the `nonoc-test-runner` crate (see `exec.rs`).
#![expect(
    clippy::panic,
    reason = "test code: a failed assertion or a broken set-up is how a test reports"
)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use nonoc_test_runner::{Test, WITHOUT_USER_NAMESPACES, outside_tmp, run as run_tests};

/// The `nonoc` binary under test: this build's, or `NONOC_TEST_BIN` (to run these tests
/// against another build, e.g. one from before a change, and see them fail there).
fn nonoc() -> &'static str {
    static BIN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        std::env::var("NONOC_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nonoc").to_owned())
    });
    &BIN
}
const PYTHON: &str = "/usr/bin/python3";
/// The unprivileged user the tests switch to.
const NOBODY: u32 = 65534;

fn main() -> ExitCode {
    let tests = [
        Test::new("agt_ring_2_masks_git_as_root", 1, || agt_ring_2(None)),
        Test::new("agt_ring_2_masks_git_as_an_unprivileged_user", 1, || {
            agt_ring_2(Some(NOBODY))
        }),
        Test::new(
            "without_user_namespaces_the_carve_outs_apply_or_required_refuses",
            1,
            without_user_namespaces,
        ),
        Test::new("ids_ownership_and_git_are_as_outside_as_root", 1, || {
            ids_and_ownership(None)
        }),
        Test::new(
            "ids_ownership_and_git_are_as_outside_as_an_unprivileged_user",
            1,
            || ids_and_ownership(Some(NOBODY)),
        ),
        Test::new(
            "git_python_venv_and_pip_work_in_the_namespace_tier",
            1,
            toolchains,
        ),
        Test::new("no_mount_is_seen_outside_or_left_behind", 1, || {
            mount_table(None);
            mount_table(Some(NOBODY));
        }),
        Test::new(
            "the_command_has_no_controlling_terminal",
            1,
            no_controlling_terminal,
        ),
        Test::new(
            "inherited_descriptors_close_unless_passed",
            1,
            inherited_descriptors,
        ),
        Test::new("a_root_agent_keeps_no_capability", 1, no_capabilities),
        Test::new(
            "a_root_agent_keeps_only_the_capabilities_its_ring_lists",
            1,
            kept_capabilities,
        ),
        Test::new("a_mask_cannot_be_undone_as_root", 1, || undo_a_mask(None)),
        Test::new("a_mask_cannot_be_undone_as_an_unprivileged_user", 1, || {
            undo_a_mask(Some(NOBODY))
        }),
        Test::new(
            "what_cannot_be_masked_is_carved_out_and_reported",
            1,
            unmaskable,
        ),
        Test::new("a_mount_point_can_be_masked", 1, mount_point_target),
        Test::new(
            "too_many_masks_fall_back_or_fail_under_required",
            1,
            too_many_masks,
        ),
        Test::new("doctor_and_explain_name_the_tier", 1, doctor_and_explain),
    ];
    if !prerequisites() {
        return ExitCode::FAILURE;
    }
    run_tests(&tests)
}

/// Root (to switch users and test both ways) and the system Python. Missing: every test is
/// reported skipped, or the run fails under `NONOC_REQUIRE_LANDLOCK=1`.
fn prerequisites() -> bool {
    let required = std::env::var("NONOC_REQUIRE_LANDLOCK").is_ok_and(|v| v == "1");
    let root = nix_euid() == 0;
    let python = Path::new(PYTHON).exists();
    if root && python {
        return true;
    }
    let why = if root {
        "needs /usr/bin/python3"
    } else {
        "needs root"
    };
    if required {
        println!("isolation tests: FAILED ({why}; NONOC_REQUIRE_LANDLOCK=1)");
        return false;
    }
    println!("isolation tests: all skipped ({why})");
    std::process::exit(0);
}

fn nix_euid() -> u32 {
    // The owner of /proc/self is this process's effective uid.
    std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata("/proc/self").unwrap_or_else(|e| panic!("/proc/self: {e}")),
    )
}

// ---------------------------------------------------------------------------------------
// The probe inside: each argument group is one operation; one line `OP ARGS -> RESULT`
// each, RESULT `ok`, an errno name, or `= VALUE`.

const PROBE: &str = r##"
import errno, os, stat, sys
def caps():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [("eff", ctypes.c_uint32), ("prm", ctypes.c_uint32), ("inh", ctypes.c_uint32)]
    header, data = Header(0x20080522, 0), (Data * 2)()
    nr = {"x86_64": 125, "aarch64": 90}[os.uname().machine]
    if libc.syscall(nr, ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    join = lambda f: f(data[0]) | f(data[1]) << 32
    bounding = sum(1 << c for c in range(64) if libc.prctl(23, c, 0, 0, 0) == 1)
    ambient = sum(1 << c for c in range(64) if libc.prctl(47, 1, c, 0, 0) == 1)
    return "%x %x %x %x %x" % (join(lambda d: d.eff), join(lambda d: d.prm),
                               join(lambda d: d.inh), bounding, ambient)
def run(op, a):
    if op == "read": open(a[0], "rb").read(1)
    elif op == "readdir": os.listdir(a[0])
    elif op == "write":
        fd = os.open(a[0], os.O_WRONLY); os.write(fd, b"x"); os.close(fd)
    elif op == "create": os.mknod(a[0], 0o644 | stat.S_IFREG)
    elif op == "mkdir": os.mkdir(a[0])
    elif op == "unlink": os.unlink(a[0])
    elif op == "rmdir": os.rmdir(a[0])
    elif op == "rename": os.rename(a[0], a[1])
    elif op == "chown": os.chown(a[0], int(a[1]), -1)
    elif op == "chmod": os.chmod(a[0], int(a[1], 8))
    elif op == "fd":
        import fcntl; fcntl.fcntl(int(a[0]), fcntl.F_GETFD)
    elif op == "ctty": os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    elif op == "tiocsti":
        import fcntl, termios; fcntl.ioctl(0, termios.TIOCSTI, b"#")
    elif op == "ids": return "= %d:%d" % (os.geteuid(), os.getegid())
    elif op == "owner":
        st = os.lstat(a[0]); return "= %d:%d" % (st.st_uid, st.st_gid)
    elif op == "caps": return "= " + caps()
    elif op == "session": return "= %s" % ("own" if os.getsid(0) == os.getpid() else "caller's")
    elif op == "mounts":
        with open("/proc/self/mountinfo") as f:
            return "= %d" % sum(1 for l in f if l.split()[4].startswith(a[0]))
    elif op == "wait": sys.stdin.buffer.read(); return "= done"
    elif op in ("umount", "userns"):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.umount2(a[0].encode(), 2) if op == "umount" else libc.unshare(0x10020000)
        if rc != 0:
            raise OSError(ctypes.get_errno(), op)
    else: raise SystemExit("unknown operation " + op)
    return "ok"
ARITY = {"rename": 2, "chown": 2, "chmod": 2, "ids": 0, "caps": 0, "ctty": 0, "tiocsti": 0,
         "session": 0, "wait": 0, "userns": 0}
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

/// Runs the rest of the arguments with a pseudo-terminal as controlling terminal, and prints
/// what it wrote there.
const IN_A_TERMINAL: &str = r##"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
sys.exit(os.waitstatus_to_exitcode(status))
"##;

/// Opens the file named first on descriptor 5 (inheritable), then `execv` of the rest.
const WITH_FD_5: &str = r##"
import os, sys
os.dup2(os.open(sys.argv[1], os.O_RDONLY), 5)
os.execv(sys.argv[2], sys.argv[2:])
"##;

// ---------------------------------------------------------------------------------------

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A directory under `/tmp` (the rings of `agt-rings.yaml` grant `/tmp`: a home there puts its
/// secrets inside an allowed directory), removed on drop.
struct Tree {
    root: String,
}

impl Tree {
    fn new(tag: &str) -> Tree {
        Tree::new_in(Path::new("/tmp"), tag)
    }

    /// A tree under `base` (the artifact and policy files beside it).
    fn new_in(base: &Path, tag: &str) -> Tree {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let root = format!(
            "{}/nonoc-isolation-{}-{n}-{tag}",
            base.display(),
            std::process::id()
        );
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{root}: {e}"));
        Tree { root }
    }

    fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }

    fn file(&self, rel: &str, text: &str) -> String {
        let p = self.path(rel);
        if let Some(dir) = Path::new(&p).parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{p}: {e}"));
        p
    }

    fn dir(&self, rel: &str) -> String {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        p
    }

    /// Gives the whole tree to `uid` (its files must be the caller's own).
    fn chown(&self, uid: u32) {
        fn walk(p: &Path, uid: u32) {
            std::os::unix::fs::lchown(p, Some(uid), Some(uid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
            if p.is_dir() && !p.is_symlink() {
                for entry in std::fs::read_dir(p).unwrap_or_else(|e| panic!("{e}")) {
                    walk(&entry.unwrap_or_else(|e| panic!("{e}")).path(), uid);
                }
            }
        }
        walk(Path::new(&self.root), uid);
    }

    /// Compiles a policy into `ROOT.json` (beside the tree, readable by everyone).
    fn compile(&self, name: &str, yaml: &str) -> String {
        let policy = format!("{}.{name}.yaml", self.root);
        let artifact = format!("{}.{name}.json", self.root);
        std::fs::write(&policy, yaml).unwrap_or_else(|e| panic!("{policy}: {e}"));
        let out = Command::new(nonoc())
            .args(["compile", &policy, "--target", "linux", "-o", &artifact])
            .output()
            .unwrap_or_else(|e| panic!("nonoc compile: {e}"));
        assert!(
            out.status.success(),
            "nonoc compile {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        artifact
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
        let base = Path::new(&self.root)
            .parent()
            .map_or_else(|| PathBuf::from("/tmp"), Path::to_path_buf);
        for ext in ["yaml", "json"] {
            for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                let name = entry.path().display().to_string();
                if name.starts_with(&format!("{}.", self.root)) && name.ends_with(ext) {
                    let _ = std::fs::remove_file(name);
                }
            }
        }
    }
}

/// One `nonoc exec` (or anything) run: its exit status, output, and the probe's results.
struct Run {
    output: Output,
    results: Vec<(String, String)>,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The result of the operation written `op` (its name and arguments).
    fn result(&self, op: &str) -> &str {
        self.results.iter().find(|(o, _)| o == op).map_or_else(
            || panic!("`{op}` was not probed:\n{}{}", self.stdout(), self.stderr()),
            |(_, r)| r.as_str(),
        )
    }

    fn expect(&self, op: &str, want: &str) {
        assert_eq!(
            self.result(op),
            want,
            "`{op}`\n{}{}",
            self.stdout(),
            self.stderr()
        );
    }

    /// The `--report` JSON (the first stderr line that parses).
    fn report(&self) -> Value {
        self.stderr()
            .lines()
            .find_map(|l| serde_json::from_str::<Value>(l).ok())
            .unwrap_or_else(|| panic!("no report on stderr:\n{}", self.stderr()))
    }
}

fn parse(output: Output) -> Run {
    let results = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        // A `#` that `tiocsti` pushed into a terminal comes back as its echo.
        .map(|(op, r)| (op.trim_start_matches('#').to_owned(), r.trim().to_owned()))
        .collect();
    Run { output, results }
}

/// `nonoc exec ARTIFACT --ring RING --report -- python3 PROBE OPS...`, as `user` (root when
/// `None`), with `env` only (and PATH).
fn exec(artifact: &str, ring: u8, user: Option<u32>, env: &[(&str, &str)], ops: &[&str]) -> Run {
    let mut cmd = Command::new(nonoc());
    cmd.args([
        "exec",
        artifact,
        "--ring",
        &ring.to_string(),
        "--report",
        "--",
    ]);
    cmd.args([PYTHON, "-I", "-S", "-c", PROBE]).args(ops);
    run(cmd, user, env)
}

fn run(mut cmd: Command, user: Option<u32>, env: &[(&str, &str)]) -> Run {
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .current_dir("/");
    if let Some(uid) = user {
        cmd.uid(uid).gid(uid);
    }
    parse(
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}")),
    )
}

fn policy(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../policies")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The tree `agt-rings.yaml` ring 2 is probed on: a repository in `ws`, a home with secrets.
fn agt_tree(tag: &str) -> Tree {
    let tree = Tree::new(tag);
    tree.file("ws/.git/config", "[core]\n");
    tree.file("ws/.git/hooks/pre-commit", "#!/bin/sh\n");
    tree.file("ws/README", "readme\n");
    tree.file("home/.ssh/id_ed25519", "secret\n");
    tree.file("home/.aws/credentials", "secret\n");
    tree.dir("home/.gnupg");
    tree
}

fn tier(report: &Value) -> &str {
    report["isolation"]["tier"].as_str().unwrap_or_default()
}

fn masks(report: &Value) -> Vec<(String, String)> {
    report["isolation"]["masks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["path"].as_str().unwrap_or_default().to_owned(),
                        m["kind"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------

/// `agt-rings.yaml` ring 2: files and directories next to a read-only `.git` can be created;
/// nothing under `.git` can be written or created; a read-denied home secret cannot be read.
fn agt_ring_2(user: Option<u32>) {
    let tree = agt_tree("agt");
    if let Some(uid) = user {
        tree.chown(uid);
    }
    let artifact = tree.compile("agt", &policy("agt-rings.yaml"));
    let (ws, home) = (tree.path("ws"), tree.path("home"));
    let env = [("AGENT_WORKSPACE", ws.as_str()), ("HOME", home.as_str())];
    let p = |rel: &str| tree.path(rel);
    let ops = [
        "create",
        &p("ws/new.txt"),
        "mkdir",
        &p("ws/src"),
        "read",
        &p("ws/.git/config"),
        "write",
        &p("ws/.git/config"),
        "create",
        &p("ws/.git/new"),
        "mkdir",
        &p("ws/.git/hooks/x"),
        "unlink",
        &p("ws/.git/hooks/pre-commit"),
        "rename",
        &p("ws/.git"),
        &p("ws/git"),
        "read",
        &p("home/.ssh/id_ed25519"),
        "readdir",
        &p("home/.ssh"),
        "write",
        &p("home/.ssh/id_ed25519"),
        "read",
        &p("home/.aws/credentials"),
    ];
    let run = exec(&artifact, 2, user, &env, &ops);
    assert!(
        run.output.status.success(),
        "{}{}",
        run.stdout(),
        run.stderr()
    );
    run.expect(&format!("create {}", p("ws/new.txt")), "ok");
    run.expect(&format!("mkdir {}", p("ws/src")), "ok");
    run.expect(&format!("read {}", p("ws/.git/config")), "ok");
    run.expect(&format!("write {}", p("ws/.git/config")), "EROFS");
    run.expect(&format!("create {}", p("ws/.git/new")), "EROFS");
    run.expect(&format!("mkdir {}", p("ws/.git/hooks/x")), "EROFS");
    run.expect(
        &format!("unlink {}", p("ws/.git/hooks/pre-commit")),
        "EROFS",
    );
    run.expect(&format!("rename {} {}", p("ws/.git"), p("ws/git")), "EBUSY");
    run.expect(&format!("read {}", p("home/.ssh/id_ed25519")), "EACCES");
    run.expect(&format!("readdir {}", p("home/.ssh")), "EACCES");
    run.expect(&format!("write {}", p("home/.ssh/id_ed25519")), "EACCES");
    run.expect(&format!("read {}", p("home/.aws/credentials")), "EACCES");
    // What happened is what the report says.
    let report = run.report();
    assert_eq!(tier(&report), "namespace", "{report}");
    assert_eq!(
        report["isolation"]["user_namespace"].as_bool(),
        Some(user.is_some()),
        "{report}"
    );
    let m = masks(&report);
    for (path, kind) in [
        (p("home/.aws"), "covered"),
        (p("home/.gnupg"), "covered"),
        (p("home/.ssh"), "covered"),
        (p("ws/.git"), "read_only"),
    ] {
        assert!(
            m.contains(&(path.clone(), kind.to_owned())),
            "{path} {kind}: {m:?}"
        );
    }
    assert_eq!(
        report["landlock"]["carve_outs"],
        serde_json::json!([]),
        "{report}"
    );
    // On the host: the new file is there, `.git` is as it was.
    assert!(Path::new(&p("ws/new.txt")).exists());
    assert!(Path::new(&p("ws/src")).is_dir());
    assert_eq!(
        std::fs::read_to_string(p("ws/.git/config")).unwrap_or_default(),
        "[core]\n"
    );
    assert!(!Path::new(&p("ws/.git/new")).exists());
}

/// As 65534 behind a filter that refuses user namespaces: the carve-outs (`EACCES`, and no
/// new file directly in the workspace), said in the report and on stderr; `isolation:
/// required` refuses to run the command.
fn without_user_namespaces() {
    let tree = agt_tree("nouserns");
    tree.file("ws/sub/file", "x\n");
    tree.chown(NOBODY);
    let yaml = policy("agt-rings.yaml");
    let artifact = tree.compile("agt", &yaml);
    let (ws, home) = (tree.path("ws"), tree.path("home"));
    let env = [("AGENT_WORKSPACE", ws.as_str()), ("HOME", home.as_str())];
    let p = |rel: &str| tree.path(rel);
    let ops = [
        "create",
        &p("ws/new.txt"),
        "create",
        &p("ws/sub/new.txt"),
        "write",
        &p("ws/sub/file"),
        "write",
        &p("ws/.git/config"),
        "create",
        &p("ws/.git/new"),
        "read",
        &p("home/.ssh/id_ed25519"),
    ];
    let run = exec_without_userns(&artifact, 2, &env, &ops);
    assert!(
        run.output.status.success(),
        "{}{}",
        run.stdout(),
        run.stderr()
    );
    // The carve-out: `ws` is split for `.git` and loses the right to create entries.
    run.expect(&format!("create {}", p("ws/new.txt")), "EACCES");
    run.expect(&format!("create {}", p("ws/sub/new.txt")), "ok");
    run.expect(&format!("write {}", p("ws/sub/file")), "ok");
    run.expect(&format!("write {}", p("ws/.git/config")), "EACCES");
    run.expect(&format!("create {}", p("ws/.git/new")), "EACCES");
    run.expect(&format!("read {}", p("home/.ssh/id_ed25519")), "EACCES");
    let report = run.report();
    assert_eq!(tier(&report), "landlock", "{report}");
    let why = report["isolation"]["unavailable"]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.contains("unshare") && why.contains("Operation not permitted"),
        "{report}"
    );
    let split: Vec<&str> = report["landlock"]["carve_outs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| pair[0].as_str())
        .collect();
    assert!(split.contains(&ws.as_str()), "{report}");
    assert!(
        run.stderr().contains("warning: tier landlock")
            && run
                .stderr()
                .contains("cannot have new entries created directly in them"),
        "{}",
        run.stderr()
    );
    // `isolation: required`: nothing runs, and the message says why.
    let required = yaml.replace("settings:\n", "settings:\n  isolation: required\n");
    assert_ne!(required, yaml, "agt-rings.yaml has a settings section");
    let artifact = tree.compile("required", &required);
    let run = exec_without_userns(&artifact, 2, &env, &["ids"]);
    assert_eq!(run.output.status.code(), Some(126), "{}", run.stderr());
    assert!(run.results.is_empty(), "{}", run.stdout());
    assert!(
        run.stderr().contains("isolation: required") && run.stderr().contains("unshare"),
        "{}",
        run.stderr()
    );
    // Where the ring needs no mask, `required` asks for nothing.
    let run = exec_without_userns(&artifact, 3, &env, &["ids"]);
    assert!(run.output.status.success(), "{}", run.stderr());
}

/// `nonoc exec ARTIFACT --ring RING --report -- PROBE OPS...` as 65534 behind the filter that
/// refuses user namespaces (`WITHOUT_USER_NAMESPACES`).
fn exec_without_userns(artifact: &str, ring: u8, env: &[(&str, &str)], ops: &[&str]) -> Run {
    let mut cmd = Command::new(PYTHON);
    cmd.args([
        "-I",
        "-S",
        "-c",
        WITHOUT_USER_NAMESPACES,
        nonoc(),
        "exec",
        artifact,
        "--ring",
        &ring.to_string(),
        "--report",
        "--",
        PYTHON,
        "-I",
        "-S",
        "-c",
        PROBE,
    ]);
    cmd.args(ops);
    run(cmd, Some(NOBODY), env)
}

/// The policy the ownership and toolchain tests run under: the system read-only, the tree
/// writable, a deny inside it (so the ring enters the namespace tier).
fn tool_policy(deny: &str) -> String {
    format!(
        r#"apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: tools }}
variables:
  t: {{ env: TREE }}
rings:
  2:
    filesystem:
      read: [/usr, /lib, /lib64, /bin, /etc, /proc, "${{t}}"]
      execute: [/usr, /lib, /lib64, /bin, "${{t}}/venv"]
      write: ["${{t}}"]
      rules:
        - {{ path: /dev/null, access: [read_file, write_file] }}
        - {{ path: /dev/urandom, access: [read_file] }}
        - {{ path: /dev/tty, access: [read_file, write_file] }}
    deny:
{deny}
    process: {{ fork: true, signals: sandbox }}
"#
    )
}

/// `id`, the owner of the caller's files and git's safe-directory check, inside and outside.
fn ids_and_ownership(user: Option<u32>) {
    let tree = Tree::new("ids");
    tree.file("ws/file", "x\n");
    tree.dir("home");
    let uid = user.unwrap_or(0);
    let home = tree.path("home");
    let ws = tree.path("ws");
    let env = [("TREE", tree.root.as_str()), ("HOME", home.as_str())];
    // A repository owned by the caller (git refuses one owned by someone else).
    tree.chown(uid);
    let git = |args: &[&str], inside: Option<&str>| {
        let mut cmd = match inside {
            Some(artifact) => {
                let mut c = Command::new(nonoc());
                c.args(["exec", artifact, "--ring", "2", "--", "git"]);
                c
            }
            None => Command::new("git"),
        };
        cmd.arg("-C").arg(&ws).args(args);
        run(cmd, user, &env)
    };
    let init = git(&["init", "-q"], None);
    assert!(init.output.status.success(), "{}", init.stderr());
    let artifact = tree.compile(
        "ids",
        &tool_policy("      - { path: \"${t}/ws/.git\", access: [write] }"),
    );
    let ops = ["ids", "owner", &tree.path("ws/file")];
    let inside = exec(&artifact, 2, user, &env, &ops);
    assert!(inside.output.status.success(), "{}", inside.stderr());
    assert_eq!(tier(&inside.report()), "namespace");
    let mut outside = Command::new(PYTHON);
    outside.args(["-I", "-S", "-c", PROBE]).args(ops);
    let outside = run(outside, user, &env);
    assert_eq!(inside.results, outside.results, "{}", inside.stderr());
    inside.expect("ids", &format!("= {uid}:{uid}"));
    // git: the safe-directory check passes inside as outside, and says the same.
    let status_out = git(&["status", "--porcelain"], None);
    let status_in = git(&["status", "--porcelain"], Some(&artifact));
    assert!(
        status_out.output.status.success(),
        "{}",
        status_out.stderr()
    );
    assert!(status_in.output.status.success(), "{}", status_in.stderr());
    assert_eq!(status_in.stdout(), status_out.stdout());
    assert!(!status_in.stderr().contains("dubious ownership"));
}

/// `git status` and `git commit` (where `.git` is writable), `python3 -m venv` and `pip
/// --version`, run by `nonoc exec` in a ring of the namespace tier.
fn toolchains() {
    // Outside /tmp: what the toolchains write stays under the build's own directory.
    let base = outside_tmp(env!("CARGO_TARGET_TMPDIR"))
        .unwrap_or_else(|e| panic!("a directory outside /tmp: {e}"));
    let tree = Tree::new_in(&base, "tools");
    tree.file("ws/main.py", "print('hi')\n");
    tree.file("cache/secret", "secret\n");
    tree.dir("home");
    tree.dir("tmp");
    // Landlock grants only what exists: the directory the ring may execute in is made first.
    tree.dir("venv");
    let home = tree.path("home");
    let tmp = tree.path("tmp");
    let env = [
        ("TREE", tree.root.as_str()),
        ("HOME", home.as_str()),
        ("TMPDIR", tmp.as_str()),
        ("GIT_CONFIG_NOSYSTEM", "1"),
    ];
    let artifact = tree.compile(
        "tools",
        &tool_policy("      - { path: \"${t}/cache/secret\" }"),
    );
    let ws = tree.path("ws");
    let sh = |script: &str| {
        let mut cmd = Command::new(nonoc());
        cmd.args([
            "exec", &artifact, "--ring", "2", "--report", "--", "/bin/sh", "-c",
        ]);
        cmd.arg(script);
        run(cmd, None, &env)
    };
    let commit = sh(&format!(
        "cd {ws} && git init -q && git add main.py && git -c user.name=t -c user.email=t@example.com commit -q -m first && git status --porcelain && git log --format=%s"
    ));
    assert!(commit.output.status.success(), "{}", commit.stderr());
    assert_eq!(tier(&commit.report()), "namespace", "{}", commit.stderr());
    assert_eq!(commit.stdout(), "first\n", "{}", commit.stderr());
    let venv = tree.path("venv");
    let py = sh(&format!(
        "{PYTHON} -m venv {venv} && {venv}/bin/pip --version && {PYTHON} -m pip --version"
    ));
    assert!(py.output.status.success(), "{}", py.stderr());
    assert_eq!(
        py.stdout()
            .lines()
            .filter(|l| l.starts_with("pip "))
            .count(),
        2,
        "{}{}",
        py.stdout(),
        py.stderr()
    );
    // The deny still holds for them.
    let cat = sh(&format!("cat {}", tree.path("cache/secret")));
    assert!(!cat.output.status.success());
    assert!(
        cat.stderr().contains("Permission denied"),
        "{}",
        cat.stderr()
    );
}

/// The host's mount table (this process's, outside) before, while the command runs with its
/// masks, and after: the same lines each time; inside, the masks are there.
fn mount_table(user: Option<u32>) {
    let tree = agt_tree("mounts");
    if let Some(uid) = user {
        tree.chown(uid);
    }
    let artifact = tree.compile("mounts", &tool_policy("      - { path: \"${t}/ws/.git\", access: [write] }\n      - { path: \"${t}/home/.ssh\" }"));
    let env = [("TREE", tree.root.as_str())];
    let table = || std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let before = table();
    let mut cmd = Command::new(nonoc());
    cmd.args([
        "exec", &artifact, "--ring", "2", "--", PYTHON, "-I", "-S", "-c", PROBE,
    ]);
    cmd.args(["mounts", &tree.root, "wait"]);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(uid) = user {
        cmd.uid(uid).gid(uid);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("nonoc exec: {e}"));
    // The first line comes once the masks are mounted and the command runs.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap_or_else(|| panic!()));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap_or_else(|e| panic!("{e}"));
    let during = table();
    drop(child.stdin.take());
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    let after = table();
    assert!(status.success(), "{line}");
    assert_eq!(
        line.trim(),
        format!("mounts {} -> = 2", tree.root),
        "inside"
    );
    assert_eq!(
        before, during,
        "a mask is visible outside while the command runs"
    );
    assert_eq!(before, after, "a mount is left after the command ended");
    assert!(!before.contains(&tree.root));
}

/// `nonoc exec` run by a shell in a terminal: the command has no controlling terminal (it
/// cannot push input into the shell with `TIOCSTI`). A shell without job control runs it in
/// its own process group: it starts a session of its own. With job control (`set -m`) it
/// leads a process group, cannot start a session, and leaves the terminal instead, staying
/// in the shell's job.
fn no_controlling_terminal() {
    let tree = Tree::new("tty");
    tree.dir("ws");
    let artifact = tree.compile("tty", &tool_policy("      - { path: \"${t}/ws/x\" }"));
    // `nonoc exec` as a plain child of the shell (a session of its own), as a job of a shell
    // with job control (it leads a process group), and as the terminal's session leader.
    for (job_control, session) in [
        ("", "= own"),
        ("set -m; ", "= caller's"),
        ("exec ", "= own"),
    ] {
        let script = format!(
            "{job_control}\"$NONOC\" exec \"$ART\" --ring 2 -- {PYTHON} -I -S -c \"$PROBE\" ctty tiocsti session; exit $?"
        );
        let mut cmd = Command::new(PYTHON);
        cmd.args(["-I", "-S", "-c", IN_A_TERMINAL, "/bin/bash", "-c", &script]);
        let env = [
            ("TREE", tree.root.as_str()),
            ("NONOC", nonoc()),
            ("ART", artifact.as_str()),
            ("PROBE", PROBE),
        ];
        let run = run(cmd, None, &env);
        assert!(
            run.output.status.success(),
            "{}{}",
            run.stdout(),
            run.stderr()
        );
        run.expect("ctty", "ENXIO");
        run.expect("tiocsti", "EPERM");
        run.expect("session", session);
    }
    // Outside, the terminal is the controlling one, and the probe may push input into it.
    let mut cmd = Command::new(PYTHON);
    cmd.args(["-I", "-S", "-c", IN_A_TERMINAL, "/bin/bash", "-c"]);
    cmd.arg(format!("{PYTHON} -I -S -c \"$PROBE\" ctty tiocsti"));
    let run = run(cmd, None, &[("PROBE", PROBE)]);
    run.expect("ctty", "ok");
    run.expect("tiocsti", "ok");
}

/// Descriptor 5, inherited by `nonoc exec`, is closed for the command unless `--pass-fd 5`.
fn inherited_descriptors() {
    let tree = Tree::new("fds");
    tree.dir("ws");
    let artifact = tree.compile("fds", &tool_policy("      - { path: \"${t}/ws/x\" }"));
    let with_fd_5 = |pass: &[&str]| {
        let mut cmd = Command::new(PYTHON);
        cmd.args([
            "-I",
            "-S",
            "-c",
            WITH_FD_5,
            "/etc/hostname",
            nonoc(),
            "exec",
            &artifact,
        ]);
        cmd.args(["--ring", "2"]).args(pass);
        cmd.args(["--", PYTHON, "-I", "-S", "-c", PROBE, "fd", "5", "fd", "6"]);
        run(cmd, None, &[("TREE", tree.root.as_str())])
    };
    let closed = with_fd_5(&[]);
    closed.expect("fd 5", "EBADF");
    closed.expect("fd 6", "EBADF");
    let passed = with_fd_5(&["--pass-fd", "5"]);
    passed.expect("fd 5", "ok");
    passed.expect("fd 6", "EBADF");
    // A descriptor to pass that is not open: nothing runs.
    let missing = with_fd_5(&["--pass-fd", "9"]);
    assert_eq!(
        missing.output.status.code(),
        Some(126),
        "{}",
        missing.stderr()
    );
    assert!(
        missing.stderr().contains("descriptor 9"),
        "{}",
        missing.stderr()
    );
}

/// A root agent runs without a capability in any set: it cannot chown a file it has no
/// grant on (Landlock does not govern chown; the capability did).
fn no_capabilities() {
    let tree = Tree::new("caps");
    tree.dir("ws");
    let other = tree.file("other/file", "x\n");
    let artifact = tree.compile("caps", &tool_policy("      - { path: \"${t}/ws/x\" }"));
    let run = exec(
        &artifact,
        2,
        None,
        &[("TREE", tree.root.as_str())],
        &["caps", "chown", &other, "1234"],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    run.expect("caps", "= 0 0 0 0 0");
    run.expect(&format!("chown {other} 1234"), "EPERM");
    let report = run.report();
    assert_eq!(
        report["process"]["capabilities_kept"],
        serde_json::json!([])
    );
    assert_eq!(report["process"]["bounding_set_dropped"], Value::Bool(true));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&other).map(|m| m.uid()).ok(), Some(0));
}

/// A ring's `process.capabilities` are kept, and only they: with `capabilities: [chown]` a
/// root agent gives a file to another user (which it could not without `CAP_CHOWN`: see
/// `no_capabilities`), and still cannot change the mode of a file another user owns
/// (`CAP_FOWNER`, not kept). Landlock governs neither call: the capabilities decide.
fn kept_capabilities() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tree = Tree::new("keep");
    tree.dir("ws");
    let mine = tree.file("other/mine", "x\n");
    let theirs = tree.file("other/theirs", "x\n");
    std::os::unix::fs::chown(&theirs, Some(4321), Some(4321))
        .unwrap_or_else(|e| panic!("chown {theirs}: {e}"));
    let mode = |p: &str| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o7777)
            .ok()
    };
    let before = mode(&theirs);
    let policy = tool_policy("      - { path: \"${t}/ws/x\" }").replace(
        "process: { fork: true, signals: sandbox }",
        "process: { fork: true, signals: sandbox, capabilities: [chown] }",
    );
    let artifact = tree.compile("keep", &policy);
    let run = exec(
        &artifact,
        2,
        None,
        &[("TREE", tree.root.as_str())],
        &["caps", "chown", &mine, "1234", "chmod", &theirs, "0600"],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    // CAP_CHOWN (bit 0) in the effective, permitted, inheritable, bounding and ambient sets;
    // nothing else anywhere.
    run.expect("caps", "= 1 1 1 1 1");
    run.expect(&format!("chown {mine} 1234"), "ok");
    run.expect(&format!("chmod {theirs} 0600"), "EPERM");
    let report = run.report();
    assert_eq!(
        report["process"]["capabilities_kept"],
        serde_json::json!([0])
    );
    assert_eq!(report["process"]["bounding_set_dropped"], Value::Bool(true));
    assert_eq!(std::fs::metadata(&mine).map(|m| m.uid()).ok(), Some(1234));
    assert_eq!(mode(&theirs), before);
}

/// The command cannot unmount a mask, rename it away, or get around it in a user and mount
/// namespace of its own (the ring allows `unshare`: no hardening preset).
fn undo_a_mask(user: Option<u32>) {
    let tree = agt_tree("undo");
    if let Some(uid) = user {
        tree.chown(uid);
    }
    let artifact = tree.compile(
        "undo",
        &tool_policy("      - { path: \"${t}/ws/.git\", access: [write] }"),
    );
    let (git, config) = (tree.path("ws/.git"), tree.path("ws/.git/config"));
    let run = exec(
        &artifact,
        2,
        user,
        &[("TREE", tree.root.as_str())],
        &[
            "umount",
            &git,
            "rename",
            &git,
            &tree.path("ws/g"),
            "userns",
            "umount",
            &git,
            "write",
            &config,
        ],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_eq!(tier(&run.report()), "namespace");
    run.expect(&format!("umount {git}"), "EPERM");
    run.expect(&format!("rename {git} {}", tree.path("ws/g")), "EBUSY");
    // In its own user namespace the command has every capability there, and still cannot
    // unmount the mask: it came into that namespace locked to what it covers (`EINVAL`,
    // checked before Landlock, which refuses every mount call of a sandboxed process).
    run.expect("userns", "ok");
    let umounts: Vec<&str> = run
        .results
        .iter()
        .filter(|(op, _)| *op == format!("umount {git}"))
        .map(|(_, r)| r.as_str())
        .collect();
    assert_eq!(umounts, ["EPERM", "EINVAL"], "{}", run.stdout());
    run.expect(&format!("write {config}"), "EROFS");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap_or_default(),
        "[core]\n"
    );
}

/// A denied path that does not exist, one that is a symbolic link, one with an exception
/// inside: carved out, each named in the report with why.
fn unmaskable() {
    let tree = Tree::new("unmaskable");
    tree.file("ws/real/file", "x\n");
    tree.file("ws/d/keep/file", "x\n");
    tree.file("ws/d/other", "x\n");
    std::os::unix::fs::symlink(tree.path("ws/real"), tree.path("ws/link"))
        .unwrap_or_else(|e| panic!("{e}"));
    let artifact = tree.compile(
        "unmaskable",
        &tool_policy(
            "      - { path: \"${t}/ws/missing\" }\n      - { path: \"${t}/ws/link\", access: [write] }\n      - { path: \"${t}/ws/d\", except: [\"${t}/ws/d/keep\"] }",
        ),
    );
    let run = exec(
        &artifact,
        2,
        None,
        &[("TREE", tree.root.as_str())],
        &[
            "create",
            &tree.path("ws/missing"),
            "mkdir",
            &tree.path("ws/missing"),
            "read",
            &tree.path("ws/d/other"),
            "read",
            &tree.path("ws/d/keep/file"),
        ],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    run.expect(&format!("create {}", tree.path("ws/missing")), "EACCES");
    run.expect(&format!("mkdir {}", tree.path("ws/missing")), "EACCES");
    run.expect(&format!("read {}", tree.path("ws/d/other")), "EACCES");
    run.expect(&format!("read {}", tree.path("ws/d/keep/file")), "ok");
    let report = run.report();
    let unmasked: Vec<(String, String)> = report["isolation"]["unmasked"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p[0].as_str().unwrap_or_default().to_owned(),
                p[1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let why = |path: &str| {
        unmasked
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, w)| w.clone())
            .unwrap_or_else(|| panic!("`{path}` is not reported unmasked: {report}"))
    };
    assert!(why(&tree.path("ws/missing")).contains("does not exist"));
    assert!(why(&tree.path("ws/link")).contains("symbolic link"));
    assert!(why(&tree.path("ws/d")).contains("exception"));
    assert!(
        !report["landlock"]["carve_outs"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
}

/// A deny whose path is a mount point: masked like any other (recursively), and gone after.
fn mount_point_target() {
    let tree = Tree::new("mountpoint");
    let mnt = tree.dir("ws/mnt");
    let mount = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "nonoc-test", &mnt])
        .status()
        .unwrap_or_else(|e| panic!("mount: {e}"));
    assert!(mount.success());
    std::fs::write(format!("{mnt}/file"), "x\n").unwrap_or_else(|e| panic!("{e}"));
    let result = std::panic::catch_unwind(|| {
        let artifact = tree.compile(
            "mountpoint",
            &tool_policy("      - { path: \"${t}/ws/mnt\", access: [write] }"),
        );
        let run = exec(
            &artifact,
            2,
            None,
            &[("TREE", tree.root.as_str())],
            &[
                "write",
                &format!("{mnt}/file"),
                "read",
                &format!("{mnt}/file"),
                "create",
                &tree.path("ws/new"),
            ],
        );
        run.expect(&format!("write {mnt}/file"), "EROFS");
        run.expect(&format!("read {mnt}/file"), "ok");
        run.expect(&format!("create {}", tree.path("ws/new")), "ok");
    });
    let umount = Command::new("umount")
        .arg(&mnt)
        .status()
        .unwrap_or_else(|e| panic!("umount: {e}"));
    assert!(umount.success());
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// More masks than the runtime mounts in one apply: the carve-outs instead, said in the
/// report; under `isolation: required`, a coded apply error, and nothing runs.
fn too_many_masks() {
    let tree = Tree::new("masks");
    for i in 0..4100 {
        tree.file(&format!("ws/d{}/f{i}.env", i % 50), "x\n");
    }
    let deny = "      - { glob: \"${t}/ws/**/*.env\", access: [read] }";
    let env = [("TREE", tree.root.as_str())];
    let artifact = tree.compile("masks", &tool_policy(deny));
    let file = tree.path("ws/d0/f0.env");
    let run = exec(&artifact, 2, None, &env, &["read", &file]);
    assert!(run.output.status.success(), "{}", run.stderr());
    run.expect(&format!("read {file}"), "EACCES");
    let report = run.report();
    assert_eq!(tier(&report), "landlock", "{report}");
    let why = report["isolation"]["unavailable"]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.contains("needs 4100 masks") && why.contains("at most 4096"),
        "{why}"
    );
    let required = tool_policy(deny).replace(
        "variables:",
        "settings: { isolation: required }\nvariables:",
    );
    let artifact = tree.compile("masks-required", &required);
    let run = exec(&artifact, 2, None, &env, &["read", &file]);
    assert_eq!(run.output.status.code(), Some(126), "{}", run.stderr());
    assert!(run.results.is_empty());
    assert!(
        run.stderr().contains("needs 4100 masks") && run.stderr().contains("at most 4096"),
        "{}",
        run.stderr()
    );
}

/// `doctor` says whether user namespaces are available and which tier each ring gets;
/// `explain` says when the carve-out refuses what the policy allows.
fn doctor_and_explain() {
    let tree = agt_tree("doctor");
    tree.chown(NOBODY);
    let artifact = tree.compile("agt", &policy("agt-rings.yaml"));
    let (ws, home) = (tree.path("ws"), tree.path("home"));
    let env = [("AGENT_WORKSPACE", ws.as_str()), ("HOME", home.as_str())];
    let doctor = |user: Option<u32>, without_userns: bool| {
        let mut cmd = if without_userns {
            let mut c = Command::new(PYTHON);
            c.args(["-I", "-S", "-c", WITHOUT_USER_NAMESPACES, nonoc()]);
            c
        } else {
            Command::new(nonoc())
        };
        cmd.args(["doctor", &artifact]);
        let run = run(cmd, user, &env);
        assert!(run.output.status.success(), "{}", run.stderr());
        run.stdout()
    };
    let root = doctor(None, false);
    assert!(
        root.contains("isolation: mount namespaces available"),
        "{root}"
    );
    assert!(
        root.contains("tier namespace: 4 masks in fresh mount namespaces"),
        "{root}"
    );
    let nobody = doctor(Some(NOBODY), false);
    assert!(
        nobody.contains("isolation: user namespaces available (unprivileged)"),
        "{nobody}"
    );
    assert!(
        nobody.contains("in fresh user and mount namespaces"),
        "{nobody}"
    );
    let none = doctor(Some(NOBODY), true);
    assert!(
        none.contains("isolation: user namespaces unavailable (unshare is refused here"),
        "{none}"
    );
    assert!(
        none.contains("tier landlock (unshare is refused here"),
        "{none}"
    );
    // explain, with the carve-out chosen by the policy (so the answer is the same on every
    // host): the policy allows a new file in the workspace, the carve-out refuses it.
    let off = policy("agt-rings.yaml").replace("settings:\n", "settings:\n  isolation: off\n");
    let file = format!("{}.off.yaml", tree.root);
    std::fs::write(&file, off).unwrap_or_else(|e| panic!("{e}"));
    let new = format!("{ws}/new.txt");
    let mut cmd = Command::new(nonoc());
    cmd.args(["explain", &file, "--ring", "2", "--write", &new]);
    let run = run(cmd, None, &env);
    assert!(run.stdout().starts_with("allow\n"), "{}", run.stdout());
    assert!(
        run.stdout().contains(&format!(
            "on this host: creating new files directly in `{ws}/` fails because the policy sets `isolation: off`; the deny of `{ws}/.git`"
        )),
        "{}",
        run.stdout()
    );
}
