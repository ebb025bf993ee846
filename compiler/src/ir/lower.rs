//! Lowering: checked syntax to the IR. Each ring's own rules are checked once (`own`), then
//! merged along its `extends` chain (sections merge, lists union, scalars override), global
//! denies first, then the syscall rules that presets and network and process settings imply.
//! Merging reports nothing: what a merged ring ignores is reported after it (`ignored`).

use std::collections::BTreeMap;

use super::model::*;
use super::own::{ExplicitDeny, Own, deny_rule, origin, own_parts};
use super::presets::{
    self, AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, CLONE_THREAD, ENOSYS, IOPRIO_WHO_PROCESS,
    IPPROTO_TCP, PRIO_PROCESS, SOCK_STREAM, SOCK_TYPE_MASK, TIOCLINUX, TIOCSTI, cond, masked,
};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, Span};
use crate::resolve::Resolved;
use crate::source::Source;
use crate::syntax::{DenyAction, NetworkMode, PolicyFile, SignalScope, SyscallDefault};

/// Builds the IR. Diagnostics go to `diags`; the IR is meaningful only when it has no errors.
pub fn lower(
    file: &PolicyFile,
    resolved: &Resolved,
    source: &Source,
    diags: &mut Diagnostics,
) -> Ir {
    let vars = &resolved.variables;
    let global: Vec<FsRule> = file
        .deny
        .iter()
        .filter_map(|rule| deny_rule(rule, vars, source, "global deny", diags))
        .collect();
    let own: BTreeMap<u8, Own> = resolved
        .rings
        .iter()
        .map(|(level, (ring, key_span))| {
            (
                *level,
                own_parts(*level, ring, *key_span, vars, source, diags),
            )
        })
        .collect();
    let mut rings = BTreeMap::new();
    for (level, chain) in &resolved.chains {
        let Some(me) = own.get(level) else { continue };
        let lineage: Vec<&Own> = chain
            .iter()
            .rev()
            .filter_map(|l| own.get(l))
            .chain(std::iter::once(me))
            .collect();
        let ring = merge(*level, chain, &lineage, &global, source);
        ignored(&ring, &lineage, diags);
        rings.insert(*level, ring);
    }
    let settings = &file.settings;
    Ir {
        name: file.metadata.name.value.clone(),
        file: source
            .name
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned(),
        settings: IrSettings {
            landlock_compatibility: settings.landlock.compatibility,
            landlock_min_abi: settings
                .landlock
                .min_abi
                .as_ref()
                .and_then(|m| u32::try_from(m.value).ok())
                .unwrap_or(1),
            unenforceable: settings.unenforceable,
            monotonic: settings.monotonic.unwrap_or(true),
            isolation: settings.isolation,
        },
        variables: resolved.variables.clone(),
        trust_tiers: resolved.trust_tiers.clone(),
        rings,
        tests: Vec::new(),
    }
}

fn action(deny_action: DenyAction, errno: u16) -> SyscallAction {
    match deny_action {
        DenyAction::Errno => SyscallAction::Errno(errno),
        DenyAction::KillProcess => SyscallAction::KillProcess,
        DenyAction::Log => SyscallAction::Log,
        DenyAction::Trap => SyscallAction::Trap,
    }
}

const EPERM: u16 = 1;

/// A ring from its lineage (farthest ancestor first, the ring itself last) and the global
/// denies.
fn merge(level: u8, chain: &[u8], lineage: &[&Own], global: &[FsRule], source: &Source) -> Ring {
    let Some(me) = lineage.last() else {
        return unconfined_ring(level, None, chain, Span::default());
    };
    if me.unconfined {
        return unconfined_ring(level, me.description.clone(), chain, me.key_span);
    }
    let mut filesystem: Vec<FsRule> = global.to_vec();
    filesystem.extend(lineage.iter().flat_map(|own| own.fs.iter().cloned()));
    let network = merge_network(lineage);
    let process = merge_process(lineage);
    let syscalls = merge_syscalls(lineage).rules(
        &network,
        &process,
        &origin(source, me.key_span, format!("ring {level}")),
    );
    Ring {
        level,
        span: me.key_span,
        description: me.description.clone(),
        unconfined: false,
        extends: chain.to_vec(),
        filesystem,
        network,
        process,
        syscalls,
    }
}

