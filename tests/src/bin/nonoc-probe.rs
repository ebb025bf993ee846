//! `nonoc-probe`: applies one ring of an artifact to itself, then tries operations and prints
//! what the kernel answered. The kernel tests (`tests/tests/kernel_*.rs`) run it as a fresh
//! process per probe, so the sandbox never touches the multi-threaded test harness.
//!
//! ```text
//! nonoc-probe --artifact FILE (--ring N | --trust-score S) [--var NAME=VALUE]...
//!             [--max-abi N] [--allow-unconfined] [--preview] [--extra-thread] -- OP...
//! ```
//!
//! Output, one line each: `report {json}` (the `EnforcementReport`), then `OP ARGS -> ok` or
//! `OP ARGS -> ERRNO` per operation. Any error before the restriction (load, ring selection,
//! binding, apply) prints `apply-error KIND: MESSAGE` and exits 126. `--preview` prints the
//! report `apply` would return without restricting, and performs no operation.
//! `--extra-thread` starts a thread before applying (the runtime must refuse: Landlock
//! confines only the calling thread on this kernel). Usage errors exit 2.
//!
//! Operations (each maps to exactly one Landlock check):
//! - `read PATH`: open(O_RDONLY) and read (read_file on PATH)
//! - `readdir PATH`: open the directory and list it (read_dir on PATH)
//! - `write PATH`: open(O_WRONLY) an existing file, no truncation, and write (write_file)
//! - `create PATH`: mknod(S_IFREG) of a new regular file (make_reg on the parent). Not
//!   open(O_CREAT): that would also check read_file or write_file on the new file.
//! - `mkdir PATH`, `unlink PATH`, `rmdir PATH`: make_dir, remove_file, remove_dir on the parent
//! - `rename FROM TO`: rename(2); across directories it also needs refer on both parents
//! - `truncate PATH`: truncate(2) to the current length (truncate, ABI 3+)
//! - `exec PATH`: a real fork + execve of PATH (std's spawn reports the child's execve errno
//!   through a pipe); `ok` means execve succeeded, whatever the program then did
//! - `connect PORT`: TCP connect to 127.0.0.1:PORT; ECONNREFUSED means the sandbox allowed it
//! - `bind PORT`: TCP bind to 127.0.0.1:PORT
//! - `signal PID`: kill(PID, 0)
//!
//! Syscall operations (each asks the seccomp filter about one call; see
//! `nonoc_tests::kernel::expect` for the arguments):
//! - `fork`: fork(), the child exits at once; `thread`: start and join a thread
//! - `socket FAMILY TYPE`: socket(FAMILY, TYPE | SOCK_CLOEXEC, protocol), closed at once
//!   (protocol: `nonoc_tests::kernel::probe::socket_protocol`)
//! - `ptrace`, `process-vm-readv`: on a pid no process can have (ESRCH when allowed)
//! - `io-uring`: io_uring_setup(1, params), closed at once
//! - `x32 NR`: syscall number NR | 0x40000000 (x86_64)
//! - `unshare-user`: unshare(CLONE_NEWUSER); changes the probe's credentials, so last
//! - `i386-getpid`: getpid through `int 0x80` (x86_64): a foreign arch, which the filter
//!   kills, so the probe prints nothing for it
//! - `tty-ioctl REQUEST`: ioctl(pty, REQUEST, "x") on a pseudo-terminal from `/dev/ptmx`,
//!   opened before the ring when an operation needs it (the request is passed whole, 64
//!   bits: the kernel reads the low 32); TIOCSTI pushes `x` into its own input queue
//! - `prlimit PID`, `setpriority PID`, `ioprio PID`, `affinity PID`: prlimit64(PID,
//!   RLIMIT_CORE, {0, 0}), setpriority(PRIO_PROCESS, PID, 19), ioprio_set(IOPRIO_WHO_PROCESS,
//!   PID, best effort 4), sched_setaffinity(PID, the probe's own mask); PID 0 is the probe
//! - `listen-tcp`: socket(AF_INET, SOCK_STREAM) and listen() unbound (an ephemeral port);
//!   `listen-unix`: socket(AF_UNIX, SOCK_STREAM), bind to an abstract name, listen()
//! - `unix-connect PATH`: socket(AF_UNIX, SOCK_STREAM) and connect to PATH

