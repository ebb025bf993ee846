//! The `nonoc` command line: clap definitions and one handler per subcommand. `main.rs` only
//! calls [`run`]; tests call the handlers or the binary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::Analysis;
use crate::diagnostic::{Diagnostic, Severity, render};

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
    /// Compile a policy into an artifact (or, with --emit, one stage's output).
    Compile {
        policy: PathBuf,
        /// What to emit instead of the artifact.
        #[arg(long, value_enum)]
        emit: Option<Emit>,
        /// The ring to emit (required for `landlock`, `bpf`, `sbpl`; optional for `ir`).
        #[arg(long)]
        ring: Option<u8>,
        /// Only this target system (default: all).
        #[arg(long, value_enum)]
        target: Option<Target>,
        /// The arch of `--emit bpf|bpf-asm` (`x86_64`, `aarch64`; default: this machine's).
        #[arg(long)]
        arch: Option<String>,
        /// Write here (atomically) instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        /// Bind a variable for `--emit sbpl-params` (before its environment variable and
        /// default).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Apply a ring of an artifact to this process, then run CMD in it.
    Exec {
        artifact: PathBuf,
        #[arg(
            long,
            conflicts_with = "trust_score",
            required_unless_present = "trust_score"
        )]
        ring: Option<u8>,
        /// Trust score 0..=1000; selects the ring by the artifact's trust tiers.
        #[arg(long)]
        trust_score: Option<u32>,
        /// Bind a variable (before its environment variable and default).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Allow applying an unconfined ring (which applies nothing).
        #[arg(long)]
        allow_unconfined: bool,
        /// Print the enforcement report as JSON on stderr.
        #[arg(long)]
        report: bool,
        /// Keep this inherited file descriptor open for CMD (every other one but 0, 1 and 2
        /// is closed); repeatable.
        #[arg(long = "pass-fd", value_name = "N")]
        pass_fds: Vec<i32>,
        /// The command and its arguments.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
    /// Run the policy's `tests:` against `decide` (and, with --kernel, against the kernel).
    Test(crate::cmd::test::TestArgs),
    /// Explain why a ring allows or denies one request.
    Explain(crate::cmd::explain::ExplainArgs),
    /// Verify an artifact and summarize its rings, targets and trust tiers.
    Inspect {
        artifact: PathBuf,
        /// Add a table of rings against capabilities.
        #[arg(long)]
        matrix: bool,
        /// Treat ARTIFACT as a policy and print its full matrix (process and syscall rows too).
        #[arg(long, requires = "matrix")]
        policy: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// The rights each ring gains and loses between two policies.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Exit 1 when any right is gained.
        #[arg(long)]
        fail_on_escalation: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show what this host supports and, with an artifact, what each ring would get here.
    Doctor {
        artifact: Option<PathBuf>,
        /// Bind a variable (before its environment variable and default).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Print the JSON Schema of the policy language.
    Schema {
        /// The artifact's schema instead.
        #[arg(long)]
        artifact: bool,
    },
}

impl Command {
    /// `exec`'s arguments, as the command runs them (`None` for another command, or without a
    /// ring selector, which clap does not let through).
    pub fn into_exec_args(self) -> Option<crate::exec::ExecArgs> {
        let Command::Exec {
            artifact,
            ring,
            trust_score,
            vars,
            allow_unconfined,
            report,
            pass_fds,
            command,
        } = self
        else {
            return None;
        };
        let selector = match (ring, trust_score) {
            (Some(r), _) => crate::exec::Selector::Ring(r),
            (None, Some(s)) => crate::exec::Selector::TrustScore(s),
            (None, None) => return None,
        };
        Some(crate::exec::ExecArgs {
            artifact,
            selector,
            vars,
            allow_unconfined,
            report,
            pass_fds,
            command,
        })
    }
}

/// `nonoc __probe` (the child of `nonoc test --kernel`): parsed on its own, outside [`Cli`], so
/// that help, the man page and the shell completions never offer it.
#[derive(Debug, Parser)]
#[command(
    name = "nonoc __probe",
    about = "Internal (`nonoc test --kernel`): apply a ring of the artifact on stdin, try one operation, print the kernel's answer"
)]
struct ProbeCli {
    #[command(flatten)]
    args: crate::cmd::probe::ProbeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    Linux,
    Macos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    Ir,
    Landlock,
    Bpf,
    BpfAsm,
    Sbpl,
    /// The values of the ring's Seatbelt parameters, one `NAME=VALUE` per line, for
    /// `sandbox-exec -D`.
    SbplParams,
    Artifact,
}

