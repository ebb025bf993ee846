//! The `nonoc` binary: see `nonoc --help` and docs/cli.md.

fn main() -> nonoc::cli::Exit {
    nonoc::cli::main(std::env::args_os().collect())
}
