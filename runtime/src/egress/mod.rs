//! The egress proxy (`egress` feature, Linux): a ring's `hosts` enforced outside its
//! sandbox.
//!
//! The confined process is pointed at the proxy ([`Endpoint::environment`]) and can reach
//! nothing else. The proxy tunnels `CONNECT host:port` (TLS stays end to end) and forwards
//! plain-HTTP requests in absolute form (`GET http://host/path`, whose `Host` header, when
//! present, must name the same host and port). For each request it:
//!
//! 1. checks the per-run [`Secret`] (basic `Proxy-Authorization`, user `nonoc`; 407
//!    without it);
//! 2. decides the host and port the request names with [`HostPolicy::decide`], before
//!    resolving anything (403 and the rule);
//! 3. resolves a name itself (the `--resolve` map, else `getaddrinfo` on a blocking
//!    thread) and checks every address with [`HostPolicy::decide_addresses`] (403);
//! 4. connects to one of the addresses it checked: there is no second look-up;
//! 5. logs one JSON line (time, ring, method, host, port, decision, rule, status, address).
//!
//! It accepts only on the listener it is given: a loopback socket
//! ([`bind_loopback`]) or one created inside the sandbox's network namespace and handed
//! over; any other address is refused. It runs in a thread ([`ProxyConfig::start_thread`])
//! or in a process of its own that ends with its parent
//! ([`ProxyConfig::start_process`]). See `docs/egress.md`.
//!
//! [`HostPolicy::decide`]: crate::hosts::HostPolicy::decide
//! [`HostPolicy::decide_addresses`]: crate::hosts::HostPolicy::decide_addresses

mod config;
mod handler;
mod io;
mod log;
mod run;
mod server;
mod spawn;
#[cfg(test)]
mod tests;
mod tunnel;
mod upstream;

pub use config::{Limits, ProxyConfig, Secret, USER};
pub use run::{Endpoint, ProxyProcess, ProxyThread, bind_loopback};
pub use spawn::{AppliedWithProxy, ConfinedWithProxy, EgressOptions, NAMESPACE_PORT};
