//! `Artifact` and `Ring`: a compiled policy, and one of its rings ready to preview or apply.

use std::path::PathBuf;
use std::sync::Arc;

use nonoc_runtime::{Artifact, Bindings};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBool, PyBytes, PyString};

use crate::errors::{ArtifactError, RingNotFoundError, os_error, runtime_error};
use crate::report::PyReport;

/// A compiled policy (`nonoc-artifact/v1`), its format and digest verified.
///
/// Made by `nonoc.compile`, `nonoc.compile_str`, `Artifact.load` or `Artifact.from_bytes`;
/// `ring(level)` and `ring_for_trust_score(score)` select the ring to apply.
#[pyclass(module = "nonoc", name = "Artifact", frozen)]
#[derive(Debug)]
pub struct PyArtifact {
    artifact: Arc<Artifact>,
    /// The file's bytes, exactly as verified or written by the compiler.
    bytes: Arc<Vec<u8>>,
}

impl PyArtifact {
    pub fn new(artifact: Artifact, bytes: Vec<u8>) -> PyArtifact {
        PyArtifact {
            artifact: Arc::new(artifact),
            bytes: Arc::new(bytes),
        }
    }

    fn verified(py: Python<'_>, bytes: Vec<u8>) -> PyResult<PyArtifact> {
        match py.detach(|| Artifact::from_slice(&bytes)) {
            Ok(artifact) => Ok(PyArtifact::new(artifact, bytes)),
            Err(e) => Err(runtime_error(py, e)),
        }
    }
}

#[pymethods]
impl PyArtifact {
    /// Reads an artifact file and verifies its format and digest.
    ///
    /// Raises `ArtifactError` when the file cannot be read (the `OSError` is its
    /// `__cause__`), is not an artifact, is of another format, or was modified after it was
    /// compiled.
    #[staticmethod]
    fn load(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<PyArtifact> {
        let path = os_path(path)?;
        // As `Artifact::load` does, keeping the bytes for `to_bytes`.
        match py.detach(|| std::fs::read(&path)) {
            Ok(bytes) => {
                let policy =
                    nonoc::cli::common::file_kind(&bytes) == nonoc::cli::common::FileKind::Policy;
                PyArtifact::verified(py, bytes).map_err(|e| match policy {
                    true => ArtifactError::new_err(format!(
                        "`{}` is a policy, not an artifact: compile it first with `nonoc.compile(path)` (or `nonoc compile {} -o OUT`)",
                        path.display(),
                        path.display()
                    )),
                    false => e,
                })
            }
            Err(source) => Err(runtime_error(
                py,
                nonoc_runtime::Error::Read { path, source },
            )),
        }
    }

    /// Verifies an artifact given as bytes (the content of an artifact file).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<PyArtifact> {
        if data.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "Artifact.from_bytes takes bytes, not str (use data.encode() or Artifact.load(path))",
            ));
        }
        let bytes: PyBackedBytes = data.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "Artifact.from_bytes takes bytes or bytearray, not {}",
                type_name(data)
            ))
        })?;
        PyArtifact::verified(py, bytes.to_vec())
    }

    /// Writes the artifact to a file, atomically (a temporary file in the same directory,
    /// then a rename): readers see the old file or the whole new one.
    fn save(&self, py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<()> {
        let path = os_path(path)?;
        let bytes = Arc::clone(&self.bytes);
        py.detach(|| nonoc::cli::compile::write_atomically(&path, &bytes))
            .map_err(|e| os_error(py, &e, Some(path.display().to_string())))
    }

    /// The artifact file's bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes)
    }

    /// `"sha256:"` + hex: the digest the artifact records (and that was verified).
    #[getter]
    fn digest(&self) -> &str {
        self.artifact.digest()
    }

    /// The `metadata.name` of the policy it was compiled from.
    #[getter]
    fn policy_name(&self) -> &str {
        self.artifact.policy_name()
    }

    /// The levels of its rings, in increasing order.
    #[getter]
    fn rings(&self) -> Vec<u32> {
        // Not `Vec<u8>`, which Python would get as bytes.
        self.artifact.levels().map(u32::from).collect()
    }

    /// The names of the variables the policy declares, sorted: `Ring.apply` binds them from
    /// `vars`, then each one's environment variable, then its default.
    #[getter]
    fn variables(&self) -> Vec<String> {
        self.artifact.variable_names().map(str::to_owned).collect()
    }

    /// The ring at `level` (an int, or an IntEnum such as AGT's `ExecutionRing`).
    ///
    /// Raises `RingNotFoundError` (a `KeyError`) when the artifact has no such ring.
    fn ring(&self, py: Python<'_>, level: &Bound<'_, PyAny>) -> PyResult<PyRing> {
        let level = extract_int(level, "ring level")?;
        let level = u8::try_from(level)
            .map_err(|_| RingNotFoundError::new_err(format!("the artifact has no ring {level}")))?;
        self.artifact
            .ring(level)
            .map_err(|e| runtime_error(py, e))?;
        Ok(PyRing {
            artifact: Arc::clone(&self.artifact),
            level,
        })
    }

    /// The ring a trust score (0..=1000) selects through the policy's trust tiers, as
    /// `nonoc exec --trust-score` selects it.
    ///
    /// Raises `ValueError` for a score outside 0..=1000 and `RingNotFoundError` when no tier
    /// selects it.
    fn ring_for_trust_score(&self, py: Python<'_>, score: &Bound<'_, PyAny>) -> PyResult<PyRing> {
        let score = extract_int(score, "trust score")?;
        let score = u32::try_from(score)
            .ok()
            .filter(|s| *s <= 1000)
            .ok_or_else(|| {
                PyValueError::new_err(format!("trust score {score} is outside 0..=1000"))
            })?;
        let ring = self
            .artifact
            .ring_for_trust_score(score)
            .map_err(|e| runtime_error(py, e))?;
        Ok(PyRing {
            artifact: Arc::clone(&self.artifact),
            level: ring.level(),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<nonoc.Artifact {:?} rings {:?} {}>",
            self.artifact.policy_name(),
            self.artifact.levels().collect::<Vec<_>>(),
            self.artifact.digest()
        )
    }
}

