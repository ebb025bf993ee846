//! The intermediate representation: per ring, after `extends` and global denies, every
//! capability normalized and in a deterministic order. Backends lower from here; `decide`
//! answers from here.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{AccessSet, GlobTemplate, PathTemplate, TrustTier, Variable};
use crate::syntax::{Compatibility, Isolation, NetworkMode, SignalScope, Unenforceable};

pub use crate::syntax::{ListenFamily, Platform};
pub use nonoc_runtime::artifact::Capability;
pub use nonoc_runtime::hosts::{HostPolicy, HostRule, Private};

/// A whole policy, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Ir {
    pub name: String,
    /// The policy file's name (the last component of the path it was read from), for the
    /// rule origins of the artifact; not part of the IR's meaning.
    #[serde(skip)]
    pub file: String,
    pub settings: IrSettings,
    pub variables: BTreeMap<String, Variable>,
    pub trust_tiers: Vec<TrustTier>,
    pub rings: BTreeMap<u8, Ring>,
    pub tests: Vec<Test>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IrSettings {
    pub landlock_compatibility: Compatibility,
    pub landlock_min_abi: u32,
    pub unenforceable: Unenforceable,
    pub monotonic: bool,
    /// `settings.isolation`: written to the artifact for the runtime's isolation layer.
    pub isolation: Isolation,
}

/// Where a rule came from: for diagnostics and `explain`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Origin {
    /// 1-based line and column in the policy file.
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub offset: usize,
    #[serde(skip)]
    pub len: usize,
    /// `global deny`, `ring 3`, `ring 3 (inherited)`, `preset hardening`, `network.mode: blocked` ...
    pub scope: String,
    /// The source line the rule stands on.
    pub text: String,
}

impl Origin {
    pub fn at(
        source: &crate::source::Source,
        span: crate::diagnostic::Span,
        scope: impl Into<String>,
    ) -> Origin {
        let (line, column) = source.line_col(span.offset);
        Origin {
            line,
            column,
            offset: span.offset,
            len: span.len,
            scope: scope.into(),
            text: source.line_text(span).to_owned(),
        }
    }

    pub fn span(&self) -> crate::diagnostic::Span {
        crate::diagnostic::Span::new(self.offset, self.len)
    }
}

/// A ring after resolution.
#[derive(Debug, Clone, Serialize)]
pub struct Ring {
    pub level: u8,
    /// Where the ring's key stands in the source.
    #[serde(skip)]
    pub span: crate::diagnostic::Span,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// An unconfined ring applies no sandbox; its rule lists are empty.
    pub unconfined: bool,
    /// The chain of rings this one extends, nearest first.
    pub extends: Vec<u8>,
    pub filesystem: Vec<FsRule>,
    pub network: Network,
    pub process: Process,
    pub syscalls: Syscalls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

/// What a filesystem rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FsTarget {
    /// The path and its whole subtree.
    Path(PathTemplate),
    /// Every path that matches, and the subtrees under them.
    Glob(GlobTemplate),
}

impl FsTarget {
    pub fn text(&self) -> &str {
        match self {
            FsTarget::Path(p) => p.as_str(),
            FsTarget::Glob(g) => g.as_str(),
        }
    }

    pub fn variable(&self) -> Option<&str> {
        match self {
            FsTarget::Path(p) => p.variable(),
            FsTarget::Glob(g) => g.variable(),
        }
    }

