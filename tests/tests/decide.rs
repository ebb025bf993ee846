//! Property tests of `nonoc::ir::decide`, the one decision function every backend is tested
//! against.
//!
//! Policies are generated as YAML text, so the whole front end (parse, resolve, check, lower)
//! runs on them. The generator keeps a plain model of each policy (`PolicyM`), and a
//! deliberately naive reference in this file answers every request from that model with
//! straightforward string code, written from POLICY-LANGUAGE.md and not from the compiler:
//! deny wins, then allow, else deny; a directory covers its subtree by whole components; a
//! glob covers its matches and their subtrees, `*` within a component and `**` across; a
//! variable's value is literal text; `extends` merges sections (lists union, scalars
//! override); syscall actions are the strictest of what matches. `decide` must agree with it
//! on every (policy, ring, request) triple, and the properties of the language are asserted on
//! top, each with its own message.

use nonoc::ir::{
    BoundVariables, Decision, Ir, PathTemplate, Platform, Request, Right, SyscallAction, Verdict,
    bind, decide,
};
use nonoc::syntax::SignalScope;
use nonoc_runtime::Bindings;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------------
// The policy model

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plat {
    Linux,
    Macos,
}

impl Plat {
    fn name(self) -> &'static str {
        match self {
            Plat::Linux => "linux",
            Plat::Macos => "macos",
        }
    }

    fn ir(self) -> Platform {
        match self {
            Plat::Linux => Platform::Linux,
            Plat::Macos => Platform::Macos,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Path(String),
    Glob(String),
}

impl Target {
    fn parse(tagged: &str) -> Target {
        match tagged.split_once(':') {
            Some(("g", glob)) => Target::Glob(glob.to_owned()),
            Some(("p", path)) => Target::Path(path.to_owned()),
            _ => unreachable!("tagged target {tagged}"),
        }
    }

    fn text(&self) -> &str {
        match self {
            Target::Path(t) | Target::Glob(t) => t,
        }
    }
}

#[derive(Debug, Clone)]
struct DenyM {
    target: Target,
    /// Access names; `None`: all rights.
    access: Option<Vec<&'static str>>,
    except: Vec<Target>,
    platform: Option<Plat>,
}

#[derive(Debug, Clone)]
struct AllowM {
    path: &'static str,
    access: Vec<&'static str>,
    platform: Option<Plat>,
    /// Written in `filesystem.read|write|execute` rather than `filesystem.rules`.
    shorthand: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Blocked,
    Restricted,
    Allowed,
}

#[derive(Debug, Clone, Default)]
struct NetM {
    mode: Option<Mode>,
    connect: Vec<u16>,
    bind: Vec<u16>,
    udp: Option<bool>,
    /// `unix_connect: [/run]` (v1.1), in any mode.
    unix: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Own,
    Sandbox,
    Any,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Own => "self",
            Scope::Sandbox => "sandbox",
            Scope::Any => "any",
        }
    }

    fn ir(self) -> SignalScope {
        match self {
            Scope::Own => SignalScope::Own,
            Scope::Sandbox => SignalScope::Sandbox,
            Scope::Any => SignalScope::Any,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct ProcM {
    fork: Option<bool>,
    signals: Option<Scope>,
    ptrace: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Errno,
    Kill,
    Log,
    Trap,
}

impl Act {
    fn name(self) -> &'static str {
        match self {
            Act::Errno => "errno",
            Act::Kill => "kill_process",
            Act::Log => "log",
            Act::Trap => "trap",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
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

const OPS: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::Lt,
    Op::Le,
    Op::Gt,
    Op::Ge,
    Op::MaskedEq,
    Op::MaskedNe,
    Op::AnyBits,
    Op::AllBits,
];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::MaskedEq => "masked_eq",
            Op::MaskedNe => "masked_ne",
            Op::AnyBits => "any_bits",
            Op::AllBits => "all_bits",
        }
    }

    fn masked(self) -> bool {
        matches!(self, Op::MaskedEq | Op::MaskedNe)
    }
}

/// An argument value as written: a number or a constant's name (with its value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    Num(i128),
    Name(&'static str, u64),
}

impl Val {
    fn yaml(self) -> String {
        match self {
            Val::Num(n) if n <= 0xffff => n.to_string(),
            Val::Num(n) => format!("'{n:#x}'"),
            Val::Name(name, _) => name.to_owned(),
        }
    }

    /// The value the rule compares with: two's complement, cut to the argument's width.
    fn cut(self, int: bool) -> u64 {
        let n = match self {
            Val::Num(n) => n,
            Val::Name(_, v) => i128::from(v),
        };
        let bits = (n.rem_euclid(1 << 64)) as u64;
        if int { bits & 0xffff_ffff } else { bits }
    }
}

#[derive(Debug, Clone)]
struct CondM {
    index: u8,
    op: Op,
    value: Val,
    mask: Option<Val>,
}

#[derive(Debug, Clone)]
struct SysRuleM {
    name: &'static str,
    args: Vec<CondM>,
    action: Option<Act>,
    errno: Option<u16>,
    /// Write the rule as a bare name (only when it has no args, action or errno).
    bare: bool,
}

#[derive(Debug, Clone, Default)]
struct SysM {
    /// `Some(true)`: `default: deny`.
    default_deny: Option<bool>,
    deny_action: Option<Act>,
    errno: Option<u16>,
    allow: Vec<&'static str>,
    deny: Vec<SysRuleM>,
    hardening: bool,
}

#[derive(Debug, Clone)]
struct RingM {
    level: u8,
    extends: Option<u8>,
    unconfined: bool,
    allows: Vec<AllowM>,
    denies: Vec<DenyM>,
    net: Option<NetM>,
    process: Option<ProcM>,
    sys: Option<SysM>,
}

#[derive(Debug, Clone)]
struct PolicyM {
    /// Variable name and default, in declaration order.
    vars: Vec<(&'static str, &'static str)>,
    global: Vec<DenyM>,
    rings: Vec<RingM>,
}

// ---------------------------------------------------------------------------------------------
// Alphabets

/// Values for `v`: plain paths, the root, and values full of glob characters and backslashes,
/// which must be matched literally.
const V_VALUES: &[&str] = &[
    "/a/b", "/a", "/d", "/", "/a/b c", "/g[1]*", r"/w\x", "/e{x,y}", "/q?", r"/s\*",
];
const W_DEFAULTS: &[&str] = &["${v}/x", "/d/e", "/a/b/c", "${v}"];

const ALLOW_PATHS: &[&str] = &[
    "/a", "/a/b", "/a/b/c", "/a/bc", "/d", "/d/e", "/z", "${v}", "${v}/x", "${w}", "${w}/y",
];

const DENY_PATHS: &[&str] = &[
    "/", "/a", "/a/b", "/a/b/c", "/a/bc", "/d", "/d/e", "/z", "${v}", "${v}/x", "${w}", "${w}/y",
];

/// Deny globs with exceptions that lie inside them (tagged `p:` path or `g:` glob).
const DENY_GLOBS: &[(&str, &[&str])] = &[
    ("/a/*", &["p:/a/b", "g:/a/*/x"]),
    ("/a/*/c", &["g:/a/*/c/x", "p:/a/b/c"]),
    ("/a/**/c", &["p:/a/b/c", "g:/a/**/c/x"]),
    ("/a/**", &["p:/a/b", "g:/a/**/.env.example"]),
    ("/**/.env", &["p:/d/.env", "g:/a/**/.env"]),
    ("/**/.env*", &["g:/**/.env.example", "p:/a/b/.env.local"]),
    ("/a/b*", &["p:/a/bc", "g:/a/b*/x"]),
    ("/*/b", &["p:/a/b", "g:/*/b/c"]),
    ("/a/?c", &["p:/a/bc"]),
    ("/a/[bc]", &["p:/a/b", "g:/a/[bc]/c"]),
    ("/a/{b,bc}/c", &["p:/a/bc/c"]),
    ("${v}/**", &["g:${v}/**/.env.example", "p:${v}/x"]),
    ("${v}/*/y", &["p:${v}/x/y"]),
    ("${w}/**/.env", &["g:${w}/y/**/.env"]),
    ("/d/**/e", &["p:/d/e"]),
    ("/*", &["p:/a", "g:/*/b"]),
];

const ACCESS_NAMES: &[&str] = &[
    "read",
    "write",
    "execute",
    "read_file",
    "read_dir",
    "write_file",
    "truncate",
    "make_reg",
    "make_dir",
    "make_sym",
    "make_sock",
    "make_fifo",
    "make_char",
    "make_block",
    "remove_file",
    "remove_dir",
    "refer",
    "ioctl_dev",
];

const PORTS: &[u16] = &[22, 80, 443, 5432, 8080, 65535];