use std::io::{Read, Write};
use std::process::ExitCode;

use nonoc_runtime::{Artifact, Bindings, Error};

struct Args {
    artifact: String,
    ring: Option<u8>,
    trust_score: Option<u32>,
    bindings: Bindings,
    max_abi: Option<u32>,
    allow_unconfined: bool,
    preview: bool,
    extra_thread: bool,
    ops: Vec<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        artifact: String::new(),
        ring: None,
        trust_score: None,
        bindings: Bindings::new(),
        max_abi: None,
        allow_unconfined: false,
        preview: false,
        extra_thread: false,
        ops: Vec::new(),
    };
    let value = |args: &mut dyn Iterator<Item = String>, flag: &str| {
        args.next().ok_or_else(|| format!("{flag} needs a value"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--artifact" => parsed.artifact = value(&mut args, "--artifact")?,
            "--ring" => {
                let v = value(&mut args, "--ring")?;
                parsed.ring = Some(v.parse().map_err(|_| format!("bad ring `{v}`"))?);
            }
            "--trust-score" => {
                let v = value(&mut args, "--trust-score")?;
                parsed.trust_score = Some(v.parse().map_err(|_| format!("bad trust score `{v}`"))?);
            }
            "--var" => {
                let v = value(&mut args, "--var")?;
                let (name, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--var `{v}` is not NAME=VALUE"))?;
                parsed.bindings.insert(name, val);
            }
            "--max-abi" => {
                let v = value(&mut args, "--max-abi")?;
                parsed.max_abi = Some(v.parse().map_err(|_| format!("bad ABI `{v}`"))?);
            }
            "--allow-unconfined" => parsed.allow_unconfined = true,
            "--preview" => parsed.preview = true,
            "--extra-thread" => parsed.extra_thread = true,
            "--" => {
                parsed.ops = args.by_ref().collect();
                break;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if parsed.artifact.is_empty() {
        return Err("--artifact is required".to_owned());
    }
    if parsed.ring.is_some() == parsed.trust_score.is_some() {
        return Err("give exactly one of --ring and --trust-score".to_owned());
    }
    Ok(parsed)
}

/// A stable name for each refusal, so tests can tell them apart.
fn kind(e: &Error) -> &'static str {
    match e {
        Error::Read { .. } => "io",
        Error::TooLarge { .. } => "too_large",
        Error::Malformed(_) => "malformed",
        Error::UnknownFormat(_) => "unknown_format",
        Error::DigestMismatch { .. } => "digest_mismatch",
        Error::NoSuchRing(_) => "no_such_ring",
        Error::TrustScoreRange(_) => "trust_score_range",
        Error::NoTier(_) => "no_tier",
        Error::NoLinuxTarget(_) => "no_linux_target",
        Error::UnconfinedRefused(_) => "unconfined_refused",
        Error::MultiThreaded(_) => "multi_threaded",
        Error::Unbound(_) => "unbound",
        Error::UndeclaredVariable(_) => "undeclared_variable",
        Error::BadValue { .. } => "bad_value",
        Error::Unsupported { .. } => "unsupported",
        Error::Apply(_) | Error::System { .. } => "apply",
        Error::NoSeccompFilter { .. } => "no_seccomp_filter",
        Error::SeccompAfterLandlock(_) => "seccomp_after_landlock",
        Error::LinksNotFollowed(_) => "links_not_followed",
        _ => "other",
    }
}

fn apply(args: &Args) -> Result<nonoc_runtime::EnforcementReport, Error> {
    let artifact = Artifact::load(&args.artifact)?;
    let mut ring = match (args.ring, args.trust_score) {
        (Some(level), _) => artifact.ring(level)?,
        (None, Some(score)) => artifact.ring_for_trust_score(score)?,
        (None, None) => return Err(Error::Apply("no ring selected".to_owned())),
    };
    ring = ring.allow_unconfined(args.allow_unconfined);
    if let Some(cap) = args.max_abi {
        ring = ring.max_abi(cap);
    }
    if args.preview {
        ring.preview(&args.bindings)
    } else {
        ring.apply(&args.bindings)
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("nonoc-probe: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let dev_null = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("nonoc-probe: cannot open /dev/null: {e}");
            return ExitCode::from(2);
        }
    };
    if args.extra_thread {
        let (ready, started) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = ready.send(());
            std::thread::park();
        });
        let _ = started.recv();
    }
    // A pseudo-terminal, opened before the ring (which may deny opening `/dev/ptmx`): the
    // terminal an agent inherits is opened outside its sandbox too.
    let pty = if args.ops.iter().any(|op| op == "tty-ioctl") {
        match sys::open_pty() {
            Ok(pty) => Some(pty),
            Err(e) => {
                eprintln!("nonoc-probe: cannot open a pseudo-terminal: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let report = match apply(&args) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "apply-error {}: {e}", kind(&e));
            return ExitCode::from(126);
        }
    };
    match serde_json::to_string(&report) {
        Ok(json) => {
            let _ = writeln!(out, "report {json}");
        }
        Err(e) => {
            let _ = writeln!(out, "apply-error report: {e}");
            return ExitCode::from(126);
        }
    }
    if args.preview {
        return ExitCode::SUCCESS;
    }
    let mut ops = args.ops.iter();
    while let Some(op) = ops.next() {
        let arity = match op.as_str() {
            "rename" | "socket" => 2,
            "fork" | "thread" | "ptrace" | "process-vm-readv" | "io-uring" | "unshare-user"
            | "i386-getpid" | "listen-tcp" | "listen-unix" => 0,
            _ => 1,
        };
        let operands: Vec<&String> = ops.by_ref().take(arity).collect();
        if operands.len() != arity {
            eprintln!("nonoc-probe: `{op}` needs {arity} operand(s)");
            return ExitCode::from(2);
        }
        let result = match run(op, &operands, &dev_null, pty.as_ref()) {
            Ok(()) => "ok".to_owned(),
            Err(Outcome::Errno(n)) => errno_name(n),
            Err(Outcome::Usage(m)) => {
                eprintln!("nonoc-probe: {m}");
                return ExitCode::from(2);
            }
        };
        let mut line = op.clone();
        for operand in &operands {
            line.push(' ');
            line.push_str(operand);
        }
        let _ = writeln!(out, "{line} -> {result}");
        let _ = out.flush();
    }
    ExitCode::SUCCESS
}

enum Outcome {
    Errno(i32),
    Usage(String),
}

impl From<std::io::Error> for Outcome {
    fn from(e: std::io::Error) -> Self {
        Outcome::Errno(e.raw_os_error().unwrap_or(-1))
    }
}

fn port(text: &str) -> Result<u16, Outcome> {
    text.parse()
        .map_err(|_| Outcome::Usage(format!("bad port `{text}`")))
}

fn number(text: &str) -> Result<u32, Outcome> {
    text.parse()
        .map_err(|_| Outcome::Usage(format!("bad number `{text}`")))
}

fn run(
    op: &str,
    operands: &[&String],
    dev_null: &std::fs::File,
    pty: Option<&sys::Pty>,
) -> Result<(), Outcome> {
    let path = operands.first().map_or("", |s| s.as_str());
    match op {
        "read" => {
            let mut buf = [0_u8; 64];
            // The first bytes are enough: Landlock decides at open, read only confirms.
            let _bytes = std::fs::File::open(path)?.read(&mut buf)?;
        }
        "readdir" => {
            for entry in std::fs::read_dir(path)? {
                entry?;
            }
        }
        "write" => {
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)?
                .write_all(b"x")?;
        }
        "create" => sys::mknod_regular(path)?,
        "mkdir" => std::fs::create_dir(path)?,
        "unlink" => std::fs::remove_file(path)?,
        "rmdir" => std::fs::remove_dir(path)?,
        "rename" => std::fs::rename(path, operands[1].as_str())?,
        "truncate" => {
            // The length is read before; truncating to it changes nothing but is checked.
            let len = std::fs::metadata(path)?.len();
            sys::truncate(path, len)?;
        }
        "exec" => {
            // The child's stdio is /dev/null opened before the restriction: `Stdio::null()`
            // would open it inside the sandbox, which may deny it.
            let null = |f: &std::fs::File| f.try_clone().map(std::process::Stdio::from);
            let mut child = std::process::Command::new(path)
                .stdin(null(dev_null)?)
                .stdout(null(dev_null)?)
                .stderr(null(dev_null)?)
                .env_clear()
                .spawn()?;
            child.wait()?;
        }
        "connect" => {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port(path)?));
            match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)) {
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
        "bind" => {
            std::net::TcpListener::bind(("127.0.0.1", port(path)?))?;
        }
        "signal" => {
            let pid: i32 = path
                .parse()
                .map_err(|_| Outcome::Usage(format!("bad pid `{path}`")))?;
            sys::probe_signal(pid)?;
        }
        "fork" => sys::fork_and_wait()?,
        "thread" => {
            std::thread::Builder::new()
                .spawn(|| ())?
                .join()
                .map_err(|_| Outcome::Usage("the thread panicked".to_owned()))?;
        }
        "socket" => sys::socket(number(path)?, number(operands[1])?)?,
        "ptrace" => sys::ptrace_attach_nobody()?,
        "process-vm-readv" => sys::process_vm_readv_nobody()?,
        "io-uring" => sys::io_uring_setup()?,
        "x32" => sys::x32_syscall(number(path)?)?,
        "unshare-user" => sys::unshare_user()?,
        "i386-getpid" => sys::i386_getpid()?,
        "tty-ioctl" => {
            let request: u64 = path
                .parse()
                .map_err(|_| Outcome::Usage(format!("bad request `{path}`")))?;
            let pty = pty.ok_or_else(|| Outcome::Usage("no pseudo-terminal".to_owned()))?;
            sys::tty_ioctl(pty, request)?;
        }
        "prlimit" => sys::prlimit_core(number(path)?)?,
        "setpriority" => sys::setpriority(number(path)?)?,
        "ioprio" => sys::ioprio_set(number(path)?)?,
        "affinity" => sys::setaffinity(number(path)?)?,
        "listen-tcp" => sys::listen(libc::AF_INET)?,
        "listen-unix" => sys::listen(libc::AF_UNIX)?,
        "unix-connect" => {
            std::os::unix::net::UnixStream::connect(path)?;
        }
        other => return Err(Outcome::Usage(format!("unknown operation `{other}`"))),
    }
    Ok(())
}

