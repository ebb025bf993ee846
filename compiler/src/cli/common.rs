//! What the commands share: the exit codes, the one error type and where it is rendered, the
//! context a command runs in, the output format, `--var`, and reading a policy.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::Path;

use clap::ValueEnum;
use nonoc_runtime::Bindings;

use crate::backend::Targets;
use crate::diagnostic::{Diagnostic, render};
use crate::ir::Ir;
use crate::{Analysis, analyze_file};

/// How `nonoc` exits (docs/cli.md): the same codes for every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// The policy failed the step (errors, a failed test, an escalation).
    Failed = 1,
    /// A usage or I/O problem: a bad flag, a missing file.
    Usage = 2,
    /// `exec`: the sandbox could not be applied, so the command was not run.
    CannotApply = 126,
    /// `exec`: the command was not found.
    NotFound = 127,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

impl std::process::Termination for Exit {
    fn report(self) -> std::process::ExitCode {
        self.into()
    }
}

/// Why a command stopped, other than a policy's diagnostics (which are rendered as
/// diagnostics): what it says and how the process exits. [`CliError::report`] is the one
/// place it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    exit: Exit,
    /// Who speaks: `error`, or the command (`nonoc exec`) where its words mix with a program's.
    speaker: &'static str,
    message: String,
}

impl CliError {
    /// A usage or I/O problem (exit 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(Exit::Usage, message)
    }

    /// The step failed (exit 1).
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError::new(Exit::Failed, message)
    }

    /// An error with this exit code.
    pub fn new(exit: Exit, message: impl Into<String>) -> CliError {
        CliError {
            exit,
            speaker: "error",
            message: message.into(),
        }
    }

    /// Said by `speaker` (`nonoc exec`, `nonoc doctor`) instead of `error`.
    #[must_use]
    pub fn by(mut self, speaker: &'static str) -> CliError {
        self.speaker = speaker;
        self
    }

    /// How the process exits.
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// Writes the error on `err` and returns its exit code.
    pub fn report(&self, err: &mut dyn Write) -> Exit {
        let _ = writeln!(err, "{self}");
        self.exit
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.speaker, self.message)
    }
}

impl std::error::Error for CliError {}

/// What a command returns: its exit code, or the error that stopped it.
pub type Outcome = Result<Exit, CliError>;

/// How to render diagnostics for people.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

impl Style {
    /// No colour, 100 columns.
    pub const PLAIN: Style = Style {
        color: false,
        width: 100,
    };

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

/// Where a command writes, how it renders diagnostics, and the environment variables bind
/// from (the process's; tests give a fixed one).
pub struct Context<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub style: Style,
    pub env: &'a dyn Fn(&str) -> Option<OsString>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("style", &self.style)
            .finish_non_exhaustive()
    }
}

/// Output formats (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// SARIF 2.1.0, for code-scanning UIs (`check` only).
    Sarif,
}

/// `--var NAME=VALUE`, declared once for every command that binds variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct VarArgs {
    /// Bind a variable (before its environment variable and default).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

impl VarArgs {
    /// The values given, parsed.
    pub fn bindings(&self) -> Result<Bindings, CliError> {
        parse_vars(&self.vars).map_err(CliError::usage)
    }
}

/// Parses `NAME=VALUE` pairs; a name given twice is refused.
pub fn parse_vars(vars: &[String]) -> Result<Bindings, String> {
    let mut bindings = Bindings::new();
    for var in vars {
        match var.split_once('=') {
            Some((name, _)) if bindings.get(name).is_some() => {
                return Err(format!("`--var {name}=...` is given twice"));
            }
            Some((name, value)) if !name.is_empty() => bindings.insert(name, value),
            _ => return Err(format!("`--var {var}` is not NAME=VALUE")),
        }
    }
    Ok(bindings)
}

/// What a file given on the command line holds, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Policy,
    Artifact,
    Other,
}

/// How many bytes [`file_kind`] reads.
const SNIFF_BYTES: u64 = 4096;

/// What `bytes` (the start of a file) hold: an artifact is JSON that names its format
/// `nonoc-artifact/...` at its start; a policy is YAML with `kind: RingPolicy` or an
/// `apiVersion: nonoc.dev/...` line.
pub fn file_kind(bytes: &[u8]) -> FileKind {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') && trimmed.contains("\"nonoc-artifact/") {
        return FileKind::Artifact;
    }
    let policy = text.lines().any(|line| {
        let line = line.trim_start_matches(['-', ' ']).trim_end();
        line == "kind: RingPolicy" || line.starts_with("apiVersion: nonoc.dev/")
    });
    match policy && !trimmed.starts_with('{') {
        true => FileKind::Policy,
        false => FileKind::Other,
    }
}

/// The kind of the file at `path`, from its first bytes; `Other` when it cannot be read.
pub fn kind_of_file(path: &Path) -> FileKind {
    use std::io::Read;
    let mut bytes = Vec::new();
    match std::fs::File::open(path).and_then(|f| f.take(SNIFF_BYTES).read_to_end(&mut bytes)) {
        Ok(_) => file_kind(&bytes),
        Err(_) => FileKind::Other,
    }
}

