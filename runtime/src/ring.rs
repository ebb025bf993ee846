//! A ring of an artifact: binding, then applying it (Landlock and seccomp on Linux, Seatbelt
//! on macOS).

#[cfg(target_os = "linux")]
use std::collections::BTreeSet;

#[cfg(target_os = "linux")]
use crate::artifact::{self, LandlockPlan, SeccompArch, Target, Unenforceable};
use crate::artifact::{Artifact, RingTargets};
use crate::bind;
#[cfg(target_os = "linux")]
use crate::report::{SeccompReport, linux_not_enforced};
#[cfg(any(feature = "compiler", target_os = "macos"))]
use crate::seatbelt;
use crate::{Bindings, EnforcementReport, Error};
#[cfg(target_os = "linux")]
use crate::{landlock, sys};

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

    /// The ring's level.
    pub fn level(&self) -> u8 {
        self.level
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
        let (values, rules) = self.bind_landlock(plan, bindings)?;
        let unix_connect = plan
            .unix_connect
            .iter()
            .map(|p| values.expand(p))
            .collect::<Result<Vec<String>, Error>>()?;
        let writable = landlock::writable_dirs(self.artifact, bindings, &bind::process_env)?;
        let kernel = sys::landlock_abi();
        let abi = self.max_abi.map_or(kernel, |cap| cap.min(kernel));
        let settings = self.artifact.settings.landlock;
        let negotiated = landlock::negotiate(plan, abi, settings.compatibility, settings.min_abi)?;
        let prepared = landlock::prepare(plan, &rules, &writable, negotiated)?;
        let skipped = &prepared.report.skipped_through_links;
        if self.artifact.settings.unenforceable == Unenforceable::Error && !skipped.is_empty() {
            return Err(Error::LinksNotFollowed(skipped.clone()));
        }
        let report = if enforce {
            let report = prepared.restrict()?;
            sys::install_seccomp_filter(&program).map_err(Error::SeccompAfterLandlock)?;
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
            not_enforced: linux_not_enforced(abi, &unix_connect),
        })
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
        let rules = landlock::bind_rules(plan, &values)?;
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
        let (_, rules) = self.bind_landlock(plan, bindings)?;
        let writable = landlock::writable_dirs(self.artifact, bindings, &bind::process_env)?;
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
        let profile = self
            .targets
            .seatbelt
            .as_ref()
            .ok_or(Error::NoMacosTarget(self.level))?;
        let (values, params) = seatbelt::bind_params(
            profile,
            &self.artifact.variables,
            bindings,
            &bind::process_env,
        )?;
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
