//! Running `nonoc-probe` and reading what it printed.

use std::collections::BTreeMap;
use std::fmt;
use std::process::Command;

use serde_json::Value;

/// One operation the probe performs after applying the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Read(String),
    ReadDir(String),
    Write(String),
    Create(String),
    MakeDir(String),
    Unlink(String),
    RemoveDir(String),
    Rename(String, String),
    Truncate(String),
    Exec(String),
    Connect(u16),
    Bind(u16),
    Signal(u32),
    /// fork(); the child exits at once.
    Fork,
    /// Start a thread and join it.
    Thread,
    /// socket(family, type | SOCK_CLOEXEC, 0).
    Socket(u32, u32),
    /// ptrace(PTRACE_ATTACH) of a pid that cannot exist: ESRCH when the filter allows it.
    Ptrace,
    /// process_vm_readv of a pid that cannot exist: ESRCH when the filter allows it.
    ProcessVmReadv,
    /// io_uring_setup(1, params).
    IoUring,
    /// An x32 syscall number (x86_64): `NR | 0x40000000`.
    X32(u32),
    /// unshare(CLONE_NEWUSER). Changes the probe's credentials: probe it last.
    UnshareUser,
    /// getpid through the i386 entry (`int 0x80`, x86_64 only): the filter kills the process.
    I386Getpid,
    /// ioctl(pty, REQUEST, "x") on a pseudo-terminal the probe opened before the ring (the
    /// request passed as a full 64-bit value; the kernel reads its low 32 bits).
    TtyIoctl(u64),
    /// prlimit64(PID, RLIMIT_CORE, {0, 0}, NULL); PID 0 is the probe itself.
    Prlimit(u32),
    /// setpriority(PRIO_PROCESS, PID, 19).
    Setpriority(u32),
    /// ioprio_set(IOPRIO_WHO_PROCESS, PID, best effort level 4).
    Ioprio(u32),
    /// sched_setaffinity(PID, the probe's own CPU mask).
    Affinity(u32),
    /// socket(AF_INET, SOCK_STREAM) and listen() without bind (an ephemeral port).
    ListenTcp,
    /// socket(AF_UNIX, SOCK_STREAM), bind to an abstract name, listen().
    ListenUnix,
    /// socket(AF_UNIX, SOCK_STREAM) and connect to the socket at PATH.
    UnixConnect(String),
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Read(_) => "read",
            Op::ReadDir(_) => "readdir",
            Op::Write(_) => "write",
            Op::Create(_) => "create",
            Op::MakeDir(_) => "mkdir",
            Op::Unlink(_) => "unlink",
            Op::RemoveDir(_) => "rmdir",
            Op::Rename(..) => "rename",
            Op::Truncate(_) => "truncate",
            Op::Exec(_) => "exec",
            Op::Connect(_) => "connect",
            Op::Bind(_) => "bind",
            Op::Signal(_) => "signal",
            Op::Fork => "fork",
            Op::Thread => "thread",
            Op::Socket(..) => "socket",
            Op::Ptrace => "ptrace",
            Op::ProcessVmReadv => "process-vm-readv",
            Op::IoUring => "io-uring",
            Op::X32(_) => "x32",
            Op::UnshareUser => "unshare-user",
            Op::I386Getpid => "i386-getpid",
            Op::TtyIoctl(_) => "tty-ioctl",
            Op::Prlimit(_) => "prlimit",
            Op::Setpriority(_) => "setpriority",
            Op::Ioprio(_) => "ioprio",
            Op::Affinity(_) => "affinity",
            Op::ListenTcp => "listen-tcp",
            Op::ListenUnix => "listen-unix",
            Op::UnixConnect(_) => "unix-connect",
        }
    }

    /// The operands, as the probe takes them.
    pub fn operands(&self) -> Vec<String> {
        match self {
            Op::Read(p)
            | Op::ReadDir(p)
            | Op::Write(p)
            | Op::Create(p)
            | Op::MakeDir(p)
            | Op::Unlink(p)
            | Op::RemoveDir(p)
            | Op::Truncate(p)
            | Op::Exec(p)
            | Op::UnixConnect(p) => vec![p.clone()],
            Op::TtyIoctl(request) => vec![request.to_string()],
            Op::Prlimit(pid) | Op::Setpriority(pid) | Op::Ioprio(pid) | Op::Affinity(pid) => {
                vec![pid.to_string()]
            }
            Op::Rename(from, to) => vec![from.clone(), to.clone()],
            Op::Connect(port) | Op::Bind(port) => vec![port.to_string()],
            Op::Signal(pid) => vec![pid.to_string()],
            Op::Socket(family, kind) => vec![family.to_string(), kind.to_string()],
            Op::X32(nr) => vec![nr.to_string()],
            Op::Fork
            | Op::Thread
            | Op::Ptrace
            | Op::ProcessVmReadv
            | Op::IoUring
            | Op::UnshareUser
            | Op::I386Getpid
            | Op::ListenTcp
            | Op::ListenUnix => Vec::new(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        for operand in self.operands() {
            write!(f, " {operand}")?;
        }
        Ok(())
    }
}

/// The protocol the probe passes to `socket(family, kind, ...)`: ICMP for raw inet sockets
/// (protocol 0 is refused there with EPROTONOSUPPORT before any sandbox could matter), else
/// the family's default.
pub fn socket_protocol(family: u32, kind: u32) -> u32 {
    const AF_INET: u32 = 2;
    const AF_INET6: u32 = 10;
    const SOCK_RAW: u32 = 3;
    match (family, kind) {
        (AF_INET, SOCK_RAW) => 1,   // IPPROTO_ICMP
        (AF_INET6, SOCK_RAW) => 58, // IPPROTO_ICMPV6
        _ => 0,
    }
}

/// What the kernel answered: `ok` or an errno name (`EACCES`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Errno(String),
}

