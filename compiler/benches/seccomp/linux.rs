#![expect(clippy::unwrap_used, reason = "a benchmark aborts on any failure")]

//! The seccomp code generator beside seccompiler 0.5's linear chain, for one policy
//! (issue goals for it: length <= 70, worst case <= 12 instructions executed, kernel load
//! time < 30 µs).
//!
//! `cargo bench -p nonoc --bench seccomp`. The policy is `../container-runtime.yaml`: the
//! container-runtime allowlist of the `container` test in `tests/tests/seccomp.rs`
//! (309 syscalls on x86_64, default deny with EPERM, `socket` denied for AF_PACKET on the low
//! 32 bits). seccompiler gets the same allowlist, the AF_PACKET rule as a `Dword` condition on
//! argument 0, and the deny action as its mismatch action; before anything is measured both
//! programs must give the same answer in the interpreter for every number tried.
//!
//! Static numbers come from the compiler's BPF interpreter, the same computation for both
//! programs: worst case over every syscall number 0..1024, x32 numbers, numbers up to
//! `u32::MAX` and a foreign arch (for a path that reads arguments, its longest continuation);
//! mean over the arch's syscall table; how many syscalls of the table the kernel's action cache
//! allows without running the filter.
//!
//! Load time: filters stack and cannot be removed, so the bench re-runs its own executable
//! with `NONOC_BENCH_SECCOMP_CHILD` set to the program to install; the child builds it, then
//! times each of a few `seccompiler::apply_filter` calls (each sets no_new_privs with `prctl`,
//! then calls `seccomp(2)`) with `Instant` and prints the nanoseconds. The goal is judged on
//! the first install of each process, which is what the runtime does; later installs in the
//! same process run warm kernel code and are faster. A one-instruction `ret allow` filter is
//! timed the same way, for the fixed cost of the call, and two programs as long as ours that
//! allow everything, one whose every path is 2 instructions and one whose every path runs
//! all of them: the kernel emulates the filter for each syscall number when it attaches it
//! (its action cache), and these separate what the length costs from what the paths cost.
//! Nothing here asserts a time: the numbers are printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use nonoc::backend::seccomp::{
    self, Instruction, SECCOMP_RET_ALLOW, SeccompData, X32_SYSCALL_BIT, op,
};
use nonoc::data::{self, Arch, ArgKind};
use nonoc::ir::{ArgOp, Ring, SyscallAction};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Fresh processes per program.
const CHILDREN: usize = 100;
/// Installs per child: seccompiler's program is about 1,600 instructions, and the kernel
/// refuses a stack of filters longer than 32,768 instructions (4 more per filter).
const INSTALLS: usize = 5;
const CHILD_ENV: &str = "NONOC_BENCH_SECCOMP_CHILD";
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// High bits on an `int` argument, which the kernel ignores.
const HIGH: u64 = 0xdead_beef_0000_0000;

const GOAL_LENGTH: usize = 70;
const GOAL_WORST: usize = 12;
const GOAL_LOAD_US: f64 = 30.0;

