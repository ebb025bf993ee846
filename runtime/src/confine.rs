//! The confining sequence (Linux): one plan, prepared by the caller's process, entered
//! in-process ([`Ring::apply_with`](crate::Ring::apply_with)) or in a forked child
//! ([`Ring::spawn`](crate::Ring::spawn)).
//!
//! Everything that allocates or can fail for a reason other than the kernel's refusal is done
//! while preparing: binding, placement, opening paths, the Landlock ruleset, the seccomp
//! program, the masks as C strings, the uid and gid map lines, the pipes. Entering is raw
//! system calls only (`sys::confine`), in this order:
//!
//! ```text
//! setsid -> unshare(user?, mount[, net]) -> uid/gid map -> make / private -> masks
//!   -> chdir (below the masks) -> [lo up, listening socket to the parent]
//!   -> rlimits -> close inherited fds -> drop capabilities -> no_new_privs
//!   -> Landlock restrict_self -> seccomp (last)
//! ```
//!
//! The isolation layer: where a deny lies inside a directory the ring may use (where Landlock
//! alone would split that directory, the carve-out), the runtime enters fresh mount (and, for
//! a caller without privileges, user) namespaces and masks the denied path instead, so the
//! directory keeps every right. A ring that needs no mask enters no namespace.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::sync::OnceLock;

use serde::Serialize;

use crate::artifact::{Isolation, Right};
use crate::landlock::{DenyPoint, Kind};
use crate::sys::confine as sys;

/// Most masks one apply mounts: each is a mount in the namespace (the kernel's own limit,
/// `fs.mount-max`, is 100,000 mounts per namespace by default).
pub const MAX_MASKS: usize = 4096;

/// How [`Ring::apply_with`](crate::Ring::apply_with) and [`Ring::spawn`](crate::Ring::spawn)
/// treat the process beyond what the ring says. Built with [`Options::new`] and its methods;
/// [`Ring::apply`](crate::Ring::apply) uses the defaults.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    pub(crate) new_session: bool,
    pub(crate) close_fds: bool,
    pub(crate) pass_fds: Vec<RawFd>,
    pub(crate) rlimits: Vec<(Resource, u64, u64)>,
    pub(crate) loopback_listener: Option<u16>,
    pub(crate) egress_port: Option<u16>,
}

impl Options {
    /// The defaults: in-process, the session and the descriptors stay as they are; no limits.
    pub fn new() -> Options {
        Options::default()
    }

    /// In-process: leave the caller's session first (`setsid`; a process group leader, such
    /// as a shell's job, gives up its controlling terminal instead and stays in its process
    /// group), so the command cannot push input into the caller's terminal. `nonoc exec` sets
    /// it. A spawned child always starts a session of its own.
    #[must_use]
    pub fn new_session(mut self, yes: bool) -> Options {
        self.new_session = yes;
        self
    }

    /// In-process: mark every inherited descriptor but 0, 1, 2 and those given to
    /// [`pass_fd`](Self::pass_fd) close-on-exec, so the command `execve` starts has no other.
    /// `nonoc exec` sets it. A spawned child always closes them.
    #[must_use]
    pub fn close_fds(mut self, yes: bool) -> Options {
        self.close_fds = yes;
        self
    }

    /// Keeps this inherited descriptor open for the command (clears its close-on-exec flag).
    /// The descriptor must be open: otherwise the sequence fails at that step.
    #[must_use]
    pub fn pass_fd(mut self, fd: RawFd) -> Options {
        if fd > 2 && !self.pass_fds.contains(&fd) {
            self.pass_fds.push(fd);
            self.pass_fds.sort_unstable();
        }
        self
    }

    /// Sets a resource limit (soft, hard) before the restriction.
    #[must_use]
    pub fn rlimit(mut self, resource: Resource, soft: u64, hard: u64) -> Options {
        self.rlimits.retain(|(r, _, _)| *r != resource);
        self.rlimits.push((resource, soft, hard));
        self
    }

