//! `nonoc diff OLD NEW [--fail-on-escalation]`: per ring, the rights gained and lost, computed
//! on the two IRs (not on the text).
//!
//! The comparison is exact and simple, not a decision diff: filesystem rules are compared as
//! sets of (effect, target, right, except, platform) tuples per ring, so an allow of `/tmp`
//! added next to an existing allow of `/` is reported as a gain although `decide` answers the
//! same. Gains are new allows and removed denies (and, for a deny kept on the same target and
//! right, an except added); losses the reverse. An escalation is any gain.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use super::common::{Context, Exit, Format, Outcome, load_ir};
use crate::diagnostic::terminal_safe;
use crate::ir::{
    AccessSet, ArgCondition, ArgOp, Effect, FsTarget, Ir, Platform, Right, Ring, SyscallAction,
    action_name,
};
use crate::syntax::NetworkMode;

/// Arguments of `nonoc diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    pub old: PathBuf,
    pub new: PathBuf,
    /// Exit 1 when any right is gained.
    #[arg(long)]
    pub fail_on_escalation: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `nonoc diff`: 0, or 1 with `fail_on_escalation` when a right is gained; 1 when either
/// policy has errors; 2 when a file cannot be read.
pub fn run(args: &DiffArgs, ctx: &mut Context<'_>) -> Outcome {
    // Both are read first, so the diagnostics of both are shown.
    let old = load_ir(&args.old, ctx).map_err(|e| e.report(ctx.err));
    let new = load_ir(&args.new, ctx).map_err(|e| e.report(ctx.err));
    let (old_ir, new_ir) = match (old, new) {
        (Ok((_, a)), Ok((_, b))) => (a, b),
        (a, b) => return Ok(a.err().max(b.err()).unwrap_or(Exit::Ok)),
    };
    let result = compare(&old_ir, &new_ir);
    // `sarif` is for `check`: anything but JSON is for people.
    if args.format == Format::Json {
        let _ = serde_json::to_writer_pretty(&mut *ctx.out, &result);
        let _ = writeln!(ctx.out);
    } else {
        let _ = ctx
            .out
            .write_all(terminal_safe(&result.render()).as_bytes());
    }
    if args.fail_on_escalation && result.escalation {
        Ok(Exit::Failed)
    } else {
        Ok(Exit::Ok)
    }
}

/// The difference between two policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyDiff {
    /// Rings with a change, by level.
    pub rings: BTreeMap<u8, Changes>,
    pub trust_tiers: Changes,
    pub gains: usize,
    pub losses: usize,
    pub escalation: bool,
}

/// What changed in one place: gains, losses, and notes (changes that are neither).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub gains: Vec<Change>,
    pub losses: Vec<Change>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `filesystem`, `network`, `process`, `syscalls`, `ring`, `trust_tiers`.
    pub area: &'static str,
    pub text: String,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.gains.is_empty() && self.losses.is_empty() && self.notes.is_empty()
    }

    fn gain(&mut self, area: &'static str, text: String) {
        self.gains.push(Change { area, text });
    }

    fn loss(&mut self, area: &'static str, text: String) {
        self.losses.push(Change { area, text });
    }

    /// A gain when `gained`, else a loss.
    fn record(&mut self, gained: bool, area: &'static str, text: String) {
        if gained {
            self.gain(area, text);
        } else {
            self.loss(area, text);
        }
    }
}

