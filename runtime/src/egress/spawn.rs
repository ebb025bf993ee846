//! A command confined by a ring with `hosts`, beside its egress proxy: the spawn path that
//! `nonoc exec` and the Python `Ring.run` share ([`Ring::spawn_with_proxy`]).
//!
//! - `namespace` tier (the host lets the process enter namespaces, `settings.isolation` not
//!   `off`): the child enters a fresh network namespace where only `lo` is up, creates the
//!   proxy's listening socket there (at [`NAMESPACE_PORT`]) and hands it to the parent, whose
//!   proxy thread accepts on it and connects out from the host's namespace. Nothing else is
//!   reachable over IP from inside: no route.
//! - `port-pinned` tier (no namespaces): the proxy listens on a loopback port of the host,
//!   and Landlock lets the command connect over TCP only to that port and the ring's
//!   `connect_tcp` ports. `settings.isolation: required` refuses this tier.
//!
//! The command's environment points its clients at the proxy, with the per-run secret.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;

use super::config::{ProxyConfig, Secret};
use super::run::{Endpoint, ProxyProcess, ProxyThread, bind_loopback};
use crate::artifact::Isolation;
use crate::confine::{self, Child, Options};
use crate::hosts::HostName;
use crate::report::{EgressReport, EgressTier};
use crate::{Bindings, Error, Ring};

/// The port the proxy listens on inside the command's network namespace (a fresh
/// namespace has every port free).
pub const NAMESPACE_PORT: u16 = 3128;

/// How the proxy of [`Ring::spawn_with_proxy`] runs.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct EgressOptions {
    resolve: Vec<(HostName, std::net::IpAddr)>,
    log: Option<std::fs::File>,
}

impl EgressOptions {
    /// No `--resolve` entries, no log.
    pub fn new() -> EgressOptions {
        EgressOptions::default()
    }

    /// `--resolve NAME=ADDR`: the proxy resolves `name` to `addr` instead of through the
    /// system's resolver (the address is still checked like any other).
    #[must_use]
    pub fn resolve(mut self, name: HostName, addr: std::net::IpAddr) -> EgressOptions {
        self.resolve.push((name, addr));
        self
    }

    /// Logs each decision as one JSON line to this file.
    #[must_use]
    pub fn log_file(mut self, file: std::fs::File) -> EgressOptions {
        self.log = Some(file);
        self
    }
}

/// A command confined by a ring, and the egress proxy it reaches the network through (none
/// when the ring lists no hosts).
#[derive(Debug)]
#[non_exhaustive]
pub struct ConfinedWithProxy {
    /// The command; its report's `egress` says how it is kept to the proxy.
    pub child: Child,
    /// The proxy, in a thread of this process: drop or [`ProxyThread::stop`] it once the
    /// command has ended.
    pub proxy: Option<ProxyThread>,
}

impl ConfinedWithProxy {
    /// From now on, `SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, `SIGUSR1`, `SIGUSR2`, `SIGALRM`
    /// and `SIGWINCH` sent to this process go to the command instead of ending this process
    /// (and its proxy, and the removal of its private temporary directory) under it: the command runs
    /// in a session of its own, so a terminal's Ctrl-C reaches only its parent. For a
    /// process whose only job is to run the command (`nonoc exec`).
    pub fn forward_termination_signals(&self) -> std::io::Result<()> {
        let pid = libc::pid_t::try_from(self.child.process.id())
            .map_err(|_| std::io::Error::other("process id out of range"))?;
        crate::sys::egress::forward_termination_signals(pid)
    }

    /// Waits for the command, then stops the proxy.
    pub fn wait(mut self) -> std::io::Result<std::process::ExitStatus> {
        let status = self.child.process.wait();
        if let Some(proxy) = self.proxy.take() {
            proxy.stop();
        }
        status
    }
}

