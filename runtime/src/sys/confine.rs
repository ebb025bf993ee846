//! The confining sequence's system calls: what a process does to itself between the plan
//! the parent prepared (`crate::confine`) and `execve` (or, in-process, the return of
//! `Ring::apply`).
//!
//! Everything here that runs in a forked child makes raw system calls only: no allocation, no
//! lock, nothing that a thread of the parent may have held at the fork. Every path, map line,
//! filter and descriptor comes prepared in a [`Plan`]; a failure is a [`Failure`] (the step,
//! the index of the mask it concerns, the errno), written to a close-on-exec pipe as twelve
//! bytes for the parent to read.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A step of the sequence, as the child reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    /// `setsid` (or leaving the caller's terminal).
    Session = 1,
    /// `unshare` of the namespaces.
    Unshare,
    /// Writing `deny` to `/proc/self/setgroups`.
    SetGroups,
    /// Writing `/proc/self/uid_map`.
    UidMap,
    /// Writing `/proc/self/gid_map`.
    GidMap,
    /// Making every mount private (`MS_REC | MS_PRIVATE` on `/`).
    MakePrivate,
    /// Creating the empty read-only file and directory that covers are cloned from.
    Scratch,
    /// Opening a mask's target (no symbolic link on the way).
    MaskOpen,
    /// The target is not what placement saw (a link, or another kind of file).
    MaskKind,
    /// Cloning the mount that becomes the mask.
    MaskClone,
    /// Setting the mask's mount attributes (read-only, no exec).
    MaskAttr,
    /// Attaching the mask on its target.
    MaskMove,
    /// Re-entering the working directory (below the masks now).
    Chdir,
    /// Bringing `lo` up in the fresh network namespace.
    Loopback,
    /// Creating the listening socket on loopback.
    Listen,
    /// Handing the listening socket to the parent.
    SendListener,
    /// `setrlimit`.
    Rlimit,
    /// Marking inherited descriptors close-on-exec.
    CloseFds,
    /// A descriptor to pass on is not open.
    PassFd,
    /// Dropping the bounding set.
    Bounding,
    /// Clearing or raising ambient capabilities.
    Ambient,
    /// `capset`.
    Capset,
    /// `no_new_privs`.
    NoNewPrivs,
    /// `landlock_restrict_self`.
    Landlock,
    /// Installing the seccomp filter.
    Seccomp,
}

impl Step {
    const ALL: [Step; 25] = [
        Step::Session,
        Step::Unshare,
        Step::SetGroups,
        Step::UidMap,
        Step::GidMap,
        Step::MakePrivate,
        Step::Scratch,
        Step::MaskOpen,
        Step::MaskKind,
        Step::MaskClone,
        Step::MaskAttr,
        Step::MaskMove,
        Step::Chdir,
        Step::Loopback,
        Step::Listen,
        Step::SendListener,
        Step::Rlimit,
        Step::CloseFds,
        Step::PassFd,
        Step::Bounding,
        Step::Ambient,
        Step::Capset,
        Step::NoNewPrivs,
        Step::Landlock,
        Step::Seccomp,
    ];

    fn from_u32(n: u32) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s as u32 == n)
    }

    /// Whether a failure at this step means the host gives no namespaces (nothing was masked
    /// yet): `best_effort` then falls back to the carve-outs.
    pub fn is_namespace_entry(self) -> bool {
        matches!(
            self,
            Step::Unshare
                | Step::SetGroups
                | Step::UidMap
                | Step::GidMap
                | Step::MakePrivate
                | Step::Scratch
        )
    }
}

/// A step that failed, the mask (or descriptor, or limit) it concerns, and the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub step: Step,
    pub index: u32,
    pub errno: i32,
}

impl Failure {
    fn at(step: Step, index: usize) -> Failure {
        Failure {
            step,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            errno: errno(),
        }
    }

    fn with(step: Step, index: usize, errno: i32) -> Failure {
        Failure {
            step,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            errno,
        }
    }

    /// The errno as an `io::Error`.
    pub fn io_error(self) -> std::io::Error {
        std::io::Error::from_raw_os_error(self.errno)
    }

    fn to_bytes(self) -> [u8; 12] {
        let mut out = [0_u8; 12];
        let words = [
            self.step as u32,
            self.index,
            u32::from_ne_bytes(self.errno.to_ne_bytes()),
        ];
        for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        out
    }

    fn from_bytes(bytes: [u8; 12]) -> Option<Failure> {
        let word = |i: usize| {
            let mut w = [0_u8; 4];
            w.copy_from_slice(bytes.get(i * 4..i * 4 + 4)?);
            Some(u32::from_ne_bytes(w))
        };
        Some(Failure {
            step: Step::from_u32(word(0)?)?,
            index: word(1)?,
            errno: i32::from_ne_bytes(word(2)?.to_ne_bytes()),
        })
    }
}

/// The calling thread's errno (not an allocation: `io::Error` of an OS code is a number).
fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// How the command leaves the caller's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Stay (in-process `apply` of a library caller).
    Keep,
    /// `setsid`, which must succeed (a forked child is never a process group leader).
    New,
    /// `setsid` where it is allowed; a process group leader (a shell's job) or a session
    /// leader gives up its controlling terminal instead (`TIOCNOTTY`), staying in its process
    /// group.
    NewOrDetach,
}

