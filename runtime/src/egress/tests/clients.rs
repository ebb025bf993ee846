//! Real clients: curl and Python's urllib, pointed at the proxy by the environment the
//! proxy hands out (or curl's `-x` and `--proxy-user`), against a plain-HTTP origin and a
//! TLS server with a certificate made for the test (TLS end to end through `CONNECT`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::*;

/// A TLS server (Python's `http.server` and `ssl`) for `allowed.test`, with a fresh
/// self-signed certificate; killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
    cert: PathBuf,
    dir: PathBuf,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const TLS_SERVER: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("tls ok: " + self.path).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not installed: these tests run the real client (apt-get install {name})"
    );
    Command::new(name)
}

fn tls_server() -> TlsServer {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("nonoc-egress-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = tool("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=allowed.test"])
        .args(["-addext", "subjectAltName=DNS:allowed.test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = tool("python3")
        .args(["-c", TLS_SERVER])
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().unwrap();
    TlsServer {
        child,
        port,
        cert,
        dir,
    }
}

/// The proxy of [`setup`], whose `allowed.test` also covers the TLS server's port.
fn setup_with(tls: &TlsServer) -> Setup {
    let port = tls.port;
    start(Private::Allow, Limits::default(), move |c| {
        let mut policy = c.policy.clone();
        policy.hosts.push(allow("allowed.test", &[port]));
        ProxyConfig { policy, ..c }
    })
}

/// Runs a client with only `PATH` and the proxy's environment.
fn run(mut command: Command, s: &Setup) -> Output {
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    for (name, value) in s.proxy.endpoint().environment() {
        command.env(name, value);
    }
    command.stdin(Stdio::null()).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn curl(args: &[&str]) -> Command {
    let mut c = tool("curl");
    c.args(["-sS", "--max-time", "10"]).args(args);
    c
}

#[test]
fn curl_reaches_an_allowed_host_through_the_environment() {
    let tls = tls_server();
    let s = setup_with(&tls);
    let url = format!("http://allowed.test:{}/from-curl", s.origin.port());
    let out = run(curl(&["-w", "\n%{http_code}", &url]), &s);
    let text = stdout(&out);
    assert!(text.ends_with("\n200"), "{text} {:?}", out);
    assert!(
        text.to_ascii_lowercase()
            .starts_with("get /from-curl http/1.1"),
        "{text}"
    );
    let cert = tls.cert.to_string_lossy().into_owned();
    let url = format!("https://ALLOWED.test.:{}/over-tls", tls.port);
    let out = run(curl(&["--cacert", &cert, &url]), &s);
    assert_eq!(stdout(&out), "tls ok: /over-tls", "{out:?}");
    let line = s.log.wait_for("hosts[0]");
    assert_eq!(line["decision"], "allow");
}

#[test]
fn curl_with_x_and_proxy_user() {
    let s = setup();
    let proxy = format!("http://{}", s.addr());
    let user = format!("nonoc:{SECRET}");
    let url = format!("http://allowed.test:{}/x", s.origin.port());
    let mut c = curl(&[
        "-x",
        &proxy,
        "--proxy-user",
        &user,
        "-w",
        "\n%{http_code}",
        &url,
    ]);
    let out = c.output().unwrap();
    assert!(stdout(&out).ends_with("\n200"), "{out:?}");
    // The same through a tunnel (`-p`: CONNECT even for http://).
    let mut c = curl(&["-p", "-x", &proxy, "--proxy-user", &user, &url]);
    let out = c.output().unwrap();
    assert!(
        stdout(&out)
            .to_ascii_lowercase()
            .starts_with("get /x http/1.1"),
        "{out:?}"
    );
    // Without the credentials: 407.
    let mut c = curl(&["-x", &proxy, "-w", "\n%{http_code}", &url]);
    let out = c.output().unwrap();
    let text = stdout(&out);
    assert!(text.ends_with("\n407"), "{text}");
    assert!(text.contains("(rule `proxy_auth`)"), "{text}");
}

#[test]
fn curl_is_refused_with_the_rule() {
    let s = setup();
    // Plain HTTP: curl shows the proxy's answer.
    let out = run(curl(&["-w", "\n%{http_code}", "http://unlisted.test/"]), &s);
    let text = stdout(&out);
    assert!(text.ends_with("\n403"), "{text}");
    assert!(text.contains("(rule `hosts`)"), "{text}");
    // HTTPS: the CONNECT is refused before any TLS.
    let out = run(
        curl(&["-w", "%{http_connect}", "https://unlisted.test/"]),
        &s,
    );
    assert_eq!(out.status.code(), Some(56), "{out:?}");
    assert_eq!(stdout(&out), "403");
    let url = format!("https://meta.test:{}/", s.echo.port());
    let out = run(curl(&["-w", "%{http_connect}", &url]), &s);
    assert_eq!(stdout(&out), "403", "{out:?}");
    s.log.wait_for("metadata");
}

const URLLIB: &str = r#"
import ssl, sys, urllib.request, urllib.error
context = ssl.create_default_context(cafile=sys.argv[2]) if len(sys.argv) > 2 else None
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10, context=context) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except urllib.error.URLError as e:
    print("error", e.reason)
"#;

fn urllib(s: &Setup, url: &str, cafile: Option<&Path>) -> String {
    let mut c = tool("python3");
    c.args(["-c", URLLIB, url]);
    if let Some(cafile) = cafile {
        c.arg(cafile);
    }
    let out = run(c, s);
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
}

#[test]
fn python_urllib_reaches_allowed_hosts_and_is_refused_others() {
    let tls = tls_server();
    let s = setup_with(&tls);
    let text = urllib(
        &s,
        &format!("http://allowed.test:{}/py", s.origin.port()),
        None,
    );
    assert!(
        text.to_ascii_lowercase()
            .starts_with("200 get /py http/1.1"),
        "{text}"
    );
    let url = format!("https://allowed.test:{}/py-tls", tls.port);
    let text = urllib(&s, &url, Some(&tls.cert));
    assert_eq!(text.trim(), "200 tls ok: /py-tls");
    let text = urllib(&s, "http://allowed.test.evil/", None);
    assert!(text.starts_with("403 "), "{text}");
    assert!(text.contains("(rule `hosts`)"), "{text}");
    let text = urllib(&s, "https://wild.test/", Some(&tls.cert));
    assert!(
        text.starts_with("error Tunnel connection failed: 403"),
        "{text}"
    );
}
