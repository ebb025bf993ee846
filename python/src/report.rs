//! `Report`: the runtime's `EnforcementReport`, field for field.

use nonoc_runtime::EnforcementReport;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

/// What `Ring.apply` enforced, or `Ring.preview` would enforce, on this system.
///
/// The attributes are those of the runtime's enforcement report: `ring`, `unconfined`,
/// `variables` (each variable as bound), `landlock`, `seccomp`, `isolation` and `process`
/// (dicts, or None where the system has no such layer or the ring is unconfined) and
/// `not_enforced` (what the ring asks
/// for and the system's sandbox cannot enforce, on macOS; on Linux `landlock["dropped"]` says
/// it). `as_dict()` and `to_json()` give the whole report.
#[pyclass(module = "nonoc", name = "Report", frozen)]
#[derive(Debug)]
pub struct PyReport {
    report: EnforcementReport,
    json: Value,
}

impl PyReport {
    pub fn new(report: EnforcementReport) -> PyResult<PyReport> {
        let json = serde_json::to_value(&report)
            .map_err(|e| PyValueError::new_err(format!("the report cannot be serialized: {e}")))?;
        Ok(PyReport { report, json })
    }

    fn field<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.json.get(name) {
            Some(value) => to_python(py, value),
            None => Ok(py.None().into_bound(py)),
        }
    }
}

#[pymethods]
impl PyReport {
    /// The ring's level.
    #[getter]
    fn ring(&self) -> u8 {
        self.report.ring
    }

    /// True when the ring is unconfined: nothing was applied.
    #[getter]
    fn unconfined(&self) -> bool {
        self.report.unconfined
    }

    /// The variables the ring uses, as bound (name to value).
    #[getter]
    fn variables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in &self.report.variables {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }

    /// The Landlock ruleset (Linux): `abi`, `handled`, `tcp_ports_enforced`, `scopes`,
    /// `dropped`, `rules`, `missing_paths`, `carve_outs`, `glob_matches`,
    /// `skipped_through_links`, `loaders`, `loaders_not_added` and `enforced` (each rule as
    /// enforced: `effect`, `path`, `rights`, `origin` as `FILE:LINE (SCOPE)`); None elsewhere
    /// and for an unconfined ring.
    #[getter]
    fn landlock<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "landlock")
    }

    /// The seccomp filter (Linux): `arch` and `stats`; None elsewhere and for an unconfined
    /// ring.
    #[getter]
    fn seccomp<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "seccomp")
    }

    /// The isolation layer (Linux): `tier` (`"namespace"` or `"landlock"`), `setting`,
    /// `unavailable`, `user_namespace`, `network_namespace`, `masks` and `unmasked`; None
    /// elsewhere and for an unconfined ring.
    #[getter]
    fn isolation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "isolation")
    }

    /// The process (Linux): `session`, `capabilities_kept`, `bounding_set_dropped`,
    /// `inherited_fds_closed` and `passed_fds`; None elsewhere and for an unconfined ring.
    #[getter]
    fn process<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "process")
    }

    /// The run's private temporary directory (the `tmp` preset's `${tmp}`), given as
    /// `TMPDIR`, or None when the ring does not name it: created for this apply or run (or
    /// the `tmp` the caller bound, never removed). `Ring.run` removes a created one when the
    /// command has ended; after `Ring.apply` it stays for the life of the process.
    #[getter]
    fn private_tmp(&self) -> Option<String> {
        self.report.private_tmp.clone()
    }

    /// What the ring asks for and the system's sandbox cannot enforce, said plainly (macOS).
    #[getter]
    fn not_enforced(&self) -> Vec<String> {
        self.report.not_enforced.clone()
    }

    /// The whole report as plain Python values (the JSON of `to_json()`, decoded).
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.json)
    }

    /// The whole report as JSON (the same as `nonoc exec --report` prints).
    #[pyo3(signature = (*, indent=None))]
    fn to_json(&self, indent: Option<usize>) -> PyResult<String> {
        let text = match indent {
            None => serde_json::to_string(&self.json),
            Some(n) => {
                let indent = " ".repeat(n);
                let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
                let mut out = Vec::new();
                let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
                serde::Serialize::serialize(&self.json, &mut ser)
                    .map(|()| String::from_utf8_lossy(&out).into_owned())
            }
        };
        text.map_err(|e| PyValueError::new_err(format!("the report cannot be serialized: {e}")))
    }

    fn __repr__(&self) -> String {
        let layers = match (&self.report.landlock, &self.report.seccomp) {
            _ if self.report.unconfined => "unconfined".to_owned(),
            (Some(l), Some(_)) => format!("landlock abi {} + seccomp", l.abi),
            (Some(l), None) => format!("landlock abi {}", l.abi),
            (None, Some(_)) => "seccomp".to_owned(),
            (None, None) => "seatbelt".to_owned(),
        };
        format!("<nonoc.Report ring {}: {layers}>", self.report.ring)
    }
}

/// A JSON value as plain Python values (dict, list, str, int, float, bool, None).
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, None, Some(f)) => f.into_pyobject(py)?.into_any(),
            (None, None, None) => py.None().into_bound(py),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_python(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
