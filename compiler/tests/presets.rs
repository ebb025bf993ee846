//! Filesystem presets on the kernel: each preset runs its program family under `nonoc exec`
//! (the real binary applies the ring to itself, then runs the program), and the same command
//! in a ring without the preset is refused by the kernel (`Permission denied`, `EACCES`), so
//! each test shows the preset is what lets the program run.
//!
//! `harness = false`, with the reporting contract of `nonoc_test_runner` (see `exec.rs`).
//! Every run has a fixed environment (`PATH=/usr/local/bin:/usr/bin:/bin`, `HOME` in the
//! test's directory, `LC_ALL=C`) and works in a directory under `CARGO_TARGET_TMPDIR`, outside
//! `/tmp` (the `tmp` preset's private directories are created there: `TMPDIR` is unset).
#![expect(
    clippy::panic,
    reason = "test code: a failed assertion or a broken set-up is how a test reports"
)]

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use nonoc_test_runner::{Run, Scratch, Test, run as run_tests};

const NONOC: &str = env!("CARGO_BIN_EXE_nonoc");

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn main() -> ExitCode {
    run_tests(&[
        Test::new("preset_system_runs_coreutils", 1, system),
        Test::new("preset_devices_dev_null_and_urandom", 3, devices),
        Test {
            needs_program: Some("/usr/bin/python3"),
            ..Test::new("preset_tmp_is_a_private_directory_per_run", 1, tmp)
        },
        Test {
            needs_program: Some("/usr/bin/python3"),
            ..Test::new("preset_python_runs_python_venv_and_pip", 3, python)
        },
        Test {
            needs_program: Some("/usr/bin/python3"),
            ..Test::new("preset_certs_tls_client_loads_ca_certificates", 1, certs)
        },
        Test::new("preset_git_init_add_commit_status", 3, git),
        Test {
            needs_program: Some("/usr/bin/node"),
            ..Test::new("preset_node_runs_node", 1, node)
        },
        // The ELF reader that finds a program's loader is the Linux runtime's.
        #[cfg(target_os = "linux")]
        Test {
            needs_program: Some("/usr/bin/python3"),
            ..Test::new(
                "an_execute_grant_runs_a_dynamically_linked_program",
                1,
                loader_granted,
            )
        },
        Test {
            needs_program: Some("/usr/bin/python3"),
            ..Test::new(
                "test_kernel_execute_probes_run_the_loader",
                1,
                probe_runs_loader,
            )
        },
        Test::new(
            "a_program_a_ring_may_write_gets_no_loader",
            1,
            loader_of_writable_program,
        ),
        Test {
            needs_program: Some("/usr/bin/python3"),
            ..Test::new("newcomer_python_agent_with_presets_only", 3, newcomer)
        },
    ])
}

/// A scratch directory for one test of this target, with a workspace (`ws`) and a home.
fn scratch(test: &str) -> Scratch {
    let s = Scratch::new(env!("CARGO_TARGET_TMPDIR"), "presets", test);
    s.dir("ws");
    s
}

/// What the tests ask of a run.
trait Expect {
    fn ok(&self) -> &Run;
    fn refused(&self);
    fn not_executed(&self);
}

impl Expect for Run {
    #[track_caller]
    fn ok(&self) -> &Run {
        assert_eq!(self.status.code(), Some(0), "{self}");
        self
    }

    /// The command ran and failed because the kernel refused a file (`EACCES`, printed as
    /// `Permission denied` by C programs and Python alike).
    #[track_caller]
    fn refused(&self) {
        let code = self.status.code();
        assert!(
            code.is_some_and(|c| c != 0 && c != 126) && self.stderr.contains("Permission denied"),
            "expected a refusal by the kernel:\n{self}"
        );
    }

    /// The program could not be executed (`nonoc exec` reports the failed `execve`, 126,
    /// with `Permission denied`): the kernel refused the program or its loader.
    #[track_caller]
    fn not_executed(&self) {
        assert!(
            self.status.code() == Some(126) && self.stderr.contains("Permission denied"),
            "expected a refused execve:\n{self}"
        );
    }
}

