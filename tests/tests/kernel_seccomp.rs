//! Kernel enforcement of the seccomp filter the runtime installs after Landlock: every
//! confined ring of every policy in `policies/` and of a syscall-heavy policy written here is
//! applied in a fresh `nonoc-probe` process, which makes syscalls the filter decides (fork,
//! threads, socket families, ptrace, process_vm_readv, io_uring, x32 numbers, user
//! namespaces, terminal ioctls, other processes' limits and priorities, listen, unix socket
//! connects); each answer, errno included, is compared with `decide` (see
//! `nonoc_tests::kernel::expect`). Then the escapes v1.1 closes, one test each with the errno
//! and a baseline that shows the operation works without the rule, a foreign-arch call
//! (killed), the report's stats, and the runtime's refusals of a filter it cannot install.
//!
//! `harness = false`: without Landlock every test reports `skipped` (or `FAILED` with
//! `NONOC_REQUIRE_LANDLOCK=1`), never `ok`.

use std::collections::BTreeMap;
use std::process::{Command, ExitCode};

use nonoc_runtime::Artifact;
use nonoc_runtime::artifact::{Instruction, SeccompArch, SeccompFilter};
use nonoc_test_runner::Test;
use nonoc_tests::kernel::{Compiled, Op, ProbeArgs, Select, TempTree, compile, probe};

const PROBE: &str = env!("CARGO_BIN_EXE_nonoc-probe");

const AF_UNIX: u32 = 1;
const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;
const AF_NETLINK: u32 = 16;
const AF_PACKET: u32 = 17;
const SOCK_STREAM: u32 = 1;
const SOCK_DGRAM: u32 = 2;
const SOCK_RAW: u32 = 3;
/// getpid on x86_64.
const GETPID: u32 = 39;
const SIGSYS: i32 = 31;
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;

fn main() -> ExitCode {
    let mut tests = vec![
        Test::new(
            "every_ring_matches_decide_on_syscalls",
            1,
            every_ring_of_every_policy,
        ),
        Test::new("per_rule_actions_and_argument_checks", 1, per_rule_actions),
        Test::new(
            "the_report_carries_the_installed_filter_stats",
            1,
            report_stats,
        ),
        Test::new(
            "a_filter_the_runtime_cannot_install_is_refused",
            1,
            refusals,
        ),
        Test::new(
            "terminal_injection_is_refused_in_every_confined_ring",
            1,
            terminal_injection,
        ),
        Test::new(
            "other_processes_limits_and_priority_are_out_of_reach",
            1,
            other_processes,
        ),
        Test::new(
            "listen_without_a_bind_tcp_port_is_refused",
            1,
            listen_without_bind,
        ),
        Test::new("unix_socket_connect_needs_a_grant", 1, unix_connect),
    ];
    // The i386 entry (`int 0x80`) exists on x86_64 only: elsewhere there is no such test, rather
    // than one that passes without probing.
    if cfg!(target_arch = "x86_64") {
        tests.push(Test::new(
            "a_foreign_arch_call_kills_the_process",
            1,
            foreign_arch_killed,
        ));
    }
    nonoc_test_runner::run(&tests)
}

/// The syscall operations, `unshare-user` last (it changes the probe's credentials); `other`
/// is a process outside the sandbox whose limits and priority the ring may not change.
fn syscall_ops(other: u32) -> Vec<Op> {
    let mut ops = vec![
        Op::Thread,
        Op::Fork,
        Op::Socket(AF_UNIX, SOCK_STREAM),
        Op::Socket(AF_INET, SOCK_STREAM),
        Op::Socket(AF_INET, SOCK_DGRAM),
        Op::Socket(AF_INET6, SOCK_DGRAM),
        Op::Socket(AF_INET, SOCK_RAW),
        Op::Socket(AF_PACKET, SOCK_RAW),
        Op::Socket(AF_NETLINK, SOCK_RAW),
        Op::Ptrace,
        Op::ProcessVmReadv,
        Op::IoUring,
        Op::TtyIoctl(TIOCSTI),
        Op::TtyIoctl(TIOCSTI | 1 << 32),
        Op::TtyIoctl(TIOCLINUX),
        Op::Prlimit(0),
        Op::Prlimit(other),
        Op::Setpriority(0),
        Op::Setpriority(other),
        Op::Ioprio(0),
        Op::Ioprio(other),
        Op::Affinity(0),
        Op::Affinity(other),
        Op::ListenTcp,
        Op::ListenUnix,
    ];
    if cfg!(target_arch = "x86_64") {
        ops.push(Op::X32(GETPID));
    }
    ops.push(Op::UnshareUser);
    ops
}

