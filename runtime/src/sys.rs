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

/// macOS: the sandbox library's C interface (libsystem_sandbox, part of libSystem).
///
/// Not compiled for macOS by this project's Linux CI (the module, without its `cfg`, is
/// checked with clippy on Linux); kept to three declarations and two small functions so it
/// can be checked by reading. `sandbox_init_with_parameters` is not in the
/// public header (Chromium declares it the same way); its parameters are a flat,
/// NULL-terminated array `key, value, key, value, ..., NULL`.
#[cfg(target_os = "macos")]
pub mod macos {
    use std::ffi::{CStr, CString, c_char, c_int};

    #[expect(unsafe_code, reason = "the sandbox library has no safe Rust interface")]
    unsafe extern "C" {
        fn sandbox_init_with_parameters(
            profile: *const c_char,
            flags: u64,
            parameters: *const *const c_char,
            errorbuf: *mut *mut c_char,
        ) -> c_int;
        fn sandbox_free_error(errorbuf: *mut c_char);
        fn sandbox_check(
            pid: libc::pid_t,
            operation: *const c_char,
            filter_type: c_int,
            ...
        ) -> c_int;
    }

    /// Whether this process already runs in a sandbox.
    pub fn is_sandboxed() -> bool {
        #[expect(unsafe_code, reason = "one call into the sandbox library")]
        // SAFETY: with a NULL operation and filter type 0 (SANDBOX_FILTER_NONE) sandbox_check
        // only reports whether the process has a sandbox; it reads no further arguments.
        let rc = unsafe { sandbox_check(libc::getpid(), std::ptr::null(), 0) };
        rc != 0
    }

    /// Applies an SBPL profile with its parameters to this process, irrevocably.
    pub fn init_with_parameters(profile: &str, params: &[(String, String)]) -> Result<(), String> {
        let profile = CString::new(profile).map_err(|_| "the profile contains a NUL byte")?;
        let mut strings = Vec::with_capacity(params.len() * 2);
        for (key, value) in params {
            strings.push(
                CString::new(key.as_str()).map_err(|_| "a parameter name contains a NUL byte")?,
            );
            strings.push(
                CString::new(value.as_str())
                    .map_err(|_| "a parameter value contains a NUL byte")?,
            );
        }
        let mut array: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        array.push(std::ptr::null());
        let mut error: *mut c_char = std::ptr::null_mut();
        #[expect(unsafe_code, reason = "one call into the sandbox library")]
        // SAFETY: `profile` and every string of `array` are NUL-terminated and outlive the
        // call; `array` ends with NULL; `error` is a valid place for the library to store an
        // error string.
        let rc = unsafe {
            sandbox_init_with_parameters(profile.as_ptr(), 0, array.as_ptr(), &mut error)
        };
        if rc == 0 {
            return Ok(());
        }
        if error.is_null() {
            return Err(format!("error {rc}"));
        }
        #[expect(unsafe_code, reason = "reading and freeing the library's error string")]
        // SAFETY: on failure the library stores a NUL-terminated string it allocated in
        // `error`; it is read once, then freed once with the library's own function.
        let message = unsafe {
            let message = CStr::from_ptr(error).to_string_lossy().into_owned();
            sandbox_free_error(error);
            message
        };
        Err(message)
    }
}
