//! Cross-crate tests live in `tests/`. The library holds what several test targets share:
//! the kernel enforcement harness ([`kernel`]), used by `tests/kernel_*.rs` together with the
//! `nonoc-probe` binary.

pub mod kernel;