    /// [`Ring::spawn`](crate::Ring::spawn) only: confine the child in a fresh network
    /// namespace where only `lo` is up, create a TCP socket listening on `127.0.0.1:port`
    /// inside it (0: a port the kernel picks), and hand it to the parent
    /// ([`Child::listener`]): a process outside accepts the connections the confined command
    /// makes to that port, and nothing else is reachable over IP. The building block of an
    /// egress proxy. Needs the isolation layer (`settings.isolation` not `off`, and a host
    /// that allows namespaces): otherwise an apply error.
    #[must_use]
    pub fn loopback_listener(mut self, port: u16) -> Options {
        self.loopback_listener = Some(port);
        self
    }

    /// Lets the command connect over TCP to this port too (Landlock), in a ring whose
    /// network mode is `restricted`: the port of its egress proxy.
    #[must_use]
    pub fn egress_port(mut self, port: u16) -> Options {
        self.egress_port = Some(port);
        self
    }
}

/// A resource limit ([`Options::rlimit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resource {
    /// `RLIMIT_AS`: address space, bytes.
    AddressSpace,
    /// `RLIMIT_CORE`: core file size, bytes.
    Core,
    /// `RLIMIT_CPU`: CPU time, seconds.
    Cpu,
    /// `RLIMIT_DATA`: data segment, bytes.
    Data,
    /// `RLIMIT_FSIZE`: file size, bytes.
    FileSize,
    /// `RLIMIT_NOFILE`: open descriptors.
    OpenFiles,
    /// `RLIMIT_NPROC`: processes of the user.
    Processes,
    /// `RLIMIT_STACK`: stack, bytes.
    Stack,
}

impl Resource {
    fn raw(self) -> u32 {
        let r = match self {
            Resource::AddressSpace => libc::RLIMIT_AS,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::Data => libc::RLIMIT_DATA,
            Resource::FileSize => libc::RLIMIT_FSIZE,
            Resource::OpenFiles => libc::RLIMIT_NOFILE,
            Resource::Processes => libc::RLIMIT_NPROC,
            Resource::Stack => libc::RLIMIT_STACK,
        };
        #[allow(clippy::unnecessary_cast, reason = "the type differs between libcs")]
        let r = r as u32;
        r
    }
}

/// A command confined by a ring ([`Ring::spawn`](crate::Ring::spawn)).
#[derive(Debug)]
#[non_exhaustive]
pub struct Child {
    /// The running command, with the stdio its `Command` asked for.
    pub process: std::process::Child,
    /// What was enforced in it.
    pub report: crate::EnforcementReport,
    /// The socket listening on loopback inside the child's network namespace
    /// ([`Options::loopback_listener`]).
    pub listener: Option<std::net::TcpListener>,
    /// The command's private temporary directory (the `tmp` preset), removed with what it
    /// holds when the `Child` is dropped: drop it once the command has ended.
    pub private_tmp: Option<crate::private_tmp::PrivateTmp>,
}

/// How the denies inside allowed directories are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Tier {
    /// Masks in fresh mount namespaces: the allowed directory keeps every right.
    Namespace,
    /// Landlock alone: a directory holding a deny is split (the carve-out) and loses, for
    /// itself, the rights the deny withholds. Exact when nothing needs a split.
    Landlock,
}

impl Tier {
    /// `namespace` or `landlock`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Namespace => "namespace",
            Tier::Landlock => "landlock",
        }
    }
}

/// What a mask does to the denied path and everything below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MaskKind {
    /// The path bound read-only onto itself: nothing below can be written, created, removed
    /// or renamed (`EROFS`).
    ReadOnly,
    /// Bound onto itself without execute: nothing below can be run (`EACCES`).
    NoExec,
    /// Both.
    ReadOnlyNoExec,
    /// Covered by an empty, read-only, mode-000 directory or file: nothing below can be
    /// read, listed, written or run (`EACCES`), whoever the process is once its capabilities
    /// are dropped.
    Covered,
}

impl MaskKind {
    /// The rights the mask takes from the path and everything below it.
    fn takes(self) -> u16 {
        match self {
            MaskKind::ReadOnly => READ_ONLY_TAKES,
            MaskKind::NoExec => Right::Execute.bit(),
            MaskKind::ReadOnlyNoExec => READ_ONLY_TAKES | Right::Execute.bit(),
            MaskKind::Covered => u16::MAX,
        }
    }

