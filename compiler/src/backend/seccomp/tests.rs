//! Unit tests of the generator: each condition operator against `ArgCondition::holds` on
//! edge values, jump trampolines, the length limit, and the interpreter's checks. The
//! policy-wide proof against `decide` is in `tests/tests/seccomp.rs`.

use super::*;
use crate::ir::{ArgCondition, ArgOp, Origin, Ring, SyscallRule};

const OPS: [ArgOp; 10] = [
    ArgOp::Eq,
    ArgOp::Ne,
    ArgOp::Lt,
    ArgOp::Le,
    ArgOp::Gt,
    ArgOp::Ge,
    ArgOp::MaskedEq,
    ArgOp::MaskedNe,
    ArgOp::AnyBits,
    ArgOp::AllBits,
];

fn origin(line: usize) -> Origin {
    Origin {
        line,
        column: 1,
        offset: 0,
        len: 0,
        scope: "test".to_owned(),
        text: String::new(),
    }
}

fn ring(default_allow: bool, deny: Vec<SyscallRule>) -> Ring {
    let yaml = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {name: t}\nrings:\n  1:\n    network: {mode: allowed}\n    process: {fork: true, ptrace: true}\n";
    let analysis = crate::analyze("t.yaml", yaml.as_bytes());
    let mut ring = analysis.ir.unwrap().rings.remove(&1).unwrap();
    ring.syscalls.default_allow = default_allow;
    ring.syscalls.deny_action = SyscallAction::Errno(1);
    ring.syscalls.x32_action = SyscallAction::Errno(1);
    ring.syscalls.deny = deny;
    ring
}

fn rule(name: &str, args: Vec<ArgCondition>, action: SyscallAction, line: usize) -> SyscallRule {
    SyscallRule {
        name: name.to_owned(),
        args,
        action,
        origin: origin(line),
        implied: false,
    }
}

fn call(arch: Arch, name: &str, args: [u64; 6]) -> SeccompData {
    SeccompData {
        nr: data::syscall(arch, name).unwrap().number,
        arch: arch.audit_arch(),
        args,
    }
}

fn edges(v: u64) -> Vec<u64> {
    let mut out = vec![
        0,
        1,
        u64::MAX,
        u64::MAX - 1,
        0xffff_ffff,
        0x1_0000_0000,
        0x8000_0000,
        0x7fff_ffff,
        0xffff_ffff_0000_0000,
    ];
    for d in [0u64, 1, 2] {
        out.push(v.wrapping_add(d));
        out.push(v.wrapping_sub(d));
        out.push(v ^ (1 << 32));
        out.push(v ^ 0xffff_ffff_0000_0000);
        out.push(v.wrapping_add(d << 32));
        out.push(v.wrapping_sub(d << 32));
    }
    out
}

