//! Requests written byte by byte: what is allowed, what is refused and why, bad input.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::hosts::{HostPolicy, Private};

// ---- allowed ----

#[test]
fn an_allowed_host_is_tunnelled_with_connect() {
    let s = setup();
    for spelling in ["allowed.test", "ALLOWED.test."] {
        let target = format!("{spelling}:{}", s.echo.port());
        let (answer, mut tunnel) = exchange(s.addr(), &connect_request(&target, &auth()));
        assert_eq!(answer.status, 200, "{}", answer.body);
        tunnel
            .get_mut()
            .write_all(b"hello through the tunnel")
            .unwrap();
        let mut back = [0_u8; 24];
        tunnel.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello through the tunnel");
    }
    let line = s.log.wait_for("hosts[0]");
    assert_eq!(line["decision"], "allow");
    assert_eq!(line["host"], "allowed.test");
    assert_eq!(line["method"], "CONNECT");
    assert_eq!(line["port"], s.echo.port());
    assert_eq!(line["status"], 200);
    assert_eq!(line["address"], s.echo.to_string());
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn bytes_sent_right_after_connect_reach_the_server() {
    let s = setup();
    let mut request = connect_request(&format!("allowed.test:{}", s.echo.port()), &auth());
    request.extend_from_slice(b"early bytes");
    let (answer, mut tunnel) = exchange(s.addr(), &request);
    assert_eq!(answer.status, 200);
    let mut back = [0_u8; 11];
    tunnel.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"early bytes");
}

#[test]
fn a_tunnel_carries_a_large_transfer_both_ways_and_half_closes() {
    let s = setup();
    let (answer, tunnel) = exchange(
        s.addr(),
        &connect_request(&format!("allowed.test:{}", s.echo.port()), &auth()),
    );
    assert_eq!(answer.status, 200);
    let mut stream = tunnel.into_inner();
    let mut writer = stream.try_clone().unwrap();
    let sent: Vec<u8> = (0..8_000_000_u32).map(|i| (i % 251) as u8).collect();
    let expected = sent.clone();
    let sender = thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    sender.join().unwrap();
    assert_eq!(back.len(), expected.len());
    assert!(back == expected);
}

#[test]
fn an_allowed_host_is_forwarded_in_origin_form_without_the_credentials() {
    let s = setup();
    for spelling in ["allowed.test", "ALLOWED.test."] {
        let url = format!("http://{spelling}:{}/path?q=1", s.origin.port());
        let request = format!(
            "GET {url} HTTP/1.1\r\nHost: {spelling}:{}\r\nProxy-Connection: keep-alive\r\n{}\r\n",
            s.origin.port(),
            auth()
        );
        let (answer, _) = exchange(s.addr(), request.as_bytes());
        assert_eq!(answer.status, 200, "{}", answer.body);
        let seen = answer.body.to_ascii_lowercase();
        assert!(seen.starts_with("get /path?q=1 http/1.1\r\n"), "{seen}");
        assert!(
            seen.contains(&format!("host: allowed.test:{}\r\n", s.origin.port())),
            "{seen}"
        );
        assert!(!seen.contains("proxy-authorization"), "{seen}");
        assert!(!seen.contains("proxy-connection"), "{seen}");
    }
    let line = s.log.wait_for("hosts[0]");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["decision"], "allow");
}

#[test]
fn a_forwarded_request_without_a_host_header_gets_the_urls() {
    let s = setup();
    let request = format!(
        "GET http://allowed.test:{}/ HTTP/1.0\r\n{}\r\n",
        s.origin.port(),
        auth()
    );
    let (answer, _) = exchange(s.addr(), request.as_bytes());
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .body
            .to_ascii_lowercase()
            .contains(&format!("host: allowed.test:{}", s.origin.port()))
    );
}

