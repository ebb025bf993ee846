//! `nonoc __probe`: the child side of `nonoc test --kernel`. A hidden subcommand: it reads an
//! artifact on stdin, applies one ring of it to itself with `nonoc_runtime`, tries one
//! operation and prints what the kernel answered. `nonoc test --kernel` runs it as a fresh
//! process per test, so the sandbox (irrevocable) never touches `nonoc test` itself, and the
//! compiler needs no unsafe code to fork.
//!
//! Output, one line each, on stdout:
//! - `not-run REASON`: the operation cannot be asked of the kernel here (nothing applied);
//! - `apply-error MESSAGE`: the ring could not be applied;
//! - `report JSON`: the enforcement report, then `note TEXT` lines (what this kernel does
//!   not enforce that concerns the operation), then exactly one of `allowed`,
//!   `denied ERRNO` or `inconclusive WHAT`. A probe killed after `report` (a seccomp
//!   `kill_process` or `trap`) was denied.
//!
//! Each operation is chosen to change nothing on the host: files are opened, never written
//! (`write` opens an existing regular file for writing, without truncating, and closes it);
//! `execute` runs the program's dynamic loader to the end in trace mode: for a dynamically
//! linked program (or a `#!` script whose interpreter is one) with the GNU C library's loader,
//! the probe prints `trace` and `execve`s it with `LD_TRACE_LOADED_OBJECTS=1`, so the kernel
//! opens the program and its loader (the `execute` and `read_file` checks), the loader maps
//! every shared library and exits listing them (a library it cannot open shows as
//! `=> not found`), and the program's own code never runs; `nonoc test --kernel` judges that
//! output and exit status. Any other program gets an `execve` the kernel refuses with `E2BIG`
//! after its permission checks on the program itself (an argument longer than any kernel
//! accepts), so no program runs, and a note says the loader was not reached; `fork` starts a process
//! that fails to execute a missing program; sockets bind or connect on the loopback address;
//! signals go to the probe or to processes it started; a system call is answered by a seccomp
//! filter of the probe's own before it runs (`nonoc_runtime::probe`). Before the ring is
//! applied the same operation is tried once unconfined (the baseline): when it already fails
//! there, a denial could not be told from the sandbox's, and the operation is not run; when
//! it succeeds there, an error after the ring is applied is the sandbox's answer, whatever
//! its errno (Landlock's `EACCES`, a seccomp rule's own).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nonoc_runtime::artifact::Capability;
use nonoc_runtime::{Artifact, Bindings};

use super::common::{CliError, Context, Exit, Outcome, VarArgs};
use crate::syntax::ListenFamily;

/// An argument longer than `MAX_ARG_STRLEN` on every kernel (32 pages of at most 64 KiB):
/// `execve` fails with `E2BIG` after it opened the file and checked the right to execute it.
const TOO_LONG: usize = 4 * 1024 * 1024 + 1;

/// Arguments of the hidden `nonoc __probe`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// The ring to apply.
    #[arg(long, conflicts_with = "trust_score")]
    pub ring: Option<u8>,
    /// Select the ring by the artifact's trust tiers.
    #[arg(long)]
    pub trust_score: Option<u32>,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Wait until stdin closes, then exit (a process for `signal` to target).
    #[arg(long)]
    pub wait: bool,
    /// The operation: `read PATH`, `write PATH`, `execute PATH`, `connect PORT`,
    /// `bind PORT`, `udp`, `fork`, `signal self|sandbox|any`, `syscall NR GATE [ARG]...`,
    /// `listen tcp|unix NR GATE`, `unix-connect PATH`, `capability NAME`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub op: Vec<String>,
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Read(PathBuf),
    Write(PathBuf),
    Execute(PathBuf),
    Connect(u16),
    Bind(u16),
    Udp,
    Fork,
    /// Signal 0 to this process.
    SignalSelf,
    /// Signal a process started inside the sandbox.
    SignalSandbox,
    /// Signal a process started before the sandbox.
    SignalAny,
    /// A system call by number, asked through seccomp without being made
    /// ([`nonoc_runtime::probe::SyscallProbe`]); `gate` is an argument no rule examines.
    Syscall {
        nr: u32,
        gate: usize,
        args: Vec<u64>,
    },
    /// A socket of the family, created for real, then `listen()` on it asked through the
    /// probe's filter (`nr`: this arch's number of `listen`).
    Listen {
        family: ListenFamily,
        nr: u32,
        gate: usize,
    },
    /// Connecting to the unix socket at the path.
    UnixConnect(PathBuf),
    /// Whether the capability is still in the effective set.
    Capability(Capability),
}

