//! Linux data tables for cross-compiling sandbox policies.
//!
//! Everything here is data kept inside the crate (the `.tsv` files next to
//! this module, embedded with `include_str!`), never the host's libc
//! constants, so one machine can compile policies for every [`Arch`].
//! Each table is parsed once, lazily, on first use. Malformed lines are
//! skipped at run time (this module never panics); the unit tests below
//! make sure there are none.
//!
//! # File formats
//!
//! - `syscalls_<arch>.tsv`: `name<TAB>number<TAB>argkinds`, sorted by number.
//!   `argkinds` is a comma-separated list with one entry per syscall
//!   argument, `int` or `long` (see [`ArgKind`]), empty for a syscall that
//!   takes no argument.
//! - `errno.tsv`: `NAME<TAB>number`, sorted by number; for a number with
//!   several names the canonical one comes first, aliases after it.
//! - `constants.tsv`: `NAME<TAB>value`, value in decimal or `0x` hex.
//!
//! # Provenance (how to regenerate)
//!
//! The files were generated once with throwaway scripts (not kept) on a
//! Debian 12 (bookworm) machine, from `linux-libc-dev` 6.1.187-1 (the
//! installed `/usr/include`, `LINUX_VERSION_CODE` 6.1.187) and the Debian
//! `linux-source-6.1` package 6.1.192-2 (`/usr/src/linux-source-6.1.tar.xz`).
//! The syscall set of those files was that of Linux 6.1: x86_64 0..=334 and
//! 424..=450, aarch64 0..=450 with gaps.
//!
//! The syscalls added from 6.2 to 6.18 were then appended by hand, numbers from
//! the mainline `arch/x86/entry/syscalls/syscall_64.tbl` (they are `common`
//! there, and the generic table gives them the same numbers), argument kinds
//! from each one's `SYSCALL_DEFINEn` by the rules below: 451 `cachestat` to
//! 470 `listns` on both arches, and x86_64's `uretprobe` (335) and `uprobe`
//! (336), which take no arguments.
//!
//! Syscall numbers:
//! - x86_64: every `#define __NR_<name> <number>` of
//!   `/usr/include/x86_64-linux-gnu/asm/unistd_64.h` (cross-checked against
//!   the `common` and `64` rows of the kernel's
//!   `arch/x86/entry/syscalls/syscall_64.tbl`: same names and numbers).
//! - aarch64: `/usr/include/asm-generic/unistd.h` run through `gcc -E`
//!   (`-dM` for the `__NR_*` names, and a `__SYSCALL(nr, entry)` macro to
//!   list the entry points) the way `arch/arm64/include/uapi/asm/unistd.h`
//!   configures it: `__BITS_PER_LONG` 64 (so the `__NR3264_*` numbers get
//!   their 64-bit names `fcntl`, `lseek`, `newfstatat`, `fstat`, `mmap`,
//!   `fadvise64`, `truncate`, `ftruncate`, `statfs`, `fstatfs`, `sendfile`,
//!   and the time32-guarded syscalls are present because
//!   `__BITS_PER_LONG != 32`), with `__ARCH_WANT_RENAMEAT`,
//!   `__ARCH_WANT_NEW_STAT`, `__ARCH_WANT_SET_GET_RLIMIT`,
//!   `__ARCH_WANT_SYS_CLONE3` and `__ARCH_WANT_MEMFD_SECRET` defined. The
//!   `__NR3264_*`, `__NR_syscalls` and `__NR_arch_specific_syscall` macros
//!   are not syscalls and are left out. aarch64 has no `open`, `fork`,
//!   `vfork`, `stat` and the like: only their `*at`/`clone` successors.
//!
//! Argument kinds come from the kernel source's own definitions, not from
//! man pages: each syscall name was mapped to its kernel entry point (the
//! fourth column of `syscall_64.tbl` for x86_64, the `__SYSCALL(nr, entry)`
//! lines of the generic `unistd.h` for aarch64, plus arm64's
//! `personality` -> `arm64_personality` override from
//! `arch/arm64/kernel/sys.c`), and the entry point's parameter types were
//! read from its `SYSCALL_DEFINEn(name, type, arg, ...)` in the 6.1 tree
//! (generic code, `arch/x86` and `arch/arm64`; arch-specific definitions
//! such as `mmap`, `arch_prctl`, `modify_ldt`, `iopl`, `rt_sigreturn` win
//! over generic ones). `clone` uses the `CONFIG_CLONE_BACKWARDS` variant on
//! aarch64 (`flags, newsp, parent_tid, tls, child_tid`) and the default one
//! on x86_64 (`flags, newsp, parent_tid, child_tid, tls`). One deliberate
//! exception to the C types: `clone`'s `flags` is listed as `int`, because
//! `kernel_clone` reads only `lower_32_bits(clone_flags)`; comparing all 64
//! bits would let high bits smuggle a value past an equality rule. A type is `long` when it is a pointer (including pointer
//! typedefs such as `cap_user_header_t`) or a 64-bit integer (`long`,
//! `unsigned long`, `size_t`, `off_t`, `loff_t`, `u64`, `__u64`,
//! `aio_context_t`, `old_sigset_t`, `__sighandler_t`); it is `int` when it
//! is 32 bits or narrower (`int`, `unsigned int`, `u32`, `__s32`, `pid_t`,
//! `uid_t`, `gid_t`, `qid_t`, `umode_t`, `clockid_t`, `timer_t`, `mqd_t`,
//! `key_t`, `key_serial_t`, `rwf_t`, enums). Every resulting list was
//! cross-checked against the `asmlinkage long sys_*()` prototypes of
//! `include/linux/syscalls.h`: no disagreement. `lookup_dcookie`, which has
//! a prototype but no implementation in 6.1, takes its kinds from that
//! prototype. Syscalls whose entry point is `sys_ni_syscall` or absent
//! (they always fail with `ENOSYS`: x86_64 `uselib`, `_sysctl`,
//! `create_module`, `get_kernel_syms`, `query_module`, `nfsservctl`,
//! `getpmsg`, `putpmsg`, `afs_syscall`, `tuxcall`, `security`,
//! `set_thread_area`, `get_thread_area`, `epoll_ctl_old`, `epoll_wait_old`,
//! `vserver`; aarch64 `nfsservctl`) have an empty argument list.
//!
//! Errno numbers: every `#define E*` of
//! `/usr/include/asm-generic/errno-base.h` and
//! `/usr/include/asm-generic/errno.h` (x86_64 and aarch64 both use the
//! generic numbering), aliases (`EWOULDBLOCK`, `EDEADLOCK`) resolved and
//! placed after their canonical name, plus glibc's userspace alias
//! `ENOTSUP` = `EOPNOTSUPP` (`/usr/include/x86_64-linux-gnu/bits/errno.h`).
//!
//! Constants, all with the same value on x86_64 and aarch64:
//! - `AF_*`: every `#define AF_*` of the kernel's `include/linux/socket.h`
//!   (including the aliases `AF_LOCAL` and `AF_ROUTE`, excluding `AF_MAX`);
//! - `SOCK_*` socket types: `enum sock_type` of `include/linux/net.h`
//!   (MIPS alone overrides it); `SOCK_NONBLOCK` = `O_NONBLOCK` = `0o4000`
//!   and `SOCK_CLOEXEC` = `O_CLOEXEC` = `0o2000000`, both from
//!   `include/uapi/asm-generic/fcntl.h`, which neither x86 nor arm64
//!   overrides for these two flags;
//! - `CLONE_*`: every flag of `/usr/include/linux/sched.h` (not the
//!   `CLONE_ARGS_SIZE_VER*` struct sizes).
//! - added by hand with v1.1, from the same headers: `TIOCSTI` and `TIOCLINUX` of
//!   `/usr/include/asm-generic/ioctls.h` (x86 and arm64 use the generic numbers),
//!   `PRIO_PROCESS`, `PRIO_PGRP`, `PRIO_USER` of `/usr/include/linux/resource.h`, and
//!   `IOPRIO_WHO_PROCESS`, `IOPRIO_WHO_PGRP`, `IOPRIO_WHO_USER` of
//!   `/usr/include/linux/ioprio.h`.

