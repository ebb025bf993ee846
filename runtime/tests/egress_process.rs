//! The proxy in a process of its own (`ProxyConfig::start_process`): it serves, logs to a
//! file, stops on request, outlives an `execve` of its parent and ends when the parent
//! does. Forking needs a single-threaded process, which libtest is not: this file has its
//! own runner, and each case that must end a parent runs in a fresh copy of this program.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test reports a failure by panicking"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nonoc_runtime::egress::{ProxyConfig, ProxyProcess, Secret, bind_loopback};
use nonoc_runtime::hosts::{HostName, HostPattern, HostPolicy, HostRule, Private};

const SECRET: &str = "process-secret-0123456789";

fn main() {
    // A parent for the death tests: start a proxy, say where, then exit or exec.
    if let Ok(how) = std::env::var("NONOC_EGRESS_PARENT") {
        parent(&how);
        return;
    }
    let cases: [(&str, fn()); 4] = [
        (
            "a_process_proxy_serves_logs_and_stops",
            serves_logs_and_stops,
        ),
        ("a_process_proxy_needs_a_file_log", needs_a_file_log),
        ("a_process_proxy_ends_with_its_parent", ends_with_its_parent),
        (
            "a_process_proxy_outlives_an_execve_of_its_parent",
            outlives_an_execve,
        ),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, case) in cases {
        match std::panic::catch_unwind(case) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

fn config(echo_port: u16) -> ProxyConfig {
    let policy = HostPolicy::new(
        vec![HostRule::allow(HostPattern::parse("allowed.test").unwrap(), &[echo_port]).unwrap()],
        vec![],
        Private::Allow,
    );
    ProxyConfig::new(3, policy)
        .unwrap()
        .with_secret(Secret::new(SECRET).unwrap())
        .resolve(
            HostName::parse("allowed.test").unwrap(),
            "127.0.0.1".parse().unwrap(),
        )
}

/// An echo server on a listener bound before any thread starts; its thread starts after
/// the proxy is forked.
fn echo_thread(listener: TcpListener) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut back = stream.try_clone().unwrap();
                let _ = std::io::copy(&mut stream, &mut back);
            });
        }
    });
}

/// CONNECT to allowed.test through the proxy; the first line of the answer.
fn connect(proxy: SocketAddr, port: u16) -> String {
    let mut stream = TcpStream::connect(proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = Secret::new(SECRET).unwrap().header_value();
    write!(
        stream,
        "CONNECT allowed.test:{port} HTTP/1.1\r\nProxy-Authorization: {auth}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    status
}

fn serves_logs_and_stops() {
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = echo.local_addr().unwrap().port();
    let log_path = std::env::temp_dir().join(format!("nonoc-egress-{}.log", std::process::id()));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&log_path)
        .unwrap();
    let proxy = config(port)
        .log_file(log)
        .start_process(bind_loopback(0).unwrap())
        .unwrap();
    echo_thread(echo);
    let addr = proxy.endpoint().addr();
    assert!(alive(proxy.pid()));
    assert!(connect(addr, port).starts_with("HTTP/1.1 200"));
    assert!(connect(addr, 1).starts_with("HTTP/1.1 403"));
    let pid = proxy.pid();
    proxy.stop().unwrap();
    assert!(!alive(pid), "the stopped proxy is still there");
    assert!(TcpStream::connect(addr).is_err());
    let text = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(lines[0]["ring"], 3);
    assert_eq!(lines[1]["rule"], "hosts[0].ports");
}

fn needs_a_file_log() {
    let err = config(1)
        .log_writer(Vec::new())
        .start_process(bind_loopback(0).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("logs to a file"), "{err}");
}

/// Runs this program as a parent that starts a proxy (then exits, or execs `sleep 2`);
/// returns the parent, the proxy's pid and address.
fn spawn_parent(how: &str) -> (std::process::Child, u32, SocketAddr) {
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .env("NONOC_EGRESS_PARENT", how)
        .stdout(Stdio::piped())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut words = line.split_whitespace();
    let pid: u32 = words.next().unwrap().parse().unwrap();
    let addr: SocketAddr = words.next().unwrap().parse().unwrap();
    (parent, pid, addr)
}

fn parent(how: &str) {
    let proxy: ProxyProcess = config(1).start_process(bind_loopback(0).unwrap()).unwrap();
    println!("{} {}", proxy.pid(), proxy.endpoint().addr());
    std::io::stdout().flush().unwrap();
    if how == "exec" {
        use std::os::unix::process::CommandExt;
        let err = Command::new("sleep").arg("2").exec();
        panic!("exec: {err}");
    }
    // Wait for the test to close stdin, then end without stopping the proxy.
    let _ = std::io::stdin().read(&mut [0_u8; 1]);
    std::process::exit(0);
}

fn ends_with_its_parent() {
    let (mut parent, pid, addr) = spawn_parent("exit");
    assert!(alive(pid));
    assert!(connect(addr, 2).starts_with("HTTP/1.1 403"), "not serving");
    drop(parent.stdin.take());
    parent.wait().unwrap();
    assert!(
        gone_within(pid, Duration::from_secs(5)),
        "the proxy outlived its parent"
    );
}

fn outlives_an_execve() {
    let (mut parent, pid, addr) = spawn_parent("exec");
    std::thread::sleep(Duration::from_millis(500));
    // The parent is `sleep` now; the proxy still serves.
    assert!(alive(pid));
    assert!(
        connect(addr, 2).starts_with("HTTP/1.1 403"),
        "not serving after exec"
    );
    parent.wait().unwrap();
    assert!(
        gone_within(pid, Duration::from_secs(5)),
        "the proxy outlived the program"
    );
}

/// Whether the process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !state.is_some_and(|s| s.starts_with('Z') || s.starts_with('X'))
        }
        Err(_) => false,
    }
}

fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
