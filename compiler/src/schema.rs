//! The JSON Schema of the policy language, generated from the serde types.

use crate::syntax::PolicyFile;

/// The policy schema as pretty JSON with a trailing newline (the bytes of
/// `schemas/policy.schema.json`).
pub fn policy_schema() -> String {
    let schema = schemars::schema_for!(PolicyFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