/// A process started outside any sandbox, for a ring to try to change; killed on drop. It
/// runs as the caller's user with no capability (its bounding set emptied before `execve`):
/// a confined process, which keeps none, may change a process of its own user that holds no
/// more capabilities than it does (the kernel's `cap_safe_nice`), so what refuses it is the
/// filter, not the capabilities the sandbox dropped.
struct Outsider(std::process::Child);

impl Outsider {
    fn start() -> Outsider {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new("sleep");
        command.arg("300").stdin(std::process::Stdio::null());
        #[expect(unsafe_code, reason = "a pre_exec hook is unsafe")]
        // SAFETY: the hook runs between fork and execve and makes only prctl calls with
        // integer arguments (async-signal-safe); it allocates nothing.
        unsafe {
            command.pre_exec(|| {
                for cap in 0..64 {
                    // EINVAL above the kernel's last capability; EPERM without CAP_SETPCAP,
                    // where the process has nothing to drop anyway.
                    libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `sleep`: {e}"));
        Outsider(child)
    }

    /// The outsider's effective capabilities (`CapEff` of /proc/PID/status).
    fn capabilities(&self) -> String {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// `Max core file size` of /proc/PID/limits, and the nice value of /proc/PID/stat.
    fn core_limit_and_nice(&self) -> (String, i64) {
        let pid = self.pid();
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let core = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap()
            .split_whitespace()
            .skip(4)
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command's closing parenthesis: state is field 3, nice field 19.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let nice = after.split(' ').nth(16).unwrap().parse().unwrap();
        (core, nice)
    }
}

impl Drop for Outsider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Probe args binding every declared variable to a fresh directory.
fn args_for(compiled: &Compiled, tree: &TempTree, artifact: &str, level: u8) -> ProbeArgs {
    let mut args = ProbeArgs::new(artifact, Select::Ring(level));
    for name in compiled.ir.variables.keys() {
        let dir = tree.dir(name);
        args = args.var(name, &dir);
    }
    args
}

/// Probes the syscall operations in one ring; returns the failures, and counts each
/// operation's allowed and denied outcomes into `seen`.
fn probe_syscalls(
    label: &str,
    compiled: &Compiled,
    level: u8,
    seen: &mut BTreeMap<String, (usize, usize)>,
) -> Vec<String> {
    let tree = TempTree::new("seccomp");
    let artifact = tree.artifact(&compiled.bytes);
    let args = args_for(compiled, &tree, &artifact, level);
    let outsider = Outsider::start();
    let ops = syscall_ops(outsider.pid());
    let probed = nonoc_tests::kernel::probe_ring(PROBE, &compiled.ir, &args, &ops);
    let report = probed.run.report();
    assert!(
        report.raw.get("seccomp").is_some(),
        "{label}: the report says no seccomp filter was installed: {}",
        report.raw
    );
    let mut allowed = 0;
    for j in &probed.judged {
        let counts = seen.entry(j.op.name().to_owned()).or_default();
        if j.expected.kernel {
            counts.0 += 1;
            allowed += 1;
        } else {
            counts.1 += 1;
        }
    }
    eprintln!(
        "  {label}: {} syscall operations, {allowed} allowed, {} denied",
        ops.len(),
        ops.len() - allowed
    );
    probed
        .failures
        .into_iter()
        .map(|f| format!("{label}: {f}"))
        .collect()
}

fn every_ring_of_every_policy() {
    let mut failures = Vec::new();
    let mut seen = BTreeMap::new();
    for file in nonoc_tests::example_policies() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let yaml = std::fs::read_to_string(&file).unwrap();
        let compiled = compile(&name, &yaml).unwrap_or_else(|e| panic!("{e}"));
        for (&level, ring) in &compiled.ir.rings {
            if ring.unconfined {
                continue;
            }
            let label = format!("{name} ring {level}");
            failures.extend(probe_syscalls(&label, &compiled, level, &mut seen));
        }
    }
    // The example policies never let a ring create a user namespace; this one does.
    let rules = compile("seccomp-rules", RULES).unwrap_or_else(|e| panic!("{e}"));
    for level in [2, 3] {
        let label = format!("seccomp-rules ring {level}");
        failures.extend(probe_syscalls(&label, &rules, level, &mut seen));
    }
    assert!(
        failures.is_empty(),
        "{} syscalls disagree:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    // The rings must exercise both answers where they can differ: a check that only ever
    // sees `allow` (or `deny`) would prove nothing about the filter.
    for op in [
        "fork",
        "socket",
        "ptrace",
        "process-vm-readv",
        "unshare-user",
        "prlimit",
        "setpriority",
        "ioprio",
        "affinity",
        "listen-tcp",
        "listen-unix",
    ] {
        let (allowed, denied) = seen.get(op).copied().unwrap_or_default();
        assert!(
            allowed > 0 && denied > 0,
            "`{op}`: {allowed} allowed and {denied} denied over every ring; the policies do not discriminate"
        );
    }
    let (threads, no_threads) = seen.get("thread").copied().unwrap_or_default();
    assert!(
        threads > 0 && no_threads == 0,
        "threads are never denied ({threads} allowed, {no_threads} denied)"
    );
    // io_uring bypasses Landlock, and every confined ring restricts files.
    let (uring, no_uring) = seen.get("io-uring").copied().unwrap_or_default();
    assert!(
        uring == 0 && no_uring > 0,
        "io_uring is denied in every confined ring ({uring} allowed, {no_uring} denied)"
    );
    // No confined ring may push input into a terminal.
    let (tty, no_tty) = seen.get("tty-ioctl").copied().unwrap_or_default();
    assert!(
        tty == 0 && no_tty > 0,
        "TIOCSTI and TIOCLINUX are denied in every confined ring ({tty} allowed, {no_tty} denied)"
    );
}

/// A ring with per-rule actions and argument checks of every width: the errno each rule
/// names must come back, not the ring's default one.
const RULES: &str = r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: seccomp-rules
rings:
  2:
    filesystem:
      read: [/usr, /lib, /lib64, /etc, /proc]
    network:
      mode: restricted
      udp: true
      bind_tcp: [8080]
      unix_connect: [/run]
    process:
      fork: true
      ptrace: true
      signals: any
    syscalls:
      errno: EACCES
      deny:
        - { name: socket, args: [{ index: 0, op: eq, value: AF_NETLINK }], action: errno, errno: EAFNOSUPPORT }
        - { name: socket, args: [{ index: 0, op: eq, value: AF_INET6 }, { index: 1, op: masked_eq, mask: 0xf, value: 2 }] }
        - { name: process_vm_readv, action: errno, errno: ENOSYS }
  3:
    extends: 2
    process:
      fork: false
      ptrace: false
      signals: self
    syscalls:
      deny:
        - { name: unshare, args: [{ index: 0, op: any_bits, value: CLONE_NEWUSER }] }
"#;

fn per_rule_actions() {
    let compiled = compile("seccomp-rules", RULES).unwrap_or_else(|e| panic!("{e}"));
    // The rules' own errnos, and the arguments around them, written out (the generic
    // comparison with `decide` runs on these rings in the test above).
    let tree = TempTree::new("seccomp-rules");
    let artifact = tree.artifact(&compiled.bytes);
    let ops = [
        Op::Socket(AF_NETLINK, SOCK_RAW),
        Op::Socket(AF_INET6, SOCK_DGRAM),
        Op::Socket(AF_INET6, SOCK_STREAM),
        Op::Socket(AF_INET, SOCK_DGRAM),
        Op::ProcessVmReadv,
        Op::Fork,
        Op::Thread,
        Op::Ptrace,
        Op::UnshareUser,
    ];
    let outcomes = |level: u8| -> Vec<String> {
        let run = probe::run(PROBE, &ProbeArgs::new(&artifact, Select::Ring(level)), &ops);
        assert!(run.apply_error.is_none(), "{}", run.stdout);
        run.results
            .iter()
            .map(|(op, o)| format!("{op} -> {o}"))
            .collect()
    };
    assert_eq!(
        outcomes(2),
        [
            "socket 16 3 -> EAFNOSUPPORT",
            "socket 10 2 -> EACCES",
            "socket 10 1 -> ok",
            "socket 2 2 -> ok",
            "process-vm-readv -> ENOSYS",
            "fork -> ok",
            "thread -> ok",
            "ptrace -> ESRCH",
            "unshare-user -> ok",
        ]
    );
    // `fork: false` and `ptrace: false` use the ring's errno (EACCES here); threads run.
    // `ptrace: false` also denies process_vm_readv with the ring's errno; the rule's own
    // ENOSYS is as strict, and a named rule's action is kept on a tie.
    assert_eq!(
        outcomes(3),
        [
            "socket 16 3 -> EAFNOSUPPORT",
            "socket 10 2 -> EACCES",
            "socket 10 1 -> ok",
            "socket 2 2 -> ok",
            "process-vm-readv -> ENOSYS",
            "fork -> EACCES",
            "thread -> ok",
            "ptrace -> EACCES",
            "unshare-user -> EACCES",
        ]
    );
}

fn foreign_arch_killed() {
    let compiled = compile("seccomp-rules", RULES).unwrap_or_else(|e| panic!("{e}"));
    let tree = TempTree::new("seccomp-i386");
    let artifact = tree.artifact(&compiled.bytes);
    let run = probe::run(
        PROBE,
        &ProbeArgs::new(&artifact, Select::Ring(2)),
        &[Op::Thread, Op::I386Getpid],
    );
    assert_eq!(
        run.signal,
        Some(SIGSYS),
        "a foreign-arch call must kill the process (SECCOMP_RET_KILL_PROCESS):\n{}{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        run.results.len(),
        1,
        "the thread runs, then the process dies: {}",
        run.stdout
    );
    // Without a filter, the same call returns: the kill is the filter's.
    let unconfined = unconfined_getpid();
    assert!(
        unconfined.status.success(),
        "getpid through int 0x80 without a filter: {unconfined:?}"
    );
}

/// The probe's i386 getpid on an unconfined ring.
fn unconfined_getpid() -> std::process::Output {
    let policy = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: open\nrings:\n  0:\n    unconfined: true\n";
    let compiled = compile("open", policy).unwrap_or_else(|e| panic!("{e}"));
    let tree = TempTree::new("seccomp-open");
    let artifact = tree.artifact(&compiled.bytes);
    Command::new(PROBE)
        .args(["--artifact", &artifact, "--ring", "0", "--allow-unconfined"])
        .args(["--", "i386-getpid"])
        .output()
        .unwrap()
}

fn report_stats() {
    let compiled = compile("seccomp-rules", RULES).unwrap_or_else(|e| panic!("{e}"));
    let artifact = Artifact::from_slice(&compiled.bytes).unwrap();
    let host = SeccompArch::host().unwrap();
    let tree = TempTree::new("seccomp-report");
    let path = tree.artifact(&compiled.bytes);
    let run = probe::run(
        PROBE,
        &ProbeArgs::new(&path, Select::Ring(2)),
        &[Op::Thread],
    );
    let report = &run.report().raw;
    let filter = &artifact.rings[&2].seccomp[&host];
    assert_eq!(report["seccomp"]["arch"], host.name());
    assert_eq!(
        report["seccomp"]["stats"],
        serde_json::to_value(&filter.stats).unwrap()
    );
    assert!(filter.stats.length > 10 && filter.stats.worst_case <= filter.stats.length);
    // Both arches are compiled, whatever the host.
    assert_eq!(artifact.rings[&2].seccomp.len(), 2);
}

/// Rewrites ring 2 of the artifact, seals it again, and probes it.
fn probe_edited(edit: impl FnOnce(&mut Artifact)) -> probe::ProbeRun {
    let compiled = compile("seccomp-rules", RULES).unwrap_or_else(|e| panic!("{e}"));
    let mut artifact = Artifact::from_slice(&compiled.bytes).unwrap();
    edit(&mut artifact);
    let bytes = artifact.seal().unwrap();
    let tree = TempTree::new("seccomp-refused");
    let path = tree.artifact(&bytes);
    let target = tree.file("target", b"x");
    probe::run(
        PROBE,
        &ProbeArgs::new(&path, Select::Ring(2)),
        &[Op::Read(target)],
    )
}

fn refusals() {
    let host = SeccompArch::host().unwrap();
    let foreign = match host {
        SeccompArch::X86_64 => SeccompArch::Aarch64,
        SeccompArch::Aarch64 => SeccompArch::X86_64,
    };

    // Only the other arch's filter: refused by the loader (the compiler writes both), before
    // anything is applied.
    let run = probe_edited(|a| {
        a.rings.get_mut(&2).unwrap().seccomp.remove(&host);
    });
    let (kind, message) = run.apply_error.clone().expect("must refuse");
    assert_eq!(kind, "malformed", "{message}");
    assert!(
        message.contains(&format!("no seccomp filter for {}", host.name())),
        "{message}"
    );
    assert_eq!(run.status, Some(126));

    // The other arch's program under this arch's name: the runtime cannot tell, but the
    // program's arch check can: the first syscall after the install kills the process.
    let run = probe_edited(|a| {
        let ring = a.rings.get_mut(&2).unwrap();
        let other = ring.seccomp[&foreign].clone();
        ring.seccomp.insert(host, other);
    });
    assert_eq!(
        run.signal,
        Some(SIGSYS),
        "a program for the other arch kills at its arch check: {}{}",
        run.stdout,
        run.stderr
    );

    // A program the decoder refuses (stats disagree): refused before anything is applied.
    let run = probe_edited(|a| {
        a.rings
            .get_mut(&2)
            .unwrap()
            .seccomp
            .get_mut(&host)
            .unwrap()
            .stats
            .length += 1;
    });
    let (kind, message) = run.apply_error.clone().expect("must refuse");
    assert_eq!(kind, "malformed", "{message}");

    // A program the kernel would refuse (a jump past the end): refused by the loader, as the
    // kernel's checker would, before Landlock is applied (it used to be found only by the
    // kernel, after Landlock was in force).
    let run = probe_edited(|a| {
        let bad = [
            Instruction {
                code: 0x05, // ja +5: past the end
                jt: 0,
                jf: 0,
                k: 5,
            },
            Instruction {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0x7fff_0000,
            },
        ];
        let slot = a.rings.get_mut(&2).unwrap().seccomp.get_mut(&host).unwrap();
        let stats = nonoc_runtime::artifact::SeccompStats {
            length: 2,
            ..slot.stats.clone()
        };
        *slot = SeccompFilter::new(&bad, stats);
    });
    let (kind, message) = run.apply_error.clone().expect("must refuse");
    assert_eq!(kind, "malformed", "{message}");
    assert!(message.contains("past the end of the program"), "{message}");
    assert!(!message.contains("partly confined"), "{message}");
    assert_eq!(run.status, Some(126));
    assert!(run.results.is_empty());
}

/// A ring that allows every syscall v1.1 does not deny in every confined ring, and an
/// unconfined ring for the baselines.
const OPEN: &str = r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: open
rings:
  0:
    unconfined: true
  1:
    filesystem:
      read: [/usr, /lib, /lib64, /etc, /proc]
    network:
      mode: allowed
      unix_connect: [/]
    process:
      fork: true
      ptrace: true
      signals: any
"#;

/// `op -> outcome` for each operation, in one ring of a policy (by name in `policies/`, or
/// YAML text), and the run.
fn outcomes(policy: &str, level: u8, ops: &[Op]) -> (Vec<String>, probe::ProbeRun) {
    let (name, yaml) = if policy.starts_with('\n') {
        ("inline".to_owned(), policy.to_owned())
    } else {
        let path = nonoc_tests::example_policies()
            .into_iter()
            .find(|p| p.ends_with(policy))
            .unwrap_or_else(|| panic!("no policy {policy}"));
        (policy.to_owned(), std::fs::read_to_string(path).unwrap())
    };
    let compiled = compile(&name, &yaml).unwrap_or_else(|e| panic!("{e}"));
    let tree = TempTree::new("seccomp-escape");
    let artifact = tree.artifact(&compiled.bytes);
    let mut args = args_for(&compiled, &tree, &artifact, level);
    args.allow_unconfined = true;
    let run = probe::run(PROBE, &args, ops);
    assert!(
        run.apply_error.is_none() && run.signal.is_none(),
        "{name} ring {level}:\n{}{}",
        run.stdout,
        run.stderr
    );
    let lines = run
        .results
        .iter()
        .map(|(op, o)| format!("{op} -> {o}"))
        .collect();
    (lines, run)
}

/// Issue 11, row 2: `ioctl(TIOCSTI)` on an inherited terminal typed into the caller's shell.
/// Every confined ring now refuses TIOCSTI and TIOCLINUX with EPERM, also with high bits set
/// above the `unsigned int` request (which the kernel drops); unconfined, the same calls on
/// the same pseudo-terminal go through.
fn terminal_injection() {
    let ops = [
        Op::TtyIoctl(TIOCSTI),
        Op::TtyIoctl(TIOCSTI | 1 << 32),
        Op::TtyIoctl(TIOCLINUX),
    ];
    let (base, _) = outcomes(OPEN, 0, &ops);
    assert_eq!(
        base[..2],
        ["tty-ioctl 21522 -> ok", "tty-ioctl 4294988818 -> ok"],
        "without a sandbox TIOCSTI must work here (root, dev.tty.legacy_tiocsti=1): {base:?}"
    );
    // TIOCLINUX is for consoles: a pseudo-terminal refuses it itself, which is not EPERM.
    assert!(
        base[2].ends_with("ENOTTY") || base[2].ends_with("EINVAL"),
        "{base:?}"
    );
    for (policy, level) in [
        ("agt-rings.yaml", 3),
        ("agt-rings.yaml", 2),
        ("agt-rings.yaml", 1),
        (OPEN, 1),
    ] {
        let (got, _) = outcomes(policy, level, &ops);
        assert_eq!(
            got,
            [
                "tty-ioctl 21522 -> EPERM",
                "tty-ioctl 4294988818 -> EPERM",
                "tty-ioctl 21532 -> EPERM",
            ],
            "ring {level}"
        );
    }
}

/// Issue 11, row 3: `prlimit64`, `setpriority`, `ioprio_set` and `sched_setaffinity` on a
/// process outside the sandbox. Under `signals: self` and `sandbox` each is refused with
/// EPERM and the process is unchanged; the forms that name the caller stay allowed; in a
/// `signals: any` ring the same calls change the process (so the refusal is the filter's).
fn other_processes() {
    let outsider = Outsider::start();
    assert_eq!(outsider.capabilities(), "0000000000000000");
    let before = outsider.core_limit_and_nice();
    let pid = outsider.pid();
    let parent = std::process::id();
    let ops = [
        Op::Prlimit(pid),
        Op::Setpriority(pid),
        Op::Ioprio(pid),
        Op::Affinity(pid),
        Op::Prlimit(parent),
        Op::Prlimit(0),
        Op::Setpriority(0),
        Op::Ioprio(0),
        Op::Affinity(0),
    ];
    for level in [3, 2] {
        let (got, _) = outcomes("agt-rings.yaml", level, &ops);
        let want = [
            format!("prlimit {pid} -> EPERM"),
            format!("setpriority {pid} -> EPERM"),
            format!("ioprio {pid} -> EPERM"),
            format!("affinity {pid} -> EPERM"),
            format!("prlimit {parent} -> EPERM"),
            "prlimit 0 -> ok".to_owned(),
            "setpriority 0 -> ok".to_owned(),
            "ioprio 0 -> ok".to_owned(),
            "affinity 0 -> ok".to_owned(),
        ];
        assert_eq!(got, want, "agt-rings ring {level}");
        assert_eq!(outsider.core_limit_and_nice(), before, "ring {level}");
    }
    assert_ne!(
        before,
        ("0 0".to_owned(), 19),
        "the outsider starts changed"
    );
    let (got, _) = outcomes(OPEN, 1, &ops[..2]);
    assert_eq!(
        got,
        [
            format!("prlimit {pid} -> ok"),
            format!("setpriority {pid} -> ok")
        ]
    );
    assert_eq!(outsider.core_limit_and_nice(), ("0 0".to_owned(), 19));
}

/// Issue 11, row 4: `listen()` on an unbound TCP socket binds an ephemeral port, which
/// Landlock does not check: a ring that may create TCP sockets but bind no port gets EPERM
/// for `listen()` on every socket (unix ones too: the filter cannot tell them apart). A
/// blocked ring creates no TCP socket and keeps `listen()` for unix ones; a ring with a
/// `bind_tcp` port or `mode: allowed` keeps it.
fn listen_without_bind() {
    const RESTRICTED_UNIX: &str = "
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: listen
rings:
  2:
    network: { mode: restricted, connect_tcp: [443], unix_connect: [/run] }
  3:
    network: { mode: blocked, unix_connect: [/run] }
";
    let ops = [Op::ListenTcp, Op::ListenUnix];
    let cases: [(&str, u8, [&str; 2]); 6] = [
        // agt ring 2: TCP sockets, no port to bind, no unix sockets.
        ("agt-rings.yaml", 2, ["EPERM", "EPERM"]),
        // agt ring 3: no TCP socket at all.
        ("agt-rings.yaml", 3, ["EPERM", "EPERM"]),
        // agt ring 1: `mode: allowed`, still no unix sockets.
        ("agt-rings.yaml", 1, ["ok", "EPERM"]),
        // TCP and unix sockets exist, listen() does not.
        (RESTRICTED_UNIX, 2, ["EPERM", "EPERM"]),
        (RESTRICTED_UNIX, 3, ["EPERM", "ok"]),
        (OPEN, 1, ["ok", "ok"]),
    ];
    for (policy, level, want) in cases {
        let (got, run) = outcomes(policy, level, &ops);
        let want: Vec<String> = ["listen-tcp", "listen-unix"]
            .iter()
            .zip(want)
            .map(|(op, o)| format!("{op} -> {o}"))
            .collect();
        assert_eq!(got, want, "ring {level}: {}", run.stdout);
    }
    // In agt ring 2 the refusal is listen()'s: the TCP socket itself may be created.
    let (got, _) = outcomes("agt-rings.yaml", 2, &[Op::Socket(AF_INET, SOCK_STREAM)]);
    assert_eq!(got, ["socket 2 1 -> ok"]);
}

/// Issue 11, row 5: a ring with `network: blocked` talked to a daemon through its unix
/// socket in a directory the ring has no rights on. Without a `unix_connect` grant no unix
/// socket can be created (EPERM); with one, Landlock ABI 7 cannot restrict the path, so the
/// ring reaches any socket, and the report says so.
fn unix_connect() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let daemon = TempTree::new_in(base, "unix-daemon");
    let socket = daemon.path("daemon.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket)
        .unwrap_or_else(|e| panic!("cannot listen on {socket}: {e}"));
    let ops = [Op::UnixConnect(socket.clone())];
    let (got, _) = outcomes(OPEN, 0, &ops);
    assert_eq!(got, [format!("unix-connect {socket} -> ok")], "baseline");
    for level in [3, 2, 1] {
        let (got, _) = outcomes("agt-rings.yaml", level, &ops);
        assert_eq!(
            got,
            [format!("unix-connect {socket} -> EPERM")],
            "agt ring {level}"
        );
    }
    // A grant elsewhere: the connect goes through, and the report says why.
    const ELSEWHERE: &str = "
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: unix-elsewhere
rings:
  3:
    network: { mode: blocked, unix_connect: [/run/nonoc-elsewhere] }
";
    let compiled = compile("unix-elsewhere", ELSEWHERE).unwrap_or_else(|e| panic!("{e}"));
    let tree = TempTree::new("seccomp-unix");
    let artifact = tree.artifact(&compiled.bytes);
    let args = args_for(&compiled, &tree, &artifact, 3);
    let probed = nonoc_tests::kernel::probe_ring(PROBE, &compiled.ir, &args, &ops);
    assert_eq!(
        probed.run.outcome(&ops[0]).to_string(),
        "ok",
        "{}",
        probed.run.stdout
    );
    let notes = probed.run.report().raw["not_enforced"].to_string();
    assert!(
        notes.contains("network.unix_connect is not enforced by path")
            && notes.contains("/run/nonoc-elsewhere"),
        "{notes}"
    );
    // `decide` denies the path; the oracle accepts the kernel's allow only as reported.
    assert!(probed.failures.is_empty(), "{:?}", probed.failures);
    assert!(!probed.judged[0].expected.decide && probed.judged[0].expected.difference.is_some());
}
