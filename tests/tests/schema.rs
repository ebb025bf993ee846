//! The committed JSON Schema (`schemas/policy.schema.json`) is exactly what the compiler
//! generates, it accepts every example policy and valid fixture, and it rejects documents the
//! compiler rejects — so an editor using it agrees with `nonoc check` on the basics.

use std::path::{Path, PathBuf};

use jsonschema::Validator;
use serde_json::{Value, json};

const SCHEMA: &str = "schemas/policy.schema.json";
const REGENERATE: &str = "cargo run -p nonoc -- schema > schemas/policy.schema.json";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `.yaml`/`.yml` files of a directory, sorted; none when the directory does not exist.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// Every policy that must check clean: the examples and the valid fixtures.
fn valid_policies() -> Vec<PathBuf> {
    let root = workspace();
    let examples = yaml_files(&root.join("policies"));
    assert!(
        examples.len() >= 3,
        "expected at least the 3 example policies in policies/, found {examples:?}"
    );
    let mut files = examples;
    files.extend(yaml_files(&root.join("tests/fixtures/valid")));
    files
}

fn validator() -> Validator {
    let text = std::fs::read_to_string(workspace().join(SCHEMA)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// YAML text as the JSON value an editor's schema validator sees.
fn yaml_to_json(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap()
}

/// The schema's complaints about `instance`, one line each; empty when it is valid.
fn schema_errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn committed_schema_is_the_generated_one() {
    let committed = std::fs::read(workspace().join(SCHEMA)).unwrap();
    let generated = nonoc::schema::policy_schema();
    if committed != generated.as_bytes() {
        let committed = String::from_utf8_lossy(&committed);
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{SCHEMA} is out of date with the policy types (first difference at line {}).\n\
             Regenerate it from the workspace root with:\n\n    {REGENERATE}\n\n\
             committed: {:?}\ngenerated: {:?}",
            first_difference + 1,
            committed.lines().nth(first_difference),
            generated.lines().nth(first_difference),
        );
    }
}

#[test]
fn every_valid_policy_validates_against_the_schema() {
    let validator = validator();
    for path in valid_policies() {
        let text = std::fs::read_to_string(&path).unwrap();
        let instance = yaml_to_json(&text);

        // Ring levels are integer keys in YAML; a JSON object has string keys only. They must
        // come out as the canonical decimal text the schema's `propertyNames` pattern accepts.
        let rings = instance["rings"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: `rings` is not a mapping: {instance}", relative(&path)));
        assert!(!rings.is_empty(), "{}: no rings", relative(&path));
        for key in rings.keys() {
            let level: u8 = key
                .parse()
                .unwrap_or_else(|_| panic!("{}: ring key {key:?} is not a level", relative(&path)));
            assert_eq!(key, &level.to_string(), "{}", relative(&path));
        }

        let errors = schema_errors(&validator, &instance);
        assert!(
            errors.is_empty(),
            "{} does not validate against {SCHEMA}:\n{}",
            relative(&path),
            errors.join("\n")
        );
    }
}

#[test]
fn every_valid_policy_names_the_schema_on_its_first_line() {
    let schema = std::fs::canonicalize(workspace().join(SCHEMA)).unwrap();
    for path in valid_policies() {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or("");
        let target = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| {
                panic!(
                    "{}: the first line must be `# yaml-language-server: $schema=<relative path to {SCHEMA}>`, found {first:?}",
                    relative(&path)
                )
            });
        assert!(
            !target.starts_with('/') && !target.contains("://"),
            "{}: the schema path must be relative, found {target:?}",
            relative(&path)
        );
        let resolved = path.parent().unwrap().join(target);
        assert_eq!(
            std::fs::canonicalize(&resolved).ok().as_ref(),
            Some(&schema),
            "{}: `$schema={target}` does not lead to {SCHEMA}",
            relative(&path)
        );
    }
}

/// A small policy both the schema and the compiler accept; the bad documents below are
/// this one with one thing broken.
fn base() -> Value {
    json!({
        "apiVersion": "nonoc.dev/v1",
        "kind": "RingPolicy",
        "metadata": { "name": "schema-probe" },
        "rings": {
            "3": {
                "filesystem": { "read": ["/usr"] },
                "network": { "mode": "restricted", "connect_tcp": [443] }
            }
        }
    })
}

/// Codes the compiler reports for a document (JSON is YAML, so it reads the same text).
fn compiler_errors(instance: &Value) -> Vec<&'static str> {
    let text = serde_json::to_string_pretty(instance).unwrap();
    let analysis = nonoc::analyze("probe.yaml", text.as_bytes());
    analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.as_str())
        .collect()
}

#[test]
fn the_base_document_is_valid_for_schema_and_compiler() {
    let base = base();
    assert_eq!(schema_errors(&validator(), &base), Vec::<String>::new());
    assert_eq!(compiler_errors(&base), Vec::<&str>::new());
}

#[test]
fn schema_and_compiler_reject_obviously_bad_documents() {
    type Break = fn(&mut Value);
    let cases: &[(&str, Break, &str)] = &[
        (
            "unknown top-level field",
            |v| v["colour"] = json!("red"),
            "NC0002",
        ),
        (
            "wrong apiVersion",
            |v| v["apiVersion"] = json!("nonoc.dev/v2"),
            "NC0007",
        ),
        (
            "missing apiVersion",
            |v| {
                v.as_object_mut().unwrap().remove("apiVersion");
            },
            "NC0002",
        ),
        ("wrong kind", |v| v["kind"] = json!("Policy"), "NC0008"),
        (
            "port as a host name",
            |v| {
                v["rings"]["3"]["network"]["connect_tcp"] = json!(["https"]);
            },
            "NC0502",
        ),
        (
            "port as a boolean",
            |v| {
                v["rings"]["3"]["network"]["connect_tcp"] = json!([true]);
            },
            "NC0002",
        ),
        (
            "port out of range",
            |v| {
                v["rings"]["3"]["network"]["connect_tcp"] = json!([70000]);
            },
            "NC0501",
        ),
        (
            "ring level out of range",
            |v| {
                let ring = v["rings"]["3"].take();
                v["rings"] = json!({ "256": ring });
            },
            "NC0202",
        ),
        ("no rings", |v| v["rings"] = json!({}), "NC0201"),
        (
            "bad policy name",
            |v| v["metadata"]["name"] = json!("Schema Probe"),
            "NC0009",
        ),
        (
            "unknown ring field",
            |v| v["rings"]["3"]["netwerk"] = json!({}),
            "NC0002",
        ),
        (
            "unknown access right",
            |v| {
                v["rings"]["3"]["filesystem"]["rules"] =
                    json!([{ "path": "/tmp", "access": ["fly"] }]);
            },
            "NC0407",
        ),
    ];
    let validator = validator();
    for (what, break_it, code) in cases {
        let mut instance = base();
        break_it(&mut instance);
        assert!(
            !schema_errors(&validator, &instance).is_empty(),
            "the schema accepts a document with a {what}: {instance}"
        );
        let codes = compiler_errors(&instance);
        assert!(
            codes.contains(code),
            "{what}: expected {code} from the compiler, got {codes:?}"
        );
    }
}
