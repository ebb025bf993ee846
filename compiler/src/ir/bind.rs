//! Binding variables as the runtime does: caller-supplied values first, then the variable's
//! environment variable, then its default (which may use other variables).

use std::collections::BTreeMap;

use super::{Bindings, Ir, PathError, check_bound_value};

/// Why a variable could not be bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindError {
    /// No value from the caller, the environment or a default.
    Unbound(String),
    /// A value that is not an absolute normalized path.
    Invalid {
        name: String,
        value: String,
        why: PathError,
    },
    /// A caller value for a variable the policy does not declare.
    Undeclared(String),
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindError::Unbound(name) => write!(
                f,
                "variable `{name}` is unbound: pass `--var {name}=PATH`, set its environment variable, or give it a default"
            ),
            BindError::Invalid { name, value, why } => write!(
                f,
                "variable `{name}` is bound to `{value}`, which is not an absolute normalized path ({why:?})"
            ),
            BindError::Undeclared(name) => {
                write!(f, "variable `{name}` is not declared by the policy")
            }
        }
    }
}

impl std::error::Error for BindError {}

/// Binds every declared variable. `env` reads an environment variable.
pub fn bind(
    ir: &Ir,
    given: &BTreeMap<String, String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Bindings, BindError> {
    if let Some(name) = given.keys().find(|k| !ir.variables.contains_key(*k)) {
        return Err(BindError::Undeclared(name.clone()));
    }
    let mut bindings = Bindings::new();
    // Defaults may refer to other variables (acyclic, checked at compile time): resolve in
    // rounds until nothing changes.
    loop {
        let mut progressed = false;
        for (name, var) in &ir.variables {
            if bindings.contains_key(name) {
                continue;
            }
            let value = given
                .get(name)
                .cloned()
                .or_else(|| var.env.as_deref().and_then(&env))
                .or_else(|| var.default.as_ref().and_then(|d| d.expand(&bindings)));
            if let Some(value) = value {
                check_bound_value(&value).map_err(|why| BindError::Invalid {
                    name: name.clone(),
                    value: value.clone(),
                    why,
                })?;
                bindings.insert(name.clone(), value);
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    match ir.variables.keys().find(|k| !bindings.contains_key(*k)) {
        Some(name) => Err(BindError::Unbound(name.clone())),
        None => Ok(bindings),
    }
}
