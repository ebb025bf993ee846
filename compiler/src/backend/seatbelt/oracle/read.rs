//! A reader for the SBPL the printer writes, after TinyScheme's: `;` comments to the end of
//! the line, lists, symbols, integers, and strings in which a backslash takes the next
//! character literally (`\n`, `\t` and `\r` excepted, which TinyScheme reads as control
//! characters). Raw strings `#"..."` and block comments `#| |#` are refused: the printer never
//! writes them, and a reader that took them would hide a printer bug.
//!
//! At the top level the reader keeps the printer's layout (one form per line, comments, empty
//! lines) so that printing what it read gives the text back; inside a form any whitespace is
//! allowed. Names outside the allowlist are refused.

use super::super::names;
use super::super::sbpl::{
    Address, Decision, Domain, Filter, Form, Operation, Profile, Proto, Rule, SocketType, Str,
    Target, Vnode,
};

/// A datum: what the S-expression reader sees before names are given meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Datum {
    List(Vec<Datum>),
    Str(String),
    Symbol(String),
    Int(i64),
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    /// Skips whitespace and `;` comments inside a form.
    fn skip(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some(';') => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                Some('#') => return self.error("`#` syntax (raw string or block comment)"),
                _ => return Ok(()),
            }
        }
    }

    fn datum(&mut self) -> Result<Datum, String> {
        self.skip()?;
        match self.peek() {
            None => self.error("end of text inside a form"),
            Some('(') => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip()?;
                    if self.peek() == Some(')') {
                        self.bump();
                        return Ok(Datum::List(items));
                    }
                    items.push(self.datum()?);
                }
            }
            Some(')') => self.error("unexpected `)`"),
            Some('"') => {
                self.bump();
                let mut s = String::new();
                loop {
                    match self.bump() {
                        None => return self.error("unterminated string"),
                        Some('"') => return Ok(Datum::Str(s)),
                        Some('\\') => match self.bump() {
                            None => return self.error("unterminated string"),
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some(c) => s.push(c),
                        },
                        Some(c) => s.push(c),
                    }
                }
            }
            Some(_) => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"' | ';') {
                        break;
                    }
                    self.bump();
                }
                let atom = &self.text[start..self.pos];
                Ok(match atom.parse::<i64>() {
                    Ok(n) => Datum::Int(n),
                    Err(_) => Datum::Symbol(atom.to_owned()),
                })
            }
        }
    }
}

/// Reads a profile.
pub fn read(text: &str) -> Result<Profile, String> {
    let mut r = Reader { text, pos: 0 };
    let mut forms = Vec::new();
    while r.pos < text.len() {
        match r.peek() {
            Some('\n') => {
                r.bump();
                forms.push(Form::Blank);
            }
            Some(';') => {
                let start = r.pos + 1;
                let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
                let body = &text[start..end];
                forms.push(Form::Comment(
                    body.strip_prefix(' ').unwrap_or(body).to_owned(),
                ));
                r.pos = end;
                if r.bump() != Some('\n') {
                    return r.error("a comment not ended by a newline");
                }
            }
            Some('(') => {
                let datum = r.datum()?;
                forms.push(form(&datum)?);
                if r.bump() != Some('\n') {
                    return r.error("a form not ended by a newline");
                }
            }
            _ => return r.error("text outside a form"),
        }
    }
    Ok(Profile { forms })
}

fn symbol(d: &Datum) -> Result<&str, String> {
    match d {
        Datum::Symbol(s) => Ok(s),
        other => Err(format!("expected a symbol, found {other:?}")),
    }
}

fn known<T>(value: Option<T>, table: &[names::Known], what: &str, name: &str) -> Result<T, String> {
    match (value, names::find(table, name)) {
        (Some(v), Some(_)) => Ok(v),
        _ => Err(format!("{what} `{name}` is not in the allowlist")),
    }
}

fn form(d: &Datum) -> Result<Form, String> {
    let Datum::List(items) = d else {
        return Err(format!("a top-level {d:?}"));
    };
    let (head, rest) = items.split_first().ok_or("an empty form")?;
    match symbol(head)? {
        "version" => match rest {
            [Datum::Int(n)] => Ok(Form::Version(u32::try_from(*n).map_err(|e| e.to_string())?)),
            _ => Err(format!("bad version form {rest:?}")),
        },
        name @ ("allow" | "deny") => {
            known(Some(()), names::FORMS, "form", name)?;
            let decision = if name == "allow" {
                Decision::Allow
            } else {
                Decision::Deny
            };
            let mut operations = Vec::new();
            let mut filters = Vec::new();
            for item in rest {
                match item {
                    Datum::Symbol(op) if filters.is_empty() => operations.push(known(
                        Operation::from_name(op),
                        names::OPERATIONS,
                        "operation",
                        op,
                    )?),
                    Datum::List(_) => filters.push(filter(item)?),
                    other => return Err(format!("unexpected {other:?} in a rule")),
                }
            }
            if operations.is_empty() {
                return Err("a rule without operations".to_owned());
            }
            Ok(Form::Rule(Rule {
                decision,
                operations,
                filters,
            }))
        }
        other => Err(format!("form `{other}` is not in the allowlist")),
    }
}

