//! The egress proxy's system calls: its own process (fork, session, parent watch,
//! descriptors) and zero-copy tunnels (splice).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::{owned_fd, zero_or_errno};

/// Which side of a fork this is.
#[derive(Debug)]
pub enum Forked {
    /// The new process.
    Child,
    /// The caller; the child's pid.
    Parent(libc::pid_t),
}

/// `fork()`, in a process that runs one thread only (else an error, and no fork): a
/// child of a multi-threaded process may find locks held by threads that do not exist in
/// it. The child should end with [`exit_now`], not by returning into the caller's code.
pub fn fork_single_threaded() -> io::Result<Forked> {
    match super::thread_count() {
        Some(1) => {}
        n => {
            return Err(io::Error::other(format!(
                "this process runs {} threads",
                n.map_or_else(|| "an unknown number of".to_owned(), |n| n.to_string())
            )));
        }
    }
    #[expect(unsafe_code, reason = "fork, in a process checked to run one thread")]
    // SAFETY: the process runs one thread (checked just above; nothing between the check
    // and the call starts one), so the child inherits no lock another thread holds.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Ends the process at once, running no exit handlers and flushing nothing (the parent's
/// buffers, copied by fork, are the parent's to flush).
pub fn exit_now(code: i32) -> ! {
    #[expect(unsafe_code, reason = "_exit has no safe wrapper in std")]
    // SAFETY: _exit takes an integer and does not return.
    unsafe {
        libc::_exit(code)
    }
}

/// `setsid()`: a new session, no controlling terminal (terminal signals stay with the
/// command's process group).
pub fn setsid() -> io::Result<()> {
    #[expect(unsafe_code, reason = "setsid has no safe wrapper in std")]
    // SAFETY: setsid takes no arguments and touches no memory of ours.
    let rc = unsafe { libc::setsid() };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A pidfd for process `pid` (`pidfd_open`, Linux 5.3): readable once the process exits.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    #[expect(unsafe_code, reason = "pidfd_open has no wrapper in std or libc")]
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0_u32) };
    #[expect(unsafe_code, reason = "owning the descriptor the call created")]
    // SAFETY: `fd` is pidfd_open's return value, just returned.
    unsafe {
        owned_fd(fd)
    }
}

/// Sends `signal` to process `pid`.
pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    #[expect(unsafe_code, reason = "kill has no safe wrapper in std")]
    // SAFETY: kill takes integers only.
    let rc = unsafe { libc::kill(pid, signal) };
    zero_or_errno(rc)
}

/// Waits for child `pid` to end; its wait status.
pub fn waitpid(pid: libc::pid_t) -> io::Result<libc::c_int> {
    let mut status: libc::c_int = 0;
    loop {
        #[expect(
            unsafe_code,
            reason = "waitpid has no safe wrapper in std for a raw pid"
        )]
        // SAFETY: `status` is a valid int the call writes to; it outlives the call.
        let rc = unsafe { libc::waitpid(pid, &raw mut status, 0) };
        if rc == pid {
            return Ok(status);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Makes `target` a copy of `source` (`dup2`).
pub fn dup2(source: BorrowedFd<'_>, target: RawFd) -> io::Result<()> {
    #[expect(unsafe_code, reason = "dup2 has no safe wrapper in std")]
    // SAFETY: dup2 takes descriptors; `source` is open for the call, `target` is closed and
    // replaced by the kernel, which is what the caller asks for.
    let rc = unsafe { libc::dup2(source.as_raw_fd(), target) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Closes every descriptor from 3 up but those in `keep`.
///
/// Descriptors owned by objects of this process (a `File`, a socket) are closed under
/// them: call it only in a forked child before it creates any, keeping those it still
/// uses.
pub fn close_other_fds(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd > 2).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first: libc::c_uint = 3;
    for fd in keep {
        let fd =
            libc::c_uint::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        if fd > first {
            close_range(first, fd - 1)?;
        }
        first = fd + 1;
    }
    close_range(first, libc::c_uint::MAX)
}

fn close_range(first: libc::c_uint, last: libc::c_uint) -> io::Result<()> {
    #[expect(unsafe_code, reason = "close_range has no safe wrapper in std")]
    // SAFETY: close_range takes integers; the descriptors it closes are, by
    // `close_other_fds`'s contract, owned by nothing that will use them.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0_u32) };
    zero_or_errno(rc)
}

/// Ignores `SIGPIPE` in this process (the forked proxy: a write to a closed socket must
/// be an `EPIPE`, not the end of the proxy).
pub fn ignore_sigpipe() -> io::Result<()> {
    #[expect(unsafe_code, reason = "signal has no safe wrapper in std")]
    // SAFETY: SIG_IGN installs no handler code; signal takes integers.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    if previous == libc::SIG_ERR {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Whether `SIGPIPE` is ignored in this process (splice into a socket whose peer has
/// gone raises it, where a `send` with `MSG_NOSIGNAL` does not).
pub fn sigpipe_ignored() -> bool {
    // SAFETY: an all-zero sigaction is a valid value of the C struct.
    #[expect(unsafe_code, reason = "zeroed C struct")]
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    #[expect(unsafe_code, reason = "sigaction has no safe wrapper in std")]
    // SAFETY: a null new action only reads the current one into `current`, which is a valid
    // sigaction that outlives the call.
    let rc = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &raw mut current) };
    rc == 0 && current.sa_sigaction == libc::SIG_IGN
}

/// Raises the soft limit on open descriptors to the hard limit (a proxy of many tunnels
/// holds two per tunnel).
pub fn raise_nofile_limit() -> io::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    #[expect(unsafe_code, reason = "getrlimit has no safe wrapper in std")]
    // SAFETY: `limit` is a valid rlimit that outlives the call; the kernel writes it.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) };
    zero_or_errno(rc)?;
    if limit.rlim_cur >= limit.rlim_max {
        return Ok(());
    }
    limit.rlim_cur = limit.rlim_max;
    #[expect(unsafe_code, reason = "setrlimit has no safe wrapper in std")]
    // SAFETY: `limit` is a valid rlimit that outlives the call; the kernel only reads it.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) };
    zero_or_errno(rc)
}