impl Outcome {
    pub fn errno(&self) -> Option<&str> {
        match self {
            Outcome::Ok => None,
            Outcome::Errno(e) => Some(e),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Errno(e) => f.write_str(e),
        }
    }
}

/// How the probe selects its ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    Ring(u8),
    TrustScore(u32),
}

/// The probe's command line, short of the operations.
#[derive(Debug, Clone)]
pub struct ProbeArgs {
    pub artifact: String,
    pub select: Select,
    pub vars: Vec<(String, String)>,
    pub max_abi: Option<u32>,
    pub allow_unconfined: bool,
    /// Print the report `apply` would return, apply nothing, perform no operation.
    pub preview: bool,
    /// Start a second thread before applying.
    pub extra_thread: bool,
}

impl ProbeArgs {
    pub fn new(artifact: &str, select: Select) -> ProbeArgs {
        ProbeArgs {
            artifact: artifact.to_owned(),
            select,
            vars: Vec::new(),
            max_abi: None,
            allow_unconfined: false,
            preview: false,
            extra_thread: false,
        }
    }

    pub fn var(mut self, name: &str, value: &str) -> ProbeArgs {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The enforcement report, as the probe printed it (JSON of `EnforcementReport`).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub ring: u8,
    pub unconfined: bool,
    /// `None` for an unconfined ring.
    pub landlock: Option<LandlockReport>,
    /// The isolation layer (`None` for an unconfined ring).
    pub isolation: Option<IsolationReport>,
    /// The capabilities the confined process kept (`None`: the report does not say, and the
    /// process kept what it had).
    pub capabilities_kept: Option<Vec<u32>>,
    pub raw: Value,
}

/// The report's `isolation`.
#[derive(Debug, Clone, Default)]
pub struct IsolationReport {
    /// `namespace` or `landlock`.
    pub tier: String,
    pub unavailable: Option<String>,
    pub user_namespace: bool,
    pub masks: Vec<Mask>,
    /// Paths that needed a mask and were carved out instead.
    pub unmasked: Vec<String>,
}

/// One mask of the report.
#[derive(Debug, Clone)]
pub struct Mask {
    pub path: String,
    /// `read_only`, `no_exec`, `read_only_no_exec`, `covered`.
    pub kind: String,
    pub also_denied: Vec<String>,
}

/// The rights a read-only mount takes (every right that writes, creates, removes or renames).
const READ_ONLY_TAKES: [&str; 12] = [
    "write_file",
    "truncate",
    "make_reg",
    "make_dir",
    "make_sym",
    "make_sock",
    "make_fifo",
    "make_char",
    "make_block",
    "remove_file",
    "remove_dir",
    "refer",
];

impl Mask {
    /// Whether the mask takes `right` from its path and everything below it, by what a mount
    /// of its kind does (read-only, no exec, or an empty mode-000 cover), not by what the
    /// report says it takes.
    pub fn takes(&self, right: &str) -> bool {
        let read_only = READ_ONLY_TAKES.contains(&right);
        match self.kind.as_str() {
            "covered" => true,
            "read_only" => read_only,
            "no_exec" => right == "execute",
            "read_only_no_exec" => read_only || right == "execute",
            other => panic!("unknown mask kind `{other}`"),
        }
    }
}

impl IsolationReport {
    /// The innermost mask at or above `path`.
    pub fn mask_over(&self, path: &str) -> Option<&Mask> {
        self.masks
            .iter()
            .filter(|m| {
                path == m.path
                    || path
                        .strip_prefix(m.path.as_str())
                        .is_some_and(|t| t.starts_with('/'))
            })
            .max_by_key(|m| m.path.len())
    }