/// What [`enter_session`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOutcome {
    Kept,
    /// A session (and process group) of its own, without a controlling terminal.
    New,
    /// In the caller's process group, without a controlling terminal.
    Detached,
    /// A session leader in the background of its own terminal: it keeps it (giving it up
    /// would hang up the terminal's foreground job).
    Leader,
}

/// A mask to attach in the mount namespace.
#[derive(Debug)]
pub struct Mask {
    /// The resolved path of the target.
    pub path: CString,
    /// Cover the target with an empty read-only directory or file instead of binding it
    /// onto itself.
    pub cover: Option<Cover>,
    /// `MOUNT_ATTR_*` to set on the mask (recursively).
    pub attrs: u64,
    /// The target is a directory (checked again at attach time).
    pub is_dir: bool,
}

/// What covers a read-denied path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    Dir,
    File,
}

/// The listening socket made inside a fresh network namespace.
#[derive(Debug)]
pub struct Loopback {
    /// The port on 127.0.0.1 (0: any).
    pub port: u16,
    /// The child's end of the socket pair the listener is sent over.
    pub sender: OwnedFd,
}

/// The namespaces to enter and what to do in them.
#[derive(Debug)]
pub struct Namespaces {
    /// `CLONE_NEW*` flags for `unshare`.
    pub flags: libc::c_int,
    /// `/proc/self/uid_map` and `gid_map` lines (a user namespace of an unprivileged caller).
    pub maps: Option<(Vec<u8>, Vec<u8>)>,
    /// Masks, parents before children.
    pub masks: Vec<Mask>,
    /// The working directory to enter again once the masks are in place.
    pub cwd: Option<CString>,
    pub loopback: Option<Loopback>,
}

/// Capabilities to keep (bit N: capability N); every other one is dropped.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    pub keep: u64,
    /// The highest capability to drop at most (at most 63). The kernel's capabilities are
    /// numbered from 0 without gaps: the bounding set's drops also stop at the first number
    /// the kernel refuses as unknown (`EINVAL`), so 63 means "every one this kernel has",
    /// without reading `/proc/sys/kernel/cap_last_cap`.
    pub last_cap: u32,
    /// Drop the bounding set too (needs `CAP_SETPCAP`, which a caller without privileges
    /// lacks; `no_new_privs` then keeps `execve` from raising anything).
    pub bounding: bool,
}

/// Everything the sequence needs, prepared.
#[derive(Debug)]
pub struct Plan {
    pub session: Session,
    pub namespaces: Option<Namespaces>,
    /// `(RLIMIT_*, limit)`.
    pub rlimits: Vec<(u32, libc::rlimit)>,
    /// Descriptors to keep besides 0, 1 and 2 (sorted); `None`: leave descriptors alone.
    pub keep_fds: Option<Vec<RawFd>>,
    pub capabilities: Option<Capabilities>,
    pub landlock: Option<OwnedFd>,
    pub seccomp: Vec<libc::sock_filter>,
}

