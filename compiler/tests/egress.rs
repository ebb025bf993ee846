//! Egress by host name end to end: `nonoc exec` runs a ring with `hosts` beside its egress
//! proxy, and real clients inside (curl, Python's `urllib`, git over HTTPS, and a small
//! Python client that sends exact requests and tries direct connections) reach local servers
//! this test starts: a TLS server (a certificate made here with `openssl`) and a plain-HTTP
//! one, on loopback, their names mapped with `--resolve`. Each allowed request must work, and
//! each refused one must be refused in the way that names the refusal: the proxy's status and
//! the body naming the rule, or the errno of a connection the kernel refused.
//!
//! Tiers: as root, the `namespace` tier (the command in a network namespace holding only
//! `lo` and the proxy's socket); as the unprivileged user 65534 behind a seccomp filter that
//! makes `unshare(CLONE_NEWUSER)` fail (a host without user namespaces), the `port-pinned`
//! tier, and `settings.isolation: required` refused.
//!
//! `harness = false` with the runner of the `nonoc-test-runner` crate (see `exec.rs`).
//! `NONOC_TEST_BIN` runs the tests against another build of `nonoc`.
#![expect(
    clippy::panic,
    reason = "test code: a failed assertion or a broken set-up is how a test reports"
)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Output, Stdio};

use serde_json::Value;

use nonoc_test_runner::{Test, WITHOUT_USER_NAMESPACES, outside_tmp, run as run_tests};

fn nonoc() -> String {
    std::env::var("NONOC_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nonoc").to_owned())
}

const PYTHON: &str = "/usr/bin/python3";
const CURL: &str = "/usr/bin/curl";
const OPENSSL: &str = "/usr/bin/openssl";
/// The unprivileged user of the `port-pinned` tests.
const NOBODY: u32 = 65534;

fn main() -> ExitCode {
    let tests = [
        Test {
            needs_program: Some(CURL),
            ..Test::new("allowed_hosts_work_through_the_proxy", 4, allowed)
        },
        Test {
            needs_program: Some(CURL),
            ..Test::new("refused_requests_name_their_rule", 4, refused)
        },
        Test::new(
            "direct_connections_and_udp_find_no_way_out",
            4,
            no_way_around,
        ),
        Test::new("git_clones_over_https_through_the_proxy", 4, git_clone),
        Test::new(
            "without_namespaces_tcp_is_pinned_to_the_proxy_port",
            4,
            port_pinned,
        ),
    ];
    if !prerequisites() {
        return ExitCode::FAILURE;
    }
    run_tests(&tests)
}

/// Root (for the namespace tier and to switch users), the system Python and openssl.
fn prerequisites() -> bool {
    let required = std::env::var("NONOC_REQUIRE_LANDLOCK").is_ok_and(|v| v == "1");
    let root = std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata("/proc/self").unwrap_or_else(|e| panic!("/proc/self: {e}")),
    ) == 0;
    let missing: Vec<&str> = [PYTHON, OPENSSL]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if root && missing.is_empty() {
        return true;
    }
    let why = if root {
        format!("needs {}", missing.join(", "))
    } else {
        "needs root".to_owned()
    };
    if required {
        println!("egress tests: FAILED ({why}; NONOC_REQUIRE_LANDLOCK=1)");
        return false;
    }
    println!("egress tests: all skipped ({why})");
    std::process::exit(0);
}

/// The servers: HTTPS and plain HTTP on loopback, serving `ROOT` (`hello` says which
/// server answered). Prints `PORTS TLS HTTP` once both listen.
const SERVERS: &str = r##"
import http.server, ssl, sys, threading, functools
root, cert, key = sys.argv[1:4]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
def serve(tls):
    h = functools.partial(H, directory=root)
    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
    if tls:
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(cert, key)
        s.socket = c.wrap_socket(s.socket, server_side=True)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s.server_address[1]
print("PORTS", serve(True), serve(False), flush=True)
sys.stdin.read()
"##;