/// A pipe for [`splice`], both ends non-blocking and close-on-exec, sized `size` bytes where
/// the kernel allows (`F_SETPIPE_SZ`; the default 64 KiB otherwise).
pub fn splice_pipe(size: usize) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [libc::c_int; 2] = [-1, -1];
    #[expect(unsafe_code, reason = "pipe2 has no safe wrapper with flags in std")]
    // SAFETY: `fds` is an array of two ints the kernel writes; it outlives the call.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    zero_or_errno(rc)?;
    #[expect(unsafe_code, reason = "owning the descriptors pipe2 created")]
    // SAFETY: pipe2 succeeded: both are fresh descriptors nothing else owns.
    let (read, write) = unsafe {
        (
            owned_fd(libc::c_long::from(fds[0]))?,
            owned_fd(libc::c_long::from(fds[1]))?,
        )
    };
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    #[expect(unsafe_code, reason = "fcntl has no safe wrapper in std")]
    // SAFETY: F_SETPIPE_SZ takes an integer; a failure (over the system's maximum) leaves the
    // pipe at its default size, which still works.
    let _ = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
    Ok((read, write))
}

/// Moves up to `len` bytes from `from` to `to` without copying them through user memory
/// (`splice`, non-blocking, `SPLICE_F_MOVE`). One of the two is a pipe. `Ok(0)`: end of
/// input.
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    #[expect(unsafe_code, reason = "splice has no safe wrapper in std")]
    // SAFETY: both descriptors are open for the call; null offsets make the kernel use and
    // advance the descriptors' own positions (sockets and pipes have none); no memory of ours
    // is touched.
    let n = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Shuts down the sending side of a socket (the peer reads end of input).
pub fn shutdown_write(socket: BorrowedFd<'_>) -> io::Result<()> {
    #[expect(
        unsafe_code,
        reason = "shutdown on a borrowed socket has no safe wrapper in std"
    )]
    // SAFETY: shutdown takes a descriptor, open for the call, and an integer.
    let rc = unsafe { libc::shutdown(socket.as_raw_fd(), libc::SHUT_WR) };
    zero_or_errno(rc)
}

/// Whether a socket is listening (`SO_ACCEPTCONN`).
pub fn is_listening(socket: BorrowedFd<'_>) -> io::Result<bool> {
    let mut value: libc::c_int = 0;
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    #[expect(unsafe_code, reason = "getsockopt has no safe wrapper in std")]
    // SAFETY: `value` and `len` are valid, outlive the call, and `len` is `value`'s size.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    zero_or_errno(rc)?;
    Ok(value != 0)
}

/// Blocks until `fd` is readable (a pidfd: until its process ends), or an error other
/// than an interruption.
pub fn wait_readable(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        #[expect(unsafe_code, reason = "poll has no safe wrapper in std")]
        // SAFETY: `poll` is one valid pollfd that outlives the call; the count says one.
        let rc = unsafe { libc::poll(&raw mut poll, 1, -1) };
        if rc > 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if rc < 0 && err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The process [`forward_termination_signals`] passes signals on to (0: none).
static FORWARD_TO: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The handler: sends the signal on to [`FORWARD_TO`]. Async-signal-safe: an atomic load and
/// `kill`.
extern "C" fn forward(signal: libc::c_int) {
    let pid = FORWARD_TO.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        #[expect(unsafe_code, reason = "kill has no safe wrapper in std")]
        // SAFETY: kill takes integers only and is async-signal-safe.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// The signals [`forward_termination_signals`] passes on: those that end a process by default
/// and that a supervisor or a terminal sends it (`SIGKILL` and `SIGSTOP` cannot be caught),
/// and `SIGWINCH`, which a terminal sends its foreground job only.
pub const FORWARDED: [libc::c_int; 8] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGWINCH,
];

/// From now on the signals of [`FORWARDED`] sent to this process are passed on to `pid`
/// instead of ending it: a command spawned in a session of its own gets the terminal's Ctrl-C
/// that reaches its parent, and the parent stays to stop the proxy and remove the command's
/// private temporary directory.
pub fn forward_termination_signals(pid: libc::pid_t) -> io::Result<()> {
    FORWARD_TO.store(pid, std::sync::atomic::Ordering::Relaxed);
    for signal in FORWARDED {
        // SAFETY: an all-zero sigaction is a valid value of the C struct.
        #[expect(unsafe_code, reason = "zeroed C struct")]
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = forward as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        #[expect(unsafe_code, reason = "sigaction has no safe wrapper in std")]
        // SAFETY: `action` is a valid sigaction whose handler is async-signal-safe (above);
        // it outlives the call; the old action is not asked for.
        let rc = unsafe { libc::sigaction(signal, &raw const action, std::ptr::null_mut()) };
        zero_or_errno(rc)?;
    }
    Ok(())
}
