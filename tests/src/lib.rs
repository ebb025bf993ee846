//! Cross-crate tests live in `tests/`. The library holds what several test targets share:
//! the kernel enforcement harness ([`kernel`]), used by `tests/kernel_*.rs` together with the
//! `nonoc-probe` binary.

pub mod kernel;

use std::path::PathBuf;

/// The example policies (`policies/*.yaml`), sorted; panics when there are none.
#[expect(
    clippy::panic,
    reason = "test support: a missing directory is a broken checkout"
)]
pub fn example_policies() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    files.sort();
    assert!(!files.is_empty(), "no policies in {}", dir.display());
    files
}
