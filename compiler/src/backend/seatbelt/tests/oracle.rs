//! For every ring of every example policy and valid fixture, the printed profile, read back
//! and evaluated by the oracle under both precedence models with the runtime's parameter
//! values, answers every generated request as `decide` does, except where a documented,
//! predicted difference explains the answer.
//!
//! A host request (v1.1) is a connection the client makes either directly (to another host
//! at the request's port) or, in a ring with hosts, through the egress proxy (to this
//! machine's loopback at the proxy's port, [`PROXY_PORT`] here, which the runtime puts in
//! the profile in place of its placeholder). The proxy runs outside the sandbox and decides
//! by name with the runtime's `HostPolicy`; the profile must let the process reach it, and
//! reach nothing else but the `connect_tcp` ports.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::num::NonZeroU16;

use nonoc_runtime::Bindings;
use nonoc_runtime::artifact::{SeatbeltProfile, Variable, private_alias};
use nonoc_runtime::bind::BoundVariables;
use nonoc_runtime::hosts::{Host, HostPattern, HostPolicy};

use super::super::BASELINE_COVERAGE;
use super::super::oracle::eval::{Evaluator, Model, Op, Subject, Who};
use super::super::oracle::read::read;
use super::super::sbpl::{Decision, Domain, Form, Operation, Profile, Proto, SocketType, Vnode};
use super::super::sections::MDNS_RESPONDER;
use super::{compiled, sources};
use crate::ir::{
    Effect, FsTarget, Ir, PathTemplate, Platform, Request, Right, Ring, Verdict, bind, covers,
    decide,
};
use crate::syntax::{NetworkMode, SignalScope};

/// Where the profile answers a request other than `decide`, and why that is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Why {
    /// The platform baseline grants reading `/`, the dyld cache, `/private/var/select/sh`.
    Baseline,
    /// `file-write-data` is also truncation (NC0905).
    TruncateFollowsWrite,
    /// A rename is removal plus creation (NC0906).
    ReferImplied,
    /// A deny withholds its whole operation group; an allow of `truncate` or `refer` alone
    /// grants nothing (NC0904).
    Coarse,
    /// Denied paths and the directories above denied paths cannot be removed (NC0907).
    RenameProtection,
    /// `/private/tmp/x` and `/tmp/x` are one file on macOS: the profile answers for the file,
    /// `decide` for the spelling; the answer is `decide`'s for the other spelling.
    Alias,
    /// A ring that may connect over TCP may reach the system resolver's socket (name
    /// lookups on macOS go through it) without a `unix_connect` grant.
    Resolver,
}

/// The path the macOS kernel checks: `/tmp`, `/var` and `/etc` are links into `/private`.
fn resolved(path: &str) -> String {
    private_alias(path).unwrap_or_else(|| path.to_owned())
}

fn kernel_ops(request: &Request, bindings: &BoundVariables) -> Option<Vec<Op>> {
    let op = |operation, subject| Op { operation, subject };
    let socket = |kind| Subject::Socket {
        domain: Domain::Inet,
        kind,
    };
    Some(match request {
        Request::Path { path, access, .. } => {
            let path = resolved(&path.expand(bindings)?);
            let at = |operation, vnode| Op {
                operation,
                subject: Subject::Path {
                    path: path.clone(),
                    vnode,
                },
            };
            use Operation::*;
            use Right::*;
            match access {
                ReadFile => vec![at(FileReadData, Vnode::RegularFile)],
                ReadDir => vec![at(FileReadData, Vnode::Directory)],
                WriteFile | Truncate => vec![at(FileWriteData, Vnode::RegularFile)],
                MakeReg => vec![at(FileWriteCreate, Vnode::RegularFile)],
                MakeDir => vec![at(FileWriteCreate, Vnode::Directory)],
                MakeSym => vec![at(FileWriteCreate, Vnode::Symlink)],
                MakeSock => vec![at(FileWriteCreate, Vnode::Socket)],
                MakeFifo => vec![at(FileWriteCreate, Vnode::Fifo)],
                MakeChar => vec![at(FileWriteCreate, Vnode::CharacterDevice)],
                MakeBlock => vec![at(FileWriteCreate, Vnode::BlockDevice)],
                RemoveFile => vec![at(FileWriteUnlink, Vnode::RegularFile)],
                RemoveDir => vec![at(FileWriteUnlink, Vnode::Directory)],
                Refer => vec![
                    at(FileWriteCreate, Vnode::RegularFile),
                    at(FileWriteUnlink, Vnode::RegularFile),
                ],
                Execute => vec![
                    at(ProcessExec, Vnode::RegularFile),
                    at(FileMapExecutable, Vnode::RegularFile),
                ],
                IoctlDev => vec![at(FileIoctl, Vnode::CharacterDevice)],
            }
        }
        Request::ConnectTcp { port } => tcp_connect(*port, false),
        Request::BindTcp { port } => vec![
            op(Operation::SystemSocket, socket(SocketType::Stream)),
            op(
                Operation::NetworkBind,
                Subject::Local {
                    proto: Proto::Tcp,
                    port: *port,
                },
            ),
        ],
        Request::Udp => vec![op(Operation::SystemSocket, socket(SocketType::Datagram))],
        Request::Signal { scope } => vec![op(
            Operation::Signal,
            Subject::Process(match scope {
                SignalScope::Own => Who::Own,
                SignalScope::Sandbox => Who::SameSandbox,
                SignalScope::Any => Who::Other,
            }),
        )],
        Request::Fork => vec![op(Operation::ProcessFork, Subject::Nothing)],
        Request::Ptrace => vec![op(
            Operation::MachPrivTaskPort,
            Subject::Process(Who::SameSandbox),
        )],
        Request::UnixConnect { path, .. } => vec![
            op(
                Operation::SystemSocket,
                Subject::Socket {
                    domain: Domain::Unix,
                    kind: SocketType::Stream,
                },
            ),
            op(
                Operation::NetworkOutbound,
                Subject::UnixSocket {
                    path: resolved(&path.expand(bindings)?),
                },
            ),
        ],
        // macOS has no capabilities; `listen()` is not modelled (the profile allows inbound
        // TCP only on `bind_tcp` ports). A host request is two ways to connect
        // (`Case::answer_host`).
        Request::Syscall { .. }
        | Request::Listen { .. }
        | Request::Capability { .. }
        | Request::Host { .. } => {
            return None;
        }
    })
}