use std::sync::LazyLock;

const SYSCALLS_X86_64_TSV: &str = include_str!("syscalls_x86_64.tsv");
const SYSCALLS_AARCH64_TSV: &str = include_str!("syscalls_aarch64.tsv");
const ERRNO_TSV: &str = include_str!("errno.tsv");
const CONSTANTS_TSV: &str = include_str!("constants.tsv");

/// A target architecture that policies can be compiled for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// x86_64 (amd64), 64-bit ABI only (not x32, not i386).
    X86_64,
    /// aarch64 (arm64), 64-bit ABI only (not the 32-bit compat one).
    Aarch64,
}

impl Arch {
    /// Every supported architecture.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The architecture's name: `"x86_64"` or `"aarch64"`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The arch this build runs on (x86_64 for anything that is not aarch64).
    pub fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    /// The artifact's name for the arch (the key of a ring's `seccomp` filters).
    pub fn artifact_arch(self) -> nonoc_runtime::artifact::SeccompArch {
        match self {
            Arch::X86_64 => nonoc_runtime::artifact::SeccompArch::X86_64,
            Arch::Aarch64 => nonoc_runtime::artifact::SeccompArch::Aarch64,
        }
    }

    /// The architecture named `s` (exactly as [`Arch::name`] spells it).
    pub fn from_name(s: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|arch| arch.name() == s)
    }

    /// The `AUDIT_ARCH_*` value that seccomp reports in
    /// `seccomp_data.arch` for this architecture.
    pub fn audit_arch(self) -> u32 {
        match self {
            // EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
            Arch::X86_64 => 0xC000_003E,
            // EM_AARCH64 (183) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
            Arch::Aarch64 => 0xC000_00B7,
        }
    }
}

