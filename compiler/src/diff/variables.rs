//! Variables: each changed `env` or `default`, named with the rules that use it.
//!
//! A changed `default` is judged by the comparison itself: where the two sides bind it
//! differently (no environment variable set, so both policies bind their defaults; or a
//! default that uses another variable's environment value), the requests that answer
//! otherwise, and that the caller world (same values on both sides) does not show, are the
//! change's gains and losses. A changed `env` cannot be judged: the value comes
//! from somewhere else at run time, and nothing known at compile time bounds it. Unless no
//! rule uses the variable, it is an escalation, named with the rules whose paths now come
//! from the new source.

use std::collections::BTreeSet;

use super::report::{Area, Changes, Evidence, Finding};
use super::requests::{self, PathRule};
use super::rights::Attributed;
use super::worlds::{WorldKind, Worlds, target_variables};
use crate::ir::{BoundVariables, FsTarget, Ir, Variable};

pub(super) fn compare(
    old: &Ir,
    new: &Ir,
    worlds: &Worlds,
    attributed: &[Attributed],
    out: &mut Changes,
) {
    let names: BTreeSet<&String> = old.variables.keys().chain(new.variables.keys()).collect();
    let defaults = worlds.base.iter().find(|w| w.kind == WorldKind::Defaults);
    for name in names {
        match (old.variables.get(name), new.variables.get(name)) {
            (None, Some(v)) => out
                .notes
                .push(format!("variable `{name}` added ({})", definition(v))),
            (Some(v), None) => out
                .notes
                .push(format!("variable `{name}` removed (was {})", definition(v))),
            (Some(a), Some(b)) if a != b => {
                let users = users(new, name);
                let head = format!("`${{{name}}}` {}", change(a, b));
                if a.env != b.env {
                    env_changed(&head, b, &users, out);
                    continue;
                }
                let moves = match defaults {
                    Some(w) => movements(&users, &w.old, &w.new, worlds),
                    None => Vec::new(),
                };
                let text = if moves.is_empty() {
                    head
                } else {
                    format!("{head}: {}", moves.join("; "))
                };
                let mine = |gain: bool| -> Vec<Evidence> {
                    attributed
                        .iter()
                        .filter(|a| a.gain == gain && a.vars.contains(name.as_str()))
                        .take(3)
                        .map(|a| a.evidence.clone())
                        .collect()
                };
                let (gains, losses) = (mine(true), mine(false));
                if !gains.is_empty() {
                    out.gains.push(Finding {
                        area: Area::Variables,
                        text,
                        evidence: gains,
                    });
                } else if !losses.is_empty() {
                    out.losses.push(Finding {
                        area: Area::Variables,
                        text,
                        evidence: losses,
                    });
                } else {
                    out.notes.push(format!("{text} (no verdict changes)"));
                }
            }
            _ => {}
        }
    }
}

/// A changed `env`: an escalation unless no rule uses the variable.
fn env_changed(head: &str, now: &Variable, users: &[PathRule], out: &mut Changes) {
    if users.is_empty() {
        out.notes.push(format!("{head} (no rule uses it)"));
        return;
    }
    let source = match (&now.env, &now.default) {
        (Some(env), _) => format!("`${env}`, whose value is known only at run time"),
        (None, Some(default)) => format!("the default `{}`", default.as_str()),
        (None, None) => "the caller alone".to_owned(),
    };
    let rules: Vec<String> = users
        .iter()
        .map(|r| format!("{} at {}", r.what, r.at))
        .collect();
    out.gains.push(Finding::plain(
        Area::Variables,
        format!(
            "{head}: the rules that use it now take their paths from {source}; this cannot be compared, so it is a gain: {}",
            rules.join("; ")
        ),
    ));
}

/// The rules of NEW's confined rings that name a path using `name` (directly or through a
/// default), once each.
fn users(ir: &Ir, name: &str) -> Vec<PathRule> {
    let mut found: Vec<PathRule> = Vec::new();
    for ring in ir.rings.values().filter(|r| !r.unconfined) {
        for rule in requests::path_rules(ring) {
            let uses = rule
                .targets
                .iter()
                .any(|t| target_variables(ir, t).contains(name));
            if uses && !found.iter().any(|f| f.what == rule.what && f.at == rule.at) {
                found.push(rule);
            }
        }
    }
    found
}

/// For each rule, where it lands with the old and the new defaults.
fn movements(
    rules: &[PathRule],
    old: &BoundVariables,
    new: &BoundVariables,
    worlds: &Worlds,
) -> Vec<String> {
    // The target as people read it, with the variable's value written in.
    let expand = |t: &FsTarget, b: &BoundVariables| -> Option<String> {
        let text = t.text();
        match t.variable() {
            None => Some(text.to_owned()),
            Some(v) => {
                let value = b.get(v)?;
                let rest = &text[v.len() + 3..];
                Some(if value == "/" && !rest.is_empty() {
                    rest.to_owned()
                } else {
                    format!("{value}{rest}")
                })
            }
        }
    };
    let shown = |x: &Option<String>| match x {
        Some(p) => format!("`{}`", worlds.fresh.display(p)),
        None => "nothing".to_owned(),
    };
    rules
        .iter()
        .filter_map(|rule| {
            let target = rule.targets.first()?;
            let (a, b) = (expand(target, old), expand(target, new));
            let what = &rule.what;
            (a != b).then(|| match (&a, &b) {
                (None, _) => format!("{what} now covers {} (it was unbound)", shown(&b)),
                (_, None) => format!("{what} is now unbound (it covered {})", shown(&a)),
                _ => format!("{what} now covers {}, no longer {}", shown(&b), shown(&a)),
            })
        })
        .collect()
}

/// `env `A` -> `B`, default `/x` added`.
fn change(a: &Variable, b: &Variable) -> String {
    let mut parts = Vec::new();
    match (a.private_tmp, b.private_tmp) {
        (false, true) => {
            parts.push("is now the private temporary directory of each run".to_owned())
        }
        (true, false) => {
            parts.push("is no longer the private temporary directory of each run".to_owned())
        }
        _ => {}
    }
    match (&a.env, &b.env) {
        (Some(x), Some(y)) if x != y => parts.push(format!("env `{x}` -> `{y}`")),
        (None, Some(y)) => parts.push(format!("env `{y}` added")),
        (Some(x), None) => parts.push(format!("env `{x}` removed")),
        _ => {}
    }
    match (&a.default, &b.default) {
        (Some(x), Some(y)) if x != y => {
            parts.push(format!("default `{}` -> `{}`", x.as_str(), y.as_str()));
        }
        (None, Some(y)) => parts.push(format!("default `{}` added", y.as_str())),
        (Some(x), None) => parts.push(format!("default `{}` removed", x.as_str())),
        _ => {}
    }
    parts.join(", ")
}

/// `env `HOME`, default `/root``.
fn definition(v: &Variable) -> String {
    if v.private_tmp {
        return "the private temporary directory of each run".to_owned();
    }
    let mut parts = Vec::new();
    if let Some(env) = &v.env {
        parts.push(format!("env `{env}`"));
    }
    if let Some(d) = &v.default {
        parts.push(format!("default `{}`", d.as_str()));
    }
    if parts.is_empty() {
        "bound by the caller only".to_owned()
    } else {
        parts.join(", ")
    }
}
