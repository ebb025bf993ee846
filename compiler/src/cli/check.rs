//! `nonoc check POLICY... [--deny-warnings] [--format human|json|sarif]`: every diagnostic of
//! every policy.

use std::path::PathBuf;

use serde::Serialize;

use super::common::{Context, Exit, Format, Outcome, read_policy, report};
use crate::Analysis;
use crate::backend::Targets;
use crate::diagnostic::{Severity, count};

/// Arguments of `nonoc check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    #[arg(required = true)]
    pub policies: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// One diagnostic for machines (`--format json`).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    pub code: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<String>,
}

fn counts(analysis: &Analysis) -> (usize, usize) {
    let errors = analysis
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (errors, analysis.diagnostics.len() - errors)
}

/// `nonoc check`: 0, 1 when a policy has errors, 2 when one cannot be read (the others are
/// still checked).
pub fn run(args: &CheckArgs, ctx: &mut Context<'_>) -> Outcome {
    let format = args.format;
    let mut worst = Exit::Ok;
    let mut json = Vec::new();
    let mut analyses = Vec::new();
    for path in &args.policies {
        let mut analysis = match read_policy(path, Targets::ALL) {
            Ok(analysis) => analysis,
            Err(e) => {
                worst = worst.max(e.report(ctx.err));
                continue;
            }
        };
        if args.deny_warnings {
            analysis.diagnostics.deny_warnings();
        }
        let (errors, warnings) = counts(&analysis);
        match format {
            Format::Human => {
                report(&analysis, ctx.style, ctx.err);
                let rings = analysis.ir.as_ref().map_or(0, |ir| ir.rings.len());
                let accepted = match analysis.accepted.len() {
                    0 => String::new(),
                    n => format!(", {n} accepted in `settings.accept`"),
                };
                if errors == 0 {
                    let _ = writeln!(
                        ctx.out,
                        "{}: ok ({}, {}{accepted})",
                        path.display(),
                        count(rings, "ring", "rings"),
                        count(warnings, "warning", "warnings")
                    );
                } else {
                    let _ = writeln!(
                        ctx.err,
                        "{}: {}, {}",
                        path.display(),
                        count(errors, "error", "errors"),
                        count(warnings, "warning", "warnings")
                    );
                }
            }
            Format::Json => json.extend(analysis.diagnostics.iter().map(|d| {
                let place = d.span.map(|s| analysis.source.line_col(s.offset));
                JsonDiagnostic {
                    file: path.display().to_string(),
                    code: d.code.as_str(),
                    severity: match d.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                    },
                    message: d.message.clone(),
                    line: place.map(|p| p.0),
                    column: place.map(|p| p.1),
                    help: d.help.clone(),
                }
            })),
            Format::Sarif => {}
        }
        if errors > 0 {
            worst = worst.max(Exit::Failed);
        }
        if format == Format::Sarif {
            analyses.push(analysis);
        }
    }
    match format {
        Format::Json => {
            let _ = serde_json::to_writer_pretty(&mut *ctx.out, &json);
            let _ = writeln!(ctx.out);
        }
        Format::Sarif => {
            let _ = serde_json::to_writer_pretty(&mut *ctx.out, &crate::sarif::log(&analyses));
            let _ = writeln!(ctx.out);
        }
        Format::Human => {}
    }
    Ok(worst)
}