/// The egress proxy's port the oracle's runtime binds.
const PROXY_PORT: u16 = 49152;

/// Connecting over TCP to `port`, on this machine's loopback or on another host.
fn tcp_connect(port: u16, loopback: bool) -> Vec<Op> {
    vec![
        Op {
            operation: Operation::SystemSocket,
            subject: Subject::Socket {
                domain: Domain::Inet,
                kind: SocketType::Stream,
            },
        },
        Op {
            operation: Operation::NetworkOutbound,
            subject: Subject::Remote {
                proto: Proto::Tcp,
                port,
                loopback,
            },
        },
    ]
}

/// One ring's profile, read back from its text as the runtime gives it to macOS (the proxy's
/// port in place of its placeholder), with the runtime's parameter values.
struct Case<'a> {
    ring: &'a Ring,
    bindings: &'a BoundVariables,
    tree: Profile,
    params: BTreeMap<String, String>,
    /// What the egress proxy lets through; `None`: the ring has no proxy.
    proxy: Option<HostPolicy>,
}

impl Case<'_> {
    fn new<'a>(ir: &Ir, ring: &'a Ring, bindings: &'a BoundVariables) -> Case<'a> {
        let profile: SeatbeltProfile = compiled(ir, ring).profile;
        let text =
            nonoc_runtime::seatbelt::profile_text(&profile, NonZeroU16::new(PROXY_PORT)).unwrap();
        let tree = read(&text).unwrap();
        let declared: BTreeMap<String, Variable> = ir
            .variables
            .keys()
            .map(|k| {
                (
                    k.clone(),
                    Variable {
                        env: None,
                        default: None,
                        private_tmp: false,
                    },
                )
            })
            .collect();
        let given = bindings
            .iter()
            .fold(Bindings::new(), |b, (k, v)| b.with(k, v));
        let names = nonoc_runtime::seatbelt::variables(&profile);
        let bound = BoundVariables::bind(names, &declared, &given, &|_| None).unwrap();
        let params = nonoc_runtime::seatbelt::param_values(&profile, &bound)
            .unwrap()
            .into_iter()
            .collect();
        Case {
            ring,
            bindings,
            tree,
            params,
            proxy: ring.network.host_policy(),
        }
    }

    /// The oracle's answer under one model.
    fn answer(&self, request: &Request, model: Model) -> Option<bool> {
        if let Request::Host { host, port } = request {
            return Some(self.answer_host(host, *port, model));
        }
        Some(self.allows(&kernel_ops(request, self.bindings)?, model))
    }

    /// Whether the profile allows every one of the operations.
    fn allows(&self, ops: &[Op], model: Model) -> bool {
        let eval = Evaluator::new(&self.tree, &self.params);
        ops.iter()
            .all(|op| eval.decide(op, model).unwrap() == Decision::Allow)
    }

    /// A host request: a direct connection to the host (another machine) at its port, or, in
    /// a ring with hosts, a connection to the proxy on the loopback, which the proxy then
    /// decides by name.
    fn answer_host(&self, host: &str, port: u16, model: Model) -> bool {
        let direct = self.allows(&tcp_connect(port, false), model);
        let proxied = self.proxy.as_ref().is_some_and(|policy| {
            self.allows(&tcp_connect(PROXY_PORT, true), model)
                && Host::parse(host).is_ok_and(|h| policy.decide(&h, port).is_allowed())
        });
        direct || proxied
    }

    fn decide(&self, request: &Request) -> bool {
        decide(self.ring, request, self.bindings).verdict == Verdict::Allow
    }

    fn decide_at(&self, path: &str, access: Right) -> bool {
        self.decide(&path_request(path, access))
    }

    /// Why the oracle's answer `oracle` may differ from `decide` for this request.
    fn why(&self, request: &Request, oracle: bool) -> Option<Why> {
        if let Request::UnixConnect { path, .. } = request {
            return self.why_unix(&path.expand(self.bindings)?, oracle);
        }
        let Request::Path { path, access, .. } = request else {
            return None;
        };
        let path = path.expand(self.bindings)?;
        let access = *access;
        // The other spelling counts only where the policy uses it: a request spelled
        // `/private/...`, or a short spelling where some rule is written under `/private`.
        let policy_uses_private = self.ring.filesystem.iter().any(|r| {
            std::iter::once(&r.target).chain(&r.except).any(|t| {
                t.root()
                    .expand(self.bindings)
                    .is_some_and(|p| p.starts_with("/private/"))
            })
        });
        let other_spelling = match path.strip_prefix("/private") {
            Some(short) if private_alias(short).is_some() => Some(short.to_owned()),
            _ if policy_uses_private => private_alias(&path),
            _ => None,
        };
        if other_spelling.is_some_and(|p| self.decide_at(&p, access) == oracle) {
            return Some(Why::Alias);
        }
        let on_macos = |r: &&crate::ir::FsRule| r.platform.is_none_or(|p| p == Platform::Macos);
        let denies: Vec<&crate::ir::FsRule> = self
            .ring
            .filesystem
            .iter()
            .filter(on_macos)
            .filter(|r| r.effect == Effect::Deny)
            .collect();
        let deny_covers = |r: &crate::ir::FsRule| {
            covers(&r.target, &path, self.bindings, true)
                && !r
                    .except
                    .iter()
                    .any(|e| covers(e, &path, self.bindings, false))
        };
        if oracle {
            // More permissive than `decide`: each case needs its own reason.
            let read_denied = denies.iter().any(|d| {
                deny_covers(d)
                    && !findings_withheld(d.access)
                        .intersection(crate::ir::AccessSet::READ)
                        .is_empty()
            });
            let kernel_path = resolved(&path);
            let in_baseline = BASELINE_COVERAGE.iter().any(|(p, subtree, rights)| {
                rights.contains(access)
                    && (kernel_path == *p
                        || (*subtree && crate::ir::path_within(&kernel_path, p, false)))
            });
            if in_baseline && !read_denied {
                return Some(Why::Baseline);
            }
            if access == Right::Truncate && self.decide_at(&path, Right::WriteFile) {
                return Some(Why::TruncateFollowsWrite);
            }
            if access == Right::Refer
                && self.decide_at(&path, Right::MakeReg)
                && self.decide_at(&path, Right::RemoveFile)
            {
                return Some(Why::ReferImplied);
            }
            return None;
        }
        // Stricter than `decide`.
        if denies
            .iter()
            .any(|d| deny_covers(d) && findings_withheld(d.access).contains(access))
        {
            return Some(Why::Coarse);
        }
        if (access == Right::Truncate && !self.decide_at(&path, Right::WriteFile))
            || (access == Right::Refer
                && !(self.decide_at(&path, Right::MakeReg)
                    && self.decide_at(&path, Right::RemoveFile)))
        {
            return Some(Why::Coarse);
        }
        if matches!(access, Right::RemoveFile | Right::RemoveDir | Right::Refer) {
            let kernel_path = resolved(&path);
            let protected = denies.iter().any(|d| {
                deny_covers(d)
                    || match &d.target {
                        FsTarget::Path(p) => p.expand(self.bindings).is_some_and(|t| {
                            crate::ir::path_within(&t, &path, false)
                                || crate::ir::path_within(&resolved(&t), &kernel_path, false)
                        }),
                        FsTarget::Glob(_) => false,
                    }
            });
            if protected {
                return Some(Why::RenameProtection);
            }
        }
        None
    }
}

