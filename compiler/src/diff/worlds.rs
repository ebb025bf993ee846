//! The variable values a comparison asks its questions under.
//!
//! The runtime binds a variable from the caller (`--var`), else from its environment
//! variable, else from its default; the values are known only at run time. A comparison is
//! sound only if it holds for every value, so the questions are asked in several worlds:
//!
//! - `caller`: every variable both policies declare is given by the caller, the same unknown
//!   value on both sides (shown as `${name}`). It finds what the rules themselves change.
//! - `environment`: every environment variable is set, to an unknown value per name (shown as
//!   `$NAME`). A variable whose `env` changed takes its value from another source in NEW.
//! - `defaults`: nothing is set: each side binds its own defaults, and a ring whose variable
//!   has none cannot be applied. It finds what a changed, added or removed default does.
//! - `overlap`: the caller world with one shared variable set to a path the rules name (or one
//!   of its ancestors, or a child): where the rules of the variable land on literal rules.
//!   Only requests at or under that value can be answered otherwise than in `caller`.

use std::collections::BTreeSet;
use std::ffi::OsString;

use nonoc_runtime::Bindings;

use crate::ir::{BoundVariables, FsTarget, Ir, PLACEHOLDER, declared, with_placeholder};
use crate::resolve::PRIVATE_TMP;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WorldKind {
    Caller,
    Environment,
    Defaults,
    Overlap { name: String, value: String },
}

#[derive(Debug, Clone)]
pub(super) struct World {
    pub kind: WorldKind,
    pub old: BoundVariables,
    pub new: BoundVariables,
}

/// Values that stand for "any value": paths under a prefix no rule names.
#[derive(Debug, Clone)]
pub(super) struct Fresh {
    prefix: String,
}

impl Fresh {
    /// A prefix that no rule target or default of either policy lies under.
    pub fn new(irs: [&Ir; 2]) -> Fresh {
        let mut texts = BTreeSet::new();
        for ir in irs {
            for ring in ir.rings.values() {
                for rule in super::requests::path_rules(ring) {
                    texts.extend(rule.targets.iter().map(|t| t.text().to_owned()));
                }
            }
            for var in ir.variables.values() {
                if let Some(d) = &var.default {
                    texts.insert(d.as_str().to_owned());
                }
            }
        }
        let prefix = (0..)
            .map(|n| {
                if n == 0 {
                    "/__nonoc".to_owned()
                } else {
                    format!("/__nonoc{n}")
                }
            })
            .find(|p| !texts.iter().any(|t| t.starts_with(p.as_str())))
            .unwrap_or_default();
        Fresh { prefix }
    }

    /// Text with every value standing for "any" shown as `${name}` or `$NAME`.
    pub fn display_text(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(self.prefix.as_str()) {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| c == '`' || c.is_whitespace())
                .unwrap_or(tail.len());
            out.push_str(&self.display(&tail[..end]));
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }

    pub fn var(&self, name: &str) -> String {
        format!("{}/var/{name}", self.prefix)
    }

    pub fn env(&self, name: &str) -> String {
        format!("{}/env/{name}", self.prefix)
    }

    /// A path for people: a value standing for "any" is shown as `${name}` or `$NAME`.
    pub fn display(&self, path: &str) -> String {
        if let Some(rest) = path.strip_prefix(PLACEHOLDER)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return format!("${{{PRIVATE_TMP}}}{rest}");
        }
        let Some(rest) = path.strip_prefix(self.prefix.as_str()) else {
            return path.to_owned();
        };
        let (kind, rest) = match (rest.strip_prefix("/var/"), rest.strip_prefix("/env/")) {
            (Some(r), _) => (true, r),
            (_, Some(r)) => (false, r),
            _ => return path.to_owned(),
        };
        let (name, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if kind {
            format!("${{{name}}}{tail}")
        } else {
            format!("${name}{tail}")
        }
    }
}

