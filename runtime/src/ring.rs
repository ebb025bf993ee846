//! A ring of an artifact: binding, then applying it (Landlock and seccomp on Linux, Seatbelt
//! on macOS).

#[cfg(target_os = "linux")]
use std::collections::BTreeSet;

#[cfg(target_os = "linux")]
use crate::artifact::{self, Isolation, LandlockPlan, SeccompArch, Target, Unenforceable};
use crate::artifact::{Artifact, RingTargets};
use crate::bind;
#[cfg(target_os = "linux")]
use crate::confine::{self, Child, IsolationReport, Options, ProcessReport, Tier};
#[cfg(target_os = "linux")]
use crate::landlock;
use crate::private_tmp::{self, PrivateTmp};
#[cfg(target_os = "linux")]
use crate::report::LandlockReport;
#[cfg(target_os = "linux")]
use crate::report::{SeccompReport, linux_not_enforced};
#[cfg(any(feature = "compiler", target_os = "macos"))]
use crate::seatbelt;
#[cfg(target_os = "linux")]
use crate::sys::confine as sys;
use crate::{Bindings, EnforcementReport, Error};

/// Every right that changes the filesystem: what [`Ring::writable_only`] withdraws.
#[cfg(target_os = "linux")]
const WRITE_RIGHTS: u16 = crate::artifact::Right::WriteFile.bit()
    | crate::artifact::Right::Truncate.bit()
    | crate::artifact::Right::MakeReg.bit()
    | crate::artifact::Right::MakeDir.bit()
    | crate::artifact::Right::MakeSym.bit()
    | crate::artifact::Right::MakeSock.bit()
    | crate::artifact::Right::MakeFifo.bit()
    | crate::artifact::Right::MakeChar.bit()
    | crate::artifact::Right::MakeBlock.bit()
    | crate::artifact::Right::RemoveFile.bit()
    | crate::artifact::Right::RemoveDir.bit()
    | crate::artifact::Right::Refer.bit();

/// One ring of an artifact, ready to apply: [`Artifact::ring`] and
/// [`Artifact::ring_for_trust_score`] make one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Ring<'a> {
    artifact: &'a Artifact,
    level: u8,
    targets: &'a RingTargets,
    allow_unconfined: bool,
    max_abi: Option<u32>,
    writable_only: Option<Vec<String>>,
}

impl<'a> Ring<'a> {
    pub(crate) fn new(artifact: &'a Artifact, level: u8, targets: &'a RingTargets) -> Self {
        Ring {
            artifact,
            level,
            targets,
            allow_unconfined: false,
            max_abi: None,
            writable_only: None,
        }
    }

    /// The ring's level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The policy's `settings.isolation` (the egress proxy's spawn path).
    #[cfg(all(target_os = "linux", feature = "egress"))]
    pub(crate) fn isolation_setting(&self) -> Isolation {
        self.artifact.settings.isolation
    }

    /// The ring's egress by host name (`network.hosts`, v1.1): `Some` when the command must
    /// run beside an egress proxy, which only the `egress` feature's spawn starts.
    pub fn egress(&self) -> Option<&crate::hosts::HostPolicy> {
        self.targets.egress.as_ref()
    }

    /// Whether the ring applies no sandbox (applying it needs
    /// [`allow_unconfined`](Self::allow_unconfined)).
    pub fn is_unconfined(&self) -> bool {
        self.targets.unconfined
    }

    /// Opts in to applying an unconfined ring (which applies nothing).
    #[must_use]
    pub fn allow_unconfined(mut self, allow: bool) -> Self {
        self.allow_unconfined = allow;
        self
    }

    /// Uses at most this Landlock ABI, as if the kernel were older (for testing best-effort
    /// and hard-requirement behaviour).
    #[must_use]
    pub fn max_abi(mut self, abi: u32) -> Self {
        self.max_abi = Some(abi);
        self
    }

    /// Narrows the ring: the process may write only inside these paths (absolute and
    /// normalized), and there only what the ring itself allows; every write right the ring
    /// grants elsewhere is withdrawn. It is a deny of every write right on `/` with these
    /// paths as its exceptions, placed as the policy's own denies are (Landlock carve-outs
    /// of the directories above them, in the report). Linux.
    #[must_use]
    pub fn writable_only(mut self, paths: impl IntoIterator<Item = String>) -> Self {
        self.writable_only = Some(paths.into_iter().collect());
        self
    }