/// Every operator on a 64-bit argument (`mmap`'s length) and an `int` one (`socket`'s
/// domain), against `holds` on the value the kernel compares.
#[test]
fn conditions_match_holds_on_edge_values() {
    let values = [
        0u64,
        1,
        17,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0011,
        0x8000_0000_0000_0000,
        u64::MAX,
        0x0000_0001_ffff_fffe,
        0x0f0f,
    ];
    let masks = [u64::MAX, 0xff, 0xffff_0000_0000_00ff, 0, 0x1_0000_0000];
    for arch in Arch::ALL {
        for op in OPS {
            for &value in &values {
                for &mask in &masks {
                    for (name, index, int) in [("mmap", 1u8, false), ("socket", 0u8, true)] {
                        let cond = ArgCondition {
                            index,
                            op,
                            value,
                            mask: matches!(op, ArgOp::MaskedEq | ArgOp::MaskedNe).then_some(mask),
                        };
                        let r = ring(
                            true,
                            vec![rule(name, vec![cond.clone()], SyscallAction::Trap, 1)],
                        );
                        let p = lower(&r, arch).unwrap();
                        for arg in edges(value).into_iter().chain(edges(mask)) {
                            let mut args = [0u64; 6];
                            args[usize::from(index)] = arg;
                            let seen = if int { arg & 0xffff_ffff } else { arg };
                            let want = if cond.holds(seen) {
                                SECCOMP_RET_TRAP
                            } else {
                                SECCOMP_RET_ALLOW
                            };
                            let got = run(&p.instructions, &call(arch, name, args)).unwrap();
                            assert_eq!(
                                got.ret,
                                want,
                                "{} {name} {cond:?} arg {arg:#x}\n{}",
                                arch.name(),
                                disassemble(&p)
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn strictest_matching_rule_wins_and_ties_go_to_the_earliest_origin() {
    let eq = |v| ArgCondition {
        index: 0,
        op: ArgOp::Eq,
        value: v,
        mask: None,
    };
    let r = ring(
        true,
        vec![
            rule("kill", vec![], SyscallAction::Log, 5),
            rule("kill", vec![eq(1)], SyscallAction::Errno(38), 4),
            rule("kill", vec![eq(1)], SyscallAction::Errno(13), 3),
            rule("kill", vec![eq(2)], SyscallAction::KillProcess, 9),
            rule("kill", vec![eq(3)], SyscallAction::Trap, 9),
        ],
    );
    let p = lower(&r, Arch::X86_64).unwrap();
    let ret = |a0| simulate(&p, &call(Arch::X86_64, "kill", [a0, 0, 0, 0, 0, 0]));
    assert_eq!(ret(0), SECCOMP_RET_LOG);
    assert_eq!(ret(1), SECCOMP_RET_ERRNO | 13);
    assert_eq!(ret(2), SECCOMP_RET_KILL_PROCESS);
    assert_eq!(ret(3), SECCOMP_RET_TRAP);
    assert!(SyscallAction::Trap.strictness() > SyscallAction::Errno(1).strictness());
}

#[test]
fn shape_arch_check_x32_and_unknown_numbers() {
    let r = ring(
        true,
        vec![rule("ptrace", vec![], SyscallAction::KillProcess, 1)],
    );
    let p = lower(&r, Arch::X86_64).unwrap();
    let d = |nr, arch| SeccompData {
        nr,
        arch,
        args: [0; 6],
    };
    let x86 = Arch::X86_64.audit_arch();
    assert_eq!(simulate(&p, &d(101, x86)), SECCOMP_RET_KILL_PROCESS);
    assert_eq!(simulate(&p, &d(0, x86)), SECCOMP_RET_ALLOW);
    assert_eq!(simulate(&p, &d(1000, x86)), SECCOMP_RET_ALLOW);
    assert_eq!(
        simulate(&p, &d(X32_SYSCALL_BIT, x86)),
        SECCOMP_RET_ERRNO | 1
    );
    assert_eq!(simulate(&p, &d(u32::MAX, x86)), SECCOMP_RET_ERRNO | 1);
    assert_eq!(
        simulate(&p, &d(0, Arch::Aarch64.audit_arch())),
        SECCOMP_RET_KILL_PROCESS
    );
    assert_eq!(p.instructions[0].code, op::LD_W_ABS);
    assert_eq!(p.instructions[0].k, OFFSET_ARCH);
    let q = lower(&r, Arch::Aarch64).unwrap();
    let arm = Arch::Aarch64.audit_arch();
    assert_eq!(simulate(&q, &d(X32_SYSCALL_BIT, arm)), SECCOMP_RET_ALLOW);
    assert_eq!(simulate(&q, &d(117, arm)), SECCOMP_RET_KILL_PROCESS);
    assert_eq!(simulate(&q, &d(117, x86)), SECCOMP_RET_KILL_PROCESS);
}

#[test]
fn unconfined_rings_have_no_filter() {
    let mut r = ring(true, Vec::new());
    r.unconfined = true;
    assert_eq!(
        lower(&r, Arch::X86_64),
        Err(LowerError::Unconfined(r.level))
    );
}

/// Many rules on one syscall push the fallback and early `ret`s past 255 instructions:
/// trampolines keep every jump in range, and the program still answers right.
#[test]
fn long_jumps_go_through_trampolines() {
    let rules: Vec<SyscallRule> = (0..300u64)
        .map(|i| {
            rule(
                "ioctl",
                vec![ArgCondition {
                    index: 1,
                    op: ArgOp::Eq,
                    value: 0x5400 + i,
                    mask: None,
                }],
                if i % 2 == 0 {
                    SyscallAction::Errno(1)
                } else {
                    SyscallAction::Trap
                },
                1,
            )
        })
        .collect();
    let mut rules = rules;
    // 64-bit comparisons on mmap's length: a leaf long enough that the search tree jumps
    // over it through a trampoline.
    rules.extend((0..200u64).map(|i| {
        rule(
            "mmap",
            vec![ArgCondition {
                index: 1,
                op: ArgOp::Eq,
                value: (i << 32) | 7,
                mask: None,
            }],
            SyscallAction::Trap,
            2,
        )
    }));
    let r = ring(true, rules);
    let p = lower(&r, Arch::X86_64).unwrap();
    validate(&p.instructions).unwrap();
    assert!(p.instructions.iter().any(|i| i.code == op::JA));
    for i in 0..201u64 {
        let got = simulate(
            &p,
            &call(Arch::X86_64, "mmap", [0, (i << 32) | 7, 0, 0, 0, 0]),
        );
        let want = if i < 200 {
            SECCOMP_RET_TRAP
        } else {
            SECCOMP_RET_ALLOW
        };
        assert_eq!(got, want, "mmap {i}");
        let got = simulate(&p, &call(Arch::X86_64, "mmap", [0, i << 32, 0, 0, 0, 0]));
        assert_eq!(got, SECCOMP_RET_ALLOW, "mmap {i} without the low bits");
    }
    for i in 0..310u64 {
        let got = simulate(
            &p,
            &call(Arch::X86_64, "ioctl", [3, 0x5400 + i, 0, 0, 0, 0]),
        );
        let want = match i {
            300.. => SECCOMP_RET_ALLOW,
            i if i % 2 == 0 => SECCOMP_RET_ERRNO | 1,
            _ => SECCOMP_RET_TRAP,
        };
        assert_eq!(got, want, "ioctl {i}");
    }
    assert_eq!(
        simulate(&p, &call(Arch::X86_64, "read", [0; 6])),
        SECCOMP_RET_ALLOW
    );
}

#[test]
fn too_long_is_an_error_with_the_length() {
    let rules: Vec<SyscallRule> = (0..3000u64)
        .map(|i| {
            rule(
                "mmap",
                vec![ArgCondition {
                    index: 1,
                    op: ArgOp::Eq,
                    value: 0x1_0000_0000 + i,
                    mask: None,
                }],
                SyscallAction::KillProcess,
                1,
            )
        })
        .collect();
    let r = ring(true, rules);
    match lower(&r, Arch::X86_64) {
        Err(LowerError::TooLong { length, arch, .. }) => {
            assert!(length > MAX_INSTRUCTIONS, "{length}");
            assert_eq!(arch, Arch::X86_64);
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
}

#[test]
fn interpreter_checks_bounds() {
    let ret = Instruction {
        code: op::RET_K,
        jt: 0,
        jf: 0,
        k: SECCOMP_RET_ALLOW,
    };
    let ld = |k| Instruction {
        code: op::LD_W_ABS,
        jt: 0,
        jf: 0,
        k,
    };
    let d = SeccompData::default();
    assert_eq!(validate(&[]), Err(SimError::Empty));
    assert_eq!(validate(&[ld(0)]), Err(SimError::NoFinalReturn));
    assert_eq!(
        validate(&[ld(64), ret]),
        Err(SimError::BadLoad { pc: 0, k: 64 })
    );
    assert_eq!(
        validate(&[ld(2), ret]),
        Err(SimError::BadLoad { pc: 0, k: 2 })
    );
    let far = Instruction {
        code: op::JEQ_K,
        jt: 5,
        jf: 0,
        k: 0,
    };
    assert_eq!(
        validate(&[far, ret]),
        Err(SimError::JumpOutOfRange { pc: 0 })
    );
    assert_eq!(
        run(&[far, ret], &d),
        Err(SimError::JumpOutOfRange { pc: 0 })
    );
    assert_eq!(run(&[ld(0)], &d), Err(SimError::RanOff));
    let bad = Instruction {
        code: 0x07,
        jt: 0,
        jf: 0,
        k: 0,
    };
    assert_eq!(
        run(&[bad, ret], &d),
        Err(SimError::Unsupported { pc: 0, code: 0x07 })
    );
    assert_eq!(
        validate(&vec![ret; MAX_INSTRUCTIONS + 1]),
        Err(SimError::TooLong(4097))
    );
    assert_eq!(
        run(&[ld(16), ret], &d),
        Ok(Trace {
            ret: SECCOMP_RET_ALLOW,
            executed: 2
        })
    );
    let args = SeccompData {
        nr: 1,
        arch: 2,
        args: [0x1111_2222_3333_4444, 0, 0, 0, 0, 0x5555_6666_7777_8888],
    };
    assert_eq!(args.word(16), Some(0x3333_4444));
    assert_eq!(args.word(20), Some(0x1111_2222));
    assert_eq!(args.word(56), Some(0x7777_8888));
    assert_eq!(args.word(60), Some(0x5555_6666));
    assert_eq!(args.word(64), None);
}

#[test]
fn bytes_are_little_endian_sock_filters() {
    let r = ring(true, Vec::new());
    let p = lower(&r, Arch::Aarch64).unwrap();
    let bytes = to_bytes(&p);
    assert_eq!(bytes.len(), p.instructions.len() * 8);
    // ld [4]
    assert_eq!(&bytes[..8], &[0x20, 0, 0, 0, 4, 0, 0, 0]);
    // jeq #AUDIT_ARCH_AARCH64
    assert_eq!(&bytes[8..10], &[0x15, 0]);
    assert_eq!(&bytes[12..16], &0xC000_00B7u32.to_le_bytes());
}
