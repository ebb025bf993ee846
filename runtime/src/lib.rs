#![doc = include_str!("../README.md")]

pub mod artifact;
pub mod bind;
#[cfg(target_os = "linux")]
pub mod landlock;
#[cfg(all(feature = "probe", target_os = "linux"))]
pub mod probe;
pub mod report;
pub mod seatbelt;
mod sys;

#[cfg(target_os = "linux")]
use std::collections::BTreeSet;

pub use artifact::{Artifact, RingTargets};
pub use bind::Bindings;
pub use report::{Dropped, EnforcementReport, LandlockReport, SeccompReport};

use artifact::SeccompArch;
#[cfg(target_os = "linux")]
use artifact::Target;

/// Why an artifact could not be loaded or a ring not applied. Any error before the
/// Landlock restriction leaves the process unconfined (except that `no_new_privs`, set just
/// before it, stays set if the restriction itself fails): the caller decides what to do
/// (`nonoc exec` refuses to run the command).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    Io(String),
    /// The artifact is larger than [`artifact::MAX_ARTIFACT_BYTES`]; not read past the limit.
    TooLarge {
        limit: u64,
    },
    Malformed(String),
    UnknownFormat(String),
    DigestMismatch {
        recorded: String,
        computed: String,
    },
    NoSuchRing(u8),
    TrustScoreRange(u32),
    NoTier(u32),
    /// The ring has no Linux (Landlock) section.
    NoLinuxTarget(u8),
    /// The ring has no macOS (Seatbelt) section.
    NoMacosTarget(u8),
    /// The ring has no seccomp filter for the arch this process runs on (`None`: an arch
    /// the compiler writes no filters for).
    NoSeccompFilter {
        ring: u8,
        arch: Option<SeccompArch>,
    },
    UnconfinedRefused(u8),
    MultiThreaded(usize),
    Unbound(String),
    /// The caller bound a variable the artifact does not declare (a typo would otherwise
    /// leave the real variable at its default).
    UndeclaredVariable(String),
    BadValue {
        name: String,
        value: String,
        why: &'static str,
    },
    /// `hard_requirement`: the kernel lacks what the ring needs.
    Unsupported {
        abi: u32,
        dropped: Vec<Dropped>,
    },
    Apply(String),
    /// Landlock is in force but the kernel refused the seccomp filter.
    SeccompAfterLandlock(String),
    /// `settings.unenforceable: error`: these paths go through a symbolic link in a directory
    /// a ring of the artifact may change, so their rules could not be placed.
    LinksNotFollowed(Vec<String>),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(m) => write!(f, "{m}"),
            Error::TooLarge { limit } => write!(
                f,
                "the artifact is larger than {limit} bytes, the most this runtime reads"
            ),
            Error::Malformed(m) => write!(f, "the artifact is malformed: {m}"),
            Error::UnknownFormat(v) => write!(
                f,
                "unknown artifact format `{v}` (this runtime reads `{}`)",
                artifact::FORMAT
            ),
            Error::DigestMismatch { recorded, computed } => {
                write!(
                    f,
                    "the artifact's digest does not match its content (recorded {recorded}, computed {computed}): it was modified after compilation"
                )
            }
            Error::NoSuchRing(level) => write!(f, "the artifact has no ring {level}"),
            Error::TrustScoreRange(score) => write!(f, "trust score {score} is outside 0..=1000"),
            Error::NoTier(score) => write!(f, "no trust tier selects trust score {score}"),
            Error::NoLinuxTarget(level) => {
                write!(f, "ring {level} has no Linux section in this artifact")
            }
            Error::NoMacosTarget(level) => {
                write!(f, "ring {level} has no macOS section in this artifact")
            }
            Error::NoSeccompFilter { ring, arch } => match arch {
                Some(arch) => write!(
                    f,
                    "ring {ring} has no seccomp filter for {}, the arch this process runs on",
                    arch.name()
                ),
                None => write!(
                    f,
                    "ring {ring} cannot be applied on {}: the compiler writes seccomp filters for x86_64 and aarch64 only",
                    std::env::consts::ARCH
                ),
            },
            Error::UnconfinedRefused(level) => {
                write!(
                    f,
                    "ring {level} is unconfined; applying it needs an explicit opt-in (`allow_unconfined(true)`, `nonoc exec --allow-unconfined`)"
                )
            }
            Error::MultiThreaded(n) => write!(
                f,
                "the process has {n} threads; Landlock confines only the calling thread on this kernel, so apply the ring before starting threads"
            ),
            Error::UndeclaredVariable(name) => {
                write!(
                    f,
                    "variable `{name}` is not declared by the artifact's policy"
                )
            }
            Error::Unbound(name) => write!(
                f,
                "variable `{name}` is unbound: bind it, set its environment variable, or give it a default"
            ),
            Error::BadValue { name, value, why } => {
                write!(f, "variable `{name}` is bound to `{value}`, which is {why}")
            }
            Error::Unsupported { abi, dropped } => {
                let list: Vec<String> = dropped.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "the policy requires Landlock features this kernel (ABI {abi}) lacks: {}",
                    list.join("; ")
                )
            }
            Error::Apply(m) => write!(f, "{m}"),
            Error::LinksNotFollowed(paths) => write!(
                f,
                "{} through a symbolic link in a directory a ring of this artifact may change, so the rules on them are not placed (the policy's `settings.unenforceable: error` refuses that): {}",
                if paths.len() == 1 {
                    "this path goes"
                } else {
                    "these paths go"
                },
                paths
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Error::SeccompAfterLandlock(m) => write!(
                f,
                "Landlock is applied but the kernel refused the seccomp filter ({m}): the process is only partly confined"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// One ring of an artifact, ready to apply.
#[derive(Debug, Clone)]
pub struct Ring<'a> {
    artifact: &'a Artifact,
    level: u8,
    targets: &'a RingTargets,
    allow_unconfined: bool,
    max_abi: Option<u32>,
}

impl<'a> Ring<'a> {
    pub(crate) fn new(artifact: &'a Artifact, level: u8, targets: &'a RingTargets) -> Self {
        Ring {
            artifact,
            level,
            targets,
            allow_unconfined: false,
            max_abi: None,
        }
    }

    pub fn level(&self) -> u8 {
        self.level
    }

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

    /// Everything `apply` would do short of restricting: binding, placement, ABI
    /// negotiation, opening every path. Returns the report `apply` would return.
    pub fn preview(&self, bindings: &Bindings) -> Result<EnforcementReport, Error> {
        self.run(bindings, false)
    }

    /// Applies the ring to the calling thread and the processes it starts, irrevocably:
    /// binds variables, opens every path and decodes the seccomp filter first, then sets
    /// no_new_privs, restricts with Landlock and installs the seccomp filter last. An error
    /// before the Landlock restriction leaves the process unconfined (but for `no_new_privs`
    /// when the restriction itself fails); an error installing the
    /// filter after it ([`Error::SeccompAfterLandlock`]) leaves it confined by Landlock only,
    /// and the caller must not go on as if the ring were applied.
    pub fn apply(&self, bindings: &Bindings) -> Result<EnforcementReport, Error> {
        self.run(bindings, true)
    }

    fn run(&self, bindings: &Bindings, enforce: bool) -> Result<EnforcementReport, Error> {
        if self.targets.unconfined {
            if !self.allow_unconfined {
                return Err(Error::UnconfinedRefused(self.level));
            }
            return Ok(EnforcementReport {
                ring: self.level,
                unconfined: true,
                variables: Vec::new(),
                landlock: None,
                seccomp: None,
                not_enforced: Vec::new(),
            });
        }
        #[cfg(target_os = "macos")]
        return self.run_seatbelt(bindings, enforce);
        #[cfg(target_os = "linux")]
        return self.run_linux(bindings, enforce);
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        return Err(Error::Apply(format!(
            "nonoc has no sandbox for {}",
            std::env::consts::OS
        )));
    }

    /// Linux: Landlock, then the seccomp filter.
    #[cfg(target_os = "linux")]
    fn run_linux(&self, bindings: &Bindings, enforce: bool) -> Result<EnforcementReport, Error> {
        if enforce {
            match sys::thread_count() {
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
        let names: BTreeSet<&str> = plan
            .rules
            .iter()
            .flat_map(|r| std::iter::once(&r.target).chain(&r.except))
            .filter_map(|t| match t {
                Target::Path(p) => bind::variable_of(p),
                Target::Glob(g) => bind::variable_of(&g.root),
            })
            .collect();
        if let Some(name) = bindings
            .names()
            .find(|n| !self.artifact.variables.contains_key(*n))
        {
            return Err(Error::UndeclaredVariable(name.to_owned()));
        }
        // A variable's environment value that is not UTF-8 is refused, not taken as unset:
        // the default would then bind silently, and a deny of `${home}/.ssh` would land on
        // another directory than the agent's home.
        for (name, variable) in &self.artifact.variables {
            let Some(env_name) = &variable.env else {
                continue;
            };
            if bindings.get(name).is_none()
                && let Some(raw) = std::env::var_os(env_name)
                && raw.to_str().is_none()
            {
                return Err(Error::BadValue {
                    name: name.clone(),
                    value: raw.to_string_lossy().into_owned(),
                    why: "not valid UTF-8",
                });
            }
        }
        let env = |name: &str| std::env::var(name).ok();
        let values = bind::Bound::resolve(names, &self.artifact.variables, bindings, &env)?;
        let rules = landlock::bind_rules(plan, &values)?;
        let writable = landlock::writable_dirs(self.artifact, bindings, &env)?;
        let kernel = sys::landlock_abi();
        let abi = self.max_abi.map_or(kernel, |cap| cap.min(kernel));
        let settings = self.artifact.settings.landlock;
        let negotiated = landlock::negotiate(plan, abi, settings.compatibility, settings.min_abi)?;
        let prepared = landlock::prepare(plan, &rules, &writable, negotiated)?;
        let skipped = &prepared.report.skipped_through_links;
        if self.artifact.settings.unenforceable == artifact::Unenforceable::Error
            && !skipped.is_empty()
        {
            return Err(Error::LinksNotFollowed(skipped.clone()));
        }
        let report = if enforce {
            let report = prepared.restrict()?;
            sys::install_seccomp_filter(&program)
                .map_err(|e| Error::SeccompAfterLandlock(e.to_string()))?;
            report
        } else {
            prepared.report
        };
        Ok(EnforcementReport {
            ring: self.level,
            unconfined: false,
            variables: values
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            landlock: Some(report),
            seccomp: Some(SeccompReport {
                arch,
                stats: filter.stats.clone(),
            }),
            not_enforced: Vec::new(),
        })
    }
}

impl Ring<'_> {
    /// The ring's Seatbelt profile and its parameter values for these bindings (the
    /// caller's, then each variable's environment variable, then its default): what `apply`
    /// hands to `sandbox_init_with_parameters` on macOS. Works on every system.
    pub fn seatbelt_params(
        &self,
        bindings: &Bindings,
    ) -> Result<(&artifact::SeatbeltProfile, seatbelt::ParamValues), Error> {
        let profile = self
            .targets
            .seatbelt
            .as_ref()
            .ok_or(Error::NoMacosTarget(self.level))?;
        let env = |name: &str| std::env::var(name).ok();
        let (_, params) = seatbelt::bind_params(profile, &self.artifact.variables, bindings, &env)?;
        Ok((profile, params))
    }

    /// macOS: binds, then applies the Seatbelt profile to the whole process.
    #[cfg(target_os = "macos")]
    fn run_seatbelt(&self, bindings: &Bindings, enforce: bool) -> Result<EnforcementReport, Error> {
        let profile = self
            .targets
            .seatbelt
            .as_ref()
            .ok_or(Error::NoMacosTarget(self.level))?;
        let env = |name: &str| std::env::var(name).ok();
        let (values, params) =
            seatbelt::bind_params(profile, &self.artifact.variables, bindings, &env)?;
        if enforce {
            seatbelt::apply(profile, &params)?;
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
            not_enforced: profile.not_enforced.clone(),
        })
    }
}

/// The Landlock ABI of the running kernel (0 when Landlock is unavailable).
pub fn landlock_abi() -> u32 {
    #[cfg(target_os = "linux")]
    return sys::landlock_abi();
    #[cfg(not(target_os = "linux"))]
    return 0;
}
