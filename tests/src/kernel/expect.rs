//! The oracle: what `decide` says about each probe operation, what the kernel is expected to
//! answer, and the comparison of the two with what the probe saw.
//!
//! # Operations as `decide` requests
//!
//! The policy language decides on a path and one right; "a rule on a directory covers its
//! subtree". Landlock checks the rights that create or remove a directory entry on the
//! *parent* directory. The contract is the language's: each operation is asked of `decide` on
//! the path the operation names.
//!
//! | probe op          | `decide` request(s)                                          | Landlock checks               |
//! |-------------------|--------------------------------------------------------------|-------------------------------|
//! | `read P`          | read_file on P                                               | read_file on P                |
//! | `readdir D`       | read_dir on D                                                | read_dir on D                 |
//! | `write P`         | write_file on P                                              | write_file on P               |
//! | `truncate P`      | truncate on P                                                | truncate on P (ABI 3+)        |
//! | `exec P`          | execute on P                                                 | execute **and read_file** on P|
//! | `create P` (mknod)| make_reg on the new path P                                   | make_reg on parent(P)         |
//! | `mkdir P`         | make_dir on P                                                | make_dir on parent(P)         |
//! | `unlink P`        | remove_file on P                                             | remove_file on parent(P)      |
//! | `rmdir P`         | remove_dir on P                                              | remove_dir on parent(P)       |
//! | `rename S T`      | remove_file on S, make_reg on T, and across directories refer on S and on T (allowed iff all are) | remove_file on parent(S), make_reg on parent(T), refer on both parents, and the moved file may not gain a right (EXDEV) |
//! | `connect N`       | ConnectTcp N                                                 | connect_tcp port N (ABI 4+)   |
//! | `bind N`          | BindTcp N                                                    | bind_tcp port N (ABI 4+)      |
//! | `signal PID`      | Signal { scope: any } (PID is outside the sandbox)           | signal scope (ABI 6+)         |
//!
//! # The seccomp filter comes first
//!
//! The filter runs at syscall entry, before Landlock's checks. Where an operation's first
//! syscall is one the ring's filter may deny, the kernel's answer is the filter's:
//! - `exec P` forks first (glibc's posix_spawn: `clone3`, which `fork: false` answers with
//!   ENOSYS, then `clone(CLONE_VM | CLONE_VFORK | SIGCHLD)`), so a ring that denies that
//!   `clone` denies the exec with the `clone` rule's errno;
//! - `connect N` and `bind N` open `socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)` first.
//!
//! The syscall operations ask `decide` about one syscall with the exact arguments the probe
//! passes:
//!
//! | probe op                   | syscall and arguments                         | allowed means      |
//! |----------------------------|-----------------------------------------------|--------------------|
//! | `fork`                     | `clone(SIGCHLD)` (glibc's fork)               | ok                 |
//! | `thread`                   | `clone3`, then `clone` with CLONE_THREAD      | ok (always allowed)|
//! | `socket F T`               | `socket(F, T \| SOCK_CLOEXEC, P)` (P: ICMP for raw inet) | ok |
//! | `ptrace`                   | `ptrace(PTRACE_ATTACH, no such pid)`          | ESRCH              |
//! | `process-vm-readv`         | `process_vm_readv(no such pid, ...)`          | ESRCH              |
//! | `io-uring`                 | `io_uring_setup(1, params)`                   | ok                 |
//! | `x32 NR`                   | syscall number NR \| 0x40000000 (x86_64 only)  | ENOSYS or ok       |
//! | `unshare-user`             | `unshare(CLONE_NEWUSER)`                      | ok                 |
//! | `tty-ioctl R`              | `ioctl(fd, R, ptr)` on a pseudo-terminal      | ok, ENOTTY, EINVAL |
//! | `prlimit P`                | `prlimit64(P, RLIMIT_CORE, ptr, 0)`           | ok or ESRCH        |
//! | `setpriority P`            | `setpriority(PRIO_PROCESS, P, 19)`            | ok or ESRCH        |
//! | `ioprio P`                 | `ioprio_set(IOPRIO_WHO_PROCESS, P, BE 4)`     | ok or ESRCH        |
//! | `affinity P`               | `sched_setaffinity(P, 128, ptr)`              | ok or ESRCH        |
//! | `listen-tcp`, `listen-unix`| `socket(AF_INET or AF_UNIX, SOCK_STREAM \| SOCK_CLOEXEC, 0)`, then `listen(fd, 1)` | ok |
//! | `unix-connect PATH`        | `socket(AF_UNIX, ...)`; the path is not checked on this kernel (Landlock ABI 9 would), so once the socket exists the connect is allowed whatever `decide` says of PATH, a difference the report must state (`not_enforced`) | ok, ECONNREFUSED, ENOENT |
//!
//! Any other errno from a syscall operation is a denial, and must be the errno `decide`'s
//! action names.
//!
//! # Where the kernel is predictably stricter than `decide`
//!
//! The kernel must never allow what `decide` denies (except what the enforcement report lists
//! as dropped under best effort). It may deny what `decide` allows only in these predicted
//! cases, each computed from the report and `decide` itself:
//! - **carve-out**: a directory the runtime split (`carve_outs` in the report) lost some
//!   rights for itself; the kernel denies them for the directory (read_dir) and for creating
//!   or removing its direct entries.
//! - **exec needs read_file**: Landlock's execve opens the file for reading, so it needs
//!   read_file as well as execute.
//! - **entry right on the parent**: a make_*/remove_*/refer right granted on a path only (a
//!   rule on the entry itself, or on a directory that does not exist yet) does not reach the
//!   parent, where Landlock checks it.
//! - **deny glob base**: the runtime matches a trailing `**` against zero components too, so
//!   a deny glob `DIR/**` also withholds its rights from DIR itself, which `decide` (globset)
//!   does not cover; the report lists DIR among the glob's matches.
//! - **refer**: across directories, a rename the rights allow is refused (EXDEV) when the
//!   destination would give the file a file right (read_file, write_file, truncate, execute,
//!   ioctl_dev) it does not have where it is; with refer unhandled (ABI 1) every
//!   cross-directory rename is refused.
//!
//! - **mask** (the `namespace` tier): a mask withholds whole groups of rights from the path it
//!   is mounted on and everything below (read-only: every right that writes, creates, removes
//!   or renames; no exec; covered: everything), so a deny of some of them costs the others
//!   there too; and the mount point itself can no longer be removed or renamed (`EBUSY`), nor
//!   anything renamed across its boundary (`EXDEV`). Which rights a mask takes is computed
//!   here from its kind, and must be among the `also_denied` the report names. The errno of a
//!   masked denial depends on which check the kernel makes first (`EROFS` for a write below a
//!   read-only mount, `EACCES` through a mode-000 cover, `EBUSY` for the mount point,
//!   `EXDEV` across mounts): any of them is accepted, no other.
//!
//! The kernel's rights at a path are modelled as `decide`'s rights there, minus the rights the
//! report says a split directory lost or a deny glob's base directory withholds, and minus
//! nothing else (rights the report lists as dropped are not restricted at all): that is the
//! runtime's promise. Paths are compared as written: no probed path goes through a symlink
//! (`decide` is lexical, the kernel resolves), but a link's target is probed on its real path.

