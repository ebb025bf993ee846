//! `nonoc completions SHELL`: a shell completion script.

use super::common::{Context, Exit, Outcome};

/// Arguments of `nonoc completions`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `nonoc completions`: 0. `command` is the whole command line's definition, which the
/// dispatcher owns.
pub fn run(args: &CompletionsArgs, mut command: clap::Command, ctx: &mut Context<'_>) -> Outcome {
    clap_complete::generate(args.shell, &mut command, "nonoc", ctx.out);
    Ok(Exit::Ok)
}