fn parse_op(words: &[String]) -> Result<Op, String> {
    let port = |w: &str| {
        w.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("bad port `{w}`"))
    };
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Ok(match words.as_slice() {
        ["read", p] => Op::Read(PathBuf::from(p)),
        ["write", p] => Op::Write(PathBuf::from(p)),
        ["execute", p] => Op::Execute(PathBuf::from(p)),
        ["connect", p] => Op::Connect(port(p)?),
        ["bind", p] => Op::Bind(port(p)?),
        ["udp"] => Op::Udp,
        ["fork"] => Op::Fork,
        ["signal", "self"] => Op::SignalSelf,
        ["signal", "sandbox"] => Op::SignalSandbox,
        ["signal", "any"] => Op::SignalAny,
        ["listen", family, nr, gate] => Op::Listen {
            family: match *family {
                "tcp" => ListenFamily::Tcp,
                "unix" => ListenFamily::Unix,
                other => return Err(format!("bad socket family `{other}` in `listen`")),
            },
            nr: nr
                .parse()
                .map_err(|_| format!("bad syscall number `{nr}`"))?,
            gate: gate
                .parse()
                .ok()
                .filter(|g| (2..6).contains(g))
                .ok_or_else(|| format!("bad gate argument `{gate}`"))?,
        },
        ["unix-connect", p] => Op::UnixConnect(PathBuf::from(p)),
        ["capability", name] => Op::Capability(
            Capability::from_name(name).ok_or_else(|| format!("unknown capability `{name}`"))?,
        ),
        ["syscall", nr, gate, args @ ..] if args.len() <= 6 => {
            let number = |w: &str| {
                w.parse::<u64>()
                    .map_err(|_| format!("bad number `{w}` in `syscall`"))
            };
            Op::Syscall {
                nr: nr
                    .parse()
                    .map_err(|_| format!("bad syscall number `{nr}`"))?,
                gate: gate
                    .parse()
                    .ok()
                    .filter(|g| *g < 6)
                    .ok_or_else(|| format!("bad gate argument `{gate}`"))?,
                args: args.iter().map(|a| number(a)).collect::<Result<_, _>>()?,
            }
        }
        _ => return Err(format!("unknown operation `{}`", words.join(" "))),
    })
}

/// What one attempt of an operation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Allowed,
    /// A refusal the sandbox gives (`EACCES`, `EPERM`).
    Denied(String),
    /// Neither: an error that says nothing about the sandbox.
    Other(String),
}

fn errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => u32::try_from(n)
            .ok()
            .and_then(crate::data::errno_name)
            .map_or_else(|| format!("errno {n}"), str::to_owned),
        None => e.to_string(),
    }
}

/// An error after the sandbox was applied, when the same operation succeeded without it (the
/// baseline): the sandbox's answer, whatever the errno (Landlock's `EACCES`, a seccomp rule's
/// own errno).
fn refused(e: &std::io::Error) -> Answer {
    Answer::Denied(errno(e))
}

fn errno_of(n: i32) -> String {
    errno(&std::io::Error::from_raw_os_error(n))
}