/// `network`: the nearest mode, the ports of every ring of the lineage (sorted, once each),
/// the nearest `udp`, the unix socket grants of every ring (inherited first, each path once).
fn merge_network(lineage: &[&Own]) -> Network {
    let mut network = Network {
        mode: NetworkMode::Blocked,
        connect_tcp: Vec::new(),
        bind_tcp: Vec::new(),
        udp: false,
        unix_connect: Vec::new(),
        hosts: Vec::new(),
        deny_hosts: Vec::new(),
        private: Private::Deny,
    };
    for (_, net) in lineage.iter().filter_map(|own| own.network.as_ref()) {
        if let Some(mode) = net.mode {
            network.mode = mode;
        }
        network.connect_tcp.extend(&net.connect);
        network.bind_tcp.extend(&net.bind);
        if let Some(udp) = net.udp {
            network.udp = udp;
        }
        for grant in &net.unix_connect {
            if !network.unix_connect.iter().any(|g| g.path == grant.path) {
                network.unix_connect.push(grant.clone());
            }
        }
        for (mine, theirs) in [
            (&mut network.hosts, &net.hosts),
            (&mut network.deny_hosts, &net.deny_hosts),
        ] {
            for grant in theirs {
                if !mine.iter().any(|g| g.rule == grant.rule) {
                    mine.push(grant.clone());
                }
            }
        }
        if let Some(private) = net.private {
            network.private = private;
        }
    }
    network.connect_tcp.sort_unstable();
    network.connect_tcp.dedup();
    network.bind_tcp.sort_unstable();
    network.bind_tcp.dedup();
    network
}

/// `process`: each setting from the nearest ring that sets it; the capabilities of every ring
/// (sorted by number, once each).
fn merge_process(lineage: &[&Own]) -> Process {
    let mut process = Process {
        fork: false,
        signals: SignalScope::Own,
        ptrace: false,
        capabilities: Vec::new(),
    };
    for own in lineage {
        process.capabilities.extend(&own.capabilities);
        process.fork = own.fork.unwrap_or(process.fork);
        process.signals = own.signals.unwrap_or(process.signals);
        process.ptrace = own.ptrace.unwrap_or(process.ptrace);
    }
    process.capabilities.sort_unstable();
    process.capabilities.dedup();
    process
}

/// `syscalls` merged along a lineage, before the rules are built.
struct MergedSyscalls {
    default_deny: bool,
    deny_action: DenyAction,
    errno: u16,
    allow: Vec<String>,
    explicit: Vec<ExplicitDeny>,
    presets: Vec<(String, Origin)>,
}

/// `syscalls`: the nearest default, action and errno; the allow lists and denies of every
/// ring (the allow list sorted, once each); each preset once, where it is first named.
fn merge_syscalls(lineage: &[&Own]) -> MergedSyscalls {
    let mut merged = MergedSyscalls {
        default_deny: false,
        deny_action: DenyAction::Errno,
        errno: EPERM,
        allow: Vec::new(),
        explicit: Vec::new(),
        presets: Vec::new(),
    };
    for own in lineage {
        let sys = &own.sys;
        if let Some(d) = sys.default {
            merged.default_deny = d == SyscallDefault::Deny;
        }
        merged.deny_action = sys.deny_action.unwrap_or(merged.deny_action);
        merged.errno = sys.errno.unwrap_or(merged.errno);
        merged
            .allow
            .extend(sys.allow.iter().map(|(name, _)| name.clone()));
        merged.explicit.extend(sys.deny.iter().cloned());
        for (name, origin) in &sys.presets {
            if !merged.presets.iter().any(|(n, _)| n == name) {
                merged.presets.push((name.clone(), origin.clone()));
            }
        }
    }
    merged.allow.sort();
    merged.allow.dedup();
    merged
}

