//! The network and process sections of a profile.

use super::lower::{Forms, allow};
use super::sbpl::{Address, Domain, Filter, Form, Host, Operation, Proto, SocketType, Str, Target};
use crate::ir::Ring;
use crate::syntax::{NetworkMode, SignalScope};

fn tcp(port: u16) -> Address {
    Address {
        host: Host::Any,
        port: std::num::NonZeroU16::new(port),
    }
}

const ANY_ADDRESS: Address = Address {
    host: Host::Any,
    port: None,
};

fn inet(kind: SocketType) -> Filter {
    Filter::RequireAll(vec![
        Filter::RequireAny(vec![
            Filter::SocketDomain(Domain::Inet),
            Filter::SocketDomain(Domain::Inet6),
        ]),
        Filter::SocketType(kind),
    ])
}

/// The DNS resolver's socket: name lookups on macOS go through it.
const MDNS_RESPONDER: &str = "/private/var/run/mDNSResponder";
/// Certificate trust evaluation for TLS.
const TRUSTD: &str = "com.apple.trustd.agent";

pub fn network(ring: &Ring) -> Forms {
    let net = &ring.network;
    let mut out = Vec::new();
    let trust = |out: &mut Vec<Form>| {
        out.push(Form::Comment(
            "TLS certificate checks, and name lookups through the system resolver's socket"
                .to_owned(),
        ));
        out.push(allow(
            &[Operation::MachLookup],
            vec![Filter::GlobalName(Str::lit(TRUSTD))],
        ));
        out.push(allow(
            &[Operation::NetworkOutbound],
            vec![Filter::Literal(Str::lit(MDNS_RESPONDER))],
        ));
    };
    match net.mode {
        NetworkMode::Blocked => {}
        NetworkMode::Allowed => {
            out.push(allow(&[Operation::Network], Vec::new()));
            out.push(allow(&[Operation::SystemSocket], Vec::new()));
            trust(&mut out);
        }
        NetworkMode::Restricted => {
            if !net.connect_tcp.is_empty() {
                out.push(allow(
                    &[Operation::NetworkOutbound],
                    net.connect_tcp
                        .iter()
                        .map(|p| Filter::Remote(Proto::Tcp, tcp(*p)))
                        .collect(),
                ));
            }
            if !net.bind_tcp.is_empty() {
                out.push(allow(
                    &[Operation::NetworkBind, Operation::NetworkInbound],
                    net.bind_tcp
                        .iter()
                        .map(|p| Filter::Local(Proto::Tcp, tcp(*p)))
                        .collect(),
                ));
            }
            if !net.connect_tcp.is_empty() || !net.bind_tcp.is_empty() {
                out.push(allow(
                    &[Operation::SystemSocket],
                    vec![inet(SocketType::Stream)],
                ));
            }
            if net.udp {
                out.push(allow(
                    &[Operation::NetworkOutbound],
                    vec![Filter::Remote(Proto::Udp, ANY_ADDRESS)],
                ));
                out.push(allow(
                    &[Operation::NetworkBind, Operation::NetworkInbound],
                    vec![Filter::Local(Proto::Udp, ANY_ADDRESS)],
                ));
                out.push(allow(
                    &[Operation::SystemSocket],
                    vec![inet(SocketType::Datagram)],
                ));
            }
            if !net.connect_tcp.is_empty() {
                trust(&mut out);
            }
        }
    }
    out
}

pub fn process(ring: &Ring) -> Forms {
    let mut out = Vec::new();
    if ring.process.fork {
        out.push(allow(&[Operation::ProcessFork], Vec::new()));
    }
    out.push(match ring.process.signals {
        SignalScope::Own => allow(&[Operation::Signal], vec![Filter::Target(Target::Own)]),
        SignalScope::Sandbox => allow(
            &[Operation::Signal],
            vec![
                Filter::Target(Target::Own),
                Filter::Target(Target::SameSandbox),
            ],
        ),
        SignalScope::Any => allow(&[Operation::Signal], Vec::new()),
    });
    if ring.process.ptrace {
        out.push(allow(
            &[Operation::ProcessInfo, Operation::MachPrivTaskPort],
            vec![Filter::Target(Target::SameSandbox)],
        ));
    }
    out
}
