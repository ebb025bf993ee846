//! Self-checks of a profile before it leaves the compiler. The tree is typed, so most of these
//! cannot fail unless the compiler has a bug; they are cheap, and they are what makes a bug
//! an error instead of a profile macOS refuses (or, worse, accepts and reads differently).
//!
//! - every form, operation, filter, function and symbol name is in the allowlist
//!   (`names.rs`), which says where each is seen to exist;
//! - the parameters the profile reads and the parameters the artifact declares are the same
//!   set;
//! - every regular expression is anchored (`^` first, `$` last) and has no `(?`;
//! - no allow follows a deny (other than `(deny default)`), so denies win under either
//!   precedence model;
//! - the printed profile fits the 64 KiB budget (checked in `mod.rs`, after printing).

use std::collections::BTreeSet;

use nonoc_runtime::artifact::SeatbeltParam;

use super::names::{self, Known};
use super::sbpl::{
    Decision, Filter, Form, Operation, Profile, Str, StrRef, walk_filters, walk_strings,
};

/// Every self-check failure, in words.
pub fn check(profile: &Profile, params: &[SeatbeltParam]) -> Vec<String> {
    let mut failures = Vec::new();
    vocabulary(profile, &mut failures);
    parameters(profile, params, &mut failures);
    regexes(profile, &mut failures);
    order(profile, &mut failures);
    failures
}

fn require(table: &[Known], what: &str, name: &str, failures: &mut Vec<String>) {
    if names::find(table, name).is_none() {
        failures.push(format!("{what} `{name}` is not in the allowlist"));
    }
}

fn vocabulary(profile: &Profile, failures: &mut Vec<String>) {
    for form in &profile.forms {
        match form {
            Form::Version(_) => require(names::FORMS, "form", "version", failures),
            Form::Rule(rule) => {
                require(names::FORMS, "form", rule.decision.name(), failures);
                for op in &rule.operations {
                    require(names::OPERATIONS, "operation", op.name(), failures);
                }
            }
            Form::Comment(_) | Form::Blank => {}
        }
    }
    walk_filters(profile, &mut |f| {
        require(names::FILTERS, "filter", f.name(), failures);
        let symbol = match f {
            Filter::VnodeType(v) => Some(v.name()),
            Filter::Target(t) => Some(t.name()),
            Filter::Remote(p, _) | Filter::Local(p, _) => Some(p.name()),
            Filter::RemoteUnixSocket => Some("unix-socket"),
            Filter::SocketDomain(d) => Some(d.name()),
            Filter::SocketType(t) => Some(t.name()),
            _ => None,
        };
        if let Some(symbol) = symbol {
            require(names::SYMBOLS, "symbol", symbol, failures);
        }
    });
    let mut functions = BTreeSet::new();
    walk_strings(profile, &mut |s| {
        if let StrRef::Regex(expr) = s {
            collect_functions(expr, &mut functions);
        }
        if let StrRef::Param(_) = s {
            functions.insert("param");
        }
    });
    for f in functions {
        require(names::FUNCTIONS, "function", f, failures);
    }
}

fn collect_functions(s: &Str, out: &mut BTreeSet<&'static str>) {
    match s {
        Str::Lit(_) => {}
        Str::Param(_) => {
            out.insert("param");
        }
        Str::Append(parts) => {
            out.insert("string-append");
            parts.iter().for_each(|p| collect_functions(p, out));
        }
        Str::RegexQuote(inner) => {
            out.insert("regex-quote");
            collect_functions(inner, out);
        }
    }
}

fn parameters(profile: &Profile, params: &[SeatbeltParam], failures: &mut Vec<String>) {
    let mut used = BTreeSet::new();
    walk_strings(profile, &mut |s| {
        if let StrRef::Param(name) = s {
            used.insert(name.to_owned());
        }
    });
    let declared: BTreeSet<String> = params.iter().map(|p| p.name.clone()).collect();
    if declared.len() != params.len() {
        failures.push("a parameter is declared twice".to_owned());
    }
    for name in used.difference(&declared) {
        failures.push(format!("parameter `{name}` is used but not declared"));
    }
    for name in declared.difference(&used) {
        failures.push(format!("parameter `{name}` is declared but not used"));
    }
}

fn regexes(profile: &Profile, failures: &mut Vec<String>) {
    walk_strings(profile, &mut |s| {
        let StrRef::Regex(expr) = s else { return };
        let pieces: Vec<&Str> = match expr {
            Str::Append(parts) => parts.iter().collect(),
            other => vec![other],
        };
        let lit = |s: Option<&&Str>| match s {
            Some(Str::Lit(t)) => Some(t.clone()),
            _ => None,
        };
        let anchored = lit(pieces.first()).is_some_and(|t| t.starts_with('^'))
            && lit(pieces.last()).is_some_and(|t| t.ends_with('$'));
        if !anchored {
            failures.push(format!("regex {expr:?} is not anchored with `^` and `$`"));
        }
        for piece in &pieces {
            match piece {
                Str::Lit(t) if t.contains("(?") => {
                    failures.push(format!("regex {expr:?} has `(?`, which AppleMatch ignores"));
                }
                Str::Lit(_) => {}
                Str::RegexQuote(inner) if matches!(**inner, Str::Param(_)) => {}
                other => failures.push(format!(
                    "regex {expr:?} holds {other:?}, not a literal or a quoted parameter"
                )),
            }
        }
    });
}

fn order(profile: &Profile, failures: &mut Vec<String>) {
    let mut seen_deny = false;
    for form in &profile.forms {
        let Form::Rule(rule) = form else { continue };
        match rule.decision {
            Decision::Deny if rule.operations == [Operation::Default] => {}
            Decision::Deny => seen_deny = true,
            Decision::Allow if seen_deny => {
                failures.push(format!("an allow of {:?} follows a deny", rule.operations))
            }
            Decision::Allow => {}
        }
    }
}