use std::fmt;

use nonoc::ir::{
    BoundVariables, Effect, FsTarget, PathTemplate, Platform, Request, Right, Ring, SyscallAction,
    covers, decide,
};
use nonoc::syntax::SignalScope;

use super::probe::{IsolationReport, LandlockReport, Mask, Op, Outcome, Report};

/// The errno of a masked denial: whichever of [`MASKED_ERRNOS`] the kernel's first failing
/// check gives.
pub const MASKED: &str = "masked";

/// What a masked denial may answer.
pub const MASKED_ERRNOS: [&str; 4] = ["EROFS", "EACCES", "EBUSY", "EXDEV"];

/// Why the kernel's expected answer differs from `decide`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Difference {
    CarveOut,
    ExecNeedsRead,
    EntryRightOnParent,
    Refer,
    /// A deny glob ending in `/**` is enforced by the runtime on the directory it hangs on
    /// too (the report lists that directory among the glob's matches); globset, and so
    /// `decide`, matches only what lies below it.
    GlobBase,
    /// Best effort: the report lists the right (or ports, or scope) as dropped.
    Dropped,
    /// The `namespace` tier: a mask takes a right the deny it enforces leaves.
    Mask,
    /// The operation needs a capability the confined process dropped (a raw or packet socket
    /// needs `CAP_NET_RAW`): `decide` does not model capabilities, the report lists the kept
    /// ones.
    Capability,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Difference::CarveOut => "carve-out",
            Difference::ExecNeedsRead => "exec needs read_file",
            Difference::EntryRightOnParent => "entry right checked on the parent",
            Difference::Refer => "refer",
            Difference::GlobBase => "deny glob `/**` covers its base directory",
            Difference::Dropped => "dropped (best effort)",
            Difference::Mask => "mask",
            Difference::Capability => "capability dropped",
        })
    }
}

/// What is expected of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// `decide`'s answer.
    pub decide: bool,
    /// The kernel's expected answer.
    pub kernel: bool,
    /// The errno expected when the kernel denies.
    pub errno: &'static str,
    /// Set when `kernel != decide`: which predicted difference, and the detail.
    pub difference: Option<(Difference, String)>,
    /// The denial comes from the seccomp filter (with `errno`), not from Landlock.
    pub seccomp: bool,
    /// A mask takes a right `decide` allows, and the report does not say so.
    pub unreported: Option<String>,
}