impl MergedSyscalls {
    /// The ring's syscall section: the explicit denies with their actions, the presets' rules,
    /// then the rules the network and process settings imply.
    fn rules(self, network: &Network, process: &Process, ring_origin: &Origin) -> Syscalls {
        let MergedSyscalls {
            default_deny,
            deny_action,
            errno,
            allow,
            explicit,
            presets: preset_names,
        } = self;
        let ring_action = action(deny_action, errno);
        let mut deny: Vec<SyscallRule> = explicit
            .into_iter()
            .map(
                |ExplicitDeny {
                     name,
                     args,
                     action: own_action,
                     errno: own_errno,
                     origin,
                 }| SyscallRule {
                    name,
                    args,
                    action: match (own_action, own_errno) {
                        (Some(a), e) => action(a, e.unwrap_or(errno)),
                        (None, Some(e)) => SyscallAction::Errno(e),
                        (None, None) => ring_action,
                    },
                    origin,
                    implied: false,
                },
            )
            .collect();
        for (name, origin) in &preset_names {
            for rule in presets::preset(name).unwrap_or_default() {
                deny.push(SyscallRule {
                    name: rule.name.to_owned(),
                    args: rule.args,
                    action: rule.action.unwrap_or(ring_action),
                    origin: origin.clone(),
                    implied: false,
                });
            }
        }
        // The implied rules enforce what `network` and `process` say, which `decide` answers
        // as deny for `fork`, `udp` and the rest: an audit-only `deny_action: log` must not
        // turn them into a log entry, so they block with the ring's errno instead.
        let implied_action = match ring_action {
            SyscallAction::Log => SyscallAction::Errno(errno),
            other => other,
        };
        deny.extend(implied(network, process, implied_action, ring_origin));
        Syscalls {
            default_allow: !default_deny,
            deny_action: ring_action,
            x32_action: implied_action,
            allow,
            deny,
        }
    }
}

/// What a merged ring's settings make its lists ignore: ports or `udp` without `mode:
/// restricted` (NC0503), hosts without it (NC0506), an allow list with syscall default `allow` (NC0608).
fn ignored(ring: &Ring, lineage: &[&Own], diags: &mut Diagnostics) {
    let Some(me) = lineage.last() else { return };
    if ring.unconfined {
        return;
    }
    let level = ring.level;
    let udp_set = lineage
        .iter()
        .any(|own| own.network.as_ref().is_some_and(|(_, n)| n.udp.is_some()));
    let network = &ring.network;
    let has_ports = !network.connect_tcp.is_empty() || !network.bind_tcp.is_empty() || udp_set;
    let listed = |own: &&&Own| own.network.as_ref().and_then(|(_, n)| n.listed);
    let ignored = match network.mode {
        // Ports inherited or not: none of them can take effect.
        NetworkMode::Blocked if has_ports => Some(
            lineage
                .iter()
                .rev()
                .find_map(|own| listed(&own))
                .unwrap_or(me.key_span),
        ),
        // Only this ring's own list: an `allowed` ring may extend a `restricted` one.
        NetworkMode::Allowed => listed(&me),
        _ => None,
    };
    if let Some(span) = ignored {
        let mode = network.mode.name();
        diags.push(
            Diagnostic::new(Code::PortsWithoutRestricted, span, format!("ring {level} lists ports or `udp` but its network mode is `{mode}`"))
                .help("ports and `udp` take effect only with `mode: restricted`; set it, or remove them so no rule is silently ignored"),
        );
    }
    let hosts_listed = |own: &&&Own| own.network.as_ref().and_then(|(_, n)| n.hosts_listed);
    let hosts_ignored = match network.mode {
        NetworkMode::Blocked => lineage.iter().rev().find_map(|own| hosts_listed(&own)),
        NetworkMode::Allowed => hosts_listed(&me),
        NetworkMode::Restricted => None,
    };
    if let Some(span) = hosts_ignored {
        let mode = network.mode.name();
        diags.push(
            Diagnostic::new(Code::HostsWithoutRestricted, span, format!("ring {level} lists hosts but its network mode is `{mode}`"))
                .help(match network.mode {
                    NetworkMode::Allowed => "with `mode: allowed` the ring may connect anywhere and no proxy filters it; set `mode: restricted` so `hosts` is the only way out, or remove the host lists",
                    _ => "with `mode: blocked` the ring has no network and no proxy; set `mode: restricted` to reach exactly those hosts, or remove the host lists",
                }),
        );
    }
    let allow_span = lineage
        .iter()
        .flat_map(|own| &own.sys.allow)
        .last()
        .map(|(_, span)| *span);
    if ring.syscalls.default_allow
        && let Some(span) = allow_span
    {
        diags.push(
                Diagnostic::new(Code::AllowListIgnored, span, format!("ring {level} allows syscalls by name but its syscall default is `allow`"))
                    .help("set `syscalls.default: deny` to make the allow list the only syscalls permitted, or remove the list"),
            );
    }
}

