//! Checks of single values, made while lowering: paths, globs, access lists, ports, errno,
//! syscall names and argument values. Each returns the typed value, or `None` after pushing
//! a diagnostic.

use std::collections::BTreeMap;

use crate::data::{self, Arch};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, Span};
use crate::ir::{
    self, AccessSet, Capability, FsTarget, GlobTemplate, PathTemplate, has_glob_chars,
};
use crate::resolve::{chars, path_diagnostic, undeclared};
use crate::syntax::{HostEntry, IntOrName, PortEntry, Spanned};
use nonoc_runtime::hosts::{HostPattern, HostRule};

/// Declared variables, for reference checks.
pub type Vars = BTreeMap<String, ir::Variable>;

/// An allow path: a path template without glob characters, its variable declared.
pub fn allow_path(
    text: &Spanned<String>,
    vars: &Vars,
    diags: &mut Diagnostics,
) -> Option<PathTemplate> {
    chars::check(text, "path", diags);
    let template = match PathTemplate::parse(&text.value) {
        Ok(t) => t,
        Err(e) => {
            diags.push(path_diagnostic(&e, text, "path"));
            return None;
        }
    };
    if has_glob_chars(&text.value) {
        diags.push(
            Diagnostic::new(Code::GlobInAllow, text.span, format!("allow path `{}` contains glob characters", text.value))
                .help("allow rules take plain paths in v1 (a directory covers its subtree); globs are for deny rules"),
        );
        return None;
    }
    declared(template.variable(), text.span, vars, diags).then_some(template)
}

/// How a deny or except entry names what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// `path:` — taken literally, even with glob characters in it.
    Path,
    /// `glob:`.
    Glob,
    /// An `except` entry: a glob when it has glob characters, else a path.
    Either,
}

/// A deny or except target: a glob when it has glob characters (or `glob` is set), else a path.
pub fn target(
    text: &Spanned<String>,
    kind: TargetKind,
    vars: &Vars,
    diags: &mut Diagnostics,
) -> Option<FsTarget> {
    let glob = kind == TargetKind::Glob;
    let is_glob = glob || kind == TargetKind::Either && has_glob_chars(&text.value);
    chars::check(text, if is_glob { "glob" } else { "path" }, diags);
    if is_glob {
        let template = match GlobTemplate::parse(&text.value) {
            Ok(t) => t,
            Err(e) => {
                // Name the field the user wrote: a malformed `${...}` in a `path:` has braces,
                // which would otherwise make it look like a glob.
                diags.push(path_diagnostic(
                    &e,
                    text,
                    if glob { "glob" } else { "path" },
                ));
                return None;
            }
        };
        // Compile with a stand-in value to check the syntax of the literal part.
        let probe = template
            .as_str()
            .replacen("${", "/x", 1)
            .replacen('}', "", 1);
        let probe = if template.variable().is_some() {
            probe
        } else {
            template.as_str().to_owned()
        };
        if let Err(e) = globset::GlobBuilder::new(&probe)
            .literal_separator(true)
            .build()
        {
            let why = e.kind().to_string();
            diags.push(
                Diagnostic::new(Code::InvalidGlob, text.span, format!("glob `{}` does not compile", text.value))
                    .label(why)
                    .help("use globset syntax: `*` within a component, `**` across components, `?`, `[abc]`, `{a,b}`"),
            );
            return None;
        }
        declared(template.variable(), text.span, vars, diags).then_some(FsTarget::Glob(template))
    } else {
        let template = match PathTemplate::parse(&text.value) {
            Ok(t) => t,
            Err(e) => {
                diags.push(path_diagnostic(&e, text, "path"));
                return None;
            }
        };
        declared(template.variable(), text.span, vars, diags).then_some(FsTarget::Path(template))
    }
}

fn declared(variable: Option<&str>, span: Span, vars: &Vars, diags: &mut Diagnostics) -> bool {
    match variable {
        Some(v) if !vars.contains_key(v) => {
            diags.push(undeclared(v, span, vars));
            false
        }
        _ => true,
    }
}