/// What the probe saw, against the expectation.
#[derive(Debug, Clone)]
pub struct Judged {
    pub op: Op,
    pub outcome: Outcome,
    pub expected: Expectation,
    /// `None` when the outcome matches; otherwise why not.
    pub failure: Option<String>,
}

/// The rights Landlock compares when a file changes directory (`ACCESS_FILE`).
const FILE_RIGHTS: [Right; 5] = [
    Right::ReadFile,
    Right::WriteFile,
    Right::Truncate,
    Right::Execute,
    Right::IoctlDev,
];

/// Answers for one ring, its bindings, and the report the probe printed when applying it.
#[derive(Debug, Clone, Copy)]
pub struct Oracle<'a> {
    pub ring: &'a Ring,
    pub bindings: &'a BoundVariables,
    pub report: &'a Report,
}

/// The parent directory of an absolute path.
pub fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

impl Oracle<'_> {
    /// `decide` on a concrete path.
    pub fn decide_path(&self, path: &str, access: Right) -> bool {
        let template = PathTemplate::parse(path)
            .unwrap_or_else(|e| panic!("`{path}` is not a request path: {e:?}"));
        let request = Request::Path {
            path: template,
            access,
            platform: Some(Platform::Linux),
        };
        decide(self.ring, &request, self.bindings).is_allow()
    }

    fn decide(&self, request: &Request) -> bool {
        decide(self.ring, request, self.bindings).is_allow()
    }

    fn landlock(&self) -> Option<&LandlockReport> {
        self.report.landlock.as_ref()
    }

    fn isolation(&self) -> Option<&IsolationReport> {
        self.report
            .isolation
            .as_ref()
            .filter(|i| i.tier == "namespace")
    }

    /// The mask over `path` when it takes `access` there.
    fn masked(&self, path: &str, access: Right) -> Option<&Mask> {
        self.isolation()?
            .mask_over(path)
            .filter(|m| m.takes(access.name()))
    }

    /// A masked denial; a predicted difference when `decide` allows (the report must name the
    /// right among what the mask also takes, or the mount point among what can no longer be
    /// removed).
    fn masked_expectation(
        &self,
        decided: bool,
        mask_path: &str,
        access: Right,
        why: String,
    ) -> Expectation {
        let reported = self
            .isolation()
            .and_then(|i| i.masks.iter().find(|m| m.path == mask_path))
            .is_some_and(|m| m.also_denied.iter().any(|r| r == access.name()));
        Expectation {
            decide: decided,
            kernel: false,
            errno: MASKED,
            difference: decided.then(|| (Difference::Mask, format!("`{mask_path}`: {why}"))),
            seccomp: false,
            unreported: (decided && !reported).then(|| {
                format!("the report's `also_denied` of the mask on `{mask_path}` lacks {access}")
            }),
        }
    }

    /// The innermost mask holding `path` (its mount), if any.
    fn mount_of(&self, path: &str) -> Option<&str> {
        self.isolation()?.mask_over(path).map(|m| m.path.as_str())
    }

    /// The kernel's rights at `path` for one right: `None` when the right is not restricted
    /// (unconfined, or not handled), else whether granted, and whether a carve-out took it.
    fn kernel_has(&self, path: &str, access: Right) -> KernelRight {
        let Some(ll) = self.landlock() else {
            return KernelRight::Unrestricted;
        };
        if !ll.handles(access.name()) {
            return KernelRight::Unrestricted;
        }
        if !self.decide_path(path, access) {
            return KernelRight::Denied;
        }
        if ll.lost(path).iter().any(|r| r == access.name()) {
            return KernelRight::CarvedOut;
        }
        if self.glob_base(ll, path, access) {
            return KernelRight::GlobBase;
        }
        KernelRight::Granted
    }

    /// Whether the report lists `path` as a match of a deny glob withholding `access` that,
    /// by `decide`, does not cover it (a trailing `**` matched against no component).
    fn glob_base(&self, ll: &LandlockReport, path: &str, access: Right) -> bool {
        self.ring.filesystem.iter().any(|rule| {
            rule.effect == Effect::Deny
                && rule.access.contains(access)
                && rule.platform.is_none_or(|p| p == Platform::Linux)
                && matches!(&rule.target, FsTarget::Glob(g) if ll.glob_matches.iter().any(|(text, found)| text == g.as_str() && found.iter().any(|f| f == path)))
                // A masked match withholds by its mask (checked before), not by Landlock.
                && !self.isolation().is_some_and(|i| i.is_mount_point(path))
                && !covers(&rule.target, path, self.bindings, true)
                && !rule.except.iter().any(|e| covers(e, path, self.bindings, false))
        })
    }

    /// The expectation for one operation.
    pub fn expect(&self, op: &Op) -> Expectation {
        if let Some(e) = self.filtered_first(op) {
            return e;
        }
        match op {
            Op::Read(p) => self.direct(p, Right::ReadFile),
            Op::ReadDir(p) => self.direct(p, Right::ReadDir),
            Op::Write(p) => self.direct(p, Right::WriteFile),
            Op::Truncate(p) => self.direct(p, Right::Truncate),
            Op::Exec(p) => {
                let mut e = self.direct(p, Right::Execute);
                if e.kernel {
                    match self.kernel_has(p, Right::ReadFile) {
                        KernelRight::Denied => {
                            e.kernel = false;
                            e.difference = Some((
                                Difference::ExecNeedsRead,
                                format!(
                                    "execve needs read_file on `{p}` as well, which the ring does not grant"
                                ),
                            ));
                        }
                        KernelRight::CarvedOut | KernelRight::GlobBase => {
                            e.kernel = false;
                            e.difference = Some((
                                Difference::CarveOut,
                                format!("execve needs read_file, which `{p}` lost to a carve-out"),
                            ));
                        }
                        KernelRight::Granted | KernelRight::Unrestricted => {}
                    }
                }
                e
            }
            Op::Create(p) => self.entry(p, Right::MakeReg),
            Op::MakeDir(p) => self.entry(p, Right::MakeDir),
            Op::Unlink(p) => self.entry(p, Right::RemoveFile),
            Op::RemoveDir(p) => self.entry(p, Right::RemoveDir),
            Op::Rename(from, to) => self.rename(from, to),
            Op::Connect(port) => self.port(
                self.decide(&Request::ConnectTcp { port: *port }),
                "connect_tcp",
            ),
            Op::Bind(port) => self.port(self.decide(&Request::BindTcp { port: *port }), "bind_tcp"),
            Op::Signal(_) => {
                let decided = self.decide(&Request::Signal {
                    scope: SignalScope::Any,
                });
                let kernel = match self.landlock() {
                    None => true,
                    Some(ll) => !ll.scoped("signal"),
                };
                let mut e = Expectation {
                    decide: decided,
                    kernel,
                    errno: "EPERM",
                    difference: None,
                    seccomp: false,
                    unreported: None,
                };
                if kernel && !decided {
                    e.difference = Some((
                        Difference::Dropped,
                        "the signal scope is not enforced".to_owned(),
                    ));
                }
                e
            }
            Op::Socket(family, kind) if needs_net_raw(*family, *kind) => {
                let (name, args) = syscall_of(op);
                let mut e = self.syscall(name, args);
                let kept = self
                    .report
                    .capabilities_kept
                    .as_ref()
                    .is_none_or(|k| k.contains(&CAP_NET_RAW));
                if e.kernel && !kept {
                    e.kernel = false;
                    e.errno = "EPERM";
                    e.difference = Some((
                        Difference::Capability,
                        "a raw or packet socket needs CAP_NET_RAW, which the process dropped"
                            .to_owned(),
                    ));
                }
                e
            }
            Op::Fork
            | Op::Thread
            | Op::Socket(..)
            | Op::Ptrace
            | Op::ProcessVmReadv
            | Op::IoUring
            | Op::UnshareUser => {
                let (name, args) = syscall_of(op);
                self.syscall(name, args)
            }
            Op::TtyIoctl(_)
            | Op::Prlimit(_)
            | Op::Setpriority(_)
            | Op::Ioprio(_)
            | Op::Affinity(_) => {
                let (name, args) = syscall_of(op);
                self.syscall(name, args)
            }
            Op::ListenTcp | Op::ListenUnix => {
                let family = if *op == Op::ListenTcp {
                    AF_INET
                } else {
                    AF_UNIX
                };
                let socket =
                    self.syscall("socket", [family, SOCK_STREAM | SOCK_CLOEXEC, 0, 0, 0, 0]);
                if !socket.kernel {
                    return socket;
                }
                self.syscall("listen", [0, 1, 0, 0, 0, 0])
            }
            Op::UnixConnect(path) => self.unix_connect(path),
            Op::I386Getpid => {
                panic!("the filter kills a foreign-arch call: probe it alone and check the signal")
            }
            // The filter gives every x32 number the ring's x32 action, whatever the number.
            Op::X32(nr) => action(
                Some(self.ring.syscalls.x32_action),
                &format!("x32 number {nr:#x}"),
            ),
        }
    }

    /// Connecting to a unix socket: the filter answers `socket(AF_UNIX)`; once a socket
    /// exists, this kernel's Landlock does not check the path, which the report must say.
    fn unix_connect(&self, path: &str) -> Expectation {
        let decided = self.decide(&Request::UnixConnect {
            path: PathTemplate::parse(path)
                .unwrap_or_else(|e| panic!("`{path}` is not a request path: {e:?}")),
            platform: Some(Platform::Linux),
        });
        let mut socket = self.syscall("socket", [AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 0, 0, 0]);
        socket.decide = decided;
        if !socket.kernel {
            return socket;
        }
        let reported = self.report.raw["not_enforced"]
            .as_array()
            .is_some_and(|notes| {
                notes.iter().any(|n| {
                    n.as_str()
                        .is_some_and(|n| n.contains("network.unix_connect"))
                })
            });
        Expectation {
            decide: decided,
            kernel: true,
            errno: "EPERM",
            difference: (!decided && reported).then(|| {
                (
                    Difference::Dropped,
                    "unix socket paths are not restricted (Landlock ABI 9, unused); the report says so".to_owned(),
                )
            }),
            seccomp: true,
            unreported: None,
        }
    }

    /// What the ring's filter answers for one syscall, as an expectation: `decide`'s action.
    fn syscall(&self, name: &str, args: [u64; 6]) -> Expectation {
        let decision = decide(
            self.ring,
            &Request::Syscall {
                name: name.to_owned(),
                args: args.to_vec(),
            },
            self.bindings,
        );
        action(decision.action, &format!("`{name}` {args:?}"))
    }

    /// The filter's answer when the operation's first syscall is one the ring denies.
    fn filtered_first(&self, op: &Op) -> Option<Expectation> {
        let (name, args) = match op {
            // glibc's posix_spawn (clone3 gets ENOSYS under `fork: false`, then clone).
            Op::Exec(_) => ("clone", [CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0, 0]),
            Op::Connect(_) | Op::Bind(_) => {
                ("socket", [AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, 0, 0, 0])
            }
            _ => return None,
        };
        let e = self.syscall(name, args);
        (!e.kernel).then_some(e)
    }

    /// A right checked on the path itself.
    fn direct(&self, path: &str, access: Right) -> Expectation {
        let decided = self.decide_path(path, access);
        if let Some(mask) = self.masked(path, access) {
            let why = format!("masked {}, which takes {access}", mask.kind);
            return self.masked_expectation(decided, &mask.path, access, why);
        }
        let (kernel, difference) = match self.kernel_has(path, access) {
            KernelRight::Unrestricted => (
                true,
                (!decided).then(|| (Difference::Dropped, format!("{access} is not restricted"))),
            ),
            KernelRight::Granted => (true, None),
            KernelRight::Denied => (false, None),
            KernelRight::CarvedOut => (
                false,
                Some((
                    Difference::CarveOut,
                    format!("`{path}` is split and lost {access}"),
                )),
            ),
            KernelRight::GlobBase => (
                false,
                Some((
                    Difference::GlobBase,
                    format!("`{path}` is listed as a match of a deny glob withholding {access}"),
                )),
            ),
        };
        Expectation {
            decide: decided,
            kernel,
            errno: "EACCES",
            difference,
            seccomp: false,
            unreported: None,
        }
    }

    /// A directory-entry right: `decide` on the entry, Landlock on its parent.
    fn entry(&self, path: &str, access: Right) -> Expectation {
        let decided = self.decide_path(path, access);
        let dir = parent(path);
        if self.isolation().is_some_and(|i| i.is_mount_point(path)) {
            let why = format!("a mount point, which refuses {access} (EBUSY)");
            return self.masked_expectation(decided, path, access, why);
        }
        if let Some(mask) = self.masked(&dir, access) {
            let why = format!("masked {}, which takes {access} from `{dir}`", mask.kind);
            return self.masked_expectation(decided, &mask.path, access, why);
        }
        let (kernel, difference) = match self.kernel_has(&dir, access) {
            KernelRight::Unrestricted => (
                true,
                (!decided).then(|| (Difference::Dropped, format!("{access} is not restricted"))),
            ),
            KernelRight::Granted => (true, None),
            KernelRight::CarvedOut => (
                false,
                decided.then(|| {
                    (
                        Difference::CarveOut,
                        format!("`{dir}` is split and lost {access}"),
                    )
                }),
            ),
            KernelRight::GlobBase => (
                false,
                decided.then(|| {
                    (
                        Difference::GlobBase,
                        format!("`{dir}` is listed as a match of a deny glob withholding {access}"),
                    )
                }),
            ),
            KernelRight::Denied => (
                false,
                decided.then(|| {
                    (
                        Difference::EntryRightOnParent,
                        format!("{access} is granted on `{path}` but not on its parent `{dir}`"),
                    )
                }),
            ),
        };
        // A kernel that allows what `decide` denies is not a predicted difference: it stays
        // `difference: None`, and `judge` reports it as more permissive.
        Expectation {
            decide: decided,
            kernel,
            errno: "EACCES",
            difference,
            seccomp: false,
            unreported: None,
        }
    }

    fn rename(&self, from: &str, to: &str) -> Expectation {
        let (src_dir, dst_dir) = (parent(from), parent(to));
        let across = src_dir != dst_dir;
        let mut decided =
            self.decide_path(from, Right::RemoveFile) && self.decide_path(to, Right::MakeReg);
        if across {
            decided = decided
                && self.decide_path(from, Right::Refer)
                && self.decide_path(to, Right::Refer);
        }
        let remove = self.entry(from, Right::RemoveFile);
        let make = self.entry(to, Right::MakeReg);
        for x in [&remove, &make] {
            if x.errno == MASKED {
                return Expectation {
                    decide: decided,
                    difference: if decided { x.difference.clone() } else { None },
                    ..x.clone()
                };
            }
        }
        // A rename never crosses a mount (`EXDEV`).
        let (from_mount, to_mount) = (self.mount_of(&src_dir), self.mount_of(&dst_dir));
        if from_mount != to_mount {
            let mask = from_mount.or(to_mount).unwrap_or_default().to_owned();
            let why = "a rename across its mount boundary (EXDEV)".to_owned();
            return self.masked_expectation(decided, &mask, Right::Refer, why);
        }
        let mut e = Expectation {
            decide: decided,
            kernel: remove.kernel && make.kernel,
            errno: "EACCES",
            difference: None,
            seccomp: false,
            unreported: None,
        };
        if !e.kernel {
            // EACCES wins over EXDEV in the kernel.
            e.difference = [remove, make]
                .into_iter()
                .find_map(|x| x.difference.filter(|_| !x.kernel));
            if !decided {
                e.difference = None;
            }
            return e;
        }
        if !across {
            e.difference = remove.difference.or(make.difference);
            return e;
        }
        e.errno = "EXDEV";
        let Some(ll) = self.landlock() else { return e };
        if !ll.handles("refer") {
            // Without refer handled (ABI 1), Landlock refuses every reparenting.
            e.kernel = false;
            e.difference = decided.then(|| {
                (
                    Difference::Refer,
                    "refer is not handled: reparenting is always refused".to_owned(),
                )
            });
            return e;
        }
        for dir in [&src_dir, &dst_dir] {
            match self.kernel_has(dir, Right::Refer) {
                KernelRight::Granted | KernelRight::Unrestricted => {}
                KernelRight::Denied => {
                    e.kernel = false;
                    e.difference = decided.then(|| {
                        (
                            Difference::EntryRightOnParent,
                            format!("refer is granted on the entry but not on `{dir}`"),
                        )
                    });
                    return e;
                }
                KernelRight::CarvedOut | KernelRight::GlobBase => {
                    e.kernel = false;
                    e.difference = decided.then(|| {
                        (
                            Difference::CarveOut,
                            format!("`{dir}` lost refer (carve-out or glob base)"),
                        )
                    });
                    return e;
                }
            }
        }
        // The moved file may not gain a file right (Landlock compares the destination
        // directory's rights with the file's own).
        for right in FILE_RIGHTS {
            let at_dst = matches!(self.kernel_has(&dst_dir, right), KernelRight::Granted);
            let at_src = !matches!(
                self.kernel_has(from, right),
                KernelRight::Denied | KernelRight::CarvedOut | KernelRight::GlobBase
            );
            if at_dst && !at_src && ll.handles(right.name()) {
                e.kernel = false;
                e.difference = decided.then(|| {
                    (
                        Difference::Refer,
                        format!(
                            "the file would gain {right} in `{dst_dir}`, which it lacks at `{from}`"
                        ),
                    )
                });
                return e;
            }
        }
        if !decided {
            // Every check the kernel makes passed, yet `decide` denies: left without a
            // difference, `judge` reports it.
            e.difference = None;
        }
        e
    }

    fn port(&self, decided: bool, what: &str) -> Expectation {
        let enforced = self.landlock().is_some_and(|ll| ll.tcp_ports_enforced);
        let kernel = if enforced { decided } else { true };
        let difference = (kernel && !decided).then(|| {
            (
                Difference::Dropped,
                format!("{what} ports are not restricted"),
            )
        });
        Expectation {
            decide: decided,
            kernel,
            errno: "EACCES",
            difference,
            seccomp: false,
            unreported: None,
        }
    }

    /// Compares one outcome with the expectation.
    pub fn judge(&self, op: &Op, outcome: &Outcome) -> Judged {
        let expected = self.expect(op);
        let failure = check(op, outcome, &expected);
        Judged {
            op: op.clone(),
            outcome: outcome.clone(),
            expected,
            failure,
        }
    }

    /// Judges every result of a probe run; returns the failures, one line each.
    pub fn judge_all(&self, results: &[(Op, Outcome)]) -> (Vec<Judged>, Vec<String>) {
        let judged: Vec<Judged> = results
            .iter()
            .map(|(op, outcome)| self.judge(op, outcome))
            .collect();
        let failures = judged
            .iter()
            .filter_map(|j| {
                j.failure
                    .as_ref()
                    .map(|f| format!("{} -> {}: {f}", j.op, j.outcome))
            })
            .collect();
        (judged, failures)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KernelRight {
    Unrestricted,
    Granted,
    Denied,
    CarvedOut,
    GlobBase,
}

/// Whether an outcome means the sandbox allowed the operation: `Some(true)` allowed,
/// `Some(false)` denied, `None` an errno that says neither (a broken test).
fn allowed(op: &Op, outcome: &Outcome, e: &Expectation) -> Option<bool> {
    let Some(errno) = outcome.errno() else {
        return Some(true);
    };
    if let Some(ok) = syscall_op_allowed(op, errno) {
        return Some(ok);
    }
    // The filter's errno, on an operation whose first syscall it denies.
    if e.seccomp && !e.kernel && errno == e.errno {
        return Some(false);
    }
    // A mask's refusal, whichever check of the kernel gives it.
    if e.errno == MASKED && MASKED_ERRNOS.contains(&errno) {
        return Some(false);
    }
    match (op, errno) {
        (Op::Signal(_), "EPERM") => Some(false),
        (Op::Signal(_), _) => None,
        (_, "EACCES") => Some(false),
        (Op::Rename(..), "EXDEV") => Some(false),
        // The sandbox is asked first; these come from the operation itself, after it.
        (Op::Connect(_), "ECONNREFUSED")
        | (Op::Bind(_), "EADDRINUSE")
        | (Op::RemoveDir(_), "ENOTEMPTY") => Some(true),
        _ => None,
    }
}

fn check(op: &Op, outcome: &Outcome, e: &Expectation) -> Option<String> {
    if let Some(gap) = &e.unreported {
        return Some(gap.clone());
    }
    let Some(allowed) = allowed(op, outcome, e) else {
        return Some(format!(
            "unexpected errno (decide: {}) — the probe's setup is wrong",
            verdict(e.decide)
        ));
    };
    if allowed && !e.decide && e.difference.is_none() {
        return Some("the kernel is MORE PERMISSIVE than decide (decide: deny)".to_owned());
    }
    if allowed != e.kernel {
        let why = match &e.difference {
            Some((kind, detail)) => format!(" ({kind}: {detail})"),
            None => String::new(),
        };
        return Some(format!(
            "expected {} (decide: {}{why})",
            expectation(e),
            verdict(e.decide)
        ));
    }
    if !allowed && e.errno == MASKED {
        if !outcome.errno().is_some_and(|n| MASKED_ERRNOS.contains(&n)) {
            return Some(format!(
                "denied with the wrong errno, expected one of {MASKED_ERRNOS:?} (a mask)"
            ));
        }
        return None;
    }
    if !allowed && outcome.errno() != Some(e.errno) {
        return Some(format!("denied with the wrong errno, expected {}", e.errno));
    }
    None
}

fn verdict(allow: bool) -> &'static str {
    if allow { "allow" } else { "deny" }
}