#[test]
fn a_wildcard_allows_subdomains_at_any_depth_and_an_a_label_matches() {
    let s = setup();
    for host in ["a.wild.test", "b.c.wild.test", "xn--bcher-kva.test"] {
        let (answer, _) = exchange(
            s.addr(),
            &connect_request(&format!("{host}:{}", s.echo.port()), &auth()),
        );
        assert_eq!(answer.status, 200, "{host}: {}", answer.body);
    }
}

#[test]
fn the_system_resolver_is_used_for_names_outside_the_map() {
    // `localhost` comes from /etc/hosts: no DNS query leaves the machine.
    let s = start(Private::Allow, Limits::default(), |c| ProxyConfig {
        lookup: None,
        ..c
    });
    let (answer, _) = exchange(
        s.addr(),
        &connect_request(&format!("localhost:{}", s.echo.port()), &auth()),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
}

// ---- refused by the policy ----

#[test]
fn an_unlisted_host_is_refused() {
    let s = setup();
    let (answer, _) = exchange(s.addr(), &connect_request("unlisted.test:443", &auth()));
    assert_refused(&s, &answer, 403, "hosts", "deny");
    assert!(answer.body.contains("`unlisted.test` is not in `hosts`"));
}

#[test]
fn a_wildcards_apex_is_refused() {
    let s = setup();
    let target = format!("wild.test:{}", s.echo.port());
    let (answer, _) = exchange(s.addr(), &connect_request(&target, &auth()));
    assert_refused(&s, &answer, 403, "hosts", "deny");
}

#[test]
fn a_look_alike_suffix_is_refused() {
    let s = setup();
    let target = format!("allowed.test.evil:{}", s.echo.port());
    let (answer, _) = exchange(s.addr(), &connect_request(&target, &auth()));
    assert_refused(&s, &answer, 403, "hosts", "deny");
}

#[test]
fn deny_hosts_wins() {
    let s = setup();
    let target = format!("denied.wild.test:{}", s.echo.port());
    let (answer, _) = exchange(s.addr(), &connect_request(&target, &auth()));
    assert_refused(&s, &answer, 403, "deny_hosts[0]", "deny");
}

#[test]
fn an_ip_literal_does_not_match_a_name_entry() {
    let s = setup();
    for target in [
        format!("127.0.0.1:{}", s.echo.port()),
        format!("[::ffff:127.0.0.1]:{}", s.echo.port()),
    ] {
        let (answer, _) = exchange(s.addr(), &connect_request(&target, &auth()));
        assert_refused(&s, &answer, 403, "hosts", "deny");
        assert!(answer.body.contains("name entries never match an address"));
    }
    let url = format!("http://127.0.0.1:{}/", s.origin.port());
    let request = format!("GET {url} HTTP/1.1\r\n{}\r\n", auth());
    let (answer, _) = exchange(s.addr(), request.as_bytes());
    assert_eq!(answer.status, 403);
}

#[test]
fn a_name_resolving_to_a_private_address_is_refused_under_private_deny() {
    let s = start(Private::Deny, Limits::default(), |c| c);
    let target = format!("private.test:{}", s.echo.port());
    let (answer, _) = exchange(s.addr(), &connect_request(&target, &auth()));
    assert_refused(&s, &answer, 403, "private", "deny");
    assert!(
        answer.body.contains("127.0.0.1, a loopback address"),
        "{}",
        answer.body
    );
    let line = s.log.wait_for("private");
    assert_eq!(line["address"], format!("127.0.0.1:{}", s.echo.port()));
    // Through the system resolver too (`localhost`, from /etc/hosts).
    let s = start(Private::Deny, Limits::default(), |c| ProxyConfig {
        lookup: None,
        ..c
    });
    let target = format!("localhost:{}", s.echo.port());
    let (answer, _) = exchange(s.addr(), &connect_request(&target, &auth()));
    assert_refused(&s, &answer, 403, "private", "deny");
}

#[test]
fn a_name_resolving_to_a_metadata_address_is_refused_even_under_private_allow() {
    let s = setup();
    let target = format!("meta.test:{}", s.echo.port());
    let (answer, _) = exchange(s.addr(), &connect_request(&target, &auth()));
    assert_refused(&s, &answer, 403, "metadata", "deny");
    let url = format!("http://meta.test:{}/", s.origin.port());
    let request = format!("GET {url} HTTP/1.1\r\n{}\r\n", auth());
    let (answer, _) = exchange(s.addr(), request.as_bytes());
    assert_eq!(answer.status, 403);
    assert!(answer.body.contains("(rule `metadata`)"));
}

#[test]
fn connect_to_a_port_not_listed_is_refused() {
    let s = setup();
    let (answer, _) = exchange(s.addr(), &connect_request("allowed.test:22", &auth()));
    assert_refused(&s, &answer, 403, "hosts[0].ports", "deny");
    assert!(answer.body.contains("port 22 is not among the ports"));
}

#[test]
fn a_host_header_other_than_the_url_is_refused() {
    let s = setup();
    let port = s.origin.port();
    for host_header in [
        format!("Host: evil.test:{port}\r\n"),
        "Host: allowed.test\r\n".to_owned(),
        format!("Host: allowed.test:{port}\r\nHost: evil.test\r\n"),
    ] {
        let request = format!(
            "GET http://allowed.test:{port}/ HTTP/1.1\r\n{host_header}{}\r\n",
            auth()
        );
        let (answer, _) = exchange(s.addr(), request.as_bytes());
        assert_refused(&s, &answer, 403, "host_header", "deny");
    }
}

#[test]
fn a_request_without_the_secret_is_refused_with_407() {
    let s = setup();
    let target = format!("allowed.test:{}", s.echo.port());
    let wrong = format!(
        "Proxy-Authorization: {}\r\n",
        Secret::new("another-secret-0123456")
            .unwrap()
            .header_value()
    );
    for extra in [
        "",
        wrong.as_str(),
        "Proxy-Authorization: Basic bm9ub2M6\r\n",
    ] {
        let (answer, _) = exchange(s.addr(), &connect_request(&target, extra));
        assert_refused(&s, &answer, 407, "proxy_auth", "deny");
        assert!(
            answer
                .head
                .contains("proxy-authenticate: basic realm=\"nonoc\"")
        );
    }
    let request = format!(
        "GET http://allowed.test:{}/ HTTP/1.1\r\n\r\n",
        s.origin.port()
    );
    let (answer, _) = exchange(s.addr(), request.as_bytes());
    assert_eq!(answer.status, 407);
}

#[test]
fn requests_that_are_not_proxy_requests_are_refused() {
    let s = setup();
    let cases = [
        format!("GET / HTTP/1.1\r\nHost: allowed.test\r\n{}\r\n", auth()),
        format!("GET https://allowed.test/ HTTP/1.1\r\n{}\r\n", auth()),
        format!("GET ftp://allowed.test/ HTTP/1.1\r\n{}\r\n", auth()),
        format!(
            "GET http://user:pw@allowed.test:{}/ HTTP/1.1\r\n{}\r\n",
            s.origin.port(),
            auth()
        ),
        format!("CONNECT allowed.test HTTP/1.1\r\n{}\r\n", auth()),
    ];
    for request in cases {
        let (answer, _) = exchange(s.addr(), request.as_bytes());
        assert_refused(&s, &answer, 400, "request", "error");
    }
}

// ---- bad input, and the proxy keeps serving ----

/// A good request still works (the proxy is serving after whatever came before).
fn still_serving(s: &Setup) {
    let target = format!("allowed.test:{}", s.echo.port());
    let (answer, _) = exchange(s.addr(), &connect_request(&target, &auth()));
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn a_malformed_request_line_is_refused_and_logged() {
    let s = setup();
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET  HTTP/1.1\r\n\r\n",
        b"CONNECT allowed.test:443 HTTP/9.9\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ] {
        let (answer, _) = exchange(s.addr(), garbage);
        assert!(
            answer.status == 400 || answer.status == 505,
            "{:?}: {}",
            String::from_utf8_lossy(garbage),
            answer.status
        );
    }
    wait_for_count(&s, "request", 4);
    let line = s.log.wait_for("request");
    assert_eq!(line["decision"], "error");
    assert!(line["detail"].as_str().is_some());
    still_serving(&s);
}

#[test]
fn an_oversized_header_is_refused_with_431_and_logged() {
    let s = setup();
    let big = format!("X-Big: {}\r\n", "a".repeat(20_000));
    let (answer, _) = exchange(
        s.addr(),
        &connect_request(&format!("allowed.test:{}", s.echo.port()), &big),
    );
    assert_eq!(answer.status, 431);
    let line = s.log.wait_for("max_header_bytes");
    assert_eq!(line["decision"], "deny");
    assert_eq!(line["status"], 431);
    still_serving(&s);
}

#[test]
fn a_slow_client_is_cut_off_and_logged_while_others_are_served() {
    let limits = Limits {
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let s = start(Private::Allow, limits, |c| c);
    let mut slow = TcpStream::connect(s.addr()).unwrap();
    slow.write_all(b"CONNECT allowed.test:443 HTTP/1.1\r\n")
        .unwrap();
    still_serving(&s);
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(4), "not cut off");
    let line = s.log.wait_for("header_timeout");
    assert_eq!(line["decision"], "error");
    still_serving(&s);
}

#[test]
fn a_name_over_253_bytes_is_refused() {
    let s = setup();
    let long = format!("{}.test", vec!["a".repeat(63); 4].join("."));
    assert!(long.len() > 253);
    let (answer, _) = exchange(s.addr(), &connect_request(&format!("{long}:443"), &auth()));
    assert_refused(&s, &answer, 400, "request", "error");
    assert!(
        answer.body.contains("over the 253 allowed"),
        "{}",
        answer.body
    );
    still_serving(&s);
}

#[test]
fn non_ascii_names_are_refused() {
    let s = setup();
    // Raw UTF-8 in the request line, or a name percent-encoded or with an encoded NUL:
    // the HTTP parser refuses the first (400, no body), the host check the others.
    let requests = [
        format!("CONNECT bücher.test:443 HTTP/1.1\r\n{}\r\n", auth()).into_bytes(),
        connect_request("b%C3%BCcher.test:443", &auth()),
        connect_request("allowed.test%00.evil:443", &auth()),
        format!("GET http://bücher.test/ HTTP/1.1\r\n{}\r\n", auth()).into_bytes(),
    ];
    for request in &requests {
        let (answer, _) = exchange(s.addr(), request);
        assert_eq!(answer.status, 400, "{}", String::from_utf8_lossy(request));
    }
    wait_for_count(&s, "request", requests.len());
    for line in s.log.lines() {
        assert_eq!(line["decision"], "error", "{line}");
        assert_eq!(line["status"], 400, "{line}");
    }
    still_serving(&s);
}

/// Waits up to 5 s for `n` log lines with this rule.
fn wait_for_count(s: &Setup, rule: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.log.lines().iter().filter(|l| l["rule"] == rule).count() < n {
        assert!(
            Instant::now() < deadline,
            "fewer than {n} lines with rule {rule}: {:?}",
            s.log.lines()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_resolver_failure_is_refused_and_logged() {
    let s = setup();
    let (answer, _) = exchange(
        s.addr(),
        &connect_request(&format!("broken.test:{}", s.echo.port()), &auth()),
    );
    assert_refused(&s, &answer, 502, "resolve", "error");
    assert!(answer.body.contains("cannot resolve `broken.test`"));
    let (answer, _) = exchange(
        s.addr(),
        &connect_request(&format!("gone.test:{}", s.echo.port()), &auth()),
    );
    assert_refused(&s, &answer, 403, "no_address", "deny");
    still_serving(&s);
}

#[test]
fn a_resolver_that_hangs_is_cut_off_while_others_are_served() {
    let limits = Limits {
        resolve_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let s = start(Private::Allow, limits, |c| c);
    let addr = s.addr();
    let port = s.echo.port();
    let slow = thread::spawn(move || {
        exchange(
            addr,
            &connect_request(&format!("slow.test:{port}"), &auth()),
        )
        .0
    });
    still_serving(&s);
    let answer = slow.join().unwrap();
    assert_refused(&s, &answer, 502, "resolve", "error");
    assert!(answer.body.contains("no answer from the resolver"));
}

#[test]
fn an_upstream_that_refuses_the_connection_is_a_502() {
    // A port nothing listens on (bound, then closed).
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = start(Private::Allow, Limits::default(), |c| {
        let mut policy = c.policy.clone();
        policy.hosts.push(allow("allowed.test", &[closed.port()]));
        ProxyConfig { policy, ..c }
    });
    let (answer, _) = exchange(
        s.addr(),
        &connect_request(&format!("allowed.test:{}", closed.port()), &auth()),
    );
    assert_refused(&s, &answer, 502, "connect", "error");
    still_serving(&s);
}

#[test]
fn connections_over_the_limit_are_refused_with_503() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let s = start(Private::Allow, limits, |c| c);
    let target = format!("allowed.test:{}", s.echo.port());
    let (a, _t1) = exchange(s.addr(), &connect_request(&target, &auth()));
    let (b, _t2) = exchange(s.addr(), &connect_request(&target, &auth()));
    assert_eq!((a.status, b.status), (200, 200));
    let (c, _) = exchange(s.addr(), &connect_request(&target, &auth()));
    assert_refused(&s, &c, 503, "max_connections", "deny");
    // A tunnel that ends gives its place back.
    drop(_t1);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (d, _t3) = exchange(s.addr(), &connect_request(&target, &auth()));
        if d.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed tunnel's place was not freed"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_idle_tunnel_is_closed() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let s = start(Private::Allow, limits, |c| c);
    let (answer, tunnel) = exchange(
        s.addr(),
        &connect_request(&format!("allowed.test:{}", s.echo.port()), &auth()),
    );
    assert_eq!(answer.status, 200);
    let mut stream = tunnel.into_inner();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = stream.read_to_end(&mut rest);
    assert!(read.is_ok(), "the idle tunnel stayed open: {read:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

// ---- where it listens, and stopping ----

#[test]
fn the_proxy_accepts_on_loopback_only() {
    let config = ProxyConfig::new(0, HostPolicy::default()).unwrap();
    let any = TcpListener::bind("0.0.0.0:0").unwrap();
    let err = config.start_thread(any).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("loopback only"), "{err}");
}

#[test]
fn a_process_proxy_is_refused_in_a_multi_threaded_process() {
    // The test harness runs tests on threads.
    let config = ProxyConfig::new(0, HostPolicy::default()).unwrap();
    let err = config.start_process(bind_loopback(0).unwrap()).unwrap_err();
    assert!(err.to_string().contains("threads"), "{err}");
}

#[test]
fn a_stopped_proxy_accepts_nothing_and_ends_its_tunnels() {
    let s = setup();
    let addr = s.addr();
    let (answer, tunnel) = exchange(
        addr,
        &connect_request(&format!("allowed.test:{}", s.echo.port()), &auth()),
    );
    assert_eq!(answer.status, 200);
    s.proxy.stop();
    let mut stream = tunnel.into_inner();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    assert!(matches!(stream.read_to_end(&mut rest), Ok(0) | Err(_)));
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn the_environment_points_every_client_at_the_proxy() {
    let s = setup();
    let endpoint = s.proxy.endpoint();
    let url = format!("http://nonoc:{SECRET}@{}", endpoint.addr());
    assert_eq!(endpoint.url(), url);
    let env = endpoint.environment();
    for name in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ] {
        assert!(env.contains(&(name, url.clone())), "{name}");
    }
    assert!(env.contains(&("NO_PROXY", String::new())));
    assert!(env.contains(&("no_proxy", String::new())));
}
