//! The exceptions the package raises, and the mapping of the runtime's errors onto them.
//!
//! The classes are declared in Python (`nonoc/_errors.py`, where a class may derive from both
//! `NonocError` and `ValueError`); this module raises them.

use std::error::Error as _;

use nonoc_runtime::{Error, ErrorKind};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

pyo3::import_exception!(nonoc._errors, NonocError);
pyo3::import_exception!(nonoc._errors, PolicyError);
pyo3::import_exception!(nonoc._errors, ArtifactError);
pyo3::import_exception!(nonoc._errors, ApplyError);
pyo3::import_exception!(nonoc._errors, UnconfinedRingError);
pyo3::import_exception!(nonoc._errors, PartlyConfinedError);
pyo3::import_exception!(nonoc._errors, VariableError);
pyo3::import_exception!(nonoc._errors, RingNotFoundError);

/// The errno of the system call behind an error, if there is one.
fn errno(error: &Error) -> Option<i32> {
    error
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .and_then(std::io::Error::raw_os_error)
}

/// An `OSError` of the subclass its errno selects (`FileNotFoundError`, ...), naming the file.
pub fn os_error(py: Python<'_>, error: &std::io::Error, filename: Option<String>) -> PyErr {
    let Some(code) = error.raw_os_error() else {
        return PyOSError::new_err(error.to_string());
    };
    // `OSError(errno, strerror, filename)` returns the subclass for that errno.
    let strerror = match py
        .import("os")
        .and_then(|os| os.getattr("strerror")?.call1((code,)))
    {
        Ok(text) => text.to_string(),
        Err(_) => error.to_string(),
    };
    let os_error = py.get_type::<PyOSError>();
    let instance = match filename {
        Some(name) => os_error.call1((code, strerror, name)),
        None => os_error.call1((code, strerror)),
    };
    match instance {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}

/// The exception for a runtime error: the class its [`ErrorKind`] documents, the errno where
/// a system call failed, and the system's error as `__cause__` where there is one.
pub fn runtime_error(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    let err = match (error.kind(), &error) {
        (ErrorKind::Io, Error::Read { path, source }) => {
            let err = ArtifactError::new_err(message);
            err.set_cause(
                py,
                Some(os_error(py, source, Some(path.display().to_string()))),
            );
            err
        }
        (ErrorKind::Io | ErrorKind::InvalidArtifact, _) => ArtifactError::new_err(message),
        (ErrorKind::NoRing, Error::TrustScoreRange(_)) => PyValueError::new_err(message),
        (ErrorKind::NoRing, _) => RingNotFoundError::new_err(message),
        (ErrorKind::UnconfinedRefused, _) => UnconfinedRingError::new_err((message, None::<i32>)),
        (ErrorKind::Variable, _) => VariableError::new_err(message),
        (ErrorKind::PartlyApplied, _) => PartlyConfinedError::new_err((message, errno(&error))),
        (
            ErrorKind::NotForThisSystem
            | ErrorKind::MultiThreaded
            | ErrorKind::Unsupported
            | ErrorKind::Apply,
            _,
        ) => ApplyError::new_err((message, errno(&error))),
        _ => NonocError::new_err(message),
    };
    if let Some(source) = error
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        && err.cause(py).is_none()
    {
        err.set_cause(py, Some(os_error(py, source, None)));
    }
    err
}
