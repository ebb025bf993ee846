//! The decision oracle (tests only): a reader that turns printed SBPL back into the tree, and
//! an evaluator that decides a kernel operation against a profile under two precedence
//! models. The tests in `../tests/oracle.rs` hold the profiles of the example policies and fixtures
//! to `decide` with it.
//!
//! Everything here models what public evidence says macOS does (docs/backends/seatbelt.md,
//! "Precedence" and "What the oracle assumes"); docs/macos-check.md is how a Mac confirms it.

pub mod eval;
pub mod read;
