//! The only unsafe code of the runtime: raw system calls the `landlock` crate does not offer.

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
