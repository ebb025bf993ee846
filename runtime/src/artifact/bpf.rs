//! The kernel's checks of a seccomp classic-BPF program, made at load time: an artifact whose
//! program the kernel would refuse (or that could run off its end) is refused before anything
//! is applied, by `Artifact::load` and so by everything that loads an artifact.
//!
//! The rules are those of Linux's `bpf_check_classic` (net/core/filter.c: known opcodes,
//! no division by a zero constant, shifts below 32, scratch memory words below
//! `BPF_MEMWORDS` and written before they are read on every path, jumps inside the program,
//! a final return) and `seccomp_check_filter` (kernel/seccomp.c: the opcodes a seccomp filter
//! may use, and every absolute load a 32-bit aligned word inside `struct seccomp_data`).
//! Jumps only go forward, so with every jump in range and a return last, every path ends in
//! a return. On top of the kernel's rules, every constant return must be a seccomp action the
//! kernel knows (an unknown one would kill the process at the first system call).

use super::seccomp::{Instruction, MAX_INSTRUCTIONS};

/// `sizeof(struct seccomp_data)`: nr, arch, instruction_pointer, args[6].
pub const SECCOMP_DATA_BYTES: u32 = 64;

/// `BPF_MEMWORDS`: scratch memory words.
const MEMWORDS: u32 = 16;

// Instruction classes, sizes, modes, operations and sources of `linux/bpf_common.h`.
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const LEN: u16 = 0x80;
const MEM: u16 = 0x60;
const ADD: u16 = 0x00;
const SUB: u16 = 0x10;
const MUL: u16 = 0x20;
const DIV: u16 = 0x30;
const OR: u16 = 0x40;
const AND: u16 = 0x50;
const LSH: u16 = 0x60;
const RSH: u16 = 0x70;
const NEG: u16 = 0x80;
const XOR: u16 = 0xa0;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JGE: u16 = 0x30;
const JSET: u16 = 0x40;
const K: u16 = 0x00;
const X: u16 = 0x08;
const RET_A: u16 = 0x10;
const TAX: u16 = 0x00;
const TXA: u16 = 0x80;

/// `SECCOMP_RET_*` actions (the high 16 bits of a return value) the kernel knows.
const ACTIONS: [(u32, &str); 8] = [
    (0x8000_0000, "kill_process"),
    (0x0000_0000, "kill_thread"),
    (0x0003_0000, "trap"),
    (0x0005_0000, "errno"),
    (0x7fc0_0000, "user_notif"),
    (0x7ff0_0000, "trace"),
    (0x7ffc_0000, "log"),
    (0x7fff_0000, "allow"),
];

/// What an instruction is, for the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Falls through to the next instruction.
    Plain,
    /// `BPF_LD | BPF_W | BPF_ABS`: loads a word of `seccomp_data`.
    LoadAbs,
    /// Reads scratch word `k`.
    LoadMem,
    /// Writes scratch word `k`.
    Store,
    /// Division by the constant `k`.
    DivK,
    /// Shift by the constant `k`.
    ShiftK,
    Jump,
    CondJump,
    ReturnK,
    ReturnA,
}