/// One ring of an artifact: `preview()` says what applying it would enforce here, `apply()`
/// confines the calling process, irrevocably.
#[pyclass(module = "nonoc", name = "Ring", frozen)]
#[derive(Debug)]
pub struct PyRing {
    artifact: Arc<Artifact>,
    level: u8,
}

impl PyRing {
    fn enforce(
        &self,
        py: Python<'_>,
        vars: Option<&Bound<'_, PyAny>>,
        allow_unconfined: bool,
        writable: Option<&Bound<'_, PyAny>>,
        apply: bool,
    ) -> PyResult<PyReport> {
        let bindings = bindings(vars)?;
        let writable = writable_paths(writable)?;
        let artifact = Arc::clone(&self.artifact);
        let level = self.level;
        let result = py.detach(move || {
            let mut ring = artifact.ring(level)?.allow_unconfined(allow_unconfined);
            if let Some(paths) = writable {
                ring = ring.writable_only(paths);
            }
            if !apply {
                return ring.preview(&bindings).map(|r| (r, Vec::new()));
            }
            // A ring with hosts: its egress proxy is started as a child process before the
            // restriction (it ends with this process), and this process is pointed at it.
            #[cfg(target_os = "linux")]
            if ring.egress().is_some() && !ring.is_unconfined() {
                let applied = ring.apply_with_proxy(
                    &bindings,
                    &nonoc_runtime::Options::new(),
                    nonoc_runtime::egress::EgressOptions::new(),
                )?;
                let environment = applied.environment();
                PROXIES
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(applied.proxy);
                return Ok((applied.report, environment));
            }
            ring.apply(&bindings).map(|r| (r, Vec::new()))
        });
        match result {
            Ok((report, mut environment)) => {
                // The run's private temporary directory (the `tmp` preset): where `tempfile`
                // and child processes write, once `tempfile` forgets the directory it chose.
                if apply && let Some(dir) = &report.private_tmp {
                    environment.push((nonoc_runtime::private_tmp::ENV, dir.clone()));
                    py.import("tempfile")?.setattr("tempdir", py.None())?;
                }
                let environ = py.import("os")?.getattr("environ")?;
                for (name, value) in environment {
                    environ.set_item(name, value)?;
                }
                PyReport::new(report)
            }
            Err(e) => Err(runtime_error(py, e)),
        }
    }
}

/// The egress proxies of rings applied to this process: each must live as long as the
/// process (dropping its handle would stop it).
#[cfg(target_os = "linux")]
static PROXIES: std::sync::Mutex<Vec<nonoc_runtime::egress::ProxyProcess>> =
    std::sync::Mutex::new(Vec::new());

