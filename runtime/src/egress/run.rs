//! Where a proxy runs: a thread of the caller, or a process of its own that ends with
//! its parent.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::config::{LogSink, ProxyConfig, Secret, USER};
use super::server::{State, serve};
use crate::sys::egress as sys;

/// Binds a listening socket on `127.0.0.1:port` (0: a port the kernel picks) for a proxy
/// outside any network namespace.
pub fn bind_loopback(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
}

/// Where clients reach a running proxy, and what they must send.
#[derive(Debug, Clone)]
pub struct Endpoint {
    addr: SocketAddr,
    secret: Secret,
}

impl Endpoint {
    /// The endpoint a proxy with this secret will have at `addr`: for a caller that must
    /// set a command's environment before the listener exists (the command creates it in
    /// its own network namespace, at a port the caller chose).
    pub fn new(addr: SocketAddr, secret: Secret) -> Endpoint {
        Endpoint { addr, secret }
    }

    /// The address the proxy accepts on (its listener's own address: inside the network
    /// namespace the listener was created in, when it was handed over).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The secret clients send.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// `http://nonoc:SECRET@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{USER}:{}@{}", self.secret.as_str(), self.addr)
    }

    /// The environment that points a command's clients at the proxy: `HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY` and their lower-case forms set to [`url`](Self::url),
    /// `NO_PROXY` and `no_proxy` set empty (an inherited value would exempt hosts), and
    /// `NODE_USE_ENV_PROXY=1` (Node's built-in `fetch` reads the variables only with it).
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let url = self.url();
        let mut vars: Vec<(&'static str, String)> = [
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "ALL_PROXY",
            "https_proxy",
            "http_proxy",
            "all_proxy",
        ]
        .into_iter()
        .map(|name| (name, url.clone()))
        .collect();
        vars.push(("NO_PROXY", String::new()));
        vars.push(("no_proxy", String::new()));
        vars.push(("NODE_USE_ENV_PROXY", "1".to_owned()));
        vars
    }
}

/// The listener's address, refused unless it is a loopback address and the socket
/// listens: the proxy never accepts anywhere else.
fn checked_listener(listener: &TcpListener) -> io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the egress proxy accepts on loopback only, not on {addr}"),
        ));
    }
    if !sys::is_listening(listener.as_fd())? {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the socket at {addr} does not listen"),
        ));
    }
    Ok(addr)
}