    /// Whether `path` is where a mask is mounted.
    pub fn is_mount_point(&self, path: &str) -> bool {
        self.masks.iter().any(|m| m.path == path)
    }
}

#[derive(Debug, Clone, Default)]
pub struct LandlockReport {
    pub abi: u32,
    pub handled: Vec<String>,
    pub tcp_ports_enforced: bool,
    pub scopes: Vec<String>,
    pub dropped: Vec<Value>,
    pub missing_paths: Vec<String>,
    /// Split directory -> the rights it lost for itself.
    pub carve_outs: BTreeMap<String, Vec<String>>,
    pub glob_matches: Vec<(String, Vec<String>)>,
}

impl LandlockReport {
    pub fn handles(&self, right: &str) -> bool {
        self.handled.iter().any(|h| h == right)
    }

    /// The rights a split directory lost (empty when it was not split).
    pub fn lost(&self, dir: &str) -> &[String] {
        self.carve_outs.get(dir).map_or(&[], Vec::as_slice)
    }

    pub fn scoped(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl Report {
    pub fn parse(json: &str) -> Result<Report, String> {
        let raw: Value =
            serde_json::from_str(json).map_err(|e| format!("bad report JSON: {e}: {json}"))?;
        let landlock = raw.get("landlock").map(|l| LandlockReport {
            abi: l["abi"].as_u64().unwrap_or(0) as u32,
            handled: strings(&l["handled"]),
            tcp_ports_enforced: l["tcp_ports_enforced"].as_bool().unwrap_or(false),
            scopes: strings(&l["scopes"]),
            dropped: l["dropped"].as_array().cloned().unwrap_or_default(),
            missing_paths: strings(&l["missing_paths"]),
            carve_outs: l["carve_outs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|pair| Some((pair[0].as_str()?.to_owned(), strings(&pair[1]))))
                        .collect()
                })
                .unwrap_or_default(),
            glob_matches: l["glob_matches"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|pair| Some((pair[0].as_str()?.to_owned(), strings(&pair[1]))))
                        .collect()
                })
                .unwrap_or_default(),
        });
        let isolation = raw.get("isolation").map(|i| IsolationReport {
            tier: i["tier"].as_str().unwrap_or_default().to_owned(),
            unavailable: i["unavailable"].as_str().map(str::to_owned),
            user_namespace: i["user_namespace"].as_bool().unwrap_or(false),
            masks: i["masks"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| Mask {
                            path: m["path"].as_str().unwrap_or_default().to_owned(),
                            kind: m["kind"].as_str().unwrap_or_default().to_owned(),
                            also_denied: strings(&m["also_denied"]),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            unmasked: i["unmasked"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|pair| pair[0].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        });
        Ok(Report {
            ring: raw["ring"].as_u64().unwrap_or(u64::MAX) as u8,
            unconfined: raw["unconfined"].as_bool().unwrap_or(false),
            landlock,
            isolation,
            capabilities_kept: raw.get("process").map(|p| {
                p["capabilities_kept"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok()))
                            .collect()
                    })
                    .unwrap_or_default()
            }),
            raw,
        })
    }
}