fn expectation(e: &Expectation) -> String {
    if e.kernel {
        "the kernel to allow".to_owned()
    } else {
        format!("the kernel to deny with {}", e.errno)
    }
}

/// `CAP_NET_RAW`.
const CAP_NET_RAW: u32 = 13;

/// Whether `socket(family, kind)` needs `CAP_NET_RAW`: a raw inet socket, any packet socket.
fn needs_net_raw(family: u32, kind: u32) -> bool {
    const AF_INET: u32 = 2;
    const AF_INET6: u32 = 10;
    const AF_PACKET: u32 = 17;
    const SOCK_RAW: u32 = 3;
    family == AF_PACKET || (matches!(family, AF_INET | AF_INET6) && kind == SOCK_RAW)
}

const CLONE_VM: u64 = 0x100;
const CLONE_VFORK: u64 = 0x4000;
const SIGCHLD: u64 = 17;
const CLONE_NEWUSER: u64 = 0x1000_0000;
/// CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD.
const FORK_FLAGS: u64 = 0x0100_0000 | 0x0020_0000 | SIGCHLD;
/// CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
/// CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID.
const THREAD_FLAGS: u64 = 0x003d_0f00;
const AF_UNIX: u64 = 1;
const AF_INET: u64 = 2;
const SOCK_STREAM: u64 = 1;
const RLIMIT_CORE: u64 = 4;
const PRIO_PROCESS: u64 = 0;
const IOPRIO_WHO_PROCESS: u64 = 1;
/// IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 4), as the probe passes it.
const BEST_EFFORT_4: u64 = (2 << 13) | 4;
const SOCK_CLOEXEC: u64 = 0x80000;
const PTRACE_ATTACH: u64 = 16;
/// A pid above `pid_max`'s ceiling (2^22): never a process.
pub const NO_SUCH_PID: u64 = 0x7fff_ffff;

