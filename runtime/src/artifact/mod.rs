//! The artifact format `nonoc-artifact/v1`: one definition, read here and written by the
//! compiler. Deterministic JSON; `digest` is the sha256 of the canonical bytes of everything
//! else (compact JSON of the artifact with an empty digest).

mod bpf;
mod capability;
mod landlock;
mod seatbelt;
mod seccomp;
mod unique_keys;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use capability::Capability;
#[cfg(any(feature = "compiler", target_os = "linux"))]
pub use landlock::Component;
pub use landlock::{Effect, LandlockPlan, Right, ScopeName, Target};
#[cfg(feature = "compiler")]
pub use landlock::{Glob, NetRules, PathRule, Rights, RuleOrigin};
#[cfg(feature = "compiler")]
pub use seatbelt::PROXY_PORT_PLACEHOLDER;
#[cfg(any(feature = "compiler", target_os = "macos"))]
pub use seatbelt::PROXY_RULE;
#[cfg(any(feature = "compiler", target_os = "macos"))]
pub use seatbelt::ParamForm;
pub use seatbelt::SeatbeltProfile;
pub use seatbelt::proxy_rules;
#[cfg(feature = "compiler")]
pub use seatbelt::{PRIVATE_LINKS, SeatbeltParam, private_alias};
#[cfg(feature = "compiler")]
pub use seccomp::Instruction;
#[cfg(feature = "compiler")]
pub use seccomp::{MAX_INSTRUCTIONS, to_bytes};
pub use seccomp::{SeccompArch, SeccompFilter, SeccompStats};

#[cfg(any(feature = "compiler", target_os = "linux"))]
pub use bpf::check as check_bpf;
#[cfg(feature = "compiler")]
pub use validate::MAX_LANDLOCK_ABI;

use crate::Error;

/// The format string this runtime reads and the compiler writes.
pub const FORMAT: &str = "nonoc-artifact/v1";

/// The largest artifact file, in bytes, that `Artifact::load` reads (and the compiler
/// writes): 16 MiB, hundreds of times the size of a large policy's artifact. A bigger file
/// is refused without reading past the limit.
pub const MAX_ARTIFACT_BYTES: u64 = 16 * 1024 * 1024;

