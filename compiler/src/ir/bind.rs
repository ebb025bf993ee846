//! Binding a policy's variables: the runtime's binder ([`BoundVariables::bind`]) over every
//! variable the policy declares, so `test`, `explain` and the kernel tests bind exactly as
//! the runtime does at apply time.

use std::collections::BTreeMap;
use std::ffi::OsString;

use nonoc_runtime::artifact::Variable;
use nonoc_runtime::bind::BoundVariables;
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
                },
            )
        })
        .collect()
}

/// Binds every declared variable: the caller's value, then the variable's environment
/// variable (read with `env`), then its default.
pub fn bind(
    ir: &Ir,
    given: &Bindings,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<BoundVariables, Error> {
    let names = ir.variables.keys().map(String::as_str);
    BoundVariables::bind(names, &declared(ir), given, env)
}