/// An access list: group or right names, not empty.
pub fn access(list: &Spanned<Vec<Spanned<String>>>, diags: &mut Diagnostics) -> Option<AccessSet> {
    if list.value.is_empty() {
        diags.push(
            Diagnostic::new(Code::EmptyAccess, list.span, "the access list is empty").help(
                "name at least one right, or leave `access` out of a deny rule to deny all access",
            ),
        );
        return None;
    }
    let mut set = AccessSet::EMPTY;
    let mut ok = true;
    for name in &list.value {
        match AccessSet::from_name(&name.value) {
            Some(s) => set = set.union(s),
            None => {
                ok = false;
                diags.push(
                    Diagnostic::new(
                        Code::UnknownAccess,
                        name.span,
                        format!("unknown access right `{}`", name.value),
                    )
                    .help(format!(
                        "use a group (read, write, execute) or one of: {}",
                        ir::Right::ALL.map(ir::Right::name).join(", ")
                    )),
                );
            }
        }
    }
    ok.then_some(set)
}

/// A TCP port.
pub fn port(entry: &Spanned<PortEntry>, diags: &mut Diagnostics) -> Option<u16> {
    match &entry.value {
        PortEntry::Number(n) => match u16::try_from(*n) {
            Ok(p) if p > 0 => Some(p),
            _ => {
                diags.push(
                    Diagnostic::new(
                        Code::PortRange,
                        entry.span,
                        format!("port `{n}` is outside 1..=65535"),
                    )
                    .help("TCP ports are 1..=65535"),
                );
                None
            }
        },
        PortEntry::Text(text) => {
            if let Ok(n) = text.trim().parse::<i64>() {
                return port(
                    &Spanned::new(PortEntry::Number(n.into()), entry.span),
                    diags,
                );
            }
            diags.push(
                Diagnostic::new(Code::HostName, entry.span, format!("`{text}` is not a port: network rules take port numbers, not hosts"))
                    .help("the kernel filters by port, not by host name (Landlock cannot see DNS names); list the port, e.g. `443`, and restrict hosts with a proxy outside the sandbox"),
            );
            None
        }
    }
}

/// A `hosts` (`deny: false`) or `deny_hosts` (`deny: true`) entry: its host checked and
/// normalized by the runtime's own parser (the one the proxy uses), its ports checked.
pub fn host_entry(
    entry: &Spanned<HostEntry>,
    deny: bool,
    diags: &mut Diagnostics,
) -> Option<HostRule> {
    let (text, span, ports) = match &entry.value {
        HostEntry::Host(text) => (text.as_str(), entry.span, &[][..]),
        HostEntry::WithPorts(full) => (full.host.value.as_str(), full.host.span, &full.ports[..]),
    };
    let checked: Vec<Option<u16>> = ports.iter().map(|p| port(p, diags)).collect();
    let pattern = match HostPattern::parse(text) {
        Ok(p) => p,
        Err(e) => {
            diags.push(
                Diagnostic::new(Code::InvalidHost, span, format!("`{}` is not a host: {}", text.escape_default(), host_error(text, &e)))
                    .help("write a host name (`api.example.com`), `*.` and a name (`*.example.com`, every subdomain), an address (`192.0.2.7`, `2001:db8::1`) or a CIDR range (`10.1.0.0/16`); add ports with `{ host: NAME, ports: [443] }`"),
            );
            return None;
        }
    };
    let ports: Vec<u16> = checked.into_iter().collect::<Option<_>>()?;
    let rule = if deny {
        HostRule::deny(pattern, &ports)
    } else {
        HostRule::allow(pattern, &ports)
    };
    // Ports are checked above (1..=65535), so the rule is always made; a failure is reported
    // as the port error it would be rather than dropped.
    match rule {
        Ok(rule) => Some(rule),
        Err(e) => {
            diags.push(Diagnostic::new(Code::PortRange, entry.span, e.to_string()));
            None
        }
    }
}

/// Why a host as written cannot be read: a URL or `host:port` said as such, else the
/// parser's reason.
pub fn host_error(text: &str, error: &nonoc_runtime::hosts::HostError) -> String {
    if let Some((_, rest)) = text.split_once("://") {
        let host = rest.split(['/', ':']).next().unwrap_or(rest);
        return format!("it is a URL; write its host (`{host}`)");
    }
    if !text.starts_with('[')
        && let Ok((host, port)) = nonoc_runtime::hosts::parse_authority(text, None)
        && text.parse::<std::net::Ipv6Addr>().is_err()
    {
        return format!("it is a host (`{host}`) and a port ({port}), which is given apart");
    }
    error.to_string()
}

