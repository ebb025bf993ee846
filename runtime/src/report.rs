//! The enforcement report: exactly what was applied, and what was not.

use serde::Serialize;

use crate::artifact::{Right, ScopeName, SeccompArch, SeccompStats};
#[cfg(target_os = "linux")]
pub use crate::confine::{IsolationReport, ProcessReport};

/// The isolation layer's report (Linux only; never present elsewhere).
#[cfg(not(target_os = "linux"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IsolationReport {}

/// The process report (Linux only; never present elsewhere).
#[cfg(not(target_os = "linux"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProcessReport {}

/// What [`Ring::apply`](crate::Ring::apply) enforced (or, from
/// [`Ring::preview`](crate::Ring::preview), would enforce).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EnforcementReport {
    /// The ring's level.
    pub ring: u8,
    /// The ring is unconfined: nothing was applied.
    pub unconfined: bool,
    /// Variables as bound.
    pub variables: Vec<(String, String)>,
    /// The Landlock ruleset (Linux).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlock: Option<LandlockReport>,
    /// The seccomp filter (Linux).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<SeccompReport>,
    /// The isolation layer (Linux): the tier, the masks, what could not be masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation: Option<IsolationReport>,
    /// The session, capabilities and descriptors of the process (Linux).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessReport>,
    /// What the ring asks for and the system's sandbox cannot enforce, said plainly (the
    /// Seatbelt profile's notes on macOS; empty on Linux, where `landlock.dropped` says it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_enforced: Vec<String>,
}

/// The seccomp filter installed (last, after Landlock, on every thread).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SeccompReport {
    /// The arch whose filter was installed.
    pub arch: SeccompArch,
    /// What the filter costs.
    pub stats: SeccompStats,
}

/// The Landlock ruleset applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LandlockReport {
    /// The ABI used (the kernel's, or lower when capped).
    pub abi: u32,
    /// Filesystem rights the ruleset handles (denied unless granted).
    pub handled: Vec<Right>,
    /// Whether TCP ports are restricted.
    pub tcp_ports_enforced: bool,
    /// The IPC scopes in force.
    pub scopes: Vec<ScopeName>,
    /// What the ring asked for and this kernel could not enforce (best effort only).
    pub dropped: Vec<Dropped>,
    /// Path and port rules added.
    pub rules: usize,
    /// Allow paths that do not exist, and paths that vanished between placement and opening;
    /// skipped.
    pub missing_paths: Vec<String>,
    /// Directories split to carve out a deny, with the rights each lost for itself.
    pub carve_outs: Vec<(String, Vec<Right>)>,
    /// Deny globs and the existing paths they matched inside allowed directories.
    pub glob_matches: Vec<(String, Vec<String>)>,
    /// Allow paths not granted because they go through a symbolic link inside a directory
    /// the ring may change (the agent could have planted the link).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_through_links: Vec<String>,
}

/// Something the ring asks for that the kernel cannot enforce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "what")]
#[non_exhaustive]
pub enum Dropped {
    /// The kernel's Landlock ABI is below the policy's `min_abi`.
    BelowMinAbi {
        /// The policy's `min_abi`.
        min_abi: u32,
        /// The ABI used.
        abi: u32,
    },
    /// A filesystem right is not restricted.
    Right {
        /// The right.
        right: Right,
        /// The ABI that added it.
        needs_abi: u32,
    },
    /// TCP ports are not restricted.
    TcpPorts {
        /// The ABI that added them.
        needs_abi: u32,
    },
    /// An IPC scope is not enforced.
    Scope {
        /// The scope.
        scope: ScopeName,
        /// The ABI that added it.
        needs_abi: u32,
    },
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dropped::BelowMinAbi { min_abi, abi } => write!(
                f,
                "Landlock ABI {abi} is below the policy's min_abi {min_abi}"
            ),
            Dropped::Right { right, needs_abi } => write!(
                f,
                "`{}` is not restricted (needs Landlock ABI {needs_abi})",
                right.name()
            ),
            Dropped::TcpPorts { needs_abi } => write!(
                f,
                "TCP ports are not restricted (needs Landlock ABI {needs_abi})"
            ),
            Dropped::Scope { scope, needs_abi } => write!(
                f,
                "{scope:?} scope is not enforced (needs Landlock ABI {needs_abi})"
            ),
        }
    }
}
