//! The serde types of policy language v1. Field names and shapes are the contract in
//! `docs/policy-language.md`; every struct rejects unknown fields.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{Entries, Spanned};

/// A ring policy file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "nonoc ring policy (v1)")]
pub struct PolicyFile {
    /// Always `nonoc.dev/v1`.
    #[serde(rename = "apiVersion")]
    #[schemars(with = "ApiVersionSchema")]
    pub api_version: Spanned<String>,
    /// Always `RingPolicy`.
    #[schemars(with = "KindSchema")]
    pub kind: Spanned<String>,
    pub metadata: Metadata,
    #[serde(default)]
    pub settings: Settings,
    /// Variables resolved at apply time by the runtime: caller bindings, then `env`, then `default`.
    #[serde(default)]
    #[schemars(with = "VariablesSchema")]
    pub variables: Spanned<Entries<Variable>>,
    /// Trust tiers: a trust score (0..=1000) selects the tier with the highest `min_score` <= score.
    #[serde(default)]
    pub trust_tiers: Vec<Spanned<TrustTier>>,
    /// Global deny rules: they apply to every confined ring and always win.
    #[serde(default)]
    pub deny: Vec<Spanned<DenyRule>>,
    /// Rings by level, 0..=255; lower is more privileged.
    #[schemars(with = "RingsSchema")]
    pub rings: Spanned<Entries<Spanned<Ring>>>,
    /// Expectations run by `nonoc test`.
    #[serde(default)]
    pub tests: Vec<Spanned<TestCase>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Lower-case letters, digits and `-`, starting with a letter or digit.
    #[schemars(with = "PolicyNameSchema")]
    pub name: Spanned<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub landlock: LandlockSettings,
    /// What to do when a backend can enforce a rule only partly.
    #[serde(default)]
    pub unenforceable: Unenforceable,
    /// Whether the monotonicity lint runs (default true).
    pub monotonic: Option<bool>,
    /// The isolation layer (fresh user and mount namespaces beneath Landlock and seccomp, for
    /// rings that need masks): `best_effort` uses it where the host allows, `required` makes
    /// its absence an apply error, `off` never uses it.
    #[serde(default)]
    pub isolation: Isolation,
    /// Warning codes the policy accepts as deliberate (`NC0802`, ...): their findings are
    /// counted but not printed, and `--deny-warnings` does not raise them. Say why in a
    /// comment beside each.
    #[serde(default)]
    pub accept: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LandlockSettings {
    #[serde(default)]
    pub compatibility: Compatibility,
    /// Lowest Landlock ABI the policy accepts (default 1).
    #[schemars(range(min = 1, max = 7))]
    pub min_abi: Option<Spanned<i64>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compatibility {
    #[default]
    BestEffort,
    HardRequirement,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    #[default]
    BestEffort,
    Required,
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
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unenforceable {
    #[default]
    Warn,
    Error,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Environment variable the runtime reads.
    pub env: Option<Spanned<String>>,
    /// Used when neither the caller nor the environment binds the variable.
    pub default: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustTier {
    pub name: Spanned<String>,
    #[schemars(range(min = 0, max = 1000))]
    pub min_score: Spanned<i64>,
    #[schemars(range(min = 0, max = 255))]
    pub ring: Spanned<i64>,
}

/// A deny rule: exactly one of `path` or `glob`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyRule {
    pub path: Option<Spanned<String>>,
    /// globset syntax, matched against the expanded absolute path.
    pub glob: Option<Spanned<String>>,
    /// Access rights denied (default: all).
    #[schemars(with = "Option<Vec<AccessName>>")]
    pub access: Option<Spanned<Vec<Spanned<String>>>>,
    /// Paths or globs inside the denied set that the deny does not cover.
    #[serde(default)]
    pub except: Vec<Spanned<String>>,
    pub platform: Option<Platform>,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    JsonSchema,
    serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Linux,
    Macos,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ring {
    pub description: Option<String>,
    /// Inherit everything of that ring, then add this ring's rules.
    #[schemars(range(min = 0, max = 255))]
    pub extends: Option<Spanned<i64>>,
    /// A ring that applies no sandbox (the runtime refuses it without explicit opt-in).
    pub unconfined: Option<Spanned<bool>>,
    pub filesystem: Option<Spanned<Filesystem>>,
    pub network: Option<Spanned<Network>>,
    pub process: Option<Spanned<Process>>,
    pub syscalls: Option<Spanned<Syscalls>>,
    /// Deny rules of this ring (inherited through `extends`).
    #[serde(default)]
    pub deny: Vec<Spanned<DenyRule>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    /// read_file, read_dir
    #[serde(default)]
    pub read: Vec<Spanned<String>>,
    /// write_file, truncate, make_*, remove_*, refer (not read)
    #[serde(default)]
    pub write: Vec<Spanned<String>>,
    /// execute
    #[serde(default)]
    pub execute: Vec<Spanned<String>>,
    /// Fine-grained rules.
    #[serde(default)]
    pub rules: Vec<Spanned<FsRule>>,
    /// Toolchain presets (v1.1): the read, execute and write grants a program family needs
    /// on Linux and macOS, defined as data in the compiler (`nonoc compile --emit ir` shows
    /// each grant with the preset it comes from).
    #[serde(default)]
    #[schemars(with = "Vec<FsPresetName>")]
    pub presets: Vec<Spanned<String>>,
}

/// Filesystem preset names, for the schema.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum FsPresetName {
    /// Shared libraries and their loader, the standard programs, the C library's `/etc` files.
    System,
    /// `system`, plus the Python interpreter's configuration, pip's, a user's pyenv and user
    /// site (under `${home}`, when the policy declares `home`).
    Python,
    /// `system` and `devices`, plus git's system, global and XDG configuration files.
    Git,
    /// `system`, plus OpenSSL's configuration and a user's nvm.
    Node,
    /// CA certificates and OpenSSL's configuration (never `/etc/ssl/private`).
    Certs,
    /// A private temporary directory, created for each run and given as `TMPDIR` (`${tmp}`).
    Tmp,
    /// `/dev/null`, `/dev/zero`, the random devices and the terminal.
    Devices,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FsRule {
    pub path: Spanned<String>,
    #[schemars(with = "Vec<AccessName>")]
    pub access: Spanned<Vec<Spanned<String>>>,
    pub platform: Option<Platform>,
}

/// Access right names and groups, for the schema: the groups `read` and `write`, then every
/// right (`execute` is both a group and a right). The list of rights is the artifact's.
struct AccessName;

impl JsonSchema for AccessName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AccessName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut names = vec!["read", "write"];
        names.extend(nonoc_runtime::artifact::Right::ALL.iter().map(|r| r.name()));
        json_schema!({ "description": "Access right names and groups.", "enum": names })
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub mode: Option<Spanned<NetworkMode>>,
    /// TCP ports that may be connected to (mode `restricted`).
    #[serde(default)]
    #[schemars(with = "Vec<PortSchema>")]
    pub connect_tcp: Vec<Spanned<PortEntry>>,
    /// TCP ports that may be bound (mode `restricted`).
    #[serde(default)]
    #[schemars(with = "Vec<PortSchema>")]
    pub bind_tcp: Vec<Spanned<PortEntry>>,
    /// Allow UDP and raw inet sockets (mode `restricted`).
    pub udp: Option<Spanned<bool>>,
    /// Paths (a socket, or a directory above sockets) the ring may connect to unix sockets
    /// under, in any network mode (v1.1). Without a grant, `socket(AF_UNIX)` is denied;
    /// `socketpair` stays allowed.
    #[serde(default)]
    pub unix_connect: Vec<Spanned<String>>,
    /// Hosts the ring may reach through the egress proxy (mode `restricted`, v1.1): a name
    /// (port 443), `*.` and a name (every subdomain, not the name itself), an address or a
    /// CIDR range, or `{ host, ports }`.
    #[serde(default)]
    pub hosts: Vec<Spanned<HostEntry>>,
    /// Hosts refused even where `hosts` matches (every port unless ports are given).
    #[serde(default)]
    pub deny_hosts: Vec<Spanned<HostEntry>>,
    /// Whether names may resolve to loopback, private, link-local, CGNAT or unique-local
    /// addresses (default `deny`).
    pub private: Option<Spanned<PrivateMode>>,
}

/// A `hosts` or `deny_hosts` entry: a host, or a host with its ports.
#[derive(Debug, Clone, PartialEq)]
pub enum HostEntry {
    Host(String),
    WithPorts(HostWithPorts),
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostWithPorts {
    /// A name, `*.` and a name, an address or a CIDR range.
    pub host: Spanned<String>,
    /// The ports (default: 443 in `hosts`, every port in `deny_hosts`).
    #[serde(default)]
    #[schemars(with = "Vec<PortSchema>")]
    pub ports: Vec<Spanned<PortEntry>>,
}

/// `network.private`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PrivateMode {
    /// Names must resolve to global addresses only (the default).
    Deny,
    /// Names may resolve to loopback, private, link-local, CGNAT and unique-local addresses.
    Allow,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    Blocked,
    Restricted,
    Allowed,
}

impl NetworkMode {
    /// The name as the policy language writes it.
    pub fn name(self) -> &'static str {
        match self {
            NetworkMode::Blocked => "blocked",
            NetworkMode::Restricted => "restricted",
            NetworkMode::Allowed => "allowed",
        }
    }
}

/// A port as written: a number, or text (which is always an error: host names are not a
/// kernel concept).
#[derive(Debug, Clone, PartialEq)]
pub enum PortEntry {
    Number(i128),
    Text(String),
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// May create processes (threads are always allowed).
    pub fork: Option<bool>,
    pub signals: Option<SignalScope>,
    /// May use ptrace and process_vm_readv/writev.
    pub ptrace: Option<bool>,
    /// Linux capabilities a root agent keeps (v1.1); default none: every other one is
    /// dropped before the command runs.
    #[serde(default)]
    #[schemars(with = "Vec<nonoc_runtime::artifact::Capability>")]
    pub capabilities: Vec<Spanned<String>>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SignalScope {
    #[serde(rename = "self")]
    Own,
    Sandbox,
    Any,
}

impl SignalScope {
    /// The name as the policy language writes it.
    pub fn name(self) -> &'static str {
        match self {
            SignalScope::Own => "self",
            SignalScope::Sandbox => "sandbox",
            SignalScope::Any => "any",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Syscalls {
    pub default: Option<SyscallDefault>,
    pub deny_action: Option<DenyAction>,
    #[schemars(with = "Option<ErrnoSchema>")]
    pub errno: Option<Spanned<IntOrName>>,
    /// Syscalls allowed when `default: deny`.
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    #[serde(default)]
    pub deny: Vec<Spanned<SyscallDenyEntry>>,
    #[serde(default)]
    #[schemars(with = "Vec<PresetName>")]
    pub presets: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyscallDefault {
    Allow,
    Deny,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DenyAction {
    Errno,
    KillProcess,
    Log,
    Trap,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum PresetName {
    Hardening,
}

/// A syscall deny entry: a name, or a rule with argument conditions and its own action.
#[derive(Debug, Clone)]
pub enum SyscallDenyEntry {
    Name(String),
    Rule(SyscallRule),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyscallRule {
    pub name: Spanned<String>,
    /// All must hold for the rule to match.
    #[serde(default)]
    pub args: Vec<Spanned<ArgCondition>>,
    pub action: Option<DenyAction>,
    #[schemars(with = "Option<ErrnoSchema>")]
    pub errno: Option<Spanned<IntOrName>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgCondition {
    #[schemars(range(min = 0, max = 5))]
    pub index: Spanned<i64>,
    pub op: ArgOp,
    #[schemars(with = "IntOrNameSchema")]
    pub value: Spanned<IntOrName>,
    #[schemars(with = "Option<IntOrNameSchema>")]
    pub mask: Option<Spanned<IntOrName>>,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    JsonSchema,
    serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ArgOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    MaskedEq,
    /// An extension of v1: `arg & mask != value`.
    MaskedNe,
    AnyBits,
    AllBits,
}

/// An integer (decimal or `0x` hex) or the name of a known constant.
#[derive(Debug, Clone, PartialEq)]
pub enum IntOrName {
    Int(i128),
    Name(String),
}

/// One test of the `tests:` section.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    #[schemars(range(min = 0, max = 255))]
    pub ring: Option<Spanned<i64>>,
    #[schemars(range(min = 0, max = 1000))]
    pub trust_score: Option<Spanned<i64>>,
    pub read: Option<Spanned<String>>,
    pub write: Option<Spanned<String>>,
    pub execute: Option<Spanned<String>>,
    #[schemars(range(min = 1, max = 65535))]
    pub connect_tcp: Option<Spanned<i64>>,
    #[schemars(range(min = 1, max = 65535))]
    pub bind_tcp: Option<Spanned<i64>>,
    /// Open a UDP socket (must be `true`).
    pub udp: Option<Spanned<bool>>,
    /// Create a process (must be `true`).
    pub fork: Option<Spanned<bool>>,
    /// Send a signal to a process in that scope.
    pub signal: Option<Spanned<SignalScope>>,
    #[schemars(with = "Option<TestSyscallSchema>")]
    pub syscall: Option<Spanned<TestSyscall>>,
    /// Accept connections with `listen()` on a socket of this family that the ring did not
    /// bind to a granted port (for TCP: an ephemeral port).
    pub listen: Option<Spanned<ListenFamily>>,
    /// Connect to the unix socket at this path.
    pub unix_connect: Option<Spanned<String>>,
    /// Reach this host (a name or an address) through the egress proxy, at `port` (443
    /// when not given).
    pub host: Option<Spanned<String>>,
    /// The port of a `host` request.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<Spanned<i64>>,
    /// Keep this Linux capability.
    #[schemars(with = "Option<nonoc_runtime::artifact::Capability>")]
    pub capability: Option<Spanned<String>>,
    pub platform: Option<Platform>,
    pub expect: Expect,
}

/// The socket family of a `listen` request.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ListenFamily {
    /// A TCP socket (IPv4 or IPv6).
    Tcp,
    /// A unix stream socket.
    Unix,
}

impl ListenFamily {
    /// The name as the policy language writes it.
    pub fn name(self) -> &'static str {
        match self {
            ListenFamily::Tcp => "tcp",
            ListenFamily::Unix => "unix",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Allow,
    Deny,
}

/// A syscall request in a test: a name, or a name with argument values.
#[derive(Debug, Clone)]
pub struct TestSyscall {
    pub name: String,
    pub args: Vec<Spanned<IntOrName>>,
}

// --- hand-written deserializers for the entries that take two shapes ---

impl<'de> Deserialize<'de> for PortEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PortEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a TCP port number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<PortEntry, E> {
                Ok(PortEntry::Number(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<PortEntry, E> {
                Ok(PortEntry::Number(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<PortEntry, E> {
                Ok(PortEntry::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for IntOrName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a constant name")
            }
            fn visit_i64<E>(self, v: i64) -> Result<IntOrName, E> {
                Ok(IntOrName::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<IntOrName, E> {
                Ok(IntOrName::Int(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<IntOrName, E> {
                Ok(parse_int_text(v).map_or_else(|| IntOrName::Name(v.to_owned()), IntOrName::Int))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Parses quoted integers (`"0x10"`, `"42"`), which YAML hands over as strings.
fn parse_int_text(text: &str) -> Option<i128> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i128::from_str_radix(hex, 16).ok()
    } else if t
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '-')
    {
        t.parse().ok()
    } else {
        None
    }
}

impl<'de> Deserialize<'de> for SyscallDenyEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SyscallDenyEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a syscall name or a rule with `name`")
            }
            fn visit_str<E>(self, v: &str) -> Result<SyscallDenyEntry, E> {
                Ok(SyscallDenyEntry::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SyscallDenyEntry, A::Error> {
                SyscallRule::deserialize(MapAccessDeserializer::new(map))
                    .map(SyscallDenyEntry::Rule)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for HostEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HostEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a host or `{ host, ports }`")
            }
            fn visit_str<E>(self, v: &str) -> Result<HostEntry, E> {
                Ok(HostEntry::Host(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<HostEntry, A::Error> {
                HostWithPorts::deserialize(MapAccessDeserializer::new(map))
                    .map(HostEntry::WithPorts)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for HostEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HostEntry".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let full = generator.subschema_for::<HostWithPorts>();
        json_schema!({
            "description": "a name, `*.` and a name, an address or a CIDR range; or `{ host, ports }`",
            "anyOf": [ { "type": "string", "minLength": 1 }, full ]
        })
    }
}

impl<'de> Deserialize<'de> for TestSyscall {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            name: String,
            #[serde(default)]
            args: Vec<Spanned<IntOrName>>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TestSyscall;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a syscall name or `{ name, args }`")
            }
            fn visit_str<E>(self, v: &str) -> Result<TestSyscall, E> {
                Ok(TestSyscall {
                    name: v.to_owned(),
                    args: Vec::new(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TestSyscall, A::Error> {
                let full = Full::deserialize(MapAccessDeserializer::new(map))?;
                Ok(TestSyscall {
                    name: full.name,
                    args: full.args,
                })
            }
        }
        deserializer.deserialize_any(V)
    }
}

// --- schema-only types: what the JSON Schema says for fields parsed loosely above ---

macro_rules! schema_only {
    ($name:ident, $schema:tt) => {
        struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).trim_end_matches("Schema").into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

schema_only!(ApiVersionSchema, { "const": "nonoc.dev/v1" });
schema_only!(KindSchema, { "const": "RingPolicy" });
schema_only!(PolicyNameSchema, { "type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$" });
schema_only!(PortSchema, { "type": "integer", "minimum": 1, "maximum": 65535 });
schema_only!(ErrnoSchema, {
    "description": "errno number (1..=4095) or name such as EPERM",
    "anyOf": [
        { "type": "integer", "minimum": 1, "maximum": 4095 },
        { "type": "string", "pattern": "^E[A-Z0-9]+$" }
    ]
});
schema_only!(IntOrNameSchema, {
    "description": "integer (decimal or 0x hex) or a known constant name such as AF_UNIX",
    "anyOf": [
        { "type": "integer" },
        { "type": "string", "pattern": "^(0[xX][0-9a-fA-F]+|-?[0-9]+|[A-Z][A-Z0-9_]*)$" }
    ]
});

struct TestSyscallSchema;
impl JsonSchema for TestSyscallSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TestSyscall".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let arg = generator.subschema_for::<IntOrNameSchema>();
        json_schema!({
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name"],
                    "properties": {
                        "name": { "type": "string" },
                        "args": { "type": "array", "items": arg, "maxItems": 6 }
                    }
                }
            ]
        })
    }
}

struct SyscallDenyEntrySchema;
impl JsonSchema for SyscallDenyEntrySchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SyscallDenyEntry".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let rule = generator.subschema_for::<SyscallRule>();
        json_schema!({ "anyOf": [ { "type": "string" }, rule ] })
    }
}

impl JsonSchema for SyscallDenyEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        SyscallDenyEntrySchema::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        SyscallDenyEntrySchema::json_schema(generator)
    }
}

struct VariablesSchema;
impl JsonSchema for VariablesSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Variables".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let value = generator.subschema_for::<Variable>();
        json_schema!({
            "type": "object",
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": value
        })
    }
}

struct RingsSchema;
impl JsonSchema for RingsSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rings".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let ring = generator.subschema_for::<Ring>();
        json_schema!({
            "type": "object",
            "minProperties": 1,
            "propertyNames": { "pattern": "^(0|[1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$" },
            "additionalProperties": ring
        })
    }
}