/// A Linux capability name (`net_bind_service`).
pub fn capability(name: &Spanned<String>, diags: &mut Diagnostics) -> Option<Capability> {
    let found = Capability::from_name(&name.value);
    if found.is_none() {
        let plain = name.value.to_ascii_lowercase().replace('-', "_");
        let hint = Capability::from_name(plain.strip_prefix("cap_").unwrap_or(&plain))
            .map_or_else(String::new, |c| format!("write `{c}`; "));
        diags.push(
            Diagnostic::new(
                Code::UnknownCapability,
                name.span,
                format!("`{}` is not a Linux capability", name.value),
            )
            .help(format!(
                "{hint}capabilities are named in lower case without `CAP_`: {}",
                Capability::ALL
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    found
}

/// An errno value: a known name, or a number 1..=4095.
pub fn errno(value: &Spanned<IntOrName>, diags: &mut Diagnostics) -> Option<u16> {
    let found = match &value.value {
        IntOrName::Int(n) => u16::try_from(*n).ok().filter(|n| (1..=4095).contains(n)),
        IntOrName::Name(name) => data::errno(name).and_then(|n| u16::try_from(n).ok()),
    };
    if found.is_none() {
        let shown = match &value.value {
            IntOrName::Int(n) => n.to_string(),
            IntOrName::Name(s) => s.clone(),
        };
        diags.push(
            Diagnostic::new(
                Code::UnknownErrno,
                value.span,
                format!("`{shown}` is not a known errno"),
            )
            .help("use a name such as EPERM, EACCES or ENOSYS, or a number from 1 to 4095"),
        );
    }
    found
}

/// Whether a syscall name is known on both arches (`Some(true)`), on one (a warning;
/// `Some(true)`), or on none (an error; `None`).
pub fn syscall_name(name: &Spanned<String>, diags: &mut Diagnostics) -> Option<()> {
    let on: Vec<Arch> = Arch::ALL
        .into_iter()
        .filter(|a| data::syscall(*a, &name.value).is_some())
        .collect();
    match on.as_slice() {
        [] => {
            diags.push(
                Diagnostic::new(Code::UnknownSyscall, name.span, format!("unknown syscall `{}`", name.value))
                    .help("syscall names are checked against the x86_64 and aarch64 tables shipped with nonoc"),
            );
            None
        }
        [only] => {
            let other: Vec<&str> = Arch::ALL
                .into_iter()
                .filter(|a| a != only)
                .map(Arch::name)
                .collect();
            diags.push(
                Diagnostic::new(
                    Code::SyscallOneArch,
                    name.span,
                    format!("syscall `{}` exists on {} only; it has no effect on {}", name.value, only.name(), other.join(", ")),
                )
                .help("this is expected for legacy calls such as `open` or `fork`; name the newer call too (e.g. `openat`, `clone`) to cover every arch"),
            );
            Some(())
        }
        _ => Some(()),
    }
}

/// A syscall argument value, cut to the argument's width: `int` arguments keep the low 32
/// bits (negative values in two's complement), `long` ones all 64.
pub fn arg_value(
    value: &Spanned<IntOrName>,
    syscall: &str,
    index: u8,
    diags: &mut Diagnostics,
) -> Option<u64> {
    let number = match &value.value {
        IntOrName::Int(n) => *n,
        IntOrName::Name(name) => match data::constant(name) {
            Some(v) => i128::from(v),
            None => {
                diags.push(
                    Diagnostic::new(Code::UnknownConstant, value.span, format!("unknown constant `{name}`"))
                        .help("use an integer (decimal or 0x hex) or a known name such as AF_UNIX, AF_INET, SOCK_DGRAM, CLONE_NEWUSER"),
                );
                return None;
            }
        },
    };
    let int = ir::arg_is_int(syscall, usize::from(index));
    let (low, high) = if int {
        (-(1_i128 << 31), (1_i128 << 32) - 1)
    } else {
        (-(1_i128 << 63), (1_i128 << 64) - 1)
    };
    if number < low || number > high {
        let width = if int { "32-bit `int`" } else { "64-bit" };
        let help = if int {
            "the kernel compares `int` arguments on their low 32 bits; a larger value could never match"
        } else {
            "syscall arguments are 64 bits wide; use a value from -2^63 to 2^64-1"
        };
        diags.push(
            Diagnostic::new(
                Code::ArgValue,
                value.span,
                format!(
                    "`{number}` does not fit argument {index} of `{syscall}`, a {width} argument"
                ),
            )
            .help(help),
        );
        return None;
    }
    let bits = u64::try_from(number.rem_euclid(1_i128 << 64)).ok()?;
    Some(if int { bits & 0xffff_ffff } else { bits })
}
