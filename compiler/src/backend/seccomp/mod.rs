//! seccomp lowering: an IR ring to a classic-BPF program for one [`Arch`].
//!
//! Program shape (every path is a few loads and `K` jumps, never a loop):
//!
//! ```text
//!   ld  [4]                      seccomp_data.arch
//!   jeq #AUDIT_ARCH_<arch>       else ret KILL_PROCESS   (i386 `int 0x80` included)
//!   ld  [0]                      seccomp_data.nr
//!   binary search of `jge` over syscall-number ranges covering 0..=u32::MAX
//!     (adjacent numbers with the same outcome are one range; on x86_64 the range
//!      0x40000000..=u32::MAX, the x32 ABI, is the ring's deny action)
//!   leaves: `ret` of a constant action, or a syscall's argument checks
//! ```
//!
//! The tree minimizes the worst-case path (leaf cost included), then the mean over the
//! arch's syscalls. A leaf with argument checks tries the syscall's deny rules strictest
//! first, as `decide` does (the strictest matching rule wins, never weaker than the
//! fallback), and ends in the fallback. `int` arguments compare the low 32 bits only; 64-bit
//! arguments compare both words. Code is emitted backwards, so every jump target is known;
//! a conditional jump farther than 255 goes through a `ja` trampoline (or a copy of the
//! `ret` it targets).
//!
//! Nothing here touches the kernel: [`simulate`] runs a program on a `seccomp_data`, and
//! the stats come from it. Loading is the runtime's job.

mod emit;
mod graph;
mod sim;
mod text;

#[cfg(test)]
mod tests;

use crate::data::{self, Arch};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::{Ring, SyscallAction};

pub use sim::{SeccompData, SimError, Trace, is_const_allow, run, simulate, validate, worst_path};
pub use text::{disassemble, to_bytes};

pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// The kernel's limit on a classic-BPF program (`BPF_MAXINSNS`), as the runtime checks it.
pub use nonoc_runtime::artifact::MAX_INSTRUCTIONS;