/// `nonoc __probe`. Output as the module says; exit 0 unless the command line is wrong.
pub fn run(args: &ProbeArgs, ctx: &mut Context<'_>) -> Outcome {
    let mut stdin = std::io::stdin().lock();
    let mut bytes = Vec::new();
    if let Err(e) = stdin.read_to_end(&mut bytes) {
        return Err(CliError::usage(format!("cannot read stdin: {e}")));
    }
    if args.wait {
        return Ok(Exit::Ok);
    }
    let op = parse_op(&args.op).map_err(CliError::usage)?;
    let bindings = args.vars.bindings()?;
    let out = &mut *ctx.out;
    let line = |out: &mut dyn Write, text: &str| {
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    };
    // Opened before the sandbox, which may deny opening it: the stdio of processes started.
    let null = match std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        Ok(f) => f,
        Err(e) => {
            line(out, &format!("not-run cannot open /dev/null: {e}"));
            return Ok(Exit::Ok);
        }
    };
    let mut target = match prepare(&op, &null) {
        Ok(target) => target,
        Err(reason) => {
            line(out, &format!("not-run {reason}"));
            return Ok(Exit::Ok);
        }
    };
    // Opened before the ring, which may deny opening it: read again after it is applied.
    let status = match &op {
        Op::Capability(_) => match std::fs::File::open(PROC_STATUS) {
            Ok(f) => Some(f),
            Err(e) => {
                line(out, &format!("not-run cannot open {PROC_STATUS}: {e}"));
                return Ok(Exit::Ok);
            }
        },
        _ => None,
    };
    // Armed before the ring: the ring's filter must be the later one (module doc of
    // `nonoc_runtime::probe`).
    let armed = match &op {
        Op::Syscall { nr, gate, .. } | Op::Listen { nr, gate, .. } => {
            match nonoc_runtime::probe::SyscallProbe::arm(*nr, *gate) {
                Ok(armed) => Some(armed),
                Err(e) => {
                    line(
                        out,
                        &format!("not-run cannot install the probe's filter: {e}"),
                    );
                    return Ok(Exit::Ok);
                }
            }
        }
        _ => None,
    };
    let report = match apply(&bytes, args, &bindings) {
        Ok(report) => report,
        Err(message) => {
            finish(target.as_mut());
            line(out, &format!("apply-error {message}"));
            return Ok(Exit::Ok);
        }
    };
    match serde_json::to_string(&report) {
        Ok(json) => line(out, &format!("report {json}")),
        Err(e) => line(out, &format!("report {{}} (unprintable: {e})")),
    }
    for note in notes(&op, &report) {
        line(out, &format!("note {note}"));
    }
    if let Op::Execute(p) = &op {
        match traceable(p) {
            Some(_) => {
                // The program replaces the probe; what it prints and how it exits is the
                // answer. An `execve` the kernel refuses returns here.
                line(out, "trace");
                let error = trace_command(p).exec();
                line(out, &format!("denied {}", errno(&error)));
                return Ok(Exit::Ok);
            }
            None => line(
                out,
                &format!(
                    "note `{}` has no GNU C library loader to run in trace mode (statically linked, another loader, or not a program): only the kernel's checks on the program itself were asked",
                    p.display()
                ),
            ),
        }
    }
    let answer = match (&op, &armed, status) {
        (Op::Syscall { args, .. }, Some(armed), _) => match armed.ask(args) {
            Ok(()) => Answer::Allowed,
            Err(e) => Answer::Denied(errno_of(e)),
        },
        (Op::Listen { family, .. }, Some(armed), _) => listen(*family, armed),
        (Op::Capability(cap), _, Some(mut status)) => match held(&mut status, *cap) {
            Ok(true) => Answer::Allowed,
            // Not in the effective set: dropped, which a `capability` request calls denied.
            Ok(false) => Answer::Denied("dropped".to_owned()),
            Err(e) => Answer::Other(e),
        },
        _ => attempt(&op, &null, target.as_mut()),
    };
    finish(target.as_mut());
    match answer {
        Answer::Allowed => line(out, "allowed"),
        Answer::Denied(e) => line(out, &format!("denied {e}")),
        Answer::Other(e) => line(out, &format!("inconclusive {e}")),
    }
    Ok(Exit::Ok)
}

fn apply(
    bytes: &[u8],
    args: &ProbeArgs,
    bindings: &Bindings,
) -> Result<nonoc_runtime::EnforcementReport, String> {
    let artifact = Artifact::from_slice(bytes).map_err(|e| e.to_string())?;
    let ring = match (args.ring, args.trust_score) {
        (Some(level), _) => artifact.ring(level),
        (None, Some(score)) => artifact.ring_for_trust_score(score),
        (None, None) => return Err("no ring selected".to_owned()),
    }
    .map_err(|e| e.to_string())?;
    // An unconfined ring applies nothing: what a test of it asks is what the kernel does
    // without a sandbox, which is a fair answer.
    ring.allow_unconfined(true)
        .apply(bindings)
        .map_err(|e| e.to_string())
}

