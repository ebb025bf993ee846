//! Handlers of the toolchain commands (issue 6: `test`, `explain`, `diff`, `inspect`), and
//! what `test` and `explain` share: loading a policy, binding variables as the runtime does,
//! and describing requests. Each handler writes to `out`/`err` and returns the exit code, as [`crate::cli`]'s
//! handlers do, so tests call them directly.

pub mod diff;
pub mod explain;
pub mod inspect;
mod isolation;
pub mod kernel;
pub mod probe;
pub mod test;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::cli::{EXIT_FAILED, EXIT_USAGE, Style};
use crate::ir::{self, BindError, Bindings, Ir, Request, RingSelector};
use crate::{Analysis, analyze};

pub use explain::{ExplainArgs, ExplainRequest, explain};
pub use test::{TestArgs, test};

/// Reads a variable from the process environment, as the runtime does.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads and analyzes a policy, prints its diagnostics (as `check` renders them) when it has
/// errors, and returns its IR; otherwise the exit code: 2 when the file cannot be read, 1 when it has errors.
fn load(path: &Path, style: Style, err: &mut dyn Write) -> Result<(Analysis, Ir), u8> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = writeln!(err, "error: cannot read `{}`: {e}", path.display());
            return Err(EXIT_USAGE);
        }
    };
    let mut analysis = analyze(&path.display().to_string(), &bytes);
    // Only errors are printed: warnings are `check`'s business, and `test` and `explain` answer
    // for policies that have some.
    if analysis.diagnostics.has_errors() {
        crate::cli::report(&analysis, style, err);
    }
    match analysis.ir.take() {
        Some(ir) => Ok((analysis, ir)),
        None => {
            let _ = writeln!(
                err,
                "error: `{}` has errors; run `nonoc check` for details",
                path.display()
            );
            Err(EXIT_FAILED)
        }
    }
}

/// Parses `--var NAME=VALUE` arguments.
fn parse_vars(vars: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut given = BTreeMap::new();
    for var in vars {
        match var.split_once('=') {
            Some((name, _)) if given.contains_key(name) => {
                return Err(format!("`--var {name}=...` is given twice"));
            }
            Some((name, value)) if !name.is_empty() => {
                given.insert(name.to_owned(), value.to_owned());
            }
            _ => return Err(format!("`--var {var}` is not NAME=VALUE")),
        }
    }
    Ok(given)
}

/// The variables that could be bound, and why each other one could not.
#[derive(Debug, Clone, Default)]
pub struct PartialBindings {
    pub bindings: Bindings,
    /// Variable name to a message for people that names it and says how to bind it.
    pub unbound: BTreeMap<String, String>,
}

impl PartialBindings {
    /// The message of the first variable of `names` that is unbound.
    pub fn first_unbound<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Option<&str> {
        names
            .into_iter()
            .find_map(|n| self.unbound.get(n).map(String::as_str))
    }
}

/// Binds what can be bound, as the runtime does (`--var`, then the variable's `env`, then its
/// `default`), with [`ir::bind`]. A variable that cannot be bound is left out and recorded
/// with the reason, so each request that needs it can say so. `Err` (a usage error) for a
/// `--var` the policy does not declare or whose value is not an absolute normalized path.
pub fn bind_partial(
    ir: &Ir,
    vars: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PartialBindings, String> {
    let given = parse_vars(vars)?;
    // `bind` only looks at the variables: bind on a copy of them, dropping each variable it
    // reports unbound (or badly bound by the environment) until the rest binds.
    let mut shell = Ir {
        name: ir.name.clone(),
        settings: ir.settings.clone(),
        variables: ir.variables.clone(),
        trust_tiers: Vec::new(),
        rings: BTreeMap::new(),
        tests: Vec::new(),
    };
    let mut unbound = BTreeMap::new();
    loop {
        match ir::bind(&shell, &given, env) {
            Ok(bindings) => return Ok(PartialBindings { bindings, unbound }),
            Err(BindError::Undeclared(name)) => {
                return Err(format!(
                    "`--var {name}=...`: the policy declares no variable `{name}`"
                ));
            }
            Err(BindError::Invalid { name, value, why }) if given.contains_key(&name) => {
                return Err(format!(
                    "`--var {name}={value}`: the value must be an absolute normalized path ({})",
                    path_error(&why)
                ));
            }
            Err(BindError::Invalid { name, value, why }) => {
                let source = ir
                    .variables
                    .get(&name)
                    .and_then(|v| v.env.as_deref())
                    .map_or_else(|| "its default".to_owned(), |env| format!("`${env}`"));
                let message = format!(
                    "variable `{name}` is bound by {source} to `{value}`, which is not an absolute normalized path ({}): pass `--var {name}=PATH`",
                    path_error(&why)
                );
                shell.variables.remove(&name);
                unbound.insert(name, message);
            }
            Err(BindError::Unbound(name)) => {
                let message = unbound_message(ir, &name);
                shell.variables.remove(&name);
                unbound.insert(name, message);
            }
        }
    }
}

fn path_error(why: &ir::PathError) -> String {
    match why {
        ir::PathError::MalformedVariable(v) => format!("malformed variable `{v}`"),
        ir::PathError::NotAbsolute => "not absolute".to_owned(),
        ir::PathError::NotNormalized(part) => format!("not normalized at `{part}`"),
        ir::PathError::ControlChar => "it contains a control character".to_owned(),
        ir::PathError::TooLong(n) => format!("{n} bytes, longer than 4096"),
    }
}

/// Why a variable is unbound and the ways to bind it.
fn unbound_message(ir: &Ir, name: &str) -> String {
    let var = ir.variables.get(name);
    let mut ways = vec![format!("pass `--var {name}=PATH`")];
    if let Some(env) = var.and_then(|v| v.env.as_deref()) {
        ways.push(format!("set `{env}`"));
    }
    match var.and_then(|v| v.default.as_ref()) {
        // A default that uses another variable is unbound when that one is.
        Some(default) => {
            // (`bind` expands a default whenever its variable is bound: this one's is not.)
            if let Some(inner) = default.variable().filter(|v| *v != name) {
                ways.push(format!(
                    "bind `{inner}` (its default `{}` uses it)",
                    default.as_str()
                ));
            }
        }
        None => ways.push("give it a default".to_owned()),
    }
    let ways = match ways.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    };
    format!("variable `{name}` is unbound: {ways}")
}

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
                ir::Access::ReadFile => "read".to_owned(),
                ir::Access::WriteFile => "write".to_owned(),
                ir::Access::Execute => "execute".to_owned(),
                other => other.name().to_owned(),
            };
            match platform {
                Some(p) => format!("{verb} `{}` on {}", path.as_str(), p.name()),
                None => format!("{verb} `{}`", path.as_str()),
            }
        }
        Request::ConnectTcp { port } => format!("connect_tcp {port}"),
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
    }
}

/// `FILE:LINE:COL`.
fn location(file: &str, origin: &ir::Origin) -> String {
    format!("{file}:{}:{}", origin.line, origin.column)
}