const RULE_SYSCALLS: &[&str] = &[
    "socket",
    "kill",
    "ioctl",
    "clone",
    "unshare",
    "personality",
    "prctl",
    "getpid",
    "mount",
    "ptrace",
    "setns",
    "clone3",
];

const ALLOW_SYSCALLS: &[&str] = &[
    "read", "write", "getpid", "socket", "clone", "kill", "ioctl", "unshare", "clone3", "ptrace",
];

const REQUEST_SYSCALLS: &[&str] = &[
    "socket",
    "kill",
    "ioctl",
    "clone",
    "unshare",
    "personality",
    "prctl",
    "getpid",
    "mount",
    "ptrace",
    "setns",
    "clone3",
    "fork",
    "vfork",
    "process_vm_readv",
    "process_vm_writev",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "read",
    "write",
    "listen",
    "prlimit64",
    "setpriority",
    "ioprio_set",
    "sched_setaffinity",
    "sched_setscheduler",
    "process_madvise",
];

const ERRNOS: &[(u16, &str)] = &[(1, "EPERM"), (13, "EACCES"), (38, "ENOSYS"), (95, "")];

const INT_VALUES: &[Val] = &[
    Val::Num(0),
    Val::Num(1),
    Val::Num(2),
    Val::Num(10),
    Val::Num(16),
    Val::Num(17),
    Val::Num(-1),
    Val::Num(0xffff_ffff),
    Val::Num(0x1_0000),
    Val::Num(0x801),
    Val::Num(0xf),
    Val::Name("AF_PACKET", 17),
    Val::Name("AF_INET", 2),
    Val::Name("SOCK_DGRAM", 2),
    Val::Name("SOCK_STREAM", 1),
    Val::Name("CLONE_THREAD", 0x1_0000),
];

const LONG_VALUES: &[Val] = &[
    Val::Num(0),
    Val::Num(1),
    Val::Num(17),
    Val::Num(-2),
    Val::Num(0xf),
    Val::Num(0x1_0000),
    Val::Num(0xffff_ffff),
    Val::Num(0x1_0000_0011),
    Val::Num(u64::MAX as i128),
    Val::Num(0x7E02_0080),
    Val::Name("CLONE_NEWUSER", 0x1000_0000),
    Val::Name("CLONE_THREAD", 0x1_0000),
];

const REQUEST_ARGS: &[u64] = &[
    0,
    1,
    2,
    3,
    6,
    9,
    10,
    15,
    16,
    17,
    132,
    0x801,
    0x802,
    0x1_0000,
    0x1_0011,
    0x1_0f00,
    0x1000_0000,
    0x1000_0011,
    0x7E02_0080,
    0xffff_ffff,
    0x1_0000_0001,
    0x1_0000_0002,
    0x1_0000_0011,
    0x8000_0000_0000_0011,
    u64::MAX,
    0x5412,
    0x541C,
    0x1_0000_5412,
    0xFFFF_FFFF_0000_541C,
];

/// Whether argument `index` of a syscall is an `int` (the kernel reads the low 32 bits).
/// Written from the kernel's `SYSCALL_DEFINE`s, independently of the compiler's tables.
fn is_int(name: &str, index: usize) -> bool {
    let kinds: &[bool] = match name {
        "socket" => &[true, true, true],
        "kill" | "setns" => &[true, true],
        "ioctl" => &[true, true, false],
        "personality" => &[true],
        "prctl" => &[true, false, false, false, false],
        "bpf" => &[true, false, true],
        "io_uring_setup" => &[true, false],
        "io_uring_enter" => &[true, true, true, true, false, false],
        "io_uring_register" => &[true, true, false, true],
        "process_vm_readv" | "process_vm_writev" => &[true, false, false, false, false, false],
        "read" | "write" => &[true, false, false],
        "listen" => &[true, true],
        "prlimit64" => &[true, true, false, false],
        "setpriority" | "ioprio_set" => &[true, true, true],
        "sched_setaffinity" => &[true, true, false],
        "sched_setscheduler" => &[true, true, false],
        "process_madvise" => &[true, false, false, true, true],
        // The kernel reads only `lower_32_bits(clone_flags)`.
        "clone" => &[true, false, false, false, false],
        // clone3, unshare, mount, ptrace: `unsigned long` and pointers
        _ => &[],
    };
    kinds.get(index).copied().unwrap_or(false)
}

fn access_rights(name: &str) -> Vec<Right> {
    use Right::*;
    match name {
        "read" => vec![ReadFile, ReadDir],
        "write" => vec![
            WriteFile, Truncate, MakeReg, MakeDir, MakeSym, MakeSock, MakeFifo, RemoveFile,
            RemoveDir, Refer,
        ],
        "execute" => vec![Execute],
        "read_file" => vec![ReadFile],
        "read_dir" => vec![ReadDir],
        "write_file" => vec![WriteFile],
        "truncate" => vec![Truncate],
        "make_reg" => vec![MakeReg],
        "make_dir" => vec![MakeDir],
        "make_sym" => vec![MakeSym],
        "make_sock" => vec![MakeSock],
        "make_fifo" => vec![MakeFifo],
        "make_char" => vec![MakeChar],
        "make_block" => vec![MakeBlock],
        "remove_file" => vec![RemoveFile],
        "remove_dir" => vec![RemoveDir],
        "refer" => vec![Refer],
        "ioctl_dev" => vec![IoctlDev],
        other => unreachable!("access name {other}"),
    }
}

fn grants(names: &[&str], access: Right) -> bool {
    names.iter().any(|n| access_rights(n).contains(&access))
}

// ---------------------------------------------------------------------------------------------
// Writing a model as YAML