    /// Everything `apply` would do short of restricting: binding, placement, ABI
    /// negotiation, opening every path, choosing the isolation tier (Linux: whether this host
    /// lets the process enter namespaces is tried once per process in a child that then
    /// exits). Returns the report `apply` would return.
    pub fn preview(&self, bindings: &Bindings) -> Result<EnforcementReport, Error> {
        self.run(bindings, false)
    }

    /// Applies the ring to the calling process, irrevocably, with the default [`Options`]
    /// (the session and the inherited descriptors stay as they are): binds variables, opens
    /// every path and decodes the seccomp filter first; on Linux then, where the ring needs
    /// masks, enters fresh mount namespaces and mounts them; drops every capability; sets
    /// no_new_privs, restricts with Landlock and installs the seccomp filter last.
    ///
    /// An error before the Landlock restriction leaves the process unconfined, but for what
    /// it changed of itself on the way (a private mount namespace, its session, its
    /// capabilities, `no_new_privs`); an error installing the filter after it
    /// ([`Error::SeccompAfterLandlock`]) leaves it confined by Landlock only, and the caller
    /// must not go on as if the ring were applied.
    pub fn apply(&self, bindings: &Bindings) -> Result<EnforcementReport, Error> {
        self.run(bindings, true)
    }

    fn run(&self, bindings: &Bindings, enforce: bool) -> Result<EnforcementReport, Error> {
        if self.targets.unconfined {
            return self.unconfined();
        }
        #[cfg(target_os = "macos")]
        return self.run_seatbelt(bindings, enforce);
        #[cfg(target_os = "linux")]
        return if enforce {
            self.apply_with(bindings, &Options::default())
        } else {
            // A directory of its own to place, removed again when the preview returns.
            let tmp = self.with_private_tmp(bindings, true)?;
            let prepared =
                self.prepare_linux(&tmp.bindings, Mode::Preview, &Options::default(), None)?;
            Ok(prepared.report(self.level, "kept", false, tmp.tmpdir))
        };
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        return Err(Error::Apply(format!(
            "nonoc has no sandbox for {}",
            std::env::consts::OS
        )));
    }

    fn unconfined(&self) -> Result<EnforcementReport, Error> {
        if !self.allow_unconfined {
            return Err(Error::UnconfinedRefused(self.level));
        }
        Ok(EnforcementReport {
            ring: self.level,
            unconfined: true,
            variables: Vec::new(),
            landlock: None,
            seccomp: None,
            isolation: None,
            process: None,
            not_enforced: Vec::new(),
            egress: None,
            private_tmp: None,
        })
    }

    /// [`apply`](Self::apply) with [`Options`]: `nonoc exec` leaves the caller's session and
    /// marks inherited descriptors close-on-exec before it runs the command
    /// (`Options::new().new_session(true).close_fds(true)`). Linux.
    #[cfg(target_os = "linux")]
    pub fn apply_with(
        &self,
        bindings: &Bindings,
        options: &Options,
    ) -> Result<EnforcementReport, Error> {
        if self.targets.unconfined {
            return self.unconfined();
        }
        if options.loopback_listener.is_some() {
            return Err(Error::Apply(
                "a loopback listener is handed to a parent process: use `Ring::spawn`".to_owned(),
            ));
        }
        let cwd = std::env::current_dir().ok();
        let tmp = self.with_private_tmp(bindings, true)?;
        let bindings = &*tmp.bindings;
        let mut prepared = self.prepare_linux(bindings, Mode::InProcess, options, cwd.clone())?;
        let session = sys::enter_session(if options.new_session {
            sys::Session::NewOrDetach
        } else {
            sys::Session::Keep
        })
        .map_err(|f| confine::failure_error(f, &[], &options.pass_fds, None))?;
        if let Some(ns) = prepared.namespaces.take() {
            match sys::enter_namespaces(&ns, true) {
                Ok(()) => prepared.namespaces = Some(ns),
                Err(f)
                    if f.step.is_namespace_entry()
                        && self.artifact.settings.isolation == Isolation::BestEffort =>
                {
                    // Refused before any mask: the carve-outs instead, said in the report.
                    let why = confine::describe_entry_failure(f);
                    prepared =
                        self.prepare_linux(bindings, Mode::Fallback(why), options, cwd.clone())?;
                }
                Err(f)
                    if f.step.is_namespace_entry()
                        && self.artifact.settings.isolation == Isolation::Required =>
                {
                    return Err(Error::IsolationUnavailable {
                        ring: self.level,
                        why: confine::describe_entry_failure(f),
                    });
                }
                Err(f) => {
                    let cwd = cwd.as_ref().and_then(|c| c.to_str());
                    let masks: Vec<String> = ns
                        .masks
                        .iter()
                        .map(|m| m.path.to_string_lossy().into_owned())
                        .collect();
                    return Err(confine::failure_error(f, &masks, &options.pass_fds, cwd));
                }
            }
        }
        let in_userns = prepared.isolation.user_namespace;
        let caps = confine::capabilities(self.capabilities_to_keep(), in_userns);
        let plan = sys::Plan {
            session: sys::Session::Keep,
            namespaces: None,
            rlimits: confine::sys_rlimits(&options.rlimits),
            keep_fds: options.close_fds.then(|| options.pass_fds.clone()),
            capabilities: Some(caps),
            landlock: prepared.ruleset.take(),
            seccomp: std::mem::take(&mut prepared.program),
        };
        sys::enter_rest(&plan)
            .map_err(|f| confine::failure_error(f, &[], &options.pass_fds, None))?;
        let report = prepared.report(
            self.level,
            session_name(session),
            caps.bounding,
            tmp.tmpdir.clone(),
        );
        if let Some(dir) = &tmp.tmpdir {
            // `prepare_linux` made sure this process has one thread (Mode::InProcess).
            crate::sys::set_env_single_threaded(private_tmp::ENV, dir);
        }
        // The ring was applied: a directory created for it stays for the life of the process.
        if let Some(dir) = tmp.dir {
            dir.keep();
        }
        Ok(report)
    }

