//! Handlers of the toolchain commands (issue 6: `test`, `explain`, `diff`, `inspect`), and
//! what `test` and `explain` share: loading a policy, binding variables as the runtime does,
//! and describing requests. Each handler writes to `out`/`err` and returns the exit code, as [`crate::cli`]'s
//! handlers do, so tests call them directly.

pub mod diff;
pub mod explain;
pub mod inspect;
pub mod kernel;
pub mod probe;
pub mod test;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use crate::cli::{EXIT_FAILED, EXIT_USAGE, Style};
use nonoc_runtime::Error;
use nonoc_runtime::bind::check_bound_value;

use crate::ir::{self, BoundVariables, Ir, Request, RingSelector};
use crate::{Analysis, analyze};

pub use explain::{ExplainArgs, ExplainRequest, explain};
pub use test::{TestArgs, test};

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

/// The variables that could be bound, and why each other one could not.
#[derive(Debug, Clone, Default)]
pub struct PartialBindings {
    pub bindings: BoundVariables,
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
/// `default`), with the runtime's binder. A variable that cannot be bound is left out and
/// recorded with the reason, so each request that needs it can say so. `Err` (a usage error)
/// for a `--var` the policy does not declare or whose value is not an absolute normalized
/// path.
pub fn bind_partial(
    ir: &Ir,
    vars: &[String],
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<PartialBindings, String> {
    let given = crate::exec::parse_vars(vars)?;
    if let Some(name) = given.names().find(|n| !ir.variables.contains_key(*n)) {
        return Err(format!(
            "`--var {name}=...`: the policy declares no variable `{name}`"
        ));
    }
    for (name, value) in given.names().filter_map(|n| Some((n, given.get(n)?))) {
        if let Err(why) = check_bound_value(value) {
            return Err(format!(
                "`--var {name}={value}`: the value must be an absolute normalized path ({why})"
            ));
        }
    }
    let declared = ir::declared(ir);
    let mut values = Vec::new();
    let mut unbound = BTreeMap::new();
    for name in ir.variables.keys() {
        match BoundVariables::bind([name.as_str()], &declared, &given, env) {
            Ok(bound) => {
                if let Some(value) = bound.get(name) {
                    values.push((name.clone(), value.to_owned()));
                }
            }
            // The variable's own value (from its environment variable or its default).
            Err(Error::BadValue {
                name: bad,
                value,
                why,
            }) if bad == *name => {
                let source = ir
                    .variables
                    .get(name)
                    .and_then(|v| v.env.as_deref())
                    .map_or_else(|| "its default".to_owned(), |env| format!("`${env}`"));
                let message = format!(
                    "variable `{name}` is bound by {source} to `{value}`, which is not an absolute normalized path ({why}): pass `--var {name}=PATH`"
                );
                unbound.insert(name.clone(), message);
            }
            // Unbound, or its default uses a variable that cannot be bound.
            Err(_) => {
                unbound.insert(name.clone(), unbound_message(ir, name));
            }
        }
    }
    let bindings = values.into_iter().collect();
    Ok(PartialBindings { bindings, unbound })
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
                ir::Right::ReadFile => "read".to_owned(),
                ir::Right::WriteFile => "write".to_owned(),
                ir::Right::Execute => "execute".to_owned(),
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