    /// The directory every covered path lies under.
    pub fn root(&self) -> PathTemplate {
        match self {
            FsTarget::Path(p) => p.clone(),
            FsTarget::Glob(g) => g.literal_root(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsRule {
    pub effect: Effect,
    pub target: FsTarget,
    pub access: AccessSet,
    /// Deny rules only: paths or globs the deny does not cover.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<FsTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Network {
    pub mode: NetworkMode,
    pub connect_tcp: Vec<u16>,
    pub bind_tcp: Vec<u16>,
    pub udp: bool,
    /// Where the ring may connect to unix sockets (v1.1), inherited grants first, each path
    /// once. Empty: no `AF_UNIX` socket can be created with `socket()`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unix_connect: Vec<UnixGrant>,
    /// `network.hosts` (v1.1), inherited entries first, each once: what the egress proxy
    /// lets the ring reach by name. Empty: the ring gets no proxy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostGrant>,
    /// `network.deny_hosts` (v1.1), inherited entries first, each once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny_hosts: Vec<HostGrant>,
    /// `network.private` (v1.1): the nearest ring's setting, `deny` by default.
    #[serde(skip_serializing_if = "is_private_deny")]
    pub private: Private,
}

impl Network {
    /// The ring's host lists as the runtime's egress decision takes them (the one decision
    /// `decide`, `explain --host` and the proxy share); `None` when the ring lists no hosts or
    /// its mode is not `restricted` (an `allowed` ring that inherits hosts connects anywhere
    /// and gets no proxy).
    pub fn host_policy(&self) -> Option<HostPolicy> {
        if self.hosts.is_empty() || self.mode != NetworkMode::Restricted {
            return None;
        }
        let rules = |list: &[HostGrant]| list.iter().map(|g| g.rule.clone()).collect();
        Some(HostPolicy::new(
            rules(&self.hosts),
            rules(&self.deny_hosts),
            self.private,
        ))
    }
}

fn is_private_deny(p: &Private) -> bool {
    *p == Private::Deny
}

/// A `network.hosts` or `network.deny_hosts` entry and where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostGrant {
    #[serde(flatten)]
    pub rule: HostRule,
    pub origin: Origin,
}

/// A `network.unix_connect` entry: a socket path or a directory above socket paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnixGrant {
    pub path: PathTemplate,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    pub fork: bool,
    pub signals: SignalScope,
    pub ptrace: bool,
    /// Linux capabilities the confined command keeps (v1.1), by number; every other one is
    /// dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Capability>,
}

/// What a matching syscall rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "errno")]
pub enum SyscallAction {
    Allow,
    Errno(u16),
    KillProcess,
    /// Logged by the kernel, then allowed: an audit action, it does not block.
    Log,
    Trap,
}

impl SyscallAction {
    /// Which action wins when several rules match one call: the higher, the stricter.
    pub fn strictness(self) -> u8 {
        match self {
            SyscallAction::Allow => 0,
            SyscallAction::Log => 1,
            SyscallAction::Errno(_) => 2,
            SyscallAction::Trap => 3,
            SyscallAction::KillProcess => 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Syscalls {
    /// Action for syscalls no rule names.
    pub default_allow: bool,
    /// Action of deny rules that name none of their own, and of `default: deny`.
    pub deny_action: SyscallAction,
    /// What the x86_64 filter answers for an x32 syscall number: `deny_action`, or the ring's
    /// errno when that is `log` (an audit-only ring must not let x32 numbers run, or every
    /// rule could be passed by calling through the x32 ABI).
    pub x32_action: SyscallAction,
    /// Named allows (used when `default_allow` is false).
    pub allow: Vec<String>,
    /// Deny rules: from `syscalls.deny`, presets, and what network and process settings imply.
    pub deny: Vec<SyscallRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallRule {
    pub name: String,
    /// All must hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCondition>,
    pub action: SyscallAction,
    pub origin: Origin,
    /// Implied by the ring's network and process settings (or by every confined ring), not
    /// written in `syscalls:`: lints compare the settings instead.
    #[serde(skip)]
    pub implied: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ArgCondition {
    pub index: u8,
    pub op: ArgOp,
    pub value: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<u64>,
}

/// Argument comparison operators: the language's, plus `masked_ne` (`arg & mask != value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    MaskedEq,
    MaskedNe,
    AnyBits,
    AllBits,
}

impl ArgCondition {
    /// Whether the argument value satisfies the condition (`value` already cut to the
    /// argument's width by the caller where it is an `int`).
    pub fn holds(&self, arg: u64) -> bool {
        let v = self.value;
        match self.op {
            ArgOp::Eq => arg == v,
            ArgOp::Ne => arg != v,
            ArgOp::Lt => arg < v,
            ArgOp::Le => arg <= v,
            ArgOp::Gt => arg > v,
            ArgOp::Ge => arg >= v,
            ArgOp::MaskedEq => arg & self.mask.unwrap_or(u64::MAX) == v,
            ArgOp::MaskedNe => arg & self.mask.unwrap_or(u64::MAX) != v,
            ArgOp::AnyBits => arg & v != 0,
            ArgOp::AllBits => arg & v == v,
        }
    }
}

/// One expectation of the `tests:` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Test {
    pub selector: RingSelector,
    pub request: Request,
    pub expect: crate::syntax::Expect,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RingSelector {
    Ring(u8),
    TrustScore(u16),
}

/// A request `decide` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Request {
    /// A path (may start with a variable) and one access right.
    Path {
        path: PathTemplate,
        access: super::Right,
        #[serde(skip_serializing_if = "Option::is_none")]
        platform: Option<Platform>,
    },
    ConnectTcp {
        port: u16,
    },
    BindTcp {
        port: u16,
    },
    /// Opening a UDP (or raw inet) socket.
    Udp,
    /// A syscall by name; missing argument values count as 0.
    Syscall {
        name: String,
        args: Vec<u64>,
    },
    Signal {
        scope: SignalScope,
    },
    Fork,
    Ptrace,
    /// Accepting connections with `listen()` on a socket of the family that is not bound to
    /// a granted port (v1.1; for TCP, `listen()` binds an ephemeral port).
    Listen {
        family: ListenFamily,
    },
    /// Connecting to the unix socket at a path (v1.1).
    UnixConnect {
        path: PathTemplate,
        #[serde(skip_serializing_if = "Option::is_none")]
        platform: Option<Platform>,
    },
    /// Keeping a Linux capability (v1.1).
    Capability {
        capability: Capability,
    },
    /// Reaching a host (a name in its normal form, or an address literal) at a TCP port
    /// (v1.1): through the egress proxy when the ring lists `hosts`.
    Host {
        host: String,
        port: u16,
    },
}

impl Ir {
    /// The ring a trust score selects: the tier with the highest `min_score` <= score.
    pub fn ring_for_trust_score(&self, score: u16) -> Option<u8> {
        self.trust_tiers
            .iter()
            .filter(|t| t.min_score <= score)
            .max_by_key(|t| t.min_score)
            .map(|t| t.ring)
    }
}
