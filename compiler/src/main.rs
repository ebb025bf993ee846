//! The `nonoc` binary: see `nonoc --help` and docs/cli.md.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `nonoc exec` starts agents: its plain form skips clap (see `exec::parse_plain`).
    if let Some(exec) = nonoc::exec::parse_plain(&args) {
        return ExitCode::from(nonoc::exec::run(&exec, &mut std::io::stderr().lock()));
    }
    ExitCode::from(nonoc::cli::run(args))
}