fn q(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

fn deny_yaml(d: &DenyM) -> String {
    let mut s = match &d.target {
        Target::Path(p) => format!("{{ path: {}", q(p)),
        Target::Glob(g) => format!("{{ glob: {}", q(g)),
    };
    if let Some(access) = &d.access {
        s += &format!(", access: {}", list(access.iter().map(|a| a.to_string())));
    }
    if !d.except.is_empty() {
        s += &format!(", except: {}", list(d.except.iter().map(|e| q(e.text()))));
    }
    if let Some(p) = d.platform {
        s += &format!(", platform: {}", p.name());
    }
    s + " }"
}

/// An errno by name where it has one, except EPERM, which is written as a number.
fn errno_yaml(errno: u16) -> String {
    match ERRNOS.iter().find(|(n, _)| *n == errno) {
        Some((_, name)) if !name.is_empty() && errno != 1 => (*name).to_owned(),
        _ => errno.to_string(),
    }
}

fn sys_rule_yaml(r: &SysRuleM) -> String {
    if r.bare && r.args.is_empty() && r.action.is_none() && r.errno.is_none() {
        return r.name.to_owned();
    }
    let mut s = format!("{{ name: {}", r.name);
    if !r.args.is_empty() {
        let args = r.args.iter().map(|c| {
            let mut a = format!(
                "{{ index: {}, op: {}, value: {}",
                c.index,
                c.op.name(),
                c.value.yaml()
            );
            if let Some(m) = c.mask {
                a += &format!(", mask: {}", m.yaml());
            }
            a + " }"
        });
        s += &format!(", args: {}", list(args));
    }
    if let Some(a) = r.action {
        s += &format!(", action: {}", a.name());
    }
    if let Some(e) = r.errno {
        s += &format!(", errno: {}", errno_yaml(e));
    }
    s + " }"
}

impl PolicyM {
    fn yaml(&self) -> String {
        let mut y = String::from(
            "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: generated\n",
        );
        if !self.vars.is_empty() {
            y += "variables:\n";
        }
        for (name, default) in &self.vars {
            y += &format!("  {name}:\n    default: {}\n", q(default));
        }
        if !self.global.is_empty() {
            y += "deny:\n";
            for d in &self.global {
                y += &format!("  - {}\n", deny_yaml(d));
            }
        }
        y += "rings:\n";
        for r in &self.rings {
            y += &format!("  {}:\n", r.level);
            let mut body = String::new();
            if r.unconfined {
                body += "    unconfined: true\n";
            }
            if let Some(p) = r.extends {
                body += &format!("    extends: {p}\n");
            }
            let short = |group: &str| -> Vec<String> {
                r.allows
                    .iter()
                    .filter(|a| a.shorthand && a.access == [group])
                    .map(|a| q(a.path))
                    .collect()
            };
            let rules: Vec<&AllowM> = r.allows.iter().filter(|a| !a.shorthand).collect();
            if !r.allows.is_empty() {
                body += "    filesystem:\n";
                for group in ["read", "write", "execute"] {
                    let paths = short(group);
                    if !paths.is_empty() {
                        body += &format!("      {group}: {}\n", list(paths));
                    }
                }
                if !rules.is_empty() {
                    body += "      rules:\n";
                    for a in rules {
                        let mut rule = format!(
                            "        - {{ path: {}, access: {}",
                            q(a.path),
                            list(a.access.iter().map(|s| s.to_string()))
                        );
                        if let Some(p) = a.platform {
                            rule += &format!(", platform: {}", p.name());
                        }
                        body += &(rule + " }\n");
                    }
                }
            }
            if !r.denies.is_empty() {
                body += "    deny:\n";
                for d in &r.denies {
                    body += &format!("      - {}\n", deny_yaml(d));
                }
            }
            if let Some(n) = &r.net {
                let mut parts = Vec::new();
                if let Some(m) = n.mode {
                    let m = match m {
                        Mode::Blocked => "blocked",
                        Mode::Restricted => "restricted",
                        Mode::Allowed => "allowed",
                    };
                    parts.push(format!("mode: {m}"));
                }
                if !n.connect.is_empty() {
                    parts.push(format!(
                        "connect_tcp: {}",
                        list(n.connect.iter().map(u16::to_string))
                    ));
                }
                if !n.bind.is_empty() {
                    parts.push(format!(
                        "bind_tcp: {}",
                        list(n.bind.iter().map(u16::to_string))
                    ));
                }
                if let Some(u) = n.udp {
                    parts.push(format!("udp: {u}"));
                }
                if n.unix {
                    parts.push("unix_connect: [/run]".to_owned());
                }
                body += &format!("    network: {{ {} }}\n", parts.join(", "));
            }
            if let Some(p) = &r.process {
                let mut parts = Vec::new();
                if let Some(f) = p.fork {
                    parts.push(format!("fork: {f}"));
                }
                if let Some(s) = p.signals {
                    parts.push(format!("signals: {}", s.name()));
                }
                if let Some(t) = p.ptrace {
                    parts.push(format!("ptrace: {t}"));
                }
                body += &format!("    process: {{ {} }}\n", parts.join(", "));
            }
            if let Some(s) = &r.sys {
                let mut body_sys = String::new();
                if let Some(d) = s.default_deny {
                    body_sys += &format!("      default: {}\n", if d { "deny" } else { "allow" });
                }
                if let Some(a) = s.deny_action {
                    body_sys += &format!("      deny_action: {}\n", a.name());
                }
                if let Some(e) = s.errno {
                    body_sys += &format!("      errno: {}\n", errno_yaml(e));
                }
                if !s.allow.is_empty() {
                    body_sys += &format!(
                        "      allow: {}\n",
                        list(s.allow.iter().map(|a| a.to_string()))
                    );
                }
                if !s.deny.is_empty() {
                    body_sys += "      deny:\n";
                    for rule in &s.deny {
                        body_sys += &format!("        - {}\n", sys_rule_yaml(rule));
                    }
                }
                if s.hardening {
                    body_sys += "      presets: [hardening]\n";
                }
                if !body_sys.is_empty() {
                    body += "    syscalls:\n";
                    body += &body_sys;
                }
            }
            if body.is_empty() {
                y.truncate(y.len() - 1);
                y += " {}\n";
            } else {
                y += &body;
            }
        }
        y
    }

    fn ring(&self, level: u8) -> &RingM {
        self.rings
            .iter()
            .find(|r| r.level == level)
            .expect("a generated ring")
    }

    /// The ring and the rings it extends, the most distant ancestor first.
    fn lineage(&self, level: u8) -> Vec<&RingM> {
        let mut chain = vec![self.ring(level)];
        while let Some(parent) = chain.last().and_then(|r| r.extends) {
            chain.push(self.ring(parent));
        }
        chain.reverse();
        chain
    }

    /// Every deny rule of a ring (global first) and every allow rule.
    fn fs_rules(&self, level: u8) -> (Vec<&DenyM>, Vec<&AllowM>) {
        let lineage = self.lineage(level);
        let denies = self
            .global
            .iter()
            .chain(lineage.iter().flat_map(|r| &r.denies))
            .collect();
        let allows = lineage.iter().flat_map(|r| &r.allows).collect();
        (denies, allows)
    }

    fn merged(&self, level: u8) -> Merged {
        let mut m = Merged {
            mode: Mode::Blocked,
            connect: Vec::new(),
            bind: Vec::new(),
            udp: false,
            udp_set: false,
            unix: false,
            fork: false,
            signals: Scope::Own,
            ptrace: false,
            default_deny: false,
            deny_action: Act::Errno,
            errno: 1,
            allow: Vec::new(),
            rules: Vec::new(),
            hardening: false,
        };
        for r in self.lineage(level) {
            if let Some(n) = &r.net {
                m.mode = n.mode.unwrap_or(m.mode);
                m.connect.extend(&n.connect);
                m.bind.extend(&n.bind);
                if let Some(u) = n.udp {
                    m.udp = u;
                    m.udp_set = true;
                }
                m.unix |= n.unix;
            }
            if let Some(p) = &r.process {
                m.fork = p.fork.unwrap_or(m.fork);
                m.signals = p.signals.unwrap_or(m.signals);
                m.ptrace = p.ptrace.unwrap_or(m.ptrace);
            }
            if let Some(s) = &r.sys {
                m.default_deny = s.default_deny.unwrap_or(m.default_deny);
                m.deny_action = s.deny_action.unwrap_or(m.deny_action);
                m.errno = s.errno.unwrap_or(m.errno);
                m.allow.extend(&s.allow);
                m.rules.extend(s.deny.iter().cloned());
                m.hardening |= s.hardening;
            }
        }
        m
    }
}

/// A ring's settings after `extends`.
#[derive(Debug)]
struct Merged {
    mode: Mode,
    connect: Vec<u16>,
    bind: Vec<u16>,
    udp: bool,
    udp_set: bool,
    unix: bool,
    fork: bool,
    signals: Scope,
    ptrace: bool,
    default_deny: bool,
    deny_action: Act,
    errno: u16,
    allow: Vec<&'static str>,
    rules: Vec<SysRuleM>,
    hardening: bool,
}

// ---------------------------------------------------------------------------------------------
// Generators

fn plat() -> impl Strategy<Value = Plat> {
    prop_oneof![Just(Plat::Linux), Just(Plat::Macos)]
}

fn access_list() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(select(ACCESS_NAMES), 1..4).prop_map(|mut v| {
        v.sort_unstable();
        v.dedup();
        v
    })
}

fn deny_rule() -> impl Strategy<Value = DenyM> {
    let target = prop_oneof![
        select(DENY_PATHS).prop_map(|p| Target::Path(p.to_owned())),
        select(DENY_GLOBS).prop_map(|(g, _)| Target::Glob(g.to_owned())),
    ];
    (
        target,
        option::weighted(0.5, access_list()),
        option::weighted(0.3, any::<Index>()),
        option::weighted(0.15, plat()),
    )
        .prop_map(|(target, access, except, platform)| {
            let candidates: Vec<Target> = match &target {
                Target::Glob(g) => DENY_GLOBS
                    .iter()
                    .find(|(glob, _)| glob == g)
                    .map(|(_, e)| e.iter().map(|t| Target::parse(t)).collect())
                    .unwrap_or_default(),
                Target::Path(p) => {
                    let base = if p == "/" { "" } else { p.as_str() };
                    vec![
                        Target::Path(format!("{base}/x")),
                        Target::Glob(format!("{base}/**/.env.example")),
                    ]
                }
            };
            let except = except
                .filter(|_| !candidates.is_empty())
                .map(|i| vec![i.get(&candidates).clone()])
                .unwrap_or_default();
            DenyM {
                target,
                access,
                except,
                platform,
            }
        })
}

fn allow_rule() -> impl Strategy<Value = AllowM> {
    let path = prop_oneof![8 => select(ALLOW_PATHS), 1 => Just("/")];
    let form = prop_oneof![
        select(&["read", "write", "execute"][..]).prop_map(|g| (vec![g], None, true)),
        (access_list(), option::weighted(0.25, plat())).prop_map(|(a, p)| (a, p, false)),
    ];
    (path, form).prop_map(|(path, (access, platform, shorthand))| AllowM {
        path,
        access,
        platform,
        shorthand,
    })
}

fn network() -> impl Strategy<Value = NetM> {
    (
        option::weighted(
            0.8,
            prop_oneof![
                Just(Mode::Blocked),
                Just(Mode::Restricted),
                Just(Mode::Allowed)
            ],
        ),
        proptest::collection::vec(select(PORTS), 0..3),
        proptest::collection::vec(select(PORTS), 0..2),
        option::weighted(0.3, any::<bool>()),
        any::<bool>(),
    )
        .prop_map(|(mode, connect, bind, udp, unix)| {
            if mode == Some(Mode::Blocked) {
                NetM {
                    mode,
                    unix,
                    ..NetM::default()
                }
            } else {
                NetM {
                    mode,
                    connect,
                    bind,
                    udp,
                    unix,
                }
            }
        })
}

