//! Requests, ring selectors and rule locations in words, as the policy language writes them:
//! what `test` and `explain` print.

use super::{Ir, Origin, Request, Right, RingSelector, Verdict};

/// `ring 3` or `trust_score 600 (ring 2)`.
pub fn describe_selector(ir: &Ir, selector: RingSelector) -> String {
    match selector {
        RingSelector::Ring(level) => format!("ring {level}"),
        RingSelector::TrustScore(score) => match ir.ring_for_trust_score(score) {
            Some(level) => format!("trust_score {score} (ring {level})"),
            None => format!("trust_score {score} (no ring)"),
        },
    }
}

/// A request as the policy language writes it: `read /etc/passwd`, `connect_tcp 443`, ...
pub fn describe_request(request: &Request) -> String {
    match request {
        Request::Path {
            path,
            access,
            platform,
        } => {
            let verb = match access {
                Right::ReadFile => "read".to_owned(),
                Right::WriteFile => "write".to_owned(),
                Right::Execute => "execute".to_owned(),
                other => other.name().to_owned(),
            };
            match platform {
                Some(p) => format!("{verb} `{}` on {}", path.as_str(), p.name()),
                None => format!("{verb} `{}`", path.as_str()),
            }
        }
        Request::ConnectTcp { port } => format!("connect_tcp {port}"),
        Request::Host { host, port } => format!("host {host}:{port}"),
        Request::BindTcp { port } => format!("bind_tcp {port}"),
        Request::Udp => "udp".to_owned(),
        Request::Syscall { name, args } if args.is_empty() => format!("syscall {name}"),
        Request::Syscall { name, args } => format!(
            "syscall {name}({})",
            args.iter()
                .map(|a| format!("{a:#x}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Request::Signal { scope } => format!("signal {}", scope.name()),
        Request::Fork => "fork".to_owned(),
        Request::Ptrace => "ptrace".to_owned(),
        Request::Listen { family } => format!("listen {}", family.name()),
        Request::UnixConnect { path, platform } => match platform {
            Some(p) => format!("unix_connect `{}` on {}", path.as_str(), p.name()),
            None => format!("unix_connect `{}`", path.as_str()),
        },
        Request::Capability { capability } => format!("capability {capability}"),
    }
}

/// `FILE:LINE:COL`.
pub fn location(file: &str, origin: &Origin) -> String {
    format!("{file}:{}:{}", origin.line, origin.column)
}

/// `allow` or `deny`.
pub fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Allow => "allow",
        Verdict::Deny => "deny",
    }
}
