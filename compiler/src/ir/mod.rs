//! Stage 3: the intermediate representation (each ring checked and merged) and `decide`.

mod access;
mod bind;
mod decide;
mod describe;
pub mod fs_presets;
mod lower;
mod model;
mod own;
pub mod presets;
pub mod rule_index;
mod run_tests;
#[cfg(test)]
mod tests;
pub mod values;

pub use crate::resolve::{
    GlobTemplate, PathError, PathTemplate, TrustTier, Variable, escape_glob, has_glob_chars,
    is_variable_name, path_within,
};
pub use access::{AccessSet, Right};
pub use bind::{PLACEHOLDER, PartialBindings, bind, bind_partial, declared, with_placeholder};
pub use decide::{
    Decision, Reason, Verdict, action_name, ancestors, arg_is_int, covers, decide, effective_arg,
    unbound_variable,
};
pub use describe::{describe_request, describe_selector, location, verdict_name};
pub use lower::lower;
pub use model::*;
pub use nonoc_runtime::bind::{BoundVariables, MAX_PATH_BYTES};
pub use run_tests::{TestOutcome, run_tests};