/// The client inside the sandbox. `raw METHOD TARGET [HOST] [noauth]`: one request to the
/// proxy named by `HTTP_PROXY` (with its credentials unless `noauth`), prints the status
/// line and the body. `urllib URL`: through the proxy variables, prints the status and the
/// body, or `HTTPError N BODY`. `direct HOST PORT`: a TCP connect, prints `connected` or
/// the errno's name. `udp HOST PORT`: a datagram, prints `sent` or the errno's name.
const CLIENT: &str = r##"
import base64, errno, os, socket, sys, urllib.parse, urllib.request, urllib.error
op = sys.argv[1]
def name(e): return errno.errorcode.get(e.errno, str(e.errno))
if op == "raw":
    method, target = sys.argv[2], sys.argv[3]
    host = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    proxy = urllib.parse.urlsplit(os.environ["HTTP_PROXY"])
    s = socket.create_connection((proxy.hostname, proxy.port), timeout=10)
    lines = [f"{method} {target} HTTP/1.1"]
    if host: lines.append(f"Host: {host}")
    if "noauth" not in sys.argv[4:]:
        cred = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {cred}")
    lines.append("Connection: close")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode()
    if " 200 " not in status + " ":
        s.settimeout(5)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                body += chunk
        except OSError: pass
    print(status); print(body.decode(errors="replace"))
elif op == "urllib":
    try:
        r = urllib.request.urlopen(sys.argv[2], timeout=10)
        print(r.status, r.read().decode())
    except urllib.error.HTTPError as e:
        print("HTTPError", e.code, e.read().decode())
elif op == "direct":
    try:
        socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5).close(); print("connected")
    except OSError as e: print(name(e))
elif op == "udp":
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"\0" * 12, (sys.argv[2], int(sys.argv[3]))); print("sent")
    except OSError as e: print(name(e))
"##;

/// One test's world: a directory (readable by everyone, outside `/tmp`), the certificate,
/// the servers, the compiled policy.
struct World {
    root: String,
    tls: u16,
    http: u16,
    servers: Child,
    artifact: String,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.servers.kill();
        let _ = self.servers.wait();
    }
}