impl Ring<'_> {
    /// [`spawn`](Ring::spawn), and for a ring with `hosts` its egress proxy too, in a thread
    /// of this process, for the command's lifetime. The command's environment is set to
    /// reach the proxy (`HTTPS_PROXY` and the others, with a fresh secret); the tier
    /// (`namespace` or `port-pinned`) is chosen as the module documentation says and given
    /// in the report's `egress`. A ring without `hosts` is spawned as by `spawn`.
    pub fn spawn_with_proxy(
        &self,
        bindings: &Bindings,
        mut command: Command,
        options: &Options,
        egress: EgressOptions,
    ) -> Result<ConfinedWithProxy, Error> {
        let Some(policy) = self.egress().cloned().filter(|_| !self.is_unconfined()) else {
            return Ok(ConfinedWithProxy {
                child: self.spawn(bindings, command, options)?,
                proxy: None,
            });
        };
        if options.loopback_listener.is_some() {
            return Err(Error::Apply(
                "a ring with hosts gets its egress proxy's listener; it cannot take another"
                    .to_owned(),
            ));
        }
        let secret = Secret::generate()
            .map_err(|e| Error::system("cannot make the egress proxy's secret", e))?;
        let mut config = ProxyConfig::new(self.level(), policy)
            .map_err(|e| Error::system("cannot configure the egress proxy", e))?
            .with_secret(secret.clone());
        for (name, addr) in egress.resolve {
            config = config.resolve(name, addr);
        }
        if let Some(file) = egress.log {
            config = config.log_file(file);
        }
        let setting = self.isolation_setting();
        let namespaces = match setting {
            Isolation::Off => Err("the policy sets `isolation: off`".to_owned()),
            _ => confine::probed().clone().map(|_| ()),
        };
        match namespaces {
            Ok(()) => {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, NAMESPACE_PORT));
                command.envs(Endpoint::new(addr, secret).environment());
                let options = options
                    .clone()
                    .loopback_listener(NAMESPACE_PORT)
                    .egress_port(NAMESPACE_PORT);
                let mut child = self.spawn(bindings, command, &options)?;
                let Some(listener) = child.listener.take() else {
                    let _ = child.process.kill();
                    let _ = child.process.wait();
                    return Err(Error::Apply(
                        "the command's network namespace handed over no listener".to_owned(),
                    ));
                };
                let proxy = match config.start_thread(listener) {
                    Ok(proxy) => proxy,
                    Err(e) => {
                        let _ = child.process.kill();
                        let _ = child.process.wait();
                        return Err(Error::system("cannot start the egress proxy", e));
                    }
                };
                child.report.egress = Some(EgressReport {
                    tier: EgressTier::Namespace,
                    proxy: addr.to_string(),
                    runs_in: "thread",
                    unavailable: None,
                });
                Ok(ConfinedWithProxy {
                    child,
                    proxy: Some(proxy),
                })
            }
            Err(why) if setting == Isolation::Required => Err(Error::IsolationUnavailable {
                ring: self.level(),
                why: format!("a ring with hosts needs a network namespace, and {why}"),
            }),
            Err(why) => {
                let listener = bind_loopback(0)
                    .map_err(|e| Error::system("cannot listen on loopback for the proxy", e))?;
                let proxy = config
                    .start_thread(listener)
                    .map_err(|e| Error::system("cannot start the egress proxy", e))?;
                let addr = proxy.endpoint().addr();
                command.envs(proxy.endpoint().environment());
                let options = options.clone().egress_port(addr.port());
                let mut child = self.spawn(bindings, command, &options)?;
                child.report.egress = Some(EgressReport {
                    tier: EgressTier::PortPinned,
                    proxy: addr.to_string(),
                    runs_in: "thread",
                    unavailable: Some(why),
                });
                Ok(ConfinedWithProxy {
                    child,
                    proxy: Some(proxy),
                })
            }
        }
    }
}

/// A ring applied to this process with its egress proxy running beside it
/// ([`Ring::apply_with_proxy`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct AppliedWithProxy {
    /// What was enforced; `egress` says `port-pinned`, the proxy in a `process`.
    pub report: crate::EnforcementReport,
    /// The proxy process: it ends when this process ends; dropping the handle ends it
    /// earlier (and with it this process's only way out).
    pub proxy: ProxyProcess,
}

impl AppliedWithProxy {
    /// What this process and its children must be given to reach the proxy
    /// ([`Endpoint::environment`]).
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        self.proxy.endpoint().environment()
    }
}

impl Ring<'_> {
    /// [`apply_with`](Ring::apply_with) of a ring with `hosts`: first starts the egress proxy
    /// as a child process listening on a loopback port of this host
    /// ([`ProxyConfig::start_process`]: it ends when this process ends, through an `execve`
    /// too), then restricts this process with TCP connect pinned to that port and the
    /// `connect_tcp` ports: the `port-pinned` tier (a network namespace would leave the
    /// proxy outside it unreachable), refused under `settings.isolation: required`. The
    /// caller sets the returned [`environment`](AppliedWithProxy::environment) for its
    /// clients. Refused in a multi-threaded process, as `apply` is. A ring without hosts is
    /// an error here: use `apply_with`.
    pub fn apply_with_proxy(
        &self,
        bindings: &Bindings,
        options: &Options,
        egress: EgressOptions,
    ) -> Result<AppliedWithProxy, Error> {
        let Some(policy) = self.egress().cloned().filter(|_| !self.is_unconfined()) else {
            return Err(Error::Apply(format!(
                "ring {} lists no hosts: it has no egress proxy (use `apply`)",
                self.level()
            )));
        };
        if self.isolation_setting() == Isolation::Required {
            return Err(Error::IsolationUnavailable {
                ring: self.level(),
                why: "a ring with hosts applied in-process gets no network namespace (its proxy would be left outside it): spawn the command instead".to_owned(),
            });
        }
        // What `apply_with` would refuse, refused before a proxy is started for nothing.
        self.preview(bindings)?;
        let mut config = ProxyConfig::new(self.level(), policy)
            .map_err(|e| Error::system("cannot configure the egress proxy", e))?;
        for (name, addr) in egress.resolve {
            config = config.resolve(name, addr);
        }
        if let Some(file) = egress.log {
            config = config.log_file(file);
        }
        let listener = bind_loopback(0)
            .map_err(|e| Error::system("cannot listen on loopback for the proxy", e))?;
        let proxy = config
            .start_process(listener)
            .map_err(|e| Error::system("cannot start the egress proxy", e))?;
        let addr = proxy.endpoint().addr();
        let mut report = self.apply_with(bindings, &options.clone().egress_port(addr.port()))?;
        report.egress = Some(EgressReport {
            tier: EgressTier::PortPinned,
            proxy: addr.to_string(),
            runs_in: "process",
            unavailable: Some("applied in-process: the proxy runs outside this process's restriction, on the host's loopback".to_owned()),
        });
        Ok(AppliedWithProxy { report, proxy })
    }
}