/// Compares two IRs.
pub fn compare(old: &Ir, new: &Ir) -> PolicyDiff {
    let mut rings = BTreeMap::new();
    let tier_rings: BTreeSet<u8> = new.trust_tiers.iter().map(|t| t.ring).collect();
    let levels: BTreeSet<u8> = old.rings.keys().chain(new.rings.keys()).copied().collect();
    for level in levels {
        let mut changes = Changes::default();
        match (old.rings.get(&level), new.rings.get(&level)) {
            (Some(a), Some(b)) => compare_ring(a, b, &mut changes),
            (None, Some(b)) => {
                let what = if b.unconfined {
                    "ring added, unconfined".to_owned()
                } else {
                    "ring added".to_owned()
                };
                if b.unconfined {
                    changes.gain("ring", what);
                } else if tier_rings.contains(&level) {
                    changes.gain("ring", format!("{what}, selected by a trust tier"));
                } else {
                    changes
                        .notes
                        .push(format!("{what}, selected by no trust tier"));
                }
            }
            (Some(_), None) => changes.loss("ring", "ring removed".to_owned()),
            (None, None) => {}
        }
        if !changes.is_empty() {
            rings.insert(level, changes);
        }
    }
    let trust_tiers = compare_tiers(old, new);
    let gains = rings.values().map(|c| c.gains.len()).sum::<usize>() + trust_tiers.gains.len();
    let losses = rings.values().map(|c| c.losses.len()).sum::<usize>() + trust_tiers.losses.len();
    PolicyDiff {
        rings,
        trust_tiers,
        gains,
        losses,
        escalation: gains > 0,
    }
}

fn compare_ring(old: &Ring, new: &Ring, changes: &mut Changes) {
    match (old.unconfined, new.unconfined) {
        (false, true) => {
            changes.gain("ring", "now unconfined".to_owned());
            return;
        }
        (true, false) => {
            changes.loss("ring", "no longer unconfined".to_owned());
            return;
        }
        (true, true) => return,
        (false, false) => {}
    }
    compare_filesystem(old, new, changes);
    compare_network(old, new, changes);
    compare_process(old, new, changes);
    compare_syscalls(old, new, changes);
}

/// A filesystem rule cut to one right, without its origin.
type FsKey = (Effect, FsTarget, Option<Platform>, Right);

/// Per (effect, target, platform, right): the except lists it has (several rules may share a
/// key, as a global deny and a ring's own).
fn fs_tuples(ring: &Ring) -> BTreeMap<FsKey, BTreeSet<Vec<FsTarget>>> {
    let mut map: BTreeMap<FsKey, BTreeSet<Vec<FsTarget>>> = BTreeMap::new();
    for rule in &ring.filesystem {
        let mut except = rule.except.clone();
        except.sort();
        except.dedup();
        for right in rule.access.iter() {
            map.entry((rule.effect, rule.target.clone(), rule.platform, right))
                .or_default()
                .insert(except.clone());
        }
    }
    map
}

/// One line of filesystem change, before rights sharing a line are merged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FsLine {
    gain: bool,
    /// `allow`, `allow removed`, `deny removed`, `deny added`, `deny no longer covers`, ...
    what: &'static str,
    target: FsTarget,
    platform: Option<Platform>,
    detail: String,
}