/// Parses the arguments and runs the command; returns the exit code.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    if args
        .get(1)
        .is_some_and(|a| a == crate::cmd::probe::SUBCOMMAND)
    {
        args.remove(1);
        return match ProbeCli::try_parse_from(args) {
            Ok(probe) => crate::cmd::probe::probe(
                &probe.args,
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            ),
            Err(e) => {
                let _ = e.print();
                if e.use_stderr() { EXIT_USAGE } else { EXIT_OK }
            }
        };
    }
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
            target,
            arch,
            output,
            deny_warnings,
            vars,
        } => {
            let request = CompileRequest {
                emit: emit.unwrap_or(Emit::Artifact),
                ring,
                target,
                arch,
                output: output.as_deref(),
                deny_warnings,
                vars,
            };
            compile(&policy, &request, style, &mut out, &mut err)
        }
        command @ Command::Exec { .. } => {
            let Some(args) = command.into_exec_args() else {
                return EXIT_USAGE;
            };
            drop(out);
            return crate::exec::run(&args, &mut err);
        }
        Command::Doctor { artifact, vars } => match crate::exec::parse_vars(&vars) {
            Ok(bindings) => {
                // Paths and descriptions come from the artifact: written for people, escaped.
                let mut text = Vec::new();
                let code = crate::exec::doctor(artifact.as_deref(), &bindings, &mut text, &mut err);
                let text = crate::diagnostic::terminal_safe(&String::from_utf8_lossy(&text));
                let _ = out.write_all(text.as_bytes());
                code
            }
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                EXIT_USAGE
            }
        },
        Command::Schema { artifact } => schema(artifact, &mut out, &mut err),
        Command::Test(args) => args.run(style, &mut out, &mut err),
        Command::Explain(args) => args.run(style, &mut out, &mut err),
        Command::Inspect {
            artifact,
            matrix,
            policy,
            format,
        } => {
            if policy {
                crate::cmd::inspect::matrix_from_policy(
                    &artifact, format, style, &mut out, &mut err,
                )
            } else {
                crate::cmd::inspect::inspect(&artifact, matrix, format, &mut out, &mut err)
            }
        }
        Command::Diff {
            old,
            new,
            fail_on_escalation,
            format,
        } => crate::cmd::diff::diff(
            &old,
            &new,
            fail_on_escalation,
            format,
            style,
            &mut out,
            &mut err,
        ),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "nonoc", &mut out);
            EXIT_OK
        }
        Command::Man => man(&mut out, &mut err),
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
    load_for(path, crate::artifact::Targets::ALL, err)
}

/// [`load`] for an artifact of `targets` only.
fn load_for(
    path: &Path,
    targets: crate::artifact::Targets,
    err: &mut dyn Write,
) -> Option<Analysis> {
    match std::fs::read(path) {
        Ok(bytes) => Some(crate::analyze_for(
            &path.display().to_string(),
            &bytes,
            targets,
        )),
        Err(e) => {
            let _ = writeln!(err, "error: cannot read `{}`: {e}", path.display());
            None
        }
    }
}

/// Renders an analysis's diagnostics on `err`.
pub(crate) fn report(analysis: &Analysis, style: Style, err: &mut dyn Write) {
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
    let mut analyses = Vec::new();
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
            Format::Sarif => {}
        }
        if errors > 0 {
            worst = worst.max(EXIT_FAILED);
        }
        if format == Format::Sarif {
            analyses.push(analysis);
        }
    }
    match format {
        Format::Json => {
            let _ = serde_json::to_writer_pretty(&mut *out, &json);
            let _ = writeln!(out);
        }
        Format::Sarif => {
            let _ = serde_json::to_writer_pretty(&mut *out, &crate::sarif::log(&analyses));
            let _ = writeln!(out);
        }
        Format::Human => {}
    }
    worst
}