/// The opcodes a seccomp filter may use (`seccomp_check_filter`, after `bpf_check_classic`'s
/// own list, of which it is a subset), or `None`. A `match` on constants: this runs for every
/// instruction of every filter at every load.
fn kind(code: u16) -> Option<Kind> {
    const LD_W_ABS: u16 = LD | W | ABS;
    const LD_W_LEN: u16 = LD | W | LEN;
    const LDX_W_LEN: u16 = LDX | W | LEN;
    const LD_IMM: u16 = LD | IMM;
    const LDX_IMM: u16 = LDX | IMM;
    const LD_MEM: u16 = LD | MEM;
    const LDX_MEM: u16 = LDX | MEM;
    const TAX_: u16 = MISC | TAX;
    const TXA_: u16 = MISC | TXA;
    const NEG_: u16 = ALU | NEG;
    const DIV_K: u16 = ALU | DIV | K;
    const LSH_K: u16 = ALU | LSH | K;
    const RSH_K: u16 = ALU | RSH | K;
    const ADD_K: u16 = ALU | ADD | K;
    const ADD_X: u16 = ALU | ADD | X;
    const SUB_K: u16 = ALU | SUB | K;
    const SUB_X: u16 = ALU | SUB | X;
    const MUL_K: u16 = ALU | MUL | K;
    const MUL_X: u16 = ALU | MUL | X;
    const DIV_X: u16 = ALU | DIV | X;
    const OR_K: u16 = ALU | OR | K;
    const OR_X: u16 = ALU | OR | X;
    const AND_K: u16 = ALU | AND | K;
    const AND_X: u16 = ALU | AND | X;
    const XOR_K: u16 = ALU | XOR | K;
    const XOR_X: u16 = ALU | XOR | X;
    const LSH_X: u16 = ALU | LSH | X;
    const RSH_X: u16 = ALU | RSH | X;
    const JA_: u16 = JMP | JA;
    const JEQ_K: u16 = JMP | JEQ | K;
    const JEQ_X: u16 = JMP | JEQ | X;
    const JGT_K: u16 = JMP | JGT | K;
    const JGT_X: u16 = JMP | JGT | X;
    const JGE_K: u16 = JMP | JGE | K;
    const JGE_X: u16 = JMP | JGE | X;
    const JSET_K: u16 = JMP | JSET | K;
    const JSET_X: u16 = JMP | JSET | X;
    const RET_K: u16 = RET | K;
    const RET_A_: u16 = RET | RET_A;
    let kind = match code {
        LD_W_ABS => Kind::LoadAbs,
        LD_MEM | LDX_MEM => Kind::LoadMem,
        ST | STX => Kind::Store,
        DIV_K => Kind::DivK,
        LSH_K | RSH_K => Kind::ShiftK,
        LD_W_LEN | LDX_W_LEN | LD_IMM | LDX_IMM | TAX_ | TXA_ | NEG_ | ADD_K | ADD_X | SUB_K
        | SUB_X | MUL_K | MUL_X | DIV_X | OR_K | OR_X | AND_K | AND_X | XOR_K | XOR_X | LSH_X
        | RSH_X => Kind::Plain,
        JA_ => Kind::Jump,
        JEQ_K | JEQ_X | JGT_K | JGT_X | JGE_K | JGE_X | JSET_K | JSET_X => Kind::CondJump,
        RET_K => Kind::ReturnK,
        RET_A_ => Kind::ReturnA,
        _ => return None,
    };
    Some(kind)
}

/// The action a constant return value stands for, when the kernel knows it.
pub fn action_name(value: u32) -> Option<&'static str> {
    ACTIONS
        .iter()
        .find(|(action, _)| value & 0xffff_0000 == *action)
        .map(|(_, name)| *name)
}

