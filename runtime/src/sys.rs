//! The only unsafe code of the runtime: raw system calls std does not offer.

#[cfg(all(feature = "egress", target_os = "linux"))]
pub mod egress;

#[cfg(target_os = "linux")]
pub mod confine;

#[cfg(all(feature = "compiler", target_os = "linux"))]
use crate::artifact::Instruction;

#[cfg(target_os = "linux")]
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

#[cfg(target_os = "linux")]
#[expect(unsafe_code, reason = "it takes ownership of a raw descriptor")]
/// The descriptor a system call returned, owned, or the error it set.
///
/// # Safety
///
/// `ret` is what a system call that creates a descriptor has just returned, with nothing
/// in between: a negative value, or a descriptor that nothing else owns.
unsafe fn owned_fd(ret: libc::c_long) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let fd = libc::c_int::try_from(ret).unwrap_or(-1);
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: by this function's contract, `fd` is a fresh descriptor nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

#[cfg(target_os = "linux")]
/// `Ok` for a system call that returned 0, else the error it set.
fn zero_or_errno(rc: impl Into<i64>) -> std::io::Result<()> {
    if rc.into() == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(target_os = "linux")]
/// `struct landlock_ruleset_attr` (include/uapi/linux/landlock.h). ABI 1 knows the first
/// member, ABI 4 the second, ABI 6 the third; an older kernel accepts the whole struct as
/// long as the members it does not know are zero.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RulesetAttr {
    pub handled_access_fs: u64,
    pub handled_access_net: u64,
    pub scoped: u64,
}

#[cfg(target_os = "linux")]
/// Creates a Landlock ruleset (`landlock_create_ruleset`).
pub fn landlock_create_ruleset(attr: &RulesetAttr) -> std::io::Result<std::os::fd::OwnedFd> {
    #[expect(
        unsafe_code,
        reason = "landlock_create_ruleset has no safe wrapper in std or libc"
    )]
    // SAFETY: `attr` is an initialized `landlock_ruleset_attr` that outlives the call, and the
    // size passed is its own; the kernel only reads it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::from_ref(attr),
            std::mem::size_of::<RulesetAttr>(),
            0_u32,
        )
    };
    #[expect(unsafe_code, reason = "owning the descriptor the call created")]
    // SAFETY: `fd` is landlock_create_ruleset's return value, just returned.
    unsafe {
        owned_fd(fd)
    }
}

#[cfg(target_os = "linux")]
/// A rule attribute struct of `landlock_add_rule`, and the rule type that names it.
trait RuleAttr {
    const RULE_TYPE: libc::c_int;
}

#[cfg(target_os = "linux")]
/// `struct landlock_path_beneath_attr`, packed as the kernel declares it.
#[repr(C, packed)]
struct PathBeneath {
    allowed_access: u64,
    parent_fd: i32,
}

#[cfg(target_os = "linux")]
impl RuleAttr for PathBeneath {
    /// `LANDLOCK_RULE_PATH_BENEATH`.
    const RULE_TYPE: libc::c_int = 1;
}

#[cfg(target_os = "linux")]
/// `struct landlock_net_port_attr`.
#[repr(C)]
struct NetPort {
    allowed_access: u64,
    port: u64,
}

#[cfg(target_os = "linux")]
impl RuleAttr for NetPort {
    /// `LANDLOCK_RULE_NET_PORT`.
    const RULE_TYPE: libc::c_int = 2;
}

#[cfg(target_os = "linux")]
/// Adds a rule to a ruleset: `LANDLOCK_RULE_PATH_BENEATH` (`allowed` beneath `parent`).
pub fn landlock_add_path_rule(
    ruleset: std::os::fd::BorrowedFd<'_>,
    allowed: u64,
    parent: std::os::fd::BorrowedFd<'_>,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let attr = PathBeneath {
        allowed_access: allowed,
        parent_fd: parent.as_raw_fd(),
    };
    add_rule(ruleset, &attr)
}

#[cfg(target_os = "linux")]
/// Adds a rule to a ruleset: `LANDLOCK_RULE_NET_PORT` (`allowed` on TCP `port`).
pub fn landlock_add_port_rule(
    ruleset: std::os::fd::BorrowedFd<'_>,
    allowed: u64,
    port: u16,
) -> std::io::Result<()> {
    let attr = NetPort {
        allowed_access: allowed,
        port: u64::from(port),
    };
    add_rule(ruleset, &attr)
}

#[cfg(target_os = "linux")]
fn add_rule<A: RuleAttr>(ruleset: std::os::fd::BorrowedFd<'_>, attr: &A) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    #[expect(
        unsafe_code,
        reason = "landlock_add_rule has no safe wrapper in std or libc"
    )]
    // SAFETY: `attr` is an initialized attribute struct of the type `A::RULE_TYPE` names (the
    // trait pairs them), alive for the call; the kernel only reads it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            A::RULE_TYPE,
            std::ptr::from_ref(attr),
            0_u32,
        )
    };
    zero_or_errno(rc)
}