    /// Starts `command` confined by the ring, and returns at once (the parent is never
    /// confined). Everything that allocates or can fail is done here, before the fork:
    /// binding, placement, opening paths, the Landlock ruleset, the seccomp program, the
    /// masks; the child then makes raw system calls only until `execve`: a session of its
    /// own (`setsid`), the namespaces and masks where the ring needs them, the working
    /// directory entered again below them, [`Options`]' resource limits, every inherited
    /// descriptor but 0, 1, 2 and [`Options::pass_fd`]'s closed, capabilities dropped,
    /// no_new_privs, Landlock, seccomp.
    ///
    /// `command` keeps what the caller set on it (program, arguments, environment, working
    /// directory, stdin/stdout/stderr); do not give it a process group or a `pre_exec` hook of
    /// your own. A step that fails in the child fails this call with an error naming the step
    /// and its errno ([`Error::System`], whose source is the `io::Error`), and the command
    /// does not run; a program that cannot be executed is an [`Error::System`] too. Safe to
    /// call from a multi-threaded process. Linux.
    #[cfg(target_os = "linux")]
    pub fn spawn(
        &self,
        bindings: &Bindings,
        mut command: std::process::Command,
        options: &Options,
    ) -> Result<Child, Error> {
        if self.targets.unconfined {
            let report = self.unconfined()?;
            let process = command
                .spawn()
                .map_err(|e| Error::system(spawn_context(&command), e))?;
            return Ok(Child {
                process,
                report,
                listener: None,
                private_tmp: None,
            });
        }
        let tmp = self.with_private_tmp(bindings, true)?;
        let bindings = &*tmp.bindings;
        if let Some(dir) = &tmp.tmpdir {
            command.env(private_tmp::ENV, dir);
        }
        let here = std::env::current_dir().ok();
        let cwd = match command.get_current_dir() {
            Some(dir) if dir.is_absolute() => Some(dir.to_path_buf()),
            Some(dir) => here.map(|h| h.join(dir)),
            None => here,
        };
        let mut prepared = self.prepare_linux(bindings, Mode::Spawn, options, cwd.clone())?;
        let (read, write) = sys::pipe().map_err(|e| Error::system("cannot create a pipe", e))?;
        let mut receiver = None;
        if let (Some(port), Some(ns)) = (options.loopback_listener, prepared.namespaces.as_mut()) {
            let (parent, child) =
                sys::socket_pair().map_err(|e| Error::system("cannot create a socket pair", e))?;
            ns.loopback = Some(sys::Loopback {
                port,
                sender: child,
            });
            receiver = Some(parent);
        }
        let in_userns = prepared.isolation.user_namespace;
        let caps = confine::capabilities(self.capabilities_to_keep(), in_userns);
        let masks: Vec<String> = prepared
            .namespaces
            .iter()
            .flat_map(|ns| &ns.masks)
            .map(|m| m.path.to_string_lossy().into_owned())
            .collect();
        let plan = sys::Plan {
            session: sys::Session::New,
            namespaces: prepared.namespaces.take(),
            rlimits: confine::sys_rlimits(&options.rlimits),
            keep_fds: Some(options.pass_fds.clone()),
            capabilities: Some(caps),
            landlock: prepared.ruleset.take(),
            seccomp: std::mem::take(&mut prepared.program),
        };
        let context = spawn_context(&command);
        sys::confine_command(&mut command, plan, write);
        let spawned = command.spawn();
        // The hook, which holds the pipe's write end and the child's end of the socket
        // pair, goes with the command: the reads below see end of file, not a wait.
        drop(command);
        let process = match spawned {
            Ok(process) => process,
            Err(e) => {
                return Err(match sys::read_failure(&read) {
                    Some(f) => {
                        let cwd = cwd.as_ref().and_then(|c| c.to_str());
                        confine::failure_error(f, &masks, &options.pass_fds, cwd)
                    }
                    None => Error::system(context, e),
                });
            }
        };
        let mut report = prepared.report(self.level, "new", caps.bounding, tmp.tmpdir.clone());
        if let Some(process_report) = report.process.as_mut() {
            process_report.inherited_fds_closed = true;
        }
        let listener = match receiver {
            Some(socket) => Some(std::net::TcpListener::from(
                sys::receive_fd(&socket)
                    .map_err(|e| Error::system("cannot receive the loopback listener", e))?,
            )),
            None => None,
        };
        Ok(Child {
            process,
            report,
            listener,
            private_tmp: tmp.dir,
        })
    }

