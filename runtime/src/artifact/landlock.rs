//! The Landlock section of a ring: the ring's Linux filesystem rules (allow and deny, with
//! variables still symbolic and deny globs pre-parsed into components), TCP port rules and
//! scopes. The runtime turns it into a ruleset at apply time, when variables are bound and
//! the directories a deny splits can be read.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    pub effect: Effect,
    pub target: Target,
    pub access: Vec<Right>,
    /// Deny rules: targets inside the deny that it does not cover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<Target>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

/// A path template (may start with `${name}`) or a glob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Path(String),
    Glob(Glob),
}

/// A glob, parsed by the compiler: a literal root (a path template) and, for each brace
/// alternative, the components below the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Glob {
    /// The glob as written, for reports.
    pub text: String,
    /// The directory every match lies under.
    pub root: String,
    pub alternatives: Vec<Vec<Component>>,
}

/// One path component of a glob below its root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NetRules {
    pub connect_tcp: Vec<u16>,
    pub bind_tcp: Vec<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScopeName {
    Signal,
    AbstractUnixSocket,
}

/// A filesystem access right, named as in the policy language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Right {
    ReadFile,
    ReadDir,
    WriteFile,
    Truncate,
    MakeReg,
    MakeDir,
    MakeSym,
    MakeSock,
    MakeFifo,
    MakeChar,
    MakeBlock,
    RemoveFile,
    RemoveDir,
    Refer,
    IoctlDev,
    Execute,
}

impl Right {
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

    pub const fn bit(self) -> u16 {
        1 << self as u16
    }
}
