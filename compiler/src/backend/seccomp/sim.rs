//! A classic-BPF interpreter for the subset this backend emits, the kernel's checks on a
//! program, its action-cache emulation, and the stats computed from them.

use super::{
    Instruction, MAX_INSTRUCTIONS, OFFSET_ARCH, OFFSET_NR, SECCOMP_RET_ALLOW,
    SECCOMP_RET_KILL_PROCESS, SeccompStats, op,
};
use crate::data::{self, Arch};

/// `struct seccomp_data` as the filter sees it (the instruction pointer reads as zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte offset `off`, as `BPF_LD | BPF_W | BPF_ABS` reads it.
    pub fn word(&self, off: u32) -> Option<u32> {
        if !off.is_multiple_of(4) || off >= 64 {
            return None;
        }
        Some(match off {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => 0,
            _ => {
                let i = ((off - 16) / 8) as usize;
                let arg = self.args.get(i).copied().unwrap_or(0);
                if (off - 16).is_multiple_of(8) {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("empty program")]
    Empty,
    #[error("{0} instructions, more than 4096")]
    TooLong(usize),
    #[error("instruction {pc}: unsupported opcode {code:#06x}")]
    Unsupported { pc: usize, code: u16 },
    #[error("instruction {pc}: load from offset {k}, outside seccomp_data or unaligned")]
    BadLoad { pc: usize, k: u32 },
    #[error("instruction {pc}: jump past the end")]
    JumpOutOfRange { pc: usize },
    #[error("the last instruction is not a return")]
    NoFinalReturn,
    #[error("ran off the end of the program")]
    RanOff,
}

/// What a run returned and how many instructions it executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trace {
    pub ret: u32,
    pub executed: usize,
}

fn target(pc: usize, off: usize, len: usize) -> Result<usize, SimError> {
    let t = pc + 1 + off;
    if t < len {
        Ok(t)
    } else {
        Err(SimError::JumpOutOfRange { pc })
    }
}

/// The kernel's static checks that matter here (`bpf_check_classic`, `seccomp_check_filter`):
/// length, known opcodes, aligned loads inside `seccomp_data`, jumps inside the program, and
/// a final return.
pub fn validate(insns: &[Instruction]) -> Result<(), SimError> {
    let len = insns.len();
    if len == 0 {
        return Err(SimError::Empty);
    }
    if len > MAX_INSTRUCTIONS {
        return Err(SimError::TooLong(len));
    }
    for (pc, i) in insns.iter().enumerate() {
        match i.code {
            op::LD_W_ABS => {
                if (SeccompData::default()).word(i.k).is_none() {
                    return Err(SimError::BadLoad { pc, k: i.k });
                }
            }
            op::AND_K | op::RET_K => {}
            op::JA => {
                target(pc, i.k as usize, len)?;
            }
            op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                target(pc, usize::from(i.jt), len)?;
                target(pc, usize::from(i.jf), len)?;
            }
            code => return Err(SimError::Unsupported { pc, code }),
        }
    }
    match insns.last() {
        Some(i) if i.code == op::RET_K => Ok(()),
        _ => Err(SimError::NoFinalReturn),
    }
}

fn jump_holds(code: u16, a: u32, k: u32) -> bool {
    match code {
        op::JEQ_K => a == k,
        op::JGT_K => a > k,
        op::JGE_K => a >= k,
        _ => a & k != 0,
    }
}

/// Runs a program, with bounds checks on every step.
pub fn run(insns: &[Instruction], data: &SeccompData) -> Result<Trace, SimError> {
    let len = insns.len();
    let mut a: u32 = 0;
    let mut pc = 0;
    let mut executed = 0;
    while let Some(i) = insns.get(pc) {
        executed += 1;
        match i.code {
            op::LD_W_ABS => {
                a = data.word(i.k).ok_or(SimError::BadLoad { pc, k: i.k })?;
                pc += 1;
            }
            op::AND_K => {
                a &= i.k;
                pc += 1;
            }
            op::RET_K => return Ok(Trace { ret: i.k, executed }),
            op::JA => pc = target(pc, i.k as usize, len)?,
            op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                let off = if jump_holds(i.code, a, i.k) {
                    i.jt
                } else {
                    i.jf
                };
                pc = target(pc, usize::from(off), len)?;
            }
            code => return Err(SimError::Unsupported { pc, code }),
        }
    }
    Err(SimError::RanOff)
}

/// What the kernel returns for the call; a program the interpreter cannot run kills.
pub fn simulate(program: &super::Program, data: &SeccompData) -> u32 {
    run(&program.instructions, data).map_or(SECCOMP_RET_KILL_PROCESS, |t| t.ret)
}

