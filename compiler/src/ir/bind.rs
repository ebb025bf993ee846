//! Binding a policy's variables: the runtime's binder ([`BoundVariables::bind`]) over every
//! variable the policy declares, so `test`, `explain` and the kernel tests bind exactly as
//! the runtime does at apply time. [`bind_partial`] binds what it can and says, for each
//! other variable, why and how to bind it.

use std::collections::BTreeMap;
use std::ffi::OsString;

use nonoc_runtime::artifact::Variable;
use nonoc_runtime::bind::{BoundVariables, check_bound_value};
pub use nonoc_runtime::private_tmp::PLACEHOLDER;
use nonoc_runtime::{Bindings, Error};

use super::Ir;

/// The policy's variables as the artifact declares them, for the runtime to bind.
pub fn declared(ir: &Ir) -> BTreeMap<String, Variable> {
    ir.variables
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                Variable {
                    env: v.env.clone(),
                    default: v.default.as_ref().map(|d| d.as_str().to_owned()),
                    private_tmp: v.private_tmp,
                },
            )
        })
        .collect()
}

/// Binds every declared variable: the caller's value, then the variable's environment
/// variable (read with `env`), then its default; the private temporary directory, unless the
/// caller binds it, to [`PLACEHOLDER`] ([`with_placeholder`]).
pub fn bind(
    ir: &Ir,
    given: &Bindings,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<BoundVariables, Error> {
    let names = ir.variables.keys().map(String::as_str);
    BoundVariables::bind(names, &declared(ir), &with_placeholder(ir, given), env)
}

/// The caller's bindings, and the private temporary directory's variable (the `tmp` preset's
/// `tmp`) bound to [`PLACEHOLDER`] where the caller leaves it unbound: the path that stands
/// for the directory the runtime creates for each run. `explain`, `test` and `diff` decide requests
/// written `${tmp}/...` with it; no other path is inside it.
pub fn with_placeholder(ir: &Ir, given: &Bindings) -> Bindings {
    let mut bindings = given.clone();
    for (name, _) in ir.variables.iter().filter(|(_, v)| v.private_tmp) {
        if given.get(name).is_none() {
            bindings.insert(name.clone(), PLACEHOLDER);
        }
    }
    bindings
}

/// The variables that could be bound, and why each other one could not.
#[derive(Debug, Clone, Default)]
pub struct PartialBindings {
    pub bindings: BoundVariables,
    /// Variable name to a message for people that names it and says how to bind it.
    pub unbound: BTreeMap<String, String>,
}

impl PartialBindings {
    /// The message of the first variable of `names` that is unbound.
    pub fn first_unbound<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Option<&str> {
        names
            .into_iter()
            .find_map(|n| self.unbound.get(n).map(String::as_str))
    }
}

/// Binds what can be bound, as the runtime does (`--var`, then the variable's `env`, then its
/// `default`), with the runtime's binder. A variable that cannot be bound is left out and
/// recorded with the reason, so each request that needs it can say so. `Err` (a usage error)
/// for a `--var` the policy does not declare or whose value is not an absolute normalized
/// path.
pub fn bind_partial(
    ir: &Ir,
    given: &Bindings,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<PartialBindings, String> {
    if let Some(name) = given.names().find(|n| !ir.variables.contains_key(*n)) {
        return Err(format!(
            "`--var {name}=...`: the policy declares no variable `{name}`"
        ));
    }
    for (name, value) in given.names().filter_map(|n| Some((n, given.get(n)?))) {
        if let Err(why) = check_bound_value(value) {
            return Err(format!(
                "`--var {name}={value}`: the value must be an absolute normalized path ({why})"
            ));
        }
    }
    let declared = declared(ir);
    let given = &with_placeholder(ir, given);
    let mut values = Vec::new();
    let mut unbound = BTreeMap::new();
    for name in ir.variables.keys() {
        match BoundVariables::bind([name.as_str()], &declared, given, env) {
            Ok(bound) => {
                if let Some(value) = bound.get(name) {
                    values.push((name.clone(), value.to_owned()));
                }
            }
            // The variable's own value (from its environment variable or its default).
            Err(Error::BadValue {
                name: bad,
                value,
                why,
            }) if bad == *name => {
                let source = ir
                    .variables
                    .get(name)
                    .and_then(|v| v.env.as_deref())
                    .map_or_else(|| "its default".to_owned(), |env| format!("`${env}`"));
                let message = format!(
                    "variable `{name}` is bound by {source} to `{value}`, which is not an absolute normalized path ({why}): pass `--var {name}=PATH`"
                );
                unbound.insert(name.clone(), message);
            }
            // Unbound, or its default uses a variable that cannot be bound.
            Err(_) => {
                unbound.insert(name.clone(), unbound_message(ir, name));
            }
        }
    }
    let bindings = values.into_iter().collect();
    Ok(PartialBindings { bindings, unbound })
}

/// Why a variable is unbound and the ways to bind it.
fn unbound_message(ir: &Ir, name: &str) -> String {
    let var = ir.variables.get(name);
    let mut ways = vec![format!("pass `--var {name}=PATH`")];
    if let Some(env) = var.and_then(|v| v.env.as_deref()) {
        ways.push(format!("set `{env}`"));
    }
    match var.and_then(|v| v.default.as_ref()) {
        // A default that uses another variable is unbound when that one is.
        Some(default) => {
            // (`bind` expands a default whenever its variable is bound: this one's is not.)
            if let Some(inner) = default.variable().filter(|v| *v != name) {
                ways.push(format!(
                    "bind `{inner}` (its default `{}` uses it)",
                    default.as_str()
                ));
            }
        }
        None => ways.push("give it a default".to_owned()),
    }
    let ways = match ways.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    };
    format!("variable `{name}` is unbound: {ways}")
}
