//! The network and process sections of a profile.

use super::lower::{Forms, allow};
use super::sbpl::{
    Address, Domain, Filter, Form, Host, Operation, Port, Proto, SocketType, Str, Target,
};
use crate::ir::Ring;
use crate::syntax::{NetworkMode, SignalScope};

fn tcp(port: u16) -> Address {
    Address {
        host: Host::Any,
        port: std::num::NonZeroU16::new(port).map_or(Port::Any, Port::Number),
    }
}

const ANY_ADDRESS: Address = Address {
    host: Host::Any,
    port: Port::Any,
};

/// The egress proxy: this machine's loopback at the port the runtime binds.
const PROXY: Address = Address {
    host: Host::Localhost,
    port: Port::Proxy,
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
pub const MDNS_RESPONDER: &str = "/private/var/run/mDNSResponder";
/// Certificate trust evaluation for TLS.
const TRUSTD: &str = "com.apple.trustd.agent";

/// The network section. `unix`: the paths of the ring's `unix_connect` grants as filters
/// (empty: the ring may not create unix sockets, nor connect to them).
pub fn network(ring: &Ring, unix: Vec<Filter>) -> Forms {
    let net = &ring.network;
    let mut out = Vec::new();
    // Connecting to a unix socket is `network-outbound` to its path.
    let unix_grants = |out: &mut Vec<Form>| {
        if unix.is_empty() {
            return;
        }
        out.push(Form::Comment(
            "network.unix_connect: unix sockets, connecting under the granted paths".to_owned(),
        ));
        out.push(allow(
            &[Operation::SystemSocket],
            vec![Filter::SocketDomain(Domain::Unix)],
        ));
        out.push(allow(&[Operation::NetworkOutbound], unix.clone()));
    };
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
    // A ring with hosts (only `restricted` has a proxy): TCP to the egress proxy, which
    // resolves names itself, so the process needs no resolver; TLS stays end to end, so it
    // needs certificate checks.
    let proxy = |out: &mut Vec<Form>| {
        out.push(Form::Comment(
            "network.hosts: the egress proxy, on this machine's loopback at the port the runtime binds (the placeholder is replaced at apply time)"
                .to_owned(),
        ));
        out.push(allow(
            &[Operation::NetworkOutbound],
            vec![Filter::Remote(Proto::Tcp, PROXY)],
        ));
        if net.connect_tcp.is_empty() {
            out.push(Form::Comment(
                "TLS certificate checks (names are resolved by the proxy)".to_owned(),
            ));
            out.push(allow(
                &[Operation::MachLookup],
                vec![Filter::GlobalName(Str::lit(TRUSTD))],
            ));
        }
    };
    match net.mode {
        NetworkMode::Blocked => unix_grants(&mut out),
        NetworkMode::Allowed => {
            out.push(Form::Comment(
                "every network operation, but connecting to unix sockets only under network.unix_connect".to_owned(),
            ));
            out.push(allow(
                &[Operation::Network],
                vec![Filter::RequireNot(Box::new(Filter::RemoteUnixSocket))],
            ));
            out.push(allow(&[Operation::SystemSocket], Vec::new()));
            unix_grants(&mut out);
            trust(&mut out);
        }
        NetworkMode::Restricted => {
            let hosts = !net.hosts.is_empty();
            unix_grants(&mut out);
            if hosts {
                proxy(&mut out);
            }
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
            if hosts || !net.connect_tcp.is_empty() || !net.bind_tcp.is_empty() {
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