/// What the report says this kernel or this runtime does not enforce, as far as it concerns
/// the operation.
fn notes(op: &Op, report: &nonoc_runtime::EnforcementReport) -> Vec<String> {
    use nonoc_runtime::Dropped;
    let mut notes: Vec<String> = report
        .landlock
        .iter()
        .flat_map(|l| &l.dropped)
        .filter(|d| match d {
            Dropped::BelowMinAbi { .. } => true,
            Dropped::Right { .. } => matches!(op, Op::Read(_) | Op::Write(_) | Op::Execute(_)),
            Dropped::TcpPorts { .. } => matches!(op, Op::Connect(_) | Op::Bind(_)),
            Dropped::Scope { .. } => matches!(op, Op::SignalSandbox | Op::SignalAny),
            // Something a later runtime drops: say so whatever the operation.
            _ => true,
        })
        .map(|d| format!("not enforced on this kernel: {d}"))
        .collect();
    if !report.unconfined
        && report.seccomp.is_none()
        && matches!(
            op,
            Op::Udp | Op::Fork | Op::Syscall { .. } | Op::SignalSelf | Op::Listen { .. }
        )
    {
        notes.push("no seccomp filter was installed".to_owned());
    }
    if matches!(op, Op::UnixConnect(_)) {
        notes.extend(report.not_enforced.iter().cloned());
    }
    notes
}

/// Checks the operation can be asked here and tries it once unconfined. Returns the process
/// a `signal any` targets. `Err`: why it is not run.
fn prepare(op: &Op, null: &std::fs::File) -> Result<Option<Child>, String> {
    match op {
        Op::Read(p) | Op::Write(p) | Op::Execute(p) => {
            let meta = match std::fs::metadata(p) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(format!(
                        "`{}` does not exist on this host: the kernel checks a right when a file is opened",
                        p.display()
                    ));
                }
                Err(e) => return Err(format!("cannot stat `{}`: {}", p.display(), errno(&e))),
            };
            if meta.is_dir() {
                return Err(format!(
                    "`{}` is a directory: the kernel checks this right on files",
                    p.display()
                ));
            }
            if !meta.is_file() {
                return Err(format!(
                    "`{}` is not a regular file: opening it could have effects",
                    p.display()
                ));
            }
        }
        Op::SignalAny => {
            // Started before the sandbox: outside it.
            return waiter(null)
                .map(Some)
                .map_err(|e| format!("cannot start a process to signal: {}", errno(&e)));
        }
        // Not made: the probe's filter answers it (`probe`).
        Op::SignalSandbox | Op::Syscall { .. } => return Ok(None),
        Op::Listen { family, .. } => {
            return match nonoc_runtime::probe::socket(domain(*family), SOCK_STREAM) {
                Ok(_) => Ok(None),
                Err(e) => Err(format!(
                    "a {} socket cannot be created without the sandbox either ({})",
                    family.name(),
                    errno_of(e)
                )),
            };
        }
        Op::UnixConnect(p) => {
            use std::os::unix::fs::FileTypeExt;
            match std::fs::metadata(p) {
                Ok(m) if m.file_type().is_socket() => {}
                Ok(_) => return Err(format!("`{}` is not a unix socket", p.display())),
                Err(e) => {
                    return Err(format!(
                        "no unix socket at `{}` on this host ({})",
                        p.display(),
                        errno(&e)
                    ));
                }
            }
        }
        Op::Capability(cap) => {
            let held = std::fs::File::open(PROC_STATUS)
                .map_err(|e| e.to_string())
                .and_then(|mut f| held(&mut f, *cap));
            return match held {
                Ok(true) => Ok(None),
                Ok(false) => Err(format!(
                    "the probe does not hold `{cap}` without the sandbox (it runs without privilege), so keeping it cannot be asked"
                )),
                Err(e) => Err(format!("cannot read the probe's capabilities: {e}")),
            };
        }
        Op::Connect(_) | Op::Bind(_) | Op::Udp | Op::Fork | Op::SignalSelf => {}
    }
    let baseline = match op {
        Op::Execute(p) if traceable(p).is_some() => trace_unconfined(p),
        _ => attempt(op, null, None),
    };
    match baseline {
        Answer::Allowed => Ok(None),
        Answer::Denied(e) | Answer::Other(e) => Err(format!(
            "it fails without the sandbox too ({e}), so a denial could not be told from one"
        )),
    }
}

