//! Why an artifact could not be loaded or a ring not applied.

use std::path::PathBuf;

use crate::artifact::{self, SeccompArch};
use crate::report::Dropped;

/// Why an artifact could not be loaded or a ring not applied. Any error before the
/// Landlock restriction leaves the process unconfined (except that `no_new_privs`, set just
/// before it, stays set if the restriction itself fails): the caller decides what to do
/// (`nonoc exec` refuses to run the command). [`Error::kind`] sorts the errors by what the
/// caller can do about them; [`std::error::Error::source`] gives the system's error, with
/// its errno, where there is one.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The artifact file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it returned.
        source: std::io::Error,
    },
    /// The artifact is larger than `limit` bytes (16 MiB), the most the runtime reads: it was
    /// not read past the limit.
    TooLarge {
        /// The most the runtime reads, in bytes.
        limit: u64,
    },
    /// The artifact is not valid JSON of its format, or holds a value the runtime cannot
    /// use (a seccomp program that does not decode, say).
    Malformed(String),
    /// The artifact's `format` is not the one this runtime reads.
    UnknownFormat(String),
    /// The artifact's digest does not match its content: it was modified after compilation.
    DigestMismatch {
        /// The digest the artifact records.
        recorded: String,
        /// The digest of its content.
        computed: String,
    },
    /// The artifact has no ring at this level.
    NoSuchRing(u8),
    /// A trust score outside 0..=1000.
    TrustScoreRange(u32),
    /// No trust tier selects this trust score.
    NoTier(u32),
    /// The ring has no Linux (Landlock) section.
    NoLinuxTarget(u8),
    /// The ring has no macOS (Seatbelt) section.
    NoMacosTarget(u8),
    /// The ring has no seccomp filter for the arch this process runs on (`None`: an arch
    /// the compiler writes no filters for).
    NoSeccompFilter {
        /// The ring's level.
        ring: u8,
        /// The arch this process runs on, when the compiler writes filters for it.
        arch: Option<SeccompArch>,
    },
    /// The ring is unconfined and the caller did not opt in
    /// ([`Ring::allow_unconfined`](crate::Ring::allow_unconfined)).
    UnconfinedRefused(u8),
    /// The process has this many threads: Landlock would confine only the calling one.
    MultiThreaded(usize),
    /// A variable the ring uses has no value: no binding, no environment variable set, no
    /// default.
    Unbound(String),
    /// The caller bound a variable the artifact does not declare (a typo would otherwise
    /// leave the real variable at its default).
    UndeclaredVariable(String),
    /// A variable's value is not an absolute normalized path.
    BadValue {
        /// The variable.
        name: String,
        /// The value it was given.
        value: String,
        /// What is wrong with the value (`not absolute`, ...).
        why: &'static str,
    },
    /// `hard_requirement`: the kernel lacks what the ring needs.
    Unsupported {
        /// The kernel's Landlock ABI (or the cap set with [`Ring::max_abi`](crate::Ring::max_abi)).
        abi: u32,
        /// What it lacks.
        dropped: Vec<Dropped>,
    },
    /// `settings.unenforceable: error`: these paths go through a symbolic link in a directory
    /// that a ring of the artifact may change (an agent could have planted the link), so the
    /// rules on them could not be placed.
    LinksNotFollowed(Vec<String>),
    /// `settings.isolation: required`, and the ring needs masks (or a network namespace)
    /// that this host does not let the process create: nothing was applied.
    IsolationUnavailable {
        /// The ring's level.
        ring: u8,
        /// Why the namespaces are not available here.
        why: String,
    },
    /// A system call of the apply failed (the process is unconfined, but for
    /// `no_new_privs` when the restriction itself failed).
    System {
        /// What the runtime was doing (`cannot open `/srv/ws``).
        context: String,
        /// What the system returned.
        source: std::io::Error,
    },
    /// The ring cannot be applied for another reason (a path that changed since placement,
    /// a Seatbelt profile too large, ...); the process is unconfined.
    Apply(String),
    /// Landlock is in force but the kernel refused the seccomp filter: the process is only
    /// partly confined, and must not go on as if the ring were applied.
    SeccompAfterLandlock(std::io::Error),
}