fn compare_filesystem(old: &Ring, new: &Ring, changes: &mut Changes) {
    let (a, b) = (fs_tuples(old), fs_tuples(new));
    let mut lines: BTreeMap<FsLine, AccessSet> = BTreeMap::new();
    let mut add = |gain: bool, what: &'static str, key: &FsKey, detail: String| {
        let line = FsLine {
            gain,
            what,
            target: key.1.clone(),
            platform: key.2,
            detail,
        };
        let set = lines.entry(line).or_default();
        *set = set.union(key.3.into());
    };
    let excepts = |e: &[FsTarget]| {
        if e.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = e.iter().map(FsTarget::text).collect();
            format!(" (except {})", names.join(", "))
        }
    };
    for key in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
        let empty = BTreeSet::new();
        let before = a.get(key).unwrap_or(&empty);
        let after = b.get(key).unwrap_or(&empty);
        if before == after {
            continue;
        }
        match key.0 {
            Effect::Allow => {
                // Excepts are for denies: an allow is present or not.
                if before.is_empty() {
                    add(true, "allow", key, String::new());
                } else if after.is_empty() {
                    add(false, "allow removed:", key, String::new());
                }
            }
            Effect::Deny => {
                if let (Some(x), Some(y), 1, 1) =
                    (before.first(), after.first(), before.len(), after.len())
                {
                    // One deny on both sides: compare its excepts.
                    for e in y.iter().filter(|e| !x.contains(e)) {
                        add(
                            true,
                            "deny no longer covers",
                            key,
                            format!(" (new except {})", e.text()),
                        );
                    }
                    for e in x.iter().filter(|e| !y.contains(e)) {
                        add(
                            false,
                            "deny now covers",
                            key,
                            format!(" (except {} removed)", e.text()),
                        );
                    }
                    continue;
                }
                for e in before.difference(after) {
                    add(true, "deny removed:", key, excepts(e));
                }
                for e in after.difference(before) {
                    add(false, "deny added:", key, excepts(e));
                }
            }
        }
    }
    for (line, access) in lines {
        let platform = match line.platform {
            None => String::new(),
            Some(Platform::Linux) => " [linux]".to_owned(),
            Some(Platform::Macos) => " [macos]".to_owned(),
        };
        let text = format!(
            "{} {} on {}{}{platform}",
            line.what,
            access.describe(),
            line.target.text(),
            line.detail
        );
        changes.record(line.gain, "filesystem", text);
    }
}

fn ports(list: &[u16]) -> String {
    list.iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn compare_network(old: &Ring, new: &Ring, changes: &mut Changes) {
    let (a, b) = (&old.network, &new.network);
    if a.mode != b.mode {
        // The port lists of a `restricted` side, which the mode change brings or takes away.
        let lists = |n: &crate::ir::Network| {
            let list = |p: &[u16]| {
                if p.is_empty() {
                    "none".to_owned()
                } else {
                    ports(p)
                }
            };
            format!(
                "connect_tcp {}; bind_tcp {}",
                list(&n.connect_tcp),
                list(&n.bind_tcp)
            )
        };
        let detail = match (a.mode, b.mode) {
            (_, NetworkMode::Restricted) => format!(" ({})", lists(b)),
            (NetworkMode::Restricted, _) => format!(" (was {})", lists(a)),
            _ => String::new(),
        };
        let text = format!(
            "network mode {} -> {}{detail}",
            a.mode.name(),
            b.mode.name()
        );
        changes.record(b.mode > a.mode, "network", text);
    }
    // Ports matter where the mode is `restricted`; a mode change above covers the rest.
    if a.mode == NetworkMode::Restricted && b.mode == NetworkMode::Restricted {
        for (name, x, y) in [
            ("connect_tcp", &a.connect_tcp, &b.connect_tcp),
            ("bind_tcp", &a.bind_tcp, &b.bind_tcp),
        ] {
            let added: Vec<u16> = y.iter().filter(|p| !x.contains(p)).copied().collect();
            let removed: Vec<u16> = x.iter().filter(|p| !y.contains(p)).copied().collect();
            if !added.is_empty() {
                changes.gain("network", format!("{name} {}", ports(&added)));
            }
            if !removed.is_empty() {
                changes.loss("network", format!("{name} {} removed", ports(&removed)));
            }
        }
    }
    if a.udp != b.udp {
        if b.udp {
            changes.gain("network", "udp allowed".to_owned());
        } else {
            changes.loss("network", "udp no longer allowed".to_owned());
        }
    }
    let grants = |n: &crate::ir::Network| -> BTreeSet<String> {
        n.unix_connect
            .iter()
            .map(|g| g.path.as_str().to_owned())
            .collect()
    };
    let (x, y) = (grants(a), grants(b));
    for path in y.difference(&x) {
        changes.gain("network", format!("unix_connect {path}"));
    }
    for path in x.difference(&y) {
        changes.loss("network", format!("unix_connect {path} removed"));
    }
}

fn compare_process(old: &Ring, new: &Ring, changes: &mut Changes) {
    let (a, b) = (&old.process, &new.process);
    for (name, x, y) in [("fork", a.fork, b.fork), ("ptrace", a.ptrace, b.ptrace)] {
        if x != y {
            if y {
                changes.gain("process", format!("{name} allowed"));
            } else {
                changes.loss("process", format!("{name} no longer allowed"));
            }
        }
    }
    if a.signals != b.signals {
        let text = format!("signals {} -> {}", a.signals.name(), b.signals.name());
        changes.record(b.signals > a.signals, "process", text);
    }
    for cap in b
        .capabilities
        .iter()
        .filter(|c| !a.capabilities.contains(c))
    {
        changes.gain("process", format!("capability {cap} kept"));
    }
    for cap in a
        .capabilities
        .iter()
        .filter(|c| !b.capabilities.contains(c))
    {
        changes.loss("process", format!("capability {cap} no longer kept"));
    }
}

fn op_text(op: ArgOp) -> &'static str {
    match op {
        ArgOp::Eq => "==",
        ArgOp::Ne => "!=",
        ArgOp::Lt => "<",
        ArgOp::Le => "<=",
        ArgOp::Gt => ">",
        ArgOp::Ge => ">=",
        ArgOp::MaskedEq => "&mask ==",
        ArgOp::MaskedNe => "&mask !=",
        ArgOp::AnyBits => "has any of",
        ArgOp::AllBits => "has all of",
    }
}

