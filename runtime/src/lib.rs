#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// What an agent uses is exported below; the modules stay private. The compiler, which writes
// artifacts and probes rings, turns on the `compiler` feature: it makes the artifact's types
// and the few helpers it shares with the runtime public. No public function skips a check of
// `Ring::apply`'s path (the Landlock steps stay private in `landlock`).
#[cfg(feature = "compiler")]
pub mod artifact;
#[cfg(not(feature = "compiler"))]
mod artifact;
#[cfg(feature = "compiler")]
pub mod bind;
#[cfg(not(feature = "compiler"))]
mod bind;
#[cfg(target_os = "linux")]
mod confine;
#[cfg(all(feature = "egress", target_os = "linux"))]
pub mod egress;
mod error;
pub mod hosts;
#[cfg(target_os = "linux")]
mod landlock;
pub mod private_tmp;
#[cfg(all(feature = "compiler", target_os = "linux"))]
pub mod probe;
mod report;
mod ring;
#[cfg(feature = "compiler")]
pub mod seatbelt;
#[cfg(all(not(feature = "compiler"), target_os = "macos"))]
mod seatbelt;
mod sys;

pub use artifact::{Artifact, Isolation, Right, ScopeName, SeccompArch, SeccompStats};
pub use bind::Bindings;
#[cfg(target_os = "linux")]
pub use confine::{Child, MaskKind, MaskReport, Options, Resource, Tier};
pub use error::{Error, ErrorKind};
pub use report::{
    Dropped, EgressReport, EgressTier, EnforcementReport, IsolationReport, LandlockReport,
    ProcessReport, SeccompReport,
};
pub use ring::Ring;

/// The Landlock ABI of the running kernel (0 when Landlock is unavailable).
pub fn landlock_abi() -> u32 {
    #[cfg(target_os = "linux")]
    return sys::landlock_abi();
    #[cfg(not(target_os = "linux"))]
    return 0;
}

/// Whether this process can enter the isolation layer's namespaces on this host, found out
/// once per process by trying in a child that then exits: `Ok(true)` with `CAP_SYS_ADMIN`
/// (root: a mount namespace needs no user namespace), `Ok(false)` through an unprivileged user
/// namespace, `Err(why)` when it cannot (rings that need masks then get the Landlock
/// carve-outs, or an apply error under `isolation: required`). Always `Err` off Linux.
pub fn isolation_available() -> Result<bool, String> {
    #[cfg(target_os = "linux")]
    return confine::probed()
        .clone()
        .map(|entry| entry == confine::Entry::Privileged);
    #[cfg(not(target_os = "linux"))]
    return Err(format!("no isolation layer on {}", std::env::consts::OS));
}
