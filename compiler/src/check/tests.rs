//! The `tests:` section: each entry becomes an `ir::Test`.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::{self, Ir, PathTemplate, Request, Right, RingSelector};
use crate::resolve::{path_diagnostic, undeclared};
use crate::source::Source;
use crate::syntax::{PolicyFile, Spanned, TestCase};

/// Checks every test and returns those that are well formed.
pub fn tests(
    file: &PolicyFile,
    ir: &Ir,
    source: &Source,
    diags: &mut Diagnostics,
) -> Vec<ir::Test> {
    file.tests
        .iter()
        .filter_map(|t| test(t, ir, source, diags))
        .collect()
}

fn test(
    case: &Spanned<TestCase>,
    ir: &Ir,
    source: &Source,
    diags: &mut Diagnostics,
) -> Option<ir::Test> {
    let t = &case.value;
    let selector = match (&t.ring, &t.trust_score) {
        (Some(ring), None) => match u8::try_from(ring.value)
            .ok()
            .filter(|r| ir.rings.contains_key(r))
        {
            Some(r) => Some(RingSelector::Ring(r)),
            None => {
                diags.push(
                    Diagnostic::new(
                        Code::TestUnknownRing,
                        ring.span,
                        format!("the test names ring {}, which does not exist", ring.value),
                    )
                    .help(format!(
                        "defined rings: {}",
                        ir.rings
                            .keys()
                            .map(u8::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
                None
            }
        },
        (None, Some(score)) => match u16::try_from(score.value).ok().filter(|s| *s <= 1000) {
            Some(_) if ir.trust_tiers.is_empty() => {
                diags.push(
                    Diagnostic::new(
                        Code::TestNoTiers,
                        score.span,
                        "the test selects by `trust_score` but the policy has no trust tiers",
                    )
                    .help("add `trust_tiers:` or select the ring with `ring:`"),
                );
                None
            }
            Some(s) => Some(RingSelector::TrustScore(s)),
            None => {
                diags.push(
                    Diagnostic::new(
                        Code::TierScoreRange,
                        score.span,
                        format!("trust score `{}` is outside 0..=1000", score.value),
                    )
                    .help("trust scores use the 0..=1000 scale"),
                );
                None
            }
        },
        _ => {
            diags.push(
                Diagnostic::new(
                    Code::TestRequest,
                    case.span,
                    "a test needs exactly one of `ring` and `trust_score`",
                )
                .help("e.g. `- { ring: 3, read: /etc/passwd, expect: deny }`"),
            );
            None
        }
    };
    let request = request(t, ir, case, diags);
    Some(ir::Test {
        selector: selector?,
        request: request?,
        expect: t.expect,
        origin: ir::Origin::at(source, case.span, "test"),
    })
}

fn request(
    t: &TestCase,
    ir: &Ir,
    case: &Spanned<TestCase>,
    diags: &mut Diagnostics,
) -> Option<Request> {
    let mut requests: Vec<Option<Request>> = Vec::new();
    let mut path = |p: &Spanned<String>, access: Right| -> Option<Request> {
        let template = match PathTemplate::parse(&p.value) {
            Ok(t) => t,
            Err(e) => {
                diags.push(path_diagnostic(&e, p, "test path"));
                return None;
            }
        };
        if let Some(v) = template.variable()
            && !ir.variables.contains_key(v)
        {
            diags.push(undeclared(v, p.span, &ir.variables));
            return None;
        }
        Some(Request::Path {
            path: template,
            access,
            platform: t.platform,
        })
    };
    if let Some(p) = &t.read {
        requests.push(path(p, Right::ReadFile));
    }
    if let Some(p) = &t.write {
        requests.push(path(p, Right::WriteFile));
    }
    if let Some(p) = &t.execute {
        requests.push(path(p, Right::Execute));
    }
    if let Some(p) = &t.unix_connect {
        requests.push(path(p, Right::ReadFile).map(|r| match r {
            Request::Path { path, platform, .. } => Request::UnixConnect { path, platform },
            other => other,
        }));
    }
    for (port, connect) in [(&t.connect_tcp, true), (&t.bind_tcp, false)] {
        if let Some(port) = port {
            let p = u16::try_from(port.value).ok().filter(|p| *p > 0);
            if p.is_none() {
                diags.push(
                    Diagnostic::new(
                        Code::PortRange,
                        port.span,
                        format!("port `{}` is outside 1..=65535", port.value),
                    )
                    .help("TCP ports are 1..=65535"),
                );
            }
            requests.push(p.map(|port| {
                if connect {
                    Request::ConnectTcp { port }
                } else {
                    Request::BindTcp { port }
                }
            }));
        }
    }
    match (&t.host, &t.port) {
        (Some(host), port) => {
            let parsed = match nonoc_runtime::hosts::Host::parse(&host.value) {
                Ok(h) => Some(h.to_string()),
                Err(e) => {
                    diags.push(
                        Diagnostic::new(
                            Code::InvalidHost,
                            host.span,
                            format!(
                                "`{}` is not a host: {}",
                                host.value.escape_default(),
                                crate::ir::values::host_error(&host.value, &e)
                            ),
                        )
                        .help("a test's `host` is a host name (`api.example.com`) or an address (`192.0.2.7`, `[2001:db8::1]`); its port goes in `port:`"),
                    );
                    None
                }
            };
            let port = match port {
                None => Some(nonoc_runtime::hosts::Ports::DEFAULT_ALLOW),
                Some(p) => {
                    let checked = u16::try_from(p.value).ok().filter(|p| *p > 0);
                    if checked.is_none() {
                        diags.push(
                            Diagnostic::new(
                                Code::PortRange,
                                p.span,
                                format!("port `{}` is outside 1..=65535", p.value),
                            )
                            .help("TCP ports are 1..=65535"),
                        );
                    }
                    checked
                }
            };
            requests.push(
                parsed
                    .zip(port)
                    .map(|(host, port)| Request::Host { host, port }),
            );
        }
        (None, Some(port)) => {
            diags.push(
                Diagnostic::new(
                    Code::TestRequest,
                    port.span,
                    "`port` is the port of a `host` request, and the test has no `host`",
                )
                .help("write `host: api.example.com` beside it, or use `connect_tcp: PORT` for a direct connection"),
            );
            requests.push(None);
        }
        (None, None) => {}
    }
    for (flag, request, name) in [
        (&t.udp, Request::Udp, "udp"),
        (&t.fork, Request::Fork, "fork"),
    ] {
        if let Some(flag) = flag {
            if flag.value {
                requests.push(Some(request));
            } else {
                diags.push(
                    Diagnostic::new(
                        Code::TestRequest,
                        flag.span,
                        format!("`{name}: false` is not a request"),
                    )
                    .help(format!(
                        "write `{name}: true` to test whether the ring may do it"
                    )),
                );
                requests.push(None);
            }
        }
    }
    if let Some(scope) = &t.signal {
        requests.push(Some(Request::Signal { scope: scope.value }));
    }
    if let Some(family) = &t.listen {
        requests.push(Some(Request::Listen {
            family: family.value,
        }));
    }
    if let Some(name) = &t.capability {
        requests.push(
            crate::ir::values::capability(name, diags)
                .map(|capability| Request::Capability { capability }),
        );
    }
    if let Some(sys) = &t.syscall {
        let name = Spanned::new(sys.value.name.clone(), sys.span);
        let known = crate::ir::values::syscall_name(&name, diags).is_some();
        let mut args = Vec::new();
        let mut ok = known;
        if sys.value.args.len() > 6 {
            diags.push(
                Diagnostic::new(
                    Code::ArgIndex,
                    sys.span,
                    format!(
                        "a syscall takes at most six arguments, this test passes {}",
                        sys.value.args.len()
                    ),
                )
                .help("list the values of arguments 0 to 5 in order, at most six"),
            );
            ok = false;
        }
        for (i, arg) in sys.value.args.iter().enumerate() {
            let index = u8::try_from(i).unwrap_or(u8::MAX);
            match crate::ir::values::arg_value(arg, &name.value, index, diags) {
                Some(v) => args.push(v),
                None => ok = false,
            }
        }
        requests.push(ok.then(|| Request::Syscall {
            name: name.value.clone(),
            args,
        }));
    }
    if requests.len() != 1 {
        diags.push(
            Diagnostic::new(
                Code::TestRequest,
                case.span,
                format!(
                    "a test needs exactly one request, this one has {}",
                    requests.len()
                ),
            )
            .help(
                "requests: read, write, execute, connect_tcp, bind_tcp, udp, fork, signal, syscall, listen, unix_connect, capability",
            ),
        );
        return None;
    }
    requests.pop().flatten()
}