/// Binds what can be bound, with the runtime's binder: `caller`, then the environment, then
/// the default (which may use other variables). What stays unbound, or is bound to a value
/// the runtime refuses, is left out.
pub(super) fn bind(
    ir: &Ir,
    caller: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> BoundVariables {
    // The private temporary directory is the runtime's in every world: where `explain` takes
    // it to be (under `/tmp`, so that a deny of `/tmp` covers it as it covers every run's),
    // shown as `${tmp}`.
    let given = ir
        .variables
        .iter()
        .filter(|(_, var)| !var.private_tmp)
        .filter_map(|(name, _)| caller(name).map(|value| (name, value)))
        .fold(Bindings::new(), |given, (name, value)| {
            given.with(name, value)
        });
    let given = with_placeholder(ir, &given);
    let env = |name: &str| env(name).map(OsString::from);
    let declared = declared(ir);
    ir.variables
        .keys()
        .filter_map(|name| {
            let bound = BoundVariables::bind([name.as_str()], &declared, &given, &env).ok()?;
            bound
                .get(name)
                .map(|value| (name.clone(), value.to_owned()))
        })
        .collect()
}

/// The base worlds, and how to make overlap worlds.
#[derive(Debug)]
pub(super) struct Worlds<'a> {
    old: &'a Ir,
    new: &'a Ir,
    pub fresh: Fresh,
    /// Caller, environment, defaults: in that order (evidence is taken from the first world
    /// that shows a difference).
    pub base: Vec<World>,
}

impl<'a> Worlds<'a> {
    pub fn new(old: &'a Ir, new: &'a Ir) -> Worlds<'a> {
        let fresh = Fresh::new([old, new]);
        let mut worlds = Worlds {
            old,
            new,
            fresh,
            base: Vec::new(),
        };
        let caller = worlds.caller_world(None);
        let env = |name: &str| Some(worlds.fresh.env(name));
        let none = |_: &str| None;
        let environment = World {
            kind: WorldKind::Environment,
            old: bind(old, &none, &env),
            new: bind(new, &none, &env),
        };
        let defaults = World {
            kind: WorldKind::Defaults,
            old: bind(old, &none, &none),
            new: bind(new, &none, &none),
        };
        worlds.base = vec![caller, environment, defaults];
        worlds
    }

    /// Whether both policies declare `name` (the caller world gives it the same value).
    pub fn shared(&self, name: &str) -> bool {
        self.old.variables.contains_key(name) && self.new.variables.contains_key(name)
    }

    /// The caller world, with `name` set to `value` when given.
    fn caller_world(&self, overlap: Option<(&str, &str)>) -> World {
        let caller = |name: &str| match overlap {
            Some((n, v)) if n == name => Some(v.to_owned()),
            _ => self.shared(name).then(|| self.fresh.var(name)),
        };
        let env = |name: &str| Some(self.fresh.env(name));
        World {
            kind: match overlap {
                None => WorldKind::Caller,
                Some((name, value)) => WorldKind::Overlap {
                    name: name.to_owned(),
                    value: value.to_owned(),
                },
            },
            old: bind(self.old, &caller, &env),
            new: bind(self.new, &caller, &env),
        }
    }

    /// The caller world with the shared variable `name` set to `value`.
    pub fn overlap(&self, name: &str, value: &str) -> World {
        self.caller_world(Some((name, value)))
    }

    /// How a world is described beside a request, `None` for the caller world (the
    /// request's own `${name}` says "whatever the caller gives").
    pub fn label(&self, kind: &WorldKind) -> Option<String> {
        match kind {
            WorldKind::Caller => None,
            WorldKind::Environment => Some("with the environment variables set".to_owned()),
            WorldKind::Defaults => {
                Some("with the defaults (no environment variable set)".to_owned())
            }
            WorldKind::Overlap { name, value } => Some(format!(
                "when `${{{name}}}` is `{}`",
                self.fresh.display(value)
            )),
        }
    }
}

/// The variables a rule target uses, and those their defaults use in `ir` (a chain).
pub(super) fn target_variables(ir: &Ir, target: &FsTarget) -> BTreeSet<String> {
    target
        .variable()
        .map(|v| variable_chain(ir, v))
        .unwrap_or_default()
}

/// A variable and the variables its default uses, and theirs, in `ir`.
pub(super) fn variable_chain(ir: &Ir, name: &str) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    let mut next = Some(name.to_owned());
    while let Some(name) = next.take() {
        if !vars.insert(name.clone()) {
            break;
        }
        next = ir
            .variables
            .get(&name)
            .and_then(|v| v.default.as_ref())
            .and_then(|d| d.variable())
            .map(str::to_owned);
    }
    vars
}