/// What kind of error an [`Error`] is: what the caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The artifact could not be read.
    Io,
    /// The artifact is too large, malformed, of another format, or modified since it was
    /// compiled.
    InvalidArtifact,
    /// The ring asked for does not exist (no such level, a trust score out of range or that
    /// no tier selects).
    NoRing,
    /// The ring has nothing to apply on this system (no section for it, no seccomp filter
    /// for this arch).
    NotForThisSystem,
    /// The ring is unconfined and the caller did not opt in.
    UnconfinedRefused,
    /// The process already runs other threads.
    MultiThreaded,
    /// A variable is unbound, undeclared, or bound to a value that is not an absolute
    /// normalized path.
    Variable,
    /// The ring cannot be enforced as written here, and the policy refuses less: the kernel
    /// lacks what it requires (`hard_requirement`, or `isolation: required` where namespaces
    /// are unavailable), or a path goes through a symbolic link a ring may have planted
    /// (`unenforceable: error`).
    Unsupported,
    /// The system refused a step of the apply; the process is unconfined.
    Apply,
    /// Landlock is in force but the seccomp filter is not: partly confined.
    PartlyApplied,
}

impl Error {
    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Read { .. } => ErrorKind::Io,
            Error::TooLarge { .. }
            | Error::Malformed(_)
            | Error::UnknownFormat(_)
            | Error::DigestMismatch { .. } => ErrorKind::InvalidArtifact,
            Error::NoSuchRing(_) | Error::TrustScoreRange(_) | Error::NoTier(_) => {
                ErrorKind::NoRing
            }
            Error::NoLinuxTarget(_) | Error::NoMacosTarget(_) | Error::NoSeccompFilter { .. } => {
                ErrorKind::NotForThisSystem
            }
            Error::UnconfinedRefused(_) => ErrorKind::UnconfinedRefused,
            Error::MultiThreaded(_) => ErrorKind::MultiThreaded,
            Error::Unbound(_) | Error::UndeclaredVariable(_) | Error::BadValue { .. } => {
                ErrorKind::Variable
            }
            Error::Unsupported { .. }
            | Error::LinksNotFollowed(_)
            | Error::IsolationUnavailable { .. } => ErrorKind::Unsupported,
            Error::System { .. } | Error::Apply(_) => ErrorKind::Apply,
            Error::SeccompAfterLandlock(_) => ErrorKind::PartlyApplied,
        }
    }

    /// A failed system call, with what the runtime was doing.
    pub(crate) fn system(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::System {
            context: context.into(),
            source,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Read { path, source } => write!(f, "cannot read `{}`: {source}", path.display()),
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
            Error::IsolationUnavailable { ring, why } => write!(
                f,
                "ring {ring} needs the isolation layer (mount namespaces for its denies inside allowed directories) and the policy sets `isolation: required`, but {why}"
            ),
            Error::System { context, source } => write!(f, "{context}: {source}"),
            Error::Apply(m) => write!(f, "{m}"),
            Error::SeccompAfterLandlock(e) => write!(
                f,
                "Landlock is applied but the kernel refused the seccomp filter ({e}): the process is only partly confined"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. }
            | Error::System { source, .. }
            | Error::SeccompAfterLandlock(source) => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn the_errno_reaches_the_caller() {
        let e = Error::system(
            "cannot open `/x`",
            std::io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(e.kind(), ErrorKind::Apply);
        let source = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            source.and_then(std::io::Error::raw_os_error),
            Some(libc::EACCES)
        );
        assert!(e.to_string().starts_with("cannot open `/x`: "), "{e}");
        let e = Error::SeccompAfterLandlock(std::io::Error::from_raw_os_error(libc::EINVAL));
        assert_eq!(e.kind(), ErrorKind::PartlyApplied);
        assert!(e.source().is_some());
        assert!(Error::NoSuchRing(9).source().is_none());
    }
}