    /// Words for people: `read-only`, ...
    pub fn name(self) -> &'static str {
        match self {
            MaskKind::ReadOnly => "read-only",
            MaskKind::NoExec => "no-exec",
            MaskKind::ReadOnlyNoExec => "read-only, no-exec",
            MaskKind::Covered => "covered",
        }
    }
}

/// One mask, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MaskReport {
    /// The denied path (resolved).
    pub path: String,
    /// What the mask does.
    pub kind: MaskKind,
    /// Rights the policy allows at the path (or below it) that the mask takes too: a mask
    /// withholds whole groups (every write, or everything), so a deny of some of them costs
    /// the rest on the denied path itself. The path, a mount point now, can no longer be
    /// removed or renamed either (`EBUSY`).
    pub also_denied: Vec<Right>,
}

/// How the isolation layer went (Linux).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IsolationReport {
    /// `namespace` when the ring entered fresh namespaces; `landlock` otherwise.
    pub tier: Tier,
    /// The policy's `settings.isolation`.
    pub setting: Isolation,
    /// Why the namespaces were not used although the ring needed masks (the carve-outs in
    /// the Landlock report then enforce its denies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// A user namespace was entered (a caller without `CAP_SYS_ADMIN`; its uid and gid are
    /// mapped to themselves).
    pub user_namespace: bool,
    /// A network namespace was entered (only `lo`).
    pub network_namespace: bool,
    /// The masks mounted, parents first.
    pub masks: Vec<MaskReport>,
    /// Denied paths that needed a mask and could not have one (with why): carved out
    /// instead (the Landlock report's `carve_outs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmasked: Vec<(String, String)>,
}

/// How the process itself was treated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProcessReport {
    /// `new` (a session of its own), `detached` (the caller's process group, no controlling
    /// terminal), `leader` (already a session leader) or `kept`.
    pub session: &'static str,
    /// The capabilities kept (numbers); every other one was dropped from all five sets
    /// (effective, permitted, inheritable, ambient, and the bounding set where the process
    /// may drop it).
    pub capabilities_kept: Vec<u32>,
    /// Whether the bounding set was dropped (a caller without `CAP_SETPCAP` cannot; it has no
    /// capability to keep and `no_new_privs` stops `execve` from granting any).
    pub bounding_set_dropped: bool,
    /// Inherited descriptors other than 0, 1, 2 are closed before the command runs.
    pub inherited_fds_closed: bool,
    /// The descriptors passed on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub passed_fds: Vec<RawFd>,
}

/// Every right a read-only mount takes: writing, truncating, creating, removing, renaming.
const READ_ONLY_TAKES: u16 = Right::WriteFile.bit()
    | Right::Truncate.bit()
    | Right::MakeReg.bit()
    | Right::MakeDir.bit()
    | Right::MakeSym.bit()
    | Right::MakeSock.bit()
    | Right::MakeFifo.bit()
    | Right::MakeChar.bit()
    | Right::MakeBlock.bit()
    | Right::RemoveFile.bit()
    | Right::RemoveDir.bit()
    | Right::Refer.bit();

/// Rights on a path that a mount point loses: it cannot be removed or renamed.
const MOUNT_POINT_TAKES: u16 =
    Right::RemoveFile.bit() | Right::RemoveDir.bit() | Right::Refer.bit();

fn file_rights() -> u16 {
    Right::ALL
        .into_iter()
        .filter(|r| r.applies_to_files())
        .fold(0, |m, r| m | r.bit())
}

fn rights(mask: u16) -> Vec<Right> {
    Right::ALL
        .into_iter()
        .filter(|r| mask & r.bit() != 0)
        .collect()
}

/// A mask chosen for a deny point.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub path: String,
    pub kind: MaskKind,
    pub is_dir: bool,
    pub also_denied: u16,
    /// Inside another mask that already takes what this one would: nothing to mount.
    pub redundant: bool,
}