/// Checks a program as the kernel would before installing it; `Err` says what is wrong and
/// where (`instruction N` counts from 0).
pub fn check(program: &[Instruction]) -> Result<(), String> {
    let len = program.len();
    if len == 0 || len > MAX_INSTRUCTIONS {
        return Err(format!(
            "the program has {len} instructions; the kernel takes 1 to {MAX_INSTRUCTIONS}"
        ));
    }
    for (pc, insn) in program.iter().enumerate() {
        let at = |what: String| format!("instruction {pc} ({:#06x}): {what}", insn.code);
        let Some(kind) = kind(insn.code) else {
            return Err(at(
                "an opcode the kernel does not take in a seccomp filter".into()
            ));
        };
        // Instructions after this one; a jump may skip at most all but the last of them.
        let after = len - pc - 1;
        match kind {
            Kind::LoadAbs if insn.k >= SECCOMP_DATA_BYTES || insn.k % 4 != 0 => {
                return Err(at(format!(
                    "loads offset {}, not an aligned word inside the {SECCOMP_DATA_BYTES}-byte seccomp_data",
                    insn.k
                )));
            }
            Kind::LoadMem | Kind::Store if insn.k >= MEMWORDS => {
                return Err(at(format!(
                    "scratch word {} does not exist (there are {MEMWORDS})",
                    insn.k
                )));
            }
            Kind::DivK if insn.k == 0 => return Err(at("divides by zero".into())),
            Kind::ShiftK if insn.k >= 32 => {
                return Err(at(format!("shifts by {} bits", insn.k)));
            }
            Kind::Jump if usize::try_from(insn.k).map_or(true, |k| k >= after) => {
                return Err(at(format!(
                    "jumps {} instructions ahead, past the end of the program",
                    insn.k
                )));
            }
            Kind::CondJump if usize::from(insn.jt.max(insn.jf)) >= after => {
                return Err(at(format!(
                    "jumps {} instructions ahead, past the end of the program",
                    insn.jt.max(insn.jf)
                )));
            }
            Kind::ReturnK if action_name(insn.k).is_none() => {
                return Err(at(format!(
                    "returns {:#010x}, which is no seccomp action",
                    insn.k
                )));
            }
            _ => {}
        }
    }
    if !matches!(
        program.last().and_then(|i| kind(i.code)),
        Some(Kind::ReturnK | Kind::ReturnA)
    ) {
        return Err("the program does not end with a return".to_owned());
    }
    check_scratch_memory(program)
}