/// The policy: ring 2 with `presets`, the workspace read and written, `extra` lines added to
/// its `filesystem:` section, and processes allowed.
fn policy(presets: &str, extra: &str) -> String {
    format!(
        "apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: presets
variables:
  workspace:
    env: WS
  home:
    env: HOME
rings:
  2:
    filesystem:
      presets: [{presets}]
      read: [\"${{workspace}}\"]
      write: [\"${{workspace}}\"]
{extra}
    process:
      fork: true
      signals: sandbox
"
    )
}

/// Compiles `yaml` as `nonoc compile` does; returns the artifact's path.
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
    let (_, bytes) = nonoc::artifact::build(
        &ir,
        &analysis.lowered,
        yaml.as_bytes(),
        nonoc::backend::Targets::ALL,
    )
    .unwrap_or_else(|e| panic!("{name}: cannot build the artifact: {e}"));
    s.file(&format!("{name}.artifact.json"), bytes)
}

/// `nonoc exec ARTIFACT --ring 2 -- CMD...` in the workspace, with the fixed environment.
fn exec(s: &Scratch, artifact: &str, cmd: &[&str]) -> Run {
    let args: Vec<&str> = ["exec", artifact, "--ring", "2", "--"]
        .into_iter()
        .chain(cmd.iter().copied())
        .collect();
    nonoc(s, &args)
}

/// `nonoc ARGS...` in the workspace, with the fixed environment.
fn nonoc(s: &Scratch, args: &[&str]) -> Run {
    let output = Command::new(NONOC)
        .args(args)
        .current_dir(s.path("ws"))
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", s.path("home"))
        .env("WS", s.path("ws"))
        .env("LC_ALL", "C")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {NONOC}: {e}"));
    Run::new(args, output)
}

/// A ring with `presets` and one without them (`without`: the presets left), both compiled.
fn pair(s: &Scratch, with: &str, without: &str, extra: &str) -> (String, String) {
    (
        compile(s, "with", &policy(with, extra)),
        compile(s, "without", &policy(without, extra)),
    )
}

/// `system`: coreutils run (the loader and the shared libraries, `/etc/passwd` through the
/// name service, the time zone); without a preset the loader cannot even be opened.
fn system() {
    let s = scratch("system");
    let (with, without) = pair(&s, "system", "", "");
    let script = "ls /usr/bin | grep -qx sh && id -un && date +%Y";
    let unconfined = Command::new("/bin/sh")
        .args(["-c", "id -un"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let run = exec(&s, &with, &["/bin/sh", "-c", script]);
    run.ok();
    assert!(
        run.stdout
            .starts_with(String::from_utf8_lossy(&unconfined.stdout).as_ref()),
        "{run}"
    );
    // The shell itself cannot be loaded: `nonoc exec` reports the failed execve.
    exec(&s, &without, &["/bin/sh", "-c", "true"]).not_executed();
}

/// `devices`: `> /dev/null` (opened with `O_TRUNC`), `/dev/urandom`, `/dev/zero`.
fn devices() {
    let s = scratch("devices");
    let (with, without) = pair(&s, "system, devices", "system", "");
    let script =
        "echo x > /dev/null && head -c 16 /dev/urandom | wc -c && head -c 4 /dev/zero | wc -c";
    let run = exec(&s, &with, &["/bin/sh", "-c", script]);
    assert_eq!(run.ok().stdout, "16\n4\n", "{run}");
    exec(&s, &without, &["/bin/sh", "-c", "echo x > /dev/null"]).refused();
    exec(&s, &without, &["/bin/sh", "-c", "head -c 1 /dev/urandom"]).refused();
}

/// `tmp`: each run gets a private directory of its own, given as `TMPDIR`: `mktemp` and
/// Python's `tempfile` write there, it is `0700`, two runs get two directories, and each is
/// removed when its command ends. The shared `/tmp` is refused (`EACCES`): a file another
/// process left there cannot be read, and nothing can be created there. Without the preset
/// `mktemp` is refused.
fn tmp() {
    let s = scratch("tmp");
    let (with, without) = pair(&s, "python, tmp", "python", "");
    let script = "f=$(mktemp) && echo hello > \"$f\" && cat \"$f\" && dirname \"$f\" \
                  && echo \"$TMPDIR\" && stat -c %a \"$TMPDIR\" \
                  && python3 -c 'import tempfile; print(tempfile.gettempdir())'";
    let mut seen = Vec::new();
    for _ in 0..2 {
        let run = exec(&s, &with, &["/bin/sh", "-c", script]);
        let lines: Vec<&str> = run.ok().stdout.lines().collect();
        let [hello, dir, tmpdir, mode, python] = lines[..] else {
            panic!("five lines expected:\n{run}");
        };
        assert_eq!(hello, "hello", "{run}");
        assert!(tmpdir.starts_with("/tmp/nonoc-tmp-"), "{run}");
        assert_eq!((dir, python, mode), (tmpdir, tmpdir, "700"), "{run}");
        assert!(!Path::new(tmpdir).exists(), "{tmpdir} outlived its run");
        seen.push(tmpdir.to_owned());
    }
    assert_ne!(seen[0], seen[1], "two runs shared a directory");

    // What another process leaves in the shared /tmp.
    let pid = std::process::id();
    let planted = format!("/tmp/nonoc-presets-planted-{pid}");
    std::fs::write(&planted, "secret\n").unwrap_or_else(|e| panic!("{planted}: {e}"));
    let read = exec(&s, &with, &["/bin/cat", &planted]);
    let _ = std::fs::remove_file(&planted);
    read.refused();
    assert!(!read.stdout.contains("secret"), "{read}");
    let created = format!("/tmp/nonoc-presets-created-{pid}");
    let create = exec(
        &s,
        &with,
        &["/bin/sh", "-c", &format!("echo x > {created}")],
    );
    let existed = Path::new(&created).exists();
    let _ = std::fs::remove_file(&created);
    create.refused();
    assert!(!existed, "{created} was created in the shared /tmp");

    // The report names the directory.
    let run = nonoc(
        &s,
        &["exec", &with, "--ring", "2", "--report", "--", "/bin/true"],
    );
    assert!(
        run.ok()
            .stderr
            .contains("\"private_tmp\":\"/tmp/nonoc-tmp-"),
        "{run}"
    );

    // Another run's directory, and the caller's own binding of `tmp`: kept, given as TMPDIR.
    let other = format!("/tmp/nonoc-tmp-other{pid}");
    std::fs::create_dir_all(&other).unwrap_or_else(|e| panic!("{other}: {e}"));
    std::fs::write(format!("{other}/file"), "theirs\n").unwrap_or_else(|e| panic!("{e}"));
    let theirs = exec(&s, &with, &["/bin/cat", &format!("{other}/file")]);
    let mine = s.dir("mine");
    let bound = nonoc(
        &s,
        &[
            "exec",
            &with,
            "--ring",
            "2",
            "--var",
            &format!("tmp={mine}"),
            "--",
            "/bin/sh",
            "-c",
            "echo \"$TMPDIR\" && echo x > \"$TMPDIR/f\"",
        ],
    );
    let _ = std::fs::remove_dir_all(&other);
    theirs.refused();
    assert_eq!(bound.ok().stdout, format!("{mine}\n"), "{bound}");
    assert!(Path::new(&mine).join("f").is_file(), "{bound}");

    // A ring that names `${tmp}` only through another variable's default gets a directory.
    let chained = policy("python, tmp", "").replace(
        "variables:\n",
        "variables:\n  scratch:\n    default: \"${tmp}/scratch\"\n",
    ) + "  3:\n    filesystem:\n      presets: [python]\n      write: [\"${scratch}\"]\n";
    let chained = compile(&s, "chained", &chained);
    let run = nonoc(
        &s,
        &[
            "exec",
            &chained,
            "--ring",
            "3",
            "--",
            "/bin/sh",
            "-c",
            "echo \"$TMPDIR\"",
        ],
    );
    assert!(run.ok().stdout.starts_with("/tmp/nonoc-tmp-"), "{run}");

    // `nonoc exec` waits for the command to remove its directory: a signal a supervisor sends
    // it (here SIGUSR1, which would end it) goes to the command instead.
    let mut waiting = Command::new(NONOC)
        .args(["exec", &with, "--ring", "2", "--", "/bin/sh", "-c"])
        .arg(
            "trap 'echo \"usr1 $TMPDIR\"; exit 3' USR1; echo ready; \
             for i in $(seq 100); do sleep 0.05; done; exit 9",
        )
        .current_dir(s.path("ws"))
        .env_clear()
        .env("PATH", PATH)
        .env("WS", s.path("ws"))
        .env("HOME", s.path("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {NONOC}: {e}"));
    let mut out =
        std::io::BufReader::new(waiting.stdout.take().unwrap_or_else(|| panic!("stdout")));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line, "ready\n");
    let sent = Command::new("/bin/kill")
        .args(["-USR1", &waiting.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(sent.success());
    // Checked before reading on: without the forwarding `nonoc exec` ends by the signal, and
    // the command, in a session of its own, holds the pipe until its loop ends.
    let status = waiting.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(3), "{status}");
    line.clear();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap_or_else(|e| panic!("{e}"));
    let dir = line.trim().strip_prefix("usr1 ").unwrap_or_default();
    assert!(dir.starts_with("/tmp/nonoc-tmp-"), "{line}");
    assert!(!Path::new(dir).exists(), "{dir} outlived its run");

    // A ring of the same policy that does not name `${tmp}` gets no directory and no TMPDIR.
    let two = policy("python, tmp", "").replace(
        "rings:\n",
        "rings:\n  3:\n    filesystem:\n      presets: [python]\n",
    );
    let two = compile(&s, "two", &two);
    let args = [
        "exec", &two, "--ring", "3", "--report", "--", "/bin/sh", "-c",
    ];
    let run = nonoc(&s, &[&args[..], &["echo \"[$TMPDIR]\""]].concat());
    assert_eq!(run.ok().stdout, "[]\n", "{run}");
    assert!(!run.stderr.contains("private_tmp"), "{run}");

    exec(&s, &without, &["/bin/sh", "-c", "mktemp"]).refused();
}

/// `python`: `python3 -c`, `python3 -m venv` (with pip, which `ensurepip` installs from a
/// temporary directory, so `tmp` too), the venv's `pip --version`, and `pip --version`.
fn python() {
    let s = scratch("python");
    let extra = "      execute: [\"${workspace}\"]";
    let (with, without) = pair(&s, "python, tmp", "tmp", extra);
    let run = exec(
        &s,
        &with,
        &[
            "python3",
            "-c",
            "import json, sqlite3, ssl, subprocess; print(json.dumps([1 + 1]))",
        ],
    );
    assert_eq!(run.ok().stdout, "[2]\n", "{run}");
    let venv = s.path("ws/venv");
    exec(&s, &with, &["python3", "-m", "venv", &venv]).ok();
    let pip = format!("{venv}/bin/pip");
    let run = exec(&s, &with, &[&pip, "--version"]);
    assert!(run.ok().stdout.starts_with("pip "), "{run}");
    let run = exec(&s, &with, &["python3", "-m", "pip", "--version"]);
    assert!(run.ok().stdout.starts_with("pip "), "{run}");
    if Path::new("/usr/bin/pip3").exists() {
        let run = exec(&s, &with, &["/usr/bin/pip3", "--version"]);
        assert!(run.ok().stdout.starts_with("pip "), "{run}");
    }
    exec(&s, &without, &["python3", "-c", "print(1)"]).not_executed();
}

/// `certs`: a TLS client's default context loads the CA certificates (what
/// `ssl.create_default_context` reads before any connection); without `certs` it loads none
/// and reading the bundle is refused with `EACCES`.
fn certs() {
    let s = scratch("certs");
    let (with, without) = pair(&s, "python, certs", "python", "");
    let script = "import ssl\n\
        paths = ssl.get_default_verify_paths()\n\
        ctx = ssl.create_default_context()\n\
        n = len(ctx.get_ca_certs())\n\
        print(n > 0)\n\
        try:\n    open(paths.cafile or paths.openssl_cafile, 'rb').read(1)\n    print('read')\n\
        except PermissionError as e:\n    print('errno', e.errno)\n";
    let run = exec(&s, &with, &["python3", "-c", script]);
    assert_eq!(run.ok().stdout, "True\nread\n", "{run}");
    let run = exec(&s, &without, &["python3", "-c", script]);
    assert_eq!(run.ok().stdout, "False\nerrno 13\n", "{run}");
}

/// `git`: `git init`, `add`, `commit`, `status` in the workspace, with a global configuration
/// in `HOME`; without `git` (but with `system`), git cannot read its configuration.
fn git() {
    let s = scratch("git");
    s.file(
        "home/.gitconfig",
        "[user]\n\tname = Nonoc Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n",
    );
    s.file("ws/hello.txt", "hello\n");
    let (with, without) = pair(&s, "git", "system", "");
    exec(&s, &with, &["git", "init", "-q", "."]).ok();
    exec(&s, &with, &["git", "add", "hello.txt"]).ok();
    exec(&s, &with, &["git", "commit", "-q", "-m", "first"]).ok();
    s.file("ws/new.txt", "new\n");
    let run = exec(&s, &with, &["git", "status", "--porcelain"]);
    assert_eq!(run.ok().stdout, "?? new.txt\n", "{run}");
    let run = exec(&s, &with, &["git", "log", "--format=%s %an"]);
    assert_eq!(run.ok().stdout, "first Nonoc Test\n", "{run}");
    exec(&s, &without, &["git", "status", "--porcelain"]).refused();
}

/// `node`: `node -e` runs a script that uses the runtime's built-in modules.
fn node() {
    let s = scratch("node");
    let (with, without) = pair(&s, "node", "", "");
    let script = "const os = require('os'); const c = require('crypto'); console.log(os.cpus().length > 0, c.randomBytes(4).length)";
    let run = exec(&s, &with, &["node", "-e", script]);
    assert_eq!(run.ok().stdout, "true 4\n", "{run}");
    exec(&s, &without, &["node", "-e", "1"]).not_executed();
}

/// A policy without presets: ring 2 may read and execute what `read` and `execute` say.
fn plain(read: &str, execute: &str, tests: &str) -> String {
    format!(
        "apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: loader
variables:
  workspace:
    env: WS
rings:
  2:
    filesystem:
      read: [{read}]
      execute: [{execute}]
  3:
    filesystem:
      write: [\"${{workspace}}\"]
tests:
{tests}"
    )
}

/// Where a program's loader really is.
#[cfg(target_os = "linux")]
fn loader_of(program: &str) -> (String, String) {
    let real = std::fs::canonicalize(program).unwrap_or_else(|e| panic!("{program}: {e}"));
    let interp = nonoc_runtime::probe::interpreter_of(real.to_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{program}: {e}"))
        .unwrap_or_else(|| panic!("{program} is not dynamically linked"));
    let resolved = std::fs::canonicalize(&interp).unwrap_or_else(|e| panic!("{interp}: {e}"));
    (interp, resolved.to_str().unwrap_or_default().to_owned())
}

/// `execute: [/usr/bin/python3]` with the reads the program needs (itself, the shared
/// libraries, the loader cache) runs it: the runtime grants the program's loader, which no
/// rule names, and the report says so. Before, `execve` failed with `EACCES` (126).
#[cfg(target_os = "linux")]
fn loader_granted() {
    let s = scratch("loader-granted");
    let yaml = plain(
        "/usr/bin/python3, /usr/lib, /lib, /etc/ld.so.cache",
        "/usr/bin/python3",
        "  []",
    );
    let artifact = compile(&s, "loader", &yaml);
    let run = nonoc(
        &s,
        &[
            "exec",
            &artifact,
            "--ring",
            "2",
            "--report",
            "--",
            "/usr/bin/python3",
            "-c",
            "print('ran')",
        ],
    );
    assert_eq!(run.ok().stdout, "ran\n", "{run}");
    let report: serde_json::Value = serde_json::from_str(run.stderr.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no report ({e}):\n{run}"));
    let (interp, resolved) = loader_of("/usr/bin/python3");
    assert_eq!(
        report["landlock"]["loaders"],
        serde_json::json!([{
            "program": "/usr/bin/python3",
            "interpreter": interp,
            "resolved": resolved,
        }]),
        "{run}"
    );
}

/// `nonoc test --kernel` now runs an execute probe through the program's loader: a ring
/// that may execute python3 and read the file alone cannot load its shared libraries, and the
/// probe says so where `decide` says allow (it used to stop at `execve`'s checks on the
/// program and agree). With the libraries readable it agrees.
fn probe_runs_loader() {
    let s = scratch("probe-loader");
    let tests = "  - { ring: 2, execute: /usr/bin/python3, expect: allow }\n";
    let policy = s.file(
        "unreadable-libraries.yaml",
        plain("/usr/bin/python3", "/usr/bin/python3", tests),
    );
    let run = nonoc(
        &s,
        &[
            "test",
            "--kernel",
            &policy,
            "--var",
            "workspace=/nonexistent",
        ],
    );
    assert_eq!(run.status.code(), Some(1), "{run}");
    assert!(
        run.stdout.contains(
            "ring 2, execute `/usr/bin/python3`: kernel: expected allow, the kernel denied it (the loader could not open"
        ) && run.stdout.contains("libc.so"),
        "{run}"
    );
    let policy = s.file(
        "readable-libraries.yaml",
        plain(
            "/usr/bin/python3, /usr/lib, /lib, /etc/ld.so.cache",
            "/usr/bin/python3",
            tests,
        ),
    );
    let run = nonoc(
        &s,
        &[
            "test",
            "--kernel",
            &policy,
            "--var",
            "workspace=/nonexistent",
        ],
    );
    assert!(
        run.ok().stdout.contains("1 agreed, 0 disagreed, 0 not run"),
        "{run}"
    );
}

/// A program in a directory another ring may write names its own loader: the runtime does
/// not trust it (an agent could point `PT_INTERP` at any file to gain read and execute on
/// it), grants no loader, and says why; the program cannot run.
fn loader_of_writable_program() {
    let s = scratch("loader-writable");
    let program = s.path("ws/true");
    std::fs::copy("/bin/true", &program).unwrap_or_else(|e| panic!("/bin/true: {e}"));
    let yaml = plain(
        "\"${workspace}\", /usr/lib, /lib, /etc/ld.so.cache",
        "\"${workspace}/true\"",
        "  []",
    );
    let artifact = compile(&s, "loader", &yaml);
    let run = nonoc(
        &s,
        &["exec", &artifact, "--ring", "2", "--report", "--", &program],
    );
    run.not_executed();
    let report: serde_json::Value = serde_json::from_str(run.stderr.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no report ({e}):\n{run}"));
    assert!(report["landlock"]["loaders"].is_null(), "{run}");
    let why = &report["landlock"]["loaders_not_added"][0];
    assert_eq!(why["program"], program.as_str(), "{run}");
    assert!(
        why["why"]
            .as_str()
            .is_some_and(|w| w.contains("may write") && w.contains(&s.path("ws"))),
        "{run}"
    );
}

/// The agent script of the newcomer scenario: reads and writes in the workspace, uses
/// `tempfile`, runs `git status` and a child Python, and finds the secrets and `.git` closed.
const AGENT: &str = r#"import errno, os, subprocess, sys, tempfile
ws = os.environ["AGENT_WORKSPACE"]
with open(os.path.join(ws, "task.txt")) as f:
    task = f.read().strip()
with open(os.path.join(ws, "out.txt"), "w") as f:
    f.write(task.upper())
with tempfile.NamedTemporaryFile("w+", delete=True) as t:
    t.write("scratch")
    t.flush()
    t.seek(0)
    assert t.read() == "scratch"
status = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=True)
child = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True)
def refused(action):
    try:
        action()
        return "allowed"
    except OSError as e:
        # EACCES from Landlock, EROFS from the isolation layer's read-only mask.
        return "refused" if e.errno in (errno.EACCES, errno.EROFS) else "errno %d" % e.errno
print("status:" + ",".join(sorted(status.stdout.split())))
print("child:" + child.stdout.strip())
print("key:" + refused(lambda: open(os.path.join(os.environ["HOME"], ".ssh", "id_ed25519")).read()))
print("git-config:" + refused(lambda: open(os.path.join(ws, ".git", "config"), "a").write("x")))
"#;

/// A newcomer's policy for a Python coding agent at ring 2, with presets only for the system
/// (workspace read and write, `.git` read-only, secrets denied), run under `nonoc exec` with
/// an agent script that reads, writes, uses `tempfile`, runs `git status` and a child process.
fn newcomer() {
    let s = scratch("newcomer");
    s.file(
        "home/.gitconfig",
        "[user]\n\tname = Nonoc Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n",
    );
    s.file("home/.ssh/id_ed25519", "key\n");
    s.file("ws/task.txt", "hello agent\n");
    let agent = s.file("ws/agent.py", AGENT);
    for cmd in [
        &["git", "init", "-q", "."][..],
        &["git", "add", "task.txt", "agent.py"],
        &[
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "commit",
            "-q",
            "-m",
            "task",
        ],
    ] {
        let out = Command::new(cmd[0])
            .args(&cmd[1..])
            .current_dir(s.path("ws"))
            .env("HOME", s.path("home"))
            .output()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(out.status.success(), "{cmd:?}: {out:?}");
    }
    let yaml = "apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: newcomer
variables:
  workspace: { env: AGENT_WORKSPACE }
  home: { env: HOME }
deny:
  - path: ${home}/.ssh
rings:
  2:
    filesystem:
      presets: [python, git, certs, tmp, devices]
      read: [\"${workspace}\"]
      write: [\"${workspace}\"]
    deny:
      - { path: \"${workspace}/.git\", access: [write] }
    network:
      mode: restricted
      connect_tcp: [443]
    process:
      fork: true
      signals: sandbox
";
    let analysis = nonoc::analyze("newcomer.yaml", yaml.as_bytes());
    let warnings: Vec<String> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.code == nonoc::diagnostic::Code::FsPresetWithoutHome)
        .map(|d| d.message.clone())
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    let artifact = compile(&s, "newcomer", yaml);
    let output = Command::new(NONOC)
        .args(["exec", &artifact, "--ring", "2", "--", "python3", &agent])
        .current_dir(s.path("ws"))
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", s.path("home"))
        .env("AGENT_WORKSPACE", s.path("ws"))
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {NONOC}: {e}"));
    let run = Run {
        args: vec![
            "exec".to_owned(),
            artifact.clone(),
            "python3 agent.py".to_owned(),
        ],
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(
        run.ok().stdout,
        "status:??,out.txt\nchild:42\nkey:refused\ngit-config:refused\n",
        "{run}"
    );
    let out = std::fs::read_to_string(s.path("ws/out.txt")).unwrap_or_default();
    assert_eq!(out, "HELLO AGENT");
}
