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

/// The artifact schema as pretty JSON with a trailing newline (the bytes of
/// `schemas/artifact.schema.json`).
pub fn artifact_schema() -> String {
    let schema = schemars::schema_for!(nonoc_runtime::Artifact);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_artifact_schema_is_current() {
        let committed = include_str!("../../schemas/artifact.schema.json");
        assert!(
            committed == super::artifact_schema(),
            "schemas/artifact.schema.json is stale: run `cargo run -p nonoc -- schema --artifact > schemas/artifact.schema.json`"
        );
    }
}