fn condition_text(c: &ArgCondition) -> String {
    match c.mask {
        Some(mask) => format!(
            "arg{} & {mask:#x} {} {:#x}",
            c.index,
            op_text(c.op).trim_start_matches("&mask "),
            c.value
        ),
        None => format!("arg{} {} {:#x}", c.index, op_text(c.op), c.value),
    }
}

/// A deny rule without its origin: name, conditions, action.
type SyscallKey = (String, Vec<ArgCondition>, SyscallAction);

fn rule_text(key: &SyscallKey) -> String {
    let args = if key.1.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = key.1.iter().map(condition_text).collect();
        format!(" when {}", parts.join(" and "))
    };
    format!("{}{args} -> {}", key.0, action_name(key.2))
}

fn compare_syscalls(old: &Ring, new: &Ring, changes: &mut Changes) {
    let (a, b) = (&old.syscalls, &new.syscalls);
    let default = |s: &crate::ir::Syscalls| {
        if s.default_allow {
            "allow".to_owned()
        } else {
            action_name(s.deny_action)
        }
    };
    let strictness = |s: &crate::ir::Syscalls| {
        if s.default_allow {
            0
        } else {
            s.deny_action.strictness()
        }
    };
    if default(a) != default(b) {
        let text = format!("syscall default {} -> {}", default(a), default(b));
        changes.record(strictness(b) < strictness(a), "syscalls", text);
    }
    // The allow list decides only under `default: deny`.
    if !a.default_allow && !b.default_allow {
        for name in b.allow.iter().filter(|n| !a.allow.contains(n)) {
            changes.gain("syscalls", format!("syscall {name} allowed"));
        }
        for name in a.allow.iter().filter(|n| !b.allow.contains(n)) {
            changes.loss("syscalls", format!("syscall {name} no longer allowed"));
        }
    }
    let keys = |s: &crate::ir::Syscalls| -> BTreeSet<SyscallKey> {
        s.deny
            .iter()
            .map(|r| {
                let mut args = r.args.clone();
                args.sort();
                (r.name.clone(), args, r.action)
            })
            .collect()
    };
    let (x, y) = (keys(a), keys(b));
    for key in x.difference(&y) {
        changes.gain("syscalls", format!("deny removed: {}", rule_text(key)));
    }
    for key in y.difference(&x) {
        changes.loss("syscalls", format!("deny added: {}", rule_text(key)));
    }
}

