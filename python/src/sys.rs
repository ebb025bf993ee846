//! The two system calls `Ring.run` needs that std does not offer: waiting for a child without
//! reaping it, and killing its process group.

/// Blocks until the child `pid` has exited, leaving it to be reaped (`waitid` with
/// `WNOWAIT`): until it is, its pid (and so its process group's id) is not reused.
pub fn wait_exited(pid: u32) -> std::io::Result<()> {
    let pid = libc::id_t::from(pid);
    loop {
        #[expect(unsafe_code, reason = "waitid has no safe wrapper in std")]
        // SAFETY: `info` is a writable siginfo_t that outlives the call.
        let rc = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT)
        };
        if rc == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Sends SIGKILL to the process group `pgid`. The caller makes sure the group's leader is
/// not reaped yet (so the id is still the group's).
pub fn kill_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    #[expect(unsafe_code, reason = "killpg has no safe wrapper in std")]
    // SAFETY: killpg takes plain integers; a group that is gone is ESRCH, which is fine.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}