pub fn main() {
    if let Ok(which) = std::env::var(CHILD_ENV) {
        child(&which);
        return;
    }
    let ring = policy();
    let allowed = Arch::ALL.map(|arch| {
        ring.syscalls
            .allow
            .iter()
            .filter(|n| data::syscall(arch, n).is_some())
            .count()
    });
    println!(
        "policy: compiler/benches/container-runtime.yaml, ring 1: {} syscalls allowed on x86_64, {} on aarch64, default errno EPERM, socket(AF_PACKET) denied on the low 32 bits",
        allowed[0], allowed[1]
    );
    let mut rows = Vec::new();
    for arch in Arch::ALL {
        let program = seccomp::lower(&ring, arch).unwrap();
        let ours = measure(&program.instructions, arch);
        let s = &program.stats;
        if (ours.length, ours.worst, ours.cache_allowed)
            != (s.length, s.worst_case, s.cache_allowed)
            || (ours.mean - s.mean).abs() > 1e-9
        {
            println!(
                "note: the bench's measure of our {} program differs from its stats: {ours:?} vs {s:?}",
                arch.name()
            );
        }
        let theirs_program = theirs(&ring, arch);
        agree(&program.instructions, &theirs_program, arch);
        let theirs = measure(&theirs_program, arch);
        rows.push((arch, ours, theirs));
    }
    println!();
    println!("| arch | program | length | worst case executed | mean executed | cache-allowed |");
    println!("|---|---|---|---|---|---|");
    for (arch, ours, theirs) in &rows {
        for (name, m) in [("nonoc", ours), ("seccompiler 0.5", theirs)] {
            println!(
                "| {} | {name} | {} | {} | {:.2} | {} of {} |",
                arch.name(),
                m.length,
                m.worst,
                m.mean,
                m.cache_allowed,
                m.syscalls
            );
        }
    }
    println!();
    let host = Arch::host();
    let (_, ours, theirs) = rows.iter().find(|(a, _, _)| *a == host).unwrap();
    let Some(load) = load_times() else {
        println!("seccomp(2) unavailable here: no load times");
        return;
    };
    println!(
        "kernel load, {} (seccompiler::apply_filter: prctl(NO_NEW_PRIVS) + seccomp(2)), {CHILDREN} fresh processes x {INSTALLS} installs each:",
        host.name()
    );
    println!(
        "| program | length | first install of a process: median µs | p90 µs | every install: median µs | p90 µs |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, length, l) in [
        ("nonoc", ours.length, &load.ours),
        ("seccompiler 0.5", theirs.length, &load.theirs),
        ("`ret allow` (fixed cost)", 1, &load.minimal),
        (
            "allow all, ours' length: `ja` to the `ret` (cache emulation: 2 per number)",
            ours.length,
            &load.jump,
        ),
        (
            "allow all, ours' length: loads of `nr` (cache emulation: all per number)",
            ours.length,
            &load.loads,
        ),
    ] {
        println!(
            "| {name} | {length} | {:.1} | {:.1} | {:.1} | {:.1} |",
            l.first.median, l.first.p90, l.all.median, l.all.p90
        );
    }
    println!();
    println!("issue goals ({}):", host.name());
    let verdict = |ok: bool| if ok { "pass" } else { "FAIL" };
    println!(
        "  length <= {GOAL_LENGTH}: {} ({}; seccompiler {})",
        verdict(ours.length <= GOAL_LENGTH),
        ours.length,
        theirs.length
    );
    println!(
        "  worst case <= {GOAL_WORST}: {} ({}; seccompiler {})",
        verdict(ours.worst <= GOAL_WORST),
        ours.worst,
        theirs.worst
    );
    println!(
        "  load < {GOAL_LOAD_US} µs (median, first install of a process): {} ({:.1} µs; seccompiler {:.1} µs)",
        verdict(load.ours.first.median < GOAL_LOAD_US),
        load.ours.first.median,
        load.theirs.first.median
    );
}

fn policy() -> Ring {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/container-runtime.yaml");
    let bytes = std::fs::read(&path).unwrap();
    let analysis = nonoc::analyze("container-runtime.yaml", &bytes);
    assert!(
        !analysis.diagnostics.iter().any(|d| d.is_error()),
        "container-runtime.yaml has errors"
    );
    analysis.ir.unwrap().rings.remove(&1).unwrap()
}

fn sc_action(a: SyscallAction) -> SeccompAction {
    match a {
        SyscallAction::Allow => SeccompAction::Allow,
        SyscallAction::Errno(n) => SeccompAction::Errno(u32::from(n)),
        SyscallAction::KillProcess => SeccompAction::KillProcess,
        SyscallAction::Log => SeccompAction::Log,
        SyscallAction::Trap => SeccompAction::Trap,
    }
}