/// What `nonoc compile` is asked for.
#[derive(Debug, Clone)]
pub struct CompileRequest<'a> {
    pub emit: Emit,
    pub ring: Option<u8>,
    pub target: Option<Target>,
    pub arch: Option<String>,
    pub output: Option<&'a Path>,
    pub deny_warnings: bool,
    /// `--var NAME=VALUE` (only with `--emit sbpl-params`).
    pub vars: Vec<String>,
}

fn emit_name(emit: Emit) -> String {
    emit.to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// `nonoc compile`.
pub fn compile(
    policy: &Path,
    request: &CompileRequest<'_>,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let emit = request.emit;
    let needs_ring = matches!(
        emit,
        Emit::Landlock | Emit::Bpf | Emit::BpfAsm | Emit::Sbpl | Emit::SbplParams
    );
    if needs_ring && request.ring.is_none() {
        let _ = writeln!(err, "error: `--emit {}` needs `--ring N`", emit_name(emit));
        return EXIT_USAGE;
    }
    let system = match emit {
        Emit::Landlock | Emit::Bpf | Emit::BpfAsm => Some(Target::Linux),
        Emit::Sbpl | Emit::SbplParams => Some(Target::Macos),
        Emit::Ir | Emit::Artifact => None,
    };
    if let (Some(system), Some(target)) = (system, request.target)
        && system != target
    {
        let _ = writeln!(
            err,
            "error: `--emit {}` is for {}, not `--target {}`",
            emit_name(emit),
            target_name(system),
            target_name(target)
        );
        return EXIT_USAGE;
    }
    if !request.vars.is_empty() && emit != Emit::SbplParams {
        let _ = writeln!(err, "error: `--var` applies to `--emit sbpl-params` only");
        return EXIT_USAGE;
    }
    let arch = match request.arch.as_deref().map(crate::data::Arch::from_name) {
        None => crate::data::Arch::host(),
        Some(Some(arch)) => arch,
        Some(None) => {
            let _ = writeln!(err, "error: unknown arch; use `x86_64` or `aarch64`");
            return EXIT_USAGE;
        }
    };
    let targets = match request.target {
        None => crate::artifact::Targets::ALL,
        Some(Target::Linux) => crate::artifact::Targets {
            linux: true,
            macos: false,
        },
        Some(Target::Macos) => crate::artifact::Targets {
            linux: false,
            macos: true,
        },
    };
    let Some(mut analysis) = load_for(policy, targets, err) else {
        return EXIT_USAGE;
    };
    if request.deny_warnings {
        analysis.diagnostics.deny_warnings();
        analysis.ir = analysis.ir.filter(|_| !analysis.diagnostics.has_errors());
    }
    report(&analysis, style, err);
    let Some(ir) = &analysis.ir else {
        return EXIT_FAILED;
    };
    if let Some(level) = request.ring
        && !ir.rings.contains_key(&level)
    {
        let _ = writeln!(err, "error: the policy has no ring {level}");
        return EXIT_USAGE;
    }
    let bytes: Vec<u8> = match emit {
        Emit::Ir => {
            let text = match request.ring.and_then(|level| ir.rings.get(&level)) {
                None => serde_json::to_string_pretty(ir),
                Some(r) => serde_json::to_string_pretty(r),
            };
            let Ok(mut text) = text else {
                let _ = writeln!(err, "error: the IR could not be serialized");
                return EXIT_FAILED;
            };
            text.push('\n');
            text.into_bytes()
        }
        Emit::Landlock => {
            let Some((level, ring)) = request.ring.and_then(|l| ir.rings.get(&l).map(|r| (l, r)))
            else {
                return EXIT_USAGE;
            };
            match crate::backend::landlock::lower(ring) {
                Ok(plan) => crate::backend::landlock::render(level, plan.as_ref()).into_bytes(),
                Err(e) => {
                    let _ = writeln!(err, "error: ring {level}: {e}");
                    return EXIT_FAILED;
                }
            }
        }
        Emit::Bpf | Emit::BpfAsm => {
            let Some((level, ring)) = request.ring.and_then(|l| ir.rings.get(&l).map(|r| (l, r)))
            else {
                return EXIT_USAGE;
            };
            match crate::backend::seccomp::lower(ring, arch) {
                Ok(program) if emit == Emit::Bpf => crate::backend::seccomp::to_bytes(&program),
                Ok(program) => crate::backend::seccomp::disassemble(&program).into_bytes(),
                Err(e) => {
                    let _ = writeln!(err, "error: ring {level}: {e}");
                    return EXIT_FAILED;
                }
            }
        }
        Emit::Sbpl | Emit::SbplParams => {
            let Some((level, ring)) = request.ring.and_then(|l| ir.rings.get(&l).map(|r| (l, r)))
            else {
                return EXIT_USAGE;
            };
            let profile = match crate::artifact::seatbelt(ir, ring) {
                Ok(profile) => profile,
                Err(e) => {
                    let _ = writeln!(err, "error: ring {level}: {e}");
                    return EXIT_FAILED;
                }
            };
            if emit == Emit::Sbpl {
                crate::backend::seatbelt::render(level, profile.as_ref()).into_bytes()
            } else {
                match sbpl_params(ir, &analysis.bytes, level, &request.vars) {
                    Ok(text) => text.into_bytes(),
                    Err(e) => {
                        let _ = writeln!(err, "error: {e}");
                        return EXIT_USAGE;
                    }
                }
            }
        }
        Emit::Artifact => match crate::artifact::build_for(ir, &analysis.bytes, targets) {
            Ok((_, bytes)) => bytes,
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                return EXIT_FAILED;
            }
        },
    };
    match request.output {
        None => {
            let _ = out.write_all(&bytes);
            EXIT_OK
        }
        Some(path) => match write_atomically(path, &bytes) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                let _ = writeln!(err, "error: cannot write `{}`: {e}", path.display());
                EXIT_USAGE
            }
        },
    }
}

