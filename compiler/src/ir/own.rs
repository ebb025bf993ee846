//! Each ring's own sections, checked and converted once, before merging: filesystem rules
//! (global denies too), network, process and syscall settings. Each value is checked by
//! `values`, which reports what is wrong; what is left is what the ring says.

use super::model::*;
use super::values::{self, Vars};
use super::{AccessSet, FsTarget};
use super::{fs_presets, presets};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, Span};
use crate::source::Source;
use crate::syntax::{
    self, DenyAction, NetworkMode, SignalScope, Spanned, SyscallDefault, SyscallDenyEntry,
};

pub(super) fn origin(source: &Source, span: Span, scope: impl Into<String>) -> Origin {
    Origin::at(source, span, scope)
}

/// A ring's own rules, checked, before merging.
#[derive(Default)]
pub(super) struct Own {
    pub(super) description: Option<String>,
    pub(super) unconfined: bool,
    pub(super) key_span: Span,
    pub(super) fs: Vec<FsRule>,
    pub(super) network: Option<(Span, NetPatch)>,
    pub(super) fork: Option<bool>,
    pub(super) signals: Option<SignalScope>,
    pub(super) ptrace: Option<bool>,
    pub(super) capabilities: Vec<Capability>,
    pub(super) sys: SysPatch,
}

#[derive(Default)]
pub(super) struct NetPatch {
    pub(super) mode: Option<NetworkMode>,
    pub(super) connect: Vec<u16>,
    pub(super) bind: Vec<u16>,
    pub(super) udp: Option<bool>,
    pub(super) unix_connect: Vec<UnixGrant>,
    pub(super) hosts: Vec<HostGrant>,
    pub(super) deny_hosts: Vec<HostGrant>,
    pub(super) private: Option<Private>,
    /// Where this ring's section first lists a port or `udp` (for NC0503).
    pub(super) listed: Option<Span>,
    /// Where this ring's section first lists a host or `private` (for NC0506).
    pub(super) hosts_listed: Option<Span>,
}

#[derive(Default)]
pub(super) struct SysPatch {
    pub(super) default: Option<SyscallDefault>,
    pub(super) deny_action: Option<DenyAction>,
    pub(super) errno: Option<u16>,
    pub(super) allow: Vec<(String, Span)>,
    pub(super) deny: Vec<ExplicitDeny>,
    pub(super) presets: Vec<(String, Origin)>,
}

/// A `syscalls.deny` entry before the ring's action is known.
#[derive(Clone)]
pub(super) struct ExplicitDeny {
    pub(super) name: String,
    pub(super) args: Vec<ArgCondition>,
    pub(super) action: Option<DenyAction>,
    pub(super) errno: Option<u16>,
    pub(super) origin: Origin,
}

pub(super) fn deny_rule(
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

/// A ring's `hosts` or `deny_hosts` entries, checked, with where each was written.
fn host_grants(
    list: &[Spanned<syntax::HostEntry>],
    deny: bool,
    source: &Source,
    scope: &str,
    diags: &mut Diagnostics,
) -> Vec<HostGrant> {
    list.iter()
        .filter_map(|entry| {
            // A `{ host, ports }` entry is pointed at by its host.
            let span = match &entry.value {
                syntax::HostEntry::WithPorts(full) => full.host.span,
                syntax::HostEntry::Host(_) => entry.span,
            };
            values::host_entry(entry, deny, diags).map(|rule| HostGrant {
                rule,
                origin: origin(source, span, scope),
            })
        })
        .collect()
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
            let bindings: super::BoundVariables = p
                .variable()
                .map(|v| (v.to_owned(), "/__nonoc_var".to_owned()))
                .into_iter()
                .collect();
            match p.expand(&bindings) {
                Some(path) => super::covers(deny, &path, &bindings, false),
                None => false,
            }
        }
        _ => true,
    }
}

pub(super) fn own_parts(
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
        fs_presets(&fs.value.presets, vars, source, &mut own.fs, diags);
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
            unix_connect: n
                .unix_connect
                .iter()
                .filter_map(|p| {
                    values::allow_path(p, vars, diags).map(|path| UnixGrant {
                        path,
                        origin: origin(source, p.span, scope.clone()),
                    })
                })
                .collect(),
            hosts: host_grants(&n.hosts, false, source, &scope, diags),
            deny_hosts: host_grants(&n.deny_hosts, true, source, &scope, diags),
            private: n.private.as_ref().map(|p| match p.value {
                syntax::PrivateMode::Deny => Private::Deny,
                syntax::PrivateMode::Allow => Private::Allow,
            }),
            hosts_listed: n
                .hosts
                .iter()
                .chain(&n.deny_hosts)
                .map(|h| h.span)
                .chain(n.private.as_ref().map(|p| p.span))
                .min_by_key(|s| s.offset),
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
        own.capabilities = p
            .value
            .capabilities
            .iter()
            .filter_map(|c| values::capability(c, diags))
            .collect();
    }
    if let Some(sys) = &r.syscalls {
        own.sys = sys_patch(sys, &scope, source, diags);
    }
    own
}

/// The grants of the ring's `filesystem.presets`, as allow rules whose origin is the preset's
/// name in the list (scope `preset NAME`, or `preset NAME (from INCLUDED)` for a grant of a
/// preset it includes). A path is granted once even when two presets list it. Lines under
/// `${home}` are added only when the policy declares `home`; otherwise a warning says what
/// was left out.
fn fs_presets(
    presets: &[Spanned<String>],
    vars: &Vars,
    source: &Source,
    rules: &mut Vec<FsRule>,
    diags: &mut Diagnostics,
) {
    let mut granted: Vec<(String, Option<syntax::Platform>, AccessSet)> = Vec::new();
    for preset in presets {
        let Some(grants) = fs_presets::fs_preset(&preset.value) else {
            diags.push(
                Diagnostic::new(
                    Code::UnknownFsPreset,
                    preset.span,
                    format!("unknown filesystem preset `{}`", preset.value),
                )
                .help(format!(
                    "known filesystem presets: {} (syscall presets such as `hardening` go under `syscalls.presets`)",
                    fs_presets::FS_PRESETS.join(", ")
                )),
            );
            continue;
        };
        let mut without_home: Vec<String> = Vec::new();
        for grant in grants {
            if grant.path.variable() == Some(fs_presets::HOME)
                && !vars.contains_key(fs_presets::HOME)
            {
                without_home.push(grant.path.as_str().to_owned());
                continue;
            }
            let key = (grant.path.as_str().to_owned(), grant.platform, grant.access);
            if granted.contains(&key) {
                continue;
            }
            granted.push(key);
            let scope = if grant.preset == preset.value {
                format!("preset {}", preset.value)
            } else {
                format!("preset {} (from {})", preset.value, grant.preset)
            };
            rules.push(FsRule {
                effect: Effect::Allow,
                target: FsTarget::Path(grant.path),
                access: grant.access,
                except: Vec::new(),
                platform: grant.platform,
                origin: origin(source, preset.span, scope),
            });
        }
        if !without_home.is_empty() {
            diags.push(
                Diagnostic::new(
                    Code::FsPresetWithoutHome,
                    preset.span,
                    format!(
                        "preset `{}` grants nothing under `${{home}}`: the policy declares no variable `home`",
                        preset.value
                    ),
                )
                .help(format!(
                    "declare it (`variables: {{ home: {{ env: HOME }} }}`) to grant {}",
                    without_home.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                )),
            );
        }
    }
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
