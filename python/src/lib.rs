//! The extension module `nonoc._nonoc`: the compiler library (`compile`, `compile_str`,
//! `check`) and the runtime (`Artifact`, `Ring`, `Report`) for Python. The package `nonoc`
//! re-exports it; its exception classes live in `nonoc/_errors.py`.

mod artifact;
mod diagnostic;
mod errors;
mod report;
#[cfg(target_os = "linux")]
mod run;
#[cfg(target_os = "linux")]
mod sys;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use nonoc::backend::Targets;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::artifact::{PyArtifact, PyRing, os_path, type_name};
use crate::diagnostic::PyDiagnostic;
use crate::errors::{NonocError, PolicyError, os_error};
use crate::report::PyReport;

/// The systems an artifact carries sections for.
fn targets(target: &str) -> PyResult<Targets> {
    match target {
        "all" => Ok(Targets::ALL),
        "linux" => Ok(Targets {
            linux: true,
            macos: false,
        }),
        "macos" => Ok(Targets {
            linux: false,
            macos: true,
        }),
        other => Err(PyValueError::new_err(format!(
            "target must be \"all\", \"linux\" or \"macos\", not {other:?}"
        ))),
    }
}

/// What the front end and the backends made of a policy: the artifact, or why there is none.
enum Compiled {
    Artifact(nonoc_runtime::Artifact, Vec<u8>),
    Diagnostics(nonoc::source::Source, nonoc::diagnostic::Diagnostics),
    Backend(String),
}

/// Compiles a policy's bytes, the GIL released; a panic in the compiler becomes a
/// `NonocError`, never a crash of the interpreter.
fn compile_bytes(
    py: Python<'_>,
    name: String,
    bytes: Vec<u8>,
    target: Targets,
) -> PyResult<PyArtifact> {
    let outcome = py.detach(move || {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            let analysis = nonoc::analyze_for(&name, &bytes, target);
            let Some(ir) = &analysis.ir else {
                return Compiled::Diagnostics(analysis.source, analysis.diagnostics);
            };
            match nonoc::artifact::build(ir, &analysis.lowered, &analysis.bytes, target) {
                Ok((artifact, bytes)) => Compiled::Artifact(artifact, bytes),
                Err(e) => Compiled::Backend(e),
            }
        }))
    });
    match outcome {
        Ok(Compiled::Artifact(artifact, bytes)) => Ok(PyArtifact::new(artifact, bytes)),
        Ok(Compiled::Backend(message)) => {
            Err(PolicyError::new_err((message, PyList::empty(py).unbind())))
        }
        Ok(Compiled::Diagnostics(source, diagnostics)) => {
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = diagnostics.len() - errors;
            let first = diagnostics.iter().find(|d| d.is_error()).map(|d| {
                let place = d.span.map(|s| source.line_col(s.offset));
                match place {
                    Some((line, column)) => {
                        format!("{}:{line}:{column}: {} {}", source.name, d.code, d.message)
                    }
                    None => format!("{}: {} {}", source.name, d.code, d.message),
                }
            });
            let message = format!(
                "{} has {errors} error{} and {warnings} warning{}; the first: {}",
                source.name,
                plural(errors),
                plural(warnings),
                first.unwrap_or_default()
            );
            let list = PyList::empty(py);
            for d in PyDiagnostic::all(source, diagnostics) {
                list.append(Py::new(py, d)?)?;
            }
            Err(PolicyError::new_err((message, list.unbind())))
        }
        Err(_) => Err(NonocError::new_err(
            "internal error: the compiler panicked on this policy (please report it)",
        )),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Reads a policy file, as `nonoc` does (an `OSError` naming the file when it cannot).
fn read_policy(py: Python<'_>, path: &PathBuf) -> PyResult<Vec<u8>> {
    py.detach(|| std::fs::read(path))
        .map_err(|e| os_error(py, &e, Some(path.display().to_string())))
}

/// Compiles a policy file into an artifact, as `nonoc compile POLICY --target TARGET` does.
///
/// `target` is `"all"`, `"linux"` or `"macos"`. Raises `PolicyError` (its `diagnostics` hold
/// every finding) when the policy has errors, and `OSError` when the file cannot be read.
#[pyfunction]
#[pyo3(signature = (path, *, target="all"))]
fn compile(py: Python<'_>, path: &Bound<'_, PyAny>, target: &str) -> PyResult<PyArtifact> {
    let path = os_path(path)?;
    let target = targets(target)?;
    let bytes = read_policy(py, &path)?;
    if nonoc::cli::common::file_kind(&bytes) == nonoc::cli::common::FileKind::Artifact {
        let message = format!(
            "`{}` is an artifact, not a policy: load it with `nonoc.Artifact.load(path)`, or compile the policy it was made from",
            path.display()
        );
        return Err(PolicyError::new_err((message, PyList::empty(py).unbind())));
    }
    compile_bytes(py, path.display().to_string(), bytes, target)
}

/// Compiles a policy given as text; `name` is the file name its diagnostics show.
#[pyfunction]
#[pyo3(signature = (text, *, name="policy.yaml", target="all"))]
fn compile_str(
    py: Python<'_>,
    text: &Bound<'_, PyAny>,
    name: &str,
    target: &str,
) -> PyResult<PyArtifact> {
    let target = targets(target)?;
    let text: String = text.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "compile_str takes the policy as str, not {}",
            type_name(text)
        ))
    })?;
    compile_bytes(py, name.to_owned(), text.into_bytes(), target)
}

/// Checks a policy file, as `nonoc check` does, and returns every diagnostic (errors and
/// warnings) in the order `nonoc check` prints them. Never raises for problems in the
/// policy; raises `OSError` when the file cannot be read.
#[pyfunction]
fn check(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Vec<PyDiagnostic>> {
    let path = os_path(path)?;
    let bytes = read_policy(py, &path)?;
    let name = path.display().to_string();
    let analysis = py
        .detach(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| nonoc::analyze(&name, &bytes)))
        })
        .map_err(|_| {
            NonocError::new_err(
                "internal error: the compiler panicked on this policy (please report it)",
            )
        })?;
    Ok(PyDiagnostic::all(analysis.source, analysis.diagnostics))
}

/// The Landlock ABI of the running kernel (0 where Landlock is unavailable).
#[pyfunction]
fn landlock_abi() -> u32 {
    nonoc_runtime::landlock_abi()
}

#[pymodule]
fn _nonoc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(compile_str, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(landlock_abi, m)?)?;
    m.add_class::<PyArtifact>()?;
    m.add_class::<PyRing>()?;
    m.add_class::<PyReport>()?;
    #[cfg(target_os = "linux")]
    m.add_class::<run::PyRunResult>()?;
    m.add_class::<PyDiagnostic>()?;
    Ok(())
}