/// The mask a deny point can have, or why it can have none (it is then carved out).
pub fn choose(point: &DenyPoint) -> Result<(MaskKind, u16), &'static str> {
    match point.kind {
        Kind::Missing => {
            return Err(
                "it does not exist at apply time, so there is nothing to mask; its parent is split so it cannot be created",
            );
        }
        Kind::Symlink => {
            return Err(
                "it is a symbolic link, and a mount would land on its target; the link's directory is split instead",
            );
        }
        Kind::Dir | Kind::File => {}
    }
    if point.except_inside {
        return Err("an exception lies inside it, which a mask would hide too");
    }
    let withheld = point.denied & point.granted;
    let kind =
        if withheld & (Right::ReadFile.bit() | Right::ReadDir.bit() | Right::IoctlDev.bit()) != 0 {
            MaskKind::Covered
        } else {
            match (
                withheld & READ_ONLY_TAKES != 0,
                withheld & Right::Execute.bit() != 0,
            ) {
                (true, true) => MaskKind::ReadOnlyNoExec,
                (false, true) => MaskKind::NoExec,
                _ => MaskKind::ReadOnly,
            }
        };
    let mut also = (point.granted & kind.takes()) | (point.granted & MOUNT_POINT_TAKES);
    if point.kind == Kind::File {
        also &= file_rights() | MOUNT_POINT_TAKES;
    }
    Ok((kind, also & !point.denied))
}

/// Collects the masks placement offers (see `landlock::place_masked`).
#[derive(Debug, Default)]
pub struct MaskCollector {
    /// Try masks at all (the isolation layer is on and the host may allow it).
    pub enabled: bool,
    pub chosen: Vec<Chosen>,
    /// The mounted masks by path: what a point below one of them would add.
    pub takes_at: std::collections::BTreeMap<String, u16>,
    /// How many masks the ring wanted when that was more than [`MAX_MASKS`] (none taken).
    pub too_many: Option<usize>,
    /// Points that needed a mask (whether or not they got one).
    pub needed: usize,
    pub unmasked: Vec<(String, String)>,
}

impl MaskCollector {
    /// Answers placement for one point: `true` takes it out of the carve-outs.
    pub fn offer(&mut self, point: &DenyPoint) -> bool {
        self.needed += 1;
        if !self.enabled {
            return false;
        }
        match choose(point) {
            Ok((kind, also)) => {
                // Placement offers parents before children: a mask above is already chosen.
                let withheld = point.denied & point.granted;
                let redundant = ancestors(&point.path).any(|dir| {
                    self.takes_at
                        .get(dir)
                        .is_some_and(|takes| takes & withheld == withheld)
                });
                if !redundant {
                    self.takes_at.insert(point.path.clone(), kind.takes());
                }
                self.chosen.push(Chosen {
                    path: point.path.clone(),
                    kind,
                    is_dir: point.kind == Kind::Dir,
                    also_denied: also,
                    redundant,
                });
                true
            }
            Err(why) => {
                self.unmasked.push((point.path.clone(), why.to_owned()));
                false
            }
        }
    }

    /// Answers placement for every point at once: more than [`MAX_MASKS`] to mount, and
    /// none is taken (`too_many` says how many were wanted).
    pub fn offer_all(&mut self, points: &[DenyPoint]) -> Vec<bool> {
        let taken: Vec<bool> = points.iter().map(|p| self.offer(p)).collect();
        let mounted = self.mounted().count();
        if mounted <= MAX_MASKS {
            return taken;
        }
        self.too_many = Some(mounted);
        self.chosen.clear();
        self.takes_at.clear();
        self.unmasked.clear();
        vec![false; points.len()]
    }

    /// The masks to mount, parents first.
    pub fn mounted(&self) -> impl Iterator<Item = &Chosen> {
        self.chosen.iter().filter(|c| !c.redundant)
    }

    /// The report's list.
    pub fn reports(&self) -> Vec<MaskReport> {
        self.mounted()
            .map(|c| MaskReport {
                path: c.path.clone(),
                kind: c.kind,
                also_denied: rights(c.also_denied),
            })
            .collect()
    }
}

/// `path`, then each directory above it up to `/`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.rfind('/') {
            _ if current == "/" => None,
            Some(0) => Some("/"),
            Some(i) => current.get(..i),
            None => None,
        };
        Some(current)
    })
}

