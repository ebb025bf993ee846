//! Kernel enforcement of the seccomp filter the runtime installs after Landlock: every
//! confined ring of every policy in `policies/` and of a syscall-heavy policy written here is
//! applied in a fresh `nonoc-probe` process, which makes syscalls the filter decides (fork,
//! threads, socket families, ptrace, process_vm_readv, io_uring, x32 numbers, user
//! namespaces); each answer, errno included, is compared with `decide` (see
//! `nonoc_tests::kernel::expect`). Then a foreign-arch call (killed), the report's stats, and
//! the runtime's refusals of a filter it cannot install.
//!
//! `harness = false`: without Landlock every test reports `skipped` (or `FAILED` with
//! `NONOC_REQUIRE_LANDLOCK=1`), never `ok`.

use std::collections::BTreeMap;
use std::process::{Command, ExitCode};

use nonoc_runtime::Artifact;
use nonoc_runtime::artifact::{Instruction, SeccompArch, SeccompFilter};
use nonoc_tests::kernel::runner::{self, Test};
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

fn main() -> ExitCode {
    let mut tests = vec![
        Test {
            name: "every_ring_matches_decide_on_syscalls",
            needs_abi: 1,
            run: every_ring_of_every_policy,
        },
        Test {
            name: "per_rule_actions_and_argument_checks",
            needs_abi: 1,
            run: per_rule_actions,
        },
        Test {
            name: "the_report_carries_the_installed_filter_stats",
            needs_abi: 1,
            run: report_stats,
        },
        Test {
            name: "a_filter_the_runtime_cannot_install_is_refused",
            needs_abi: 1,
            run: refusals,
        },
    ];
    // The i386 entry (`int 0x80`) exists on x86_64 only: elsewhere there is no such test, rather
    // than one that passes without probing.
    if cfg!(target_arch = "x86_64") {
        tests.push(Test {
            name: "a_foreign_arch_call_kills_the_process",
            needs_abi: 1,
            run: foreign_arch_killed,
        });
    }
    runner::run(&tests)
}

/// The syscall operations, `unshare-user` last (it changes the probe's credentials).
fn syscall_ops() -> Vec<Op> {
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
    ];
    if cfg!(target_arch = "x86_64") {
        ops.push(Op::X32(GETPID));
    }
    ops.push(Op::UnshareUser);
    ops
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
    let ops = syscall_ops();
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
    process:
      fork: true
      ptrace: true
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