/// Declares [`Artifact`]: its fields are public to the compiler (feature `compiler`), which
/// builds and reads artifacts, and private to agents, which load and apply them. `Artifact`
/// is not `Deserialize`: the artifact is read as `Unverified`, with the same fields, and only
/// [`Artifact::from_slice`] turns that into an `Artifact`, after its checks (format, digest,
/// then every field in `validate`).
macro_rules! artifact {
    (
        $(#[$attr:meta])*
        pub struct Artifact { $( $(#[$field_attr:meta])* $field:ident: $ty:ty, )* }
    ) => {
        #[cfg(feature = "compiler")]
        $(#[$attr])*
        pub struct Artifact { $( $(#[$field_attr])* pub $field: $ty, )* }

        #[cfg(not(feature = "compiler"))]
        $(#[$attr])*
        #[non_exhaustive]
        pub struct Artifact { $( $(#[$field_attr])* pub(crate) $field: $ty, )* }

        /// An artifact as read, before it is checked.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Unverified { $( $(#[$field_attr])* $field: $ty, )* }

        impl Unverified {
            /// The artifact, once [`Artifact::from_slice`] has checked its format and digest,
            /// and every field is as the compiler writes it (`validate`).
            fn into_checked(self) -> Result<Artifact, Error> {
                validate::validate(&self)?;
                Ok(Artifact { $( $field: self.$field, )* })
            }
        }
    };
}

artifact! {
    /// A compiled policy.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
    #[serde(deny_unknown_fields)]
    pub struct Artifact {
        /// The format string, `nonoc-artifact/v1`.
        format: String,
        /// The compiler that wrote the artifact.
        compiler: CompilerInfo,
        /// The policy it was compiled from.
        policy: PolicyInfo,
        /// The policy's settings the runtime needs.
        settings: Settings,
        /// Declared variables, kept symbolic: the runtime binds them at apply time.
        #[serde(deserialize_with = "unique_keys::map")]
        variables: BTreeMap<String, Variable>,
        /// Sorted by `min_score`, highest first.
        trust_tiers: Vec<TrustTier>,
        /// Each ring by level.
        #[serde(deserialize_with = "unique_keys::map")]
        rings: BTreeMap<u8, RingTargets>,
        /// `sha256:` + hex of the canonical bytes of everything else.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        digest: String,
    }
}

/// The compiler that wrote an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CompilerInfo {
    /// `nonoc`.
    pub name: String,
    /// The compiler's version.
    pub version: String,
}

/// The policy an artifact was compiled from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyInfo {
    /// The policy's `name`.
    pub name: String,
    /// sha256 (hex) of the policy file's bytes.
    pub source_sha256: String,
    /// The policy file's name (its last path component, never a directory), for the rule
    /// origins of reports (v1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// The policy settings the runtime needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// How to apply the Landlock plans.
    pub landlock: LandlockSettings,
    /// What to do with what a backend cannot enforce as written (the policy's
    /// `settings.unenforceable`); at apply time: a grant not placed because it goes through a
    /// symbolic link that a ring may replace.
    pub unenforceable: Unenforceable,
    /// `settings.isolation` of the policy: whether a deny inside an allowed directory is
    /// enforced in fresh mount namespaces (masks) where the host allows it. Absent means
    /// `best_effort` (artifacts written before the setting existed read the same).
    #[serde(
        default,
        skip_serializing_if = "Isolation::is_default",
        deserialize_with = "validate::isolation"
    )]
    pub isolation: Isolation,
}

/// What to do with what cannot be enforced as written (the policy's
/// `settings.unenforceable`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Unenforceable {
    /// Report what is not enforced and go on.
    #[default]
    Warn,
    /// Refuse.
    Error,
}

/// `settings.isolation` of the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Masks in fresh user and mount namespaces where the host allows it; the Landlock
    /// carve-outs elsewhere (the report names the tier).
    #[default]
    BestEffort,
    /// A ring that needs masks and cannot have them is an apply error.
    Required,
    /// Landlock and seccomp only: the carve-outs, everywhere.
    Off,
}

impl Isolation {
    /// The name as the policy language writes it.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::BestEffort => "best_effort",
            Isolation::Required => "required",
            Isolation::Off => "off",
        }
    }

    fn is_default(&self) -> bool {
        *self == Isolation::BestEffort
    }
}

/// `settings.landlock` of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LandlockSettings {
    /// What to do when the kernel lacks something a ring needs.
    pub compatibility: Compatibility,
    /// The lowest Landlock ABI the policy accepts.
    pub min_abi: u32,
}

/// What to do when the kernel's Landlock lacks something a ring needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Compatibility {
    /// Apply what the kernel supports; the report lists exactly what was dropped.
    BestEffort,
    /// Fail, applying nothing.
    HardRequirement,
}

/// A declared variable: how the runtime binds it when the caller does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// The environment variable that binds it when the caller does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// May start with another variable (`${home}/.cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The runtime provides the value (v1.1, the `tmp` preset's `tmp`): a directory created
    /// afresh for each run, given to the command as `TMPDIR`. Has neither `env` nor
    /// `default`; at most one variable of an artifact is private.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private_tmp: bool,
}

/// A trust tier: the ring a range of trust scores selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TrustTier {
    /// The tier's name.
    pub name: String,
    /// The lowest trust score the tier selects.
    pub min_score: u16,
    /// The ring it selects.
    pub ring: u8,
}

/// One ring, per target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RingTargets {
    /// The ring's description, from the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Applies no sandbox; refused unless the caller opts in.
    pub unconfined: bool,
    /// Linux Landlock plan (absent for unconfined rings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landlock: Option<LandlockPlan>,
    /// Linux seccomp filters, one per arch (absent for unconfined rings).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique_keys::map"
    )]
    pub seccomp: BTreeMap<SeccompArch, SeccompFilter>,
    /// macOS Seatbelt profile (absent for unconfined rings, and when compiled for Linux only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seatbelt: Option<SeatbeltProfile>,
    /// Linux: the capabilities the confined command keeps (`process.capabilities`), sorted by
    /// number, each once. Every other capability is dropped (effective, permitted,
    /// inheritable, ambient and the bounding set) before the command runs; absent or empty,
    /// all of them are. Meaningless for an unconfined ring, which keeps what it has.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "capability::sorted_unique"
    )]
    #[cfg_attr(feature = "compiler", schemars(extend("uniqueItems" = true)))]
    pub capabilities: Vec<Capability>,
    /// Egress by host name (`network.hosts`, `deny_hosts`, `private`; v1.1): what the egress
    /// proxy started beside the confined command lets it reach. Absent when the ring lists
    /// no hosts (then there is no proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<crate::hosts::HostPolicy>,
}