    /// Whether applying or spawning the ring with these bindings creates a private temporary
    /// directory (the `tmp` preset's `${tmp}`, which the caller did not bind): a command that
    /// runs in it is best spawned ([`spawn`](Self::spawn)), so that the directory is removed
    /// when it ends.
    pub fn creates_private_tmp(&self, bindings: &Bindings) -> bool {
        !self.targets.unconfined
            && self
                .private_tmp_variable()
                .is_some_and(|name| bindings.get(name).is_none() && self.uses_variable(name))
    }

    /// The artifact's private temporary directory variable (`tmp`), if it declares one.
    fn private_tmp_variable(&self) -> Option<&'a str> {
        let artifact: &'a Artifact = self.artifact;
        artifact
            .variables
            .iter()
            .find(|(_, v)| v.private_tmp)
            .map(|(name, _)| name.as_str())
    }

    /// Whether a path of the ring (Landlock rules and socket paths, Seatbelt parameters)
    /// starts with `name`, or with a variable whose default does, however deep.
    fn uses_variable(&self, name: &str) -> bool {
        let depends = |template: &str| {
            let mut current = bind::variable_of(template);
            for _ in 0..=self.artifact.variables.len() {
                match current {
                    Some(v) if v == name => return true,
                    Some(v) => {
                        current = self
                            .artifact
                            .variables
                            .get(v)
                            .and_then(|d| d.default.as_deref())
                            .and_then(bind::variable_of);
                    }
                    None => return false,
                }
            }
            false
        };
        let landlock = self.targets.landlock.iter().flat_map(|plan| {
            plan.rules
                .iter()
                .flat_map(|r| std::iter::once(&r.target).chain(&r.except))
                .map(|t| match t {
                    crate::artifact::Target::Path(p) => p.as_str(),
                    crate::artifact::Target::Glob(g) => g.root.as_str(),
                })
                .chain(plan.unix_connect.iter().map(String::as_str))
        });
        let seatbelt = self
            .targets
            .seatbelt
            .iter()
            .flat_map(|p| p.params.iter().map(|p| p.path.as_str()));
        landlock.chain(seatbelt).any(depends)
    }

    /// The bindings with the private temporary directory added where the artifact declares
    /// one and the caller did not bind it. A ring that uses it gets a directory created now
    /// (`create`), or the [`PLACEHOLDER`](private_tmp::PLACEHOLDER) (what-ifs that open
    /// nothing); a ring that does not is bound to `/tmp` ([`private_tmp::base`]), where the
    /// other rings' directories are (so that the link rule sees them as writable).
    fn with_private_tmp<'b>(
        &self,
        bindings: &'b Bindings,
        create: bool,
    ) -> Result<WithTmp<'b>, Error> {
        let unchanged = |tmpdir: Option<String>| WithTmp {
            bindings: std::borrow::Cow::Borrowed(bindings),
            dir: None,
            tmpdir,
        };
        let Some(name) = self.private_tmp_variable() else {
            return Ok(unchanged(None));
        };
        let used = self.uses_variable(name);
        if let Some(value) = bindings.get(name) {
            return Ok(unchanged(used.then(|| value.to_owned())));
        }
        let bound = |value: &str, dir: Option<PrivateTmp>| WithTmp {
            bindings: std::borrow::Cow::Owned(bindings.clone().with(name, value)),
            tmpdir: (used && dir.is_some()).then(|| value.to_owned()),
            dir,
        };
        if !used {
            let base = private_tmp::base()
                .ok()
                .and_then(|p| p.to_str().map(str::to_owned))
                .unwrap_or_else(|| "/tmp".to_owned());
            return Ok(bound(&base, None));
        }
        if !create {
            return Ok(bound(private_tmp::PLACEHOLDER, None));
        }
        let tmp = PrivateTmp::create().map_err(|e| {
            Error::system(
                format!("cannot create the private temporary directory `${{{name}}}` under /tmp (bind `{name}` to a directory to use another)"),
                e,
            )
        })?;
        let Some(value) = tmp.as_str().map(str::to_owned) else {
            return Err(Error::Apply(format!(
                "the private temporary directory `{}` is not UTF-8 (bind `{name}` to a directory to use another)",
                tmp.path().display()
            )));
        };
        Ok(bound(&value, Some(tmp)))
    }

    /// The capabilities the ring keeps (bit N: capability N): its `process.capabilities`
    /// (`rings.N.capabilities` of the artifact). Every other one is dropped.
    #[cfg(target_os = "linux")]
    fn capabilities_to_keep(&self) -> u64 {
        self.targets
            .capabilities
            .iter()
            .fold(0, |mask, cap| mask | 1 << cap.number())
    }

    /// Prepares the ring for this process: everything but entering.
    #[cfg(target_os = "linux")]
    fn prepare_linux(
        &self,
        bindings: &Bindings,
        mode: Mode,
        options: &Options,
        cwd: Option<std::path::PathBuf>,
    ) -> Result<Prepared, Error> {
        if matches!(mode, Mode::InProcess) {
            match crate::sys::thread_count() {
                Some(1) => {}
                Some(n) => return Err(Error::MultiThreaded(n)),
                // Without the count the other threads could stay unconfined: refuse.
                None => {
                    return Err(Error::Apply(
                        "cannot count this process's threads (/proc/self/stat)".to_owned(),
                    ));
                }
            }
        }
        let plan = self
            .targets
            .landlock
            .as_ref()
            .ok_or(Error::NoLinuxTarget(self.level))?;
        let arch = SeccompArch::host().ok_or(Error::NoSeccompFilter {
            ring: self.level,
            arch: None,
        })?;
        let filter = self
            .targets
            .seccomp
            .get(&arch)
            .ok_or(Error::NoSeccompFilter {
                ring: self.level,
                arch: Some(arch),
            })?;
        // Checked at load too; again here, as an artifact built in code was never loaded.
        let program = filter
            .instructions()
            .and_then(|p| artifact::check_bpf(&p).map(|()| p))
            .map_err(|e| {
                Error::Malformed(format!(
                    "ring {}: the {} seccomp filter: {e}",
                    self.level,
                    arch.name()
                ))
            })?;
        // The egress proxy's port joins the ports the command may connect to.
        let with_proxy;
        let plan = match options.egress_port {
            Some(port) => {
                let mut extended = plan.clone();
                if let Some(net) = extended.network.as_mut()
                    && let Err(at) = net.connect_tcp.binary_search(&port)
                {
                    net.connect_tcp.insert(at, port);
                }
                with_proxy = extended;
                &with_proxy
            }
            None => plan,
        };
        let (values, mut rules) = self.bind_landlock(plan, bindings)?;
        let unix_connect = plan
            .unix_connect
            .iter()
            .map(|p| values.expand(p))
            .collect::<Result<Vec<String>, Error>>()?;
        let writable = landlock::writable_dirs(self.artifact, bindings, &bind::process_env)?;
        // One view of the filesystem for the loader check and placement: each path is
        // looked at once.
        let fs = landlock::Cached::new(&landlock::RealFs);
        let loaders = self.loaders(&rules, &writable, bindings, &fs)?;
        rules.extend(loaders.rules.iter().cloned());
        let kernel = crate::sys::landlock_abi();
        let abi = self.max_abi.map_or(kernel, |cap| cap.min(kernel));
        let settings = self.artifact.settings.landlock;
        let negotiated = landlock::negotiate(plan, abi, settings.compatibility, settings.min_abi)?;
        let setting = self.artifact.settings.isolation;
        let net = options.loopback_listener.is_some() && matches!(mode, Mode::Spawn);
        let entry = match (&mode, setting) {
            (_, Isolation::Off) => Err("the policy sets `isolation: off`".to_owned()),
            (Mode::Fallback(why), _) => Err(why.clone()),
            // Predicted from the host's capabilities and sysctls; confirmed below only where
            // the ring needs a namespace.
            (Mode::InProcess | Mode::Preview | Mode::Spawn, _) => confine::known_or_predicted(),
        };
        let mut entry = entry;
        let mut collector = confine::MaskCollector {
            enabled: entry.is_ok(),
            ..confine::MaskCollector::default()
        };
        let inspect = collector.enabled;
        let placement = landlock::place_masked(&rules, &writable, &fs, inspect, &mut |points| {
            collector.offer_all(points)
        })?;
        if self.artifact.settings.unenforceable == Unenforceable::Error
            && !placement.through_links.is_empty()
        {
            return Err(Error::LinksNotFollowed(placement.through_links.clone()));
        }
        if let Some(wanted) = collector.too_many {
            let why = format!(
                "ring {} needs {wanted} masks; at most {} are mounted in one apply (a deny glob matching that many paths is better written as a deny of their directory)",
                self.level,
                confine::MAX_MASKS
            );
            if setting == Isolation::Required {
                return Err(Error::Apply(why));
            }
            // Best effort: the carve-outs instead (placement made them), said in the report.
            entry = Err(why);
        }
        // A forked child tries the prediction once per process (`confine::probed`), before the
        // first spawn or preview whose ring needs a namespace; a ring that needs none forks
        // nothing. Refused there: the carve-outs instead, placed again.
        if matches!(mode, Mode::Preview | Mode::Spawn)
            && entry.is_ok()
            && (collector.needed > 0 || net)
            && let Err(why) = confine::probed()
        {
            if net {
                return Err(Error::Apply(format!(
                    "a loopback listener needs a network namespace, and {why}"
                )));
            }
            return self.prepare_linux(bindings, Mode::Fallback(why.clone()), options, cwd);
        }
        let mounted = collector.mounted().count();
        if let Err(why) = &entry
            && setting == Isolation::Required
            && (collector.needed > 0 || net)
        {
            return Err(Error::IsolationUnavailable {
                ring: self.level,
                why: why.clone(),
            });
        }
        if let (Err(why), true) = (&entry, net) {
            return Err(Error::Apply(format!(
                "a loopback listener needs a network namespace, and {why}"
            )));
        }
        let namespaces = match &entry {
            Ok(entry) if mounted > 0 || net => Some(sys::Namespaces {
                flags: entry.flags(mounted > 0, net),
                maps: entry.maps(),
                masks: confine::sys_masks(&collector)?,
                // Entered again only where a mask covers it: a descriptor of the directory
                // below the mask would still reach what the mask hides.
                cwd: cwd
                    .as_ref()
                    .filter(|dir| {
                        dir.to_str().is_some_and(|dir| {
                            collector.mounted().any(|m| landlock::within(dir, &m.path))
                        })
                    })
                    .and_then(|dir| {
                        std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()
                    }),
                loopback: None,
            }),
            _ => None,
        };
        let user_namespace =
            matches!(entry, Ok(confine::Entry::User { .. })) && namespaces.is_some();
        let isolation = IsolationReport {
            tier: if namespaces.is_some() {
                Tier::Namespace
            } else {
                Tier::Landlock
            },
            setting,
            unavailable: match &entry {
                Err(why) if collector.needed > 0 => Some(why.clone()),
                _ => None,
            },
            user_namespace,
            network_namespace: net && namespaces.is_some(),
            masks: if namespaces.is_some() {
                collector.reports()
            } else {
                Vec::new()
            },
            unmasked: collector.unmasked.clone(),
        };
        let prepared = landlock::prepare_placed(plan, &placement, negotiated)?;
        let (ruleset, mut landlock_report) = prepared.into_parts();
        landlock_report.enforced = landlock::enforced(
            plan,
            &rules,
            self.artifact.policy.file.as_deref(),
            &loaders.granted,
        );
        landlock_report.loaders = loaders.granted;
        landlock_report.loaders_not_added = loaders.not_added;
        Ok(Prepared {
            variables: values
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            landlock: landlock_report,
            seccomp: SeccompReport {
                arch,
                stats: filter.stats.clone(),
            },
            isolation,
            process: ProcessReport {
                session: "kept",
                capabilities_kept: confine::capability_numbers(self.capabilities_to_keep()),
                bounding_set_dropped: false,
                inherited_fds_closed: options.close_fds,
                passed_fds: options.pass_fds.clone(),
            },
            ruleset,
            program: program
                .iter()
                .map(|i| libc::sock_filter {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect(),
            namespaces,
            not_enforced: linux_not_enforced(abi, &unix_connect),
        })
    }

    /// The program loaders of the ring's execute grants (bound rules), given the directories
    /// where some ring may replace entries.
    #[cfg(target_os = "linux")]
    fn loaders(
        &self,
        rules: &[landlock::BoundRule],
        replaceable: &[String],
        bindings: &Bindings,
        fs: &impl landlock::Fs,
    ) -> Result<landlock::Loaders, Error> {
        let writable =
            landlock::program_writable_paths(self.artifact, bindings, &bind::process_env)?;
        Ok(landlock::loaders(rules, replaceable, &writable, fs))
    }

    /// Binds the variables a Landlock plan uses and substitutes them in its rules.
    #[cfg(target_os = "linux")]
    fn bind_landlock(
        &self,
        plan: &LandlockPlan,
        bindings: &Bindings,
    ) -> Result<(bind::BoundVariables, Vec<landlock::BoundRule>), Error> {
        let names: BTreeSet<&str> = plan
            .rules
            .iter()
            .flat_map(|r| std::iter::once(&r.target).chain(&r.except))
            .filter_map(|t| match t {
                Target::Path(p) => bind::variable_of(p),
                Target::Glob(g) => bind::variable_of(&g.root),
            })
            .chain(
                plan.unix_connect
                    .iter()
                    .filter_map(|p| bind::variable_of(p)),
            )
            .collect();
        let values = bind::BoundVariables::bind(
            names,
            &self.artifact.variables,
            bindings,
            &bind::process_env,
        )?;
        let mut rules = landlock::bind_rules(plan, &values)?;
        if let Some(paths) = &self.writable_only {
            let mut except = Vec::with_capacity(paths.len() + 1);
            // The run's private temporary directory is a place the ring writes by design
            // (`TMPDIR`), which narrowing leaves writable.
            if let Some(dir) = self
                .private_tmp_variable()
                .filter(|name| self.uses_variable(name))
                .and_then(|name| values.get(name))
            {
                except.push(landlock::BoundTarget::Path(dir.to_owned()));
            }
            for path in paths {
                bind::check_bound_value(path)
                    .map_err(|why| Error::Apply(format!("the writable path `{path}` is {why}")))?;
                except.push(landlock::BoundTarget::Path(path.clone()));
            }
            rules.push(landlock::BoundRule {
                allow: false,
                target: landlock::BoundTarget::Path("/".to_owned()),
                mask: WRITE_RIGHTS,
                except,
            });
        }
        Ok((values, rules))
    }

    /// The paths the ring's Landlock ruleset gets rules for with these bindings, and whether
    /// each is a directory: what [`apply`](Self::apply) opens, found without opening anything
    /// or restricting (for benches that time the kernel calls alone).
    #[cfg(all(feature = "compiler", target_os = "linux"))]
    pub fn landlock_grants(&self, bindings: &Bindings) -> Result<Vec<(String, bool)>, Error> {
        let plan = self
            .targets
            .landlock
            .as_ref()
            .ok_or(Error::NoLinuxTarget(self.level))?;
        let tmp = self.with_private_tmp(bindings, false)?;
        let bindings = &*tmp.bindings;
        let (_, mut rules) = self.bind_landlock(plan, bindings)?;
        let writable = landlock::writable_dirs(self.artifact, bindings, &bind::process_env)?;
        rules.extend(
            self.loaders(&rules, &writable, bindings, &landlock::RealFs)?
                .rules,
        );
        let placement = landlock::place(&rules, &writable, &landlock::RealFs)?;
        Ok(placement
            .grants
            .into_iter()
            .map(|g| (g.path, g.is_dir))
            .collect())
    }
}

impl Ring<'_> {
    /// The ring's Seatbelt profile and its parameter values for these bindings (the
    /// caller's, then each variable's environment variable, then its default): what `apply`
    /// hands to `sandbox_init_with_parameters` on macOS. Works on every system (`nonoc
    /// compile --emit sbpl-params`).
    #[cfg(feature = "compiler")]
    pub fn seatbelt_params(
        &self,
        bindings: &Bindings,
    ) -> Result<(&crate::artifact::SeatbeltProfile, seatbelt::ParamValues), Error> {
        let profile = self
            .targets
            .seatbelt
            .as_ref()
            .ok_or(Error::NoMacosTarget(self.level))?;
        let tmp = self.with_private_tmp(bindings, false)?;
        let bindings = &*tmp.bindings;
        let (_, params) = seatbelt::bind_params(
            profile,
            &self.artifact.variables,
            bindings,
            &bind::process_env,
        )?;
        Ok((profile, params))
    }

    /// macOS: binds, then applies the Seatbelt profile to the whole process.
    #[cfg(target_os = "macos")]
    fn run_seatbelt(&self, bindings: &Bindings, enforce: bool) -> Result<EnforcementReport, Error> {
        if self.writable_only.is_some() {
            return Err(Error::Apply(
                "narrowing a ring's writes (`writable_only`) is Linux-only".to_owned(),
            ));
        }
        let profile = self
            .targets
            .seatbelt
            .as_ref()
            .ok_or(Error::NoMacosTarget(self.level))?;
        let tmp = self.with_private_tmp(bindings, true)?;
        let bindings = &*tmp.bindings;
        let (values, params) = seatbelt::bind_params(
            profile,
            &self.artifact.variables,
            bindings,
            &bind::process_env,
        )?;
        if enforce {
            seatbelt::apply(profile, &params)?;
        }
        if enforce && let Some(dir) = tmp.dir {
            // Applied: the directory stays for the life of the process (the caller sets
            // `TMPDIR` from the report; the Python package does).
            dir.keep();
        }
        Ok(EnforcementReport {
            ring: self.level,
            unconfined: false,
            variables: values
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            landlock: None,
            seccomp: None,
            isolation: None,
            process: None,
            not_enforced: profile.not_enforced.clone(),
            egress: None,
            private_tmp: tmp.tmpdir,
        })
    }
}

