//! The Landlock section of a ring: the ring's Linux filesystem rules (allow and deny, with
//! variables still symbolic and deny globs pre-parsed into components), TCP port rules and
//! scopes. The runtime turns it into a ruleset at apply time, when variables are bound and
//! the directories a deny splits can be read.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// A ring's Landlock section.
pub struct LandlockPlan {
    /// Filesystem rules in policy order (global denies first). Platform-specific rules for
    /// other systems are left out by the compiler.
    pub rules: Vec<PathRule>,
    /// TCP port rules; `None` when the ring does not restrict TCP (`network.mode: allowed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetRules>,
    /// IPC scopes (ABI 6+).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<ScopeName>,
    /// The paths (templates, like `rules`' paths) under which the ring may connect to unix
    /// sockets (`network.unix_connect`), in policy order. Empty: the seccomp filter denies
    /// `socket(AF_UNIX)`. Not empty: the filter allows it, and the socket paths are not
    /// restricted (Landlock restricts connecting by path only from ABI 9, which the runtime
    /// does not use yet): the ring may connect to any socket, and the report says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unix_connect: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// One filesystem rule.
pub struct PathRule {
    /// Allow or deny.
    pub effect: Effect,
    /// The path or glob it applies to.
    pub target: Target,
    /// The rights it allows or denies.
    pub access: Rights,
    /// Deny rules: targets inside the deny that it does not cover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<Target>,
    /// Where the rule stands in the policy (v1.1), for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<RuleOrigin>,
}

/// Where a rule stands in the policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleOrigin {
    /// The 1-based line.
    pub line: u32,
    /// What put the rule there: `ring 2`, `ring 2 (inherited)`, `global deny`,
    /// `preset python`, ...
    pub scope: String,
}

/// Longest `RuleOrigin::scope` an artifact may hold.
pub const MAX_ORIGIN_SCOPE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
/// Whether a rule allows or denies.
pub enum Effect {
    /// Grants the rights.
    Allow,
    /// Withholds the rights from what allow rules grant.
    Deny,
}

/// A path template (may start with `${name}`) or a glob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A path template.
    Path(String),
    /// A glob (deny rules only).
    Glob(Glob),
}

/// A glob, parsed by the compiler: a literal root (a path template) and, for each brace
/// alternative, the components below the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Glob {
    /// The glob as written, for reports.
    pub text: String,
    /// The directory every match lies under.
    pub root: String,
    /// For each brace alternative, the components below the root.
    pub alternatives: Vec<Vec<Component>>,
}

/// One path component of a glob below its root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Matches exactly this name.
    Literal(String),
    /// `*`, `?` and `[...]` within one name (`*` never crosses `/`).
    Pattern(String),
    /// `**`: zero or more components.
    AnyDepth,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// The TCP ports a ring may connect to and bind.
pub struct NetRules {
    /// Ports the ring may connect to.
    pub connect_tcp: Vec<u16>,
    /// Ports the ring may bind.
    pub bind_tcp: Vec<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(not(feature = "compiler"), non_exhaustive)]
/// A Landlock IPC scope: what a confined process may not reach outside its sandbox.
pub enum ScopeName {
    /// Sending signals to processes outside the sandbox.
    Signal,
    /// Connecting to abstract Unix sockets created outside the sandbox.
    AbstractUnixSocket,
}

/// A filesystem access right, named as in the policy language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(not(feature = "compiler"), non_exhaustive)]
pub enum Right {
    /// Open a file for reading.
    ReadFile,
    /// List a directory.
    ReadDir,
    /// Open a file for writing.
    WriteFile,
    /// Truncate a file.
    Truncate,
    /// Create a regular file.
    MakeReg,
    /// Create a directory.
    MakeDir,
    /// Create a symbolic link.
    MakeSym,
    /// Create a Unix socket.
    MakeSock,
    /// Create a FIFO.
    MakeFifo,
    /// Create a character device node.
    MakeChar,
    /// Create a block device node.
    MakeBlock,
    /// Unlink a file.
    RemoveFile,
    /// Remove a directory.
    RemoveDir,
    /// Link or rename a file into another directory.
    Refer,
    /// `ioctl` on a device file.
    IoctlDev,
    /// Execute a file.
    Execute,
}

impl Right {
    /// Every right, in bit order.
    pub const ALL: [Right; 16] = [
        Right::ReadFile,
        Right::ReadDir,
        Right::WriteFile,
        Right::Truncate,
        Right::MakeReg,
        Right::MakeDir,
        Right::MakeSym,
        Right::MakeSock,
        Right::MakeFifo,
        Right::MakeChar,
        Right::MakeBlock,
        Right::RemoveFile,
        Right::RemoveDir,
        Right::Refer,
        Right::IoctlDev,
        Right::Execute,
    ];

    /// The Landlock ABI that first handles this right.
    pub fn min_abi(self) -> u32 {
        match self {
            Right::Refer => 2,
            Right::Truncate => 3,
            Right::IoctlDev => 5,
            _ => 1,
        }
    }

    /// Whether the right applies to a file (as opposed to a directory's entries).
    pub fn applies_to_files(self) -> bool {
        matches!(
            self,
            Right::ReadFile | Right::WriteFile | Right::Truncate | Right::IoctlDev | Right::Execute
        )
    }