/// How this process enters namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// With `CAP_SYS_ADMIN` (root): a mount namespace needs no user namespace; ids unchanged.
    Privileged,
    /// Without: a user namespace first, mapping the caller's uid and gid to themselves.
    User { uid: u32, gid: u32 },
}

impl Entry {
    /// `unshare` flags for a mount namespace (and a network one).
    pub fn flags(self, mounts: bool, net: bool) -> libc::c_int {
        let mut flags = 0;
        if mounts {
            flags |= libc::CLONE_NEWNS;
        }
        if net {
            flags |= libc::CLONE_NEWNET;
        }
        if matches!(self, Entry::User { .. }) {
            flags |= libc::CLONE_NEWUSER;
        }
        flags
    }

    /// The map lines of a user namespace: the caller's ids to themselves.
    pub fn maps(self) -> Option<(Vec<u8>, Vec<u8>)> {
        match self {
            Entry::Privileged => None,
            Entry::User { uid, gid } => Some((
                format!("{uid} {uid} 1\n").into_bytes(),
                format!("{gid} {gid} 1\n").into_bytes(),
            )),
        }
    }
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_SETPCAP: u32 = 8;

fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// How this process would enter namespaces, or why it cannot, from what the host says
/// (capabilities and sysctls): no namespace is entered to find out.
pub fn predict() -> Result<Entry, String> {
    let (uid, gid) = sys::ids();
    let (effective, _) = sys::capabilities().map_err(|e| format!("capget: {e}"))?;
    if effective & (1 << CAP_SYS_ADMIN) != 0 {
        return Ok(Entry::Privileged);
    }
    if sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Err("user namespaces are disabled (user.max_user_namespaces = 0)".to_owned());
    }
    if sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Err(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)"
                .to_owned(),
        );
    }
    if sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Err("AppArmor keeps unprivileged user namespaces from mounting (kernel.apparmor_restrict_unprivileged_userns = 1)".to_owned());
    }
    Ok(Entry::User { uid, gid })
}

/// The probe's answer, once per process ([`probed`]).
static PROBED: OnceLock<Result<Entry, String>> = OnceLock::new();

/// [`predict`], confirmed once per process by trying in a forked child that then exits
/// (unshare, the id maps, making `/` private, the empty tmpfs masks are cloned from).
pub fn probed() -> &'static Result<Entry, String> {
    PROBED.get_or_init(|| {
        let entry = predict()?;
        sys::probe(entry.flags(true, false), entry.maps().as_ref())
            .map(|()| entry)
            .map_err(describe_entry_failure)
    })
}

/// The probe's answer if it has run in this process, else the prediction (an in-process
/// apply tries for real and falls back cleanly if refused at entry).
pub fn known_or_predicted() -> Result<Entry, String> {
    match PROBED.get() {
        Some(result) => result.clone(),
        None => predict(),
    }
}

/// Why entering namespaces failed, for people.
pub fn describe_entry_failure(f: sys::Failure) -> String {
    let what = match f.step {
        sys::Step::Unshare => "unshare",
        sys::Step::SetGroups => "writing /proc/self/setgroups",
        sys::Step::UidMap => "writing /proc/self/uid_map",
        sys::Step::GidMap => "writing /proc/self/gid_map",
        sys::Step::MakePrivate => "making the mount tree private",
        sys::Step::Scratch => "mounting an empty tmpfs",
        _ => "entering namespaces",
    };
    format!(
        "{what} is refused here ({})",
        std::io::Error::from_raw_os_error(f.errno)
    )
}

/// What the sequence's capability step keeps, and whether it can drop the bounding set.
pub fn capabilities(keep: u64, in_user_namespace: bool) -> sys::Capabilities {
    let (effective, _) = sys::capabilities().unwrap_or((0, 0));
    sys::Capabilities {
        keep,
        // Every capability the kernel knows: the drops stop at the first it does not.
        last_cap: 63,
        bounding: in_user_namespace || effective & (1 << CAP_SETPCAP) != 0,
    }
}

/// The kept capabilities as numbers.
pub fn capability_numbers(keep: u64) -> Vec<u32> {
    (0..64).filter(|n| keep & (1 << n) != 0).collect()
}

