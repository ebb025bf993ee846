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
        Error::Io(_) => "io",
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
        Error::Apply(_) => "apply",
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
        let arity = if op == "rename" { 2 } else { 1 };
        let operands: Vec<&String> = ops.by_ref().take(arity).collect();
        if operands.len() != arity {
            eprintln!("nonoc-probe: `{op}` needs {arity} operand(s)");
            return ExitCode::from(2);
        }
        let result = match run(op, &operands, &dev_null) {
            Ok(()) => "ok".to_owned(),
            Err(Outcome::Errno(n)) => errno_name(n),
            Err(Outcome::Usage(m)) => {
                eprintln!("nonoc-probe: {m}");
                return ExitCode::from(2);
            }
        };
        let joined: Vec<&str> = operands.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(out, "{op} {} -> {result}", joined.join(" "));
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

fn run(op: &str, operands: &[&String], dev_null: &std::fs::File) -> Result<(), Outcome> {
    let path = operands[0].as_str();
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
}