impl World {
    fn new(test: &str, isolation: &str) -> World {
        let dir = outside_tmp(env!("CARGO_TARGET_TMPDIR"))
            .unwrap_or_else(|e| panic!("{e}"))
            .join("egress")
            .join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("www")).unwrap_or_else(|e| panic!("{e}"));
        let root = std::fs::canonicalize(&dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_str()
            .unwrap_or_else(|| panic!("not UTF-8"))
            .to_owned();
        write(&format!("{root}/www/hello"), "hello from the server\n");
        write(&format!("{root}/client.py"), CLIENT);
        write(&format!("{root}/servers.py"), SERVERS);
        write(
            &format!("{root}/without-userns.py"),
            WITHOUT_USER_NAMESPACES,
        );
        let status = Command::new(OPENSSL)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=allowed.test"])
            .args([
                "-addext",
                "subjectAltName=DNS:allowed.test,DNS:a.wild.test,DNS:other.test",
            ])
            .args(["-keyout", &format!("{root}/key.pem")])
            .args(["-out", &format!("{root}/cert.pem")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("openssl: {e}"));
        assert!(status.success(), "openssl req failed");
        let mut servers = Command::new(PYTHON)
            .args(["-I", &format!("{root}/servers.py")])
            .args([
                &format!("{root}/www"),
                &format!("{root}/cert.pem"),
                &format!("{root}/key.pem"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("servers: {e}"));
        let mut line = String::new();
        let stdout = servers.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("servers: {e}"));
        let ports: Vec<u16> = line
            .split_whitespace()
            .skip(1)
            .map(|p| p.parse().unwrap_or_else(|e| panic!("{line}: {e}")))
            .collect();
        let (tls, http) = (ports[0], ports[1]);
        let policy = format!(
            r#"apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: egress-test }}
settings: {{ isolation: {isolation} }}
rings:
  3:
    filesystem:
      read: [/usr, /etc, /lib, /lib64, /bin, /proc, /dev, /sys, {root}]
      execute: [/usr, /bin, /lib, /lib64]
      write: ["{root}/out", /dev/null]
    process: {{ fork: true }}
    network:
      mode: restricted
      connect_tcp: [{http}]
      hosts:
        - {{ host: allowed.test, ports: [{tls}, {http}] }}
        - {{ host: "*.wild.test", ports: [{tls}] }}
        - {{ host: meta.test, ports: [{http}] }}
      private: allow
  4:
    extends: 3
    network:
      private: deny
      udp: true
"#
        );
        write(&format!("{root}/policy.yaml"), &policy);
        std::fs::create_dir_all(format!("{root}/out")).unwrap_or_else(|e| panic!("{e}"));
        let _ = Command::new("chmod")
            .args(["-R", "a+rwX", &format!("{root}/out")])
            .status();
        let artifact = format!("{root}/policy.nonoc.json");
        let out = Command::new(nonoc())
            .args(["compile", &format!("{root}/policy.yaml"), "-o", &artifact])
            .output()
            .unwrap_or_else(|e| panic!("compile: {e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        World {
            root,
            tls,
            http,
            servers,
            artifact,
        }
    }

    /// `nonoc exec ARTIFACT --ring RING --report --resolve ... -- CMD`, as `user` (root when
    /// `None`; behind the filter without user namespaces when `no_userns`).
    fn exec(&self, ring: u8, user: Option<u32>, no_userns: bool, cmd: &[&str]) -> Run {
        let mut command = if no_userns {
            let mut c = Command::new(PYTHON);
            c.args(["-I", &format!("{}/without-userns.py", self.root)]);
            c.arg(nonoc());
            c
        } else {
            Command::new(nonoc())
        };
        command.args([
            "exec",
            &self.artifact,
            "--ring",
            &ring.to_string(),
            "--report",
        ]);
        for name in ["allowed.test", "a.wild.test", "wild.test", "other.test"] {
            command.args(["--resolve", &format!("{name}=127.0.0.1")]);
        }
        command.args(["--resolve", "allowed.test.evil=127.0.0.1"]);
        command.args(["--resolve", "meta.test=169.254.169.254"]);
        command.arg("--").args(cmd);
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .env("HOME", format!("{}/out", self.root))
            .stdin(Stdio::null())
            .current_dir("/");
        if let Some(uid) = user {
            command.uid(uid).gid(uid);
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        Run::new(output)
    }

    fn client(&self, ring: u8, args: &[&str]) -> Run {
        let script = format!("{}/client.py", self.root);
        let mut cmd = vec![PYTHON, "-I", "-S", script.as_str()];
        cmd.extend_from_slice(args);
        self.exec(ring, None, false, &cmd)
    }
}

fn write(path: &str, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
}

struct Run {
    output: Output,
}

impl Run {
    fn new(output: Output) -> Run {
        Run { output }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The `--report` JSON: the first line of stderr.
    fn report(&self) -> Value {
        let stderr = self.stderr();
        let line = stderr.lines().next().unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| panic!("no report ({e}):\n{}", self))
    }

    #[track_caller]
    fn expect_out(&self, wanted: &[&str]) -> &Run {
        let out = self.stdout();
        for w in wanted {
            assert!(out.contains(w), "expected `{w}`:\n{self}");
        }
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- stdout ---\n{}--- stderr ---\n{}[{}]",
            self.stdout(),
            self.stderr(),
            self.output.status
        )
    }
}

/// An allowed host through the proxy: curl over HTTPS (CONNECT, TLS end to end, the
/// certificate checked against the name), Python's `urllib` over plain HTTP (absolute-form
/// forwarding), also with the name spelled `ALLOWED.test.`; a wildcard's subdomain. The
/// report says the namespace tier and where the proxy listened.
fn allowed() {
    let w = World::new("allowed", "best_effort");
    let cert = format!("{}/cert.pem", w.root);
    let url = format!("https://allowed.test:{}/hello", w.tls);
    let run = w.exec(3, None, false, &[CURL, "-sS", "--cacert", &cert, &url]);
    assert!(run.output.status.success(), "{run}");
    run.expect_out(&["hello from the server"]);
    let report = run.report();
    assert_eq!(report["egress"]["tier"], "namespace", "{run}");
    assert_eq!(report["egress"]["proxy"], "127.0.0.1:3128", "{run}");
    assert_eq!(report["isolation"]["network_namespace"], true, "{run}");

    let url = format!("https://a.wild.test:{}/hello", w.tls);
    w.exec(3, None, false, &[CURL, "-sS", "--cacert", &cert, &url])
        .expect_out(&["hello from the server"]);
    for host in ["allowed.test", "ALLOWED.test."] {
        let url = format!("http://{host}:{}/hello", w.http);
        w.client(3, &["urllib", &url])
            .expect_out(&["200 hello from the server"]);
    }
    // The command's status passes through.
    let run = w.exec(3, None, false, &["/bin/sh", "-c", "exit 7"]);
    assert_eq!(run.output.status.code(), Some(7), "{run}");
    // A signal to `nonoc exec` (a terminal's Ctrl-C reaches it, not the command in its own
    // session) is passed on: the command ends, and `nonoc exec` with 128 + N.
    let mut exec = Command::new(nonoc())
        .args(["exec", &w.artifact, "--ring", "3", "--", "/bin/sleep", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(std::time::Duration::from_millis(700));
    let started = std::time::Instant::now();
    let status = Command::new("/bin/kill")
        .args(["-TERM", &exec.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success());
    let status = exec.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(128 + 15), "{status}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// Each refused request, refused with the rule that refused it.
fn refused() {
    let w = World::new("refused", "best_effort");
    let (tls, http) = (w.tls.to_string(), w.http.to_string());
    let connect = |host: &str, port: &str| format!("{host}:{port}");
    let cases: Vec<(u8, Vec<String>, &str, String)> = vec![
        // An unlisted host.
        (
            3,
            vec!["raw".into(), "CONNECT".into(), connect("other.test", &tls)],
            "HTTP/1.1 403",
            "(rule `hosts`): `other.test` is not in `hosts`".into(),
        ),
        // A wildcard's apex.
        (
            3,
            vec!["raw".into(), "CONNECT".into(), connect("wild.test", &tls)],
            "HTTP/1.1 403",
            "(rule `hosts`): `wild.test` is not in `hosts`".into(),
        ),
        // A look-alike suffix.
        (
            3,
            vec![
                "raw".into(),
                "CONNECT".into(),
                connect("allowed.test.evil", &tls),
            ],
            "HTTP/1.1 403",
            "(rule `hosts`): `allowed.test.evil` is not in `hosts`".into(),
        ),
        // An IP literal.
        (
            3,
            vec!["raw".into(), "CONNECT".into(), connect("127.0.0.1", &tls)],
            "HTTP/1.1 403",
            "(rule `hosts`): `127.0.0.1` is an address and no address or range in `hosts` holds it".into(),
        ),
        // A name resolving to a metadata address.
        (
            3,
            vec!["raw".into(), "CONNECT".into(), connect("meta.test", &http)],
            "HTTP/1.1 403",
            "(rule `metadata`): `meta.test` leads to 169.254.169.254, a cloud metadata endpoint".into(),
        ),
        // A name resolving to a private (here loopback) address under `private: deny`.
        (
            4,
            vec!["raw".into(), "CONNECT".into(), connect("allowed.test", &tls)],
            "HTTP/1.1 403",
            "(rule `private`): `allowed.test` leads to 127.0.0.1, a loopback address, and `private` is `deny`".into(),
        ),
        // CONNECT to a port the entry does not list.
        (
            3,
            vec!["raw".into(), "CONNECT".into(), connect("allowed.test", "443")],
            "HTTP/1.1 403",
            "(rule `hosts[0].ports`): port 443 is not among the ports of hosts[0]".into(),
        ),
        // A Host header that names another host than the absolute URL.
        (
            3,
            vec![
                "raw".into(),
                "GET".into(),
                format!("http://allowed.test:{http}/hello"),
                "other.test".into(),
            ],
            "HTTP/1.1 403",
            format!("(rule `host_header`): the Host header `other.test` does not name the URL's host `allowed.test:{http}`"),
        ),
        // A request without the secret.
        (
            3,
            vec![
                "raw".into(),
                "CONNECT".into(),
                connect("allowed.test", &tls),
                "-".into(),
                "noauth".into(),
            ],
            "HTTP/1.1 407",
            "(rule `proxy_auth`): the request carries no proxy credentials".into(),
        ),
    ];
    for (ring, args, status, body) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = w.client(ring, &args);
        let out = run.stdout();
        assert!(
            out.lines().next().is_some_and(|l| l.starts_with(status)),
            "{args:?}: expected {status}:\n{run}"
        );
        assert!(out.contains(&body), "{args:?}: expected `{body}`:\n{run}");
    }
    // The same requests allowed where the policy allows them: the refusals above are the
    // policy's, not a broken proxy.
    w.client(3, &["raw", "CONNECT", &connect("allowed.test", &tls)])
        .expect_out(&["HTTP/1.1 200"]);
    // A real client sees the refusal too: curl reports the proxy's 403 to CONNECT.
    let cert = format!("{}/cert.pem", w.root);
    let url = format!("https://other.test:{tls}/hello");
    let run = w.exec(3, None, false, &[CURL, "-sS", "--cacert", &cert, &url]);
    assert!(!run.output.status.success(), "{run}");
    assert!(
        run.stderr().contains("CONNECT tunnel failed, response 403"),
        "{run}"
    );
    // urllib over plain HTTP: 403 and the rule in the body.
    let url = format!("http://other.test:{http}/hello");
    w.client(3, &["urllib", &url])
        .expect_out(&["HTTPError 403", "`other.test` is not in `hosts`"]);
}

/// Around the proxy: in the namespace tier a direct connection finds no route (an outside
/// address) or nothing listening (loopback is the namespace's own), even to a
/// `connect_tcp` port; a port outside `connect_tcp` is refused by Landlock; UDP, where the
/// ring may use it, finds no route to port 53 either, and where it may not, the socket is
/// refused.
fn no_way_around() {
    let w = World::new("around", "best_effort");
    let http = w.http.to_string();
    let tls = w.tls.to_string();
    // The server listens on the host's loopback at `http`: not reachable from inside.
    w.client(3, &["direct", "127.0.0.1", &http])
        .expect_out(&["ECONNREFUSED"]);
    w.client(3, &["direct", "192.0.2.1", &http])
        .expect_out(&["ENETUNREACH"]);
    w.client(3, &["direct", "127.0.0.1", &tls])
        .expect_out(&["EACCES"]);
    w.client(4, &["udp", "192.0.2.53", "53"])
        .expect_out(&["ENETUNREACH"]);
    w.client(3, &["udp", "192.0.2.53", "53"])
        .expect_out(&["EPERM"]);
}

/// git over HTTPS (git's "dumb" HTTP protocol, served by the TLS server) clones through the
/// proxy; from an unlisted name it fails at the proxy's 403.
fn git_clone() {
    let git = ["/usr/bin/git", "/usr/local/bin/git"]
        .into_iter()
        .find(|g| Path::new(g).exists());
    let Some(git) = git else {
        panic!("no git installed");
    };
    let w = World::new("git", "best_effort");
    let repo = format!("{}/www/repo.git", w.root);
    let work = format!("{}/work", w.root);
    for args in [
        vec!["init", "-q", "-b", "main", work.as_str()],
        vec![
            "-C",
            &work,
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "through the proxy",
        ],
        vec!["clone", "-q", "--bare", &work, &repo],
        vec!["-C", &repo, "update-server-info"],
    ] {
        let status = Command::new(git)
            .args(&args)
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("git: {e}"));
        assert!(status.success(), "git {args:?}");
    }
    let cert = format!("{}/cert.pem", w.root);
    let ssl = format!("http.sslCAInfo={cert}");
    let clone = |name: &str, into: &str| {
        let url = format!("https://{name}:{}/repo.git", w.tls);
        let dest = format!("{}/out/{into}", w.root);
        w.exec(
            3,
            None,
            false,
            &[git, "-c", &ssl, "clone", "-q", &url, &dest],
        )
    };
    let run = clone("allowed.test", "ok");
    assert!(run.output.status.success(), "{run}");
    let log = Command::new(git)
        .args(["-C", &format!("{}/out/ok", w.root), "log", "--format=%s"])
        .output()
        .unwrap_or_else(|e| panic!("git log: {e}"));
    assert_eq!(String::from_utf8_lossy(&log.stdout), "through the proxy\n");
    let run = clone("other.test", "refused");
    assert!(!run.output.status.success(), "{run}");
    assert!(run.stderr().contains("403"), "{run}");
}

/// Without user namespaces (user 65534 behind a filter that refuses them): the proxy
/// listens on the host's loopback and Landlock pins TCP connect to its port and the
/// `connect_tcp` ports; the report and a warning say `port-pinned`. The allowed host still
/// works, a direct connection to another port is refused (EACCES). Under
/// `isolation: required` the ring is refused.
fn port_pinned() {
    let w = World::new("pinned", "best_effort");
    let script = format!("{}/client.py", w.root);
    let url = format!("http://allowed.test:{}/hello", w.http);
    let run = w.exec(
        3,
        Some(NOBODY),
        true,
        &[PYTHON, "-I", "-S", &script, "urllib", &url],
    );
    run.expect_out(&["200 hello from the server"]);
    let report = run.report();
    assert_eq!(report["egress"]["tier"], "port-pinned", "{run}");
    assert!(
        run.stderr()
            .contains("nonoc exec: warning: egress port-pinned"),
        "{run}"
    );
    let run = w.exec(
        3,
        Some(NOBODY),
        true,
        &[
            PYTHON,
            "-I",
            "-S",
            &script,
            "direct",
            "127.0.0.1",
            &w.tls.to_string(),
        ],
    );
    run.expect_out(&["EACCES"]);
    let run = w.exec(
        3,
        Some(NOBODY),
        true,
        &[
            PYTHON,
            "-I",
            "-S",
            &script,
            "urllib",
            &format!("http://other.test:{}/", w.http),
        ],
    );
    run.expect_out(&["HTTPError 403", "`other.test` is not in `hosts`"]);

    let strict = World::new("pinned-required", "required");
    let run = strict.exec(3, Some(NOBODY), true, &["/bin/true"]);
    assert_eq!(run.output.status.code(), Some(126), "{run}");
    assert!(
        run.stderr()
            .contains("a ring with hosts needs a network namespace"),
        "{run}"
    );
}
