use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

fn name(s: &str) -> HostName {
    HostName::parse(s).unwrap()
}

fn host(s: &str) -> Host {
    Host::parse(s).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn allow(pattern: &str, ports: &[u16]) -> HostRule {
    HostRule::allow(HostPattern::parse(pattern).unwrap(), ports).unwrap()
}

fn deny(pattern: &str, ports: &[u16]) -> HostRule {
    HostRule::deny(HostPattern::parse(pattern).unwrap(), ports).unwrap()
}

/// The example of POLICY-LANGUAGE.md, "Egress by host name".
fn example() -> HostPolicy {
    HostPolicy::new(
        vec![
            allow("api.openai.com", &[]),
            allow("*.githubusercontent.com", &[]),
            allow("pypi.org", &[443, 80]),
            allow("10.1.0.0/16", &[8080]),
        ],
        vec![deny("uploads.github.com", &[])],
        Private::Deny,
    )
}

fn rule(policy: &HostPolicy, h: &str, port: u16) -> Rule {
    policy.decide(&host(h), port).rule
}

// ---- names ----

#[test]
fn names_are_lower_case_without_a_trailing_dot() {
    assert_eq!(name("ALLOWED.test.").as_str(), "allowed.test");
    assert_eq!(name("Api.OpenAI.com").as_str(), "api.openai.com");
    assert_eq!(
        name("xn--bcher-kva.example").as_str(),
        "xn--bcher-kva.example"
    );
    assert_eq!(
        name("XN--BCHER-KVA.example").as_str(),
        "xn--bcher-kva.example"
    );
    assert_eq!(name("localhost").as_str(), "localhost");
    assert_eq!(name("_acme.example.com").as_str(), "_acme.example.com");
    assert_eq!(
        name("r3---sn-ab.googlevideo.com").as_str(),
        "r3---sn-ab.googlevideo.com"
    );
    assert_eq!(name("1password.com").as_str(), "1password.com");
}

#[test]
fn malformed_names_are_refused_with_the_reason() {
    use HostError as E;
    type Expected = fn(&HostError) -> bool;
    let cases: &[(&str, Expected)] = &[
        ("", |e| *e == E::Empty),
        (".", |e| *e == E::Empty),
        ("a..b", |e| matches!(e, E::EmptyLabel(_))),
        (".a", |e| matches!(e, E::EmptyLabel(_))),
        ("a.b..", |e| matches!(e, E::EmptyLabel(_))),
        ("-a.com", |e| matches!(e, E::Hyphen(_))),
        ("a-.com", |e| matches!(e, E::Hyphen(_))),
        ("a b.com", |e| {
            matches!(e, E::BadCharacter { found: ' ', .. })
        }),
        ("a/b.com", |e| {
            matches!(e, E::BadCharacter { found: '/', .. })
        }),
        ("a\0b.com", |e| {
            matches!(e, E::BadCharacter { found: '\0', .. })
        }),
        ("a@b.com", |e| {
            matches!(e, E::BadCharacter { found: '@', .. })
        }),
        ("bücher.example", |e| matches!(e, E::NonAscii(_))),
        ("еxample.com", |e| matches!(e, E::NonAscii(_))), // Cyrillic e
        ("example.com\u{202e}", |e| matches!(e, E::NonAscii(_))),
        ("127.1", |e| matches!(e, E::NumericName(_))),
        ("0x7f.1", |e| matches!(e, E::NumericName(_))),
        ("1.2.3.4.5", |e| matches!(e, E::NumericName(_))),
        ("017.0.0.1", |e| matches!(e, E::NumericName(_))),
        ("2130706433", |e| matches!(e, E::NumericName(_))),
        ("example.0x", |e| matches!(e, E::NumericName(_))),
        ("*.example.com", |e| matches!(e, E::Wildcard(_))),
    ];
    for (text, expected) in cases {
        let err = HostName::parse(text).unwrap_err();
        assert!(expected(&err), "{text:?}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn length_limits_are_bytes_without_the_trailing_dot() {
    let label63 = "a".repeat(63);
    assert!(HostName::parse(&label63).is_ok());
    assert!(matches!(
        HostName::parse(&"a".repeat(64)),
        Err(HostError::LabelTooLong(_))
    ));
    // 4 labels of 63 and one of 1: 63*4 + 1 + 4 dots = 257; trim to exactly 253.
    let name253 = format!("{label63}.{label63}.{label63}.{}", "a".repeat(61));
    assert_eq!(name253.len(), 253);
    assert!(HostName::parse(&name253).is_ok());
    assert!(HostName::parse(&format!("{name253}.")).is_ok());
    let name254 = format!("{label63}.{label63}.{label63}.{}", "a".repeat(62));
    assert_eq!(
        HostName::parse(&name254).unwrap_err(),
        HostError::TooLong(254)
    );
}

#[test]
fn hosts_are_names_or_canonical_addresses() {
    assert_eq!(host("10.1.2.3"), Host::Addr(ip("10.1.2.3")));
    assert_eq!(host("[::1]"), Host::Addr(ip("::1")));
    assert_eq!(host("::1"), Host::Addr(ip("::1")));
    // An IPv4-mapped IPv6 address is its IPv4 address: the connection goes there.
    assert_eq!(host("[::ffff:127.0.0.1]"), Host::Addr(ip("127.0.0.1")));
    assert_eq!(host("Example.COM."), Host::Name(name("example.com")));
    assert!(matches!(
        Host::parse("[fe80::1%eth0]"),
        Err(HostError::Zone(_))
    ));
    assert!(matches!(
        Host::parse("[nonsense]"),
        Err(HostError::Address(_))
    ));
    assert_eq!(host("[::1]").to_string(), "[::1]");
}

#[test]
fn authorities_split_into_host_and_port() {
    assert_eq!(
        parse_authority("Example.com:8443", None).unwrap(),
        (host("example.com"), 8443)
    );
    assert_eq!(
        parse_authority("example.com", Some(80)).unwrap(),
        (host("example.com"), 80)
    );
    assert_eq!(
        parse_authority("[2001:db8::1]:443", None).unwrap(),
        (host("2001:db8::1"), 443)
    );
    assert_eq!(
        parse_authority("[2001:db8::1]", Some(80)).unwrap(),
        (host("2001:db8::1"), 80)
    );
    for bad in [
        "example.com",
        "example.com:",
        "example.com:0",
        "example.com:65536",
        "example.com:+1",
        "example.com:http",
        "2001:db8::1:443",
        "[2001:db8::1]443",
        "[2001:db8::1",
        ":443",
    ] {
        assert!(parse_authority(bad, None).is_err(), "{bad}");
    }
}

#[test]
fn resolve_entries_are_a_name_and_an_address() {
    assert_eq!(
        parse_resolve("Allowed.Test=127.0.0.1").unwrap(),
        (name("allowed.test"), ip("127.0.0.1"))
    );
    assert_eq!(
        parse_resolve("v6.test=[::1]").unwrap(),
        (name("v6.test"), ip("::1"))
    );
    assert!(matches!(
        parse_resolve("allowed.test"),
        Err(HostError::Resolve(_))
    ));
    assert!(parse_resolve("allowed.test=other.test").is_err());
    assert!(parse_resolve("10.0.0.1=10.0.0.2").is_err());
}

// ---- patterns ----

#[test]
fn patterns_parse_to_their_kind_and_print_canonically() {
    for (text, printed) in [
        ("API.openai.com.", "api.openai.com"),
        ("*.GitHubUserContent.com", "*.githubusercontent.com"),
        ("10.1.0.0/16", "10.1.0.0/16"),
        ("10.1.2.3", "10.1.2.3"),
        ("10.1.2.3/32", "10.1.2.3"),
        ("2001:DB8::/32", "2001:db8::/32"),
        ("[::1]", "::1"),
        ("0.0.0.0/0", "0.0.0.0/0"),
    ] {
        assert_eq!(HostPattern::parse(text).unwrap().to_string(), printed);
    }
    for bad in [
        "*",
        "*.",
        "*example.com",
        "a.*.example.com",
        "*.*.example.com",
        "example.*",
        "*.10.0.0.1",
        "*.1",
        "10.1.0.1/16",
        "10.0.0.0/33",
        "10.0.0.0/",
        "10.0.0.0/x",
        "10.0.0.0/-1",
        "::/129",
        "::ffff:10.0.0.0/104",
        "::ffff:10.0.0.1",
        "fe80::1%eth0",
        "example.com:443",
        "bücher.example",
    ] {
        assert!(HostPattern::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        HostPattern::parse("10.1.0.1/16").unwrap_err(),
        HostError::HostBits {
            range: "10.1.0.1/16".into(),
            network: "10.1.0.0/16".into()
        }
    );
}

#[test]
fn a_wildcard_matches_every_depth_below_but_not_the_apex_or_look_alikes() {
    let p = HostPattern::parse("*.allowed.test").unwrap();
    for yes in ["a.allowed.test", "a.b.c.allowed.test", "A.ALLOWED.TEST."] {
        assert!(p.matches(&host(yes)), "{yes}");
    }
    for no in [
        "allowed.test",
        "allowed.test.evil",
        "a.allowed.test.evil",
        "evilallowed.test",
        "a-allowed.test",
        "allowed.tests",
        "test",
    ] {
        assert!(!p.matches(&host(no)), "{no}");
    }
}

#[test]
fn a_name_entry_matches_that_name_only() {
    let p = HostPattern::parse("allowed.test").unwrap();
    assert!(p.matches(&host("ALLOWED.test.")));
    for no in [
        "a.allowed.test",
        "allowed.test.evil",
        "allowed.tes",
        "llowed.test",
    ] {
        assert!(!p.matches(&host(no)), "{no}");
    }
}

#[test]
fn name_and_address_entries_never_cross() {
    let name_entry = HostPattern::parse("localhost").unwrap();
    assert!(!name_entry.matches(&host("127.0.0.1")));
    let range = HostPattern::parse("127.0.0.0/8").unwrap();
    assert!(!range.matches(&host("localhost")));
    assert!(range.matches(&host("127.0.0.1")));
    assert!(range.matches(&host("[::ffff:127.0.0.2]")));
    assert!(!range.matches(&host("::1")));
}

#[test]
fn ranges_contain_what_their_prefix_says() {
    let r = IpRange::parse("10.1.0.0/16").unwrap();
    assert!(r.contains(ip("10.1.0.0")));
    assert!(r.contains(ip("10.1.255.255")));
    assert!(!r.contains(ip("10.2.0.0")));
    assert!(!r.contains(ip("::ffff:10.1.0.1")), "families never mix");
    let all = IpRange::parse("0.0.0.0/0").unwrap();
    assert!(all.contains(ip("255.255.255.255")));
    let v6 = IpRange::parse("2001:db8::/32").unwrap();
    assert!(v6.contains(ip("2001:db8:ffff::1")));
    assert!(!v6.contains(ip("2001:db9::1")));
    assert!(IpRange::parse("10.0.0.0/8").unwrap().covers(&r));
    assert!(!r.covers(&IpRange::parse("10.0.0.0/8").unwrap()));
}

// ---- address classes ----

#[test]
fn addresses_fall_in_their_class() {
    use AddressClass as C;
    let cases = [
        ("8.8.8.8", C::Global),
        ("1.1.1.1", C::Global),
        ("2606:4700::1111", C::Global),
        ("127.0.0.1", C::Loopback),
        ("127.255.255.254", C::Loopback),
        ("::1", C::Loopback),
        ("10.0.0.1", C::Private),
        ("172.16.0.1", C::Private),
        ("172.31.255.255", C::Private),
        ("172.32.0.1", C::Global),
        ("172.15.255.255", C::Global),
        ("192.168.1.1", C::Private),
        ("169.254.1.1", C::LinkLocal),
        ("fe80::1", C::LinkLocal),
        ("100.64.0.1", C::SharedCgnat),
        ("100.127.255.255", C::SharedCgnat),
        ("100.128.0.0", C::Global),
        ("fc00::1", C::UniqueLocal),
        ("fd12:3456::1", C::UniqueLocal),
        ("fec0::1", C::UniqueLocal),
        ("0.0.0.0", C::Unspecified),
        ("0.1.2.3", C::Unspecified),
        ("::", C::Unspecified),
        ("224.0.0.1", C::Multicast),
        ("239.255.255.255", C::Multicast),
        ("ff02::1", C::Multicast),
        ("255.255.255.255", C::Broadcast),
        ("240.0.0.1", C::Reserved),
        ("192.0.2.1", C::Reserved),
        ("198.51.100.1", C::Reserved),
        ("203.0.113.1", C::Reserved),
        ("198.18.0.1", C::Reserved),
        ("192.0.0.8", C::Reserved),
        ("2001:db8::1", C::Reserved),
        ("2001::1", C::Reserved),
        ("100::1", C::Reserved),
        ("3fff::1", C::Reserved),
        ("::1.2.3.4", C::Reserved),
        ("64:ff9b:1::1", C::Reserved),
        // IPv4-mapped, NAT64 and 6to4 addresses have the class of the IPv4 address they
        // lead to.
        ("::ffff:127.0.0.1", C::Loopback),
        ("::ffff:10.0.0.1", C::Private),
        ("::ffff:8.8.8.8", C::Global),
        ("64:ff9b::10.0.0.1", C::Private),
        ("64:ff9b::8.8.8.8", C::Global),
        ("2002:7f00:1::", C::Loopback),
        ("2002:c0a8:101::1", C::Private),
        ("2002:808:808::1", C::Global),
        // Metadata in every form.
        ("169.254.169.254", C::Metadata),
        ("100.100.100.200", C::Metadata),
        ("169.254.170.2", C::Metadata),
        ("169.254.170.23", C::Metadata),
        ("fd00:ec2::254", C::Metadata),
        ("fd00:ec2::23", C::Metadata),
        ("::ffff:169.254.169.254", C::Metadata),
        ("::169.254.169.254", C::Metadata),
        ("64:ff9b::a9fe:a9fe", C::Metadata),
        ("2002:a9fe:a9fe::", C::Metadata),
        ("::ffff:100.100.100.200", C::Metadata),
    ];
    for (addr, class) in cases {
        assert_eq!(classify(ip(addr)), class, "{addr}");
    }
    assert!(!AddressClass::Multicast.is_destination());
    assert!(AddressClass::Loopback.is_destination());
}

// ---- the decision ----

#[test]
fn the_documented_example_decides_as_documented() {
    let p = example();
    assert_eq!(rule(&p, "api.openai.com", 443), Rule::Host(0));
    assert_eq!(rule(&p, "API.OpenAI.com.", 443), Rule::Host(0));
    assert_eq!(rule(&p, "api.openai.com", 80), Rule::Port(0));
    assert_eq!(rule(&p, "raw.githubusercontent.com", 443), Rule::Host(1));
    assert_eq!(rule(&p, "a.b.githubusercontent.com", 443), Rule::Host(1));
    assert_eq!(rule(&p, "githubusercontent.com", 443), Rule::NotListed);
    assert_eq!(rule(&p, "pypi.org", 80), Rule::Host(2));
    assert_eq!(rule(&p, "pypi.org", 443), Rule::Host(2));
    assert_eq!(rule(&p, "pypi.org", 8080), Rule::Port(2));
    assert_eq!(rule(&p, "10.1.2.3", 8080), Rule::Host(3));
    assert_eq!(rule(&p, "10.1.2.3", 443), Rule::Port(3));
    assert_eq!(rule(&p, "10.2.0.1", 8080), Rule::NotListed);
    assert_eq!(rule(&p, "uploads.github.com", 443), Rule::DenyHost(0));
    assert_eq!(rule(&p, "evil.test", 443), Rule::NotListed);
    assert_eq!(rule(&p, "api.openai.com.evil", 443), Rule::NotListed);
}

#[test]
fn deny_hosts_wins_over_hosts() {
    let p = HostPolicy::new(
        vec![allow("*.github.com", &[]), allow("10.0.0.0/8", &[443])],
        vec![deny("uploads.github.com", &[]), deny("10.9.0.0/16", &[443])],
        Private::Deny,
    );
    assert_eq!(rule(&p, "uploads.github.com", 443), Rule::DenyHost(0));
    assert_eq!(rule(&p, "api.github.com", 443), Rule::Host(0));
    assert_eq!(rule(&p, "10.9.1.1", 443), Rule::DenyHost(1));
    assert_eq!(rule(&p, "10.8.1.1", 443), Rule::Host(1));
    // A deny entry with ports covers those ports only.
    let ports = HostPolicy::new(
        vec![allow("a.test", &[443, 8443])],
        vec![deny("a.test", &[8443])],
        Private::Deny,
    );
    assert_eq!(rule(&ports, "a.test", 443), Rule::Host(0));
    assert_eq!(rule(&ports, "a.test", 8443), Rule::DenyHost(0));
}

#[test]
fn an_address_literal_needs_an_address_entry() {
    let p = HostPolicy::new(vec![allow("localhost", &[443])], vec![], Private::Allow);
    assert_eq!(rule(&p, "127.0.0.1", 443), Rule::NotListed);
    assert_eq!(rule(&p, "[::1]", 443), Rule::NotListed);
    let d = p.decide(&host("127.0.0.1"), 443);
    assert!(
        p.describe(&host("127.0.0.1"), 443, &d)
            .contains("name entries never match an address")
    );
}

#[test]
fn an_address_literal_in_a_special_block_needs_an_explicit_grant_or_private_allow() {
    let wide = HostPolicy::new(vec![allow("0.0.0.0/0", &[443])], vec![], Private::Deny);
    assert_eq!(rule(&wide, "8.8.8.8", 443), Rule::Host(0));
    assert_eq!(
        rule(&wide, "127.0.0.1", 443),
        Rule::Private(ip("127.0.0.1"), AddressClass::Loopback)
    );
    assert_eq!(
        rule(&wide, "192.168.0.1", 443),
        Rule::Private(ip("192.168.0.1"), AddressClass::Private)
    );
    let explicit = HostPolicy::new(
        vec![allow("192.168.1.0/24", &[443]), allow("127.0.0.1", &[443])],
        vec![],
        Private::Deny,
    );
    assert_eq!(rule(&explicit, "192.168.1.7", 443), Rule::Host(0));
    assert_eq!(rule(&explicit, "127.0.0.1", 443), Rule::Host(1));
    assert_eq!(rule(&explicit, "[::ffff:127.0.0.1]", 443), Rule::Host(1));
    let wide_allowed = HostPolicy::new(vec![allow("0.0.0.0/0", &[443])], vec![], Private::Allow);
    assert_eq!(rule(&wide_allowed, "127.0.0.1", 443), Rule::Host(0));
}

#[test]
fn metadata_and_non_destinations_are_refused_whatever_the_policy_says() {
    let p = HostPolicy::new(
        vec![allow("0.0.0.0/0", &[80, 443]), allow("::/0", &[80, 443])],
        vec![],
        Private::Allow,
    );
    for m in [
        "169.254.169.254",
        "100.100.100.200",
        "[fd00:ec2::254]",
        "[::ffff:169.254.169.254]",
        "[64:ff9b::a9fe:a9fe]",
    ] {
        assert!(matches!(rule(&p, m, 80), Rule::Metadata(_)), "{m}");
    }
    let explicit = HostPolicy::new(
        vec![allow("169.254.169.254", &[80])],
        vec![],
        Private::Allow,
    );
    assert!(matches!(
        rule(&explicit, "169.254.169.254", 80),
        Rule::Metadata(_)
    ));
    for n in [
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "[::]",
        "[ff02::1]",
    ] {
        assert!(matches!(rule(&p, n, 80), Rule::NotDestination(..)), "{n}");
    }
}

#[test]
fn every_resolved_address_is_checked() {
    let p = HostPolicy::new(
        vec![allow("allowed.test", &[]), allow("*.allowed.test", &[])],
        vec![deny("203.0.113.0/24", &[])],
        Private::Deny,
    );
    let n = name("allowed.test");
    let decide = |addrs: &[&str]| {
        let addrs: Vec<IpAddr> = addrs.iter().map(|a| ip(a)).collect();
        p.decide_addresses(&n, 443, &addrs).rule
    };
    assert_eq!(decide(&["8.8.8.8"]), Rule::Host(0));
    assert_eq!(decide(&["8.8.8.8", "2606:4700::1111"]), Rule::Host(0));
    assert_eq!(decide(&[]), Rule::NoAddress);
    assert_eq!(
        decide(&["8.8.8.8", "127.0.0.1"]),
        Rule::Private(ip("127.0.0.1"), AddressClass::Loopback)
    );
    assert_eq!(
        decide(&["::ffff:10.0.0.1"]),
        Rule::Private(ip("10.0.0.1"), AddressClass::Private)
    );
    assert_eq!(
        decide(&["169.254.169.254"]),
        Rule::Metadata(ip("169.254.169.254"))
    );
    assert_eq!(
        decide(&["0.0.0.0"]),
        Rule::NotDestination(ip("0.0.0.0"), AddressClass::Unspecified)
    );
    // deny_hosts address entries apply to what a name resolves to.
    assert_eq!(decide(&["203.0.113.5"]), Rule::DenyHost(0));
    // A refused name is refused before its addresses matter.
    assert_eq!(
        p.decide_addresses(&name("evil.test"), 443, &[ip("8.8.8.8")])
            .rule,
        Rule::NotListed
    );
    let open = HostPolicy::new(vec![allow("allowed.test", &[])], vec![], Private::Allow);
    assert_eq!(
        open.decide_addresses(&n, 443, &[ip("127.0.0.1"), ip("10.0.0.1")])
            .rule,
        Rule::Host(0)
    );
    assert!(matches!(
        open.decide_addresses(&n, 443, &[ip("169.254.169.254")])
            .rule,
        Rule::Metadata(_)
    ));
}

#[test]
fn an_empty_policy_allows_nothing() {
    let p = HostPolicy::default();
    assert_eq!(rule(&p, "example.com", 443), Rule::NotListed);
    assert_eq!(rule(&p, "8.8.8.8", 443), Rule::NotListed);
}

#[test]
fn rules_have_stable_ids_and_sentences() {
    let p = example();
    let cases = [
        (
            "api.openai.com",
            443,
            "hosts[0]",
            "allowed by hosts[0] `api.openai.com` (443)",
        ),
        (
            "uploads.github.com",
            443,
            "deny_hosts[0]",
            "refused by deny_hosts[0] `uploads.github.com` (every port)",
        ),
        (
            "pypi.org",
            22,
            "hosts[2].ports",
            "port 22 is not among the ports of hosts[2] `pypi.org` (80, 443)",
        ),
        ("evil.test", 443, "hosts", "`evil.test` is not in `hosts`"),
    ];
    for (h, port, id, sentence) in cases {
        let v = p.decide(&host(h), port);
        assert_eq!(v.rule.id(), id);
        let said = p.describe(&host(h), port, &v);
        assert!(said.contains(sentence), "{said}");
    }
}

#[test]
fn a_policy_reads_back_from_json_and_refuses_bad_entries() {
    let p = example();
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        json.contains(r#""pattern":"*.githubusercontent.com""#),
        "{json}"
    );
    assert!(json.contains(r#""ports":"all""#), "{json}");
    let back: HostPolicy = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    for bad in [
        r#"{"hosts":[{"pattern":"*","ports":[443]}]}"#,
        r#"{"hosts":[{"pattern":"a.test","ports":[]}]}"#,
        r#"{"hosts":[{"pattern":"a.test","ports":[0]}]}"#,
        r#"{"hosts":[{"pattern":"a.test","ports":"some"}]}"#,
        r#"{"hosts":[{"pattern":"a.test","ports":[443],"extra":1}]}"#,
        r#"{"private":"maybe"}"#,
        // Only the normal form is read back: what is read is what is written.
        r#"{"hosts":[{"pattern":"A.test","ports":[443]}]}"#,
        r#"{"hosts":[{"pattern":"a.test.","ports":[443]}]}"#,
        r#"{"hosts":[{"pattern":"10.1.0.0/016","ports":[443]}]}"#,
        r#"{"hosts":[{"pattern":"a.test","ports":[443,80]}]}"#,
        r#"{"hosts":[{"pattern":"a.test","ports":[443,443]}]}"#,
    ] {
        assert!(serde_json::from_str::<HostPolicy>(bad).is_err(), "{bad}");
    }
}

// ---- properties ----

/// A label of the kind names are made of.
fn label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,6}[a-z0-9])?"
}

fn name_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(label(), 1..5).prop_map(|l| l.join("."))
}

proptest! {
    /// Normalizing is idempotent, and case and one trailing dot never change a name.
    #[test]
    fn normal_form_is_stable(n in name_text(), upper in any::<bool>(), dot in any::<bool>()) {
        let mut text = if upper { n.to_ascii_uppercase() } else { n.clone() };
        if dot { text.push('.'); }
        let parsed = HostName::parse(&text).unwrap();
        prop_assert_eq!(parsed.as_str(), n.as_str());
        prop_assert_eq!(HostName::parse(parsed.as_str()).unwrap(), parsed);
    }

    /// `*.S` matches N exactly when N has more labels than S and ends with S's labels.
    #[test]
    fn wildcard_matches_by_labels(s in name_text(), n in name_text()) {
        let p = HostPattern::parse(&format!("*.{s}")).unwrap();
        let sl: Vec<&str> = s.split('.').collect();
        let nl: Vec<&str> = n.split('.').collect();
        let expected = nl.len() > sl.len() && nl[nl.len() - sl.len()..] == sl[..];
        prop_assert_eq!(p.matches(&host(&n)), expected);
        // The apex never matches; any subdomain does.
        prop_assert!(!p.matches(&host(&s)));
        let below = format!("{n}.{s}");
        prop_assert!(p.matches(&host(&below)));
    }

    /// A deny entry that matches always wins, wherever it is and whatever else is listed.
    #[test]
    fn deny_always_wins(n in name_text(), port in 1u16.., extra in proptest::collection::vec(name_text(), 0..4)) {
        let mut hosts: Vec<HostRule> = extra.iter().map(|e| allow(e, &[port])).collect();
        hosts.push(allow(&n, &[port]));
        let p = HostPolicy::new(hosts, vec![deny(&n, &[])], Private::Allow);
        prop_assert_eq!(rule(&p, &n, port), Rule::DenyHost(0));
        prop_assert_eq!(p.decide_addresses(&name(&n), port, &[ip("8.8.8.8")]).rule, Rule::DenyHost(0));
    }

    /// Whatever the policy, a metadata address, in any spelling, is never allowed.
    #[test]
    fn metadata_is_never_allowed(i in 0..METADATA.len(), private in any::<bool>(), n in name_text()) {
        let private = if private { Private::Allow } else { Private::Deny };
        let p = HostPolicy::new(
            vec![allow("0.0.0.0/0", &[80]), allow("::/0", &[80]), allow(&n, &[80])],
            vec![],
            private,
        );
        let m = METADATA[i];
        let mut spellings = vec![m];
        if let IpAddr::V4(v4) = m {
            spellings.push(IpAddr::V6(v4.to_ipv6_mapped()));
            spellings.push(IpAddr::V6(v4.to_ipv6_compatible()));
        }
        for a in spellings {
            prop_assert!(!p.decide(&Host::Addr(a.to_canonical()), 80).is_allowed());
            prop_assert!(!p.decide_addresses(&name(&n), 80, &[ip("8.8.8.8"), a]).is_allowed());
        }
    }

    /// Under `private: deny`, a name is allowed only if every address it resolves to is
    /// global.
    #[test]
    fn private_deny_allows_global_addresses_only(bits in proptest::collection::vec(any::<u32>(), 1..4)) {
        let p = HostPolicy::new(vec![allow("a.test", &[])], vec![], Private::Deny);
        let addrs: Vec<IpAddr> = bits.iter().map(|b| IpAddr::V4((*b).into())).collect();
        let all_global = addrs.iter().all(|a| classify(*a) == AddressClass::Global);
        prop_assert_eq!(p.decide_addresses(&name("a.test"), 443, &addrs).is_allowed(), all_global);
    }

    /// Parsing never panics, and a parsed name survives a second parse unchanged.
    #[test]
    fn parsing_arbitrary_text_is_total(text in "\\PC{0,80}") {
        if let Ok(n) = HostName::parse(&text) {
            prop_assert_eq!(HostName::parse(n.as_str()).unwrap(), n);
        }
        if let Ok(p) = HostPattern::parse(&text) {
            prop_assert_eq!(HostPattern::parse(&p.to_string()).unwrap(), p);
        }
        let _ = parse_authority(&text, Some(443));
    }
}