/// The bindings a ring is applied with, once its private temporary directory is bound
/// ([`Ring::with_private_tmp`]).
struct WithTmp<'b> {
    bindings: std::borrow::Cow<'b, Bindings>,
    /// The directory created for this run (removed when dropped, unless kept).
    dir: Option<PrivateTmp>,
    /// What the command gets as `TMPDIR`: the ring's `${tmp}`, created now or bound by the
    /// caller; `None` when the ring does not name it.
    tmpdir: Option<String>,
}

/// How a ring is prepared (Linux).
#[cfg(target_os = "linux")]
enum Mode {
    /// `preview`: nothing is entered.
    Preview,
    /// `apply`: this process enters.
    InProcess,
    /// `apply` again, after this process was refused namespaces at entry (why).
    Fallback(String),
    /// `spawn`: a forked child enters.
    Spawn,
}

/// A ring prepared for this process (Linux): the report's parts, and what entering needs.
#[cfg(target_os = "linux")]
struct Prepared {
    variables: Vec<(String, String)>,
    landlock: LandlockReport,
    seccomp: SeccompReport,
    isolation: IsolationReport,
    process: ProcessReport,
    ruleset: Option<std::os::fd::OwnedFd>,
    program: Vec<libc::sock_filter>,
    namespaces: Option<sys::Namespaces>,
    /// What the kernel cannot check of the ring (`report::linux_not_enforced`).
    not_enforced: Vec<String>,
}

#[cfg(target_os = "linux")]
impl Prepared {
    fn report(
        &self,
        ring: u8,
        session: &'static str,
        bounding: bool,
        tmpdir: Option<String>,
    ) -> EnforcementReport {
        EnforcementReport {
            ring,
            unconfined: false,
            variables: self.variables.clone(),
            landlock: Some(self.landlock.clone()),
            seccomp: Some(self.seccomp.clone()),
            isolation: Some(self.isolation.clone()),
            process: Some(ProcessReport {
                session,
                bounding_set_dropped: bounding,
                ..self.process.clone()
            }),
            not_enforced: self.not_enforced.clone(),
            egress: None,
            private_tmp: tmpdir,
        }
    }
}

#[cfg(target_os = "linux")]
fn session_name(outcome: sys::SessionOutcome) -> &'static str {
    match outcome {
        sys::SessionOutcome::Kept => "kept",
        sys::SessionOutcome::New => "new",
        sys::SessionOutcome::Detached => "detached",
        sys::SessionOutcome::Leader => "leader",
    }
}

#[cfg(target_os = "linux")]
fn spawn_context(command: &std::process::Command) -> String {
    format!("cannot run `{}`", command.get_program().to_string_lossy())
}