fn unconfined_ring(level: u8, description: Option<String>, chain: &[u8], span: Span) -> Ring {
    Ring {
        level,
        span,
        description,
        unconfined: true,
        extends: chain.to_vec(),
        filesystem: Vec::new(),
        network: Network {
            mode: NetworkMode::Allowed,
            connect_tcp: Vec::new(),
            bind_tcp: Vec::new(),
            udp: true,
            unix_connect: Vec::new(),
            hosts: Vec::new(),
            deny_hosts: Vec::new(),
            private: Private::Deny,
        },
        process: Process {
            fork: true,
            signals: SignalScope::Any,
            ptrace: true,
            capabilities: Vec::new(),
        },
        syscalls: Syscalls {
            default_allow: true,
            deny_action: SyscallAction::Errno(EPERM),
            x32_action: SyscallAction::Errno(EPERM),
            allow: Vec::new(),
            deny: Vec::new(),
        },
    }
}

/// The syscall rules network and process settings imply (see docs/backends/seccomp.md).
fn implied(
    network: &Network,
    process: &Process,
    action: SyscallAction,
    base: &Origin,
) -> Vec<SyscallRule> {
    let mut rules = Vec::new();
    let mut add = |name: &str, args: Vec<ArgCondition>, action: SyscallAction, why: &str| {
        rules.push(SyscallRule {
            name: name.to_owned(),
            args,
            action,
            origin: Origin {
                scope: why.to_owned(),
                ..base.clone()
            },
            implied: true,
        });
    };
    for name in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
        add(
            name,
            Vec::new(),
            action,
            "io_uring bypasses Landlock and socket filters",
        );
    }
    // The request is an `unsigned int` in the kernel: `cond` on an `int` argument compares
    // the low 32 bits only, so `TIOCSTI | 1 << 32` is denied too.
    for request in [TIOCSTI, TIOCLINUX] {
        add(
            "ioctl",
            vec![cond(1, ArgOp::Eq, request)],
            action,
            "no confined ring may push input into a terminal (TIOCSTI, TIOCLINUX)",
        );
    }
    if process.signals != SignalScope::Any {
        other_processes(&mut add, action);
    }
    if !process.ptrace {
        for name in [
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            // Takes a descriptor out of another process: a ptrace-mode access.
            "pidfd_getfd",
        ] {
            add(name, Vec::new(), action, "process.ptrace: false");
        }
    }
    if !process.fork {
        for name in ["fork", "vfork"] {
            add(name, Vec::new(), action, "process.fork: false");
        }
        add(
            "clone",
            vec![masked(0, ArgOp::MaskedEq, CLONE_THREAD, 0)],
            action,
            "process.fork: false (threads stay allowed)",
        );
        add(
            "clone3",
            Vec::new(),
            SyscallAction::Errno(ENOSYS),
            "process.fork: false (clone3 -> ENOSYS, libc falls back to clone)",
        );
    }
    if network.unix_connect.is_empty() {
        add(
            "socket",
            vec![cond(0, ArgOp::Eq, AF_UNIX)],
            action,
            "no network.unix_connect grant: no unix sockets (socketpair stays allowed)",
        );
    }
    // seccomp cannot see a socket's family at `listen()`: where TCP sockets can be created
    // but no port may be bound, `listen()` is denied on every socket (on an unbound TCP
    // socket it would bind an ephemeral port, which Landlock does not check).
    if network.mode == NetworkMode::Restricted && network.bind_tcp.is_empty() {
        add(
            "listen",
            Vec::new(),
            action,
            "network.mode: restricted without bind_tcp (listen() on any socket)",
        );
    }
    match network.mode {
        NetworkMode::Allowed => {}
        NetworkMode::Blocked => add(
            "socket",
            vec![cond(0, ArgOp::Ne, AF_UNIX), cond(0, ArgOp::Ne, AF_NETLINK)],
            action,
            "network.mode: blocked (only unix and netlink sockets)",
        ),
        NetworkMode::Restricted => {
            add(
                "socket",
                vec![
                    cond(0, ArgOp::Ne, AF_UNIX),
                    cond(0, ArgOp::Ne, AF_NETLINK),
                    cond(0, ArgOp::Ne, AF_INET),
                    cond(0, ArgOp::Ne, AF_INET6),
                ],
                action,
                "network.mode: restricted (no packet or other families)",
            );
            if !network.udp {
                for family in [AF_INET, AF_INET6] {
                    add(
                        "socket",
                        vec![
                            cond(0, ArgOp::Eq, family),
                            masked(1, ArgOp::MaskedNe, SOCK_TYPE_MASK, SOCK_STREAM),
                        ],
                        action,
                        "network.mode: restricted without udp (only TCP stream sockets)",
                    );
                    add(
                        "socket",
                        vec![
                            cond(0, ArgOp::Eq, family),
                            masked(1, ArgOp::MaskedEq, SOCK_TYPE_MASK, SOCK_STREAM),
                            cond(2, ArgOp::Ne, 0),
                            cond(2, ArgOp::Ne, IPPROTO_TCP),
                        ],
                        action,
                        "network.mode: restricted without udp (stream sockets must be TCP)",
                    );
                }
            }
        }
    }
    rules
}