/// The kernel's `check_load_and_stores`: a scratch word may be read only where every path to
/// the read has written it (the kernel's own conservative walk, reproduced exactly).
fn check_scratch_memory(program: &[Instruction]) -> Result<(), String> {
    if !program.iter().any(|i| kind(i.code) == Some(Kind::LoadMem)) {
        return Ok(());
    }
    let mut masks = vec![u16::MAX; program.len()];
    let mut valid: u16 = 0;
    for (pc, insn) in program.iter().enumerate() {
        valid &= masks[pc];
        // In range: `check` has checked every offset and index.
        let word = 1u16 << (insn.k % MEMWORDS);
        match kind(insn.code) {
            Some(Kind::Store) => valid |= word,
            Some(Kind::LoadMem) if valid & word == 0 => {
                return Err(format!(
                    "instruction {pc} ({:#06x}): reads scratch word {} before every path has written it",
                    insn.code, insn.k
                ));
            }
            Some(Kind::Jump) => {
                let target = pc + 1 + insn.k as usize;
                if let Some(mask) = masks.get_mut(target) {
                    *mask &= valid;
                }
                valid = u16::MAX;
            }
            Some(Kind::CondJump) => {
                for off in [insn.jt, insn.jf] {
                    if let Some(mask) = masks.get_mut(pc + 1 + usize::from(off)) {
                        *mask &= valid;
                    }
                }
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Instruction {
        Instruction { code, jt, jf, k }
    }

    const LD_NR: Instruction = insn(0x20, 0, 0, 0);
    const RET_ALLOW: Instruction = insn(0x06, 0, 0, 0x7fff_0000);
    const RET_EPERM: Instruction = insn(0x06, 0, 0, 0x0005_0001);

    fn err(program: &[Instruction]) -> String {
        check(program).unwrap_err()
    }

    #[test]
    fn accepts_what_the_compiler_writes() {
        // Arch check, a jump, an argument check with a mask, three returns.
        let program = [
            insn(0x20, 0, 0, 4),
            insn(0x15, 1, 0, 0xc000_003e),
            insn(0x06, 0, 0, 0x8000_0000),
            LD_NR,
            insn(0x35, 0, 3, 400),
            insn(0x20, 0, 0, 16),
            insn(0x54, 0, 0, 0xff),
            insn(0x45, 1, 0, 1),
            RET_ALLOW,
            insn(0x05, 0, 0, 0),
            RET_EPERM,
        ];
        assert_eq!(check(&program), Ok(()));
    }

    #[test]
    fn refuses_jumps_out_of_the_program() {
        // The last instruction's successor is past the end.
        assert!(err(&[LD_NR, insn(0x15, 1, 0, 1), RET_ALLOW]).contains("past the end"));
        assert!(err(&[LD_NR, insn(0x15, 0, 1, 1), RET_ALLOW]).contains("past the end"));
        assert!(err(&[insn(0x05, 0, 0, 1), RET_ALLOW]).contains("past the end"));
        // A huge unconditional jump does not wrap around.
        assert!(err(&[insn(0x05, 0, 0, u32::MAX), RET_ALLOW]).contains("past the end"));
        // The furthest legal jump lands on the last instruction.
        assert_eq!(check(&[insn(0x15, 1, 0, 1), RET_EPERM, RET_ALLOW]), Ok(()));
        assert_eq!(check(&[insn(0x05, 0, 0, 1), RET_EPERM, RET_ALLOW]), Ok(()));
    }

    #[test]
    fn refuses_opcodes_a_seccomp_filter_cannot_use() {
        // LD H ABS, LD B ABS, LD W IND (packet loads), LDX MSH, ALU MOD, an unused code.
        for code in [0x28, 0x30, 0x40, 0xb1, 0x94, 0xff, 0x0d] {
            assert!(
                err(&[insn(code, 0, 0, 0), RET_ALLOW]).contains("opcode"),
                "{code:#x}"
            );
        }
    }

    #[test]
    fn loads_stay_in_seccomp_data() {
        assert!(err(&[insn(0x20, 0, 0, 64), RET_ALLOW]).contains("seccomp_data"));
        assert!(err(&[insn(0x20, 0, 0, 2), RET_ALLOW]).contains("aligned"));
        assert_eq!(check(&[insn(0x20, 0, 0, 60), RET_ALLOW]), Ok(()));
    }

    #[test]
    fn arithmetic_and_memory_limits() {
        assert!(err(&[insn(0x34, 0, 0, 0), RET_ALLOW]).contains("zero"));
        assert!(err(&[insn(0x64, 0, 0, 32), RET_ALLOW]).contains("shifts"));
        assert!(err(&[insn(0x02, 0, 0, 16), RET_ALLOW]).contains("scratch word 16"));
        // A read of a word no path wrote, then one that the path wrote.
        assert!(err(&[insn(0x60, 0, 0, 3), RET_ALLOW]).contains("before"));
        assert_eq!(
            check(&[insn(0x02, 0, 0, 3), insn(0x60, 0, 0, 3), RET_ALLOW]),
            Ok(())
        );
        // Written on one branch only.
        let one_branch = [
            LD_NR,
            insn(0x15, 0, 1, 1),
            insn(0x02, 0, 0, 3),
            insn(0x60, 0, 0, 3),
            RET_ALLOW,
        ];
        assert!(err(&one_branch).contains("before"));
    }

    #[test]
    fn every_path_ends_in_a_known_return() {
        assert!(err(&[LD_NR]).contains("does not end with a return"));
        assert!(err(&[LD_NR, insn(0x15, 0, 0, 1)]).contains("past the end"));
        assert!(err(&[insn(0x06, 0, 0, 0x1234_0000)]).contains("no seccomp action"));
        assert_eq!(check(&[insn(0x16, 0, 0, 0)]), Ok(()), "RET A");
        assert!(err(&[]).contains("1 to 4096"));
        assert!(err(&vec![RET_ALLOW; MAX_INSTRUCTIONS + 1]).contains("1 to 4096"));
        assert_eq!(check(&vec![RET_ALLOW; MAX_INSTRUCTIONS]), Ok(()));
    }
}