impl Case<'_> {
    fn decide_unix(&self, path: &str) -> bool {
        self.decide(&unix_request(path))
    }

    /// [`Case::why`] for connecting to the unix socket at `path`.
    fn why_unix(&self, path: &str, oracle: bool) -> Option<Why> {
        let tcp = match self.ring.network.mode {
            NetworkMode::Allowed => true,
            NetworkMode::Restricted => !self.ring.network.connect_tcp.is_empty(),
            NetworkMode::Blocked => false,
        };
        if oracle && tcp && resolved(path) == MDNS_RESPONDER {
            return Some(Why::Resolver);
        }
        let other = match path.strip_prefix("/private") {
            Some(short) if private_alias(short).is_some() => Some(short.to_owned()),
            _ => private_alias(path),
        };
        other
            .filter(|p| self.decide_unix(p) == oracle)
            .map(|_| Why::Alias)
    }
}

fn unix_request(path: &str) -> Request {
    Request::UnixConnect {
        path: PathTemplate::parse(path).unwrap(),
        platform: Some(Platform::Macos),
    }
}

fn findings_withheld(access: crate::ir::AccessSet) -> crate::ir::AccessSet {
    super::super::findings::withheld(access)
}

fn path_request(path: &str, access: Right) -> Request {
    Request::Path {
        path: PathTemplate::parse(path).unwrap(),
        access,
        platform: Some(Platform::Macos),
    }
}

