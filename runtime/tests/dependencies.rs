//! The runtime is embedded in agents: its normal build (no features) pulls only the crates
//! listed here, on every platform. A new dependency fails this test until it is added to
//! the list on purpose; the compiler's crates (YAML, diagnostics, CLI, JSON Schema, error
//! derives) never may be.
#![expect(
    clippy::panic,
    reason = "the helper reports a broken test set-up by panicking, as a failed assertion does"
)]

use std::collections::BTreeSet;
use std::process::Command;

/// Every crate the normal build of `nonoc-runtime` may depend on, directly or not.
const ALLOWED: &[&str] = &[
    "base64",
    "block-buffer",
    "cfg-if",
    "cpufeatures",
    "crypto-common",
    "digest",
    "generic-array",
    "itoa",
    "libc",
    "memchr",
    "nonoc-runtime",
    // serde's derive macros, built for the host.
    "proc-macro2",
    "quote",
    "serde",
    "serde_core",
    "serde_derive",
    "serde_json",
    "sha2",
    "syn",
    "typenum",
    "unicode-ident",
    "zmij",
];

/// What the `egress` feature adds: tokio (rt, net, time, io-util, sync: no macros, no
/// multi-threaded scheduler), hyper 1 and hyper-util (HTTP/1 server and client only),
/// http-body-util, and what they pull (mio's and socket2's platform crates included).
const EGRESS_ADDS: &[&str] = &[
    "atomic-waker",
    "bytes",
    "futures-core",
    "http",
    "http-body",
    "http-body-util",
    "httparse",
    "httpdate",
    "hyper",
    "hyper-util",
    "mio",
    "pin-project-lite",
    "smallvec",
    "socket2",
    "tokio",
    "try-lock",
    "want",
    "wasi",
    "windows-link",
    "windows-sys",
];

/// What the runtime must never pull, with or without the `compiler` feature.
const FORBIDDEN: &[&str] = &[
    "serde-saphyr",
    "serde_yaml",
    "saphyr-parser",
    "miette",
    "clap",
    "clap_complete",
    "clap_mangen",
    "thiserror",
    "globset",
    "regex",
    "landlock",
    "nonoc",
];

/// The crate names of `cargo tree -e normal -p nonoc-runtime` (every target platform).
fn tree(features: &[&str]) -> BTreeSet<String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--manifest-path", manifest, "-p", "nonoc-runtime"])
        .args(["-e", "normal", "--target", "all", "--prefix", "none"])
        .args(["--format", "{p}", "--locked", "--offline"])
        .args(features)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo tree: {e}"));
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(
        names.contains("nonoc-runtime") && names.contains("serde"),
        "cargo tree printed no tree: {names:?}"
    );
    names
}

#[test]
fn the_normal_build_pulls_only_the_listed_crates() {
    let names = tree(&[]);
    let forbidden: Vec<&String> = names
        .iter()
        .filter(|n| FORBIDDEN.contains(&n.as_str()))
        .collect();
    assert!(
        forbidden.is_empty(),
        "the runtime's normal build pulls {forbidden:?}"
    );
    let unlisted: Vec<&String> = names
        .iter()
        .filter(|n| !ALLOWED.contains(&n.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "the runtime's normal build pulls crates not in ALLOWED: {unlisted:?} (add them on purpose, or drop the dependency)"
    );
}

#[test]
fn the_normal_build_has_no_async_stack() {
    let names = tree(&[]);
    let pulled: Vec<&&str> = EGRESS_ADDS.iter().filter(|n| names.contains(**n)).collect();
    assert!(
        pulled.is_empty(),
        "the runtime's normal build pulls {pulled:?}"
    );
}

#[test]
fn the_egress_feature_adds_the_async_http_stack_only() {
    let names = tree(&["--features", "egress"]);
    assert!(
        names.contains("hyper") && names.contains("tokio"),
        "{names:?}"
    );
    let unlisted: Vec<&String> = names
        .iter()
        .filter(|n| !ALLOWED.contains(&n.as_str()) && !EGRESS_ADDS.contains(&n.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "the egress feature pulls crates not in EGRESS_ADDS: {unlisted:?}"
    );
}

#[test]
fn the_compiler_feature_adds_the_schema_derives_only() {
    let names = tree(&["--features", "compiler"]);
    assert!(names.contains("schemars"), "{names:?}");
    let forbidden: Vec<&String> = names
        .iter()
        .filter(|n| FORBIDDEN.contains(&n.as_str()))
        .collect();
    assert!(
        forbidden.is_empty(),
        "the runtime with `compiler` pulls {forbidden:?}"
    );
}