/// A proxy running in a thread of this process ([`ProxyConfig::start_thread`]). Dropping
/// it stops the proxy.
#[derive(Debug)]
pub struct ProxyThread {
    endpoint: Endpoint,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ProxyThread {
    /// Where clients reach it.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Stops accepting, ends every connection and tunnel, and waits for the thread.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ProxyThread {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A proxy running in a process of its own ([`ProxyConfig::start_process`]). It ends when
/// this process ends (through `execve` too: it watches the process, not the program), or
/// when [`stop`](Self::stop) is called or the handle dropped.
#[derive(Debug)]
pub struct ProxyProcess {
    endpoint: Endpoint,
    pid: libc::pid_t,
    stopped: bool,
}

impl ProxyProcess {
    /// Where clients reach it.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The proxy's process id.
    pub fn pid(&self) -> u32 {
        u32::try_from(self.pid).unwrap_or(0)
    }

    /// Ends the proxy (`SIGTERM`) and reaps it.
    pub fn stop(mut self) -> io::Result<()> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> io::Result<()> {
        if std::mem::replace(&mut self.stopped, true) {
            return Ok(());
        }
        sys::kill(self.pid, libc::SIGTERM)?;
        sys::waitpid(self.pid).map(|_| ())
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

impl ProxyConfig {
    /// Starts the proxy in a new thread of this process, accepting on `listener` (a
    /// loopback listener from [`bind_loopback`], or one created inside a network namespace
    /// and handed over). For a caller that stays outside the sandbox: a parent that spawns
    /// the confined command.
    pub fn start_thread(self, listener: TcpListener) -> io::Result<ProxyThread> {
        let addr = checked_listener(&listener)?;
        listener.set_nonblocking(true)?;
        let endpoint = Endpoint {
            addr,
            secret: self.secret.clone(),
        };
        let state = Arc::new(State::new(self, sys::sigpipe_ignored()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, started) = std::sync::mpsc::channel::<io::Result<()>>();
        let thread = std::thread::Builder::new()
            .name("nonoc-egress".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = ready.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    serve(state, listener, async {
                        let _ = stopped.await;
                    })
                    .await;
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })?;
        match started.recv() {
            Ok(Ok(())) => Ok(ProxyThread {
                endpoint,
                stop: Some(stop),
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("the egress proxy thread ended at start")),
        }
    }

    /// Starts the proxy in a child process that accepts on `listener` and ends when this
    /// process does. For a caller about to confine itself: `nonoc exec` (which then
    /// `execve`s the command: the proxy watches the process, which the `execve` keeps) and
    /// an in-process apply, which must start the proxy before the restriction. The child
    /// leaves the caller's session (terminal signals meant for the command do not reach
    /// it), ignores `SIGPIPE`, keeps only the listener, the log file and stderr open, and
    /// raises its own descriptor limit for many tunnels.
    ///
    /// Refused when this process runs more than one thread (a forked child of a
    /// multi-threaded process may find its locks held forever), or when the log is a
    /// writer rather than a file.
    pub fn start_process(self, listener: TcpListener) -> io::Result<ProxyProcess> {
        let addr = checked_listener(&listener)?;
        if matches!(self.log, Some(LogSink::Writer(_))) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a proxy process logs to a file, not to a writer",
            ));
        }
        let endpoint = Endpoint {
            addr,
            secret: self.secret.clone(),
        };
        let parent = libc::pid_t::try_from(std::process::id())
            .map_err(|_| io::Error::other("process id out of range"))?;
        let (mut report_read, report_write) = std::io::pipe()?;
        let forked = sys::fork_single_threaded()
            .map_err(|e| io::Error::other(format!("cannot fork the egress proxy: {e}")))?;
        match forked {
            sys::Forked::Child => {
                drop(report_read);
                child(self, listener, parent, report_write.into())
            }
            sys::Forked::Parent(pid) => {
                drop(report_write);
                drop(listener);
                let mut report = Vec::new();
                let read = report_read.read_to_end(&mut report);
                let process = ProxyProcess {
                    endpoint,
                    pid,
                    stopped: false,
                };
                match (read, report.as_slice()) {
                    (Ok(_), b"ready") => Ok(process),
                    (Ok(_), message) => {
                        let message = String::from_utf8_lossy(message).into_owned();
                        drop(process);
                        Err(io::Error::other(format!(
                            "the egress proxy did not start: {}",
                            if message.is_empty() {
                                "it ended at start"
                            } else {
                                &message
                            }
                        )))
                    }
                    (Err(e), _) => Err(e),
                }
            }
        }
    }
}

/// The proxy process: set up, report `ready` (or why not) on `report`, serve until the
/// parent ends, exit.
fn child(config: ProxyConfig, listener: TcpListener, parent: libc::pid_t, report: OwnedFd) -> ! {
    let mut report = std::fs::File::from(report);
    let code = match child_setup(&listener, parent, &config, &report) {
        Ok(parent_fd) => {
            let state = Arc::new(State::new(config, true));
            match run_child(state, listener, parent_fd, &mut report) {
                Ok(()) => 0,
                Err(e) => {
                    let _ = report.write_all(e.to_string().as_bytes());
                    1
                }
            }
        }
        Err(e) => {
            let _ = report.write_all(e.to_string().as_bytes());
            1
        }
    };
    sys::exit_now(code)
}

/// A new session, a pidfd on the parent (the process ends when it becomes readable),
/// stdin and stdout on /dev/null, every other descriptor but the listener, the log, the
/// report pipe and stderr closed, `SIGPIPE` ignored, the descriptor limit raised.
fn child_setup(
    listener: &TcpListener,
    parent: libc::pid_t,
    config: &ProxyConfig,
    report: &std::fs::File,
) -> io::Result<OwnedFd> {
    sys::setsid()?;
    let parent_fd = sys::pidfd_open(parent)?;
    if std::os::unix::process::parent_id() != u32::try_from(parent).unwrap_or(0) {
        // The parent ended before the pidfd was opened (the pid may now be another
        // process's).
        sys::exit_now(0);
    }
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    sys::dup2(null.as_fd(), 0)?;
    sys::dup2(null.as_fd(), 1)?;
    drop(null);
    let mut keep = vec![
        listener.as_raw_fd(),
        parent_fd.as_raw_fd(),
        report.as_raw_fd(),
    ];
    if let Some(LogSink::File(file)) = &config.log {
        keep.push(file.as_raw_fd());
    }
    sys::close_other_fds(&keep)?;
    sys::ignore_sigpipe()?;
    let _ = sys::raise_nofile_limit();
    Ok(parent_fd)
}

fn run_child(
    state: Arc<State>,
    listener: TcpListener,
    parent_fd: OwnedFd,
    report: &mut std::fs::File,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        // The proxy ends when the parent does, whatever it is doing then.
        std::thread::Builder::new()
            .name("nonoc-egress-parent".to_owned())
            .spawn(move || {
                let _ = sys::wait_readable(parent_fd.as_fd());
                sys::exit_now(0)
            })?;
        report.write_all(b"ready")?;
        // Closing the report pipe tells the parent the child is ready.
        let closed = std::fs::File::open("/dev/null")?;
        sys::dup2(closed.as_fd(), report.as_raw_fd())?;
        serve(state, listener, std::future::pending()).await;
        Ok::<(), io::Error>(())
    })?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(())
}
