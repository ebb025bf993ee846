//! Stage 5: backends. Each lowers an IR ring to what its kernel interface takes.

pub mod landlock;
pub mod seatbelt;
pub mod seccomp;
