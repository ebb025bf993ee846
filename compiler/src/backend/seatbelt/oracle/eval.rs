//! Evaluating one kernel operation against a profile.
//!
//! Two precedence models, because public evidence supports both and Apple documents neither
//! (docs/backends/seatbelt.md, "Precedence"):
//! - **last match**: of the rules whose operations cover the operation and whose filters
//!   match, the last one decides;
//! - **exact operation first**: rules that name the operation itself are consulted first,
//!   then rules that reach it through a wildcard, the longer wildcard first (`file-read*`
//!   before `default`); within a level the last match decides.
//!
//! A rule's filters are alternatives; a rule without filters matches everything. Strings are
//! evaluated with the parameter values the runtime would pass; `regex-quote` escapes like the
//! `regex` crate, and regular expressions match bytes (`(?-u)`), as globset does for `decide`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use super::super::sbpl::{
    Address, Decision, Domain, Filter, Form, Host, Operation, Port, Profile, Proto, SocketType,
    Str, Target, Vnode,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    LastMatch,
    ExactFirst,
}

/// Whose process an operation reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Own,
    SameSandbox,
    Other,
}

/// What an operation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A file system object, by the path the kernel resolved, and its type.
    Path {
        path: String,
        vnode: Vnode,
    },
    /// A TCP or UDP address: the peer's (`remote`; `loopback`: on this machine's loopback,
    /// else on another host) or the socket's own (`local`, on every address).
    Remote {
        proto: Proto,
        port: u16,
        loopback: bool,
    },
    Local {
        proto: Proto,
        port: u16,
    },
    Socket {
        domain: Domain,
        kind: SocketType,
    },
    /// The unix socket at a path, by the path the kernel resolved (`network-outbound`: path
    /// filters and `(remote unix-socket)` match it).
    UnixSocket {
        path: String,
    },
    Process(Who),
    Nothing,
}

/// One operation the kernel checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub operation: Operation,
    pub subject: Subject,
}

/// A profile with its parameter values.
#[derive(Debug)]
pub struct Evaluator<'a> {
    profile: &'a Profile,
    params: &'a BTreeMap<String, String>,
    regexes: RefCell<HashMap<String, ::regex::bytes::Regex>>,
}

impl<'a> Evaluator<'a> {
    pub fn new(profile: &'a Profile, params: &'a BTreeMap<String, String>) -> Self {
        Evaluator {
            profile,
            params,
            regexes: RefCell::new(HashMap::new()),
        }
    }

    /// The decision for an operation; `Err` when the profile cannot be evaluated (an
    /// undefined parameter, a bad regular expression), which macOS would refuse too.
    pub fn decide(&self, op: &Op, model: Model) -> Result<Decision, String> {
        let mut best: Option<(usize, Decision)> = None;
        for form in &self.profile.forms {
            let Form::Rule(rule) = form else { continue };
            let Some(level) = rule
                .operations
                .iter()
                .filter(|o| o.covers(op.operation))
                .map(|o| specificity(*o, op.operation))
                .max()
            else {
                continue;
            };
            let mut matched = rule.filters.is_empty();
            for f in &rule.filters {
                if self.matches(f, &op.subject)? {
                    matched = true;
                    break;
                }
            }
            if !matched {
                continue;
            }
            let level = match model {
                Model::LastMatch => 0,
                Model::ExactFirst => level,
            };
            if best.is_none_or(|(b, _)| level >= b) {
                best = Some((level, rule.decision));
            }
        }
        best.map(|(_, d)| d)
            .ok_or_else(|| "no rule, not even `default`, decides".to_owned())
    }

    fn string(&self, s: &Str) -> Result<String, String> {
        match s {
            Str::Lit(t) => Ok(t.clone()),
            Str::Param(name) => self
                .params
                .get(name)
                .cloned()
                .ok_or_else(|| format!("parameter `{name}` has no value")),
            Str::Append(parts) => parts.iter().map(|p| self.string(p)).collect(),
            Str::RegexQuote(inner) => Ok(::regex::escape(&self.string(inner)?)),
        }
    }

