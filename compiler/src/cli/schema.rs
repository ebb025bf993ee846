//! `nonoc schema [--artifact]`: the JSON Schema of the policy language, or of the artifact.

use super::common::{Context, Exit, Outcome};

/// Arguments of `nonoc schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaArgs {
    /// The artifact's schema instead.
    #[arg(long)]
    pub artifact: bool,
}

/// `nonoc schema`: 0.
pub fn run(args: &SchemaArgs, ctx: &mut Context<'_>) -> Outcome {
    let text = if args.artifact {
        crate::schema::artifact_schema()
    } else {
        crate::schema::policy_schema()
    };
    let _ = ctx.out.write_all(text.as_bytes());
    Ok(Exit::Ok)
}