/// The kernel's `seccomp_is_const_allow`: whether the program returns `allow` for this
/// `nr` and `arch` without looking at anything else.
pub fn is_const_allow(insns: &[Instruction], nr: u32, arch: u32) -> bool {
    let mut a: u32 = 0;
    let mut pc = 0;
    while let Some(i) = insns.get(pc) {
        match i.code {
            op::LD_W_ABS => match i.k {
                OFFSET_NR => a = nr,
                OFFSET_ARCH => a = arch,
                _ => return false,
            },
            op::RET_K => return i.k == SECCOMP_RET_ALLOW,
            op::JA => pc += i.k as usize,
            op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                pc += usize::from(if jump_holds(i.code, a, i.k) {
                    i.jt
                } else {
                    i.jf
                });
            }
            op::AND_K => a &= i.k,
            _ => return false,
        }
        pc += 1;
    }
    false
}

/// The longest path from each instruction when the accumulator is unknown (both branches
/// of every jump count). Jumps only go forward, so one backward pass computes it.
fn longest_unknown(insns: &[Instruction]) -> Vec<usize> {
    let len = insns.len();
    let mut out = vec![0usize; len];
    for pc in (0..len).rev() {
        let at = |t: usize| out.get(t).copied().unwrap_or(0);
        out[pc] = 1 + match insns[pc].code {
            op::RET_K => 0,
            op::JA => at(pc + 1 + insns[pc].k as usize),
            op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                at(pc + 1 + usize::from(insns[pc].jt)).max(at(pc + 1 + usize::from(insns[pc].jf)))
            }
            _ => at(pc + 1),
        };
    }
    out
}

/// The most instructions a call with this `nr` and `arch` can execute, over all argument
/// values: run on `nr` and `arch` until the first argument load, then the longest path.
pub fn worst_path(insns: &[Instruction], nr: u32, arch: u32) -> Result<usize, SimError> {
    worst_path_with(insns, &longest_unknown(insns), nr, arch)
}

fn worst_path_with(
    insns: &[Instruction],
    longest: &[usize],
    nr: u32,
    arch: u32,
) -> Result<usize, SimError> {
    let data = SeccompData {
        nr,
        arch,
        args: [0; 6],
    };
    let len = insns.len();
    let mut a: u32 = 0;
    let mut pc = 0;
    let mut executed = 0;
    while let Some(i) = insns.get(pc) {
        match i.code {
            op::LD_W_ABS if i.k != OFFSET_NR && i.k != OFFSET_ARCH => {
                return Ok(executed + longest.get(pc).copied().unwrap_or(0));
            }
            op::LD_W_ABS => {
                a = data.word(i.k).ok_or(SimError::BadLoad { pc, k: i.k })?;
                pc += 1;
            }
            op::AND_K => {
                a &= i.k;
                pc += 1;
            }
            op::RET_K => return Ok(executed + 1),
            op::JA => pc = target(pc, i.k as usize, len)?,
            op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                let off = if jump_holds(i.code, a, i.k) {
                    i.jt
                } else {
                    i.jf
                };
                pc = target(pc, usize::from(off), len)?;
            }
            code => return Err(SimError::Unsupported { pc, code }),
        }
        executed += 1;
    }
    Err(SimError::RanOff)
}

/// An `AUDIT_ARCH_*` value that is neither x86_64 nor aarch64 (i386).
pub const FOREIGN_ARCH: u32 = 0x4000_0003;

pub(super) fn stats(
    insns: &[Instruction],
    arch: Arch,
    range_starts: &[u32],
) -> Result<SeccompStats, SimError> {
    let longest = longest_unknown(insns);
    let audit = arch.audit_arch();
    let table = data::syscalls(arch);
    let mut worst = worst_path_with(insns, &longest, 0, FOREIGN_ARCH)?;
    for &nr in range_starts.iter().chain(&[u32::MAX]) {
        worst = worst.max(worst_path_with(insns, &longest, nr, audit)?);
    }
    let mut total = 0;
    let mut cache_allowed = 0;
    for s in table {
        let w = worst_path_with(insns, &longest, s.number, audit)?;
        worst = worst.max(w);
        total += w;
        if is_const_allow(insns, s.number, audit) {
            cache_allowed += 1;
        }
    }
    let mean = if table.is_empty() {
        0.0
    } else {
        total as f64 / table.len() as f64
    };
    Ok(SeccompStats {
        length: insns.len(),
        worst_case: worst,
        mean,
        syscalls: table.len(),
        cache_allowed,
    })
}
