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
    /// What the ring asks for and the system's sandbox cannot enforce, said plainly: the
    /// Seatbelt profile's notes on macOS; on Linux what `landlock.dropped` cannot say (the
    /// socket paths of `network.unix_connect`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_enforced: Vec<String>,
    /// The egress proxy of a ring with `hosts` (v1.1): where it listens and how the command
    /// is kept to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<EgressReport>,
    /// The run's private temporary directory (the `tmp` preset's `${tmp}`, v1.1), given to the
    /// command as `TMPDIR`: created for this apply or spawn, or the caller's binding of `tmp`
    /// (which is never removed). A created one is removed with a spawned command's
    /// [`Child`](crate::Child), when a preview returns, and never after an in-process apply
    /// (it stays for the life of the process). `None` when the ring does not name `${tmp}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_tmp: Option<String>,
}

/// How a ring with `hosts` reaches the network: only through its egress proxy (and the
/// `connect_tcp` ports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EgressReport {
    /// `namespace`: the command runs in a network namespace holding only `lo` and the
    /// proxy's listening socket; `port-pinned`: Landlock lets it connect over TCP only to
    /// the proxy's loopback port and the `connect_tcp` ports (it could reach that port on
    /// another host too).
    pub tier: EgressTier,
    /// Where the command reaches the proxy (`127.0.0.1:PORT`, inside its namespace in the
    /// `namespace` tier).
    pub proxy: String,
    /// How the proxy runs: `thread` (of the process that spawned the command) or
    /// `process` (a child process started before an in-process restriction).
    pub runs_in: &'static str,
    /// Why the `namespace` tier was not used, in the `port-pinned` tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// How the command is kept to its egress proxy ([`EgressReport::tier`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EgressTier {
    /// A network namespace with only `lo` and the proxy's socket.
    Namespace,
    /// TCP connect pinned by Landlock to the proxy's port and the `connect_tcp` ports.
    PortPinned,
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
    /// Deny-glob matches that are symbolic links: they deny nothing by themselves (the
    /// target keeps its own rules) and get no rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub glob_links: Vec<String>,
    /// Paths not followed because they go through a symbolic link inside a directory that a
    /// ring of the artifact may change (an agent could have planted the link): allow paths,
    /// not granted, and deny-glob roots, whose globs then match nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_through_links: Vec<String>,
    /// The program loaders granted (v1.1): for each regular file the ring may execute that is
    /// a dynamically linked ELF program, its interpreter gets `execute` and `read_file`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub loaders: Vec<LoaderGrant>,
    /// Execute grants whose program's loader was not granted, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub loaders_not_added: Vec<LoaderNotAdded>,
    /// Every filesystem rule of the ring as enforced here, in policy order, in the policy's
    /// words: the path (variables bound), the rights, and where the rule comes from (v1.1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enforced: Vec<EnforcedRule>,
}

/// A filesystem rule as enforced: what a reader maps back to the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EnforcedRule {
    /// Allow or deny.
    pub effect: crate::artifact::Effect,
    /// The path with its variable bound, or a deny glob as written.
    pub path: String,
    /// The rights it grants or withholds.
    pub rights: Vec<Right>,
    /// Where it comes from: `FILE:LINE (SCOPE)` for a rule of the policy (`agent.yaml:14
    /// (ring 2)`, `agent.yaml:12 (preset python)`), `loader of PROGRAM` for a program loader,
    /// `the caller's writable_only` for the narrowing an embedder asked for.
    pub origin: String,
}

/// A program loader granted for an execute grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LoaderGrant {
    /// The program the ring may execute (as bound).
    pub program: String,
    /// Its ELF interpreter, as the program names it (`PT_INTERP`).
    pub interpreter: String,
    /// The interpreter with every link resolved: where the grant is.
    pub resolved: String,
}

/// An execute grant whose program's loader was not granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LoaderNotAdded {
    /// The program the ring may execute (as bound).
    pub program: String,
    /// Why its loader was not granted.
    pub why: String,
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

/// What a Linux ring asks for beyond what Landlock and seccomp enforce here: the socket
/// paths of `network.unix_connect` (`granted`, bound), which only Landlock ABI 9 can check
/// and the runtime does not ask it to. `abi`: the Landlock ABI in use.
#[cfg(target_os = "linux")]
pub fn linux_not_enforced(abi: u32, granted: &[String]) -> Vec<String> {
    if granted.is_empty() {
        return Vec::new();
    }
    let why = if abi < 9 {
        format!("Landlock restricts it only from ABI 9, this kernel has ABI {abi}")
    } else {
        "this runtime does not use Landlock's ABI 9 rule for it yet".to_owned()
    };
    let list: Vec<String> = granted.iter().map(|p| format!("`{p}`")).collect();
    vec![format!(
        "network.unix_connect is not enforced by path ({why}): the ring may create unix sockets and connect to any socket path, not only under {}",
        list.join(", ")
    )]
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn unix_socket_grants_are_reported_not_enforced_by_path() {
        assert!(linux_not_enforced(7, &[]).is_empty());
        let notes = linux_not_enforced(7, &["/run/app".to_owned(), "/srv/s".to_owned()]);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("only from ABI 9, this kernel has ABI 7")
                && notes[0].contains("`/run/app`, `/srv/s`")
                && notes[0].contains("any socket path"),
            "{notes:?}"
        );
        let notes = linux_not_enforced(9, &["/run/app".to_owned()]);
        assert!(
            notes[0].contains("does not use Landlock's ABI 9 rule"),
            "{notes:?}"
        );
    }
}