fn process() -> impl Strategy<Value = ProcM> {
    let scope = prop_oneof![Just(Scope::Own), Just(Scope::Sandbox), Just(Scope::Any)];
    (
        option::of(any::<bool>()),
        option::of(scope),
        option::of(any::<bool>()),
    )
        .prop_map(|(fork, signals, ptrace)| ProcM {
            fork,
            signals,
            ptrace,
        })
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        Just(Act::Errno),
        Just(Act::Kill),
        Just(Act::Log),
        Just(Act::Trap)
    ]
}

fn errno() -> impl Strategy<Value = u16> {
    select(ERRNOS).prop_map(|(n, _)| n)
}

fn condition(name: &'static str) -> impl Strategy<Value = CondM> {
    (0u8..3).prop_flat_map(move |index| {
        let values = if is_int(name, usize::from(index)) {
            INT_VALUES
        } else {
            LONG_VALUES
        };
        (select(OPS), select(values), select(values)).prop_map(move |(op, value, mask)| CondM {
            index,
            op,
            value,
            mask: op.masked().then_some(mask),
        })
    })
}

fn syscall_rule() -> impl Strategy<Value = SysRuleM> {
    select(RULE_SYSCALLS).prop_flat_map(|name| {
        (
            proptest::collection::vec(condition(name), 0..3),
            option::weighted(0.3, act()),
            option::weighted(0.25, errno()),
            any::<bool>(),
        )
            .prop_map(move |(args, action, errno, bare)| SysRuleM {
                name,
                args,
                action,
                // `errno` beside another action is an error (NC0610), not a policy.
                errno: if matches!(action, None | Some(Act::Errno)) {
                    errno
                } else {
                    None
                },
                bare,
            })
    })
}

fn syscalls(max_rules: usize) -> impl Strategy<Value = SysM> {
    (
        option::weighted(0.35, any::<bool>()),
        option::weighted(0.3, act()),
        option::weighted(0.3, errno()),
        proptest::collection::vec(select(ALLOW_SYSCALLS), 0..5),
        proptest::collection::vec(syscall_rule(), 0..max_rules),
        any::<bool>(),
    )
        .prop_map(
            |(default_deny, deny_action, errno, mut allow, deny, hardening)| {
                allow.sort_unstable();
                allow.dedup();
                if default_deny != Some(true) {
                    allow.clear(); // an allow list with `default: allow` is a warning
                }
                SysM {
                    default_deny,
                    deny_action,
                    errno,
                    allow,
                    deny,
                    hardening,
                }
            },
        )
}

fn ring_body() -> impl Strategy<Value = RingM> {
    (
        prop::bool::weighted(0.1),
        proptest::collection::vec(allow_rule(), 1..7),
        proptest::collection::vec(deny_rule(), 0..3),
        option::weighted(0.6, network()),
        option::weighted(0.6, process()),
        option::weighted(0.5, syscalls(4)),
    )
        .prop_map(|(unconfined, allows, denies, net, process, sys)| RingM {
            level: 0,
            extends: None,
            unconfined,
            allows,
            denies,
            net,
            process,
            sys,
        })
}

fn policy() -> impl Strategy<Value = PolicyM> {
    (1usize..=4)
        .prop_flat_map(|n| {
            (
                select(V_VALUES),
                select(W_DEFAULTS),
                proptest::collection::vec(deny_rule(), 0..3),
                proptest::collection::vec(ring_body(), n),
                subsequence((0u8..8).collect::<Vec<_>>(), n).prop_shuffle(),
                proptest::collection::vec(option::weighted(0.6, any::<Index>()), n),
            )
        })
        .prop_map(|(v, w, global, rings, levels, parents)| {
            assemble(v, w, global, rings, &levels, &parents)
        })
}

/// Puts generated parts together into a valid policy: levels, an acyclic `extends` (a ring
/// extends one generated before it), unconfined rings without rules and never extended, and
/// no ports under a merged `mode: blocked`.
fn assemble(
    v: &'static str,
    w: &'static str,
    global: Vec<DenyM>,
    mut rings: Vec<RingM>,
    levels: &[u8],
    parents: &[Option<Index>],
) -> PolicyM {
    for (i, ring) in rings.iter_mut().enumerate() {
        ring.level = levels[i];
        if ring.unconfined {
            ring.allows.clear();
            ring.denies.clear();
            ring.net = None;
            ring.process = None;
            ring.sys = None;
        }
    }
    for i in 1..rings.len() {
        if let Some(index) = &parents[i] {
            let j = index.index(i);
            if !rings[i].unconfined && !rings[j].unconfined {
                rings[i].extends = Some(rings[j].level);
            }
        }
    }
    let mut policy = PolicyM {
        vars: vec![("v", v), ("w", w)],
        global,
        rings,
    };
    for i in 0..policy.rings.len() {
        fix_ports(&mut policy, i);
    }
    policy
}

/// Ports and `udp` take effect only under `mode: restricted`: a ring's own list under a
/// merged `allowed` is dropped, and a merged `blocked` with ports becomes `restricted`.
fn fix_ports(policy: &mut PolicyM, i: usize) {
    let level = policy.rings[i].level;
    if policy.merged(level).mode == Mode::Allowed
        && let Some(net) = &mut policy.rings[i].net
    {
        net.connect.clear();
        net.bind.clear();
        net.udp = None;
    }
    let m = policy.merged(level);
    let has_ports = !m.connect.is_empty() || !m.bind.is_empty() || m.udp_set;
    if m.mode == Mode::Blocked && has_ports {
        policy.rings[i].net.get_or_insert_with(NetM::default).mode = Some(Mode::Restricted);
    }
}

/// A request path: a template (may use `${v}`/`${w}`), or a variable's bound value spelled out
/// literally plus a suffix.
#[derive(Debug, Clone)]
enum PathSpec {
    Template(String),
    Literal(&'static str, &'static str),
}

#[derive(Debug, Clone)]
enum ReqM {
    Path(PathSpec, Right, Plat),
    Connect(u16),
    Bind(u16),
    Udp,
    Fork,
    Ptrace,
    Signal(Scope),
    Syscall(&'static str, Vec<u64>),
}

const COMPONENTS: &[&str] = &[
    "a",
    "b",
    "c",
    "bc",
    "d",
    "e",
    "x",
    "y",
    "z",
    "s",
    ".env",
    ".env.example",
    ".env.local",
];

const TEMPLATE_REQUESTS: &[&str] = &[
    "/",
    "/a",
    "/a/b",
    "/a/b/c",
    "/a/bc",
    "/a/bcd",
    "/ab",
    "/a/x/y/c",
    "/a/b/.env",
    "/a/b/.env.example",
    "/d/e",
    "/d/x/e/f",
    "${v}",
    "${v}/x",
    "${v}/x/y",
    "${v}/.env",
    "${v}/s/.env.example",
    "${w}",
    "${w}/y/.env",
    "${w}/y/z",
];

const LITERAL_SUFFIXES: &[&str] = &["", "/x", "/x/y", "/.env", "/x/.env.example", "/y/.env"];

fn path_spec() -> impl Strategy<Value = PathSpec> {
    prop_oneof![
        3 => select(TEMPLATE_REQUESTS).prop_map(|t| PathSpec::Template(t.to_owned())),
        4 => proptest::collection::vec(select(COMPONENTS), 0..5)
            .prop_map(|c| PathSpec::Template(format!("/{}", c.join("/")))),
        2 => (select(&["v", "w"][..]), select(LITERAL_SUFFIXES))
            .prop_map(|(var, suffix)| PathSpec::Literal(var, suffix)),
    ]
}

fn access() -> impl Strategy<Value = Right> {
    select(&Right::ALL[..])
}

fn syscall_args() -> impl Strategy<Value = Vec<u64>> {
    proptest::collection::vec(
        prop_oneof![9 => select(REQUEST_ARGS), 1 => any::<u64>()],
        0..4,
    )
}

fn request() -> impl Strategy<Value = ReqM> {
    let scope = prop_oneof![Just(Scope::Own), Just(Scope::Sandbox), Just(Scope::Any)];
    prop_oneof![
        12 => (path_spec(), access(), prop_oneof![5 => Just(Plat::Linux), 1 => Just(Plat::Macos)])
            .prop_map(|(p, a, pl)| ReqM::Path(p, a, pl)),
        1 => select(PORTS).prop_map(ReqM::Connect),
        1 => select(PORTS).prop_map(ReqM::Bind),
        1 => Just(ReqM::Udp),
        1 => Just(ReqM::Fork),
        1 => Just(ReqM::Ptrace),
        1 => scope.prop_map(ReqM::Signal),
        4 => (select(REQUEST_SYSCALLS), syscall_args()).prop_map(|(n, a)| ReqM::Syscall(n, a)),
    ]
}

// ---------------------------------------------------------------------------------------------
// The naive reference

/// `${name}rest` with the value put in; the root value does not double the `/`. Returns the
/// literal value part and the rest separately (the rest of a glob keeps its wildcards).
fn expand_parts(template: &str, b: &BoundVariables) -> Option<(String, String)> {
    let Some(after) = template.strip_prefix("${") else {
        return Some((String::new(), template.to_owned()));
    };
    let end = after.find('}')?;
    let value = b.get(&after[..end])?;
    let rest = &after[end + 1..];
    let value = if value == "/" && !rest.is_empty() {
        ""
    } else {
        value
    };
    Some((value.to_owned(), rest.to_owned()))
}

fn expand_path(template: &str, b: &BoundVariables) -> Option<String> {
    expand_parts(template, b).map(|(v, rest)| v + &rest)
}

fn template_variable(template: &str) -> Option<&str> {
    let after = template.strip_prefix("${")?;
    after.find('}').map(|end| &after[..end])
}

/// The path and each directory above it, up to `/`.
fn naive_ancestors(path: &str) -> Vec<String> {
    if path == "/" {
        return vec!["/".to_owned()];
    }
    let parts: Vec<&str> = path[1..].split('/').collect();
    (0..=parts.len())
        .rev()
        .map(|k| format!("/{}", parts[..k].join("/")))
        .collect()
}

fn under(path: &str, root: &str) -> bool {
    root == "/" || path == root || path.starts_with(&format!("{root}/"))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters other than `/`.
    Star,
    /// `?`: one character other than `/`.
    One,
    /// `[...]`: one of these characters.
    Class(Vec<char>),
    /// `/**/`: `/`, or `/` + anything + `/`.
    AnyDirs,
    /// a final `/**`: `/` + anything.
    Rest,
}

/// Expands one level of `{a,b}` alternation.
fn alternatives(pattern: &str) -> Vec<String> {
    match (pattern.find('{'), pattern.find('}')) {
        (Some(open), Some(close)) if open < close => pattern[open + 1..close]
            .split(',')
            .flat_map(|alt| {
                alternatives(&format!(
                    "{}{alt}{}",
                    &pattern[..open],
                    &pattern[close + 1..]
                ))
            })
            .collect(),
        _ => vec![pattern.to_owned()],
    }
}

fn tokens(literal: &str, pattern: &str) -> Vec<Tok> {
    let mut out: Vec<Tok> = literal.chars().map(Tok::Lit).collect();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') && chars.get(i + 2) == Some(&'*') {
            match chars.get(i + 3) {
                Some('/') => {
                    out.push(Tok::AnyDirs);
                    i += 4;
                    continue;
                }
                None => {
                    out.push(Tok::Rest);
                    i += 3;
                    continue;
                }
                _ => {}
            }
        }
        match chars[i] {
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::One),
            '[' => {
                let close = i + 1 + chars[i + 1..].iter().position(|c| *c == ']').unwrap();
                out.push(Tok::Class(chars[i + 1..close].to_vec()));
                i = close;
            }
            c => out.push(Tok::Lit(c)),
        }
        i += 1;
    }
    out
}