#[cfg(target_os = "linux")]
/// Number of threads of this process (`num_threads` of `/proc/self/stat`), if it can be read.
/// A process of one thread learns it from [`single_threaded`] without `/proc` (opening and
/// reading `/proc/self/stat` costs about 20 µs in a fresh process).
pub fn thread_count() -> Option<usize> {
    if single_threaded() {
        return Some(1);
    }
    thread_count_from_proc()
}

#[cfg(target_os = "linux")]
/// Whether the kernel says this process has one thread: `unshare(CLONE_THREAD)` does nothing
/// in a single-threaded process and fails with `EINVAL` in any other (unshare(2)). `false`
/// also when the call is refused for another reason (a seccomp filter of the caller's):
/// `/proc` then answers.
fn single_threaded() -> bool {
    #[expect(unsafe_code, reason = "unshare has no safe wrapper")]
    // SAFETY: a flag only; with CLONE_THREAD alone nothing is unshared (a single-threaded
    // process already owns its thread group).
    let rc = unsafe { libc::unshare(libc::CLONE_THREAD) };
    rc == 0
}

#[cfg(target_os = "linux")]
/// [`thread_count`] as `/proc/self/stat` tells it.
fn thread_count_from_proc() -> Option<usize> {
    use std::io::Read;
    // Read into the stack: the line is about 300 bytes (52 fields, the name at most 64).
    let mut buf = [0_u8; 4096];
    let mut file = std::fs::File::open("/proc/self/stat").ok()?;
    let mut len = 0;
    loop {
        let n = file.read(buf.get_mut(len..)?).ok()?;
        if n == 0 {
            break;
        }
        len += n;
    }
    num_threads(buf.get(..len)?)
}

#[cfg(target_os = "linux")]
/// Field 20 of a `/proc/PID/stat` line. The name (field 2) is in parentheses and may hold
/// anything, spaces and parentheses included: the fields after it start after the last `)`.
fn num_threads(stat: &[u8]) -> Option<usize> {
    let close = stat.iter().rposition(|b| *b == b')')?;
    let field = stat
        .get(close + 1..)?
        .split(|b| *b == b' ')
        .filter(|f| !f.is_empty())
        .nth(20 - 3)?;
    std::str::from_utf8(field).ok()?.parse().ok()
}

#[cfg(all(feature = "compiler", target_os = "linux"))]
/// Sets `no_new_privs` (the probe filter needs it).
pub fn set_no_new_privs() -> std::io::Result<()> {
    #[expect(unsafe_code, reason = "prctl has no safe wrapper in std or libc")]
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    zero_or_errno(rc)
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

#[cfg(target_os = "linux")]
/// Opens a path with `O_PATH | O_CLOEXEC` (and `O_NOFOLLOW` when `nofollow`), refusing a
/// symbolic link in any component with `ELOOP` (`openat2`, `RESOLVE_NO_SYMLINKS`; Linux 5.6,
/// older than Landlock). With `nofollow`, a final component that is a link opens the link.
pub fn open_path_no_symlinks(path: &str, nofollow: bool) -> std::io::Result<std::fs::File> {
    const RESOLVE_NO_SYMLINKS: u64 = 0x04;
    let c_path = std::ffi::CString::new(path)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut flags = libc::O_PATH | libc::O_CLOEXEC;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    /// `struct open_how` (include/uapi/linux/openat2.h).
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: u64::try_from(flags).unwrap_or_default(),
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    #[expect(unsafe_code, reason = "openat2 has no safe wrapper in std or libc")]
    // SAFETY: `c_path` is a NUL-terminated string and `how` an initialized `open_how`, both
    // alive for the call; the size passed is `how`'s.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            &raw const how,
            std::mem::size_of::<OpenHow>(),
        )
    };
    #[expect(unsafe_code, reason = "owning the descriptor the call created")]
    // SAFETY: `fd` is openat2's return value, just returned.
    unsafe { owned_fd(fd) }.map(std::fs::File::from)
}

#[cfg(all(feature = "compiler", target_os = "linux"))]
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

/// Calls system call `nr` with `args` and returns the errno it failed with (0 on success).
/// Only for a call the probe filter stops: the `probe` argument exists only once that filter
/// is installed.
#[cfg(all(feature = "compiler", target_os = "linux"))]
pub fn call_stopped_syscall(_probe: &crate::probe::SyscallProbe, nr: u32, args: [u64; 6]) -> i32 {
    let [a, b, c, d, e, f] = args;
    #[expect(
        unsafe_code,
        reason = "a raw system call by number has no safe wrapper"
    )]
    // SAFETY: `_probe` proves that a seccomp filter answering exactly this call (this arch,
    // this number, the gate argument holding `GATE`, which `ask` put there) with an errno is
    // installed; filters cannot be removed, and seccomp stops the call before the kernel runs
    // it whatever later filters say (module doc of `probe`). No memory is read or written.
    let rc = unsafe { libc::syscall(libc::c_long::from(nr), a, b, c, d, e, f) };
    if rc == -1 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// Sends signal 0 to this process: checks that a signal could be delivered, delivers none.
