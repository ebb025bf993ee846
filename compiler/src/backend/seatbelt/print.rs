//! The printer: the only code that turns the SBPL tree into text, and the only place strings
//! are escaped.
//!
//! A string literal is printed between double quotes with exactly two escapes, `\\` for a
//! backslash and `\"` for a double quote: the TinyScheme reader of libsandbox takes any other
//! escaped character literally, and its other escapes (`\n`, `\t`, `\x41`) would change the
//! string. A character that cannot be printed faithfully is refused, never dropped or
//! replaced: control characters (the reader would take a newline or NUL into the path, a
//! terminal would act on an escape sequence), and the invisible or direction-changing
//! characters that make a profile read differently to a reviewer than to the parser. Rust
//! strings are UTF-8 by construction, so no byte sequence that is not UTF-8 can reach here.
//!
//! Layout: one form per line; a rule with more than one top-level filter, or too long for one
//! line, puts each filter on its own line, indented by four spaces, and a combinator too long
//! for its line does the same with its filters. Raw strings (`#"..."`) are never printed.

use std::fmt::Write;

use super::sbpl::{Filter, Form, Profile, Rule, Str};

/// Why a profile could not be printed: the offending text and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintError {
    pub text: String,
    pub reason: String,
}

/// What is wrong with a character in a printed string or comment, if anything.
pub fn unprintable(c: char) -> Option<&'static str> {
    if c.is_control() {
        return Some("a control character");
    }
    // Zero-width characters, the bidirectional embeddings, overrides and isolates, the word
    // joiner and invisible operators, the byte order mark, and the line and paragraph
    // separators that some editors break lines at.
    let invisible = matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}');
    invisible.then_some("an invisible or direction-changing character")
}

/// Checks that text can stand in a printed string or comment.
pub fn check_text(text: &str) -> Result<(), PrintError> {
    match text
        .chars()
        .find_map(|c| unprintable(c).map(|why| (c, why)))
    {
        None => Ok(()),
        Some((c, why)) => Err(PrintError {
            text: text.to_owned(),
            reason: format!("it contains {why} (U+{:04X})", u32::from(c)),
        }),
    }
}