fn tokens_match(toks: &[Tok], s: &[char]) -> bool {
    let Some((first, rest)) = toks.split_first() else {
        return s.is_empty();
    };
    match first {
        Tok::Lit(c) => s.first() == Some(c) && tokens_match(rest, &s[1..]),
        Tok::One => s.first().is_some_and(|c| *c != '/') && tokens_match(rest, &s[1..]),
        Tok::Class(set) => {
            s.first().is_some_and(|c| *c != '/' && set.contains(c)) && tokens_match(rest, &s[1..])
        }
        Tok::Star => {
            for k in 0..=s.len() {
                if tokens_match(rest, &s[k..]) {
                    return true;
                }
                if k < s.len() && s[k] == '/' {
                    return false;
                }
            }
            false
        }
        Tok::AnyDirs => {
            s.first() == Some(&'/')
                && (0..s.len()).any(|j| s[j] == '/' && tokens_match(rest, &s[j + 1..]))
        }
        Tok::Rest => s.first() == Some(&'/') && rest.is_empty(),
    }
}

/// Whether a glob (its variable's value taken literally) matches one path.
fn glob_matches(template: &str, path: &str, b: &BoundVariables) -> bool {
    let Some((literal, pattern)) = expand_parts(template, b) else {
        return false;
    };
    let s: Vec<char> = path.chars().collect();
    alternatives(&pattern)
        .iter()
        .any(|alt| tokens_match(&tokens(&literal, alt), &s))
}

/// Whether a rule target covers a path: a directory its subtree, a glob its matches and their
/// subtrees.
fn target_covers(target: &Target, path: &str, b: &BoundVariables) -> bool {
    match target {
        Target::Path(t) => expand_path(t, b).is_some_and(|root| under(path, &root)),
        Target::Glob(g) => naive_ancestors(path).iter().any(|a| glob_matches(g, a, b)),
    }
}

fn deny_matches(d: &DenyM, path: &str, access: Right, platform: Plat, b: &BoundVariables) -> bool {
    d.access.as_ref().is_none_or(|a| grants(a, access))
        && d.platform.is_none_or(|p| p == platform)
        && target_covers(&d.target, path, b)
        && !d.except.iter().any(|e| target_covers(e, path, b))
}

fn allow_matches(
    a: &AllowM,
    path: &str,
    access: Right,
    platform: Plat,
    b: &BoundVariables,
) -> bool {
    grants(&a.access, access)
        && a.platform.is_none_or(|p| p == platform)
        && expand_path(a.path, b).is_some_and(|root| under(path, &root))
}

/// What the reference finds for a path request.
#[derive(Debug)]
struct PathFacts {
    /// Some rule uses a variable the bindings leave unbound, or the request does.
    unbound: bool,
    denied: bool,
    allowed: bool,
}

fn path_facts(
    p: &PolicyM,
    level: u8,
    path: &str,
    access: Right,
    platform: Plat,
    b: &BoundVariables,
) -> PathFacts {
    let (denies, allows) = p.fs_rules(level);
    let uses_unbound = denies
        .iter()
        .flat_map(|d| std::iter::once(&d.target).chain(&d.except))
        .map(Target::text)
        .chain(allows.iter().map(|a| a.path))
        .filter_map(template_variable)
        .any(|v| b.get(v).is_none());
    let Some(path) = expand_path(path, b).filter(|_| !uses_unbound) else {
        return PathFacts {
            unbound: true,
            denied: false,
            allowed: false,
        };
    };
    PathFacts {
        unbound: false,
        denied: denies
            .iter()
            .any(|d| deny_matches(d, &path, access, platform, b)),
        allowed: allows
            .iter()
            .any(|a| allow_matches(a, &path, access, platform, b)),
    }
}

fn severity(a: SyscallAction) -> u8 {
    match a {
        SyscallAction::Allow => 0,
        SyscallAction::Log => 1,
        SyscallAction::Errno(_) => 2,
        SyscallAction::Trap => 3,
        SyscallAction::KillProcess => 4,
    }
}

fn ring_action(m: &Merged) -> SyscallAction {
    action(m.deny_action, m.errno)
}

fn action(a: Act, errno: u16) -> SyscallAction {
    match a {
        Act::Errno => SyscallAction::Errno(errno),
        Act::Kill => SyscallAction::KillProcess,
        Act::Log => SyscallAction::Log,
        Act::Trap => SyscallAction::Trap,
    }
}

fn holds(c: &CondM, name: &str, args: &[u64]) -> bool {
    let i = usize::from(c.index);
    let int = is_int(name, i);
    let raw = args.get(i).copied().unwrap_or(0);
    let arg = if int { raw & 0xffff_ffff } else { raw };
    let v = c.value.cut(int);
    let mask = c.mask.map(|m| m.cut(int));
    match c.op {
        Op::Eq => arg == v,
        Op::Ne => arg != v,
        Op::Lt => arg < v,
        Op::Le => arg <= v,
        Op::Gt => arg > v,
        Op::Ge => arg >= v,
        Op::MaskedEq => arg & mask.unwrap() == v,
        Op::MaskedNe => arg & mask.unwrap() != v,
        Op::AnyBits => arg & v != 0,
        Op::AllBits => arg & v == v,
    }
}

const NAMESPACE_FLAGS: u64 = 0x7E02_0080;
/// The hardening preset's syscalls denied outright (no argument check, the ring's action).
/// Which syscalls the preset names is data of the language, read from its one definition; the
/// rules with argument checks or an action of their own are modelled in `matching_actions`.
static HARDENING_PLAIN: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    nonoc::ir::presets::preset("hardening")
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.args.is_empty() && r.action.is_none())
        .map(|r| r.name)
        .collect()
});

