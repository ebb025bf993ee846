//! Differential test of `nonoc diff` (`nonoc::diff::compare`) against `decide`.
//!
//! Random policies over every section of the language (settings, variables with `env` and
//! chained defaults, trust tiers, global and ring denies with globs, excepts and platforms,
//! rings with `extends` and `unconfined`, filesystem, network, process, syscalls with argument
//! conditions and presets) are edited at random into a second policy. The truth is `decide`:
//! for every ring level and every trust score 0..=1000, each side's ring is asked sampled
//! requests under several variable bindings (the defaults, random environments, random
//! caller values). Wherever NEW allows what OLD denies, the diff must report an escalation on
//! that pair of rings (or, for a changed `env`, on the variable): zero missed escalations.
//! Every gain and loss the diff reports must be shown by its evidence, asked again.
//! Edits that change no verdict or only tighten must report no gain.
//!
//! The cases are generated from fixed seeds, so a failure is reproducible: the message names
//! the seed and prints both policies. `NONOC_DIFF_CASES=N` runs more.

use std::collections::{BTreeMap, BTreeSet};

use nonoc::diff::{PolicyDiff, answer, compare};
use nonoc::ir::{
    BoundVariables, Capability, Ir, ListenFamily, PathTemplate, Platform, Request, Right, Verdict,
};
use nonoc::syntax::SignalScope;

// ---------------------------------------------------------------------------------------------
// A small deterministic generator

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn some<T: Copy>(&mut self, percent: u64, items: &[T]) -> Option<T> {
        if self.chance(percent) {
            Some(self.pick(items))
        } else {
            None
        }
    }

    fn subset<T: Copy>(&mut self, max: usize, items: &[T]) -> Vec<T> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.pick(items)).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The policy model and its YAML

const ENVS: &[&str] = &["ENV_A", "ENV_B", "HOME"];
/// Values of variables: defaults, and what environments and callers bind.
const VALUES: &[&str] = &["/a", "/a/b", "/d", "/", "/z", "/a/b/c", "/d/e/f", "/a/bc"];
const ALLOW_PATHS: &[&str] = &[
    "/", "/a", "/a/b", "/a/b/c", "/a/bc", "/d", "/d/e", "/z", "${v}", "${v}/x", "${w}", "${w}/y",
];
const DENY_PATHS: &[&str] = &[
    "/a", "/a/b", "/a/b/c", "/d/e", "/z", "${v}", "${v}/x", "${w}", "${w}/y", "/",
];
/// Globs with excepts that lie inside them.
const DENY_GLOBS: &[(&str, &[&str])] = &[
    ("/a/*", &["/a/b", "/a/*/x"]),
    ("/a/**/c", &["/a/b/c"]),
    ("/**/.env", &["/d/.env"]),
    ("/**/.env*", &["/**/.env.example"]),
    ("/a/b*", &["/a/bc"]),
    ("/*/b", &["/a/b"]),
    ("/a/[bc]", &["/a/b"]),
    ("/a/{b,bc}/c", &["/a/bc/c"]),
    ("${v}/**", &["${v}/x"]),
    ("${w}/**/.env", &[]),
    ("/d/**/e", &["/d/e"]),
];
const GROUPS: &[&str] = &["read", "write", "execute"];
const RIGHTS: &[&str] = &[
    "read_file",
    "read_dir",
    "write_file",
    "make_reg",
    "remove_file",
    "execute",
    "make_char",
    "refer",
    "truncate",
];
const PORTS: &[u16] = &[22, 53, 80, 443, 8080];
const RULE_SYSCALLS: &[&str] = &[
    "socket",
    "kill",
    "clone",
    "unshare",
    "ptrace",
    "personality",
    "ioctl",
    "mount",
];
const ALLOW_SYSCALLS: &[&str] = &["read", "write", "getpid", "socket", "clone", "kill"];
const OPS: &[&str] = &[
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "masked_eq",
    "masked_ne",
    "any_bits",
    "all_bits",
];
const ARG_VALUES: &[u64] = &[0, 1, 2, 10, 16, 17, 0x1_0000, 0x1000_0000, 0xf, 0xffff_ffff];
const ERRNOS: &[&str] = &["EPERM", "ENOSYS", "EACCES"];
const ACTIONS: &[&str] = &["errno", "kill_process", "log", "trap"];
const CAPABILITIES: &[&str] = &["chown", "kill", "net_bind_service", "sys_admin"];

#[derive(Debug, Clone, Default)]
struct Var {
    env: Option<&'static str>,
    default: Option<String>,
}