fn target_name(target: Target) -> &'static str {
    match target {
        Target::Linux => "linux",
        Target::Macos => "macos",
    }
}

/// `--emit sbpl-params`: the ring's parameter values, bound as the runtime binds them
/// (`--var`, then each variable's environment variable, then its default).
fn sbpl_params(
    ir: &crate::ir::Ir,
    source: &[u8],
    level: u8,
    vars: &[String],
) -> Result<String, String> {
    let bindings = crate::exec::parse_vars(vars)?;
    let targets = crate::artifact::Targets {
        linux: false,
        macos: true,
    };
    let (artifact, _) = crate::artifact::build_for(ir, source, targets)?;
    let ring = artifact.ring(level).map_err(|e| e.to_string())?;
    if ring.is_unconfined() {
        return Ok(String::new());
    }
    let (_, params) = ring.seatbelt_params(&bindings).map_err(|e| e.to_string())?;
    let mut text = String::new();
    for (name, value) in params {
        text.push_str(&name);
        text.push('=');
        text.push_str(&value);
        text.push('\n');
    }
    Ok(text)
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

/// `nonoc man`: the man page, generated from the clap definition.
pub fn man(out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let command = <Cli as clap::CommandFactory>::command();
    match clap_mangen::Man::new(command).render(out) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            let _ = writeln!(err, "error: cannot write the man page: {e}");
            EXIT_USAGE
        }
    }
}

/// `nonoc schema`.
pub fn schema(artifact: bool, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let _ = err;
    let text = if artifact {
        crate::schema::artifact_schema()
    } else {
        crate::schema::policy_schema()
    };
    let _ = out.write_all(text.as_bytes());
    EXIT_OK
}
