//! Lowering: checked syntax to the IR. Each ring's own rules are checked once, then merged
//! along its `extends` chain (sections merge, lists union, scalars override), global denies
//! first, then the syscall rules that presets and network and process settings imply.

use std::collections::BTreeMap;

use super::model::*;
use super::presets::{
    self, AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, CLONE_THREAD, ENOSYS, IPPROTO_TCP, SOCK_STREAM,
    SOCK_TYPE_MASK, cond, masked,
};
use super::{AccessSet, FsTarget};
use crate::check::values::{self, Vars};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, Span};
use crate::resolve::Resolved;
use crate::source::Source;
use crate::syntax::{
    self, DenyAction, NetworkMode, PolicyFile, SignalScope, Spanned, SyscallDefault,
    SyscallDenyEntry,
};

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
        rings.insert(
            *level,
            merge(*level, chain, &lineage, &global, source, diags),
        );
    }
    let settings = &file.settings;
    Ir {
        name: file.metadata.name.value.clone(),
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

fn origin(source: &Source, span: Span, scope: impl Into<String>) -> Origin {
    Origin::at(source, span, scope)
}

/// A ring's own rules, checked, before merging.
#[derive(Default)]
struct Own {
    description: Option<String>,
    unconfined: bool,
    key_span: Span,
    fs: Vec<FsRule>,
    network: Option<(Span, NetPatch)>,
    fork: Option<bool>,
    signals: Option<SignalScope>,
    ptrace: Option<bool>,
    sys: SysPatch,
}

#[derive(Default)]
struct NetPatch {
    mode: Option<NetworkMode>,
    connect: Vec<u16>,
    bind: Vec<u16>,
    udp: Option<bool>,
    /// Where this ring's section first lists a port or `udp` (for NC0503).
    listed: Option<Span>,
}

#[derive(Default)]
struct SysPatch {
    default: Option<SyscallDefault>,
    deny_action: Option<DenyAction>,
    errno: Option<u16>,
    allow: Vec<(String, Span)>,
    deny: Vec<ExplicitDeny>,
    presets: Vec<(String, Origin)>,
}

/// A `syscalls.deny` entry before the ring's action is known.
#[derive(Clone)]
struct ExplicitDeny {
    name: String,
    args: Vec<ArgCondition>,
    action: Option<DenyAction>,
    errno: Option<u16>,
    origin: Origin,
}

fn deny_rule(
    rule: &Spanned<syntax::DenyRule>,
    vars: &Vars,
    source: &Source,
    scope: &str,
    diags: &mut Diagnostics,
) -> Option<FsRule> {
    let r = &rule.value;
    let target = match (&r.path, &r.glob) {
        (Some(path), None) => values::target(path, values::TargetKind::Path, vars, diags),
        (None, Some(glob)) => values::target(glob, values::TargetKind::Glob, vars, diags),
        _ => {
            diags.push(
                Diagnostic::new(
                    Code::DenyTarget,
                    rule.span,
                    "a deny rule needs exactly one of `path` and `glob`",
                )
                .help(
                    "write `- path: /some/dir` or `- glob: \"/some/**/*.key\"`, one rule per entry",
                ),
            );
            None
        }
    };
    let access = match &r.access {
        Some(list) => values::access(list, diags),
        None => Some(AccessSet::ALL),
    };
    let except: Vec<Option<FsTarget>> = r
        .except
        .iter()
        .map(|e| values::target(e, values::TargetKind::Either, vars, diags))
        .collect();
    let (target, access) = (target?, access?);
    let mut excepts = Vec::new();
    for (text, parsed) in r.except.iter().zip(except) {
        let parsed = parsed?;
        if !except_inside(&parsed, &target) {
            diags.push(
                Diagnostic::new(Code::ExceptOutsideDeny, text.span, format!("`except: {}` lies outside the deny `{}`", text.value, target.text()))
                    .help("an exception can only carve paths out of the set its deny covers; move it or remove it"),
            );
            return None;
        }
        excepts.push(parsed);
    }
    Some(FsRule {
        effect: Effect::Deny,
        target,
        access,
        except: excepts,
        platform: r.platform,
        origin: origin(source, rule.span, scope),
    })
}

/// Whether an except entry can lie inside its deny: its literal root must be at or under the
/// deny's root (for a glob deny, the literal part before the first wildcard).
fn except_inside(except: &FsTarget, deny: &FsTarget) -> bool {
    let e = except.root();
    let d = deny.root();
    if !e.is_within(&d) {
        return false;
    }
    match (except, deny) {
        (FsTarget::Path(p), FsTarget::Glob(_)) => {
            // A literal exception must itself be matched by the glob deny (or lie under a match).
            let mut bindings = super::Bindings::new();
            if let Some(v) = p.variable() {
                bindings.insert(v.to_owned(), "/__nonoc_var".to_owned());
            }
            match p.expand(&bindings) {
                Some(path) => super::covers(deny, &path, &bindings, false),
                None => false,
            }
        }
        _ => true,
    }
}

fn own_parts(
    level: u8,
    ring: &Spanned<syntax::Ring>,
    key_span: Span,
    vars: &Vars,
    source: &Source,
    diags: &mut Diagnostics,
) -> Own {
    let r = &ring.value;
    let scope = format!("ring {level}");
    let mut own = Own {
        description: r.description.clone(),
        key_span,
        ..Own::default()
    };
    if let Some(unconfined) = &r.unconfined {
        own.unconfined = unconfined.value;
        let has_rules = r.extends.is_some()
            || r.filesystem.is_some()
            || r.network.is_some()
            || r.process.is_some()
            || r.syscalls.is_some()
            || !r.deny.is_empty();
        if unconfined.value && has_rules {
            diags.push(
                Diagnostic::new(Code::UnconfinedWithRules, unconfined.span, format!("ring {level} is unconfined but also has rules"))
                    .help("an unconfined ring applies no sandbox, so its rules would be ignored; remove them or `unconfined: true`"),
            );
        }
        if unconfined.value {
            return own;
        }
    }
    if let Some(fs) = &r.filesystem {
        let groups = [
            (&fs.value.read, AccessSet::READ),
            (&fs.value.write, AccessSet::WRITE),
            (&fs.value.execute, AccessSet::EXECUTE),
        ];
        for (list, access) in groups {
            for path in list {
                if let Some(target) = values::allow_path(path, vars, diags) {
                    own.fs.push(FsRule {
                        effect: Effect::Allow,
                        target: FsTarget::Path(target),
                        access,
                        except: Vec::new(),
                        platform: None,
                        origin: origin(source, path.span, scope.clone()),
                    });
                }
            }
        }
        for rule in &fs.value.rules {
            let path = values::allow_path(&rule.value.path, vars, diags);
            let access = values::access(&rule.value.access, diags);
            if let (Some(path), Some(access)) = (path, access) {
                own.fs.push(FsRule {
                    effect: Effect::Allow,
                    target: FsTarget::Path(path),
                    access,
                    except: Vec::new(),
                    platform: rule.value.platform,
                    origin: origin(source, rule.span, scope.clone()),
                });
            }
        }
    }
    for rule in &r.deny {
        if let Some(rule) = deny_rule(rule, vars, source, &scope, diags) {
            own.fs.push(rule);
        }
    }
    if let Some(net) = &r.network {
        let n = &net.value;
        let patch = NetPatch {
            mode: n.mode.as_ref().map(|m| m.value),
            connect: n
                .connect_tcp
                .iter()
                .filter_map(|p| values::port(p, diags))
                .collect(),
            bind: n
                .bind_tcp
                .iter()
                .filter_map(|p| values::port(p, diags))
                .collect(),
            udp: n.udp.as_ref().map(|u| u.value),
            listed: n
                .connect_tcp
                .iter()
                .chain(&n.bind_tcp)
                .map(|p| p.span)
                .chain(n.udp.as_ref().map(|u| u.span))
                .min_by_key(|s| s.offset),
        };
        own.network = Some((net.span, patch));
    }
    if let Some(p) = &r.process {
        own.fork = p.value.fork;
        own.signals = p.value.signals;
        own.ptrace = p.value.ptrace;
    }
    if let Some(sys) = &r.syscalls {
        own.sys = sys_patch(sys, &scope, source, diags);
    }
    own
}

fn sys_patch(
    sys: &Spanned<syntax::Syscalls>,
    scope: &str,
    source: &Source,
    diags: &mut Diagnostics,
) -> SysPatch {
    let s = &sys.value;
    let mut patch = SysPatch {
        default: s.default,
        deny_action: s.deny_action,
        errno: s.errno.as_ref().and_then(|e| values::errno(e, diags)),
        ..SysPatch::default()
    };
    for name in &s.allow {
        if values::syscall_name(name, diags).is_some() {
            patch.allow.push((name.value.clone(), name.span));
        }
    }
    for entry in &s.deny {
        match &entry.value {
            SyscallDenyEntry::Name(name) => {
                if values::syscall_name(&Spanned::new(name.clone(), entry.span), diags).is_some() {
                    patch.deny.push(ExplicitDeny {
                        name: name.clone(),
                        args: Vec::new(),
                        action: None,
                        errno: None,
                        origin: origin(source, entry.span, scope),
                    });
                }
            }
            SyscallDenyEntry::Rule(rule) => {
                let known = values::syscall_name(&rule.name, diags).is_some();
                let errno = rule.errno.as_ref().and_then(|e| values::errno(e, diags));
                let mut args = Vec::new();
                let mut ok = known;
                for arg in &rule.args {
                    match arg_condition(&rule.name.value, arg, diags) {
                        Some(c) => args.push(c),
                        None => ok = false,
                    }
                }
                if let (Some(action), Some(e)) = (rule.action, &rule.errno)
                    && action != DenyAction::Errno
                {
                    diags.push(
                        Diagnostic::new(
                            Code::ErrnoWithoutErrnoAction,
                            e.span,
                            format!(
                                "`errno` has no effect with `action: {}`",
                                deny_action_name(action)
                            ),
                        )
                        .help("remove `errno`, or use `action: errno` to return it"),
                    );
                    ok = false;
                }
                if ok && (rule.errno.is_none() || errno.is_some()) {
                    patch.deny.push(ExplicitDeny {
                        name: rule.name.value.clone(),
                        args,
                        action: rule.action,
                        errno,
                        origin: origin(source, entry.span, scope),
                    });
                }
            }
        }
    }
    for preset in &s.presets {
        if presets::preset(&preset.value).is_some() {
            patch.presets.push((
                preset.value.clone(),
                origin(source, preset.span, format!("preset {}", preset.value)),
            ));
        } else {
            diags.push(
                Diagnostic::new(
                    Code::UnknownPreset,
                    preset.span,
                    format!("unknown syscall preset `{}`", preset.value),
                )
                .help(format!("known presets: {}", presets::PRESETS.join(", "))),
            );
        }
    }
    patch
}

fn arg_condition(
    syscall: &str,
    arg: &Spanned<syntax::ArgCondition>,
    diags: &mut Diagnostics,
) -> Option<ArgCondition> {
    let a = &arg.value;
    let index = match u8::try_from(a.index.value) {
        Ok(i) if i <= 5 => i,
        _ => {
            diags.push(
                Diagnostic::new(
                    Code::ArgIndex,
                    a.index.span,
                    format!("argument index `{}` is outside 0..=5", a.index.value),
                )
                .help("syscalls take at most six arguments, numbered from 0"),
            );
            return None;
        }
    };
    let op = match a.op {
        syntax::ArgOp::Eq => ArgOp::Eq,
        syntax::ArgOp::Ne => ArgOp::Ne,
        syntax::ArgOp::Lt => ArgOp::Lt,
        syntax::ArgOp::Le => ArgOp::Le,
        syntax::ArgOp::Gt => ArgOp::Gt,
        syntax::ArgOp::Ge => ArgOp::Ge,
        syntax::ArgOp::MaskedEq => ArgOp::MaskedEq,
        syntax::ArgOp::MaskedNe => ArgOp::MaskedNe,
        syntax::ArgOp::AnyBits => ArgOp::AnyBits,
        syntax::ArgOp::AllBits => ArgOp::AllBits,
    };
    let masked_op = matches!(op, ArgOp::MaskedEq | ArgOp::MaskedNe);
    if masked_op != a.mask.is_some() {
        let message = if masked_op {
            "`mask` is required with `masked_eq` and `masked_ne`".to_owned()
        } else {
            "`mask` is only used with `masked_eq` and `masked_ne`".to_owned()
        };
        diags.push(
            Diagnostic::new(Code::ArgMask, arg.span, message)
                .help("write `{ index: 1, op: masked_eq, mask: 0xf, value: 2 }`, or drop `mask` for other ops"),
        );
        return None;
    }
    let value = values::arg_value(&a.value, syscall, index, diags);
    let mask = match &a.mask {
        Some(m) => Some(values::arg_value(m, syscall, index, diags)?),
        None => None,
    };
    Some(ArgCondition {
        index,
        op,
        value: value?,
        mask,
    })
}

fn deny_action_name(action: DenyAction) -> &'static str {
    match action {
        DenyAction::Errno => "errno",
        DenyAction::KillProcess => "kill_process",
        DenyAction::Log => "log",
        DenyAction::Trap => "trap",
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

fn merge(
    level: u8,
    chain: &[u8],
    lineage: &[&Own],
    global: &[FsRule],
    source: &Source,
    diags: &mut Diagnostics,
) -> Ring {
    let Some(me) = lineage.last() else {
        return unconfined_ring(level, None, chain, Span::default());
    };
    if me.unconfined {
        return unconfined_ring(level, me.description.clone(), chain, me.key_span);
    }
    let mut filesystem: Vec<FsRule> = global.to_vec();
    let mut network = Network {
        mode: NetworkMode::Blocked,
        connect_tcp: Vec::new(),
        bind_tcp: Vec::new(),
        udp: false,
    };
    let mut udp_set = false;
    let mut process = Process {
        fork: false,
        signals: SignalScope::Own,
        ptrace: false,
    };
    let mut default_deny = false;
    let mut deny_action = DenyAction::Errno;
    let mut errno = EPERM;
    let mut allow: Vec<String> = Vec::new();
    let mut explicit = Vec::new();
    let mut preset_names: Vec<(String, Origin)> = Vec::new();
    let mut allow_span = None;
    for own in lineage {
        filesystem.extend(own.fs.iter().cloned());
        if let Some((_, net)) = &own.network {
            if let Some(mode) = net.mode {
                network.mode = mode;
            }
            network.connect_tcp.extend(&net.connect);
            network.bind_tcp.extend(&net.bind);
            if let Some(udp) = net.udp {
                network.udp = udp;
                udp_set = true;
            }
        }
        process.fork = own.fork.unwrap_or(process.fork);
        process.signals = own.signals.unwrap_or(process.signals);
        process.ptrace = own.ptrace.unwrap_or(process.ptrace);
        let sys = &own.sys;
        if let Some(d) = sys.default {
            default_deny = d == SyscallDefault::Deny;
        }
        deny_action = sys.deny_action.unwrap_or(deny_action);
        errno = sys.errno.unwrap_or(errno);
        for (name, span) in &sys.allow {
            allow.push(name.clone());
            allow_span = Some(*span);
        }
        explicit.extend(sys.deny.iter().cloned());
        for (name, origin) in &sys.presets {
            if !preset_names.iter().any(|(n, _)| n == name) {
                preset_names.push((name.clone(), origin.clone()));
            }
        }
    }
    network.connect_tcp.sort_unstable();
    network.connect_tcp.dedup();
    network.bind_tcp.sort_unstable();
    network.bind_tcp.dedup();
    allow.sort();
    allow.dedup();

    let has_ports = !network.connect_tcp.is_empty() || !network.bind_tcp.is_empty() || udp_set;
    let listed = |own: &&Own| own.network.as_ref().and_then(|(_, n)| n.listed);
    let ignored = match network.mode {
        // Ports inherited or not: none of them can take effect.
        NetworkMode::Blocked if has_ports => {
            Some(lineage.iter().rev().find_map(listed).unwrap_or(me.key_span))
        }
        // Only this ring's own list: an `allowed` ring may extend a `restricted` one.
        NetworkMode::Allowed => listed(me),
        _ => None,
    };
    if let Some(span) = ignored {
        let mode = network.mode.name();
        diags.push(
            Diagnostic::new(Code::PortsWithoutRestricted, span, format!("ring {level} lists ports or `udp` but its network mode is `{mode}`"))
                .help("ports and `udp` take effect only with `mode: restricted`; set it, or remove them so no rule is silently ignored"),
        );
    }
    if !default_deny && let Some(span) = allow_span {
        diags.push(
                Diagnostic::new(Code::AllowListIgnored, span, format!("ring {level} allows syscalls by name but its syscall default is `allow`"))
                    .help("set `syscalls.default: deny` to make the allow list the only syscalls permitted, or remove the list"),
            );
    }

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
            });
        }
    }
    // The implied rules enforce what `network` and `process` say, which `decide` answers as
    // deny for `fork`, `udp` and the rest: an audit-only `deny_action: log` must not turn them
    // into a log entry, so they block with the ring's errno instead.
    let implied_action = match ring_action {
        SyscallAction::Log => SyscallAction::Errno(errno),
        other => other,
    };
    deny.extend(implied(
        &network,
        &process,
        implied_action,
        &origin(source, me.key_span, format!("ring {level}")),
    ));
    Ring {
        level,
        span: me.key_span,
        description: me.description.clone(),
        unconfined: false,
        extends: chain.to_vec(),
        filesystem,
        network,
        process,
        syscalls: Syscalls {
            default_allow: !default_deny,
            deny_action: ring_action,
            x32_action: implied_action,
            allow,
            deny,
        },
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
        },
        process: Process {
            fork: true,
            signals: SignalScope::Any,
            ptrace: true,
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
