//! `nonoc compile POLICY [-o OUT] [--emit ...] [--ring N] [--arch A] [--target linux|macos]`:
//! the artifact, or one stage's output.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::common::{CliError, Context, Exit, Outcome, VarArgs, read_policy, report};
use crate::Analysis;
use crate::backend::{self, Targets};
use crate::data::Arch;
use crate::ir::Ir;

/// Arguments of `nonoc compile`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompileArgs {
    pub policy: PathBuf,
    /// What to emit instead of the artifact.
    #[arg(long, value_enum)]
    pub emit: Option<Emit>,
    /// The ring to emit (required for `landlock`, `bpf`, `sbpl`; optional for `ir`).
    #[arg(long)]
    pub ring: Option<u8>,
    /// Only this target system (default: all).
    #[arg(long, value_enum)]
    pub target: Option<Target>,
    /// The arch of `--emit bpf|bpf-asm` (`x86_64`, `aarch64`; default: this machine's).
    #[arg(long)]
    pub arch: Option<String>,
    /// Write here (atomically) instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Only with `--emit sbpl-params`.
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    Linux,
    Macos,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Linux => "linux",
            Target::Macos => "macos",
        }
    }
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

impl Emit {
    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// `nonoc compile`: 0, 1 when the policy has errors or a backend cannot lower a ring, 2 on a
/// usage or I/O problem.
pub fn run(args: &CompileArgs, ctx: &mut Context<'_>) -> Outcome {
    let emit = args.emit.unwrap_or(Emit::Artifact);
    let needs_ring = matches!(
        emit,
        Emit::Landlock | Emit::Bpf | Emit::BpfAsm | Emit::Sbpl | Emit::SbplParams
    );
    if needs_ring && args.ring.is_none() {
        return Err(CliError::usage(format!(
            "`--emit {}` needs `--ring N`",
            emit.name()
        )));
    }
    let system = match emit {
        Emit::Landlock | Emit::Bpf | Emit::BpfAsm => Some(Target::Linux),
        Emit::Sbpl | Emit::SbplParams => Some(Target::Macos),
        Emit::Ir | Emit::Artifact => None,
    };
    if let (Some(system), Some(target)) = (system, args.target)
        && system != target
    {
        return Err(CliError::usage(format!(
            "`--emit {}` is for {}, not `--target {}`",
            emit.name(),
            system.name(),
            target.name()
        )));
    }
    if !args.vars.vars.is_empty() && emit != Emit::SbplParams {
        return Err(CliError::usage(
            "`--var` applies to `--emit sbpl-params` only",
        ));
    }
    let arch = match args.arch.as_deref().map(Arch::from_name) {
        None => Arch::host(),
        Some(Some(arch)) => arch,
        Some(None) => {
            return Err(CliError::usage("unknown arch; use `x86_64` or `aarch64`"));
        }
    };
    let targets = match args.target {
        None => Targets::ALL,
        Some(Target::Linux) => Targets::LINUX,
        Some(Target::Macos) => Targets::MACOS,
    };
    let mut analysis = read_policy(&args.policy, targets)?;
    if args.deny_warnings {
        analysis.diagnostics.deny_warnings();
        analysis.ir = analysis.ir.filter(|_| !analysis.diagnostics.has_errors());
    }
    report(&analysis, ctx.style, ctx.err);
    let Some(ir) = &analysis.ir else {
        return Ok(Exit::Failed);
    };
    if let Some(level) = args.ring
        && !ir.rings.contains_key(&level)
    {
        return Err(CliError::usage(format!("the policy has no ring {level}")));
    }
    let bytes = emitted(&analysis, ir, emit, args, arch, targets)?;
    match &args.output {
        None => {
            let _ = ctx.out.write_all(&bytes);
            Ok(Exit::Ok)
        }
        Some(path) => match write_atomically(path, &bytes) {
            Ok(()) => Ok(Exit::Ok),
            Err(e) => Err(CliError::usage(format!(
                "cannot write `{}`: {e}",
                path.display()
            ))),
        },
    }
}

/// What `--emit` asks for, from what the backends made of the policy.
fn emitted(
    analysis: &Analysis,
    ir: &Ir,
    emit: Emit,
    args: &CompileArgs,
    arch: Arch,
    targets: Targets,
) -> Result<Vec<u8>, CliError> {
    let linux = |level: u8| analysis.lowered.linux.as_ref().and_then(|l| l.get(&level));
    let level = args.ring;
    Ok(match (emit, level) {
        (Emit::Ir, _) => {
            let text = match level.and_then(|level| ir.rings.get(&level)) {
                None => serde_json::to_string_pretty(ir),
                Some(r) => serde_json::to_string_pretty(r),
            };
            let mut text = text.map_err(|_| CliError::failed("the IR could not be serialized"))?;
            text.push('\n');
            text.into_bytes()
        }
        (Emit::Landlock, Some(level)) => match linux(level).map(|l| &l.landlock) {
            Some(Ok(plan)) => backend::landlock::render(level, plan.as_ref()).into_bytes(),
            Some(Err(e)) => return Err(CliError::failed(format!("ring {level}: {e}"))),
            None => return Err(not_lowered(level, "Linux")),
        },
        (Emit::Bpf | Emit::BpfAsm, Some(level)) => {
            // An unconfined ring has no filter.
            let program = match linux(level).and_then(|l| l.seccomp.get(&arch)) {
                Some(program) => program.as_ref().map_err(Clone::clone),
                None => Err(backend::seccomp::LowerError::Unconfined(level)),
            };
            match program {
                Ok(program) if emit == Emit::Bpf => backend::seccomp::to_bytes(program),
                Ok(program) => backend::seccomp::disassemble(program).into_bytes(),
                Err(e) => return Err(CliError::failed(format!("ring {level}: {e}"))),
            }
        }
        (Emit::Sbpl | Emit::SbplParams, Some(level)) => {
            let lowered = analysis.lowered.macos.as_ref().and_then(|m| m.get(&level));
            let profile = match lowered.map(|m| crate::artifact::seatbelt(level, m)) {
                Some(profile) => profile.map_err(CliError::failed)?,
                None => return Err(not_lowered(level, "macOS")),
            };
            if emit == Emit::Sbpl {
                backend::seatbelt::render(level, profile.as_ref()).into_bytes()
            } else {
                sbpl_params(analysis, ir, level, &args.vars)?.into_bytes()
            }
        }
        (Emit::Artifact, _) => {
            match crate::artifact::build(ir, &analysis.lowered, &analysis.bytes, targets) {
                Ok((_, bytes)) => bytes,
                Err(e) => return Err(CliError::failed(e)),
            }
        }
        // `--ring` was checked above.
        (_, None) => {
            return Err(CliError::usage(format!(
                "`--emit {}` needs `--ring N`",
                emit.name()
            )));
        }
    })
}

/// A ring the backends of `system` did not lower (the policy was analyzed for another).
fn not_lowered(level: u8, system: &str) -> CliError {
    CliError::failed(format!("ring {level} was not lowered for {system}"))
}

/// `--emit sbpl-params`: the ring's parameter values, bound as the runtime binds them
/// (`--var`, then each variable's environment variable, then its default).
fn sbpl_params(
    analysis: &Analysis,
    ir: &Ir,
    level: u8,
    vars: &VarArgs,
) -> Result<String, CliError> {
    let bindings = vars.bindings()?;
    let (artifact, _) =
        crate::artifact::build(ir, &analysis.lowered, &analysis.bytes, Targets::MACOS)
            .map_err(CliError::usage)?;
    let ring = artifact
        .ring(level)
        .map_err(|e| CliError::usage(e.to_string()))?;
    if ring.is_unconfined() {
        return Ok(String::new());
    }
    let (_, params) = ring
        .seatbelt_params(&bindings)
        .map_err(|e| CliError::usage(e.to_string()))?;
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
/// file or the whole new one, never a part. The Python package's `Artifact.save` uses it too.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // `.NAME.PID.tmp`, the name kept as the OS gives it (not necessarily UTF-8).
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(name);
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