/// The width of a syscall argument, as seccomp must compare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgKind {
    /// A C `int`-sized argument (`int`, `unsigned int`, `pid_t`, `uid_t`,
    /// `umode_t`, ...): the kernel only looks at the low 32 bits, so a
    /// filter must compare only those.
    Int,
    /// A 64-bit argument (`long`, `unsigned long`, `size_t`, `off_t`,
    /// pointers, ...): a filter must compare all 64 bits.
    Long,
}

/// One system call of one architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    /// The syscall's name, as in the kernel's `__NR_<name>`.
    pub name: &'static str,
    /// The syscall number on its architecture.
    pub number: u32,
    /// The kind of each argument, in order; empty when it takes none.
    pub args: Vec<ArgKind>,
}

static SYSCALLS_X86_64: LazyLock<Vec<Syscall>> =
    LazyLock::new(|| parse_syscalls(SYSCALLS_X86_64_TSV));
static SYSCALLS_AARCH64: LazyLock<Vec<Syscall>> =
    LazyLock::new(|| parse_syscalls(SYSCALLS_AARCH64_TSV));
static ERRNOS: LazyLock<Vec<(&'static str, u32)>> = LazyLock::new(|| {
    data_lines(ERRNO_TSV)
        .filter_map(|(_, line)| parse_errno_line(line).ok())
        .collect()
});
static CONSTANTS: LazyLock<Vec<(&'static str, u64)>> = LazyLock::new(|| {
    data_lines(CONSTANTS_TSV)
        .filter_map(|(_, line)| parse_constant_line(line).ok())
        .collect()
});

/// Every syscall of `arch`, sorted by number.
pub fn syscalls(arch: Arch) -> &'static [Syscall] {
    match arch {
        Arch::X86_64 => &SYSCALLS_X86_64,
        Arch::Aarch64 => &SYSCALLS_AARCH64,
    }
}

/// The syscall of `arch` called `name`, if `arch` has one.
pub fn syscall(arch: Arch, name: &str) -> Option<&'static Syscall> {
    syscalls(arch).iter().find(|s| s.name == name)
}

/// The syscall of `arch` with number `nr`, if there is one.
pub fn syscall_by_number(arch: Arch, nr: u32) -> Option<&'static Syscall> {
    let table = syscalls(arch);
    table
        .binary_search_by_key(&nr, |s| s.number)
        .ok()
        .and_then(|i| table.get(i))
}

/// The number of the errno called `name` (`"EPERM"` -> 1), aliases
/// included.
pub fn errno(name: &str) -> Option<u32> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

/// The canonical name of errno `number` (`11` -> `"EAGAIN"`, not
/// `"EWOULDBLOCK"`).
pub fn errno_name(number: u32) -> Option<&'static str> {
    ERRNOS.iter().find(|(_, v)| *v == number).map(|&(n, _)| n)
}

/// The value of the named constant (`"AF_UNIX"` -> 1), the same on every
/// [`Arch`].
pub fn constant(name: &str) -> Option<u64> {
    CONSTANTS.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

/// The non-empty lines of a table, with their 1-based line numbers.
fn data_lines(text: &'static str) -> impl Iterator<Item = (usize, &'static str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|(_, line)| !line.is_empty())
}

fn parse_syscalls(text: &'static str) -> Vec<Syscall> {
    let mut table: Vec<Syscall> = data_lines(text)
        .filter_map(|(_, line)| parse_syscall_line(line).ok())
        .collect();
    table.sort_by_key(|s| s.number);
    table
}