fn errno_name(n: i32) -> String {
    let name = match n {
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ENOEXEC => "ENOEXEC",
        libc::EINVAL => "EINVAL",
        libc::EROFS => "EROFS",
        libc::ESRCH => "ESRCH",
        libc::EBUSY => "EBUSY",
        libc::ETXTBSY => "ETXTBSY",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ENOSYS => "ENOSYS",
        libc::EFAULT => "EFAULT",
        libc::ENOMEM => "ENOMEM",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ENOTTY => "ENOTTY",
        libc::EIO => "EIO",
        _ => return format!("errno{n}"),
    };
    name.to_owned()
}

/// The probe's raw system calls (std offers no path truncate, mknod or kill).
mod sys {
    use std::ffi::CString;
    use std::io::{Error, Result};

    fn c_path(path: &str) -> Result<CString> {
        CString::new(path).map_err(|_| Error::from_raw_os_error(libc::EINVAL))
    }

    fn check(rc: libc::c_int) -> Result<()> {
        if rc == 0 {
            Ok(())
        } else {
            Err(Error::last_os_error())
        }
    }

    pub fn mknod_regular(path: &str) -> Result<()> {
        let path = c_path(path)?;
        #[expect(unsafe_code, reason = "mknod has no std wrapper")]
        // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
        let rc = unsafe { libc::mknod(path.as_ptr(), libc::S_IFREG | 0o644, 0) };
        check(rc)
    }

