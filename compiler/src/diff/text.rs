//! What changed in a ring's text, as notes: the reader sees every edit, and the gains and
//! losses say which of them changed a verdict.

use std::collections::BTreeSet;

use nonoc_runtime::hosts::Private;

use crate::ir::{
    ArgCondition, ArgOp, Capability, Effect, FsRule, HostGrant, Ring, SyscallAction, SyscallRule,
    UnixGrant, action_name,
};

/// The edits from one ring to the other of the same level.
pub(super) fn ring_notes(old: &Ring, new: &Ring) -> Vec<String> {
    let mut notes = Vec::new();
    if old.unconfined != new.unconfined {
        notes.push(format!(
            "unconfined {} -> {}",
            old.unconfined, new.unconfined
        ));
        return notes;
    }
    if old.extends != new.extends {
        let chain = |c: &[u8]| {
            if c.is_empty() {
                "nothing".to_owned()
            } else {
                c.iter().map(u8::to_string).collect::<Vec<_>>().join(" <- ")
            }
        };
        notes.push(format!(
            "extends {} -> {}",
            chain(&old.extends),
            chain(&new.extends)
        ));
    }
    let (a, b) = (fs_texts(old), fs_texts(new));
    for t in a.difference(&b) {
        notes.push(format!("removed: {t}"));
    }
    for t in b.difference(&a) {
        notes.push(format!("added: {t}"));
    }
    let (n, m) = (&old.network, &new.network);
    if n.mode != m.mode {
        notes.push(format!(
            "network.mode {} -> {}",
            n.mode.name(),
            m.mode.name()
        ));
    }
    for (name, x, y) in [
        ("connect_tcp", &n.connect_tcp, &m.connect_tcp),
        ("bind_tcp", &n.bind_tcp, &m.bind_tcp),
    ] {
        if x != y {
            notes.push(format!("network.{name} {} -> {}", ports(x), ports(y)));
        }
    }
    if n.udp != m.udp {
        notes.push(format!("network.udp {} -> {}", n.udp, m.udp));
    }
    let grants = |g: &[UnixGrant]| bracketed(g.iter().map(|g| g.path.as_str()));
    let (x, y) = (grants(&n.unix_connect), grants(&m.unix_connect));
    if x != y {
        notes.push(format!("network.unix_connect {x} -> {y}"));
    }
    for (name, x, y) in [
        ("hosts", &n.hosts, &m.hosts),
        ("deny_hosts", &n.deny_hosts, &m.deny_hosts),
    ] {
        let entries = |g: &[HostGrant]| {
            let rules: Vec<String> = g.iter().map(|g| g.rule.to_string()).collect();
            format!("[{}]", rules.join(", "))
        };
        let (x, y) = (entries(x), entries(y));
        if x != y {
            notes.push(format!("network.{name} {x} -> {y}"));
        }
    }
    if n.private != m.private {
        notes.push(format!(
            "network.private {} -> {}",
            private_name(n.private),
            private_name(m.private)
        ));
    }
    let (p, q) = (&old.process, &new.process);
    if p.fork != q.fork {
        notes.push(format!("process.fork {} -> {}", p.fork, q.fork));
    }
    if p.signals != q.signals {
        notes.push(format!(
            "process.signals {} -> {}",
            p.signals.name(),
            q.signals.name()
        ));
    }
    if p.ptrace != q.ptrace {
        notes.push(format!("process.ptrace {} -> {}", p.ptrace, q.ptrace));
    }
    if p.capabilities != q.capabilities {
        let caps = |c: &[Capability]| bracketed(c.iter().map(|c| c.name()));
        notes.push(format!(
            "process.capabilities {} -> {}",
            caps(&p.capabilities),
            caps(&q.capabilities)
        ));
    }
    let (s, t) = (&old.syscalls, &new.syscalls);
    let default = |allow: bool| if allow { "allow" } else { "deny" };
    if s.default_allow != t.default_allow {
        notes.push(format!(
            "syscalls.default {} -> {}",
            default(s.default_allow),
            default(t.default_allow)
        ));
    }
    if s.deny_action != t.deny_action {
        notes.push(format!(
            "syscalls deny action {} -> {}",
            action_name(s.deny_action),
            action_name(t.deny_action)
        ));
    }
    if s.allow != t.allow {
        notes.push(format!(
            "syscalls.allow [{}] -> [{}]",
            s.allow.join(", "),
            t.allow.join(", ")
        ));
    }
    let (x, y) = (written_syscall_rules(old), written_syscall_rules(new));
    let matched = |r: &Written, others: &[Written]| {
        others
            .iter()
            .any(|o| o.0 == r.0 && (o.1 == r.1 || (o.2 && r.2)))
    };
    for r in x.iter().filter(|r| !matched(r, &y)) {
        notes.push(format!("removed: syscall deny {}", written_text(r)));
    }
    for r in y.iter().filter(|r| !matched(r, &x)) {
        notes.push(format!("added: syscall deny {}", written_text(r)));
    }
    notes
}

