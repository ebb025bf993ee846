//! The proxy against local servers: raw clients that send exactly the bytes a case needs
//! (`requests`), and real clients, curl and Python (`clients`). Names resolve through
//! `--resolve` maps, /etc/hosts (`localhost`) or a stand-in resolver: no test sends a DNS
//! query or a packet beyond loopback.

mod clients;
mod requests;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use super::{Limits, ProxyConfig, ProxyThread, Secret, bind_loopback};
use crate::hosts::{HostName, HostPattern, HostPolicy, HostRule, Private};

/// An origin server: answers every request with 200 and, as its body, the request head it
/// received (so a test sees what the proxy sent on).
pub(super) fn origin() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0_u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\nx-origin: yes\r\n\r\n",
                    head.len()
                );
                let _ = stream.write_all(answer.as_bytes());
                let _ = stream.write_all(&head);
            });
        }
    });
    addr
}

/// An echo server: sends back every byte it reads.
pub(super) fn echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut back = stream.try_clone().unwrap();
                let _ = std::io::copy(&mut stream, &mut back);
                let _ = back.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

#[derive(Clone, Default)]
pub(super) struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    pub(super) fn lines(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    }

    /// Waits up to 5 s for a line with this rule; returns it.
    pub(super) fn wait_for(&self, rule: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l["rule"] == rule) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with rule {rule}: {:?}",
                self.lines()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

pub(super) const SECRET: &str = "test-secret-0123456789";

pub(super) struct Setup {
    pub(super) proxy: ProxyThread,
    pub(super) log: LogBuffer,
    pub(super) origin: SocketAddr,
    pub(super) echo: SocketAddr,
}

impl Setup {
    pub(super) fn addr(&self) -> SocketAddr {
        self.proxy.endpoint().addr()
    }
}

pub(super) fn allow(pattern: &str, ports: &[u16]) -> HostRule {
    HostRule::allow(HostPattern::parse(pattern).unwrap(), ports).unwrap()
}

pub(super) fn start(
    private: Private,
    limits: Limits,
    configure: impl FnOnce(ProxyConfig) -> ProxyConfig,
) -> Setup {
    let origin = origin();
    let echo = echo();
    let ports = [origin.port(), echo.port()];
    let policy = HostPolicy::new(
        vec![
            allow("allowed.test", &ports),
            allow("*.wild.test", &ports),
            allow("xn--bcher-kva.test", &ports),
            allow("meta.test", &ports),
            allow("private.test", &ports),
            allow("slow.test", &ports),
            allow("broken.test", &ports),
            allow("gone.test", &ports),
            allow("localhost", &ports),
        ],
        vec![HostRule::deny(HostPattern::parse("denied.wild.test").unwrap(), &[]).unwrap()],
        private,
    );
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let mut config = ProxyConfig::new(7, policy)
        .unwrap()
        .with_secret(Secret::new(SECRET).unwrap())
        .limits(limits);
    for name in [
        "allowed.test",
        "a.wild.test",
        "b.c.wild.test",
        "wild.test",
        "denied.wild.test",
        "allowed.test.evil",
        "xn--bcher-kva.test",
        "private.test",
    ] {
        config = config.resolve(HostName::parse(name).unwrap(), loopback);
    }
    config = config.resolve(
        HostName::parse("meta.test").unwrap(),
        "169.254.169.254".parse().unwrap(),
    );
    // Names outside the map go to a stand-in resolver, never to DNS.
    config = config.lookup_with(Arc::new(|name: &str| match name {
        "slow.test" => {
            thread::sleep(Duration::from_secs(2));
            Ok(vec!["127.0.0.1".parse().unwrap()])
        }
        "gone.test" => Ok(vec![]),
        other => Err(std::io::Error::other(format!(
            "failed to look up address information: Name or service not known ({other})"
        ))),
    }));
    let log = LogBuffer::default();
    let config = configure(config.log_writer(log.clone()));
    let proxy = config.start_thread(bind_loopback(0).unwrap()).unwrap();
    Setup {
        proxy,
        log,
        origin,
        echo,
    }
}

pub(super) fn setup() -> Setup {
    start(Private::Allow, Limits::default(), |c| c)
}

pub(super) fn auth() -> String {
    format!(
        "Proxy-Authorization: {}\r\n",
        Secret::new(SECRET).unwrap().header_value()
    )
}

/// A response: status, head (lower-cased), body (up to content-length or end of input).
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) head: String,
    pub(super) body: String,
}

/// Sends `request` on a new connection and reads one response; the stream stays open
/// for a tunnel.
pub(super) fn exchange(proxy: SocketAddr, request: &[u8]) -> (Answer, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut reader = BufReader::new(stream);
    let answer = read_answer(&mut reader);
    (answer, reader)
}

pub(super) fn read_answer(reader: &mut BufReader<TcpStream>) -> Answer {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(
            n > 0,
            "the proxy closed the connection; head so far: {head:?}"
        );
        head.push_str(&line.to_ascii_lowercase());
        if line == "\r\n" {
            break;
        }
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map(|l| l.trim().parse::<usize>().unwrap());
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).unwrap();
        }
        None if status == 200 && head.contains("x-origin") => {
            reader.read_to_end(&mut body).unwrap();
        }
        None => {}
    }
    Answer {
        status,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub(super) fn connect_request(target: &str, extra: &str) -> Vec<u8> {
    format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra}\r\n").into_bytes()
}

/// Asserts a refusal: status, `x-nonoc-rule`, a body naming the rule, and a log line with
/// that rule, decision and status.
pub(super) fn assert_refused(
    setup: &Setup,
    answer: &Answer,
    status: u16,
    rule: &str,
    decision: &str,
) {
    assert_eq!(answer.status, status, "{} {}", answer.head, answer.body);
    assert!(
        answer.head.contains(&format!("x-nonoc-rule: {rule}\r\n")),
        "{}",
        answer.head
    );
    assert!(
        answer.body.contains(&format!("(rule `{rule}`)")),
        "{}",
        answer.body
    );
    let line = setup.log.wait_for(rule);
    assert_eq!(line["decision"], decision, "{line}");
    assert_eq!(line["status"], status, "{line}");
    assert_eq!(line["ring"], 7, "{line}");
}