// uapi constants (include/uapi/linux/mount.h, sched.h, fs.h) not all versions of libc have.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
pub const MOUNT_ATTR_RDONLY: u64 = 0x01;
pub const MOUNT_ATTR_NOSUID: u64 = 0x02;
pub const MOUNT_ATTR_NODEV: u64 = 0x04;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x08;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct mount_attr`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `struct open_how`.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// A descriptor a raw call returned, closed when dropped (dropping closes; no allocation).
struct Fd(RawFd);

impl Drop for Fd {
    fn drop(&mut self) {
        #[expect(unsafe_code, reason = "closing a descriptor this module opened")]
        // SAFETY: `self.0` is a descriptor a system call of this module returned and nothing
        // else owns; it is closed once.
        unsafe {
            libc::close(self.0);
        }
    }
}

fn fd_or(ret: libc::c_long, step: Step, index: usize) -> Result<Fd, Failure> {
    match RawFd::try_from(ret) {
        Ok(fd) if fd >= 0 => Ok(Fd(fd)),
        _ => Err(Failure::at(step, index)),
    }
}

fn zero_or(ret: libc::c_long, step: Step, index: usize) -> Result<(), Failure> {
    if ret == 0 {
        Ok(())
    } else {
        Err(Failure::at(step, index))
    }
}

/// Sets the session (first step of the sequence).
pub fn enter_session(session: Session) -> Result<SessionOutcome, Failure> {
    if session == Session::Keep {
        return Ok(SessionOutcome::Kept);
    }
    #[expect(unsafe_code, reason = "setsid has no safe wrapper in std")]
    // SAFETY: setsid takes no argument and touches no memory of ours.
    let rc = unsafe { libc::setsid() };
    if rc >= 0 {
        return Ok(SessionOutcome::New);
    }
    let e = errno();
    if session == Session::New || e != libc::EPERM {
        return Err(Failure::with(Step::Session, 0, e));
    }
    // A process group leader (a shell's job) cannot start a session; a session leader
    // already has one. Either gives up its controlling terminal instead.
    #[expect(unsafe_code, reason = "getsid and getpid have no safe wrapper in std")]
    // SAFETY: both take and return integers only.
    let leader = unsafe { libc::getsid(0) == libc::getpid() };
    #[expect(unsafe_code, reason = "open(2) of a constant path")]
    // SAFETY: the path is a NUL-terminated constant; no memory is written.
    let tty = unsafe {
        libc::open(
            c"/dev/tty".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if tty < 0 {
        // No controlling terminal (ENXIO), or none that can be opened: nothing to leave.
        return Ok(SessionOutcome::Detached);
    }
    let tty = Fd(tty);
    if !leader {
        #[expect(unsafe_code, reason = "ioctl has no safe wrapper")]
        // SAFETY: TIOCNOTTY takes no argument; `tty` is an open descriptor. A process that is
        // not a session leader only loses its own controlling terminal (no signal is sent).
        let rc = unsafe { libc::ioctl(tty.0, libc::TIOCNOTTY) };
        if rc != 0 {
            return Err(Failure::at(Step::Session, 0));
        }
        return Ok(SessionOutcome::Detached);
    }
    // A session leader giving up its terminal hangs up the terminal's foreground process
    // group: only when that group is its own (whose hang-up it ignores meanwhile); a session
    // leader in the background of its own terminal keeps it.
    #[expect(unsafe_code, reason = "tcgetpgrp and getpgrp have no safe wrapper")]
    // SAFETY: integer arguments and results only.
    let foreground = unsafe { libc::tcgetpgrp(tty.0) == libc::getpgrp() };
    if !foreground {
        return Ok(SessionOutcome::Leader);
    }
    // SAFETY: an all-zero `sigaction` is a valid value (SIG_DFL, empty mask, no flags).
    #[expect(unsafe_code, reason = "zeroed plain-data structs for sigaction")]
    let (mut ignore, mut old): (libc::sigaction, libc::sigaction) =
        unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    ignore.sa_sigaction = libc::SIG_IGN;
    #[expect(unsafe_code, reason = "sigaction has no safe wrapper")]
    // SAFETY: both structs are valid for the call; SIG_IGN installs no handler of ours.
    let rc = unsafe { libc::sigaction(libc::SIGHUP, &raw const ignore, &raw mut old) };
    zero_or(libc::c_long::from(rc), Step::Session, 0)?;
    #[expect(unsafe_code, reason = "ioctl has no safe wrapper")]
    // SAFETY: TIOCNOTTY takes no argument; `tty` is an open descriptor. The SIGHUP it sends
    // this process group is ignored (discarded) just now.
    let rc = unsafe { libc::ioctl(tty.0, libc::TIOCNOTTY) };
    let failure = (rc != 0).then(|| Failure::at(Step::Session, 0));
    #[expect(unsafe_code, reason = "sigaction has no safe wrapper")]
    // SAFETY: `old` is what the first call returned; restoring it is valid.
    unsafe {
        libc::sigaction(libc::SIGHUP, &raw const old, std::ptr::null_mut());
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(SessionOutcome::Detached),
    }
}

fn write_file(path: &std::ffi::CStr, bytes: &[u8], step: Step) -> Result<(), Failure> {
    #[expect(unsafe_code, reason = "open(2) in a child that may not allocate")]
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    let fd = fd_or(libc::c_long::from(fd), step, 0)?;
    #[expect(unsafe_code, reason = "write(2) in a child that may not allocate")]
    // SAFETY: `bytes` is valid for reads of its length for the call's duration.
    let n = unsafe { libc::write(fd.0, bytes.as_ptr().cast(), bytes.len()) };
    if usize::try_from(n).ok() != Some(bytes.len()) {
        return Err(Failure::at(step, 0));
    }
    Ok(())
}

/// The empty read-only tmpfs that covers are cloned from: a directory `d` and a file `f`,
/// both mode 000, in a detached mount.
fn scratch() -> Result<Fd, Failure> {
    let step = Step::Scratch;
    #[expect(unsafe_code, reason = "fsopen has no safe wrapper")]
    // SAFETY: the file system name is a NUL-terminated constant.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) };
    let fs = fd_or(fs, step, 0)?;
    for (key, value) in [(c"mode", c"0000"), (c"size", c"4k"), (c"nr_inodes", c"4")] {
        #[expect(unsafe_code, reason = "fsconfig has no safe wrapper")]
        // SAFETY: key and value are NUL-terminated constants; `fs` is an open fs context.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.0,
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        };
        zero_or(rc, step, 0)?;
    }
    #[expect(unsafe_code, reason = "fsconfig has no safe wrapper")]
    // SAFETY: CMD_CREATE takes no key or value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.0,
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    zero_or(rc, step, 0)?;
    #[expect(unsafe_code, reason = "fsmount has no safe wrapper")]
    // SAFETY: integer arguments only.
    let mnt = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.0,
            FSMOUNT_CLOEXEC,
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        )
    };
    let mnt = fd_or(mnt, step, 0)?;
    #[expect(
        unsafe_code,
        reason = "mkdirat has no safe wrapper taking a descriptor"
    )]
    // SAFETY: the name is a NUL-terminated constant; `mnt` is the tmpfs root.
    let rc = unsafe { libc::mkdirat(mnt.0, c"d".as_ptr(), 0) };
    zero_or(libc::c_long::from(rc), step, 0)?;
    #[expect(unsafe_code, reason = "openat has no safe wrapper taking a descriptor")]
    // SAFETY: the name is a NUL-terminated constant; mode 0 is passed for O_CREAT.
    let file = unsafe {
        libc::openat(
            mnt.0,
            c"f".as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY | libc::O_CLOEXEC,
            0 as libc::c_uint,
        )
    };
    drop(fd_or(libc::c_long::from(file), step, 0)?);
    set_attrs(&mnt, MOUNT_ATTR_RDONLY, step, 0)?;
    // Cloning from a detached mount needs a recent kernel: found out here, before any mask.
    drop(clone_tree(&mnt, c"f", false, step, 0)?);
    Ok(mnt)
}

fn clone_tree(
    at: &Fd,
    path: &std::ffi::CStr,
    recursive: bool,
    step: Step,
    index: usize,
) -> Result<Fd, Failure> {
    let mut flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH as libc::c_uint;
    }
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    #[expect(unsafe_code, reason = "open_tree has no safe wrapper")]
    // SAFETY: `path` is NUL-terminated and outlives the call; `at` is an open descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, at.0, path.as_ptr(), flags) };
    fd_or(fd, step, index)
}

fn set_attrs(mnt: &Fd, attrs: u64, step: Step, index: usize) -> Result<(), Failure> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    #[expect(unsafe_code, reason = "mount_setattr has no safe wrapper")]
    // SAFETY: `attr` is an initialized `mount_attr` alive for the call, its size passed; the
    // path is the empty constant with AT_EMPTY_PATH.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mnt.0,
            c"".as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    zero_or(rc, step, index)
}

/// Opens a mask's target: no symbolic link in any component, the last one not followed.
fn open_target(path: &std::ffi::CStr, index: usize) -> Result<Fd, Failure> {
    let how = OpenHow {
        flags: u64::try_from(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC).unwrap_or(0),
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    #[expect(unsafe_code, reason = "openat2 has no safe wrapper")]
    // SAFETY: `path` is NUL-terminated and `how` an initialized `open_how`, both alive for the
    // call; its size is passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            path.as_ptr(),
            &raw const how,
            std::mem::size_of::<OpenHow>(),
        )
    };
    fd_or(fd, Step::MaskOpen, index)
}

fn file_type(fd: &Fd, index: usize) -> Result<libc::mode_t, Failure> {
    // SAFETY: an all-zero `stat` is a valid value of the plain-data struct.
    #[expect(unsafe_code, reason = "zeroed plain-data struct for fstat to fill")]
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    #[expect(
        unsafe_code,
        reason = "fstat has no safe wrapper taking a raw descriptor"
    )]
    // SAFETY: `st` is a valid, writable `stat` for the call's duration.
    let rc = unsafe { libc::fstat(fd.0, &raw mut st) };
    zero_or(libc::c_long::from(rc), Step::MaskKind, index)?;
    Ok(st.st_mode & libc::S_IFMT)
}

fn attach(mask: &Mask, scratch: Option<&Fd>, index: usize) -> Result<(), Failure> {
    let target = open_target(&mask.path, index)?;
    let kind = file_type(&target, index)?;
    // Placement saw a directory or a file there; anything else now (a link planted since,
    // another kind of file) is refused rather than masked differently.
    let ok = if mask.is_dir {
        kind == libc::S_IFDIR
    } else {
        kind != libc::S_IFDIR && kind != libc::S_IFLNK
    };
    if !ok {
        let e = if kind == libc::S_IFLNK {
            libc::ELOOP
        } else {
            libc::ENOTDIR
        };
        return Err(Failure::with(Step::MaskKind, index, e));
    }
    let source = match (mask.cover, scratch) {
        (None, _) => clone_tree(&target, c"", true, Step::MaskClone, index)?,
        (Some(Cover::Dir), Some(s)) => clone_tree(s, c"d", false, Step::MaskClone, index)?,
        (Some(Cover::File), Some(s)) => clone_tree(s, c"f", false, Step::MaskClone, index)?,
        (Some(_), None) => return Err(Failure::with(Step::MaskClone, index, libc::EINVAL)),
    };
    set_attrs(&source, mask.attrs, Step::MaskAttr, index)?;
    #[expect(unsafe_code, reason = "move_mount has no safe wrapper")]
    // SAFETY: both descriptors are open; both paths are the empty constant with the
    // EMPTY_PATH flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            source.0,
            c"".as_ptr(),
            target.0,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    zero_or(rc, Step::MaskMove, index)
}

/// Detaches masks `0..count` again, last first (in-process only, after a later mask failed:
/// the process is left in its private mount namespace, without half a set of masks).
fn detach(masks: &[Mask], count: usize) {
    for mask in masks.iter().take(count).rev() {
        #[expect(unsafe_code, reason = "umount2 has no safe wrapper")]
        // SAFETY: the path is NUL-terminated and outlives the call.
        unsafe {
            libc::umount2(mask.path.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW);
        }
    }
}

fn loopback_up() -> Result<(), Failure> {
    let step = Step::Loopback;
    #[expect(unsafe_code, reason = "socket(2) in a child that may not allocate")]
    // SAFETY: integer arguments only.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let s = fd_or(libc::c_long::from(s), step, 0)?;
    // SAFETY: an all-zero `ifreq` is a valid value (a name of NULs, a zero union).
    #[expect(unsafe_code, reason = "zeroed plain-data struct for ioctl to fill")]
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in ifr.ifr_name.iter_mut().zip(b"lo") {
        *slot = libc::c_char::try_from(*byte).unwrap_or(0);
    }
    #[expect(unsafe_code, reason = "ioctl has no safe wrapper")]
    // SAFETY: SIOCGIFFLAGS reads the name of and writes the flags into `ifr`, a valid
    // `ifreq` for the call's duration.
    let rc = unsafe { libc::ioctl(s.0, libc::SIOCGIFFLAGS, &raw mut ifr) };
    zero_or(libc::c_long::from(rc), step, 0)?;
    #[expect(unsafe_code, reason = "reading the flags member of the ioctl's union")]
    // SAFETY: SIOCGIFFLAGS has just set the union's flags member.
    unsafe {
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    #[expect(unsafe_code, reason = "ioctl has no safe wrapper")]
    // SAFETY: SIOCSIFFLAGS reads `ifr`, a valid `ifreq` for the call's duration.
    let rc = unsafe { libc::ioctl(s.0, libc::SIOCSIFFLAGS, &raw const ifr) };
    zero_or(libc::c_long::from(rc), step, 0)
}

fn listen_on_loopback(port: u16) -> Result<Fd, Failure> {
    let step = Step::Listen;
    #[expect(unsafe_code, reason = "socket(2) in a child that may not allocate")]
    // SAFETY: integer arguments only.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    let s = fd_or(libc::c_long::from(s), step, 0)?;
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    #[expect(unsafe_code, reason = "bind(2) in a child that may not allocate")]
    // SAFETY: `addr` is an initialized `sockaddr_in` alive for the call; its size is passed.
    let rc = unsafe {
        libc::bind(
            s.0,
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    zero_or(libc::c_long::from(rc), step, 0)?;
    #[expect(unsafe_code, reason = "listen(2) in a child that may not allocate")]
    // SAFETY: integer arguments only.
    let rc = unsafe { libc::listen(s.0, 128) };
    zero_or(libc::c_long::from(rc), step, 0)?;
    Ok(s)
}

/// Sends one descriptor over a Unix socket (`SCM_RIGHTS`), with one byte of data.
fn send_fd(socket: RawFd, fd: RawFd) -> Result<(), Failure> {
    /// A control message buffer for one descriptor, aligned for `cmsghdr`.
    #[repr(C, align(8))]
    struct Control([u8; 64]);
    let mut control = Control([0; 64]);
    let mut byte = [0_u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: an all-zero `msghdr` is valid (null pointers, zero lengths), filled below.
    #[expect(unsafe_code, reason = "zeroed plain-data struct, filled before use")]
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    #[expect(unsafe_code, reason = "CMSG_SPACE is a const computation")]
    // SAFETY: CMSG_SPACE computes a size from its argument and reads no memory.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as libc::c_uint) };
    msg.msg_controllen = space as usize;
    #[expect(unsafe_code, reason = "building a control message in place")]
    // SAFETY: `msg` points at `control`, large enough (64 bytes) and aligned for one
    // `cmsghdr` holding one descriptor (CMSG_SPACE of an int is 24 bytes here), so
    // CMSG_FIRSTHDR is non-null and its data area holds the descriptor.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        if cmsg.is_null() {
            return Err(Failure::with(Step::SendListener, 0, libc::EINVAL));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as libc::c_uint) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
    }
    #[expect(unsafe_code, reason = "sendmsg has no safe wrapper")]
    // SAFETY: `msg` and everything it points at are valid for the call's duration.
    let n = unsafe { libc::sendmsg(socket, &raw const msg, libc::MSG_NOSIGNAL) };
    if n != 1 {
        return Err(Failure::at(Step::SendListener, 0));
    }
    Ok(())
}

/// Receives one descriptor sent by [`send_fd`]; `None` when none came (the socket is
/// non-blocking for this call: the child sent it before `execve`, which `spawn` waited for).
pub fn receive_fd(socket: &OwnedFd) -> std::io::Result<OwnedFd> {
    #[repr(C, align(8))]
    struct Control([u8; 64]);
    let mut control = Control([0; 64]);
    let mut byte = [0_u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: an all-zero `msghdr` is valid, filled below.
    #[expect(unsafe_code, reason = "zeroed plain-data struct, filled before use")]
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len();
    #[expect(unsafe_code, reason = "recvmsg has no safe wrapper")]
    // SAFETY: `msg` and the buffers it points at are valid and writable for the call.
    let n = unsafe {
        libc::recvmsg(
            socket.as_raw_fd(),
            &raw mut msg,
            libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[expect(unsafe_code, reason = "reading the control message the kernel wrote")]
    // SAFETY: the kernel filled `msg.msg_control` (within `control`) and set
    // `msg_controllen`; CMSG_FIRSTHDR checks the length; the data of an SCM_RIGHTS message
    // of our socket holds descriptors that are now ours.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(std::io::Error::from_raw_os_error(libc::EBADMSG));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Enters the namespaces and attaches the masks. `rollback`: on a mask failure, detach the
/// masks attached so far (in-process; a forked child just exits).
pub fn enter_namespaces(ns: &Namespaces, rollback: bool) -> Result<(), Failure> {
    #[expect(unsafe_code, reason = "unshare has no safe wrapper in std")]
    // SAFETY: unshare takes flags only.
    let rc = unsafe { libc::unshare(ns.flags) };
    zero_or(libc::c_long::from(rc), Step::Unshare, 0)?;
    if let Some((uid_map, gid_map)) = &ns.maps {
        write_file(c"/proc/self/setgroups", b"deny", Step::SetGroups)?;
        write_file(c"/proc/self/uid_map", uid_map, Step::UidMap)?;
        write_file(c"/proc/self/gid_map", gid_map, Step::GidMap)?;
    }
    if ns.flags & libc::CLONE_NEWNS != 0 {
        // Before any mount: nothing may propagate to the caller's namespace.
        #[expect(unsafe_code, reason = "mount(2) has no safe wrapper")]
        // SAFETY: "/" is a NUL-terminated constant; the other pointers may be null for a
        // propagation change.
        let rc = unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        zero_or(libc::c_long::from(rc), Step::MakePrivate, 0)?;
    }
    let scratch = if ns.masks.iter().any(|m| m.cover.is_some()) {
        Some(scratch()?)
    } else {
        None
    };
    for (i, mask) in ns.masks.iter().enumerate() {
        if let Err(failure) = attach(mask, scratch.as_ref(), i) {
            if rollback {
                detach(&ns.masks, i);
            }
            return Err(failure);
        }
    }
    drop(scratch);
    if let Some(cwd) = &ns.cwd {
        #[expect(unsafe_code, reason = "chdir in a child that may not allocate")]
        // SAFETY: `cwd` is NUL-terminated and outlives the call.
        let rc = unsafe { libc::chdir(cwd.as_ptr()) };
        zero_or(libc::c_long::from(rc), Step::Chdir, 0)?;
    }
    if let Some(lo) = &ns.loopback {
        loopback_up()?;
        let listener = listen_on_loopback(lo.port)?;
        send_fd(lo.sender.as_raw_fd(), listener.0)?;
    }
    Ok(())
}

fn capget() -> Result<[CapData; 2], Failure> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    #[expect(unsafe_code, reason = "capget has no safe wrapper")]
    // SAFETY: `header` and the two `data` records (version 3) are valid and writable.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) };
    zero_or(rc, Step::Capset, 0)?;
    Ok(data)
}

fn drop_capabilities(caps: Capabilities) -> Result<(), Failure> {
    if caps.bounding {
        for cap in 0..=caps.last_cap.min(63) {
            if caps.keep & (1 << cap) != 0 {
                continue;
            }
            #[expect(unsafe_code, reason = "prctl has no safe wrapper")]
            // SAFETY: integer arguments only.
            let rc =
                unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
            if rc != 0 {
                // EINVAL: a capability this kernel does not know, above cap_last_cap, as
                // is every higher one.
                if errno() == libc::EINVAL {
                    break;
                }
                return Err(Failure::at(Step::Bounding, cap as usize));
            }
        }
    }
    #[expect(unsafe_code, reason = "prctl has no safe wrapper")]
    // SAFETY: integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // EINVAL: a kernel without ambient capabilities (before 4.3), where there are none.
    if rc != 0 && errno() != libc::EINVAL {
        return Err(Failure::at(Step::Ambient, 0));
    }
    let current = capget()?;
    let mut data = [CapData::default(); 2];
    for (i, (slot, now)) in data.iter_mut().zip(current).enumerate() {
        let keep = u32::try_from((caps.keep >> (32 * i)) & 0xffff_ffff).unwrap_or(0);
        let kept = keep & now.permitted;
        *slot = CapData {
            effective: kept,
            permitted: kept,
            inheritable: kept,
        };
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    #[expect(unsafe_code, reason = "capset has no safe wrapper")]
    // SAFETY: `header` and the two `data` records (version 3) are valid for the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) };
    zero_or(rc, Step::Capset, 0)?;
    // What is kept must survive execve for a caller that is not root: as ambient capabilities.
    for cap in 0..=caps.last_cap.min(63) {
        let word = data.get(cap as usize / 32).map_or(0, |d| d.permitted);
        if word & (1 << (cap % 32)) == 0 {
            continue;
        }
        #[expect(unsafe_code, reason = "prctl has no safe wrapper")]
        // SAFETY: integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                libc::c_ulong::from(cap),
                0,
                0,
            )
        };
        if rc != 0 {
            return Err(Failure::at(Step::Ambient, cap as usize));
        }
    }
    Ok(())
}

fn close_inherited(keep: &[RawFd]) -> Result<(), Failure> {
    // Marked close-on-exec rather than closed: the runtime's own pipes (and std's, which
    // reports a failed execve) must stay open until execve closes them all.
    let mut first: RawFd = 3;
    let ranges = keep
        .iter()
        .copied()
        .filter(|fd| *fd > 2)
        .map(Some)
        .chain(std::iter::once(None));
    for next in ranges {
        let last = match next {
            Some(fd) => fd - 1,
            None => RawFd::MAX,
        };
        if last >= first {
            mark_cloexec(first, last)?;
        }
        if let Some(fd) = next {
            first = fd.saturating_add(1);
        }
    }
    for (i, fd) in keep.iter().copied().enumerate() {
        #[expect(unsafe_code, reason = "fcntl has no safe wrapper")]
        // SAFETY: integer arguments only; an fd that is not open gives EBADF.
        let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        if rc != 0 {
            return Err(Failure::at(Step::PassFd, i));
        }
    }
    Ok(())
}

fn mark_cloexec(first: RawFd, last: RawFd) -> Result<(), Failure> {
    let (Ok(lo), Ok(hi)) = (libc::c_uint::try_from(first), libc::c_uint::try_from(last)) else {
        return Ok(());
    };
    #[expect(unsafe_code, reason = "close_range has no safe wrapper")]
    // SAFETY: integer arguments only; CLOSE_RANGE_CLOEXEC closes nothing.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, lo, hi, CLOSE_RANGE_CLOEXEC) };
    if rc == 0 {
        return Ok(());
    }
    if !matches!(errno(), libc::ENOSYS | libc::EINVAL) {
        return Err(Failure::at(Step::CloseFds, 0));
    }
    // Before Linux 5.11: one descriptor at a time, up to the descriptor limit.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    #[expect(unsafe_code, reason = "getrlimit has no safe wrapper")]
    // SAFETY: `limit` is a valid, writable rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) };
    zero_or(libc::c_long::from(rc), Step::CloseFds, 0)?;
    let end = RawFd::try_from(limit.rlim_cur.min(1 << 20)).unwrap_or(1 << 20);
    for fd in first..=last.min(end) {
        #[expect(unsafe_code, reason = "fcntl has no safe wrapper")]
        // SAFETY: integer arguments only; EBADF for descriptors that are not open.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok(())
}

/// Everything after the namespaces: rlimits, descriptors, capabilities, no_new_privs,
/// Landlock, seccomp (last).
pub fn enter_rest(plan: &Plan) -> Result<(), Failure> {
    for (i, (resource, limit)) in plan.rlimits.iter().enumerate() {
        #[expect(unsafe_code, reason = "setrlimit has no safe wrapper")]
        // SAFETY: `limit` is a valid rlimit alive for the call.
        let rc = unsafe { libc::setrlimit(*resource as _, limit) };
        zero_or(libc::c_long::from(rc), Step::Rlimit, i)?;
    }
    if let Some(keep) = &plan.keep_fds {
        close_inherited(keep)?;
    }
    if let Some(caps) = plan.capabilities {
        drop_capabilities(caps)?;
    }
    #[expect(unsafe_code, reason = "prctl has no safe wrapper")]
    // SAFETY: integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    zero_or(libc::c_long::from(rc), Step::NoNewPrivs, 0)?;
    if let Some(ruleset) = &plan.landlock {
        #[expect(unsafe_code, reason = "landlock_restrict_self has no safe wrapper")]
        // SAFETY: a descriptor and flags only.
        let rc =
            unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0_u32) };
        zero_or(rc, Step::Landlock, 0)?;
    }
    if !plan.seccomp.is_empty() {
        let fprog = libc::sock_fprog {
            len: u16::try_from(plan.seccomp.len()).unwrap_or(u16::MAX),
            filter: plan.seccomp.as_ptr().cast_mut(),
        };
        #[expect(unsafe_code, reason = "seccomp(2) has no safe wrapper")]
        // SAFETY: `fprog` points at `len` initialized records of `plan.seccomp`, alive for the
        // call; the kernel copies the program and only reads it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_TSYNC,
                &raw const fprog,
            )
        };
        zero_or(rc, Step::Seccomp, 0)?;
    }
    Ok(())
}

/// The whole sequence, as a forked child runs it.
fn enter_all(plan: &Plan) -> Result<(), Failure> {
    enter_session(plan.session)?;
    if let Some(ns) = &plan.namespaces {
        enter_namespaces(ns, false)?;
    }
    enter_rest(plan)
}

fn write_failure(fd: RawFd, failure: Failure) {
    let bytes = failure.to_bytes();
    #[expect(unsafe_code, reason = "write(2) in a child that may not allocate")]
    // SAFETY: `bytes` is valid for reads of its length for the call's duration.
    unsafe {
        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    }
}

/// Arranges for `command`'s child to run the sequence after `fork` and before `execve`; a
/// failure is written to `report` and fails `spawn` with its errno.
pub fn confine_command(command: &mut std::process::Command, plan: Plan, report: OwnedFd) {
    use std::os::unix::process::CommandExt;
    let hook = move || -> std::io::Result<()> {
        match enter_all(&plan) {
            Ok(()) => Ok(()),
            Err(failure) => {
                write_failure(report.as_raw_fd(), failure);
                Err(failure.io_error())
            }
        }
    };
    #[expect(unsafe_code, reason = "a pre_exec hook runs in the forked child")]
    // SAFETY: the hook makes raw system calls only on data prepared before the fork (the
    // plan it owns): it allocates nothing, takes no lock and runs no destructor of shared
    // state, so a lock another thread held at the fork cannot deadlock it.
    unsafe {
        command.pre_exec(hook);
    }
}

/// A pipe, both ends close-on-exec: `(read, write)`.
pub fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    #[expect(unsafe_code, reason = "pipe2 has no safe wrapper in std")]
    // SAFETY: `fds` is a writable array of two descriptors.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[expect(unsafe_code, reason = "owning the descriptors pipe2 returned")]
    // SAFETY: pipe2 succeeded: both are fresh descriptors nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A Unix stream socket pair, both ends close-on-exec.
pub fn socket_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    #[expect(unsafe_code, reason = "socketpair has no safe wrapper in std")]
    // SAFETY: `fds` is a writable array of two descriptors.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[expect(unsafe_code, reason = "owning the descriptors socketpair returned")]
    // SAFETY: socketpair succeeded: both are fresh descriptors nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The failure a child wrote, if it wrote one (the write end must be closed everywhere).
pub fn read_failure(read: &OwnedFd) -> Option<Failure> {
    let mut bytes = [0_u8; 12];
    #[expect(unsafe_code, reason = "read(2) of a raw descriptor")]
    // SAFETY: `bytes` is writable for its length for the call's duration.
    let n = unsafe { libc::read(read.as_raw_fd(), bytes.as_mut_ptr().cast(), bytes.len()) };
    if n == 12 {
        Failure::from_bytes(bytes)
    } else {
        None
    }
}

/// The effective and permitted capabilities of this process (bit N: capability N).
pub fn capabilities() -> std::io::Result<(u64, u64)> {
    let data = capget().map_err(Failure::io_error)?;
    let join = |f: fn(&CapData) -> u32| u64::from(f(&data[0])) | (u64::from(f(&data[1])) << 32);
    Ok((join(|d| d.effective), join(|d| d.permitted)))
}

/// The effective user and group ids.
pub fn ids() -> (u32, u32) {
    #[expect(
        unsafe_code,
        reason = "geteuid and getegid have no safe wrapper in std"
    )]
    // SAFETY: both take no argument and cannot fail.
    unsafe {
        (libc::geteuid(), libc::getegid())
    }
}

/// Tries entering namespaces with `flags` (and `maps`) in a forked child that then exits:
/// whether this host lets this process do it, and where it stops if not. The child makes raw
/// system calls only (safe in a multi-threaded process).
pub fn probe(flags: libc::c_int, maps: Option<&(Vec<u8>, Vec<u8>)>) -> Result<(), Failure> {
    let (read, write) = pipe().map_err(|e| Failure {
        step: Step::Unshare,
        index: 0,
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    })?;
    #[expect(unsafe_code, reason = "fork to try namespaces without entering them")]
    // SAFETY: the child below makes raw system calls only and leaves with `_exit`; it touches
    // no lock and allocates nothing.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Failure::at(Step::Unshare, 0));
    }
    if pid == 0 {
        let result = (|| -> Result<(), Failure> {
            #[expect(unsafe_code, reason = "unshare has no safe wrapper")]
            // SAFETY: flags only.
            let rc = unsafe { libc::unshare(flags) };
            zero_or(libc::c_long::from(rc), Step::Unshare, 0)?;
            if let Some((uid_map, gid_map)) = maps {
                write_file(c"/proc/self/setgroups", b"deny", Step::SetGroups)?;
                write_file(c"/proc/self/uid_map", uid_map, Step::UidMap)?;
                write_file(c"/proc/self/gid_map", gid_map, Step::GidMap)?;
            }
            #[expect(unsafe_code, reason = "mount(2) has no safe wrapper")]
            // SAFETY: "/" is a NUL-terminated constant; null pointers are allowed here.
            let rc = unsafe {
                libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                )
            };
            zero_or(libc::c_long::from(rc), Step::MakePrivate, 0)?;
            drop(scratch()?);
            Ok(())
        })();
        let code = match result {
            Ok(()) => 0,
            Err(failure) => {
                write_failure(write.as_raw_fd(), failure);
                1
            }
        };
        #[expect(
            unsafe_code,
            reason = "leaving the forked child without running destructors"
        )]
        // SAFETY: `_exit` never returns and runs nothing of the parent's.
        unsafe {
            libc::_exit(code)
        }
    }
    drop(write);
    let mut status = 0;
    loop {
        #[expect(unsafe_code, reason = "waitpid has no safe wrapper for a forked pid")]
        // SAFETY: `status` is a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid, &raw mut status, 0) };
        if rc == pid || errno() != libc::EINTR {
            break;
        }
    }
    match read_failure(&read) {
        Some(failure) => Err(failure),
        None if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => Ok(()),
        None => Err(Failure::with(Step::Unshare, 0, libc::ECHILD)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The capability step keeps what it is told and drops the rest from all five sets, in a
    /// child started through `confine_command` (as root: `CAP_CHOWN` kept, every other one
    /// gone, the bounding set included; otherwise nothing to keep and none held).
    #[test]
    fn the_capability_step_keeps_only_what_it_is_told() {
        let (read, write) = pipe().unwrap();
        let root = ids().0 == 0;
        let plan = Plan {
            session: Session::New,
            namespaces: None,
            rlimits: Vec::new(),
            keep_fds: Some(Vec::new()),
            capabilities: Some(Capabilities {
                keep: 1, // CAP_CHOWN
                last_cap: 40,
                bounding: root,
            }),
            landlock: None,
            seccomp: Vec::new(),
        };
        let mut command = std::process::Command::new("/bin/sh");
        command.args([
            "-c",
            "grep -E '^Cap(Eff|Prm|Inh|Bnd|Amb)' /proc/self/status",
        ]);
        confine_command(&mut command, plan, write);
        let output = command.output().unwrap();
        drop(command);
        assert_eq!(read_failure(&read), None);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let set = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:\t")))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or_else(|| panic!("{name} in {text}"))
        };
        let kept = if root { 1 } else { 0 };
        assert_eq!(set("CapEff"), kept, "{text}");
        assert_eq!(set("CapPrm"), kept, "{text}");
        assert_eq!(set("CapAmb"), kept, "{text}");
        if root {
            assert_eq!(set("CapBnd"), 1, "{text}");
        }
    }

    #[test]
    fn failures_round_trip_through_their_bytes() {
        for step in Step::ALL {
            let f = Failure {
                step,
                index: 7,
                errno: libc::EROFS,
            };
            assert_eq!(Failure::from_bytes(f.to_bytes()), Some(f));
        }
        assert_eq!(Failure::from_bytes([0; 12]), None);
    }
}