fn filter(d: &Datum) -> Result<Filter, String> {
    let Datum::List(items) = d else {
        return Err(format!("expected a filter, found {d:?}"));
    };
    let (head, args) = items.split_first().ok_or("an empty filter")?;
    let name = symbol(head)?;
    known(Some(()), names::FILTERS, "filter", name)?;
    let one = || match args {
        [a] => Ok(a),
        _ => Err(format!("`{name}` takes one argument, not {args:?}")),
    };
    let sym = |table: &[names::Known], what| -> Result<&str, String> {
        let s = symbol(one()?)?;
        known(Some(()), table, what, s)?;
        Ok(s)
    };
    Ok(match name {
        "literal" => Filter::Literal(string(one()?)?),
        "subpath" => Filter::Subpath(string(one()?)?),
        "regex" => Filter::Regex(string(one()?)?),
        "path-ancestors" => Filter::PathAncestors(string(one()?)?),
        "sysctl-name" => Filter::SysctlName(string(one()?)?),
        "sysctl-name-prefix" => Filter::SysctlNamePrefix(string(one()?)?),
        "global-name" => Filter::GlobalName(string(one()?)?),
        "vnode-type" => {
            let s = sym(names::SYMBOLS, "vnode type")?;
            Filter::VnodeType(Vnode::from_name(s).ok_or(format!("vnode type `{s}`"))?)
        }
        "target" => {
            let s = sym(names::SYMBOLS, "target")?;
            Filter::Target(Target::from_name(s).ok_or(format!("target `{s}`"))?)
        }
        "socket-domain" => {
            let s = sym(names::SYMBOLS, "socket domain")?;
            Filter::SocketDomain(Domain::from_name(s).ok_or(format!("domain `{s}`"))?)
        }
        "socket-type" => {
            let s = sym(names::SYMBOLS, "socket type")?;
            Filter::SocketType(SocketType::from_name(s).ok_or(format!("socket type `{s}`"))?)
        }
        "require-all" | "require-any" => {
            let fs = args.iter().map(filter).collect::<Result<Vec<_>, _>>()?;
            if name == "require-all" {
                Filter::RequireAll(fs)
            } else {
                Filter::RequireAny(fs)
            }
        }
        "require-not" => Filter::RequireNot(Box::new(filter(one()?)?)),
        "remote" if matches!(args, [Datum::Symbol(s)] if s == "unix-socket") => {
            known(Some(()), names::SYMBOLS, "peer", "unix-socket")?;
            Filter::RemoteUnixSocket
        }
        "remote" | "local" => {
            let [Datum::Symbol(proto), Datum::Str(address)] = args else {
                return Err(format!(
                    "`{name}` takes a protocol and an address, not {args:?}"
                ));
            };
            known(Some(()), names::SYMBOLS, "protocol", proto)?;
            let proto = Proto::from_name(proto).ok_or(format!("protocol `{proto}`"))?;
            let address = Address::parse(address).ok_or(format!(
                "address `{address}` (host `*` or `localhost`, port `*` or 1..=65535)"
            ))?;
            if name == "remote" {
                Filter::Remote(proto, address)
            } else {
                Filter::Local(proto, address)
            }
        }
        other => return Err(format!("filter `{other}` has no reading")),
    })
}

fn string(d: &Datum) -> Result<Str, String> {
    match d {
        Datum::Str(s) => Ok(Str::Lit(s.clone())),
        Datum::List(items) => {
            let (head, args) = items.split_first().ok_or("an empty list")?;
            let name = symbol(head)?;
            known(Some(()), names::FUNCTIONS, "function", name)?;
            match (name, args) {
                ("param", [Datum::Str(p)]) => Ok(Str::Param(p.clone())),
                ("string-append", parts) => Ok(Str::Append(
                    parts.iter().map(string).collect::<Result<_, _>>()?,
                )),
                ("regex-quote", [inner]) => Ok(Str::RegexQuote(Box::new(string(inner)?))),
                _ => Err(format!("bad call {items:?}")),
            }
        }
        other => Err(format!("expected a string, found {other:?}")),
    }
}