/// A `nonoc __probe --wait` process: it lives until its stdin closes.
fn waiter(null: &std::fs::File) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args([crate::kernel::SUBCOMMAND, "--wait"])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(null.try_clone()?)
        .stderr(null.try_clone()?)
        .spawn()
}

/// Ends a `waiter`: closes its stdin (it exits) and reaps it.
fn finish(target: Option<&mut Child>) {
    if let Some(child) = target {
        drop(child.stdin.take());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Tries the operation once and classifies the kernel's answer.
fn attempt(op: &Op, null: &std::fs::File, target: Option<&mut Child>) -> Answer {
    let result = match op {
        Op::Read(p) => std::fs::File::open(p).map(drop),
        Op::Write(p) => std::fs::File::options().write(true).open(p).map(drop),
        Op::Execute(p) => return execute(p),
        Op::Connect(port) => {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], *port));
            match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)) {
                Ok(_) => Ok(()),
                // The sandbox lets the connection be attempted: nobody listens, or it is slow.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        Op::Bind(port) => match std::net::TcpListener::bind(("127.0.0.1", *port)) {
            // The kernel checks the right before it looks whether the port is free.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(()),
            other => other.map(drop),
        },
        Op::Udp => std::net::UdpSocket::bind(("127.0.0.1", 0)).map(drop),
        Op::Fork => return fork(null),
        Op::SignalSelf => {
            nonoc_runtime::probe::signal_self().map_err(std::io::Error::from_raw_os_error)
        }
        Op::Syscall { .. } | Op::Listen { .. } => {
            return Answer::Other("the probe's filter is not armed".to_owned());
        }
        Op::Capability(_) => return Answer::Other("the status file is not open".to_owned()),
        Op::UnixConnect(p) => std::os::unix::net::UnixStream::connect(p).map(drop),
        Op::SignalSandbox => {
            // A process started inside the sandbox is in it.
            let mut child = match waiter(null) {
                Ok(c) => c,
                Err(e) => {
                    return Answer::Other(format!(
                        "cannot start a process inside the sandbox to signal ({})",
                        errno(&e)
                    ));
                }
            };
            let result = child.kill();
            finish(Some(&mut child));
            result
        }
        Op::SignalAny => match target {
            Some(child) => child.kill(),
            None => return Answer::Other("no process to signal".to_owned()),
        },
    };
    match result {
        Ok(()) => Answer::Allowed,
        Err(e) => refused(&e),
    }
}

/// `execve(PATH, [PATH, <too long>])` in this process: `E2BIG` means the kernel opened the file
/// for execution (every permission check passed) and refused only the argument.
fn execute(path: &Path) -> Answer {
    let error = Command::new(path)
        .arg("x".repeat(TOO_LONG))
        .env_clear()
        .exec();
    match errno(&error).as_str() {
        "E2BIG" => Answer::Allowed,
        _ => refused(&error),
    }
}

/// The file whose loader a trace of `path` runs: the program, or the interpreter of a `#!`
/// script (the kernel opens both), when its ELF interpreter is the GNU C library's loader,
/// which honours `LD_TRACE_LOADED_OBJECTS` and then never runs the program. `None` otherwise:
/// another loader may run the program instead.
fn traceable(path: &Path) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let program = match head[..n].strip_prefix(b"#!") {
        Some(rest) => {
            let line = rest.split(|b| *b == b'\n').next()?;
            let text = std::str::from_utf8(line).ok()?.trim();
            PathBuf::from(text.split_whitespace().next()?)
        }
        None => path.to_path_buf(),
    };
    let real = std::fs::canonicalize(&program).ok()?;
    let loader = nonoc_runtime::probe::interpreter_of(real.to_str()?).ok()??;
    let name = Path::new(&loader).file_name()?.to_str()?;
    (name.starts_with("ld-linux") || name.starts_with("ld64.so")).then_some(program)
}