impl Artifact {
    /// Reads and verifies an artifact file (at most [`MAX_ARTIFACT_BYTES`] of it).
    pub fn load(path: impl AsRef<Path>) -> Result<Artifact, Error> {
        use std::io::Read as _;
        let path = path.as_ref();
        let cannot = |source: std::io::Error| Error::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(cannot)?;
        // Sized by the file's length when it has one (one read, as `fs::read` does); one byte
        // more than the limit tells a file at the limit from a bigger one.
        let len = file
            .metadata()
            .map_or(0, |m| m.len())
            .min(MAX_ARTIFACT_BYTES);
        let mut bytes = Vec::with_capacity(usize::try_from(len + 1).unwrap_or(0));
        file.take(MAX_ARTIFACT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        Artifact::from_slice(&bytes)
    }

    /// Parses and verifies an artifact: at most [`MAX_ARTIFACT_BYTES`], known format, no
    /// duplicate keys, digest matching the bytes, every field as the compiler writes it
    /// (paths, rights, ranges, references between rings and tiers, and each seccomp program
    /// as the kernel would check it).
    ///
    /// The file is compact JSON with `digest` as its last member; the digest is the sha256 of
    /// the file's bytes without that member (and without the trailing newline), so checking
    /// it needs no re-serialization.
    pub fn from_slice(bytes: &[u8]) -> Result<Artifact, Error> {
        if bytes.len() as u64 > MAX_ARTIFACT_BYTES {
            return Err(Error::TooLarge {
                limit: MAX_ARTIFACT_BYTES,
            });
        }
        let artifact: Unverified = match serde_json::from_slice(bytes) {
            Ok(a) => a,
            Err(e) => {
                #[derive(Deserialize)]
                struct Head {
                    format: String,
                }
                return Err(match serde_json::from_slice::<Head>(bytes) {
                    Ok(head) if head.format != FORMAT => Error::UnknownFormat(head.format),
                    _ => Error::Malformed(e.to_string()),
                });
            }
        };
        if artifact.format != FORMAT {
            return Err(Error::UnknownFormat(artifact.format));
        }
        let computed = match signed_content(bytes) {
            Some(content) => digest_of(&[content, b"}"]),
            None => "(the file does not end with its digest in canonical form)".to_owned(),
        };
        if artifact.digest != computed {
            return Err(Error::DigestMismatch {
                recorded: artifact.digest.clone(),
                computed,
            });
        }
        artifact.into_checked()
    }

    /// The canonical bytes: compact JSON without the digest.
    #[cfg(feature = "compiler")]
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut unsigned = self.clone();
        unsigned.digest.clear();
        serde_json::to_vec(&unsigned).map_err(|e| Error::Malformed(e.to_string()))
    }

    /// `sha256:` + hex of the canonical bytes.
    #[cfg(feature = "compiler")]
    pub fn compute_digest(&self) -> Result<String, Error> {
        Ok(digest_of(&[&self.canonical_bytes()?]))
    }

    /// Sets the digest and returns the file bytes: compact JSON ending with the digest, and a
    /// newline.
    #[cfg(feature = "compiler")]
    pub fn seal(&mut self) -> Result<Vec<u8>, Error> {
        self.digest = self.compute_digest()?;
        let mut bytes = serde_json::to_vec(self).map_err(|e| Error::Malformed(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// The artifact's digest, `sha256:` + hex (verified when it was loaded).
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The `metadata.name` of the policy it was compiled from.
    pub fn policy_name(&self) -> &str {
        &self.policy.name
    }

    /// The levels of its rings, in increasing order.
    pub fn levels(&self) -> impl Iterator<Item = u8> + '_ {
        self.rings.keys().copied()
    }

    /// The names of the variables the policy declares (bound at apply time), sorted.
    pub fn variable_names(&self) -> impl Iterator<Item = &str> {
        self.variables.keys().map(String::as_str)
    }

    /// The ring at a level.
    pub fn ring(&self, level: u8) -> Result<crate::Ring<'_>, Error> {
        match self.rings.get(&level) {
            Some(targets) => Ok(crate::Ring::new(self, level, targets)),
            None => Err(Error::NoSuchRing(level)),
        }
    }

    /// The ring a trust score (0..=1000) selects: the tier with the highest `min_score` <= score.
    pub fn ring_for_trust_score(&self, score: u32) -> Result<crate::Ring<'_>, Error> {
        if score > 1000 {
            return Err(Error::TrustScoreRange(score));
        }
        let tier = self
            .trust_tiers
            .iter()
            .filter(|t| u32::from(t.min_score) <= score)
            .max_by_key(|t| t.min_score)
            .ok_or(Error::NoTier(score))?;
        self.ring(tier.ring)
    }
}

/// `sha256:` + hex of the concatenated parts.
fn digest_of(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    format!("sha256:{}", hex(&hasher.finalize()))
}

/// The bytes the digest covers, but for their closing `}`: the file without its final
/// `,"digest":"sha256:<hex>"}` and trailing newline. `None` when the file does not end that
/// way.
fn signed_content(bytes: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b",\"digest\":\"sha256:";
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let body = body.strip_suffix(b"\"}")?;
    let hex_start = body.len().checked_sub(64)?;
    let (head, digest) = body.split_at(hex_start);
    if !digest
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return None;
    }
    head.strip_suffix(KEY)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