    fn regex_matches(&self, pattern: &str, path: &str) -> Result<bool, String> {
        let mut cache = self.regexes.borrow_mut();
        if !cache.contains_key(pattern) {
            let re = ::regex::bytes::Regex::new(&format!("(?-u){pattern}"))
                .map_err(|e| format!("regex `{pattern}`: {e}"))?;
            cache.insert(pattern.to_owned(), re);
        }
        Ok(cache
            .get(pattern)
            .is_some_and(|re| re.is_match(path.as_bytes())))
    }

    fn matches(&self, filter: &Filter, subject: &Subject) -> Result<bool, String> {
        let path = match subject {
            Subject::Path { path, .. } | Subject::UnixSocket { path } => Some(path.as_str()),
            _ => None,
        };
        Ok(match filter {
            Filter::RequireAll(fs) => {
                for f in fs {
                    if !self.matches(f, subject)? {
                        return Ok(false);
                    }
                }
                true
            }
            Filter::RequireAny(fs) => {
                for f in fs {
                    if self.matches(f, subject)? {
                        return Ok(true);
                    }
                }
                false
            }
            Filter::RequireNot(f) => !self.matches(f, subject)?,
            Filter::Literal(s) => {
                let v = self.string(s)?;
                path.is_some_and(|p| p == v)
            }
            Filter::Subpath(s) => {
                let v = self.string(s)?;
                path.is_some_and(|p| within(p, &v))
            }
            Filter::PathAncestors(s) => {
                let v = self.string(s)?;
                path.is_some_and(|p| within(&v, p))
            }
            Filter::Regex(s) => {
                let v = self.string(s)?;
                match path {
                    Some(p) => self.regex_matches(&v, p)?,
                    None => false,
                }
            }
            Filter::VnodeType(t) => matches!(subject, Subject::Path { vnode, .. } if vnode == t),
            Filter::Target(t) => match (subject, t) {
                (Subject::Process(who), Target::Own) => *who == Who::Own,
                (Subject::Process(who), Target::SameSandbox) => {
                    matches!(who, Who::Own | Who::SameSandbox)
                }
                _ => false,
            },
            Filter::Remote(proto, address) => match subject {
                Subject::Remote {
                    proto: p,
                    port,
                    loopback,
                } => {
                    p == proto
                        && (address.host == Host::Any || *loopback)
                        && port_matches(address, *port)?
                }
                _ => false,
            },
            Filter::Local(proto, address) => match subject {
                Subject::Local { proto: p, port } => {
                    p == proto && address.host == Host::Any && port_matches(address, *port)?
                }
                _ => false,
            },
            Filter::RemoteUnixSocket => matches!(subject, Subject::UnixSocket { .. }),
            Filter::SocketDomain(d) => {
                matches!(subject, Subject::Socket { domain, .. } if domain == d)
            }
            Filter::SocketType(t) => matches!(subject, Subject::Socket { kind, .. } if kind == t),
            // The oracle's requests never read sysctls or look up Mach services.
            Filter::SysctlName(_) | Filter::SysctlNamePrefix(_) | Filter::GlobalName(_) => false,
        })
    }
}

/// Whether a filter's port is `port`; the egress proxy's placeholder cannot be evaluated, as
/// macOS could not compile it: the runtime replaces it before the profile is applied.
fn port_matches(address: &Address, port: u16) -> Result<bool, String> {
    match address.port {
        Port::Any => Ok(true),
        Port::Number(p) => Ok(p.get() == port),
        Port::Proxy => Err(format!(
            "`{}`: the proxy port's placeholder is not replaced",
            address.text()
        )),
    }
}

/// Whether `path` is `root` or lies under it, by whole components.
fn within(path: &str, root: &str) -> bool {
    root == "/"
        || path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// How directly a rule's operation names the checked one: the exact name first, then the
/// longer wildcard.
fn specificity(rule_op: Operation, checked: Operation) -> usize {
    if rule_op == checked {
        usize::MAX
    } else if rule_op == Operation::Default {
        0
    } else {
        rule_op.name().len()
    }
}