/// The actions of every deny that matches a call, in the language's terms: the ring's own
/// rules, the hardening preset, and what network and process settings imply.
fn matching_actions(m: &Merged, name: &str, args: &[u64]) -> Vec<SyscallAction> {
    let ring = ring_action(m);
    // What network and process settings imply is enforced even in an audit-only ring.
    let enforced = match ring {
        SyscallAction::Log => SyscallAction::Errno(m.errno),
        other => other,
    };
    let low = |i: usize| args.get(i).copied().unwrap_or(0) & 0xffff_ffff;
    let full = |i: usize| args.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    for r in m.rules.iter().filter(|r| r.name == name) {
        if r.args.iter().all(|c| holds(c, name, args)) {
            out.push(match (r.action, r.errno) {
                (Some(a), e) => action(a, e.unwrap_or(m.errno)),
                (None, Some(e)) => SyscallAction::Errno(e),
                (None, None) => ring,
            });
        }
    }
    const ENOSYS: SyscallAction = SyscallAction::Errno(38);
    if m.hardening {
        match name {
            "unshare" if full(0) & NAMESPACE_FLAGS != 0 => out.push(ring),
            "clone" if low(0) & NAMESPACE_FLAGS != 0 => out.push(ring),
            "clone3" => out.push(ENOSYS),
            n if HARDENING_PLAIN.contains(&n) => out.push(ring),
            _ => {}
        }
    }
    // io_uring bypasses Landlock and socket filters: never in a confined ring.
    if name.starts_with("io_uring_") {
        out.push(enforced);
    }
    if !m.ptrace && ["ptrace", "process_vm_readv", "process_vm_writev"].contains(&name) {
        out.push(enforced);
    }
    if !m.fork {
        match name {
            "fork" | "vfork" => out.push(enforced),
            "clone" if low(0) & 0x1_0000 == 0 => out.push(enforced), // no CLONE_THREAD
            "clone3" => out.push(ENOSYS),
            _ => {}
        }
    }
    if name == "socket" {
        let (family, kind, protocol) = (low(0), low(1), low(2));
        let inet = family == 2 || family == 10;
        let allowed = match m.mode {
            Mode::Allowed => true,
            Mode::Blocked => family == 1 || family == 16,
            Mode::Restricted => {
                family == 1
                    || family == 16
                    || (inet && (m.udp || (kind & 0xf == 1 && (protocol == 0 || protocol == 6))))
            }
        };
        if !allowed {
            out.push(enforced);
        }
        // v1.1: no unix socket without a `unix_connect` grant, whatever the mode.
        if family == 1 && !m.unix {
            out.push(enforced);
        }
    }
    // v1.1: no confined ring may push input into a terminal (TIOCSTI, TIOCLINUX).
    if name == "ioctl" && (low(1) == 0x5412 || low(1) == 0x541C) {
        out.push(enforced);
    }
    // v1.1: `listen()` where TCP sockets exist but no port may be bound.
    if name == "listen" && m.mode == Mode::Restricted && m.bind.is_empty() {
        out.push(enforced);
    }
    // v1.1: other processes' limits, priority, scheduling: only pid 0 (and the per-process
    // `which` of pid 0) unless signals reach any process.
    if m.signals != Scope::Any {
        let other = match name {
            "prlimit64" | "sched_setaffinity" | "sched_setscheduler" => low(0) != 0,
            "setpriority" => low(0) != 0 || low(1) != 0,
            "ioprio_set" => low(0) != 1 || low(1) != 0,
            "process_madvise" => true,
            _ => false,
        };
        if other {
            out.push(enforced);
        }
    }
    out
}

/// The actions `decide` may answer with (several only on a tie of severity).
fn expected_actions(m: &Merged, name: &str, args: &[u64]) -> Vec<SyscallAction> {
    let fallback = if !m.default_deny || m.allow.contains(&name) {
        SyscallAction::Allow
    } else {
        ring_action(m)
    };
    let matching = matching_actions(m, name, args);
    match matching.iter().map(|a| severity(*a)).max() {
        Some(top) if top >= severity(fallback) => matching
            .into_iter()
            .filter(|a| severity(*a) == top)
            .collect(),
        _ => vec![fallback],
    }
}

// ---------------------------------------------------------------------------------------------
// Running

fn compile(policy: &PolicyM) -> Result<(Ir, BoundVariables), TestCaseError> {
    let yaml = policy.yaml();
    let analysis = nonoc::analyze("generated.yaml", yaml.as_bytes());
    let errors: Vec<String> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    prop_assert!(
        errors.is_empty(),
        "generated policy does not compile:\n{yaml}\n{errors:#?}"
    );
    let ir = analysis.ir.expect("no errors, so an IR");
    let bindings = bind(&ir, &Bindings::new(), &|_| None)
        .map_err(|e| TestCaseError::fail(format!("bind: {e}\n{yaml}")))?;
    Ok((ir, bindings))
}

fn path_text(spec: &PathSpec, b: &BoundVariables) -> String {
    match spec {
        PathSpec::Template(t) => t.clone(),
        PathSpec::Literal(var, suffix) => {
            let value = b.get(var).expect("the generated policy declares it");
            if value == "/" && !suffix.is_empty() {
                (*suffix).to_owned()
            } else {
                format!("{value}{suffix}")
            }
        }
    }
}

fn to_request(req: &ReqM, b: &BoundVariables) -> Request {
    match req {
        ReqM::Path(spec, access, platform) => Request::Path {
            path: PathTemplate::parse(&path_text(spec, b)).expect("a valid request path"),
            access: *access,
            platform: Some(platform.ir()),
        },
        ReqM::Connect(port) => Request::ConnectTcp { port: *port },
        ReqM::Bind(port) => Request::BindTcp { port: *port },
        ReqM::Udp => Request::Udp,
        ReqM::Fork => Request::Fork,
        ReqM::Ptrace => Request::Ptrace,
        ReqM::Signal(s) => Request::Signal { scope: s.ir() },
        ReqM::Syscall(name, args) => Request::Syscall {
            name: (*name).to_owned(),
            args: args.clone(),
        },
    }
}

fn allowed(d: &Decision) -> bool {
    d.verdict == Verdict::Allow
}

/// Checks one decision against the reference and the language's properties.
fn check(
    p: &PolicyM,
    level: u8,
    req: &ReqM,
    b: &BoundVariables,
    d: &Decision,
) -> Result<(), TestCaseError> {
    let ring = p.ring(level);
    let ctx = || {
        format!(
            "ring {level}, {req:?}\ndecision: {d:#?}\npolicy:\n{}",
            p.yaml()
        )
    };
    if ring.unconfined {
        prop_assert!(
            allowed(d),
            "an unconfined ring allows everything: {}",
            ctx()
        );
        return Ok(());
    }
    let m = p.merged(level);
    match req {
        ReqM::Path(spec, access, platform) => {
            let path = path_text(spec, b);
            let facts = path_facts(p, level, &path, *access, *platform, b);
            prop_assert!(!facts.unbound, "everything is bound here: {}", ctx());
            if facts.denied {
                prop_assert!(!allowed(d), "deny always wins: {}", ctx());
            } else if !facts.allowed {
                prop_assert!(
                    !allowed(d),
                    "a path outside every allow rule is denied: {}",
                    ctx()
                );
            } else {
                prop_assert!(
                    allowed(d),
                    "a path inside an allow rule and under no deny is allowed: {}",
                    ctx()
                );
            }
        }
        ReqM::Connect(port) | ReqM::Bind(port) => {
            let list = if matches!(req, ReqM::Connect(_)) {
                &m.connect
            } else {
                &m.bind
            };
            let expect = match m.mode {
                Mode::Blocked => false,
                Mode::Restricted => list.contains(port),
                Mode::Allowed => true,
            };
            prop_assert_eq!(
                allowed(d),
                expect,
                "blocked denies every port, restricted allows exactly the listed ports, allowed all: {}",
                ctx()
            );
        }
        ReqM::Udp => {
            let expect = match m.mode {
                Mode::Blocked => false,
                Mode::Restricted => m.udp,
                Mode::Allowed => true,
            };
            prop_assert_eq!(allowed(d), expect, "UDP: {}", ctx());
        }
        ReqM::Fork => prop_assert_eq!(allowed(d), m.fork, "fork: {}", ctx()),
        ReqM::Ptrace => prop_assert_eq!(allowed(d), m.ptrace, "ptrace: {}", ctx()),
        ReqM::Signal(scope) => prop_assert_eq!(
            allowed(d),
            *scope <= m.signals,
            "signal scopes self < sandbox < any: {}",
            ctx()
        ),
        ReqM::Syscall(name, args) => {
            let expect = expected_actions(&m, name, args);
            let got = d.action.expect("a syscall decision has an action");
            prop_assert!(
                expect.contains(&got),
                "syscall action: expected one of {expect:?}, got {got:?}: {}",
                ctx()
            );
            let runs = matches!(got, SyscallAction::Allow | SyscallAction::Log);
            prop_assert_eq!(allowed(d), runs, "verdict follows the action: {}", ctx());
        }
    }
    Ok(())
}