/// `[a, b]`.
fn bracketed<'a>(items: impl Iterator<Item = &'a str>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

fn ports(list: &[u16]) -> String {
    format!(
        "[{}]",
        list.iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn fs_texts(ring: &Ring) -> BTreeSet<String> {
    ring.filesystem.iter().map(fs_text).collect()
}

/// `allow read on `/etc``, `deny all access on `${home}/.ssh` (except `...`) [macos]`.
fn fs_text(rule: &FsRule) -> String {
    let effect = match rule.effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    };
    let except = if rule.except.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = rule
            .except
            .iter()
            .map(|e| format!("`{}`", e.text()))
            .collect();
        format!(" (except {})", list.join(", "))
    };
    let platform = rule
        .platform
        .map(|p| format!(" [{}]", p.name()))
        .unwrap_or_default();
    format!(
        "{effect} {} on `{}`{except}{platform}",
        rule.access.describe(),
        rule.target.text()
    )
}

/// A syscall rule as written: its name and conditions, its action, and whether that is the
/// ring's own deny action (a change of which is noted once, not once per rule).
type Written = (String, SyscallAction, bool);

/// The syscall rules written in the policy (its own and presets'), not those that network and
/// process settings imply: a change of those settings is noted once, as itself.
fn written_syscall_rules(ring: &Ring) -> Vec<Written> {
    let mut rules: Vec<Written> = ring
        .syscalls
        .deny
        .iter()
        .filter(|r| r.origin.scope.starts_with("ring ") || r.origin.scope.starts_with("preset "))
        .map(|r| {
            (
                syscall_text(r),
                r.action,
                r.action == ring.syscalls.deny_action,
            )
        })
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

fn written_text(rule: &Written) -> String {
    if rule.2 {
        rule.0.clone()
    } else {
        format!("{} -> {}", rule.0, action_name(rule.1))
    }
}

fn syscall_text(rule: &SyscallRule) -> String {
    let args = if rule.args.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = rule.args.iter().map(condition_text).collect();
        format!(" when {}", parts.join(" and "))
    };
    format!("`{}`{args}", rule.name)
}

fn condition_text(c: &ArgCondition) -> String {
    let op = match c.op {
        ArgOp::Eq => "==",
        ArgOp::Ne => "!=",
        ArgOp::Lt => "<",
        ArgOp::Le => "<=",
        ArgOp::Gt => ">",
        ArgOp::Ge => ">=",
        ArgOp::MaskedEq => "==",
        ArgOp::MaskedNe => "!=",
        ArgOp::AnyBits => "has any of",
        ArgOp::AllBits => "has all of",
    };
    match c.mask {
        Some(mask) => format!("arg{} & {mask:#x} {op} {:#x}", c.index, c.value),
        None => format!("arg{} {op} {:#x}", c.index, c.value),
    }
}

/// `network.private` as written.
fn private_name(private: Private) -> &'static str {
    match private {
        Private::Deny => "deny",
        Private::Allow => "allow",
    }
}