/// The `sys` masks for the chosen ones.
pub fn sys_masks(collector: &MaskCollector) -> Result<Vec<sys::Mask>, crate::Error> {
    collector
        .mounted()
        .map(|c| {
            let path = CString::new(c.path.as_str())
                .map_err(|_| crate::Error::Apply(format!("`{}` contains a NUL byte", c.path)))?;
            let (cover, attrs) = match c.kind {
                MaskKind::ReadOnly => (None, sys::MOUNT_ATTR_RDONLY),
                MaskKind::NoExec => (None, sys::MOUNT_ATTR_NOEXEC),
                MaskKind::ReadOnlyNoExec => (None, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOEXEC),
                MaskKind::Covered => (
                    Some(if c.is_dir {
                        sys::Cover::Dir
                    } else {
                        sys::Cover::File
                    }),
                    sys::MOUNT_ATTR_RDONLY
                        | sys::MOUNT_ATTR_NOSUID
                        | sys::MOUNT_ATTR_NODEV
                        | sys::MOUNT_ATTR_NOEXEC,
                ),
            };
            Ok(sys::Mask {
                path,
                cover,
                attrs,
                is_dir: c.is_dir,
            })
        })
        .collect()
}

/// The rlimits as the sequence takes them.
pub fn sys_rlimits(limits: &[(Resource, u64, u64)]) -> Vec<(u32, libc::rlimit)> {
    limits
        .iter()
        .map(|(r, soft, hard)| {
            (
                r.raw(),
                libc::rlimit {
                    rlim_cur: *soft,
                    rlim_max: *hard,
                },
            )
        })
        .collect()
}

