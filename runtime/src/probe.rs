//! Asking the kernel what the sandbox in force lets a process do, without doing it: for
//! `nonoc test --kernel`, which runs one probe process per test. Not for agents (feature
//! `probe`, off by default).
//!
//! A system call is asked through seccomp. [`SyscallProbe::arm`], called before the ring is
//! applied, installs a filter that answers the probed call with errno [`SENTINEL`] when one
//! argument that no rule of the ring examines holds [`GATE`] (so the runtime's own calls while
//! applying the ring are never caught). The kernel runs every installed filter and takes the
//! strictest action, the most recently installed filter's on a tie:
//! - the ring allows the call (or only logs it): our errno wins, [`SENTINEL`] comes back;
//! - the ring answers with an errno: a tie, the ring's filter is the later one, its errno
//!   comes back;
//! - the ring traps or kills: the process gets `SIGSYS` or is killed.
//!
//! In no case does the call reach the kernel proper: whatever its arguments, it has no effect.

use crate::sys;

/// The ELF interpreter (`PT_INTERP`) a program names, if any: what an execute probe must
/// see opened before it can say the program runs.
pub use crate::landlock::interpreter_of;

/// The errno the probe's filter answers with (the highest errno; policies name theirs from
/// the kernel's list, which ends far below).
pub const SENTINEL: i32 = 4095;

/// The value of the gate argument: ASCII `nonoc_pr`.
pub const GATE: u64 = 0x6e6f_6e6f_635f_7072;

/// `AUDIT_ARCH_*` of the arch this runtime was built for (the arches filters are written for).
const AUDIT_ARCH: Option<u32> = if cfg!(target_arch = "x86_64") {
    Some(0xc000_003e)
} else if cfg!(target_arch = "aarch64") {
    Some(0xc000_00b7)
} else {
    None
};

/// A system call whose probe filter is installed in this process. Only [`arm`](Self::arm)
/// makes one, and filters cannot be removed: holding one proves the call is stopped by
/// seccomp before it runs.
#[derive(Debug)]
pub struct SyscallProbe {
    nr: u32,
    gate: usize,
}

impl SyscallProbe {
    /// Installs the probe filter for system call `nr` (this arch's number), gated on argument
    /// `gate` (0..=5), and turns core dumps off (a ring that traps the call ends the process
    /// with `SIGSYS`). Sets `no_new_privs`. Irrevocable.
    pub fn arm(nr: u32, gate: usize) -> std::io::Result<SyscallProbe> {
        let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
        let arch = AUDIT_ARCH.ok_or_else(|| invalid("no seccomp filters for this arch"))?;
        if gate > 5 {
            return Err(invalid("a system call has six arguments"));
        }
        sys::no_core_dumps()?;
        sys::set_no_new_privs()?;
        sys::install_seccomp_filter(&program(arch, nr, gate))?;
        Ok(SyscallProbe { nr, gate })
    }

    /// Makes the call with `args` (at most 6; missing ones are 0) and [`GATE`] in the gate
    /// argument. `Ok(())`: the filters in force let it through (it came back with
    /// [`SENTINEL`], not having run); `Err(errno)`: a filter refused it with that errno.
    pub fn ask(&self, args: &[u64]) -> Result<(), i32> {
        let mut all = [0_u64; 6];
        for (slot, value) in all.iter_mut().zip(args) {
            *slot = *value;
        }
        all[self.gate] = GATE;
        match sys::call_stopped_syscall(self, self.nr, all) {
            SENTINEL => Ok(()),
            errno => Err(errno),
        }
    }
}

/// Sends signal 0 to this process (checks delivery, delivers nothing). `Err(errno)` when
/// refused.
pub fn signal_self() -> Result<(), i32> {
    sys::signal_self()
}

/// Creates an unbound, unconnected socket (`socket(domain, kind | SOCK_CLOEXEC, 0)`), as
/// the first half of a `listen()` probe: the ring's filter answers this call for real.
/// `Err(errno)` when refused.
pub fn socket(domain: i32, kind: i32) -> Result<std::os::fd::OwnedFd, i32> {
    sys::socket(domain, kind)
}

/// The probe filter: for this arch, call `nr` with argument `gate` equal to [`GATE`] gets
/// errno [`SENTINEL`]; everything else is allowed.
fn program(arch: u32, nr: u32, gate: usize) -> Vec<crate::artifact::Instruction> {
    use crate::artifact::Instruction;
    const LD_ABS_W: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    let ld = |k: usize| Instruction {
        code: LD_ABS_W,
        jt: 0,
        jf: 0,
        k: u32::try_from(k).unwrap_or(u32::MAX),
    };
    // Equal: on to the next instruction; not equal: jump to the final `allow`, at index 9.
    let jeq = |k: u32, at: u8| Instruction {
        code: JEQ_K,
        jt: 0,
        jf: 9 - (at + 1),
        k,
    };
    let ret = |k: u32| Instruction {
        code: RET_K,
        jt: 0,
        jf: 0,
        k,
    };
    // struct seccomp_data: nr at 0, arch at 4, instruction pointer at 8, args at 16 (u64
    // each, in the arch's byte order: both arches are little-endian, low half first).
    let arg = 16 + 8 * gate;
    let [lo, hi] = [GATE as u32, (GATE >> 32) as u32];
    vec![
        ld(4),
        jeq(arch, 1),
        ld(0),
        jeq(nr, 3),
        ld(arg),
        jeq(lo, 5),
        ld(arg + 4),
        jeq(hi, 7),
        ret(SECCOMP_RET_ERRNO | SENTINEL as u32),
        ret(SECCOMP_RET_ALLOW),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mismatch_jumps_to_allow_and_a_match_reaches_the_errno() {
        let program = program(0xc000_003e, 42, 3);
        assert_eq!(program.len(), 10);
        for (i, insn) in program.iter().enumerate() {
            if insn.code == 0x15 {
                assert_eq!(i + 1 + usize::from(insn.jf), 9, "jump at {i}");
                assert_eq!(insn.jt, 0);
            }
        }
        assert_eq!(program[4].k, 16 + 24);
        assert_eq!(program[6].k, 16 + 24 + 4);
        assert_eq!(program[8].k, 0x0005_0000 | 4095);
        assert_eq!(program[9].k, 0x7fff_0000);
    }
}