    /// The right's name in the policy language (`read_file`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Right::ReadFile => "read_file",
            Right::ReadDir => "read_dir",
            Right::WriteFile => "write_file",
            Right::Truncate => "truncate",
            Right::MakeReg => "make_reg",
            Right::MakeDir => "make_dir",
            Right::MakeSym => "make_sym",
            Right::MakeSock => "make_sock",
            Right::MakeFifo => "make_fifo",
            Right::MakeChar => "make_char",
            Right::MakeBlock => "make_block",
            Right::RemoveFile => "remove_file",
            Right::RemoveDir => "remove_dir",
            Right::Refer => "refer",
            Right::IoctlDev => "ioctl_dev",
            Right::Execute => "execute",
        }
    }

    /// The right's bit in a set of rights.
    pub const fn bit(self) -> u16 {
        1 << self as u16
    }

    /// The right named `name` (`read_file`, ...); groups are not rights.
    pub fn from_name(name: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl std::fmt::Display for Right {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of rights (bits in [`Right`] order). In JSON a list of names, whole groups written
/// by their names (`all`, `read`, `write`) to keep artifacts small and quick to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rights(pub u16);

/// The `read` and `write` groups of the policy language.
/// `write` = write_file, truncate, make_reg, make_dir, make_sym, make_sock, make_fifo,
/// remove_file, remove_dir, refer (not make_char, make_block, ioctl_dev).
const GROUPS: [(&str, u16); 2] = [("read", 0x0003), ("write", 0x39fc)];

impl Rights {
    /// Every right.
    pub const ALL: Rights = Rights(u16::MAX);

    /// Whether the set holds `right`.
    pub fn contains(self, right: Right) -> bool {
        self.0 & right.bit() != 0
    }

    /// The rights of the set, in [`Right::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Right> {
        Right::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// The names the set is written with: `all`, or whole groups by name, then the other
    /// rights in their order.
    fn names(self) -> impl Iterator<Item = &'static str> {
        let all = self == Rights::ALL;
        let mut rest = if all { 0 } else { self.0 };
        let mut groups = [None; GROUPS.len()];
        for (slot, (name, bits)) in groups.iter_mut().zip(GROUPS) {
            if rest & bits == bits {
                *slot = Some(name);
                rest &= !bits;
            }
        }
        all.then_some("all")
            .into_iter()
            .chain(groups.into_iter().flatten())
            .chain(Rights(rest).iter().map(Right::name))
    }

    fn from_name(name: &str) -> Option<u16> {
        match name {
            "all" => Some(u16::MAX),
            _ => GROUPS
                .iter()
                .find(|(g, _)| *g == name)
                .map(|(_, bits)| *bits)
                .or_else(|| {
                    Right::ALL
                        .into_iter()
                        .find(|r| r.name() == name)
                        .map(Right::bit)
                }),
        }
    }
}

impl Serialize for Rights {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for Rights {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let mut bits = 0;
        for name in &names {
            bits |= Rights::from_name(name).ok_or_else(|| {
                serde::de::Error::custom(format!("unknown access right `{name}`"))
            })?;
        }
        // The one form the compiler writes: whole groups by name first, then single rights
        // in their order, each once.
        let rights = Rights(bits);
        if !rights.names().eq(names.iter().map(|n| n.as_ref())) {
            let canonical: Vec<&str> = rights.names().collect();
            return Err(serde::de::Error::custom(format!(
                "access list {names:?} is not written as {canonical:?}"
            )));
        }
        Ok(rights)
    }
}

#[cfg(feature = "compiler")]
impl schemars::JsonSchema for Rights {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rights".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut names: Vec<&str> = vec!["all", "read", "write"];
        names.extend(Right::ALL.iter().map(|r| r.name()));
        schemars::json_schema!({ "type": "array", "items": { "enum": names } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_match_the_policy_language() {
        let write = [
            Right::WriteFile,
            Right::Truncate,
            Right::MakeReg,
            Right::MakeDir,
            Right::MakeSym,
            Right::MakeSock,
            Right::MakeFifo,
            Right::RemoveFile,
            Right::RemoveDir,
            Right::Refer,
        ];
        assert_eq!(GROUPS[1].1, write.iter().fold(0, |m, r| m | r.bit()));
        assert_eq!(GROUPS[0].1, Right::ReadFile.bit() | Right::ReadDir.bit());
    }

    #[test]
    fn rights_round_trip_through_json() {
        for bits in [0u16, 1, 0x3, 0x39fc, 0x39ff, 0x8000, 0xffff, 0x1234] {
            let json = serde_json::to_string(&Rights(bits)).unwrap();
            let back: Rights = serde_json::from_str(&json).unwrap();
            assert_eq!(back, Rights(bits), "{json}");
        }
        assert_eq!(serde_json::to_string(&Rights::ALL).unwrap(), r#"["all"]"#);
        assert!(serde_json::from_str::<Rights>(r#"["fly"]"#).is_err());
        // Only the canonical form: no repeats, groups by name, rights in order.
        for other in [
            r#"["read","read"]"#,
            r#"["read_file","read_dir"]"#,
            r#"["read_dir","read_file"]"#,
            r#"["execute","read"]"#,
            r#"["all","read"]"#,
        ] {
            assert!(serde_json::from_str::<Rights>(other).is_err(), "{other}");
        }
    }
}
