#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark aborts on any failure"
)]

//! The egress proxy against a direct loopback connection (issue goals: tunnel throughput at
//! least 80% of direct for 1 GiB, added latency per connection under 1 ms median, 1,000
//! concurrent tunnels without error).
//!
//! `cargo bench -p nonoc-runtime --features egress --bench egress`. The proxy runs as
//! `nonoc exec` will run it: a process of its own (`start_process`), forked before this
//! program starts any thread. Every server is on 127.0.0.1; names resolve through the
//! proxy's `--resolve` map (no DNS). `NONOC_BENCH_NONO_PYTHON=PATH` names a Python that has
//! `nono-py` installed: nono's proxy (`nono_py.start_proxy`, allowed host `127.0.0.1`) is
//! then measured the same way, beside nonoc's. `NONOC_BENCH_GIB` changes the transfer size
//! (default 1), `NONOC_BENCH_RUNS` the number of transfers of each kind (default 5).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use nonoc_runtime::egress::{ProxyConfig, Secret, bind_loopback};
use nonoc_runtime::hosts::{HostName, HostPattern, HostPolicy, HostRule, Private};

const LATENCY_RUNS: usize = 1000;
const TUNNELS: usize = 1000;

/// A proxy to measure: where it listens, how a client authenticates, which host to name.
struct Proxy {
    name: &'static str,
    pid: u32,
    addr: SocketAddr,
    authorization: String,
    host: &'static str,
}

fn main() {
    let gib: u64 = env_number("NONOC_BENCH_GIB", 1);
    let runs: usize = env_number("NONOC_BENCH_RUNS", 5);
    let sink = TcpListener::bind("127.0.0.1:0").unwrap();
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let ports = [
        sink.local_addr().unwrap().port(),
        echo.local_addr().unwrap().port(),
    ];
    // Fork the proxy while this program has one thread.
    let secret = Secret::generate().unwrap();
    let policy = HostPolicy::new(
        vec![HostRule::allow(HostPattern::parse("allowed.test").unwrap(), &ports).unwrap()],
        vec![],
        Private::Allow,
    );
    let nonoc = ProxyConfig::new(2, policy)
        .unwrap()
        .with_secret(secret.clone())
        .resolve(
            HostName::parse("allowed.test").unwrap(),
            "127.0.0.1".parse().unwrap(),
        )
        .start_process(bind_loopback(0).unwrap())
        .unwrap();
    serve(sink, sink_connection);
    serve(echo, echo_connection);
    let mut proxies = vec![Proxy {
        name: "nonoc",
        pid: nonoc.pid(),
        addr: nonoc.endpoint().addr(),
        authorization: secret.header_value(),
        host: "allowed.test",
    }];
    let _nono = std::env::var("NONOC_BENCH_NONO_PYTHON").ok().map(|python| {
        let (child, proxy) = nono(&python);
        proxies.push(proxy);
        child
    });
    let sink = SocketAddr::from(([127, 0, 0, 1], ports[0]));
    let echo = SocketAddr::from(([127, 0, 0, 1], ports[1]));

    println!("-- throughput: {gib} GiB, client -> server, {runs} runs of each, alternating");
    let bytes = gib << 30;
    let mut direct = Vec::new();
    let mut through: Vec<Vec<f64>> = vec![Vec::new(); proxies.len()];
    // CPU seconds of this program (client and server) and of each proxy, per kind.
    let mut cpu = vec![(0.0, 0.0); proxies.len() + 1];
    for _ in 0..runs {
        let before = cpu_seconds(std::process::id());
        direct.push(transfer(None, sink, bytes));
        cpu[0].0 += cpu_seconds(std::process::id()) - before;
        for (i, proxy) in proxies.iter().enumerate() {
            let (before, proxy_before) = (cpu_seconds(std::process::id()), cpu_seconds(proxy.pid));
            through[i].push(transfer(Some(proxy), sink, bytes));
            cpu[i + 1].0 += cpu_seconds(std::process::id()) - before;
            cpu[i + 1].1 += cpu_seconds(proxy.pid) - proxy_before;
        }
    }
    let per_gib = |seconds: f64| seconds / (runs as f64 * gib as f64);
    let direct_median = median(&mut direct);
    println!(
        "direct loopback: median {direct_median:.0} MiB/s ({direct:.0?}); CPU per GiB: client and server {:.2} s",
        per_gib(cpu[0].0)
    );
    for (i, (proxy, speeds)) in proxies.iter().zip(&mut through).enumerate() {
        let m = median(speeds);
        println!(
            "{} tunnel: median {m:.0} MiB/s ({speeds:.0?}) = {:.0}% of direct; CPU per GiB: client and server {:.2} s, proxy {:.2} s",
            proxy.name,
            100.0 * m / direct_median,
            per_gib(cpu[i + 1].0),
            per_gib(cpu[i + 1].1),
        );
    }

    println!(
        "-- latency: connect, (CONNECT and 200), one 1-byte echo; {LATENCY_RUNS} of each, alternating"
    );
    let mut direct = Vec::new();
    let mut through: Vec<Vec<f64>> = vec![Vec::new(); proxies.len()];
    for _ in 0..LATENCY_RUNS {
        direct.push(round_trip(None, echo));
        for (i, proxy) in proxies.iter().enumerate() {
            through[i].push(round_trip(Some(proxy), echo));
        }
    }
    let (d50, d90) = (median(&mut direct), percentile(&mut direct, 0.9));
    println!("direct: median {d50:.0} µs, p90 {d90:.0} µs");
    for (proxy, times) in proxies.iter().zip(&mut through) {
        let (m50, m90) = (median(times), percentile(times, 0.9));
        println!(
            "{}: median {m50:.0} µs, p90 {m90:.0} µs: added {:.0} µs median",
            proxy.name,
            m50 - d50
        );
    }

    println!("-- {TUNNELS} concurrent tunnels: all opened at once, each echoes 64 bytes");
    for proxy in &proxies {
        let (errors, elapsed) = concurrent(proxy, echo);
        println!(
            "{}: {} of {TUNNELS} tunnels worked, {errors} errors, {:.0} ms",
            proxy.name,
            TUNNELS - errors,
            elapsed.as_secs_f64() * 1e3
        );
    }
    nonoc.stop().unwrap();
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn serve(listener: TcpListener, handle: fn(TcpStream)) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || handle(stream))
                .unwrap();
        }
    });
}