/// What to say when `command` needs an artifact and `path` is a policy (`None` otherwise):
/// that it is one, and the command that makes the artifact.
pub fn policy_not_artifact(path: &Path, command: &str) -> Option<String> {
    if kind_of_file(path) != FileKind::Policy {
        return None;
    }
    let stem = path
        .file_stem()
        .map_or_else(|| "policy".to_owned(), |s| s.to_string_lossy().into_owned());
    let artifact = path.with_file_name(format!("{stem}.nonoc.json"));
    Some(format!(
        "`{}` is a policy, not an artifact: run `nonoc compile {} -o {}` first, then `nonoc {command} {}`",
        path.display(),
        path.display(),
        artifact.display(),
        artifact.display()
    ))
}

/// Reads and analyzes a policy file for an artifact of `targets`. An artifact given instead
/// is refused (exit 2) with the command that reads one.
pub fn read_policy(path: &Path, targets: Targets) -> Result<Analysis, CliError> {
    if kind_of_file(path) == FileKind::Artifact {
        return Err(CliError::usage(format!(
            "`{}` is an artifact, not a policy: give the policy it was compiled from, or run `nonoc inspect {}` to see what it holds",
            path.display(),
            path.display()
        )));
    }
    match analyze_file(path, targets) {
        Ok(analysis) => Ok(analysis),
        Err(e) => Err(CliError::usage(format!(
            "cannot read `{}`: {e}",
            path.display()
        ))),
    }
}

/// Reads and analyzes a policy, prints its diagnostics (as `check` renders them) when it has
/// errors, and returns its IR; `Err` when the file cannot be read (2) or has errors (1).
/// Only errors are printed: warnings are `check`'s business, and the other commands answer
/// for policies that have some.
pub fn load_ir(path: &Path, ctx: &mut Context<'_>) -> Result<(Analysis, Ir), CliError> {
    let mut analysis = read_policy(path, Targets::ALL)?;
    if analysis.diagnostics.has_errors() {
        report(&analysis, ctx.style, ctx.err);
    }
    match analysis.ir.take() {
        Some(ir) => Ok((analysis, ir)),
        None => Err(CliError::failed(format!(
            "`{}` has errors; run `nonoc check` for details",
            path.display()
        ))),
    }
}

/// Renders an analysis's diagnostics on `err`.
pub fn report(analysis: &Analysis, style: Style, err: &mut dyn Write) {
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

/// Why `nonoc exec` refuses this ring here, where it applies the ring to itself and becomes
/// CMD, with no process left to wait for it: a ring with hosts needs its egress proxy beside
/// CMD (none on macOS yet, docs/egress.md), and a private temporary directory created for the
/// run would outlive it (docs/cli.md, "exec"). `doctor` says the same. (Tested on Linux too,
/// where `nonoc exec` spawns such rings instead.)
#[cfg(any(test, not(target_os = "linux")))]
pub fn exec_refusal(
    artifact: &nonoc_runtime::Artifact,
    ring: &nonoc_runtime::Ring<'_>,
    bindings: &Bindings,
) -> Option<String> {
    let os = std::env::consts::OS;
    if ring.egress().is_some() && !ring.is_unconfined() {
        return Some(format!(
            "ring {} reaches hosts by name (`network.hosts`), which needs the egress proxy, and `nonoc exec` runs none on {os} yet (docs/egress.md)",
            ring.level()
        ));
    }
    if ring.creates_private_tmp(bindings) {
        let name = artifact
            .variables
            .iter()
            .find(|(_, v)| v.private_tmp)
            .map_or("tmp", |(name, _)| name.as_str());
        return Some(format!(
            "ring {} needs a private temporary directory `${{{name}}}`, which `nonoc exec` on {os} would create and could never remove (it becomes the command); bind it to a directory you manage with `--var {name}=DIR`",
            ring.level()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use nonoc_runtime::{Artifact, Bindings};

    use super::exec_refusal;
    use crate::backend::Targets;

    fn artifact(text: &str) -> Artifact {
        let analysis = crate::analyze("t.yaml", text.as_bytes());
        let ir = analysis.ir.as_ref().expect("the policy has no errors");
        crate::artifact::build(ir, &analysis.lowered, &analysis.bytes, Targets::ALL)
            .expect("the artifact builds")
            .0
    }

    fn refusal(artifact: &Artifact, level: u8, bindings: &Bindings) -> Option<String> {
        let ring = artifact.ring(level).expect("the ring exists");
        exec_refusal(artifact, &ring, bindings)
    }

    /// Where `nonoc exec` becomes the command (macOS), it refuses a ring with hosts and a
    /// private temporary directory it would create, and only those.
    #[test]
    fn exec_refuses_a_ring_with_hosts_or_an_unbound_private_tmp() {
        let none = Bindings::new();
        let hosts = artifact(include_str!(
            "../../../tests/fixtures/valid/09-egress-hosts.yaml"
        ));
        let why = refusal(&hosts, 2, &none).expect("ring 2 has hosts");
        assert!(
            why.contains("`network.hosts`") && why.contains("egress proxy"),
            "{why}"
        );
        // An `allowed` ring that inherits hosts connects anywhere, without a proxy.
        assert_eq!(refusal(&hosts, 1, &none), None);

        let tmp = artifact(
            "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\nrings:\n  2:\n    filesystem: { presets: [tmp] }\n  3:\n    filesystem: { read: [/usr] }\n",
        );
        let why = refusal(&tmp, 2, &none).expect("ring 2 would create ${tmp}");
        assert!(
            why.contains("`${tmp}`") && why.contains("`--var tmp=DIR`"),
            "{why}"
        );
        let bound = Bindings::new().with("tmp", "/srv/scratch");
        assert_eq!(refusal(&tmp, 2, &bound), None);
        assert_eq!(refusal(&tmp, 3, &none), None);
    }
}
