//! The `nonoc` command line: clap definitions and one handler per subcommand. `main.rs` only
//! calls [`run`]; tests call the handlers or the binary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity, render};
use crate::{Analysis, analyze};

/// Exit codes (CLI.md).
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "nonoc",
    version,
    about = "Compile ring policies into OS sandbox artifacts (Landlock, seccomp, Seatbelt)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, resolve, validate and lint policies; print every diagnostic.
    Check {
        #[arg(required = true)]
        policies: Vec<PathBuf>,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Compile a policy.
    Compile {
        policy: PathBuf,
        /// What to emit instead of the artifact.
        #[arg(long, value_enum)]
        emit: Option<Emit>,
        /// Only this ring (for `--emit ir`).
        #[arg(long)]
        ring: Option<u8>,
        /// Write here (atomically) instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Print the JSON Schema of the policy language.
    Schema {
        /// The artifact's schema instead.
        #[arg(long)]
        artifact: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    Ir,
    Landlock,
    Bpf,
    BpfAsm,
    Sbpl,
    Artifact,
}

/// Parses the arguments and runs the command; returns the exit code.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let style = Style::from_env();
    let code = match cli.command {
        Command::Check {
            policies,
            deny_warnings,
            format,
        } => check(&policies, deny_warnings, format, style, &mut out, &mut err),
        Command::Compile {
            policy,
            emit,
            ring,
            output,
            deny_warnings,
        } => compile(
            &policy,
            emit,
            ring,
            output.as_deref(),
            deny_warnings,
            style,
            &mut out,
            &mut err,
        ),
        Command::Schema { artifact } => schema(artifact, &mut out, &mut err),
    };
    let _ = out.flush();
    code
}

/// How to render diagnostics for people.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

impl Style {
    /// Colour only on a terminal and without `NO_COLOR`; width from `COLUMNS` or 100.
    pub fn from_env() -> Style {
        let color = std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100);
        Style { color, width }
    }
}

/// Reads and analyzes a policy file; `None` (after a message) when the file cannot be read.
fn load(path: &Path, err: &mut dyn Write) -> Option<Analysis> {
    match std::fs::read(path) {
        Ok(bytes) => Some(analyze(&path.display().to_string(), &bytes)),
        Err(e) => {
            let _ = writeln!(err, "error: cannot read `{}`: {e}", path.display());
            None
        }
    }
}

fn report(analysis: &Analysis, style: Style, err: &mut dyn Write) {
    let diags: Vec<Diagnostic> = analysis.diagnostics.iter().cloned().collect();
    let text = render(
        &diags,
        &analysis.source.name,
        &analysis.source.text,
        style.color,
        style.width,
    );
    let _ = err.write_all(text.as_bytes());
}

fn counts(analysis: &Analysis) -> (usize, usize) {
    let errors = analysis
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (errors, analysis.diagnostics.len() - errors)
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

/// `nonoc check`.
pub fn check(
    policies: &[PathBuf],
    deny_warnings: bool,
    format: Format,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let mut worst = EXIT_OK;
    let mut json = Vec::new();
    for path in policies {
        let Some(mut analysis) = load(path, err) else {
            worst = worst.max(EXIT_USAGE);
            continue;
        };
        if deny_warnings {
            analysis.diagnostics.deny_warnings();
        }
        let (errors, warnings) = counts(&analysis);
        match format {
            Format::Human => {
                report(&analysis, style, err);
                let rings = analysis.ir.as_ref().map_or(0, |ir| ir.rings.len());
                if errors == 0 {
                    let _ = writeln!(
                        out,
                        "{}: ok ({rings} rings, {warnings} warnings)",
                        path.display()
                    );
                } else {
                    let _ = writeln!(
                        err,
                        "{}: {errors} errors, {warnings} warnings",
                        path.display()
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
        }
        if errors > 0 {
            worst = worst.max(EXIT_FAILED);
        }
    }
    if format == Format::Json {
        let _ = serde_json::to_writer_pretty(&mut *out, &json);
        let _ = writeln!(out);
    }
    worst
}

/// `nonoc compile`.
#[expect(
    clippy::too_many_arguments,
    reason = "one parameter per command-line flag"
)]
pub fn compile(
    policy: &Path,
    emit: Option<Emit>,
    ring: Option<u8>,
    output: Option<&Path>,
    deny_warnings: bool,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let emit = emit.unwrap_or(Emit::Artifact);
    if emit != Emit::Ir {
        let _ = writeln!(
            err,
            "error: `--emit {}` is not available yet: this build has the front end and the IR only (use `--emit ir`)",
            emit.to_possible_value()
                .map(|v| v.get_name().to_owned())
                .unwrap_or_default()
        );
        return EXIT_USAGE;
    }
    let Some(mut analysis) = load(policy, err) else {
        return EXIT_USAGE;
    };
    if deny_warnings {
        analysis.diagnostics.deny_warnings();
        analysis.ir = analysis.ir.filter(|_| !analysis.diagnostics.has_errors());
    }
    report(&analysis, style, err);
    let Some(ir) = &analysis.ir else {
        return EXIT_FAILED;
    };
    let text = match ring {
        None => serde_json::to_string_pretty(ir),
        Some(level) => match ir.rings.get(&level) {
            Some(r) => serde_json::to_string_pretty(r),
            None => {
                let _ = writeln!(err, "error: the policy has no ring {level}");
                return EXIT_USAGE;
            }
        },
    };
    let Ok(mut text) = text else {
        let _ = writeln!(err, "error: the IR could not be serialized");
        return EXIT_FAILED;
    };
    text.push('\n');
    match output {
        None => {
            let _ = out.write_all(text.as_bytes());
            EXIT_OK
        }
        Some(path) => match write_atomically(path, text.as_bytes()) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                let _ = writeln!(err, "error: cannot write `{}`: {e}", path.display());
                EXIT_USAGE
            }
        },
    }
}

/// Writes a file by a temporary file in the same directory and a rename: readers see the old
/// file or the whole new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `nonoc schema`.
pub fn schema(artifact: bool, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if artifact {
        let _ = writeln!(
            err,
            "error: the artifact schema is not available yet: this build has the front end and the IR only"
        );
        return EXIT_USAGE;
    }
    let _ = out.write_all(crate::schema::policy_schema().as_bytes());
    EXIT_OK
}
