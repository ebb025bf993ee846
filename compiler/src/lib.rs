//! nonoc compiles ring policies (YAML) into OS sandbox artifacts.
//!
//! The pipeline is the module layout: [`syntax`] (YAML to serde types with spans),
//! [`resolve`] (variables, ring levels, `extends`, trust tiers), [`check`] (value checks and
//! lints), [`ir`] (the resolved policy and [`ir::decide`]). The command line in `main.rs` is a
//! thin layer over [`cli`].

pub mod artifact;
pub mod backend;
pub mod check;
pub mod cli;
pub mod cmd;
pub mod data;
pub mod diagnostic;
pub mod diff;
pub mod exec;
pub mod ir;
pub mod resolve;
pub mod sarif;
pub mod schema;
pub mod source;
pub mod syntax;

use diagnostic::{Code, Diagnostics};
use ir::Ir;
use source::Source;

/// The result of reading a policy: the IR when there is no error, and every diagnostic.
#[derive(Debug)]
pub struct Analysis {
    pub source: Source,
    /// The file's bytes as read (the artifact records their sha256).
    pub bytes: Vec<u8>,
    pub ir: Option<Ir>,
    pub diagnostics: Diagnostics,
}

/// Runs the front end (parse, resolve, check, lower, lint) on a policy file's bytes, for an
/// artifact of every system.
pub fn analyze(name: &str, bytes: &[u8]) -> Analysis {
    analyze_for(name, bytes, artifact::Targets::ALL)
}

/// As [`analyze`], for an artifact of `targets` only: the checks that concern only a system
/// left out are not run (a policy too large for a macOS profile compiles for Linux).
pub fn analyze_for(name: &str, bytes: &[u8], targets: artifact::Targets) -> Analysis {
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
                diagnostics: diags,
            };
        }
    };
    check::header(&file, &mut diags);
    let resolved = resolve::resolve(&file, &mut diags);
    let mut ir = ir::lower(&file, &resolved, &source, &mut diags);
    ir.tests = check::tests(&file, &ir, &source, &mut diags);
    check::lints(&ir, targets, &mut diags);
    if targets.linux && !diags.has_errors() {
        check::limits(&ir, &mut diags);
    }
    if ir.settings.unenforceable == syntax::Unenforceable::Error {
        diags.raise(&[
            Code::DenyInsideAllow,
            Code::DenyGlobPartial,
            Code::SeatbeltCoarse,
            Code::SeatbeltRename,
        ]);
    }
    diags.sort();
    let ir = (!diags.has_errors()).then_some(ir);
    Analysis {
        source,
        bytes: bytes.to_vec(),
        ir,
        diagnostics: diags,
    }
}
