//! The `nonoc` binary: see `nonoc --help` and docs/cli.md.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(nonoc::cli::run(std::env::args_os()))
}