/// Splits a line into exactly `N` tab-separated fields.
fn fields<const N: usize>(line: &'static str) -> Result<[&'static str; N], String> {
    let parts: Vec<&'static str> = line.split('\t').collect();
    <[&'static str; N]>::try_from(parts)
        .map_err(|parts| format!("expected {N} tab-separated fields, found {}", parts.len()))
}

fn check_name(name: &str, ok: impl Fn(u8) -> bool) -> Result<(), String> {
    if !name.is_empty() && name.bytes().all(ok) {
        Ok(())
    } else {
        Err(format!("bad name {name:?}"))
    }
}

fn parse_syscall_line(line: &'static str) -> Result<Syscall, String> {
    let [name, number, args] = fields::<3>(line)?;
    check_name(name, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
    })?;
    let number = number
        .parse::<u32>()
        .map_err(|e| format!("bad syscall number {number:?}: {e}"))?;
    let args = if args.is_empty() {
        Vec::new()
    } else {
        args.split(',')
            .map(|kind| match kind {
                "int" => Ok(ArgKind::Int),
                "long" => Ok(ArgKind::Long),
                other => Err(format!("bad argument kind {other:?}")),
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    if args.len() > 6 {
        return Err(format!("{} arguments, a syscall has at most 6", args.len()));
    }
    Ok(Syscall { name, number, args })
}

fn parse_errno_line(line: &'static str) -> Result<(&'static str, u32), String> {
    let [name, number] = fields::<2>(line)?;
    check_name(name, |b| b.is_ascii_uppercase() || b.is_ascii_digit())?;
    let number = number
        .parse::<u32>()
        .map_err(|e| format!("bad errno number {number:?}: {e}"))?;
    Ok((name, number))
}

fn parse_constant_line(line: &'static str) -> Result<(&'static str, u64), String> {
    let [name, value] = fields::<2>(line)?;
    check_name(name, |b| b.is_ascii_alphanumeric() || b == b'_')?;
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse::<u64>(),
    };
    let value = parsed.map_err(|e| format!("bad constant value {value:?}: {e}"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn syscall_tsv(arch: Arch) -> &'static str {
        match arch {
            Arch::X86_64 => SYSCALLS_X86_64_TSV,
            Arch::Aarch64 => SYSCALLS_AARCH64_TSV,
        }
    }

    fn kinds(spec: &str) -> Vec<ArgKind> {
        spec.chars()
            .map(|c| match c {
                'i' => ArgKind::Int,
                'l' => ArgKind::Long,
                _ => unreachable!("bad kind spec {spec}"),
            })
            .collect()
    }

    fn nr(arch: Arch, name: &str) -> Option<u32> {
        syscall(arch, name).map(|s| s.number)
    }

    #[test]
    fn every_syscall_line_parses_and_is_kept() {
        for arch in Arch::ALL {
            let mut count = 0;
            for (lineno, line) in data_lines(syscall_tsv(arch)) {
                if let Err(e) = parse_syscall_line(line) {
                    panic!("syscalls_{}.tsv:{lineno}: {e}: {line:?}", arch.name());
                }
                count += 1;
            }
            assert_eq!(syscalls(arch).len(), count, "{}", arch.name());
            assert!(count > 300, "{}: only {count} syscalls", arch.name());
        }
    }

    #[test]
    fn syscall_files_are_sorted_without_duplicates() {
        for arch in Arch::ALL {
            let mut names = HashSet::new();
            let mut last: Option<u32> = None;
            for (lineno, line) in data_lines(syscall_tsv(arch)) {
                let Ok(s) = parse_syscall_line(line) else {
                    panic!("syscalls_{}.tsv:{lineno} does not parse", arch.name());
                };
                assert!(
                    names.insert(s.name),
                    "{}: duplicate name {}",
                    arch.name(),
                    s.name
                );
                if let Some(prev) = last {
                    assert!(
                        s.number > prev,
                        "syscalls_{}.tsv:{lineno}: number {} not above {prev} (unsorted or duplicate)",
                        arch.name(),
                        s.number
                    );
                }
                last = Some(s.number);
            }
        }
    }

    #[test]
    fn lookups_are_consistent() {
        for arch in Arch::ALL {
            for s in syscalls(arch) {
                assert_eq!(syscall(arch, s.name), Some(s));
                assert_eq!(syscall_by_number(arch, s.number), Some(s));
            }
        }
        assert_eq!(syscall(Arch::X86_64, "no_such_syscall"), None);
        assert_eq!(syscall_by_number(Arch::X86_64, 400), None);
        assert_eq!(syscall_by_number(Arch::Aarch64, 244), None);
        assert_eq!(syscall_by_number(Arch::Aarch64, u32::MAX), None);
    }

    #[test]
    fn well_known_x86_64_numbers() {
        let a = Arch::X86_64;
        for (name, number) in [
            ("read", 0),
            ("write", 1),
            ("open", 2),
            ("mmap", 9),
            ("ioctl", 16),
            ("socket", 41),
            ("clone", 56),
            ("fork", 57),
            ("vfork", 58),
            ("execve", 59),
            ("kill", 62),
            ("ptrace", 101),
            ("prctl", 157),
            ("openat", 257),
            ("bpf", 321),
            ("io_uring_setup", 425),
            ("clone3", 435),
            ("openat2", 437),
            ("set_mempolicy_home_node", 450),
        ] {
            assert_eq!(nr(a, name), Some(number), "x86_64 {name}");
        }
        assert_eq!(syscall_by_number(a, 0).map(|s| s.name), Some("read"));
    }

    #[test]
    fn well_known_aarch64_numbers() {
        let a = Arch::Aarch64;
        for (name, number) in [
            ("io_setup", 0),
            ("fcntl", 25),
            ("ioctl", 29),
            ("openat", 56),
            ("read", 63),
            ("newfstatat", 79),
            ("fstat", 80),
            ("ptrace", 117),
            ("setrlimit", 164),
            ("socket", 198),
            ("clone", 220),
            ("mmap", 222),
            ("io_uring_setup", 425),
            ("clone3", 435),
            ("memfd_secret", 447),
        ] {
            assert_eq!(nr(a, name), Some(number), "aarch64 {name}");
        }
        for name in [
            "open", "fork", "vfork", "stat", "lstat", "pipe", "dup2", "poll",
        ] {
            assert_eq!(syscall(a, name), None, "aarch64 has no {name}");
        }
    }

    #[test]
    fn security_relevant_argument_kinds() {
        // (name, kinds on both arches); checked against the kernel's
        // SYSCALL_DEFINEs.
        let both = [
            ("socket", "iii"),
            ("socketpair", "iiil"),
            ("clone", "illll"),
            ("clone3", "ll"),
            ("unshare", "l"),
            ("setns", "ii"),
            ("ptrace", "llll"),
            ("process_vm_readv", "illlll"),
            ("process_vm_writev", "illlll"),
            ("kill", "ii"),
            ("tkill", "ii"),
            ("tgkill", "iii"),
            ("ioctl", "iil"),
            ("prctl", "illll"),
            ("personality", "i"),
            ("mount", "lllll"),
            ("umount2", "li"),
            ("bpf", "ili"),
            ("perf_event_open", "liiil"),
            ("keyctl", "illll"),
            ("fcntl", "iil"),
            ("mmap", "llllll"),
            ("mprotect", "lll"),
            ("openat", "ilii"),
            ("openat2", "illl"),
            ("execve", "lll"),
            ("execveat", "illli"),
        ];
        for arch in Arch::ALL {
            for (name, spec) in both {
                let s = syscall(arch, name);
                assert_eq!(
                    s.map(|s| s.args.clone()),
                    Some(kinds(spec)),
                    "{} {name}",
                    arch.name()
                );
            }
        }
        assert_eq!(
            syscall(Arch::X86_64, "open").map(|s| s.args.clone()),
            Some(kinds("lii"))
        );
        assert_eq!(
            syscall(Arch::X86_64, "fork").map(|s| s.args.clone()),
            Some(Vec::new())
        );
    }

    #[test]
    fn every_errno_line_parses_without_duplicate_names() {
        let mut names = HashSet::new();
        let mut last = 0;
        for (lineno, line) in data_lines(ERRNO_TSV) {
            let (name, number) = match parse_errno_line(line) {
                Ok(v) => v,
                Err(e) => panic!("errno.tsv:{lineno}: {e}: {line:?}"),
            };
            assert!(names.insert(name), "duplicate errno {name}");
            assert!(number >= last, "errno.tsv:{lineno}: not sorted");
            last = number;
        }
        assert_eq!(ERRNOS.len(), names.len());
    }

    #[test]
    fn well_known_errnos() {
        assert_eq!(errno("EPERM"), Some(1));
        assert_eq!(errno("EACCES"), Some(13));
        assert_eq!(errno("ENOSYS"), Some(38));
        assert_eq!(errno("EAGAIN"), Some(11));
        assert_eq!(errno("EWOULDBLOCK"), Some(11));
        assert_eq!(errno("EDEADLOCK"), Some(35));
        assert_eq!(errno("ENOTSUP"), Some(95));
        assert_eq!(errno("EHWPOISON"), Some(133));
        assert_eq!(errno("EBOGUS"), None);
        assert_eq!(errno_name(1), Some("EPERM"));
        assert_eq!(errno_name(11), Some("EAGAIN"));
        assert_eq!(errno_name(35), Some("EDEADLK"));
        assert_eq!(errno_name(95), Some("EOPNOTSUPP"));
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(41), None);
        for n in 1..=133 {
            if n != 41 && n != 58 {
                assert!(errno_name(n).is_some(), "errno {n} has no name");
            }
        }
    }

    #[test]
    fn every_constant_line_parses_without_duplicate_names() {
        let mut names = HashSet::new();
        for (lineno, line) in data_lines(CONSTANTS_TSV) {
            let (name, _) = match parse_constant_line(line) {
                Ok(v) => v,
                Err(e) => panic!("constants.tsv:{lineno}: {e}: {line:?}"),
            };
            assert!(names.insert(name), "duplicate constant {name}");
        }
        assert_eq!(CONSTANTS.len(), names.len());
    }

    #[test]
    fn well_known_constants() {
        for (name, value) in [
            ("AF_UNSPEC", 0),
            ("AF_UNIX", 1),
            ("AF_LOCAL", 1),
            ("AF_INET", 2),
            ("AF_INET6", 10),
            ("AF_NETLINK", 16),
            ("AF_PACKET", 17),
            ("AF_VSOCK", 40),
            ("AF_XDP", 44),
            ("SOCK_STREAM", 1),
            ("SOCK_DGRAM", 2),
            ("SOCK_RAW", 3),
            ("SOCK_SEQPACKET", 5),
            ("SOCK_NONBLOCK", 0o4000),
            ("SOCK_CLOEXEC", 0o2000000),
            ("CLONE_NEWTIME", 0x80),
            ("CLONE_VM", 0x100),
            ("CLONE_THREAD", 0x10000),
            ("CLONE_NEWNS", 0x20000),
            ("CLONE_NEWUSER", 0x1000_0000),
            ("CLONE_NEWNET", 0x4000_0000),
            ("TIOCSTI", 0x5412),
            ("TIOCLINUX", 0x541C),
            ("PRIO_PROCESS", 0),
            ("IOPRIO_WHO_PROCESS", 1),
            ("CLONE_INTO_CGROUP", 0x2_0000_0000),
        ] {
            assert_eq!(constant(name), Some(value), "{name}");
        }
        assert_eq!(constant("AF_MAX"), None);
        assert_eq!(constant("CLONE_ARGS_SIZE_VER0"), None);
    }

    #[test]
    fn arch_names_and_audit_values() {
        for arch in Arch::ALL {
            assert_eq!(Arch::from_name(arch.name()), Some(arch));
            let json = serde_json::to_string(&arch).unwrap();
            assert_eq!(json, format!("\"{}\"", arch.name()));
            assert_eq!(serde_json::from_str::<Arch>(&json).unwrap(), arch);
        }
        assert_eq!(Arch::from_name("arm"), None);
        assert_eq!(Arch::X86_64.audit_arch(), 0xC000_003E);
        assert_eq!(Arch::Aarch64.audit_arch(), 0xC000_00B7);
        assert_eq!(serde_json::to_string(&ArgKind::Long).unwrap(), "\"long\"");
    }

    #[test]
    fn malformed_lines_are_rejected() {
        assert!(parse_syscall_line("read\t0").is_err());
        assert!(parse_syscall_line("read\tzero\tint").is_err());
        assert!(parse_syscall_line("read\t0\tint,short").is_err());
        assert!(parse_syscall_line("read\t0\tint,").is_err());
        assert!(parse_syscall_line("Read\t0\t").is_err());
        assert!(parse_syscall_line("x\t0\tint,int,int,int,int,int,int").is_err());
        assert!(parse_syscall_line("read\t0\t\textra").is_err());
        assert!(parse_errno_line("EPERM 1").is_err());
        assert!(parse_errno_line("EPERM\t-1").is_err());
        assert!(parse_constant_line("AF_UNIX\t0xZZ").is_err());
        assert_eq!(parse_constant_line("X\t0x10"), Ok(("X", 16)));
    }
}