/// Reads to the end, then answers with the count of bytes read.
fn sink_connection(mut stream: TcpStream) {
    let mut buf = vec![0_u8; 1 << 20];
    let mut total: u64 = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(_) => return,
        }
    }
    let _ = stream.write_all(&total.to_le_bytes());
}

fn echo_connection(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut back = stream.try_clone().unwrap();
    let _ = std::io::copy(&mut stream, &mut back);
}

/// Connects to `target`, directly or through the proxy (CONNECT, then the 200).
fn open(proxy: Option<&Proxy>, target: SocketAddr) -> std::io::Result<TcpStream> {
    let Some(proxy) = proxy else {
        let stream = TcpStream::connect(target)?;
        stream.set_nodelay(true)?;
        return Ok(stream);
    };
    let mut stream = TcpStream::connect(proxy.addr)?;
    stream.set_nodelay(true)?;
    let authority = format!("{}:{}", proxy.host, target.port());
    write!(
        stream,
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {}\r\n\r\n",
        proxy.authorization
    )?;
    // The answer's head, byte by byte: nothing of the tunnel is read with it.
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::other("the proxy closed the connection"));
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&head).into_owned(),
        ));
    }
    Ok(stream)
}

/// Sends `bytes` to the sink; MiB/s from the first byte sent to the sink's count received.
fn transfer(proxy: Option<&Proxy>, sink: SocketAddr, bytes: u64) -> f64 {
    let mut stream = open(proxy, sink).unwrap();
    let chunk = vec![0x5a_u8; 1 << 20];
    let started = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        stream.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    stream.shutdown(Shutdown::Write).unwrap();
    let mut count = [0_u8; 8];
    stream.read_exact(&mut count).unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(u64::from_le_bytes(count), bytes, "bytes lost");
    bytes as f64 / (1 << 20) as f64 / elapsed
}

/// Microseconds for a connection and one 1-byte round trip.
fn round_trip(proxy: Option<&Proxy>, echo: SocketAddr) -> f64 {
    let started = Instant::now();
    let mut stream = open(proxy, echo).unwrap();
    stream.write_all(b"x").unwrap();
    let mut back = [0_u8; 1];
    stream.read_exact(&mut back).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(&back, b"x");
    elapsed.as_secs_f64() * 1e6
}

/// Opens `TUNNELS` connections, sends every CONNECT before reading any answer, then 64
/// bytes on each and reads them back. The errors, and the time it all took.
fn concurrent(proxy: &Proxy, echo: SocketAddr) -> (usize, Duration) {
    let started = Instant::now();
    let mut errors = 0;
    let authority = format!("{}:{}", proxy.host, echo.port());
    let request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {}\r\n\r\n",
        proxy.authorization
    );
    let mut streams = Vec::new();
    for _ in 0..TUNNELS {
        match TcpStream::connect(proxy.addr).and_then(|mut s| {
            s.write_all(request.as_bytes())?;
            Ok(s)
        }) {
            Ok(s) => streams.push(s),
            Err(_) => errors += 1,
        }
    }
    let mut open = Vec::new();
    for mut stream in streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0_u8; 1];
        let ok = loop {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => break false,
            }
            if head.ends_with(b"\r\n\r\n") {
                break head.starts_with(b"HTTP/1.1 200");
            }
        };
        if ok {
            open.push(stream);
        } else {
            errors += 1;
        }
    }
    let message = [0x42_u8; 64];
    for stream in &mut open {
        if stream.write_all(&message).is_err() {
            errors += 1;
        }
    }
    for stream in &mut open {
        let mut back = [0_u8; 64];
        if stream.read_exact(&mut back).is_err() || back != message {
            errors += 1;
        }
    }
    (errors, started.elapsed())
}

const NONO: &str = r#"
import sys, nono_py
handle = nono_py.start_proxy(nono_py.ProxyConfig(allowed_hosts=["127.0.0.1"], max_connections=4096))
env = dict(handle.env_vars())
print(handle.port, env["NONO_PROXY_TOKEN"], flush=True)
sys.stdin.read()
handle.shutdown()
"#;

/// nono's proxy (through nono-py) in a Python process; it ends when its stdin closes.
fn nono(python: &str) -> (Child, Proxy) {
    let mut child = Command::new(python)
        .args(["-c", NONO])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot run NONOC_BENCH_NONO_PYTHON");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut words = line.split_whitespace();
    let port: u16 = words.next().unwrap().parse().unwrap();
    let token = words.next().unwrap();
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("nono:{token}"));
    let pid = child.id();
    (
        child,
        Proxy {
            name: "nono",
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            authorization: format!("Basic {credentials}"),
            host: "127.0.0.1",
        },
    )
}

/// User and system CPU seconds a process has used (`/proc/PID/stat`, clock ticks of 10 ms).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15; fields[0] is field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

fn median(values: &mut [f64]) -> f64 {
    percentile(values, 0.5)
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let index = ((values.len() - 1) as f64 * p).round() as usize;
    values[index]
}