/// Whether a child ring overrides none of the scalars that decide a non-path request.
fn keeps_parent_scalars(ring: &RingM) -> bool {
    let net = ring
        .net
        .as_ref()
        .is_none_or(|n| n.mode.is_none() && n.udp.is_none());
    let process = ring
        .process
        .as_ref()
        .is_none_or(|p| p.fork.is_none() && p.signals.is_none() && p.ptrace.is_none());
    let sys = ring
        .sys
        .as_ref()
        .is_none_or(|s| s.default_deny.is_none() && s.deny_action.is_none() && s.errno.is_none());
    net && process && sys
}

/// A ring that extends another never loses a grant its parent had, unless it adds a deny
/// (or, outside the filesystem, overrides a scalar).
fn check_extends(
    p: &PolicyM,
    child: u8,
    req: &ReqM,
    b: &BoundVariables,
    parent_decision: &Decision,
    child_decision: &Decision,
) -> Result<(), TestCaseError> {
    if !allowed(parent_decision) || allowed(child_decision) {
        return Ok(());
    }
    let ring = p.ring(child);
    let ctx = || {
        format!(
            "ring {child} extends {:?}, {req:?}\nparent: {parent_decision:#?}\nchild: {child_decision:#?}\npolicy:\n{}",
            ring.extends,
            p.yaml()
        )
    };
    match req {
        ReqM::Path(spec, access, platform) => {
            let path = expand_path(&path_text(spec, b), b).expect("bound");
            prop_assert!(
                ring.denies
                    .iter()
                    .any(|d| deny_matches(d, &path, *access, *platform, b)),
                "a ring lost a grant of its parent without a deny of its own: {}",
                ctx()
            );
        }
        ReqM::Syscall(..) => {
            // Only the ring's own deny rules can take a syscall away.
            prop_assert!(
                !keeps_parent_scalars(ring)
                    || ring
                        .sys
                        .as_ref()
                        .is_some_and(|s| !s.deny.is_empty() || s.hardening),
                "a ring lost a syscall of its parent without a rule of its own: {}",
                ctx()
            );
        }
        _ => prop_assert!(
            !keeps_parent_scalars(ring),
            "a ring lost a network or process grant of its parent without overriding it: {}",
            ctx()
        ),
    }
    Ok(())
}

/// The process and network answers and the syscall layer that enforces them agree: what
/// `decide` denies as `fork`, `ptrace`, `udp` or TCP is also denied as the syscalls that do it
/// (whatever `deny_action` says, `log` included), and what it allows is not blocked by the
/// rules those settings imply.
fn check_layers(p: &PolicyM, ir: &Ir, level: u8, b: &BoundVariables) -> Result<(), TestCaseError> {
    let ring = &ir.rings[&level];
    let ask = |request: &Request| decide(ring, request, b);
    let sys = |name: &str, args: &[u64]| {
        ask(&Request::Syscall {
            name: name.to_owned(),
            args: args.to_vec(),
        })
    };
    let ctx = || format!("ring {level}\n{}", p.yaml());
    const SIGCHLD: u64 = 17;
    if !allowed(&ask(&Request::Fork)) {
        for (name, args) in [("fork", &[][..]), ("vfork", &[]), ("clone", &[SIGCHLD])] {
            let d = sys(name, args);
            prop_assert!(
                !allowed(&d),
                "fork is denied but {name} runs: {d:?}: {}",
                ctx()
            );
        }
        let d = sys("clone3", &[]);
        prop_assert!(
            !allowed(&d),
            "fork is denied but clone3 runs: {d:?}: {}",
            ctx()
        );
    }
    if !allowed(&ask(&Request::Ptrace)) {
        for name in ["ptrace", "process_vm_readv", "process_vm_writev"] {
            let d = sys(name, &[1]);
            prop_assert!(
                !allowed(&d),
                "ptrace is denied but {name} runs: {d:?}: {}",
                ctx()
            );
        }
    }
    if !allowed(&ask(&Request::Udp)) {
        for family in [2, 10] {
            let d = sys("socket", &[family, 2, 0]);
            prop_assert!(
                !allowed(&d),
                "UDP is denied but socket({family}, SOCK_DGRAM) runs: {d:?}: {}",
                ctx()
            );
        }
    }
    let no_tcp = PORTS.iter().all(|&port| {
        !allowed(&ask(&Request::ConnectTcp { port })) && !allowed(&ask(&Request::BindTcp { port }))
    });
    let blocked = p.merged(level).mode == Mode::Blocked;
    if blocked {
        prop_assert!(no_tcp, "blocked, yet some TCP port is allowed: {}", ctx());
        for family in [2, 10, 17] {
            let d = sys("socket", &[family, 1, 0]);
            prop_assert!(
                !allowed(&d),
                "the network is blocked but socket({family}) runs: {d:?}: {}",
                ctx()
            );
        }
    }
    for name in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
        let d = sys(name, &[]);
        prop_assert!(
            !allowed(&d),
            "{name} runs in a confined ring: {d:?}: {}",
            ctx()
        );
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Generated policies are large; keep shrinking bounded so a failure reports quickly.
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// The main property: on random policies (every one must compile) and random requests,
    /// `decide` agrees with the naive reference for every ring, and `extends` never loses a
    /// parent's grant without a reason.
    #[test]
    fn decide_agrees_with_the_reference(
        policy in policy(),
        requests in proptest::collection::vec(request(), 48),
    ) {
        let (ir, bindings) = compile(&policy)?;
        prop_assert_eq!(ir.rings.len(), policy.rings.len());
        for ring in policy.rings.iter().filter(|r| !r.unconfined) {
            check_layers(&policy, &ir, ring.level, &bindings)?;
        }
        for req in &requests {
            let request = to_request(req, &bindings);
            for ring in &policy.rings {
                let d = decide(&ir.rings[&ring.level], &request, &bindings);
                check(&policy, ring.level, req, &bindings, &d)?;
                if let Some(parent) = ring.extends {
                    let pd = decide(&ir.rings[&parent], &request, &bindings);
                    check_extends(&policy, ring.level, req, &bindings, &pd, &d)?;
                }
            }
        }
    }

    /// A ring whose rules use an unbound variable denies every path request; rings that do
    /// not use it decide as before, except for requests that name it.
    #[test]
    fn an_unbound_variable_fails_closed(
        policy in policy(),
        requests in proptest::collection::vec(
            (path_spec(), access(), plat()).prop_map(|(s, a, p)| ReqM::Path(s, a, p)),
            16,
        ),
        drop_w in any::<bool>(),
    ) {
        let (ir, full) = compile(&policy)?;
        let dropped = if drop_w { "w" } else { "v" };
        let partial: BoundVariables = full
            .iter()
            .filter(|(name, _)| *name != dropped)
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        for req in &requests {
            let ReqM::Path(spec, access, platform) = req else { unreachable!() };
            // Literal requests are spelled with the full bindings; templates may name the
            // dropped variable.
            let request = to_request(req, &full);
            let text = path_text(spec, &full);
            for ring in &policy.rings {
                let d = decide(&ir.rings[&ring.level], &request, &partial);
                if ring.unconfined {
                    prop_assert!(allowed(&d));
                    continue;
                }
                let facts = path_facts(&policy, ring.level, &text, *access, *platform, &partial);
                if facts.unbound {
                    prop_assert!(
                        !allowed(&d),
                        "ring {} uses or is asked about unbound `{dropped}` but allows {req:?}:\n{d:#?}\n{}",
                        ring.level,
                        policy.yaml()
                    );
                } else {
                    let before = decide(&ir.rings[&ring.level], &request, &full);
                    prop_assert_eq!(
                        d.verdict,
                        before.verdict,
                        "ring {} does not use `{}`, yet unbinding it changed {:?}",
                        ring.level,
                        dropped,
                        req
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Focused properties

fn one_ring(body: &str, vars: &str) -> Ir {
    let yaml = format!(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: p }}\n{vars}rings:\n  1:\n{body}"
    );
    let analysis = nonoc::analyze("p.yaml", yaml.as_bytes());
    let errors: Vec<String> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    assert!(errors.is_empty(), "{yaml}\n{errors:#?}");
    analysis.ir.expect("an IR")
}

fn read(ir: &Ir, path: &str, b: &BoundVariables) -> Verdict {
    let request = Request::Path {
        path: PathTemplate::parse(path).expect("a valid path"),
        access: Right::ReadFile,
        platform: Some(Platform::Linux),
    };
    decide(&ir.rings[&1], &request, b).verdict
}

/// A path component; never `k` nor ending in `.key`, which the glob tests below look for.
fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        select(COMPONENTS).prop_map(str::to_owned),
        "[a-z.]{1,4}".prop_filter("a plain component", |c| {
            c != "." && c != ".." && c != "k" && !c.ends_with(".key")
        }),
    ]
}

/// A bound value made of characters with meaning to globset (and backslashes).
fn weird_value() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::collection::vec(
            select(
                &[
                    'a', 'b', '[', ']', '*', '?', '{', '}', ',', '\\', '!', '^', '-', ' ',
                ][..],
            ),
            1..6,
        )
        .prop_map(|cs| cs.into_iter().collect::<String>()),
        1..3,
    )
    .prop_map(|comps| format!("/{}", comps.join("/")))
}