#[pymethods]
impl PyRing {
    /// The ring's level.
    #[getter]
    fn level(&self) -> u8 {
        self.level
    }

    /// True when the ring applies no sandbox (AGT's ring 0): applying it needs
    /// `allow_unconfined=True`.
    #[getter]
    fn unconfined(&self) -> bool {
        self.artifact
            .ring(self.level)
            .is_ok_and(|ring| ring.is_unconfined())
    }

    /// Everything `apply` would do short of confining: binds the variables, places the rules,
    /// negotiates the Landlock ABI and opens every path. Returns the report `apply` would
    /// return.
    ///
    /// `vars` maps variable names to values (str or path); a variable left out takes its
    /// environment variable, then its default. `writable` (a list of paths) narrows the
    /// ring: writes only inside those paths, and there only what the ring allows.
    #[pyo3(signature = (vars=None, *, allow_unconfined=false, writable=None))]
    fn preview(
        &self,
        py: Python<'_>,
        vars: Option<&Bound<'_, PyAny>>,
        allow_unconfined: bool,
        writable: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyReport> {
        self.enforce(py, vars, allow_unconfined, writable, false)
    }

    /// Confines the calling process to the ring, irrevocably: Landlock, then the seccomp
    /// filter (Linux), or the Seatbelt profile (macOS). Everything the process starts
    /// afterwards is confined too.
    ///
    /// Call it before starting threads: raises `ApplyError` in a process that runs other
    /// threads (Landlock before ABI 8 confines only the calling thread). An error before the
    /// restriction leaves the process unconfined; `PartlyConfinedError` means Landlock holds
    /// but the seccomp filter does not, and the process must not go on as if confined.
    #[pyo3(signature = (vars=None, *, allow_unconfined=false, writable=None))]
    fn apply(
        &self,
        py: Python<'_>,
        vars: Option<&Bound<'_, PyAny>>,
        allow_unconfined: bool,
        writable: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyReport> {
        self.enforce(py, vars, allow_unconfined, writable, true)
    }

    /// Runs a command confined by the ring, like `subprocess.run`; the calling process is
    /// never confined. Everything that can fail (binding the variables, opening the paths,
    /// the filter) is done before the fork; the child then makes raw system calls only until
    /// it executes the command, so this is safe in a multi-threaded process. A failure
    /// before the command runs raises `ApplyError` (with the failed step's errno) and the
    /// command does not run.
    ///
    /// `args` is the program and its arguments; `cwd` its working directory; `env` its whole
    /// environment (None: this process's); `input` bytes for its standard input;
    /// `capture_output` collects its standard output and error as bytes; `timeout` (seconds)
    /// kills its process group when it runs out (`timed_out` is then True). Narrowing the
    /// ring: `writable` (paths) keeps writes inside those paths only, `memory_limit` (bytes)
    /// caps its address space (`RLIMIT_AS`) and `network=False` runs it in a fresh network
    /// namespace with only loopback. The GIL is released while it runs.
    #[pyo3(signature = (args, *, vars=None, cwd=None, env=None, input=None, timeout=None,
                        capture_output=false, allow_unconfined=false, writable=None,
                        memory_limit=None, network=true))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the keyword arguments of subprocess.run"
    )]
    #[cfg(target_os = "linux")]
    fn run(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyAny>,
        vars: Option<&Bound<'_, PyAny>>,
        cwd: Option<&Bound<'_, PyAny>>,
        env: Option<&Bound<'_, PyAny>>,
        input: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        capture_output: bool,
        allow_unconfined: bool,
        writable: Option<&Bound<'_, PyAny>>,
        memory_limit: Option<u64>,
        network: bool,
    ) -> PyResult<crate::run::PyRunResult> {
        let writable = writable_paths(writable)?;
        let (list, argv) = crate::run::arguments(args)?;
        let request = crate::run::Request {
            args: argv,
            cwd: cwd.filter(|c| !c.is_none()).map(os_path).transpose()?,
            env: crate::run::environment(env)?,
            input: crate::run::input_bytes(input)?,
            timeout: crate::run::timeout(timeout)?,
            capture_output,
            memory_limit,
            no_network: !network,
        };
        let bindings = bindings(vars)?;
        let artifact = Arc::clone(&self.artifact);
        let level = self.level;
        let outcome = py.detach(move || {
            let mut ring = artifact.ring(level)?.allow_unconfined(allow_unconfined);
            if let Some(paths) = writable {
                ring = ring.writable_only(paths);
            }
            crate::run::run(&ring, &bindings, request)
        });
        match outcome {
            Ok(outcome) => crate::run::PyRunResult::new(py, list.unbind(), outcome),
            Err(e) => Err(runtime_error(py, e)),
        }
    }

    fn __repr__(&self) -> String {
        let policy = self.artifact.policy_name();
        match self.unconfined() {
            true => format!("<nonoc.Ring {} of {policy:?} (unconfined)>", self.level),
            false => format!("<nonoc.Ring {} of {policy:?}>", self.level),
        }
    }
}