#[cfg(all(feature = "compiler", target_os = "linux"))]
pub fn signal_self() -> Result<(), i32> {
    #[expect(unsafe_code, reason = "kill has no safe wrapper in std or libc")]
    // SAFETY: getpid and kill take and return integers; signal 0 delivers nothing.
    let rc = unsafe { libc::kill(libc::getpid(), 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1))
    }
}

/// Sets this process's core file size limit to 0.
#[cfg(all(feature = "compiler", target_os = "linux"))]
pub fn no_core_dumps() -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    #[expect(unsafe_code, reason = "setrlimit has no safe wrapper in std or libc")]
    // SAFETY: `limit` is a valid rlimit that outlives the call; the kernel only reads it.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_CORE, &raw const limit) };
    zero_or_errno(rc)
}

/// `socket(domain, kind | SOCK_CLOEXEC, 0)`: a socket, unbound and unconnected (std opens
/// sockets only bound or connected).
#[cfg(all(feature = "compiler", target_os = "linux"))]
pub fn socket(domain: i32, kind: i32) -> Result<std::os::fd::OwnedFd, i32> {
    #[expect(unsafe_code, reason = "std has no unbound socket")]
    // SAFETY: socket takes integers only; the descriptor it returns is owned at once.
    let fd = unsafe {
        owned_fd(libc::c_long::from(libc::socket(
            domain,
            kind | libc::SOCK_CLOEXEC,
            0,
        )))
    };
    fd.map_err(|e| e.raw_os_error().unwrap_or(-1))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn thread_count_follows_the_process() {
        assert_eq!(
            num_threads(b"12 (a) b) c) S 1 12 12 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 3 0 9"),
            Some(3)
        );
        assert_eq!(num_threads(b"12 (a b) S 1 12"), None);
        // Other tests run in threads of their own: only a lower bound holds here.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            ready_tx.send(()).unwrap();
            done_rx.recv().unwrap();
        });
        ready_rx.recv().unwrap();
        // The kernel's answer without /proc: not single-threaded (EINVAL).
        assert!(!single_threaded());
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EINVAL)
        );
        assert!(thread_count().is_some_and(|n| n >= 2));
        done_tx.send(()).unwrap();
        thread.join().unwrap();
    }

    #[test]
    fn open_path_refuses_links_in_any_component() {
        let dir = std::env::temp_dir().join(format!("nonoc-sys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::os::unix::fs::symlink("a", dir.join("c")).unwrap();
        let p = |rel: &str| dir.join(rel).display().to_string();
        let eloop = |r: std::io::Result<std::fs::File>| r.unwrap_err().raw_os_error();
        assert!(open_path_no_symlinks(&p("a/b"), false).is_ok());
        assert!(open_path_no_symlinks(&p("a/b"), true).is_ok());
        // A link on the way: refused, following or not.
        assert_eq!(
            eloop(open_path_no_symlinks(&p("c/b"), false)),
            Some(libc::ELOOP)
        );
        assert_eq!(
            eloop(open_path_no_symlinks(&p("c/b"), true)),
            Some(libc::ELOOP)
        );
        // A final link: refused when following, the link itself otherwise.
        assert_eq!(
            eloop(open_path_no_symlinks(&p("c"), false)),
            Some(libc::ELOOP)
        );
        let link = open_path_no_symlinks(&p("c"), true).unwrap();
        let meta = std::fs::read_link(format!("/proc/self/fd/{}", {
            use std::os::fd::AsRawFd;
            link.as_raw_fd()
        }))
        .unwrap();
        assert_eq!(meta, dir.join("c"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Creates a fresh directory, mode `0700`, from `template` (a path ending in `XXXXXX`, which
/// `mkdtemp(3)` replaces), and returns its path.
pub fn mkdtemp(template: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut bytes = std::ffi::CString::new(template.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("the temporary directory's path holds a NUL byte"))?
        .into_bytes_with_nul();
    #[expect(unsafe_code, reason = "mkdtemp has no safe wrapper in std")]
    // SAFETY: `bytes` is a NUL-terminated, writable buffer that lives across the call;
    // mkdtemp writes only inside it (the six characters before the NUL).
    let made = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
    if made.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    bytes.pop();
    Ok(std::path::PathBuf::from(std::ffi::OsString::from_vec(
        bytes,
    )))
}

#[cfg(target_os = "linux")]
/// Sets an environment variable of this process. Only for a process known to run one thread
/// (`Ring::apply` checks it first): another thread reading the environment meanwhile would
/// be undefined behaviour.
pub fn set_env_single_threaded(name: &str, value: &str) {
    #[expect(
        unsafe_code,
        reason = "set_var is unsafe where other threads may read the environment"
    )]
    // SAFETY: the caller checked that this process has one thread.
    unsafe {
        std::env::set_var(name, value);
    }
}
