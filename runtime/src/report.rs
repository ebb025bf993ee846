//! The enforcement report: exactly what was applied, and what was not.

use serde::Serialize;

use crate::artifact::{Right, ScopeName, SeccompArch, SeccompStats};

/// What `Ring::apply` enforced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcementReport {
    pub ring: u8,
    pub unconfined: bool,
    /// Variables as bound.
    pub variables: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlock: Option<LandlockReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<SeccompReport>,
    /// What the ring asks for and the system's sandbox cannot enforce, said plainly (the
    /// Seatbelt profile's notes on macOS; empty on Linux, where `landlock.dropped` says it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_enforced: Vec<String>,
}

/// The seccomp filter installed (last, after Landlock, on every thread).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeccompReport {
    pub arch: SeccompArch,
    pub stats: SeccompStats,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LandlockReport {
    /// The ABI used (the kernel's, or lower when capped).
    pub abi: u32,
    /// Filesystem rights the ruleset handles (denied unless granted).
    pub handled: Vec<Right>,
    pub tcp_ports_enforced: bool,
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
    /// Deny-glob matches that are symbolic links: they deny nothing by themselves (the
    /// target keeps its own rules) and get no rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub glob_links: Vec<String>,
    /// Paths not followed because they go through a symbolic link inside a directory that a
    /// ring of the artifact may change (an agent could have planted the link): allow paths,
    /// not granted, and deny-glob roots, whose globs then match nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_through_links: Vec<String>,
}

/// Something not enforced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum Dropped {
    BelowMinAbi { min_abi: u32, abi: u32 },
    Right { right: Right, needs_abi: u32 },
    TcpPorts { needs_abi: u32 },
    Scope { scope: ScopeName, needs_abi: u32 },
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
