//! `nonoc man`: the man page (roff), generated from the command-line definition.

use super::common::{CliError, Context, Exit, Outcome};

/// Arguments of `nonoc man` (none).
#[derive(Debug, Clone, clap::Args)]
pub struct ManArgs {}

/// `nonoc man`: 0, 2 when the page cannot be written. `command` is the whole command line's
/// definition, which the dispatcher owns.
pub fn run(_: &ManArgs, command: clap::Command, ctx: &mut Context<'_>) -> Outcome {
    clap_mangen::Man::new(command)
        .render(ctx.out)
        .map(|()| Exit::Ok)
        .map_err(|e| CliError::usage(format!("cannot write the man page: {e}")))
}
