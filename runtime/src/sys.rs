//! The only unsafe code of the runtime: raw system calls neither std nor the `landlock` crate
//! offers.

use crate::artifact::Instruction;

/// The Landlock ABI of the running kernel (0: Landlock unsupported or disabled).
pub fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_ulong = 1;
    #[expect(unsafe_code, reason = "one raw syscall to query the Landlock ABI")]
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) only returns the ABI version (or -1
    // with errno); it reads no memory and creates no file descriptor.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0_usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(version).unwrap_or(0)
}

/// Number of threads of this process (`/proc/self/task` entries), if it can be read.
pub fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
}

/// Sets `no_new_privs` (when Landlock is unavailable, nothing else sets it).
pub fn set_no_new_privs() -> std::io::Result<()> {
    #[expect(unsafe_code, reason = "prctl has no safe wrapper in std or libc")]
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Installs a seccomp filter on every thread of the process (`SECCOMP_FILTER_FLAG_TSYNC`).
/// Needs `no_new_privs` (or `CAP_SYS_ADMIN`); irrevocable once it returns `Ok`.
pub fn install_seccomp_filter(program: &[Instruction]) -> std::io::Result<()> {
    let mut filter: Vec<libc::sock_filter> = program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len = u16::try_from(filter.len())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let fprog = libc::sock_fprog {
        len,
        filter: filter.as_mut_ptr(),
    };
    #[expect(unsafe_code, reason = "seccomp(2) has no safe wrapper in std or libc")]
    // SAFETY: `fprog` points at `len` initialized `sock_filter` records in `filter`, and both
    // outlive the call; the kernel copies the program and keeps no pointer to our memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &raw const fprog,
        )
    };
    match rc {
        0 => Ok(()),
        -1 => Err(std::io::Error::last_os_error()),
        // TSYNC: the id of a thread that could not be synchronized; nothing was installed.
        tid => Err(std::io::Error::other(format!(
            "thread {tid} could not take the filter"
        ))),
    }
}
