//! `Ring.run`: one command confined by a ring, through the runtime's spawn helper
//! (`Ring::spawn`: everything prepared in the parent, raw system calls only in the child);
//! the parent is never confined; a ring with hosts through `Ring::spawn_with_proxy`, beside
//! its egress proxy. Waiting, the timeout and the captured output are here.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nonoc_runtime::egress::EgressOptions;
use nonoc_runtime::{Bindings, Options, Resource, Ring};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyString};

use crate::artifact::{os_path, type_name};
use crate::report::PyReport;

/// What `Ring.run` is asked to do, in Rust values (made with the GIL held).
#[derive(Debug)]
pub struct Request {
    pub args: Vec<OsString>,
    pub cwd: Option<std::path::PathBuf>,
    pub env: Option<Vec<(OsString, OsString)>>,
    pub input: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
    pub capture_output: bool,
    /// `RLIMIT_AS` in bytes (the AGT provider's `memory_mb`).
    pub memory_limit: Option<u64>,
    /// A fresh network namespace with only `lo` (the AGT provider's `network_enabled=False`).
    pub no_network: bool,
}

/// What the command did.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: Option<Vec<u8>>,
    pub stderr: Option<Vec<u8>>,
    pub timed_out: bool,
    pub report: nonoc_runtime::EnforcementReport,
}

/// The result of `Ring.run`, like `subprocess.CompletedProcess`.
#[pyclass(module = "nonoc", name = "RunResult", frozen)]
#[derive(Debug)]
pub struct PyRunResult {
    args: Py<PyList>,
    returncode: i32,
    stdout: Option<Py<PyBytes>>,
    stderr: Option<Py<PyBytes>>,
    timed_out: bool,
    report: Py<PyReport>,
}

#[pymethods]
impl PyRunResult {
    /// The command's arguments, as given.
    #[getter]
    fn args(&self, py: Python<'_>) -> Py<PyList> {
        self.args.clone_ref(py)
    }

    /// The exit status; `-N` when a signal N ended it (`-9` after a timeout), as in
    /// `subprocess`.
    #[getter]
    fn returncode(&self) -> i32 {
        self.returncode
    }

    /// Its standard output (bytes) with `capture_output=True`, else None.
    #[getter]
    fn stdout(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.stdout.as_ref().map(|b| b.clone_ref(py))
    }

    /// Its standard error (bytes) with `capture_output=True`, else None.
    #[getter]
    fn stderr(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.stderr.as_ref().map(|b| b.clone_ref(py))
    }

    /// True when the timeout ran out and the command's process group was killed.
    #[getter]
    fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// What was enforced in the command's process.
    #[getter]
    fn report(&self, py: Python<'_>) -> Py<PyReport> {
        self.report.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<nonoc.RunResult returncode={}{}>",
            self.returncode,
            if self.timed_out { " timed_out" } else { "" }
        )
    }
}

impl PyRunResult {
    pub fn new(py: Python<'_>, args: Py<PyList>, outcome: Outcome) -> PyResult<PyRunResult> {
        use std::os::unix::process::ExitStatusExt as _;
        let returncode = match (outcome.status.code(), outcome.status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => -signal,
            (None, None) => -1,
        };
        Ok(PyRunResult {
            args,
            returncode,
            stdout: outcome.stdout.map(|b| PyBytes::new(py, &b).unbind()),
            stderr: outcome.stderr.map(|b| PyBytes::new(py, &b).unbind()),
            timed_out: outcome.timed_out,
            report: Py::new(py, PyReport::new(outcome.report)?)?,
        })
    }
}

/// `args` as a list of OS strings (str, bytes or `os.PathLike` each); a single str, bytes or
/// path is the program alone, as in `subprocess`.
pub fn arguments<'py>(args: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyList>, Vec<OsString>)> {
    let single = args.is_instance_of::<PyString>()
        || args.is_instance_of::<PyBytes>()
        || args.hasattr("__fspath__")?;
    let list = if single {
        PyList::new(args.py(), [args])?
    } else {
        let items = args.try_iter().map_err(|_| {
            PyTypeError::new_err(format!(
                "args must be a sequence of str, bytes or os.PathLike, not {}",
                type_name(args)
            ))
        })?;
        let list = PyList::empty(args.py());
        for item in items {
            list.append(item?)?;
        }
        list
    };
    let mut out = Vec::with_capacity(list.len());
    for item in list.iter() {
        out.push(os_path(&item)?.into_os_string());
    }
    if out.is_empty() {
        return Err(PyValueError::new_err(
            "args is empty: name the program to run",
        ));
    }
    Ok((list, out))
}