/// The error for a step of the sequence that failed.
pub fn failure_error(
    f: sys::Failure,
    masks: &[String],
    pass_fds: &[RawFd],
    cwd: Option<&str>,
) -> crate::Error {
    let index = usize::try_from(f.index).unwrap_or(usize::MAX);
    let mask_path = || masks.get(index).map_or("?", String::as_str);
    let context = match f.step {
        sys::Step::Session => "cannot start a new session".to_owned(),
        sys::Step::Unshare
        | sys::Step::SetGroups
        | sys::Step::UidMap
        | sys::Step::GidMap
        | sys::Step::MakePrivate
        | sys::Step::Scratch => format!(
            "cannot enter the isolation layer's namespaces: {}",
            describe_entry_failure(f)
        ),
        sys::Step::MaskOpen => format!("cannot open the mask target `{}`", mask_path()),
        sys::Step::MaskKind => format!(
            "`{}` changed since the rules were placed (a link or another kind of file now); refusing to mask it differently",
            mask_path()
        ),
        sys::Step::MaskClone | sys::Step::MaskAttr | sys::Step::MaskMove => {
            let limit = if f.errno == libc::ENOSPC {
                " (more masks than the kernel allows in one namespace: fs.mount-max)"
            } else {
                ""
            };
            format!("cannot mount the mask on `{}`{limit}", mask_path())
        }
        sys::Step::Chdir => format!(
            "cannot enter the working directory `{}` again below the masks",
            cwd.unwrap_or("?")
        ),
        sys::Step::Loopback => "cannot bring up `lo` in the new network namespace".to_owned(),
        sys::Step::Listen => "cannot listen on loopback in the new network namespace".to_owned(),
        sys::Step::SendListener => "cannot hand the listening socket to the parent".to_owned(),
        sys::Step::Rlimit => "cannot set a resource limit".to_owned(),
        sys::Step::CloseFds => "cannot close the inherited descriptors".to_owned(),
        sys::Step::PassFd => format!(
            "cannot pass on descriptor {}: it is not open",
            pass_fds
                .get(index)
                .map_or_else(|| "?".to_owned(), ToString::to_string)
        ),
        sys::Step::Bounding => format!("cannot drop capability {index} from the bounding set"),
        sys::Step::Ambient | sys::Step::Capset => "cannot drop capabilities".to_owned(),
        sys::Step::NoNewPrivs => "cannot set no_new_privs".to_owned(),
        sys::Step::Landlock => "landlock: cannot restrict this thread".to_owned(),
        sys::Step::Seccomp => return crate::Error::SeccompAfterLandlock(f.io_error()),
    };
    crate::Error::System {
        context,
        source: f.io_error(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(path: &str, denied: u16, granted: u16, kind: Kind) -> DenyPoint {
        DenyPoint {
            path: path.to_owned(),
            denied,
            granted,
            kind,
            except_inside: false,
        }
    }

    const READ: u16 = Right::ReadFile.bit() | Right::ReadDir.bit();
    const EXEC: u16 = Right::Execute.bit();

    #[test]
    fn each_deny_gets_the_smallest_mask_that_withholds_it() {
        let all = u16::MAX;
        let write = 0x39fc;
        let rw = READ | write;
        // A write deny under a writable directory: read-only, exact.
        assert_eq!(
            choose(&point("/w/.git", write, rw, Kind::Dir)),
            Ok((MaskKind::ReadOnly, 0))
        );
        // Write and execute: read-only and no exec.
        assert_eq!(
            choose(&point("/w/bin", write | EXEC, rw | EXEC, Kind::Dir)),
            Ok((MaskKind::ReadOnlyNoExec, 0))
        );
        // Everything: covered, exact.
        assert_eq!(
            choose(&point("/w/.ssh", all, rw, Kind::Dir)),
            Ok((MaskKind::Covered, 0))
        );
        // A read deny of a file the ring may write: covered, and the write goes too.
        let (kind, also) = choose(&point("/w/.env", READ, rw, Kind::File)).unwrap();
        assert_eq!(kind, MaskKind::Covered);
        assert_eq!(
            rights(also),
            [
                Right::WriteFile,
                Right::Truncate,
                Right::RemoveFile,
                Right::RemoveDir,
                Right::Refer
            ]
        );
        // Execute only: no exec; the mount point cannot be removed any more.
        let (kind, also) = choose(&point("/w/tool", EXEC, rw | EXEC, Kind::File)).unwrap();
        assert_eq!(kind, MaskKind::NoExec);
        assert_eq!(
            rights(also),
            [Right::RemoveFile, Right::RemoveDir, Right::Refer]
        );
    }

    #[test]
    fn what_cannot_be_masked_says_why() {
        assert!(choose(&point("/w/.git", 0x39fc, 0x39ff, Kind::Missing)).is_err());
        assert!(choose(&point("/w/.git", 0x39fc, 0x39ff, Kind::Symlink)).is_err());
        let mut p = point("/w/.git", 0x39fc, 0x39ff, Kind::Dir);
        p.except_inside = true;
        assert!(choose(&p).is_err());
    }

    #[test]
    fn a_mask_inside_a_mask_that_takes_as_much_is_not_mounted() {
        let mut c = MaskCollector {
            enabled: true,
            ..MaskCollector::default()
        };
        let rw = READ | 0x39fc;
        assert!(c.offer(&point("/w/.git", 0x39fc, rw, Kind::Dir)));
        // Inside the read-only mask, a write deny adds nothing; a read deny does.
        assert!(c.offer(&point("/w/.git/hooks", 0x39fc, rw, Kind::Dir)));
        assert!(c.offer(&point("/w/.git/secret", READ, rw, Kind::File)));
        let mounted: Vec<&str> = c.mounted().map(|m| m.path.as_str()).collect();
        assert_eq!(mounted, ["/w/.git", "/w/.git/secret"]);
        assert_eq!(c.needed, 3);
    }

    #[test]
    fn more_masks_than_one_apply_mounts_takes_none() {
        let points: Vec<DenyPoint> = (0..=MAX_MASKS)
            .map(|i| point(&format!("/w/f{i}.env"), READ, READ, Kind::File))
            .collect();
        let mut c = MaskCollector {
            enabled: true,
            ..MaskCollector::default()
        };
        let taken = c.offer_all(&points);
        assert!(taken.iter().all(|t| !t));
        assert_eq!(c.too_many, Some(MAX_MASKS + 1));
        assert_eq!(c.mounted().count(), 0);
        let mut c = MaskCollector {
            enabled: true,
            ..MaskCollector::default()
        };
        assert!(c.offer_all(&points[..MAX_MASKS]).iter().all(|t| *t));
        assert_eq!(c.too_many, None);
    }
}