proptest! {
    #![proptest_config(config(256))]

    /// A rule on a directory covers everything below it, and only by whole components:
    /// `/a/bc` is not under `/a/b`.
    #[test]
    fn a_directory_covers_its_subtree_by_whole_components(
        dir in select(&["/a", "/a/b", "/a/b/c", "/d", "/a/bc", "/x/y/z"][..]),
        below in proptest::collection::vec(component(), 1..4),
        tail in "[a-z]{1,3}",
        deny_below in any::<bool>(),
    ) {
        let deny = if deny_below {
            format!("    deny:\n      - {{ path: '{dir}/{}' }}\n", below[0])
        } else {
            String::new()
        };
        let ir = one_ring(&format!("    filesystem: {{ read: ['{dir}'] }}\n{deny}"), "");
        let b = BoundVariables::default();
        let inside = format!("{dir}/{}", below.join("/"));
        let sibling = format!("{dir}{tail}");
        let expect_inside = if deny_below { Verdict::Deny } else { Verdict::Allow };
        prop_assert_eq!(read(&ir, &inside, &b), expect_inside, "{}", inside);
        prop_assert_eq!(read(&ir, dir, &b), Verdict::Allow);
        prop_assert_eq!(read(&ir, &sibling, &b), Verdict::Deny, "{} is not under {}", sibling, dir);
        let parent = &dir[..dir.rfind('/').unwrap().max(1)];
        prop_assert_eq!(read(&ir, parent, &b), Verdict::Deny, "{} is above {}", parent, dir);
        if deny_below {
            // The deny is by whole components too.
            let near = format!("{dir}/{}{tail}", below[0]);
            prop_assert_eq!(read(&ir, &near, &b), Verdict::Allow, "{}", near);
        }
    }

    /// `*` stays within one component, `**` crosses any number; a glob deny covers its
    /// matches and everything under them.
    #[test]
    fn star_stays_in_a_component_and_double_star_crosses(
        first in component(),
        middle in proptest::collection::vec(component(), 1..4),
        under_match in proptest::collection::vec(component(), 0..3),
    ) {
        let ir = one_ring(
            "    filesystem: { read: [/] }\n    deny:\n      - { glob: '/s/*/k' }\n      - { glob: '/t/**/k' }\n      - { glob: '/u/*.key' }\n",
            "",
        );
        let b = BoundVariables::default();
        let rest = if under_match.is_empty() {
            String::new()
        } else {
            format!("/{}", under_match.join("/"))
        };
        // `/s/*/k`: exactly one component between.
        prop_assert_eq!(read(&ir, &format!("/s/{first}/k{rest}"), &b), Verdict::Deny);
        let deep = format!("/s/{first}/{}/k{rest}", middle.join("/"));
        prop_assert_eq!(read(&ir, &deep, &b), Verdict::Allow, "`*` crossed `/`: {}", deep);
        // `/t/**/k`: any number of components between, none included.
        prop_assert_eq!(read(&ir, &format!("/t/k{rest}"), &b), Verdict::Deny);
        prop_assert_eq!(read(&ir, &format!("/t/{first}/k{rest}"), &b), Verdict::Deny);
        prop_assert_eq!(
            read(&ir, &format!("/t/{first}/{}/k{rest}", middle.join("/")), &b),
            Verdict::Deny
        );
        prop_assert_eq!(read(&ir, &format!("/t/{first}/kk"), &b), Verdict::Allow);
        // `/u/*.key`: matches in `/u` only.
        prop_assert_eq!(read(&ir, &format!("/u/{first}.key{rest}"), &b), Verdict::Deny);
        prop_assert_eq!(read(&ir, &format!("/u/{first}/x.key"), &b), Verdict::Allow);
    }

    /// A variable's value is literal text, in allow paths and in deny paths and globs, even
    /// when it is full of glob characters or backslashes.
    #[test]
    fn a_variable_value_is_matched_literally(
        value in weird_value(),
        sub in component().prop_filter("a name no rule denies", |c| c != ".env"),
    ) {
        let ir = one_ring(
            "    filesystem: { read: ['${v}', /other] }\n    deny:\n      - { glob: '${v}/**/.env' }\n      - { glob: '${v}/*.key' }\n      - { path: '${v}/s_s' }\n",
            "variables:\n  v: { env: NONOC_TEST_V }\n",
        );
        let ir_root = one_ring(
            "    filesystem: { read: [/] }\n    deny:\n      - { glob: '${v}/**' }\n",
            "variables:\n  v: { env: NONOC_TEST_V }\n",
        );
        let given = Bindings::new().with("v", value.clone());
        let b = bind(&ir, &given, &|_| None).expect("a valid bound value");
        let at = |suffix: &str| format!("{value}{suffix}");
        prop_assert_eq!(read(&ir, &at(&format!("/{sub}")), &b), Verdict::Allow);
        prop_assert_eq!(read(&ir, &at("/.env"), &b), Verdict::Deny);
        prop_assert_eq!(read(&ir, &at(&format!("/{sub}/.env")), &b), Verdict::Deny);
        prop_assert_eq!(read(&ir, &at(&format!("/{sub}.key")), &b), Verdict::Deny);
        prop_assert_eq!(read(&ir, &at("/s_s/x"), &b), Verdict::Deny);
        prop_assert_eq!(read(&ir, "${v}/s_s/x", &b), Verdict::Deny);
        prop_assert_eq!(read(&ir_root, &at(&format!("/{sub}")), &b), Verdict::Deny);
        // What a glob reading of the value would match instead must not be covered.
        let as_glob: String = value
            .chars()
            .filter(|c| *c != '\\')
            .map(|c| match c {
                '*' => "zz".to_owned(),
                '?' => "z".to_owned(),
                c => c.to_string(),
            })
            .collect();
        let other = format!("{as_glob}/{sub}");
        if as_glob != value && PathTemplate::parse(&other).is_ok() {
            prop_assert_eq!(read(&ir, &other, &b), Verdict::Deny, "outside the literal allow: {}", other);
            prop_assert_eq!(read(&ir_root, &other, &b), Verdict::Allow, "the deny glob must match `{}` literally, not {}", value, other);
        }
    }

    /// Syscall rules: a rule with args matches only when all its conditions hold, `int`
    /// arguments compare their low 32 bits, the strictest action wins, `default: deny` with
    /// an allow list, and what network and process settings imply.
    #[test]
    fn syscall_decisions_agree_with_the_reference(
        sys in syscalls(8),
        net in network(),
        process in process(),
        requests in proptest::collection::vec((select(REQUEST_SYSCALLS), syscall_args()), 64),
        extra in syscall_rule(),
    ) {
        let ring = RingM {
            level: 1,
            extends: None,
            unconfined: false,
            allows: Vec::new(),
            denies: Vec::new(),
            net: Some(net),
            process: Some(process),
            sys: Some(sys),
        };
        let mut policy = PolicyM { vars: vec![], global: vec![], rings: vec![ring] };
        fix_ports(&mut policy, 0);
        let (ir, b) = compile(&policy)?;
        for (name, args) in &requests {
            let req = ReqM::Syscall(name, args.clone());
            let d = decide(&ir.rings[&1], &to_request(&req, &b), &b);
            check(&policy, 1, &req, &b, &d)?;
            // High bits of an `int` argument never change the decision.
            for i in 0..args.len() {
                if is_int(name, i) {
                    let mut high = args.clone();
                    high[i] ^= 0xdead_beef_0000_0000;
                    let dh = decide(&ir.rings[&1], &to_request(&ReqM::Syscall(name, high.clone()), &b), &b);
                    prop_assert_eq!(
                        &dh.action, &d.action,
                        "{}({:x?}) vs {}({:x?}): high bits of int argument {} changed the action\n{}",
                        name, args, name, high, i, policy.yaml()
                    );
                }
            }
        }
        // Adding a deny rule never makes a call more permitted.
        let mut stricter = policy.clone();
        stricter.rings[0].sys.as_mut().unwrap().deny.push(extra);
        let (ir2, b2) = compile(&stricter)?;
        for (name, args) in &requests {
            let request = to_request(&ReqM::Syscall(name, args.clone()), &b);
            let before = decide(&ir.rings[&1], &request, &b);
            let after = decide(&ir2.rings[&1], &request, &b2);
            prop_assert!(
                severity(after.action.unwrap()) >= severity(before.action.unwrap())
                    && (allowed(&after) <= allowed(&before)),
                "adding a deny rule weakened {}({:x?}): {:?} -> {:?}\n{}",
                name, args, before.action, after.action, stricter.yaml()
            );
        }
    }
}
