//! `--emit bpf` (raw `struct sock_filter` records) and `--emit bpf-asm` (a disassembly).

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{
    Instruction, OFFSET_ARCH, OFFSET_ARGS, OFFSET_NR, Program, X32_SYSCALL_BIT, op, ret_name,
};
use crate::data::{self, Arch};

/// The program as the kernel takes it: 8 bytes per instruction, little-endian
/// (`u16 code, u8 jt, u8 jf, u32 k`).
pub fn to_bytes(program: &Program) -> Vec<u8> {
    nonoc_runtime::artifact::to_bytes(&program.instructions)
}

/// What the accumulator holds on entry to an instruction, when every way in agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acc {
    Unset,
    Word(u32),
    Mixed,
}

fn meet(a: Acc, b: Acc) -> Acc {
    match (a, b) {
        (Acc::Unset, x) | (x, Acc::Unset) => x,
        (x, y) if x == y => x,
        _ => Acc::Mixed,
    }
}

fn field(off: u32) -> String {
    match off {
        OFFSET_NR => "nr".to_owned(),
        OFFSET_ARCH => "arch".to_owned(),
        o if o >= OFFSET_ARGS => {
            let rel = o - OFFSET_ARGS;
            let half = if rel.is_multiple_of(8) { "lo" } else { "hi" };
            format!("args[{}] {half}", rel / 8)
        }
        o => format!("seccomp_data+{o}"),
    }
}

fn arch_name(k: u32) -> Option<&'static str> {
    Arch::ALL
        .into_iter()
        .find(|a| a.audit_arch() == k)
        .map(Arch::name)
}

/// A readable listing: one instruction a line, labels on jump targets, comments naming
/// fields, syscalls and actions, and the stats at the end. Stable text for snapshots.
pub fn disassemble(program: &Program) -> String {
    let insns = &program.instructions;
    let len = insns.len();
    let jump_targets = |pc: usize, i: &Instruction| -> Vec<usize> {
        match i.code {
            op::JA => vec![pc + 1 + i.k as usize],
            op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                vec![pc + 1 + usize::from(i.jt), pc + 1 + usize::from(i.jf)]
            }
            _ => Vec::new(),
        }
    };
    let mut labels = BTreeSet::new();
    let mut acc = vec![Acc::Unset; len + 1];
    for (pc, i) in insns.iter().enumerate() {
        let here = if pc == 0 { Acc::Mixed } else { acc[pc] };
        let after = match i.code {
            op::LD_W_ABS => Acc::Word(i.k),
            op::AND_K => Acc::Mixed,
            _ => here,
        };
        match i.code {
            op::RET_K => {}
            op::LD_W_ABS | op::AND_K => acc[pc + 1] = meet(acc[pc + 1], after),
            _ => {
                for t in jump_targets(pc, i) {
                    labels.insert(t);
                    if let Some(slot) = acc.get_mut(t) {
                        *slot = meet(*slot, after);
                    }
                }
            }
        }
    }
    let label = |t: usize| format!("L{t}");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; seccomp-bpf filter: ring {}, {}",
        program.ring,
        program.arch.name()
    );
    for (pc, i) in insns.iter().enumerate() {
        let a = if pc == 0 { Acc::Mixed } else { acc[pc] };
        let tag = if labels.contains(&pc) {
            format!("{}:", label(pc))
        } else {
            String::new()
        };
        let (text, comment) = match i.code {
            op::LD_W_ABS => (format!("ld   [{}]", i.k), field(i.k)),
            op::AND_K => (format!("and  #{:#x}", i.k), String::new()),
            op::RET_K => (format!("ret  #{:#x}", i.k), ret_name(i.k)),
            op::JA => (
                format!("ja   {}", label(pc + 1 + i.k as usize)),
                String::new(),
            ),
            op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                let mnemonic = match i.code {
                    op::JEQ_K => "jeq ",
                    op::JGT_K => "jgt ",
                    op::JGE_K => "jge ",
                    _ => "jset",
                };
                let (k, comment) = match a {
                    Acc::Word(OFFSET_NR) => {
                        let name = if i.k == X32_SYSCALL_BIT && program.arch == Arch::X86_64 {
                            Some("x32".to_owned())
                        } else {
                            data::syscall_by_number(program.arch, i.k).map(|s| s.name.to_owned())
                        };
                        (i.k.to_string(), name.unwrap_or_default())
                    }
                    Acc::Word(OFFSET_ARCH) => (
                        format!("{:#x}", i.k),
                        arch_name(i.k).unwrap_or_default().to_owned(),
                    ),
                    _ => (format!("{:#x}", i.k), String::new()),
                };
                (
                    format!(
                        "{mnemonic} #{k:<10} jt {:<5} jf {}",
                        label(pc + 1 + usize::from(i.jt)),
                        label(pc + 1 + usize::from(i.jf))
                    ),
                    comment,
                )
            }
            code => (
                format!(".word {code:#06x} {} {} {:#x}", i.jt, i.jf, i.k),
                String::new(),
            ),
        };
        let line = format!("{pc:>5}  {tag:<7} {text}");
        if comment.is_empty() {
            let _ = writeln!(out, "{line}");
        } else {
            let _ = writeln!(out, "{line:<56} ; {comment}");
        }
    }
    let s = &program.stats;
    let _ = writeln!(
        out,
        "; length {}, worst case {} executed, mean {:.2} over {} syscalls, {} allowed by the kernel's action cache",
        s.length, s.worst_case, s.mean, s.syscalls, s.cache_allowed
    );
    out
}