fn child(path: &str, name: &str) -> String {
    if path == "/" {
        format!("/{name}")
    } else {
        format!("{path}/{name}")
    }
}

fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

/// The path, inside it, beside it (`/usrx`), and above it.
fn edges(path: &str, out: &mut BTreeSet<String>) {
    out.insert(path.to_owned());
    out.insert(child(path, "x"));
    out.insert(child(&child(path, "x"), "y"));
    if path != "/" {
        out.insert(format!("{path}x"));
        out.insert(parent(path));
    }
}

/// Concrete paths a glob matches (or nearly matches), its variable bound.
fn glob_samples(glob: &str, bindings: &BoundVariables) -> Vec<String> {
    // The variable's value is literal text, never a pattern.
    let (prefix, text) = match glob.strip_prefix("${").and_then(|r| r.split_once('}')) {
        Some((name, rest)) => match bindings.get(name) {
            Some(v) if v == "/" && !rest.is_empty() => (String::new(), rest.to_owned()),
            Some(v) => (v.to_owned(), rest.to_owned()),
            None => return Vec::new(),
        },
        None => (String::new(), glob.to_owned()),
    };
    let mut out = Vec::new();
    for (star, deep, one) in [("", "", "q"), ("ab", "d", "é"), (".env", "d/e", "-")] {
        let mut samples = vec![String::new()];
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let mut add = |s: &str| samples.iter_mut().for_each(|p| p.push_str(s));
            match chars[i] {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    add(deep);
                    i += 2;
                }
                '*' => {
                    add(star);
                    i += 1;
                }
                '?' => {
                    add(one);
                    i += 1;
                }
                '\\' => {
                    if let Some(c) = chars.get(i + 1) {
                        add(&c.to_string());
                    }
                    i += 2;
                }
                '[' => {
                    let end = chars[i..]
                        .iter()
                        .position(|c| *c == ']')
                        .map_or(chars.len(), |p| i + p);
                    let pick = chars[i + 1..end]
                        .iter()
                        .find(|c| c.is_ascii_alphanumeric())
                        .copied()
                        .unwrap_or('z');
                    add(&pick.to_string());
                    i = end + 1;
                }
                '{' => {
                    let end = chars[i..]
                        .iter()
                        .position(|c| *c == '}')
                        .map_or(chars.len(), |p| i + p);
                    let inner: String = chars[i + 1..end].iter().collect();
                    let alternatives: Vec<&str> = inner.split(',').collect();
                    samples = samples
                        .iter()
                        .flat_map(|s| alternatives.iter().map(move |a| format!("{s}{a}")))
                        .collect();
                    i = end + 1;
                }
                c => {
                    add(&c.to_string());
                    i += 1;
                }
            }
        }
        for s in samples {
            let mut s = format!("{prefix}{s}");
            while s.contains("//") {
                s = s.replace("//", "/");
            }
            if s.len() > 1 {
                s = s.trim_end_matches('/').to_owned();
            }
            if s.starts_with('/') {
                out.push(s);
            }
        }
    }
    out
}

/// Paths outside every rule that say something about the baseline and `/private`.
const FIXED_PATHS: [&str; 10] = [
    "/",
    "/tmp",
    "/private/tmp/x",
    "/var/folders/ab/T/x",
    "/etc/hosts",
    "/private/etc/hosts",
    "/System/Library/dyld/dyld_shared_cache_arm64e",
    "/System/Volumes/Preboot/Cryptexes/OS/System/Library/dyld/x",
    "/var/select/sh",
    "/usr/bin/true",
];