/// The program with the loader in trace mode and nothing else in its environment.
fn trace_command(path: &Path) -> Command {
    let mut cmd = Command::new(path);
    cmd.env_clear().env("LD_TRACE_LOADED_OBJECTS", "1");
    cmd
}

/// A trace run to the end without the sandbox (the baseline), judged as `nonoc test --kernel`
/// judges the confined one.
fn trace_unconfined(path: &Path) -> Answer {
    let output = trace_command(path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(out) => match crate::kernel::judge_trace(
            out.status.success(),
            &String::from_utf8_lossy(&out.stdout),
        ) {
            Ok(()) => Answer::Allowed,
            Err(why) => Answer::Other(why),
        },
        Err(e) => refused(&e),
    }
}

/// Where the kernel shows a process its own capabilities (`CapEff:`).
const PROC_STATUS: &str = "/proc/self/status";

const AF_UNIX: i32 = 1;
const AF_INET: i32 = 2;
const SOCK_STREAM: i32 = 1;

fn domain(family: ListenFamily) -> i32 {
    match family {
        ListenFamily::Tcp => AF_INET,
        ListenFamily::Unix => AF_UNIX,
    }
}

/// `listen(fd, 1)` on a fresh socket of the family: the socket is created for real (the
/// ring's filter answers `socket()`), `listen()` is asked through the probe's filter and
/// never runs (no port is bound, nothing listens).
fn listen(family: ListenFamily, armed: &nonoc_runtime::probe::SyscallProbe) -> Answer {
    use std::os::fd::AsRawFd;
    let socket = match nonoc_runtime::probe::socket(domain(family), SOCK_STREAM) {
        Ok(fd) => fd,
        Err(e) => return Answer::Denied(errno_of(e)),
    };
    let fd = u64::try_from(socket.as_raw_fd()).unwrap_or(u64::MAX);
    match armed.ask(&[fd, 1]) {
        Ok(()) => Answer::Allowed,
        Err(e) => Answer::Denied(errno_of(e)),
    }
}

/// Whether `cap` is in the effective set that `/proc/self/status` shows, read from its
/// start (a status file opened before the ring is read again after it).
fn held(status: &mut std::fs::File, cap: Capability) -> Result<bool, String> {
    use std::io::Seek;
    let mut text = String::new();
    status
        .seek(std::io::SeekFrom::Start(0))
        .and_then(|_| status.read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
        .ok_or_else(|| format!("no `CapEff:` line in {PROC_STATUS}"))?;
    let set = u64::from_str_radix(hex, 16).map_err(|_| format!("bad `CapEff: {hex}`"))?;
    Ok(set & (1 << cap.number()) != 0)
}

/// A program that cannot exist: executing it fails with `ENOENT` in the new process.
const MISSING_PROGRAM: &str = "/proc/self/nonoc-probe-no-such-program";

/// Starts a process that runs a missing program: `ENOENT` (from `execve`, in the new process)
/// means the process was created; anything else is the sandbox refusing to create it (a
/// seccomp rule's errno on `clone`).
fn fork(null: &std::fs::File) -> Answer {
    let stdio = || null.try_clone().map(Stdio::from);
    let (Ok(i), Ok(o), Ok(e)) = (stdio(), stdio(), stdio()) else {
        return Answer::Other("cannot duplicate /dev/null".to_owned());
    };
    let result = Command::new(MISSING_PROGRAM)
        .env_clear()
        .stdin(i)
        .stdout(o)
        .stderr(e)
        .spawn();
    match result {
        Ok(mut child) => {
            let _ = child.kill();
            let _ = child.wait();
            Answer::Other(format!("`{MISSING_PROGRAM}` ran"))
        }
        Err(e) if errno(&e) == "ENOENT" => Answer::Allowed,
        Err(e) => refused(&e),
    }
}