    pub fn truncate(path: &str, len: u64) -> Result<()> {
        let path = c_path(path)?;
        let len = libc::off_t::try_from(len).map_err(|_| Error::from_raw_os_error(libc::EINVAL))?;
        #[expect(unsafe_code, reason = "path-based truncate(2) has no std wrapper")]
        // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
        let rc = unsafe { libc::truncate(path.as_ptr(), len) };
        check(rc)
    }

    pub fn probe_signal(pid: i32) -> Result<()> {
        #[expect(unsafe_code, reason = "kill has no std wrapper for arbitrary pids")]
        // SAFETY: signal 0 delivers nothing; kill only checks that the signal could be sent.
        let rc = unsafe { libc::kill(pid, 0) };
        check(rc)
    }

    fn check_fd(rc: libc::c_long) -> Result<()> {
        match libc::c_int::try_from(rc) {
            Ok(fd) if fd >= 0 => {
                // SAFETY: `fd` was just returned to us and nothing else owns it.
                #[expect(unsafe_code, reason = "closing a descriptor a raw syscall returned")]
                let _ = unsafe { libc::close(fd) };
                Ok(())
            }
            _ => Err(Error::last_os_error()),
        }
    }

    fn check_long(rc: libc::c_long) -> Result<()> {
        if rc >= 0 {
            Ok(())
        } else {
            Err(Error::last_os_error())
        }
    }

