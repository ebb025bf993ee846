//! nonoc compiles ring policies (YAML) into OS sandbox artifacts.
//!
//! The pipeline is the module layout, each stage using only those before it: [`syntax`] (YAML
//! to serde types with spans), [`resolve`] (variables, ring levels, `extends`, trust tiers,
//! path templates), [`ir`] (each ring checked and merged; [`ir::decide`]), [`check`] (header,
//! `tests:` and the lints on the IR), [`backend`] (Landlock, seccomp, Seatbelt, each run once
//! by [`analyze`]), [`artifact`]. [`explain`], [`inspect`], [`diff`] and [`kernel`] compute
//! what those commands show; `isolation` (Linux) what this host's isolation tier does to a
//! request (`explain`'s `on this host` line). The command line in `main.rs` is a thin layer
//! over [`cli`].

pub mod artifact;
pub mod backend;
pub mod check;
pub mod cli;
pub mod data;
pub mod diagnostic;
pub mod diff;
pub mod explain;
pub mod inspect;
pub mod ir;
#[cfg(target_os = "linux")]
pub mod isolation;
pub mod kernel;
pub mod resolve;
pub mod sarif;
pub mod schema;
pub mod source;
pub mod syntax;

use backend::{Lowered, Targets};
use diagnostic::{Code, Diagnostics};
use ir::Ir;
use source::Source;

/// The result of reading a policy: the IR when there is no error, what the backends made of
/// it, and every diagnostic.
#[derive(Debug)]
pub struct Analysis {
    pub source: Source,
    /// The file's bytes as read (the artifact records their sha256).
    pub bytes: Vec<u8>,
    pub ir: Option<Ir>,
    /// Each ring lowered by the backends of the systems asked for (what
    /// [`artifact::build`] assembles).
    pub lowered: Lowered,
    pub diagnostics: Diagnostics,
    /// The warnings of the codes `settings.accept` lists: not in `diagnostics`, counted in
    /// `check`'s summary and kept as suppressed results in SARIF.
    pub accepted: Vec<diagnostic::Diagnostic>,
}

/// Reads a policy file and runs [`analyze_for`] on it. Reading stops after
/// [`syntax::MAX_INPUT_BYTES`] bytes: a larger file (or an endless one, such as `/dev/zero`)
/// is one `NC0004` diagnostic, never read whole. `Err` when the file cannot be read.
pub fn analyze_file(path: &std::path::Path, targets: Targets) -> std::io::Result<Analysis> {
    use std::io::Read;
    let limit = syntax::MAX_INPUT_BYTES;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)?;
    let name = path.display().to_string();
    if bytes.len() <= limit {
        return Ok(analyze_for(&name, &bytes, targets));
    }
    let mut diagnostics = Diagnostics::default();
    diagnostics.push(
        diagnostic::Diagnostic::new(
            Code::ParserBudget,
            None,
            format!("the file is larger than the limit of {limit} bytes; nonoc stopped reading it there"),
        )
        .help("a ring policy is a small document; check that this is the right file (a device or a pipe never ends)"),
    );
    Ok(Analysis {
        source: Source::new(&name, String::new()),
        bytes: Vec::new(),
        ir: None,
        lowered: Lowered::default(),
        diagnostics,
        accepted: Vec::new(),
    })
}

/// Runs the pipeline (parse, resolve, lower, check, backends) on a policy file's bytes, for an
/// artifact of every system.
pub fn analyze(name: &str, bytes: &[u8]) -> Analysis {
    analyze_for(name, bytes, Targets::ALL)
}

/// As [`analyze`], for an artifact of `targets` only: the backends of a system left out are
/// not run, nor their checks (a policy too large for a macOS profile compiles for Linux), and
/// the warnings about that system's enforcement ([`diagnostic::Code::system`]) are silent.
pub fn analyze_for(name: &str, bytes: &[u8], targets: Targets) -> Analysis {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let source = Source::new(name, text);
    let mut diags = Diagnostics::default();
    let file = match syntax::parse(bytes) {
        Ok(file) => file,
        Err(d) => {
            diags.push(*d);
            return Analysis {
                source,
                bytes: bytes.to_vec(),
                ir: None,
                lowered: Lowered::default(),
                diagnostics: diags,
                accepted: Vec::new(),
            };
        }
    };
    check::header(&file, &mut diags);
    let accept = check::accepted(&file, &mut diags);
    let resolved = resolve::resolve(&file, &mut diags);
    let mut ir = ir::lower(&file, &resolved, &source, &mut diags);
    ir.tests = check::tests(&file, &ir, &source, &mut diags);
    check::lints(&ir, &mut diags);
    let lowered = backend::lower(&ir, targets, &mut diags);
    if ir.settings.unenforceable == syntax::Unenforceable::Error {
        diags.raise(&[
            Code::DenyInsideAllow,
            Code::DenyGlobPartial,
            Code::SeatbeltCoarse,
            Code::SeatbeltRename,
        ]);
    }
    // The warnings about a system the artifact is not compiled for say nothing about it.
    diags.retain(|d| {
        d.is_error()
            || match d.code.system() {
                None => true,
                Some(diagnostic::System::Linux) => targets.linux,
                Some(diagnostic::System::Macos) => targets.macos,
            }
    });
    let mut accepted = diags.take_accepted(&accept);
    accepted.sort_by_key(|d| (d.span.map(|s| s.offset), d.code));
    diags.sort();
    let ir = (!diags.has_errors()).then_some(ir);
    Analysis {
        source,
        bytes: bytes.to_vec(),
        ir,
        lowered,
        diagnostics: diags,
        accepted,
    }
}