fn requests(ring: &Ring, bindings: &BoundVariables) -> Vec<Request> {
    let mut paths: BTreeSet<String> = FIXED_PATHS.iter().map(|p| p.to_string()).collect();
    for rule in &ring.filesystem {
        for target in std::iter::once(&rule.target).chain(&rule.except) {
            match target {
                FsTarget::Path(p) => {
                    if let Some(v) = p.expand(bindings) {
                        edges(&v, &mut paths);
                    }
                }
                FsTarget::Glob(g) => {
                    for v in glob_samples(g.as_str(), bindings) {
                        edges(&v, &mut paths);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for path in &paths {
        if PathTemplate::parse(path).is_err() {
            continue;
        }
        for access in Right::ALL {
            out.push(path_request(path, access));
        }
    }
    // Unix sockets: around each grant and each deny, and the resolver's.
    let mut sockets: BTreeSet<String> = [MDNS_RESPONDER, "/var/run/mDNSResponder", "/srv/s.sock"]
        .iter()
        .map(|p| p.to_string())
        .collect();
    for grant in &ring.network.unix_connect {
        if let Some(v) = grant.path.expand(bindings) {
            edges(&v, &mut sockets);
        }
    }
    for rule in ring.filesystem.iter().filter(|r| r.effect == Effect::Deny) {
        if let Some(v) = rule.target.root().expand(bindings) {
            edges(&v, &mut sockets);
        }
    }
    for path in &sockets {
        if PathTemplate::parse(path).is_ok() {
            out.push(unix_request(path));
        }
    }
    let mut ports: BTreeSet<u16> = [1, 22, 53, 80, 443, 8080, PROXY_PORT, 65535]
        .into_iter()
        .collect();
    ports.extend(&ring.network.connect_tcp);
    ports.extend(&ring.network.bind_tcp);
    for port in &ports {
        out.push(Request::ConnectTcp { port: *port });
        out.push(Request::BindTcp { port: *port });
    }
    // Hosts: listed, below and beside each entry, metadata and a public address, at every
    // port above and every port an entry names.
    let mut hosts: BTreeSet<String> = ["example.net", "169.254.169.254", "93.184.216.34"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    for grant in ring.network.hosts.iter().chain(&ring.network.deny_hosts) {
        match &grant.rule.pattern {
            HostPattern::Exact(name) => {
                hosts.insert(name.to_string());
                hosts.insert(format!("a.{name}"));
                hosts.insert(format!("{name}.evil"));
            }
            HostPattern::Subdomains(name) => {
                hosts.insert(name.to_string());
                hosts.insert(format!("a.{name}"));
                hosts.insert(format!("a.b.{name}"));
            }
            HostPattern::Range(range) => {
                let text = range.to_string();
                hosts.insert(text.split('/').next().unwrap_or(&text).to_owned());
            }
        }
        if let nonoc_runtime::hosts::Ports::Only(listed) = &grant.rule.ports {
            ports.extend(listed);
        }
    }
    for host in &hosts {
        for port in &ports {
            out.push(Request::Host {
                host: host.clone(),
                port: *port,
            });
        }
    }
    out.push(Request::Udp);
    for scope in [SignalScope::Own, SignalScope::Sandbox, SignalScope::Any] {
        out.push(Request::Signal { scope });
    }
    out.push(Request::Fork);
    out.push(Request::Ptrace);
    out
}

/// Ways to bind a policy's variables: its defaults, under `/private`-linked directories, at
/// hostile paths (quotes, backslashes, regex metacharacters), and at `/`.
fn binding_sets(ir: &Ir) -> Vec<(String, BoundVariables)> {
    let mut sets = Vec::new();
    if let Ok(b) = bind(ir, &Bindings::new(), &|_| None) {
        sets.push(("defaults".to_owned(), b));
    }
    let all = |value: &dyn Fn(usize, &str) -> String| -> Bindings {
        ir.variables
            .keys()
            .enumerate()
            .fold(Bindings::new(), |b, (i, k)| b.with(k, value(i, k)))
    };
    let tries: [(&str, Bindings); 4] = [
        (
            "under /private",
            all(&|i, k| {
                if i % 2 == 0 {
                    format!("/tmp/{k}")
                } else {
                    format!("/var/folders/zz/{k}/T")
                }
            }),
        ),
        (
            "hostile",
            all(&|_, k| format!("/srv/a\"b\\c (d);#|e|# é.*+?^$[x]{{y}}|z/{k}")),
        ),
        ("root", all(&|_, _| "/".to_owned())),
        ("nested", all(&|i, k| format!("/w{}/{k}", i % 2))),
    ];
    for (name, given) in tries {
        if let Ok(b) = bind(ir, &given, &|_| None) {
            sets.push((name.to_owned(), b));
        }
    }
    sets
}

#[test]
fn profiles_answer_as_decide_under_both_precedence_models() {
    let mut failures = Vec::new();
    let mut summary = String::new();
    for (name, ir) in sources() {
        for (bind_name, bindings) in binding_sets(&ir) {
            for ring in ir.rings.values().filter(|r| !r.unconfined) {
                let case = Case::new(&ir, ring, &bindings);
                let mut differences: BTreeMap<Why, usize> = BTreeMap::new();
                let mut total = 0;
                for request in requests(ring, &bindings) {
                    let (Some(last), Some(exact)) = (
                        case.answer(&request, Model::LastMatch),
                        case.answer(&request, Model::ExactFirst),
                    ) else {
                        continue;
                    };
                    total += 1;
                    let place = format!("{name} ring {} ({bind_name}) {request:?}", ring.level);
                    if last != exact {
                        failures.push(format!("{place}: last match {last}, exact first {exact}"));
                        continue;
                    }
                    let expected = case.decide(&request);
                    if last == expected {
                        continue;
                    }
                    match case.why(&request, last) {
                        Some(why) => *differences.entry(why).or_default() += 1,
                        None => failures.push(format!(
                            "{place}: profile {}, decide {}",
                            if last { "allows" } else { "denies" },
                            if expected { "allows" } else { "denies" }
                        )),
                    }
                }
                let _ = writeln!(
                    summary,
                    "{name} ring {} ({bind_name}): {total} requests, predicted differences {differences:?}",
                    ring.level
                );
            }
        }
    }
    eprintln!("{summary}");
    assert!(
        failures.is_empty(),
        "{} unexplained answers, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The comparison can fail: a profile whose denies come before its allows, or whose deny
/// names only the wildcard, is caught.
#[test]
fn the_oracle_catches_precedence_mistakes() {
    let (_, ir) = sources()
        .into_iter()
        .find(|(n, _)| n == "coding-agent")
        .unwrap();
    let ring = &ir.rings[&2];
    let bindings = bind(&ir, &Bindings::new(), &|_| None).unwrap();
    let case = Case::new(&ir, ring, &bindings);
    let hooks = path_request("/app/workspace/.git/hooks/pre-commit", Right::WriteFile);
    assert_eq!(case.answer(&hooks, Model::LastMatch), Some(false));

    // Move every deny (except `deny default`) to just after `(deny default)`.
    let mut moved = case.tree.clone();
    let is_deny = |f: &Form| matches!(f, Form::Rule(r) if r.decision == Decision::Deny && r.operations != [Operation::Default]);
    let denies: Vec<Form> = moved.forms.iter().filter(|f| is_deny(f)).cloned().collect();
    moved.forms.retain(|f| !is_deny(f));
    let at = moved
        .forms
        .iter()
        .position(|f| matches!(f, Form::Rule(r) if r.operations == [Operation::Default]))
        .unwrap();
    for (i, d) in denies.into_iter().enumerate() {
        moved.forms.insert(at + 1 + i, d);
    }
    // The allow of `${workspace}` carries the deny as `require-not`, so even moved, the deny
    // holds; a deny without that carve-out (`~/.ssh` under a `/` read) does not.
    let eval = Evaluator::new(&moved, &case.params);
    let write = |path: &str| Op {
        operation: Operation::FileWriteData,
        subject: Subject::Path {
            path: path.to_owned(),
            vnode: Vnode::RegularFile,
        },
    };
    assert_eq!(
        eval.decide(&write("/app/workspace/.git/hooks/x"), Model::LastMatch),
        Ok(Decision::Deny)
    );

    // A wildcard deny after an exact allow: the two models part.
    let profile = read(concat!(
        "(version 1)\n",
        "(deny default)\n",
        "(allow file-read-data (subpath \"/a\"))\n",
        "(deny file-read* (subpath \"/a/secret\"))\n",
    ))
    .unwrap();
    let params = BTreeMap::new();
    let eval = Evaluator::new(&profile, &params);
    let op = Op {
        operation: Operation::FileReadData,
        subject: Subject::Path {
            path: "/a/secret/k".to_owned(),
            vnode: Vnode::RegularFile,
        },
    };
    assert_eq!(eval.decide(&op, Model::LastMatch), Ok(Decision::Deny));
    assert_eq!(eval.decide(&op, Model::ExactFirst), Ok(Decision::Allow));

    // Denies printed first lose to the allows after them.
    let profile = read(concat!(
        "(version 1)\n",
        "(deny default)\n",
        "(deny file-read* (subpath \"/a/secret\"))\n",
        "(allow file-read* (subpath \"/a\"))\n",
    ))
    .unwrap();
    let eval = Evaluator::new(&profile, &params);
    assert_eq!(eval.decide(&op, Model::LastMatch), Ok(Decision::Allow));
}

/// Unix sockets (v1.1): the profile lets a ring connect only under its grants, a deny of
/// every right wins over a grant, and `mode: allowed` alone grants no socket. The oracle sees
/// it: without the deny, or with a bare `(allow network*)`, the answers change.
#[test]
fn unix_socket_grants_hold_and_the_oracle_sees_them() {
    let all = sources();
    let find = |name: &str| {
        all.iter()
            .find(|(n, _)| n == name)
            .map(|(_, ir)| ir)
            .unwrap()
    };
    let connect = |case: &Case, tree: &Profile, path: &str| {
        let op = Op {
            operation: Operation::NetworkOutbound,
            subject: Subject::UnixSocket {
                path: path.to_owned(),
            },
        };
        let eval = Evaluator::new(tree, &case.params);
        [Model::LastMatch, Model::ExactFirst].map(|m| eval.decide(&op, m).unwrap())
    };
    use Decision::{Allow, Deny};

    // A ring with grants under `/run` and a deny of `/run/docker.sock`.
    let ir = find("08-unix-sockets-listen-capabilities");
    let bindings = bind(ir, &Bindings::new(), &|_| None).unwrap();
    let case = Case::new(ir, &ir.rings[&1], &bindings);
    assert_eq!(
        connect(&case, &case.tree, "/run/user/1000/bus"),
        [Allow, Allow]
    );
    assert_eq!(connect(&case, &case.tree, "/run/docker.sock"), [Deny, Deny]);
    assert_eq!(connect(&case, &case.tree, "/srv/x.sock"), [Deny, Deny]);
    let mut without_deny = case.tree.clone();
    without_deny.forms.retain(|f| {
        !matches!(f, Form::Rule(r) if r.decision == Decision::Deny && r.operations == [Operation::NetworkOutbound])
    });
    assert_ne!(without_deny, case.tree);
    assert_eq!(
        connect(&case, &without_deny, "/run/docker.sock"),
        [Allow, Allow]
    );

    // `mode: allowed` without a grant: every network operation but unix sockets.
    let ir = find("agt-rings");
    let bindings = bind(ir, &Bindings::new(), &|_| None).unwrap();
    let case = Case::new(ir, &ir.rings[&1], &bindings);
    assert_eq!(
        connect(&case, &case.tree, "/private/var/run/docker.sock"),
        [Deny, Deny]
    );
    let mut bare = case.tree.clone();
    for form in &mut bare.forms {
        if let Form::Rule(r) = form
            && r.operations == [Operation::Network]
        {
            r.filters.clear();
        }
    }
    assert_eq!(
        connect(&case, &bare, "/private/var/run/docker.sock"),
        [Allow, Allow]
    );
}

/// Egress by host name (v1.1): a ring with hosts may connect over TCP to this machine's
/// loopback at the proxy's port and, as before, to its `connect_tcp` ports at any host;
/// nothing else. The profile as compiled cannot be evaluated before the runtime puts the port
/// in; and the oracle sees a proxy rule open to every host, or one that is missing.
#[test]
fn host_requests_reach_only_the_proxy_and_connect_tcp() {
    use Decision::{Allow, Deny};
    let (_, ir) = sources()
        .into_iter()
        .find(|(n, _)| n == "09-egress-hosts")
        .unwrap();
    let bindings = bind(&ir, &Bindings::new(), &|_| None).unwrap();
    let case = Case::new(&ir, &ir.rings[&2], &bindings);
    let connect = |tree: &Profile, port: u16, loopback: bool| {
        let eval = Evaluator::new(tree, &case.params);
        [Model::LastMatch, Model::ExactFirst].map(|m| {
            let ops = tcp_connect(port, loopback);
            let all = ops
                .iter()
                .all(|op| eval.decide(op, m).unwrap() == Decision::Allow);
            if all { Allow } else { Deny }
        })
    };
    assert_eq!(connect(&case.tree, PROXY_PORT, true), [Allow, Allow]);
    assert_eq!(connect(&case.tree, PROXY_PORT, false), [Deny, Deny]);
    assert_eq!(connect(&case.tree, 443, false), [Deny, Deny]);
    assert_eq!(connect(&case.tree, 443, true), [Deny, Deny]);
    assert_eq!(connect(&case.tree, 8080, true), [Deny, Deny]);
    assert_eq!(connect(&case.tree, 22, false), [Allow, Allow]);
    let host = |h: &str, port| Request::Host {
        host: h.to_owned(),
        port,
    };
    for (request, expected) in [
        (host("api.example.com", 443), true),
        (host("api.example.com", 8443), false),
        (host("evil.example.net", 443), false),
        (host("evil.example.net", PROXY_PORT), false),
        (host("evil.example.net", 22), true),
        (host("169.254.169.254", 80), false),
    ] {
        assert_eq!(case.decide(&request), expected, "{request:?}");
        for model in [Model::LastMatch, Model::ExactFirst] {
            assert_eq!(case.answer(&request, model), Some(expected), "{request:?}");
        }
    }

    // The compiled text names the placeholder, which cannot be evaluated (macOS could not
    // compile it either).
    let raw = read(&compiled(&ir, &ir.rings[&2]).profile.sbpl).unwrap();
    let eval = Evaluator::new(&raw, &case.params);
    let op = tcp_connect(PROXY_PORT, true).pop().unwrap();
    assert!(eval.decide(&op, Model::LastMatch).is_err());

    // A proxy rule for every host lets the process around the proxy; without the rule,
    // listed hosts are unreachable. The oracle's answers change, and `decide` disagrees.
    let is_proxy_rule = |f: &Form| {
        matches!(f, Form::Rule(r) if r.filters.iter().any(|f| matches!(
            f,
            super::super::sbpl::Filter::Remote(_, a) if a.host == super::super::sbpl::Host::Localhost
        )))
    };
    assert_eq!(
        case.tree.forms.iter().filter(|f| is_proxy_rule(f)).count(),
        1
    );
    let mut open = case.tree.clone();
    for form in &mut open.forms {
        if is_proxy_rule(form)
            && let Form::Rule(r) = form
            && let super::super::sbpl::Filter::Remote(_, a) = &mut r.filters[0]
        {
            a.host = super::super::sbpl::Host::Any;
        }
    }
    assert_eq!(connect(&open, PROXY_PORT, false), [Allow, Allow]);
    let around = Request::ConnectTcp { port: PROXY_PORT };
    assert!(!case.decide(&around));
    let mut missing = case.tree.clone();
    missing.forms.retain(|f| !is_proxy_rule(f));
    let missing = Case {
        tree: missing,
        ..Case::new(&ir, &ir.rings[&2], &bindings)
    };
    assert_eq!(
        missing.answer(&host("api.example.com", 443), Model::LastMatch),
        Some(false)
    );
}

/// A ring with hosts and no `connect_tcp` ports: the proxy and certificate checks, but not
/// the system resolver (the proxy resolves names; a resolver would be a way out by DNS).
#[test]
fn a_ring_with_only_hosts_gets_no_resolver() {
    let yaml = br#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: hosts-only
rings:
  2:
    network:
      mode: restricted
      hosts: [api.example.com]
"#;
    let analysis = crate::analyze("hosts-only", yaml);
    let ir = analysis
        .ir
        .unwrap_or_else(|| panic!("{:#?}", analysis.diagnostics));
    let bindings = bind(&ir, &Bindings::new(), &|_| None).unwrap();
    let ring = &ir.rings[&2];
    let sbpl = compiled(&ir, ring).profile.sbpl;
    assert!(sbpl.contains(nonoc_runtime::artifact::PROXY_RULE), "{sbpl}");
    assert!(sbpl.contains("com.apple.trustd.agent"), "{sbpl}");
    assert!(!sbpl.contains(MDNS_RESPONDER), "{sbpl}");
    let case = Case::new(&ir, ring, &bindings);
    for model in [Model::LastMatch, Model::ExactFirst] {
        assert_eq!(
            case.answer(&unix_request(MDNS_RESPONDER), model),
            Some(false)
        );
        assert_eq!(
            case.answer(&Request::ConnectTcp { port: 443 }, model),
            Some(false)
        );
        assert_eq!(case.answer(&Request::Udp, model), Some(false));
        assert_eq!(
            case.answer(
                &Request::Host {
                    host: "api.example.com".to_owned(),
                    port: 443
                },
                model
            ),
            Some(true)
        );
    }
}

/// `NONOC_PROXY_PORT` is the egress proxy's placeholder: a deny glob that spells it reaches
/// the profile's text and is refused (NC0901) rather than written into an artifact the
/// runtime would refuse.
#[test]
fn a_glob_cannot_spell_the_proxy_placeholder() {
    let yaml = br#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata:
  name: placeholder
deny:
  - glob: "/srv/**/NONOC_PROXY_PORT"
rings:
  2:
    filesystem:
      read: [/srv]
"#;
    let analysis = crate::analyze("placeholder", yaml);
    assert!(analysis.ir.is_none());
    let refused: Vec<_> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.code == crate::diagnostic::Code::SeatbeltUnprintable)
        .collect();
    assert_eq!(refused.len(), 1, "{:#?}", analysis.diagnostics);
    assert!(
        refused[0].message.contains("placeholder"),
        "{:#?}",
        refused[0]
    );
}