/// The type name of a Python value, for messages.
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// An int (or an object with `__index__`, such as an IntEnum member); not a bool, not a float.
/// Ints beyond `i64` saturate (every caller refuses them as out of range).
fn extract_int(value: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    let not_an_int =
        || PyTypeError::new_err(format!("{what} must be an int, not {}", type_name(value)));
    if value.is_instance_of::<PyBool>() {
        return Err(not_an_int());
    }
    let index = value
        .py()
        .import("operator")?
        .call_method1("index", (value,))
        .map_err(|_| not_an_int())?;
    match index.extract::<i64>() {
        Ok(n) => Ok(n),
        Err(_) if index.lt(0)? => Ok(i64::MIN),
        Err(_) => Ok(i64::MAX),
    }
}

/// A file path: str, bytes or `os.PathLike`, as the OS takes it (not necessarily UTF-8).
pub fn os_path(value: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    use std::os::unix::ffi::OsStringExt as _;
    let fspath = value
        .py()
        .import("os")?
        .call_method1("fsencode", (value,))
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "a path must be a str, bytes or os.PathLike, not {}",
                type_name(value)
            ))
        })?;
    let bytes: Vec<u8> = fspath.extract()?;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// `vars` as the runtime's bindings: a mapping of variable names (str) to values (str or
/// `os.PathLike`), each valid UTF-8.
pub fn bindings(vars: Option<&Bound<'_, PyAny>>) -> PyResult<Bindings> {
    let mut bindings = Bindings::new();
    let Some(vars) = vars.filter(|v| !v.is_none()) else {
        return Ok(bindings);
    };
    let items = vars.call_method0("items").map_err(|_| {
        PyTypeError::new_err(format!(
            "vars must be a mapping of variable name to value, not {}",
            type_name(vars)
        ))
    })?;
    for item in items.try_iter()? {
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let name = name.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "a variable name must be a str, not {}",
                type_name(&name)
            ))
        })?;
        let name = name
            .to_str()
            .map_err(|_| PyValueError::new_err("a variable name is not valid UTF-8"))?;
        let value = path_text(&value, &format!("variable `{name}`"))?;
        bindings.insert(name, value);
    }
    Ok(bindings)
}

/// `writable`: an iterable of paths (str or `os.PathLike`, UTF-8), or None.
fn writable_paths(writable: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
    let Some(writable) = writable.filter(|w| !w.is_none()) else {
        return Ok(None);
    };
    if writable.is_instance_of::<PyString>() || writable.hasattr("__fspath__")? {
        return Err(PyTypeError::new_err(
            "writable must be a list of paths, not a single path",
        ));
    }
    let items = writable.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "writable must be a list of paths, not {}",
            type_name(writable)
        ))
    })?;
    let mut paths = Vec::new();
    for item in items {
        paths.push(path_text(&item?, "a writable path")?);
    }
    Ok(Some(paths))
}

/// A str or `os.PathLike` value as UTF-8 text (the runtime's variables are UTF-8).
pub fn path_text(value: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    let py = value.py();
    let fspath = py
        .import("os")?
        .getattr("fspath")?
        .call1((value,))
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be a str or os.PathLike, not {}",
                type_name(value)
            ))
        })?;
    if let Ok(text) = fspath.cast::<PyString>() {
        return text.to_str().map(str::to_owned).map_err(|_| {
            PyValueError::new_err(format!(
                "{what}: {} is not valid UTF-8",
                fspath
                    .repr()
                    .map_or_else(|_| "the value".to_owned(), |r| r.to_string())
            ))
        });
    }
    let bytes: Vec<u8> = fspath.extract()?;
    String::from_utf8(bytes).map_err(|e| {
        PyValueError::new_err(format!(
            "{what}: {:?} is not valid UTF-8",
            String::from_utf8_lossy(e.as_bytes())
        ))
    })
}