    /// fork(); the child exits at once, the parent reaps it.
    pub fn fork_and_wait() -> Result<()> {
        #[expect(unsafe_code, reason = "std has no fork")]
        // SAFETY: the probe is single-threaded here; the child calls only `_exit`, which is
        // async-signal-safe.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => Err(Error::last_os_error()),
            0 => {
                #[expect(unsafe_code, reason = "leaving the forked child without running Rust")]
                // SAFETY: `_exit` never returns and runs no destructors or atexit handlers.
                unsafe {
                    libc::_exit(0)
                }
            }
            child => {
                let mut status = 0;
                #[expect(unsafe_code, reason = "std cannot wait for a pid it did not spawn")]
                // SAFETY: `status` is a valid out-pointer for the call's duration.
                let rc = unsafe { libc::waitpid(child, &raw mut status, 0) };
                if rc == child {
                    Ok(())
                } else {
                    Err(Error::last_os_error())
                }
            }
        }
    }

    pub fn socket(family: u32, kind: u32) -> Result<()> {
        let protocol =
            libc::c_int::try_from(nonoc_tests::kernel::probe::socket_protocol(family, kind))
                .map_err(|_| Error::from_raw_os_error(libc::EINVAL))?;
        let family =
            libc::c_int::try_from(family).map_err(|_| Error::from_raw_os_error(libc::EINVAL))?;
        let kind =
            libc::c_int::try_from(kind).map_err(|_| Error::from_raw_os_error(libc::EINVAL))?;
        #[expect(unsafe_code, reason = "std opens only TCP and UDP sockets")]
        // SAFETY: socket takes integers only.
        let fd = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, protocol) };
        check_fd(libc::c_long::from(fd))
    }

    /// A pid above the kernel's largest `pid_max` (2^22): no process has it.
    const NO_SUCH_PID: libc::pid_t = 0x7fff_ffff;

    pub fn ptrace_attach_nobody() -> Result<()> {
        #[expect(unsafe_code, reason = "std has no ptrace")]
        // SAFETY: PTRACE_ATTACH takes a pid; the address and data arguments are unused.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_ATTACH,
                NO_SUCH_PID,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        check_long(rc)
    }

    pub fn process_vm_readv_nobody() -> Result<()> {
        let mut byte = 0_u8;
        let local = libc::iovec {
            iov_base: (&raw mut byte).cast(),
            iov_len: 1,
        };
        let remote = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 1,
        };
        #[expect(unsafe_code, reason = "std has no process_vm_readv")]
        // SAFETY: `local` describes one writable byte that outlives the call; the remote
        // process does not exist, so nothing is read.
        let rc = unsafe {
            libc::process_vm_readv(NO_SUCH_PID, &raw const local, 1, &raw const remote, 1, 0)
        };
        check_long(rc as libc::c_long)
    }

    pub fn io_uring_setup() -> Result<()> {
        // struct io_uring_params is 120 bytes; zeroed asks for defaults.
        let mut params = [0_u8; 120];
        #[expect(unsafe_code, reason = "std and libc have no io_uring wrapper")]
        // SAFETY: `params` is a writable buffer of the size the kernel reads and writes.
        let rc = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1_u32, params.as_mut_ptr()) };
        check_fd(rc)
    }

    pub fn x32_syscall(nr: u32) -> Result<()> {
        let nr = libc::c_long::from(nr | 0x4000_0000);
        #[expect(unsafe_code, reason = "a raw syscall by number")]
        // SAFETY: the tests pass getpid's number, which takes no arguments and touches no
        // memory, whichever ABI runs it.
        let rc = unsafe { libc::syscall(nr) };
        check_long(rc)
    }

    pub fn unshare_user() -> Result<()> {
        #[expect(unsafe_code, reason = "std has no unshare")]
        // SAFETY: unshare takes flags only.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
        check_long(libc::c_long::from(rc))
    }

    /// getpid through the i386 syscall entry. The filter kills the process (foreign arch), so
    /// this returns only without a filter.
    #[cfg(target_arch = "x86_64")]
    pub fn i386_getpid() -> Result<()> {
        let mut rax: u64 = 20; // __NR_getpid on i386
        #[expect(unsafe_code, reason = "the i386 entry has no wrapper")]
        // SAFETY: i386 getpid takes no arguments and touches no memory; `int 0x80` clobbers
        // only eax (the result) and leaves r8-r11 zeroed, which we declare.
        unsafe {
            std::arch::asm!(
                "int 0x80",
                inout("rax") rax,
                lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
                options(nostack)
            );
        }
        if (rax as i64) < 0 {
            Err(Error::from_raw_os_error(-(rax as i64) as i32))
        } else {
            Ok(())
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub fn i386_getpid() -> Result<()> {
        Err(Error::from_raw_os_error(libc::ENOSYS))
    }

    /// Both ends of a pseudo-terminal; the descriptors close with it.
    pub struct Pty {
        _master: std::os::fd::OwnedFd,
        slave: std::os::fd::OwnedFd,
    }

    fn owned(fd: libc::c_int) -> Result<std::os::fd::OwnedFd> {
        use std::os::fd::FromRawFd;
        if fd < 0 {
            return Err(Error::last_os_error());
        }
        #[expect(unsafe_code, reason = "owning a descriptor a raw call returned")]
        // SAFETY: `fd` was just returned by open or posix_openpt and nothing else owns it.
        Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
    }

    /// A new pseudo-terminal from `/dev/ptmx`, unlocked, and its terminal end opened.
    pub fn open_pty() -> Result<Pty> {
        use std::os::fd::AsRawFd;
        #[expect(unsafe_code, reason = "std has no pseudo-terminals")]
        // SAFETY: posix_openpt takes flags only.
        let master = owned(unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) })?;
        #[expect(unsafe_code, reason = "std has no pseudo-terminals")]
        // SAFETY: `master` is an open pseudo-terminal master.
        check(unsafe { libc::grantpt(master.as_raw_fd()) })?;
        #[expect(unsafe_code, reason = "std has no pseudo-terminals")]
        // SAFETY: as above.
        check(unsafe { libc::unlockpt(master.as_raw_fd()) })?;
        let mut name = [0 as libc::c_char; 128];
        #[expect(unsafe_code, reason = "std has no pseudo-terminals")]
        // SAFETY: `name` is a writable buffer of the length passed.
        let rc = unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) };
        if rc != 0 {
            return Err(Error::from_raw_os_error(rc));
        }
        #[expect(unsafe_code, reason = "std cannot open with O_NOCTTY")]
        // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
        let slave = owned(unsafe { libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY) })?;
        Ok(Pty {
            _master: master,
            slave,
        })
    }

    /// ioctl(terminal, request, "x") with the request as a full 64-bit register value.
    pub fn tty_ioctl(pty: &Pty, request: u64) -> Result<()> {
        use std::os::fd::AsRawFd;
        let byte = b'x';
        #[expect(unsafe_code, reason = "a raw ioctl with a 64-bit request")]
        // SAFETY: the argument points at one readable byte that outlives the call; TIOCSTI
        // reads one byte, TIOCLINUX on a pseudo-terminal reads nothing (it is not a console).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_ioctl,
                libc::c_long::from(pty.slave.as_raw_fd()),
                request,
                (&raw const byte).cast::<libc::c_void>(),
            )
        };
        check_long(rc)
    }

    pub fn prlimit_core(pid: u32) -> Result<()> {
        let limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        #[expect(unsafe_code, reason = "a raw prlimit64 on another pid")]
        // SAFETY: `limit` is a valid rlimit that outlives the call; the old limit is not read.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_prlimit64,
                libc::c_long::from(pid),
                libc::c_long::from(libc::RLIMIT_CORE),
                &raw const limit,
                std::ptr::null_mut::<libc::rlimit>(),
            )
        };
        check_long(rc)
    }

    pub fn setpriority(pid: u32) -> Result<()> {
        #[expect(unsafe_code, reason = "a raw setpriority on another pid")]
        // SAFETY: setpriority takes integers only.
        // 19, the weakest priority: lowering a priority needs no capability whatever the
        // process's nice value (raising one needs `CAP_SYS_NICE`, which a confined probe lacks).
        let rc = unsafe { libc::syscall(libc::SYS_setpriority, 0_i64, i64::from(pid), 19_i64) };
        check_long(rc)
    }

    pub fn ioprio_set(pid: u32) -> Result<()> {
        const IOPRIO_WHO_PROCESS: i64 = 1;
        const BEST_EFFORT_4: i64 = (2 << 13) | 4;
        #[expect(unsafe_code, reason = "std and libc have no ioprio_set")]
        // SAFETY: ioprio_set takes integers only.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_ioprio_set,
                IOPRIO_WHO_PROCESS,
                i64::from(pid),
                BEST_EFFORT_4,
            )
        };
        check_long(rc)
    }

    pub fn setaffinity(pid: u32) -> Result<()> {
        #[expect(unsafe_code, reason = "a zeroed cpu_set_t, as libc builds it")]
        // SAFETY: cpu_set_t is plain data; all zeros is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        #[expect(unsafe_code, reason = "std has no affinity calls")]
        // SAFETY: `set` is a writable cpu_set_t of `size` bytes.
        check(unsafe { libc::sched_getaffinity(0, size, &raw mut set) })?;
        let pid = libc::pid_t::try_from(pid).map_err(|_| Error::from_raw_os_error(libc::EINVAL))?;
        #[expect(unsafe_code, reason = "std has no affinity calls")]
        // SAFETY: `set` is a valid cpu_set_t of `size` bytes that outlives the call.
        check(unsafe { libc::sched_setaffinity(pid, size, &raw const set) })
    }

    /// socket(family, SOCK_STREAM), for a unix socket a bind to an abstract name, then
    /// listen(): a TCP socket is left unbound, so listen() binds an ephemeral port.
    pub fn listen(family: libc::c_int) -> Result<()> {
        use std::os::fd::AsRawFd;
        #[expect(unsafe_code, reason = "std has no unbound listening socket")]
        // SAFETY: socket takes integers only.
        let fd = owned(unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
        if family == libc::AF_UNIX {
            #[expect(unsafe_code, reason = "a zeroed sockaddr_un, as libc builds it")]
            // SAFETY: sockaddr_un is plain data.
            let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            let name = format!("nonoc-probe-{}", std::process::id());
            // sun_path[0] stays 0: an abstract name, nothing on the file system.
            for (slot, byte) in addr.sun_path[1..].iter_mut().zip(name.bytes()) {
                *slot = byte as libc::c_char;
            }
            let len = std::mem::size_of::<libc::sa_family_t>() + 1 + name.len();
            #[expect(
                unsafe_code,
                reason = "std cannot bind an abstract name on this target"
            )]
            // SAFETY: `addr` is a valid sockaddr_un and `len` does not exceed its size.
            check(unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&raw const addr).cast::<libc::sockaddr>(),
                    len as libc::socklen_t,
                )
            })?;
        }
        #[expect(unsafe_code, reason = "std has no listen on an unbound socket")]
        // SAFETY: listen takes integers only.
        check(unsafe { libc::listen(fd.as_raw_fd(), 1) })
    }
}