/// The syscall a syscall operation makes, with its arguments as the probe passes them
/// (pointer arguments as 0: no rule can test a pointer's value).
fn syscall_of(op: &Op) -> (&'static str, [u64; 6]) {
    match op {
        // glibc's fork: clone(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD).
        Op::Fork => ("clone", [FORK_FLAGS, 0, 0, 0, 0, 0]),
        // glibc's pthread_create: clone3 first; under `fork: false` it gets ENOSYS and
        // glibc falls back to clone with these flags, which the filter lets through.
        Op::Thread => ("clone", [THREAD_FLAGS, 0, 0, 0, 0, 0]),
        Op::Socket(family, kind) => (
            "socket",
            [
                u64::from(*family),
                u64::from(*kind) | SOCK_CLOEXEC,
                u64::from(super::probe::socket_protocol(*family, *kind)),
                0,
                0,
                0,
            ],
        ),
        Op::Ptrace => ("ptrace", [PTRACE_ATTACH, NO_SUCH_PID, 0, 0, 0, 0]),
        Op::ProcessVmReadv => ("process_vm_readv", [NO_SUCH_PID, 0, 1, 0, 1, 0]),
        Op::IoUring => ("io_uring_setup", [1, 0, 0, 0, 0, 0]),
        Op::UnshareUser => ("unshare", [CLONE_NEWUSER, 0, 0, 0, 0, 0]),
        // The descriptor is the probe's; no rule examines it.
        Op::TtyIoctl(request) => ("ioctl", [0, *request, 0, 0, 0, 0]),
        Op::Prlimit(pid) => ("prlimit64", [u64::from(*pid), RLIMIT_CORE, 0, 0, 0, 0]),
        Op::Setpriority(pid) => ("setpriority", [PRIO_PROCESS, u64::from(*pid), 19, 0, 0, 0]),
        Op::Ioprio(pid) => (
            "ioprio_set",
            [IOPRIO_WHO_PROCESS, u64::from(*pid), BEST_EFFORT_4, 0, 0, 0],
        ),
        Op::Affinity(pid) => ("sched_setaffinity", [u64::from(*pid), 128, 0, 0, 0, 0]),
        other => panic!("`{other}` is not a syscall operation"),
    }
}