fn ring_text(ring: Option<u8>) -> String {
    ring.map_or_else(|| "no ring".to_owned(), |r| format!("ring {r}"))
}

fn compare_tiers(old: &Ir, new: &Ir) -> Changes {
    let mut changes = Changes::default();
    // Score moves: where the selected ring differs, a lower-numbered ring is more privileged.
    let mut moves: Vec<(u16, u16, Option<u8>, Option<u8>)> = Vec::new();
    for score in 0..=1000u16 {
        let (a, b) = (
            old.ring_for_trust_score(score),
            new.ring_for_trust_score(score),
        );
        if a == b {
            continue;
        }
        match moves.last_mut() {
            Some(last) if last.1 + 1 == score && last.2 == a && last.3 == b => last.1 = score,
            _ => moves.push((score, score, a, b)),
        }
    }
    for (from, to, a, b) in moves {
        let tier = new
            .trust_tiers
            .iter()
            .filter(|t| t.min_score <= from)
            .max_by_key(|t| t.min_score)
            .map(|t| format!(" (tier `{}`)", t.name))
            .unwrap_or_default();
        let text = format!(
            "scores {from}..={to}: {} -> {}{tier}",
            ring_text(a),
            ring_text(b)
        );
        let escalates = match (a, b) {
            (None, Some(_)) => true,
            (Some(x), Some(y)) => y < x,
            _ => false,
        };
        changes.record(escalates, "trust_tiers", text);
    }
    let by_name = |ir: &Ir| -> BTreeMap<String, (u16, u8)> {
        ir.trust_tiers
            .iter()
            .map(|t| (t.name.clone(), (t.min_score, t.ring)))
            .collect()
    };
    let (a, b) = (by_name(old), by_name(new));
    for (name, (score, ring)) in &b {
        match a.get(name) {
            None => changes.notes.push(format!(
                "tier `{name}` added (min_score {score}, ring {ring})"
            )),
            Some(was) if was != &(*score, *ring) => {
                let mut what = Vec::new();
                if was.0 != *score {
                    what.push(format!("min_score {} -> {score}", was.0));
                }
                if was.1 != *ring {
                    what.push(format!("ring {} -> {ring}", was.1));
                }
                changes
                    .notes
                    .push(format!("tier `{name}` changed: {}", what.join(", ")));
            }
            Some(_) => {}
        }
    }
    for (name, (score, ring)) in &a {
        if !b.contains_key(name) {
            changes.notes.push(format!(
                "tier `{name}` removed (was min_score {score}, ring {ring})"
            ));
        }
    }
    changes
}

impl PolicyDiff {
    /// People's output: per ring `ring N:` and its `+` gains and `-` losses; a summary line.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let mut section = |title: String, c: &Changes| {
            let _ = writeln!(s, "{title}:");
            for g in &c.gains {
                let _ = writeln!(s, "  + {}", g.text);
            }
            for l in &c.losses {
                let _ = writeln!(s, "  - {}", l.text);
            }
            for n in &c.notes {
                let _ = writeln!(s, "  ~ {n}");
            }
        };
        for (level, c) in &self.rings {
            section(format!("ring {level}"), c);
        }
        if !self.trust_tiers.is_empty() {
            section("trust tiers".to_owned(), &self.trust_tiers);
        }
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if self.gains == 0 && self.losses == 0 {
            if self.rings.is_empty() && self.trust_tiers.is_empty() {
                let _ = writeln!(s, "no change in rights");
            } else {
                let _ = writeln!(s, "no change in rights (see the notes)");
            }
        } else {
            let _ = writeln!(
                s,
                "{}, {}: {}",
                plural(self.gains, "gain", "gains"),
                plural(self.losses, "loss", "losses"),
                if self.escalation {
                    "escalation"
                } else {
                    "no escalation"
                }
            );
        }
        s
    }
}