/// Prints a profile.
pub fn print(profile: &Profile) -> Result<String, PrintError> {
    let mut out = String::new();
    for form in &profile.forms {
        match form {
            Form::Version(v) => {
                let _ = writeln!(out, "(version {v})");
            }
            Form::Comment(text) => {
                check_text(text)?;
                if text.is_empty() {
                    out.push_str(";\n");
                } else {
                    let _ = writeln!(out, "; {text}");
                }
            }
            Form::Blank => out.push('\n'),
            Form::Rule(rule) => {
                rule_text(rule, &mut out)?;
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// Lines up to this many columns stay whole; a longer combinator puts each of its filters on
/// a line of its own, four columns further in.
const WIDTH: usize = 100;

fn rule_text(rule: &Rule, out: &mut String) -> Result<(), PrintError> {
    let mut head = String::from("(");
    head.push_str(rule.decision.name());
    for op in &rule.operations {
        head.push(' ');
        head.push_str(op.name());
    }
    let mut flat = head.clone();
    for filter in &rule.filters {
        flat.push(' ');
        filter_text(filter, usize::MAX, &mut flat)?;
    }
    if rule.filters.len() <= 1 && flat.len() < WIDTH {
        out.push_str(&flat);
        out.push(')');
        return Ok(());
    }
    out.push_str(&head);
    for filter in &rule.filters {
        out.push_str("\n    ");
        filter_text(filter, 4, out)?;
    }
    out.push(')');
    Ok(())
}

/// A filter starting at column `indent`; `usize::MAX` prints it on one line.
fn filter_text(filter: &Filter, indent: usize, out: &mut String) -> Result<(), PrintError> {
    if indent != usize::MAX {
        let mut flat = String::new();
        filter_text(filter, usize::MAX, &mut flat)?;
        let combinator = matches!(
            filter,
            Filter::RequireAll(_) | Filter::RequireAny(_) | Filter::RequireNot(_)
        );
        if !combinator || indent + flat.len() <= WIDTH {
            out.push_str(&flat);
            return Ok(());
        }
        out.push('(');
        out.push_str(filter.name());
        let children: Vec<&Filter> = match filter {
            Filter::RequireAll(fs) | Filter::RequireAny(fs) => fs.iter().collect(),
            Filter::RequireNot(f) => vec![&**f],
            _ => Vec::new(),
        };
        for child in children {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 4));
            filter_text(child, indent + 4, out)?;
        }
        out.push(')');
        return Ok(());
    }
    out.push('(');
    out.push_str(filter.name());
    match filter {
        Filter::Literal(s)
        | Filter::Subpath(s)
        | Filter::Regex(s)
        | Filter::PathAncestors(s)
        | Filter::SysctlName(s)
        | Filter::SysctlNamePrefix(s)
        | Filter::GlobalName(s) => {
            out.push(' ');
            str_text(s, out)?;
        }
        Filter::VnodeType(v) => {
            out.push(' ');
            out.push_str(v.name());
        }
        Filter::RequireAll(fs) | Filter::RequireAny(fs) => {
            for f in fs {
                out.push(' ');
                filter_text(f, usize::MAX, out)?;
            }
        }
        Filter::RequireNot(f) => {
            out.push(' ');
            filter_text(f, usize::MAX, out)?;
        }
        Filter::Target(t) => {
            out.push(' ');
            out.push_str(t.name());
        }
        Filter::Remote(proto, address) | Filter::Local(proto, address) => {
            out.push(' ');
            out.push_str(proto.name());
            out.push(' ');
            quoted(&address.text(), out)?;
        }
        Filter::RemoteUnixSocket => out.push_str(" unix-socket"),
        Filter::SocketDomain(d) => {
            out.push(' ');
            out.push_str(d.name());
        }
        Filter::SocketType(t) => {
            out.push(' ');
            out.push_str(t.name());
        }
    }
    out.push(')');
    Ok(())
}

fn str_text(s: &Str, out: &mut String) -> Result<(), PrintError> {
    match s {
        Str::Lit(text) => quoted(text, out),
        Str::Param(name) => {
            out.push_str("(param ");
            quoted(name, out)?;
            out.push(')');
            Ok(())
        }
        Str::Append(parts) => {
            out.push_str("(string-append");
            for part in parts {
                out.push(' ');
                str_text(part, out)?;
            }
            out.push(')');
            Ok(())
        }
        Str::RegexQuote(inner) => {
            out.push_str("(regex-quote ");
            str_text(inner, out)?;
            out.push(')');
            Ok(())
        }
    }
}

/// A string literal: the one escaping function.
fn quoted(text: &str, out: &mut String) -> Result<(), PrintError> {
    check_text(text)?;
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sbpl::{Decision, Operation};
    use super::*;

    fn rule(filters: Vec<Filter>) -> Profile {
        Profile {
            forms: vec![Form::Rule(Rule {
                decision: Decision::Deny,
                operations: vec![Operation::FileRead],
                filters,
            })],
        }
    }

    #[test]
    fn escapes_only_backslash_and_quote() {
        let text = print(&rule(vec![Filter::Literal(Str::lit(
            r#"/a"b\c(d);e #|f é"#,
        ))]))
        .unwrap();
        assert_eq!(
            text,
            "(deny file-read* (literal \"/a\\\"b\\\\c(d);e #|f é\"))\n"
        );
    }

    #[test]
    fn refuses_what_it_cannot_print_faithfully() {
        for bad in [
            "/a\nb",
            "/a\u{0}",
            "/a\u{1b}[2J",
            "/a\u{202e}b",
            "/a\u{200b}",
            "/a\u{2028}",
        ] {
            let err = print(&rule(vec![Filter::Subpath(Str::lit(bad))])).unwrap_err();
            assert_eq!(err.text, bad);
        }
        let err = print(&Profile {
            forms: vec![Form::Comment("x\ny".to_owned())],
        })
        .unwrap_err();
        assert!(err.reason.contains("control"), "{err:?}");
    }
}