/// For a syscall operation, whether an errno still means the filter let the call through
/// (`None`: not a syscall operation, or an errno that is a denial).
fn syscall_op_allowed(op: &Op, errno: &str) -> Option<bool> {
    match (op, errno) {
        (Op::Ptrace | Op::ProcessVmReadv, "ESRCH") => Some(true),
        // The filter let it through: a pseudo-terminal is not a console (TIOCLINUX), the
        // target is gone, nothing listens at the path.
        (Op::TtyIoctl(_), "ENOTTY" | "EINVAL") => Some(true),
        (Op::Prlimit(_) | Op::Setpriority(_) | Op::Ioprio(_) | Op::Affinity(_), "ESRCH") => {
            Some(true)
        }
        (Op::UnixConnect(_), "ECONNREFUSED" | "ENOENT") => Some(true),
        // A kernel without the x32 ABI answers ENOSYS for the number.
        (Op::X32(_), "ENOSYS") => Some(true),
        (
            Op::Fork
            | Op::Thread
            | Op::Socket(..)
            | Op::Ptrace
            | Op::ProcessVmReadv
            | Op::IoUring
            | Op::X32(_)
            | Op::UnshareUser
            | Op::TtyIoctl(_)
            | Op::Prlimit(_)
            | Op::Setpriority(_)
            | Op::Ioprio(_)
            | Op::Affinity(_)
            | Op::ListenTcp
            | Op::ListenUnix
            | Op::UnixConnect(_),
            _,
        ) => Some(false),
        _ => None,
    }
}

/// A filter action as an expectation; `what` names the call for a panic when the probe cannot
/// observe the action (a killed probe reports nothing).
fn action(action: Option<SyscallAction>, what: &str) -> Expectation {
    let (allow, errno) = match action {
        Some(SyscallAction::Allow) | Some(SyscallAction::Log) => (true, "EPERM"),
        Some(SyscallAction::Errno(n)) => (false, errno_name(n)),
        other => panic!(
            "{what}: the ring's action is {other:?}, which no probe operation can observe and report"
        ),
    };
    Expectation {
        decide: allow,
        kernel: allow,
        errno,
        difference: None,
        seccomp: true,
        unreported: None,
    }
}

/// The name the probe prints for an errno number.
fn errno_name(n: u16) -> &'static str {
    match i32::from(n) {
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::ENOSYS => "ENOSYS",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EINVAL => "EINVAL",
        other => panic!("errno {other} has no name in the probe's table"),
    }
}
