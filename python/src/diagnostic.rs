//! `Diagnostic`: one finding of `check` or `compile`, with the text `nonoc check` prints.

use std::sync::Arc;

use nonoc::diagnostic::{Diagnostic, Severity, render};
use nonoc::source::Source;
use pyo3::prelude::*;

/// The width `nonoc check` renders at when `COLUMNS` is unset.
const WIDTH: usize = 100;

/// One problem found in a policy: a stable code, a severity, a message, where it is, and help.
///
/// `str(diagnostic)` is the text `nonoc check` prints for it (without colour, 100 columns),
/// the source line quoted and underlined.
#[pyclass(module = "nonoc", name = "Diagnostic", frozen)]
#[derive(Debug)]
pub struct PyDiagnostic {
    diagnostic: Diagnostic,
    source: Arc<Source>,
    place: Option<(usize, usize)>,
}

impl PyDiagnostic {
    /// Every diagnostic of an analysis, in the order `nonoc check` prints them.
    pub fn all(source: Source, diagnostics: impl IntoIterator<Item = Diagnostic>) -> Vec<Self> {
        let source = Arc::new(source);
        diagnostics
            .into_iter()
            .map(|diagnostic| PyDiagnostic {
                place: diagnostic.span.map(|s| source.line_col(s.offset)),
                diagnostic,
                source: Arc::clone(&source),
            })
            .collect()
    }
}

#[pymethods]
impl PyDiagnostic {
    /// The stable code, such as `"NC0402"` (docs/diagnostics.md lists every code).
    #[getter]
    fn code(&self) -> &'static str {
        self.diagnostic.code.as_str()
    }

    /// `"error"` or `"warning"`.
    #[getter]
    fn severity(&self) -> &'static str {
        match self.diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    /// What is wrong, in one line.
    #[getter]
    fn message(&self) -> &str {
        &self.diagnostic.message
    }

    /// The policy file's name, as given to `check` or `compile` (`compile_str`'s `name`).
    #[getter]
    fn path(&self) -> &str {
        &self.source.name
    }

    /// The 1-based line the finding points at, or None when it points at no place.
    #[getter]
    fn line(&self) -> Option<usize> {
        self.place.map(|p| p.0)
    }

    /// The 1-based column (in characters) the finding points at, or None.
    #[getter]
    fn column(&self) -> Option<usize> {
        self.place.map(|p| p.1)
    }

    /// How to fix it, when there is advice to give.
    #[getter]
    fn help(&self) -> Option<&str> {
        self.diagnostic.help.as_deref()
    }

    fn __str__(&self) -> String {
        render(
            std::slice::from_ref(&self.diagnostic),
            &self.source.name,
            &self.source.text,
            false,
            WIDTH,
        )
    }

    fn __repr__(&self) -> String {
        let place = match self.place {
            Some((line, column)) => format!("{}:{line}:{column}", self.source.name),
            None => self.source.name.clone(),
        };
        format!(
            "<nonoc.Diagnostic {} {} at {place}: {:?}>",
            self.code(),
            self.severity(),
            self.diagnostic.message
        )
    }
}