/// `env` as (name, value) pairs; None keeps the caller's environment.
pub fn environment(env: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<(OsString, OsString)>>> {
    let Some(env) = env.filter(|e| !e.is_none()) else {
        return Ok(None);
    };
    let items = env.call_method0("items").map_err(|_| {
        PyTypeError::new_err(format!(
            "env must be a mapping of name to value, not {}",
            type_name(env)
        ))
    })?;
    let mut pairs = Vec::new();
    for item in items.try_iter()? {
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let name = os_path(&name)?.into_os_string();
        let value = os_path(&value)?.into_os_string();
        if name.is_empty() || name.as_encoded_bytes().contains(&b'=') {
            return Err(PyValueError::new_err(format!(
                "illegal environment variable name {:?}",
                name.to_string_lossy()
            )));
        }
        pairs.push((name, value));
    }
    Ok(Some(pairs))
}

/// `input` as bytes (bytes or bytearray).
pub fn input_bytes(input: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(input) = input.filter(|i| !i.is_none()) else {
        return Ok(None);
    };
    if input.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "input must be bytes, not str (encode it)",
        ));
    }
    let bytes: PyBackedBytes = input.extract().map_err(|_| {
        PyTypeError::new_err(format!("input must be bytes, not {}", type_name(input)))
    })?;
    Ok(Some(bytes.to_vec()))
}

/// `timeout` in seconds (int or float, > 0 and finite).
pub fn timeout(timeout: Option<f64>) -> PyResult<Option<Duration>> {
    match timeout {
        None => Ok(None),
        Some(t) => Duration::try_from_secs_f64(t)
            .ok()
            .filter(|d| !d.is_zero())
            .map(Some)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "timeout must be a positive number of seconds, not {t}"
                ))
            }),
    }
}

/// Runs the command confined by the ring and waits for it (called with the GIL released).
pub fn run(
    ring: &Ring<'_>,
    bindings: &Bindings,
    request: Request,
) -> Result<Outcome, nonoc_runtime::Error> {
    let mut args = request.args.into_iter();
    let program = args.next().unwrap_or_default();
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = &request.cwd {
        command.current_dir(dir);
    }
    if let Some(env) = &request.env {
        command.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    }
    command.stdin(match request.input {
        Some(_) => Stdio::piped(),
        None => Stdio::inherit(),
    });
    if request.capture_output {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut options = Options::new();
    if let Some(bytes) = request.memory_limit {
        options = options.rlimit(Resource::AddressSpace, bytes, bytes);
    }
    if request.no_network {
        // A fresh network namespace with only `lo` up; the listener it hands back is closed
        // at once, so nothing is reachable over IP.
        options = options.loopback_listener(0);
    }
    // A ring with hosts runs beside its egress proxy (a thread of this process, stopped once
    // the command has ended); `no_network` takes the network away, proxy included.
    let (mut child, proxy) = if ring.egress().is_some() && !request.no_network {
        let confined = ring.spawn_with_proxy(bindings, command, &options, EgressOptions::new())?;
        (confined.child, confined.proxy)
    } else {
        (ring.spawn(bindings, command, &options)?, None)
    };
    drop(child.listener.take());
    let pid = child.process.id();
    let writer = match (request.input, child.process.stdin.take()) {
        (Some(input), Some(mut stdin)) => Some(std::thread::spawn(move || {
            // A command that exits without reading its input is not an error (as in
            // `subprocess`).
            let _ = stdin.write_all(&input);
        })),
        _ => None,
    };
    let stdout = child.process.stdout.take().map(reader);
    let stderr = child.process.stderr.take().map(reader);

    let exited = Arc::new((Mutex::new(false), Condvar::new()));
    let timed_out = Arc::new(AtomicBool::new(false));
    let watchdog = request.timeout.map(|limit| {
        let exited = Arc::clone(&exited);
        let timed_out = Arc::clone(&timed_out);
        std::thread::spawn(move || watch(pid, limit, &exited, &timed_out))
    });
    // Waits without reaping, so the pid (the process group's id: the child leads a session
    // of its own) cannot be reused while the watchdog may still kill the group.
    let waited = crate::sys::wait_exited(pid);
    {
        let (lock, condvar) = &*exited;
        let mut done = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *done = true;
        condvar.notify_all();
    }
    if let Some(watchdog) = watchdog {
        let _ = watchdog.join();
    }
    waited.map_err(|e| nonoc_runtime::Error::System {
        context: "cannot wait for the command".to_owned(),
        source: e,
    })?;
    let status = child
        .process
        .wait()
        .map_err(|e| nonoc_runtime::Error::System {
            context: "cannot wait for the command".to_owned(),
            source: e,
        })?;
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    if let Some(proxy) = proxy {
        proxy.stop();
    }
    Ok(Outcome {
        status,
        stdout: stdout.map(collect),
        stderr: stderr.map(collect),
        timed_out: timed_out.load(Ordering::SeqCst),
        report: child.report,
    })
}

/// Kills the process group when `limit` runs out before the command exits.
fn watch(pid: u32, limit: Duration, exited: &(Mutex<bool>, Condvar), timed_out: &AtomicBool) {
    let (lock, condvar) = exited;
    let deadline = Instant::now() + limit;
    let mut done = lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    while !*done {
        let now = Instant::now();
        if now >= deadline {
            // The lock is held and the command not reaped: the group is still the command's.
            timed_out.store(true, Ordering::SeqCst);
            crate::sys::kill_group(pid);
            return;
        }
        done = match condvar.wait_timeout(done, deadline - now) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        out
    })
}

fn collect(handle: JoinHandle<Vec<u8>>) -> Vec<u8> {
    handle.join().unwrap_or_default()
}