/// x86_64: syscall numbers from here up are the x32 ABI (`__X32_SYSCALL_BIT`) or invalid.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `offsetof(struct seccomp_data, nr)`.
pub const OFFSET_NR: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`.
pub const OFFSET_ARCH: u32 = 4;
/// `offsetof(struct seccomp_data, args)`; argument `i` is at `16 + 8 * i`, low word first.
pub const OFFSET_ARGS: u32 = 16;

/// Classic-BPF opcodes this backend emits.
pub mod op {
    /// `BPF_LD | BPF_W | BPF_ABS`
    pub const LD_W_ABS: u16 = 0x20;
    /// `BPF_ALU | BPF_AND | BPF_K`
    pub const AND_K: u16 = 0x54;
    /// `BPF_JMP | BPF_JA`
    pub const JA: u16 = 0x05;
    /// `BPF_JMP | BPF_JEQ | BPF_K`
    pub const JEQ_K: u16 = 0x15;
    /// `BPF_JMP | BPF_JGT | BPF_K`
    pub const JGT_K: u16 = 0x25;
    /// `BPF_JMP | BPF_JGE | BPF_K`
    pub const JGE_K: u16 = 0x35;
    /// `BPF_JMP | BPF_JSET | BPF_K`
    pub const JSET_K: u16 = 0x45;
    /// `BPF_RET | BPF_K`
    pub const RET_K: u16 = 0x06;
}

/// One `struct sock_filter` (the artifact's type: the runtime decodes what we encode).
pub use nonoc_runtime::artifact::Instruction;

/// A ring's filter for one arch.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub arch: Arch,
    pub ring: u8,
    pub instructions: Vec<Instruction>,
    pub stats: SeccompStats,
}

/// What the program costs (the artifact's type).
pub use nonoc_runtime::artifact::SeccompStats;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    /// The kernel refuses programs longer than [`MAX_INSTRUCTIONS`].
    #[error(
        "the seccomp filter of ring {ring} for {} has {length} instructions, more than the kernel's limit of 4096",
        .arch.name()
    )]
    TooLong { ring: u8, arch: Arch, length: usize },
    /// An unconfined ring installs no filter.
    #[error("ring {0} is unconfined: it has no seccomp filter")]
    Unconfined(u8),
    /// The generator produced a program its own checks reject (a bug).
    #[error("internal error lowering ring {ring} for {}: {detail}", .arch.name())]
    Internal {
        ring: u8,
        arch: Arch,
        detail: String,
    },
}

/// The `SECCOMP_RET_*` value of an action.
pub fn ret_value(action: SyscallAction) -> u32 {
    match action {
        SyscallAction::Allow => SECCOMP_RET_ALLOW,
        SyscallAction::Errno(n) => SECCOMP_RET_ERRNO | u32::from(n),
        SyscallAction::KillProcess => SECCOMP_RET_KILL_PROCESS,
        SyscallAction::Log => SECCOMP_RET_LOG,
        SyscallAction::Trap => SECCOMP_RET_TRAP,
    }
}

/// Readable name of a return value (`allow`, `errno EPERM`, `kill_process`, ...).
pub fn ret_name(value: u32) -> String {
    match value {
        SECCOMP_RET_ALLOW => "allow".to_owned(),
        SECCOMP_RET_KILL_PROCESS => "kill_process".to_owned(),
        SECCOMP_RET_LOG => "log".to_owned(),
        SECCOMP_RET_TRAP => "trap".to_owned(),
        v if v & 0xffff_0000 == SECCOMP_RET_ERRNO => {
            let n = v & 0xffff;
            match data::errno_name(n) {
                Some(name) => format!("errno {name}"),
                None => format!("errno {n}"),
            }
        }
        v => format!("{v:#010x}"),
    }
}

fn fits(ring: &Ring, arch: Arch, length: usize) -> Result<(), LowerError> {
    if length > MAX_INSTRUCTIONS {
        return Err(LowerError::TooLong {
            ring: ring.level,
            arch,
            length,
        });
    }
    Ok(())
}

/// [`lower`], reporting a filter longer than the kernel takes (`NC1001`) to `diags`, so that
/// `nonoc check` says what `nonoc compile` would refuse.
pub fn lower_reporting(
    ring: &Ring,
    arch: Arch,
    diags: &mut Diagnostics,
) -> Result<Program, LowerError> {
    let program = lower(ring, arch);
    if let Err(LowerError::TooLong { length, .. }) = &program {
        diags.push(
            Diagnostic::new(
                Code::SeccompTooLong,
                ring.span,
                format!(
                    "ring {}'s seccomp filter for {} would have {length} instructions; the kernel takes at most {}",
                    ring.level,
                    arch.name(),
                    MAX_INSTRUCTIONS
                ),
            )
            .label("this ring's syscall, network and process rules")
            .help("each argument check costs instructions: merge rules that test the same argument (a `masked_eq` or bit test instead of many `eq`), or deny the whole syscall"),
        );
    }
    program
}

/// Lowers a confined ring to its filter for `arch`.
pub fn lower(ring: &Ring, arch: Arch) -> Result<Program, LowerError> {
    if ring.unconfined {
        return Err(LowerError::Unconfined(ring.level));
    }
    let internal = |detail: String| LowerError::Internal {
        ring: ring.level,
        arch,
        detail,
    };
    let built = graph::build(ring, arch);
    let instructions = emit::emit(&built.graph, built.root);
    fits(ring, arch, instructions.len())?;
    validate(&instructions).map_err(|e| internal(e.to_string()))?;
    let stats = sim::stats(&instructions, arch, &built.range_starts)
        .map_err(|e| internal(e.to_string()))?;
    Ok(Program {
        arch,
        ring: ring.level,
        instructions,
        stats,
    })
}