/// Under `signals: self` and `sandbox`: the calls that change another process's resource
/// limits, priority, scheduling, I/O priority or memory placement are allowed only in the
/// forms that name the calling process (docs/backends/seccomp.md lists them).
fn other_processes(
    add: &mut impl FnMut(&str, Vec<ArgCondition>, SyscallAction, &str),
    action: SyscallAction,
) {
    const WHY: &str = "process.signals: self|sandbox (only the calling process: pid 0)";
    for name in [
        "prlimit64",
        "sched_setaffinity",
        "sched_setparam",
        "sched_setscheduler",
        "sched_setattr",
        "migrate_pages",
        "move_pages",
    ] {
        add(name, vec![cond(0, ArgOp::Ne, 0)], action, WHY);
    }
    // `which` and `who`: only PRIO_PROCESS of pid 0 (the calling thread).
    add(
        "setpriority",
        vec![cond(0, ArgOp::Ne, PRIO_PROCESS)],
        action,
        WHY,
    );
    add("setpriority", vec![cond(1, ArgOp::Ne, 0)], action, WHY);
    add(
        "ioprio_set",
        vec![cond(0, ArgOp::Ne, IOPRIO_WHO_PROCESS)],
        action,
        WHY,
    );
    add("ioprio_set", vec![cond(1, ArgOp::Ne, 0)], action, WHY);
    // A pidfd names a process the filter cannot tell from the caller.
    for name in ["process_madvise", "process_mrelease"] {
        add(
            name,
            Vec::new(),
            action,
            "process.signals: self|sandbox (a pidfd may name another process)",
        );
    }
}