/// seccompiler's program for the ring: the allowlist as unconditional rules, and each deny
/// rule on an allowed syscall (here `socket` with `arg0 == AF_PACKET`) as the negated
/// condition on that syscall; the mismatch action is the ring's deny action.
fn theirs(ring: &Ring, arch: Arch) -> Vec<Instruction> {
    assert!(
        !ring.syscalls.default_allow,
        "the bench expects an allowlist"
    );
    let mut rules: BTreeMap<i64, Vec<SeccompCondition>> = BTreeMap::new();
    for name in &ring.syscalls.allow {
        if let Some(s) = data::syscall(arch, name) {
            rules.insert(i64::from(s.number), Vec::new());
        }
    }
    for rule in &ring.syscalls.deny {
        let Some(s) = data::syscall(arch, &rule.name) else {
            continue;
        };
        let Some(entry) = rules.get_mut(&i64::from(s.number)) else {
            // Not allowed: the deny action applies whatever the arguments.
            continue;
        };
        // The call is allowed when no rule matches: one seccompiler rule whose conditions
        // (all must hold) are the negations of each deny rule's one condition.
        assert_eq!(rule.action, ring.syscalls.deny_action, "two actions only");
        assert_eq!(rule.args.len(), 1, "{}: one condition per rule", rule.name);
        let c = &rule.args[0];
        assert_eq!(
            c.op,
            ArgOp::Eq,
            "{}: only `eq` rules are translated",
            rule.name
        );
        let width = match s.args.get(usize::from(c.index)) {
            Some(ArgKind::Int) => SeccompCmpArgLen::Dword,
            _ => SeccompCmpArgLen::Qword,
        };
        entry.push(SeccompCondition::new(c.index, width, SeccompCmpOp::Ne, c.value).unwrap());
    }
    let rules: BTreeMap<i64, Vec<SeccompRule>> = rules
        .into_iter()
        .map(|(nr, conditions)| {
            let rules = if conditions.is_empty() {
                Vec::new()
            } else {
                vec![SeccompRule::new(conditions).unwrap()]
            };
            (nr, rules)
        })
        .collect();
    let target = match arch {
        Arch::X86_64 => TargetArch::x86_64,
        Arch::Aarch64 => TargetArch::aarch64,
    };
    let filter = SeccompFilter::new(
        rules,
        sc_action(ring.syscalls.deny_action),
        SeccompAction::Allow,
        target,
    )
    .unwrap();
    let program = BpfProgram::try_from(filter).unwrap();
    program
        .iter()
        .map(|i| Instruction {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect()
}

/// Syscall numbers tried: 0..1024 (the tables end at 450), x32 numbers and the top of the
/// range.
fn numbers(arch: Arch) -> Vec<u32> {
    let mut out: Vec<u32> = (0..1024).collect();
    out.extend(
        data::syscalls(arch)
            .iter()
            .map(|s| s.number | X32_SYSCALL_BIT),
    );
    out.extend([
        X32_SYSCALL_BIT,
        0x7fff_ffff,
        0x8000_0000,
        u32::MAX - 1,
        u32::MAX,
    ]);
    out
}

/// Both programs answer the same for every number tried, and for `socket` with the rule's
/// value, other values, and high bits set: the comparison is like for like.
fn agree(ours: &[Instruction], theirs: &[Instruction], arch: Arch) {
    let audit = arch.audit_arch();
    let socket = data::syscall(arch, "socket").unwrap().number;
    let mut vectors = vec![[0u64; 6], [u64::MAX; 6]];
    for a0 in [1u64, 2, 10, 16, 17, 17 | HIGH, 18] {
        vectors.push([a0, 0, 0, 0, 0, 0]);
    }
    for nr in numbers(arch) {
        for args in &vectors {
            if nr != socket && args[0] != 0 && args[0] != u64::MAX {
                continue;
            }
            let d = SeccompData {
                nr,
                arch: audit,
                args: *args,
            };
            let o = seccomp::run(ours, &d).unwrap().ret;
            let t = seccomp::run(theirs, &d).unwrap().ret;
            assert_eq!(o, t, "{} nr {nr:#x} args {args:x?}", arch.name());
        }
    }
    let d = SeccompData {
        nr: 0,
        arch: AUDIT_ARCH_I386,
        args: [0; 6],
    };
    assert_eq!(
        seccomp::run(ours, &d).unwrap().ret,
        seccomp::run(theirs, &d).unwrap().ret
    );
}

#[derive(Debug, Clone, Copy)]
struct Measured {
    length: usize,
    worst: usize,
    mean: f64,
    syscalls: usize,
    cache_allowed: usize,
}

fn measure(insns: &[Instruction], arch: Arch) -> Measured {
    seccomp::validate(insns).unwrap();
    let audit = arch.audit_arch();
    let mut worst = seccomp::worst_path(insns, 0, AUDIT_ARCH_I386).unwrap();
    for nr in numbers(arch) {
        worst = worst.max(seccomp::worst_path(insns, nr, audit).unwrap());
    }
    let table = data::syscalls(arch);
    let mut total = 0;
    let mut cache_allowed = 0;
    for s in table {
        total += seccomp::worst_path(insns, s.number, audit).unwrap();
        if seccomp::is_const_allow(insns, s.number, audit) {
            cache_allowed += 1;
        }
    }
    Measured {
        length: insns.len(),
        worst,
        mean: total as f64 / table.len() as f64,
        syscalls: table.len(),
        cache_allowed,
    }
}

const RET_ALLOW: Instruction = Instruction {
    code: op::RET_K,
    jt: 0,
    jf: 0,
    k: SECCOMP_RET_ALLOW,
};
const LOAD_NR: Instruction = Instruction {
    code: op::LD_W_ABS,
    jt: 0,
    jf: 0,
    k: 0,
};

/// The program a child installs: `ours`, `theirs`, `minimal` (`ret allow`), or one of two
/// programs as long as ours that allow everything: `jump` (a `ja` over loads to the `ret`:
/// the kernel's cache emulation runs 2 instructions per syscall number) and `loads` (loads
/// of `nr` all the way: it runs all of them).
fn program_for(which: &str) -> Vec<Instruction> {
    let arch = Arch::host();
    let ours = || seccomp::lower(&policy(), arch).unwrap().instructions;
    match which {
        "ours" => ours(),
        "theirs" => theirs(&policy(), arch),
        "jump" => {
            let len = ours().len();
            let mut p = vec![Instruction {
                code: op::JA,
                jt: 0,
                jf: 0,
                k: u32::try_from(len - 2).unwrap(),
            }];
            p.extend(std::iter::repeat_n(LOAD_NR, len - 2));
            p.push(RET_ALLOW);
            p
        }
        "loads" => {
            let mut p = vec![LOAD_NR; ours().len() - 1];
            p.push(RET_ALLOW);
            p
        }
        _ => vec![RET_ALLOW],
    }
}

/// Installs the program `INSTALLS` times, timing each install, and prints the nanoseconds
/// (after the last install: the filter allows `write`).
fn child(which: &str) {
    let program: BpfProgram = program_for(which)
        .iter()
        .map(|i| seccompiler::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let mut times = Vec::with_capacity(INSTALLS);
    for _ in 0..INSTALLS {
        let start = Instant::now();
        let result = seccompiler::apply_filter(&program);
        let elapsed = start.elapsed();
        result.unwrap();
        times.push(elapsed.as_nanos().to_string());
    }
    println!("{}", times.join(" "));
}

#[derive(Debug)]
struct Spread {
    median: f64,
    p90: f64,
}

impl Spread {
    fn of(v: &[f64]) -> Spread {
        Spread {
            median: percentile(v, 0.5),
            p90: percentile(v, 0.9),
        }
    }
}

/// Microseconds per install: the first of each process (what the runtime does once), and
/// every install (later ones run warm kernel code).
#[derive(Debug)]
struct Load {
    first: Spread,
    all: Spread,
}

struct Loads {
    ours: Load,
    theirs: Load,
    minimal: Load,
    jump: Load,
    loads: Load,
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Runs the children, alternating the three programs so the machine's drift hits each alike.
fn load_times() -> Option<Loads> {
    let me = std::env::current_exe().unwrap();
    let names = ["ours", "theirs", "minimal", "jump", "loads"];
    let mut all: [Vec<f64>; 5] = Default::default();
    let mut first: [Vec<f64>; 5] = Default::default();
    for round in 0..CHILDREN {
        for k in 0..names.len() {
            let i = (round + k) % names.len();
            let out = Command::new(&me).env(CHILD_ENV, names[i]).output().unwrap();
            if !out.status.success() {
                println!(
                    "child installing {} failed: {}",
                    names[i],
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                return None;
            }
            let us: Vec<f64> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(|t| t.parse::<f64>().unwrap() / 1000.0)
                .collect();
            assert_eq!(us.len(), INSTALLS);
            first[i].push(us[0]);
            all[i].extend(us);
        }
    }
    let load = |i: usize| Load {
        first: Spread::of(&first[i]),
        all: Spread::of(&all[i]),
    };
    Some(Loads {
        ours: load(0),
        theirs: load(1),
        minimal: load(2),
        jump: load(3),
        loads: load(4),
    })
}