/// What one probe run printed.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// Exit code (`None`: killed by a signal).
    pub status: Option<i32>,
    /// The signal that killed the probe.
    pub signal: Option<i32>,
    pub report: Option<Report>,
    /// `apply-error KIND: MESSAGE`, split.
    pub apply_error: Option<(String, String)>,
    pub results: Vec<(Op, Outcome)>,
    pub stdout: String,
    pub stderr: String,
}

impl ProbeRun {
    /// The report, or a panic that shows what the probe printed.
    pub fn report(&self) -> &Report {
        match &self.report {
            Some(r) => r,
            None => panic!(
                "the probe printed no report (status {:?}):\n{}{}",
                self.status, self.stdout, self.stderr
            ),
        }
    }

    /// The outcome of the one operation equal to `op`.
    pub fn outcome(&self, op: &Op) -> &Outcome {
        match self.results.iter().find(|(o, _)| o == op) {
            Some((_, outcome)) => outcome,
            None => panic!("`{op}` was not probed:\n{}", self.stdout),
        }
    }
}

/// Runs the probe with a cleared environment (variables come from `--var` or defaults only)
/// and parses its output. Panics if the output does not follow the protocol.
pub fn run(probe: &str, args: &ProbeArgs, ops: &[Op]) -> ProbeRun {
    let mut cmd = Command::new(probe);
    cmd.env_clear().arg("--artifact").arg(&args.artifact);
    match args.select {
        Select::Ring(n) => cmd.arg("--ring").arg(n.to_string()),
        Select::TrustScore(s) => cmd.arg("--trust-score").arg(s.to_string()),
    };
    for (name, value) in &args.vars {
        cmd.arg("--var").arg(format!("{name}={value}"));
    }
    if let Some(abi) = args.max_abi {
        cmd.arg("--max-abi").arg(abi.to_string());
    }
    if args.allow_unconfined {
        cmd.arg("--allow-unconfined");
    }
    if args.preview {
        cmd.arg("--preview");
    }
    if args.extra_thread {
        cmd.arg("--extra-thread");
    }
    cmd.arg("--");
    for op in ops {
        cmd.arg(op.name()).args(op.operands());
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {probe}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut run = ProbeRun {
        status: output.status.code(),
        signal: std::os::unix::process::ExitStatusExt::signal(&output.status),
        report: None,
        apply_error: None,
        results: Vec::new(),
        stdout: stdout.clone(),
        stderr,
    };
    let mut pending = ops.iter();
    for line in stdout.lines() {
        if let Some(json) = line.strip_prefix("report ") {
            run.report = Some(Report::parse(json).unwrap_or_else(|e| panic!("{e}")));
        } else if let Some(rest) = line.strip_prefix("apply-error ") {
            let (kind, message) = rest.split_once(": ").unwrap_or((rest, ""));
            run.apply_error = Some((kind.to_owned(), message.to_owned()));
        } else if let Some((head, result)) = line.rsplit_once(" -> ") {
            let op = pending.next().unwrap_or_else(|| {
                panic!("the probe printed more results than operations: `{line}`")
            });
            assert_eq!(
                head,
                op.to_string(),
                "probe output out of step with the operations"
            );
            let outcome = if result == "ok" {
                Outcome::Ok
            } else {
                Outcome::Errno(result.to_owned())
            };
            run.results.push((op.clone(), outcome));
        } else {
            panic!(
                "unexpected probe output line `{line}`\n{stdout}{}",
                run.stderr
            );
        }
    }
    // A probe the filter killed stops early; the test checks the signal.
    if run.apply_error.is_none() && !args.preview && run.signal.is_none() {
        assert_eq!(
            run.results.len(),
            ops.len(),
            "the probe stopped early (status {:?}):\n{}{}",
            run.status,
            run.stdout,
            run.stderr
        );
    }
    run
}