#[derive(Debug, Clone)]
struct Deny {
    glob: bool,
    target: &'static str,
    access: Option<Vec<&'static str>>,
    except: Vec<&'static str>,
    platform: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct Allow {
    path: &'static str,
    access: Vec<&'static str>,
    platform: Option<&'static str>,
    /// Written under `filesystem.read|write|execute` (one group, no platform).
    shorthand: bool,
}

#[derive(Debug, Clone, Default)]
struct Net {
    mode: Option<&'static str>,
    connect: Vec<u16>,
    bind: Vec<u16>,
    udp: Option<bool>,
    /// `unix_connect` grants (from the allow paths).
    unix: Vec<&'static str>,
}

#[derive(Debug, Clone, Default)]
struct Proc {
    fork: Option<bool>,
    signals: Option<&'static str>,
    ptrace: Option<bool>,
    capabilities: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct SysRule {
    name: &'static str,
    args: Vec<(u8, &'static str, u64, Option<u64>)>,
    action: Option<&'static str>,
    errno: Option<&'static str>,
}

#[derive(Debug, Clone, Default)]
struct Sys {
    default_deny: Option<bool>,
    deny_action: Option<&'static str>,
    errno: Option<&'static str>,
    allow: Vec<&'static str>,
    deny: Vec<SysRule>,
    hardening: bool,
}

#[derive(Debug, Clone, Default)]
struct Ring {
    extends: Option<u8>,
    unconfined: bool,
    allows: Vec<Allow>,
    denies: Vec<Deny>,
    net: Option<Net>,
    process: Option<Proc>,
    sys: Option<Sys>,
}

#[derive(Debug, Clone, Default)]
struct Policy {
    compat_hard: bool,
    min_abi: u8,
    unenforceable_error: bool,
    monotonic: Option<bool>,
    isolation: Option<&'static str>,
    vars: BTreeMap<&'static str, Var>,
    /// `(min_score, ring)`.
    tiers: Vec<(u16, u8)>,
    global: Vec<Deny>,
    rings: BTreeMap<u8, Ring>,
}

fn q(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn list<T: ToString>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(T::to_string).collect();
    format!("[{}]", parts.join(", "))
}

fn deny_yaml(d: &Deny) -> String {
    let mut s = format!(
        "{{ {}: {}",
        if d.glob { "glob" } else { "path" },
        q(d.target)
    );
    if let Some(a) = &d.access {
        s += &format!(", access: {}", list(a));
    }
    if !d.except.is_empty() {
        let e: Vec<String> = d.except.iter().map(|e| q(e)).collect();
        s += &format!(", except: [{}]", e.join(", "));
    }
    if let Some(p) = d.platform {
        s += &format!(", platform: {p}");
    }
    s + " }"
}

impl Policy {
    fn yaml(&self) -> String {
        let mut y =
            String::from("apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: g }\n");
        y += "settings:\n  landlock:\n";
        y += &format!(
            "    compatibility: {}\n    min_abi: {}\n",
            if self.compat_hard {
                "hard_requirement"
            } else {
                "best_effort"
            },
            self.min_abi
        );
        if self.unenforceable_error {
            y += "  unenforceable: error\n";
        }
        if let Some(m) = self.monotonic {
            y += &format!("  monotonic: {m}\n");
        }
        if let Some(i) = self.isolation {
            y += &format!("  isolation: {i}\n");
        }
        if !self.vars.is_empty() {
            y += "variables:\n";
            for (name, v) in &self.vars {
                if v.env.is_none() && v.default.is_none() {
                    y += &format!("  {name}: {{}}\n");
                    continue;
                }
                y += &format!("  {name}:\n");
                if let Some(e) = v.env {
                    y += &format!("    env: {e}\n");
                }
                if let Some(d) = &v.default {
                    y += &format!("    default: {}\n", q(d));
                }
            }
        }
        if !self.tiers.is_empty() {
            y += "trust_tiers:\n";
            for (score, ring) in &self.tiers {
                y += &format!("  - {{ name: t{score}, min_score: {score}, ring: {ring} }}\n");
            }
        }
        if !self.global.is_empty() {
            y += "deny:\n";
            for d in &self.global {
                y += &format!("  - {}\n", deny_yaml(d));
            }
        }
        y += "rings:\n";
        for (level, r) in &self.rings {
            y += &format!("  {level}:\n");
            if r.unconfined {
                y += "    unconfined: true\n";
                continue;
            }
            y += "    description: r\n";
            if let Some(p) = r.extends {
                y += &format!("    extends: {p}\n");
            }
            if !r.allows.is_empty() {
                y += "    filesystem:\n";
                for g in GROUPS {
                    let paths: Vec<String> = r
                        .allows
                        .iter()
                        .filter(|a| a.shorthand && a.access == [*g])
                        .map(|a| q(a.path))
                        .collect();
                    if !paths.is_empty() {
                        y += &format!("      {g}: [{}]\n", paths.join(", "));
                    }
                }
                let rules: Vec<&Allow> = r.allows.iter().filter(|a| !a.shorthand).collect();
                if !rules.is_empty() {
                    y += "      rules:\n";
                    for a in rules {
                        y += &format!(
                            "        - {{ path: {}, access: {}",
                            q(a.path),
                            list(&a.access)
                        );
                        if let Some(p) = a.platform {
                            y += &format!(", platform: {p}");
                        }
                        y += " }\n";
                    }
                }
            }
            if !r.denies.is_empty() {
                y += "    deny:\n";
                for d in &r.denies {
                    y += &format!("      - {}\n", deny_yaml(d));
                }
            }
            if let Some(n) = &r.net {
                let mut parts = Vec::new();
                if let Some(m) = n.mode {
                    parts.push(format!("mode: {m}"));
                }
                if !n.connect.is_empty() {
                    parts.push(format!("connect_tcp: {}", list(&n.connect)));
                }
                if !n.bind.is_empty() {
                    parts.push(format!("bind_tcp: {}", list(&n.bind)));
                }
                if let Some(u) = n.udp {
                    parts.push(format!("udp: {u}"));
                }
                if !n.unix.is_empty() {
                    let paths: Vec<String> = n.unix.iter().map(|p| q(p)).collect();
                    parts.push(format!("unix_connect: [{}]", paths.join(", ")));
                }
                y += &format!("    network: {{ {} }}\n", parts.join(", "));
            }
            if let Some(p) = &r.process {
                let mut parts = Vec::new();
                if let Some(f) = p.fork {
                    parts.push(format!("fork: {f}"));
                }
                if let Some(s) = p.signals {
                    parts.push(format!("signals: {s}"));
                }
                if let Some(t) = p.ptrace {
                    parts.push(format!("ptrace: {t}"));
                }
                if !p.capabilities.is_empty() {
                    parts.push(format!("capabilities: {}", list(&p.capabilities)));
                }
                y += &format!("    process: {{ {} }}\n", parts.join(", "));
            }
            if let Some(s) = &r.sys {
                y += "    syscalls:\n";
                if let Some(d) = s.default_deny {
                    y += &format!("      default: {}\n", if d { "deny" } else { "allow" });
                }
                if let Some(a) = s.deny_action {
                    y += &format!("      deny_action: {a}\n");
                }
                if let Some(e) = s.errno {
                    y += &format!("      errno: {e}\n");
                }
                if !s.allow.is_empty() {
                    y += &format!("      allow: {}\n", list(&s.allow));
                }
                if !s.deny.is_empty() {
                    y += "      deny:\n";
                    for rule in &s.deny {
                        y += &format!("        - {{ name: {}", rule.name);
                        if !rule.args.is_empty() {
                            let args: Vec<String> = rule
                                .args
                                .iter()
                                .map(|(i, op, v, m)| match m {
                                    Some(m) => {
                                        format!("{{ index: {i}, op: {op}, value: {v}, mask: {m} }}")
                                    }
                                    None => format!("{{ index: {i}, op: {op}, value: {v} }}"),
                                })
                                .collect();
                            y += &format!(", args: [{}]", args.join(", "));
                        }
                        if let Some(a) = rule.action {
                            y += &format!(", action: {a}");
                        }
                        if let Some(e) = rule.errno {
                            y += &format!(", errno: {e}");
                        }
                        y += " }\n";
                    }
                }
                if s.hardening {
                    y += "      presets: [hardening]\n";
                }
                if s.default_deny.is_none()
                    && s.deny_action.is_none()
                    && s.errno.is_none()
                    && s.allow.is_empty()
                    && s.deny.is_empty()
                    && !s.hardening
                {
                    y += "      default: allow\n";
                }
            }
        }
        y
    }
}

// ---------------------------------------------------------------------------------------------
// Generating and editing policies

fn gen_var(rng: &mut Rng, name: &str) -> Var {
    let env = rng.some(60, ENVS);
    let default = if name == "w" && rng.chance(30) {
        // A chained default.
        Some(rng.pick(&["${v}/x", "${v}"]).to_owned())
    } else {
        rng.some(70, VALUES).map(str::to_owned)
    };
    Var { env, default }
}

fn gen_deny(rng: &mut Rng) -> Deny {
    let (glob, target, except) = if rng.chance(40) {
        let (g, excepts) = rng.pick(DENY_GLOBS);
        let except = if rng.chance(40) && !excepts.is_empty() {
            vec![rng.pick(excepts)]
        } else {
            Vec::new()
        };
        (true, g, except)
    } else {
        (false, rng.pick(DENY_PATHS), Vec::new())
    };
    let access = if rng.chance(50) {
        let mut a = rng.subset(2, RIGHTS);
        if a.is_empty() {
            a.push(rng.pick(GROUPS));
        }
        Some(a)
    } else {
        None
    };
    Deny {
        glob,
        target,
        access,
        except,
        platform: rng.some(20, &["linux", "macos"]),
    }
}

fn gen_allow(rng: &mut Rng) -> Allow {
    let path = rng.pick(ALLOW_PATHS);
    if rng.chance(60) {
        Allow {
            path,
            access: vec![rng.pick(GROUPS)],
            platform: None,
            shorthand: true,
        }
    } else {
        let mut access = rng.subset(3, RIGHTS);
        if access.is_empty() {
            access.push("read");
        }
        Allow {
            path,
            access,
            platform: rng.some(25, &["linux", "macos"]),
            shorthand: false,
        }
    }
}

fn gen_net(rng: &mut Rng) -> Net {
    let mode = rng.some(85, &["blocked", "restricted", "allowed"]);
    let unix = gen_unix(rng);
    if mode == Some("restricted") {
        Net {
            mode,
            connect: rng.subset(3, PORTS),
            bind: rng.subset(1, PORTS),
            udp: rng.some(50, &[true, false]),
            unix,
        }
    } else {
        Net {
            mode,
            unix,
            ..Net::default()
        }
    }
}

fn gen_unix(rng: &mut Rng) -> Vec<&'static str> {
    if rng.chance(40) {
        rng.subset(2, ALLOW_PATHS)
    } else {
        Vec::new()
    }
}

fn gen_proc(rng: &mut Rng) -> Proc {
    Proc {
        fork: rng.some(70, &[true, false]),
        signals: rng.some(60, &["self", "sandbox", "any"]),
        ptrace: rng.some(40, &[true, false]),
        capabilities: rng.subset(2, CAPABILITIES),
    }
}

fn gen_sys_rule(rng: &mut Rng) -> SysRule {
    let n = rng.below(3);
    let args = (0..n)
        .map(|_| {
            let op = rng.pick(OPS);
            let mask = op
                .starts_with("masked")
                .then(|| rng.pick(&[0xf, 0x1_0000, 0xffff_ffff]));
            (rng.below(3) as u8, op, rng.pick(ARG_VALUES), mask)
        })
        .collect();
    let action = rng.some(30, ACTIONS);
    let errno = if action.is_none_or(|a| a == "errno") {
        rng.some(30, ERRNOS)
    } else {
        None
    };
    SysRule {
        name: rng.pick(RULE_SYSCALLS),
        args,
        action,
        errno,
    }
}

fn gen_sys(rng: &mut Rng) -> Sys {
    let default_deny = rng.some(60, &[false, true]);
    Sys {
        default_deny,
        deny_action: rng.some(40, ACTIONS),
        errno: rng.some(30, ERRNOS),
        allow: if default_deny == Some(true) {
            rng.subset(3, ALLOW_SYSCALLS)
        } else {
            Vec::new()
        },
        deny: (0..rng.below(4)).map(|_| gen_sys_rule(rng)).collect(),
        hardening: rng.chance(30),
    }
}

fn gen_ring(rng: &mut Rng, level: u8, levels: &[u8]) -> Ring {
    let parents: Vec<u8> = levels.iter().copied().filter(|l| *l > level).collect();
    Ring {
        extends: if parents.is_empty() {
            None
        } else {
            rng.some(40, &parents)
        },
        unconfined: false,
        allows: (0..rng.below(5)).map(|_| gen_allow(rng)).collect(),
        denies: (0..rng.below(3)).map(|_| gen_deny(rng)).collect(),
        net: rng.chance(70).then(|| gen_net(rng)),
        process: rng.chance(60).then(|| gen_proc(rng)),
        sys: rng.chance(60).then(|| gen_sys(rng)),
    }
}

fn gen_tiers(rng: &mut Rng, p: &Policy) -> Vec<(u16, u8)> {
    let confined: Vec<u8> = p
        .rings
        .iter()
        .filter(|(_, r)| !r.unconfined)
        .map(|(l, _)| *l)
        .collect();
    if confined.is_empty() || !rng.chance(75) {
        return Vec::new();
    }
    let mut scores: BTreeSet<u16> = [0].into();
    for _ in 0..rng.below(4) {
        scores.insert(rng.pick(&[100, 300, 500, 700, 900, 1000, 501]));
    }
    scores
        .into_iter()
        .map(|s| (s, rng.pick(&confined)))
        .collect()
}

fn gen_policy(rng: &mut Rng) -> Policy {
    let mut p = Policy {
        compat_hard: rng.chance(20),
        min_abi: rng.pick(&[1, 1, 2, 4]),
        unenforceable_error: rng.chance(5),
        monotonic: rng.some(50, &[false, true]),
        isolation: rng.some(30, &["best_effort", "required", "off"]),
        ..Policy::default()
    };
    p.vars.insert("v", gen_var(rng, "v"));
    p.vars.insert("w", gen_var(rng, "w"));
    let levels: Vec<u8> = {
        let mut l: BTreeSet<u8> = [3].into();
        for _ in 0..rng.below(4) {
            l.insert(rng.pick(&[0, 1, 2, 3, 4]));
        }
        l.into_iter().collect()
    };
    for level in &levels {
        let ring = if *level == 0 && rng.chance(50) {
            Ring {
                unconfined: true,
                ..Ring::default()
            }
        } else {
            gen_ring(rng, *level, &levels)
        };
        p.rings.insert(*level, ring);
    }
    // A parent may have been made unconfined: extend only confined rings.
    let unconfined: BTreeSet<u8> = p
        .rings
        .iter()
        .filter(|(_, r)| r.unconfined)
        .map(|(l, _)| *l)
        .collect();
    for r in p.rings.values_mut() {
        if r.extends.is_some_and(|e| unconfined.contains(&e)) {
            r.extends = None;
        }
    }
    p.global = (0..rng.below(3)).map(|_| gen_deny(rng)).collect();
    p.tiers = gen_tiers(rng, &p);
    p
}

/// One random edit, in any section.
fn edit(rng: &mut Rng, p: &mut Policy) {
    let levels: Vec<u8> = p.rings.keys().copied().collect();
    let level = rng.pick(&levels);
    match rng.below(18) {
        0 => match rng.below(5) {
            0 => p.compat_hard = !p.compat_hard,
            1 => p.min_abi = rng.pick(&[1, 2, 3, 4]),
            2 => p.unenforceable_error = !p.unenforceable_error,
            3 => p.monotonic = rng.some(50, &[false, true]),
            _ => p.isolation = rng.some(70, &["best_effort", "required", "off"]),
        },
        1 => {
            let name = rng.pick(&["v", "w"]);
            if let Some(v) = p.vars.get_mut(name) {
                v.env = rng.some(60, ENVS);
            }
        }
        2 => {
            let name = rng.pick(&["v", "w"]);
            let fresh = gen_var(rng, name);
            if let Some(v) = p.vars.get_mut(name) {
                v.default = fresh.default;
            }
        }
        3 => p.tiers = gen_tiers(rng, p),
        4 => {
            if let Some(t) = p.tiers.last_mut() {
                let confined: Vec<u8> = p
                    .rings
                    .iter()
                    .filter(|(_, r)| !r.unconfined)
                    .map(|(l, _)| *l)
                    .collect();
                if !confined.is_empty() {
                    t.1 = rng.pick(&confined);
                }
            }
        }
        5 => {
            if !p.global.is_empty() && rng.chance(50) {
                let i = rng.below(p.global.len());
                p.global.remove(i);
            } else {
                p.global.push(gen_deny(rng));
            }
        }
        6 => {
            if let Some(d) = p.global.first_mut() {
                d.platform = rng.some(50, &["linux", "macos"]);
                d.access = if rng.chance(50) {
                    Some(vec![rng.pick(GROUPS)])
                } else {
                    None
                };
            }
        }
        7 => {
            // A ring added or removed.
            let l = rng.pick(&[0, 1, 2, 4, 5]);
            if p.rings.contains_key(&l) && p.rings.len() > 1 {
                p.rings.remove(&l);
            } else {
                let levels: Vec<u8> = p.rings.keys().copied().collect();
                let r = gen_ring(rng, l, &levels);
                p.rings.insert(l, r);
            }
        }
        other => {
            let Some(r) = p.rings.get_mut(&level) else {
                return;
            };
            if r.unconfined {
                *r = gen_ring(rng, level, &levels);
                return;
            }
            match other {
                8 => {
                    if !r.allows.is_empty() && rng.chance(50) {
                        let i = rng.below(r.allows.len());
                        r.allows.remove(i);
                    } else {
                        r.allows.push(gen_allow(rng));
                    }
                }
                9 => {
                    if let Some(a) = r.allows.iter_mut().find(|a| !a.shorthand) {
                        a.platform = rng.some(50, &["linux", "macos"]);
                    } else if let Some(a) = r.allows.first_mut() {
                        a.path = rng.pick(ALLOW_PATHS);
                    }
                }
                10 => {
                    if !r.denies.is_empty() && rng.chance(50) {
                        let i = rng.below(r.denies.len());
                        r.denies.remove(i);
                    } else {
                        r.denies.push(gen_deny(rng));
                    }
                }
                11 => r.net = rng.chance(80).then(|| gen_net(rng)),
                12 => r.process = rng.chance(80).then(|| gen_proc(rng)),
                13 => {
                    let s = r.sys.get_or_insert_with(Sys::default);
                    match rng.below(6) {
                        0 => s.default_deny = rng.some(70, &[false, true]),
                        1 => s.deny_action = rng.some(70, ACTIONS),
                        2 => s.errno = rng.some(70, ERRNOS),
                        3 => s.hardening = !s.hardening,
                        4 => {
                            if !s.deny.is_empty() && rng.chance(50) {
                                s.deny.pop();
                            } else {
                                s.deny.push(gen_sys_rule(rng));
                            }
                        }
                        _ => s.allow = rng.subset(3, ALLOW_SYSCALLS),
                    }
                }
                15 => {
                    let n = r.net.get_or_insert_with(Net::default);
                    if !n.unix.is_empty() && rng.chance(40) {
                        n.unix.pop();
                    } else {
                        n.unix.push(rng.pick(ALLOW_PATHS));
                    }
                }
                16 => {
                    let p = r.process.get_or_insert_with(Proc::default);
                    if !p.capabilities.is_empty() && rng.chance(40) {
                        p.capabilities.pop();
                    } else {
                        p.capabilities.push(rng.pick(CAPABILITIES));
                    }
                }
                14 => {
                    let parents: Vec<u8> = levels.iter().copied().filter(|l| *l > level).collect();
                    r.extends = if parents.is_empty() {
                        None
                    } else {
                        rng.some(60, &parents)
                    };
                }
                _ => {
                    if level == 0 {
                        r.unconfined = true;
                    } else {
                        *r = gen_ring(rng, level, &levels);
                    }
                }
            }
        }
    }
}

/// Edits that tighten or change no verdict: the kinds reviewers were trained to wave through
/// when they were reported as gains.
fn neutral_edit(rng: &mut Rng, p: &mut Policy) -> bool {
    let levels: Vec<u8> = p.rings.keys().copied().collect();
    let level = rng.pick(&levels);
    let kind = rng.below(6);
    if kind == 4 {
        // A macOS-only deny made general.
        let global = p.global.iter_mut();
        let own = p.rings.values_mut().flat_map(|r| r.denies.iter_mut());
        return match global.chain(own).find(|d| d.platform == Some("macos")) {
            Some(d) => {
                d.platform = None;
                true
            }
            None => false,
        };
    }
    let Some(r) = p.rings.get_mut(&level) else {
        return false;
    };
    if r.unconfined {
        return false;
    }
    match kind {
        // `restricted` -> `blocked` takes every TCP socket away; it tightens only where the
        // ring may bind a port, since `restricted` without `bind_tcp` also denies `listen()`
        // on every socket, which `blocked` leaves to the sockets the ring may create.
        0 => match &mut r.net {
            Some(n) if n.mode == Some("restricted") && !n.bind.is_empty() => {
                *n = Net {
                    mode: Some("blocked"),
                    unix: std::mem::take(&mut n.unix),
                    ..Net::default()
                };
                true
            }
            _ => false,
        },
        1 => {
            let s = r.sys.get_or_insert_with(Sys::default);
            if s.deny_action.is_none_or(|a| a == "errno") {
                s.deny_action = Some("kill_process");
                true
            } else {
                false
            }
        }
        2 => {
            let s = r.sys.get_or_insert_with(Sys::default);
            if s.errno.is_none_or(|e| e == "EPERM") {
                s.errno = Some("ENOSYS");
                true
            } else {
                false
            }
        }
        3 => match r.allows.iter_mut().find(|a| a.platform.is_none()) {
            Some(a) => {
                a.shorthand = false;
                a.platform = Some("linux");
                true
            }
            None => false,
        },
        _ => match &mut r.net {
            Some(n) if n.mode == Some("allowed") => {
                *n = Net {
                    mode: Some("restricted"),
                    udp: Some(true),
                    unix: std::mem::take(&mut n.unix),
                    ..Net::default()
                };
                true
            }
            _ => false,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The truth

fn compile(text: &str) -> Option<Ir> {
    nonoc::analyze("policy.yaml", text.as_bytes()).ir
}

/// Binds as the runtime does: the caller's value, else the environment's, else the default.
fn bind(ir: &Ir, caller: &BTreeMap<&str, &str>, env: &BTreeMap<&str, &str>) -> BoundVariables {
    let mut b: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..=ir.variables.len() {
        for (name, var) in &ir.variables {
            if b.contains_key(name) {
                continue;
            }
            let bound: BoundVariables = b.clone().into_iter().collect();
            let value = caller
                .get(name.as_str())
                .map(|v| (*v).to_owned())
                .or_else(|| {
                    var.env
                        .as_deref()
                        .and_then(|e| env.get(e))
                        .map(|v| (*v).to_owned())
                })
                .or_else(|| var.default.as_ref().and_then(|d| d.expand(&bound)));
            if let Some(value) = value {
                b.insert(name.clone(), value);
            }
        }
    }
    b.into_iter().collect()
}

/// The worlds the truth asks in: the defaults, random environments, random caller values.
fn truth_worlds(rng: &mut Rng, old: &Ir, new: &Ir) -> Vec<(BoundVariables, BoundVariables)> {
    let none = BTreeMap::new();
    let mut worlds = vec![(bind(old, &none, &none), bind(new, &none, &none))];
    for i in 0..6 {
        let mut env: BTreeMap<&str, &str> = BTreeMap::new();
        for e in ENVS {
            if rng.chance(60) {
                env.insert(e, rng.pick(VALUES));
            }
        }
        let mut caller: BTreeMap<&str, &str> = BTreeMap::new();
        if i >= 3 {
            for n in old.variables.keys() {
                if new.variables.contains_key(n) && rng.chance(70) {
                    caller.insert(n.as_str(), rng.pick(VALUES));
                }
            }
        }
        worlds.push((bind(old, &caller, &env), bind(new, &caller, &env)));
    }
    worlds
}

fn truth_requests(rng: &mut Rng) -> Vec<Request> {
    const NAMES: &[&str] = &[
        "a",
        "b",
        "c",
        "bc",
        "d",
        "e",
        "f",
        "x",
        "y",
        "z",
        ".env",
        ".env.example",
        "q",
    ];
    let mut paths: BTreeSet<String> = ["/".to_owned()].into();
    for root in VALUES
        .iter()
        .chain(ALLOW_PATHS.iter().filter(|p| !p.contains('$')))
    {
        paths.insert((*root).to_owned());
    }
    for _ in 0..120 {
        let mut p = if rng.chance(50) {
            rng.pick(VALUES).to_owned()
        } else {
            String::new()
        };
        for _ in 0..rng.below(4) + 1 {
            if p == "/" {
                p.clear();
            }
            p = format!("{p}/{}", rng.pick(NAMES));
        }
        paths.insert(p);
    }
    let mut out = Vec::new();
    for p in &paths {
        let Ok(path) = PathTemplate::parse(p) else {
            continue;
        };
        for _ in 0..3 {
            out.push(Request::Path {
                path: path.clone(),
                access: rng.pick(&Right::ALL),
                platform: Some(rng.pick(&[Platform::Linux, Platform::Macos])),
            });
        }
        out.push(Request::UnixConnect {
            path: path.clone(),
            platform: Some(rng.pick(&[Platform::Linux, Platform::Macos])),
        });
    }
    for port in [0, 1, 21, 22, 23, 53, 80, 443, 8080, 9999, 65535] {
        out.push(Request::ConnectTcp { port });
        out.push(Request::BindTcp { port });
    }
    out.push(Request::Udp);
    out.push(Request::Fork);
    out.push(Request::Ptrace);
    for scope in [SignalScope::Own, SignalScope::Sandbox, SignalScope::Any] {
        out.push(Request::Signal { scope });
    }
    for family in [ListenFamily::Tcp, ListenFamily::Unix] {
        out.push(Request::Listen { family });
    }
    for capability in Capability::ALL {
        out.push(Request::Capability {
            capability: *capability,
        });
    }
    const REQUEST_ARGS: &[u64] = &[
        0,
        1,
        2,
        3,
        6,
        10,
        16,
        17,
        0xf,
        0x10,
        0x1_0000,
        0x1_0011,
        0x1000_0000,
        0x1001_0000,
        0x7E02_0080,
        0xffff_ffff,
        0x1_0000_0002,
        u64::MAX,
    ];
    let names: Vec<&str> = RULE_SYSCALLS
        .iter()
        .chain(ALLOW_SYSCALLS)
        .chain(&[
            "fork",
            "vfork",
            "clone3",
            "process_vm_readv",
            "io_uring_setup",
            "bpf",
        ])
        .copied()
        .collect();
    for name in &names {
        out.push(Request::Syscall {
            name: (*name).to_owned(),
            args: Vec::new(),
        });
        for _ in 0..12 {
            out.push(Request::Syscall {
                name: (*name).to_owned(),
                args: (0..3).map(|_| rng.pick(REQUEST_ARGS)).collect(),
            });
        }
    }
    out
}

/// The pairs of rings the truth compares: every level, and what every score 0..=1000 selects.
fn truth_pairs(old: &Ir, new: &Ir) -> BTreeSet<(Option<u8>, Option<u8>)> {
    let mut pairs: BTreeSet<(Option<u8>, Option<u8>)> = old
        .rings
        .keys()
        .chain(new.rings.keys())
        .map(|l| {
            (
                old.rings.contains_key(l).then_some(*l),
                new.rings.contains_key(l).then_some(*l),
            )
        })
        .collect();
    for score in 0..=1000 {
        let pair = (
            old.ring_for_trust_score(score),
            new.ring_for_trust_score(score),
        );
        if pair != (None, None) {
            pairs.insert(pair);
        }
    }
    pairs
}

/// Whether the runtime applies a ring with these values: there is one, and it is unconfined or
/// every variable it uses is bound (POLICY-LANGUAGE.md: otherwise it refuses).
fn applies(ir: &Ir, level: Option<u8>, b: &BoundVariables) -> bool {
    level
        .and_then(|l| ir.rings.get(&l))
        .is_some_and(|r| r.unconfined || nonoc::ir::unbound_variable(r, b).is_none())
}

/// `decide`, where no ring, or a ring that cannot be applied, denies everything.
fn truth(ir: &Ir, level: Option<u8>, request: &Request, b: &BoundVariables) -> Verdict {
    match level.and_then(|l| ir.rings.get(&l)) {
        Some(ring) if applies(ir, level, b) => nonoc::ir::decide(ring, request, b).verdict,
        _ => Verdict::Deny,
    }
}

/// One escalation `decide` shows.
#[derive(Debug)]
struct Missed {
    pair: (Option<u8>, Option<u8>),
    request: Request,
    old: BoundVariables,
    new: BoundVariables,
}

fn escalations(rng: &mut Rng, old: &Ir, new: &Ir) -> Vec<Missed> {
    let worlds = truth_worlds(rng, old, new);
    let requests = truth_requests(rng);
    let mut found = Vec::new();
    for pair in truth_pairs(old, new) {
        // Whether each side can be applied, once per world: the same for every request.
        let applies: Vec<(bool, bool)> = worlds
            .iter()
            .map(|(a, b)| (applies(old, pair.0, a), applies(new, pair.1, b)))
            .collect();
        // The first escalation of the pair, and the first of each kind held one by one.
        let mut first = true;
        let mut kinds: BTreeSet<&str> = BTreeSet::new();
        for request in &requests {
            let kind = held_kind(request);
            if !first && kind.is_none_or(|k| kinds.contains(k)) {
                continue;
            }
            for ((a, b), (x, y)) in worlds.iter().zip(&applies) {
                if !*y {
                    continue;
                }
                let allowed = |ir: &Ir, level: Option<u8>, applies: bool, b: &BoundVariables| {
                    applies
                        && level.and_then(|l| ir.rings.get(&l)).is_some_and(|ring| {
                            nonoc::ir::decide(ring, request, b).verdict == Verdict::Allow
                        })
                };
                if !allowed(old, pair.0, *x, a) && allowed(new, pair.1, *y, b) {
                    found.push(Missed {
                        pair,
                        request: request.clone(),
                        old: a.clone(),
                        new: b.clone(),
                    });
                    first = false;
                    kinds.extend(kind);
                    break;
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// The checks

/// Every gain and loss with evidence is shown by it: asked again, `decide` answers as it says.
fn check_evidence(diff: &PolicyDiff, old: &Ir, new: &Ir) -> Result<(), String> {
    let findings = diff
        .comparisons
        .iter()
        .flat_map(|c| {
            c.changes
                .gains
                .iter()
                .map(|f| (true, f))
                .chain(c.changes.losses.iter().map(|f| (false, f)))
        })
        .chain(diff.policy.gains.iter().map(|f| (true, f)))
        .chain(diff.policy.losses.iter().map(|f| (false, f)));
    for (gain, finding) in findings {
        for e in &finding.evidence {
            let p = &e.probe;
            let Some(request) = &p.request else {
                return Err(format!("evidence without a request: {}", finding.text));
            };
            let a = truth(old, p.old_ring, request, &p.old_bindings);
            let b = truth(new, p.new_ring, request, &p.new_bindings);
            let shown = if gain {
                (a, b) == (Verdict::Deny, Verdict::Allow)
            } else {
                (a, b) == (Verdict::Allow, Verdict::Deny)
            };
            if !shown {
                return Err(format!(
                    "`{}` is not shown by its evidence `{}`: old {a:?}, new {b:?}",
                    finding.text,
                    e.sentence()
                ));
            }
        }
    }
    for c in &diff.comparisons {
        for f in &c.changes.gains {
            if f.evidence.is_empty() && !f.text.starts_with("unconfined") {
                return Err(format!("gain without evidence: {}", f.text));
            }
        }
    }
    Ok(())
}

/// The request kinds whose escalations are held one by one (the others, one per pair): listen,
/// unix sockets and capabilities, whose grants also change syscall rules that could report
/// a gain in their place.
fn held_kind(request: &Request) -> Option<&'static str> {
    match request {
        Request::Listen { .. } => Some("listen"),
        Request::UnixConnect { .. } => Some("unix_connect"),
        Request::Capability { .. } => Some("capability"),
        _ => None,
    }
}

/// Every escalation the truth finds is reported on its pair of rings, or as an `env` change
/// that cannot be compared; one of a kind held one by one, as a gain shown by a request of
/// that kind, unless the gain is the whole ring (it now applies, or is unconfined).
fn check_escalations(diff: &PolicyDiff, missed: &[Missed]) -> Result<(), String> {
    let env_gain = diff
        .policy
        .gains
        .iter()
        .any(|f| f.area == nonoc::diff::Area::Variables && f.text.contains(" env "));
    for m in missed {
        let mut gains = diff
            .comparisons
            .iter()
            .filter(|c| (c.old_ring, c.new_ring) == m.pair)
            .flat_map(|c| &c.changes.gains);
        let on_pair = match held_kind(&m.request) {
            None => gains.next().is_some(),
            Some(kind) => gains.any(|f| {
                f.area == nonoc::diff::Area::Ring
                    || f.evidence.iter().any(|e| {
                        e.probe
                            .request
                            .as_ref()
                            .is_some_and(|r| held_kind(r) == Some(kind))
                    })
            }),
        };
        if !diff.escalation || !(on_pair || env_gain) {
            return Err(format!(
                "missed escalation on {:?}: {:?} (old bindings {:?}, new {:?})",
                m.pair, m.request, m.old, m.new
            ));
        }
    }
    Ok(())
}

fn cases() -> u64 {
    std::env::var("NONOC_DIFF_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

#[test]
fn diff_misses_no_escalation_that_decide_shows() {
    let (mut valid, mut escalating, mut reported) = (0, 0, 0);
    let (mut diff_time, mut truth_time) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for seed in 0..cases() {
        let mut rng = Rng(seed);
        let old = gen_policy(&mut rng);
        let mut new = old.clone();
        for _ in 0..rng.below(3) + 1 {
            edit(&mut rng, &mut new);
        }
        let (old_text, new_text) = (old.yaml(), new.yaml());
        let (Some(a), Some(b)) = (compile(&old_text), compile(&new_text)) else {
            continue;
        };
        valid += 1;
        let t = std::time::Instant::now();
        let diff = compare(&a, &b);
        diff_time += t.elapsed();
        let t = std::time::Instant::now();
        let missed = escalations(&mut rng, &a, &b);
        truth_time += t.elapsed();
        escalating += usize::from(!missed.is_empty());
        reported += usize::from(diff.escalation);
        let result = check_escalations(&diff, &missed).and_then(|()| check_evidence(&diff, &a, &b));
        if let Err(why) = result {
            panic!(
                "seed {seed}: {why}\n--- OLD\n{old_text}--- NEW\n{new_text}--- diff\n{}",
                diff.render()
            );
        }
    }
    eprintln!(
        "{valid} valid pairs of {}, {escalating} with an escalation decide shows, {reported} reported; diff {diff_time:?}, truth {truth_time:?}",
        cases()
    );
    // The generator must make mostly valid policies, and edits that escalate.
    assert!(valid * 2 > cases() as usize, "{valid} valid of {}", cases());
    assert!(escalating * 5 > valid, "{escalating} escalating of {valid}");
}

#[test]
fn tightening_and_verdict_neutral_edits_report_no_gain() {
    let mut checked = 0;
    for seed in 0..cases() {
        let mut rng = Rng(seed ^ 0x5eed);
        let old = gen_policy(&mut rng);
        let mut new = old.clone();
        let mut edited = false;
        for _ in 0..4 {
            edited |= neutral_edit(&mut rng, &mut new);
        }
        if !edited {
            continue;
        }
        let (old_text, new_text) = (old.yaml(), new.yaml());
        let (Some(a), Some(b)) = (compile(&old_text), compile(&new_text)) else {
            continue;
        };
        checked += 1;
        let diff = compare(&a, &b);
        if diff.escalation || diff.gains > 0 {
            panic!(
                "seed {seed}: a tightening is reported as a gain\n--- OLD\n{old_text}--- NEW\n{new_text}--- diff\n{}",
                diff.render()
            );
        }
        check_evidence(&diff, &a, &b).unwrap_or_else(|why| panic!("seed {seed}: {why}"));
    }
    assert!(checked * 4 > cases() as usize, "only {checked} checked");
}

/// `answer`, the verdict the comparison asks for one side: a ring whose variable is unbound is
/// refused by the runtime and answers deny; bound, it answers as `decide` does.
#[test]
fn answer_refuses_a_ring_with_an_unbound_variable() {
    let ir = compile(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: g }\nvariables:\n  v: { env: ENV_A }\nrings:\n  1:\n    filesystem:\n      read: ['${v}']\n",
    )
    .unwrap_or_else(|| panic!("the policy compiles"));
    let ring = ir.rings.get(&1);
    let signal = Request::Signal {
        scope: SignalScope::Own,
    };
    assert_eq!(
        answer(ring, &signal, &BoundVariables::default()).verdict,
        Verdict::Deny
    );
    let bound: BoundVariables = [("v".to_owned(), "/a".to_owned())].into_iter().collect();
    assert_eq!(answer(ring, &signal, &bound).verdict, Verdict::Allow);
}
