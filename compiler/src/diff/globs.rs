//! Paths that a glob matches: each wildcard filled with a name that matches it, or with a name
//! of the pool that does (`/home/*/.ssh` against `/home/alice`), each `**` with nothing, with a
//! fresh name, and with every pool path below the glob's literal part (so `/**/*.key` is asked
//! under `/srv` when a rule allows `/srv`).

use std::collections::{BTreeMap, BTreeSet};

use super::paths::{child, within};

/// Most matches generated for one glob.
const GLOB_LIMIT: usize = 512;

/// One component of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    DoubleStar,
    Wild(String),
}

/// Splits a pattern on `/` outside brackets and braces, leaving out the empty first part.
pub(super) fn split(pattern: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let (mut brackets, mut braces, mut escaped) = (false, 0usize, false);
    for c in pattern.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if !brackets => {
                escaped = true;
                current.push(c);
            }
            '[' if !brackets => {
                brackets = true;
                current.push(c);
            }
            ']' if brackets => {
                brackets = false;
                current.push(c);
            }
            '{' if !brackets => {
                braces += 1;
                current.push(c);
            }
            '}' if !brackets && braces > 0 => {
                braces -= 1;
                current.push(c);
            }
            '/' if !brackets && braces == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

pub(super) fn is_wild(component: &str) -> bool {
    let mut escaped = false;
    for c in component.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, '*' | '?' | '[' | '{') {
            return true;
        }
    }
    false
}

pub(super) fn unescape(component: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in component.chars() {
        if !escaped && c == '\\' {
            escaped = true;
        } else {
            out.push(c);
            escaped = false;
        }
    }
    out
}

fn parts(pattern: &str) -> Vec<Part> {
    split(pattern)
        .into_iter()
        .map(|p| {
            if p == "**" {
                Part::DoubleStar
            } else if is_wild(&p) {
                Part::Wild(p)
            } else {
                Part::Literal(unescape(&p))
            }
        })
        .collect()
}

/// Paths that a glob matches, following the pool where it can, and only through prefixes
/// that `relevant` accepts.
pub(super) fn matches(
    pattern: &str,
    base: &[String],
    fresh: &str,
    relevant: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let parts = parts(pattern);
    // The pool's entries by parent, to fill wildcards with names the pool has.
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in base {
        if let Some(i) = p.rfind('/') {
            let parent = if i == 0 { "/" } else { &p[..i] };
            if p.len() > 1 {
                children.entry(parent).or_default().push(&p[i + 1..]);
            }
        }
    }
    let mut out = Vec::new();
    let mut walk = Walk {
        parts: &parts,
        base,
        children: &children,
        fresh,
        relevant,
        out: &mut out,
        matchers: BTreeMap::new(),
    };
    walk.go("/".to_owned(), 0);
    out
}

struct Walk<'a> {
    parts: &'a [Part],
    base: &'a [String],
    children: &'a BTreeMap<&'a str, Vec<&'a str>>,
    fresh: &'a str,
    relevant: &'a dyn Fn(&str) -> bool,
    out: &'a mut Vec<String>,
    matchers: BTreeMap<String, Option<globset::GlobMatcher>>,
}

impl Walk<'_> {
    fn go(&mut self, prefix: String, index: usize) {
        if self.out.len() >= GLOB_LIMIT || !(self.relevant)(&prefix) {
            return;
        }
        let Some(part) = self.parts.get(index) else {
            self.out.push(prefix);
            return;
        };
        match part {
            Part::Literal(name) => self.go(child(&prefix, name), index + 1),
            Part::DoubleStar => {
                self.go(prefix.clone(), index + 1);
                self.go(child(&prefix, self.fresh), index + 1);
                let below: Vec<String> = self
                    .base
                    .iter()
                    .filter(|p| p.as_str() != prefix && within(p, &prefix) && (self.relevant)(p))
                    .cloned()
                    .collect();
                for p in below {
                    self.go(p, index + 1);
                }
            }
            Part::Wild(component) => {
                let mut names: BTreeSet<String> = fill(component, self.fresh);
                let known: Vec<String> = self
                    .children
                    .get(prefix.as_str())
                    .map(|c| c.iter().map(|s| (*s).to_owned()).collect())
                    .unwrap_or_default();
                for name in known {
                    if self.component_matches(component, &name) {
                        names.insert(name);
                    }
                }
                for name in names {
                    self.go(child(&prefix, &name), index + 1);
                }
            }
        }
    }

    fn component_matches(&mut self, component: &str, name: &str) -> bool {
        self.matchers
            .entry(component.to_owned())
            .or_insert_with(|| {
                globset::GlobBuilder::new(component)
                    .literal_separator(true)
                    .build()
                    .ok()
                    .map(|g| g.compile_matcher())
            })
            .as_ref()
            .is_some_and(|m| m.is_match(name))
    }
}

/// Names that a wildcard component matches: alternatives each, `*` as nothing and as the fresh
/// name, `?` as one character, a class as a character in it.
fn fill(component: &str, fresh: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for alternative in alternatives(component) {
        for star in ["", fresh] {
            let name = instantiate(&alternative, star);
            if !name.is_empty() && !name.contains('/') {
                out.insert(name);
            }
        }
        if out.len() >= 16 {
            break;
        }
    }
    out
}

/// The texts of a component with its first top-level `{a,b}` replaced by each alternative,
/// recursively (at most 16).
fn alternatives(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut brackets, mut escaped) = (0, false, false);
    let mut open = None;
    while i < chars.len() {
        let c = chars[i];
        if escaped {
            escaped = false;
        } else if c == '\\' && !brackets {
            escaped = true;
        } else if c == '[' && !brackets {
            brackets = true;
        } else if c == ']' && brackets {
            brackets = false;
        } else if c == '{' && !brackets {
            open = Some(i);
            break;
        }
        i += 1;
    }
    let Some(open) = open else {
        return vec![text.to_owned()];
    };
    // Find the matching `}` and the top-level commas.
    let (mut depth, mut j, mut commas, mut close) = (0usize, open, Vec::new(), None);
    let (mut brackets, mut escaped) = (false, false);
    while j < chars.len() {
        let c = chars[j];
        if escaped {
            escaped = false;
        } else if c == '\\' && !brackets {
            escaped = true;
        } else if c == '[' && !brackets {
            brackets = true;
        } else if c == ']' && brackets {
            brackets = false;
        } else if !brackets && c == '{' {
            depth += 1;
        } else if !brackets && c == '}' {
            depth -= 1;
            if depth == 0 {
                close = Some(j);
                break;
            }
        } else if !brackets && c == ',' && depth == 1 {
            commas.push(j);
        }
        j += 1;
    }
    let Some(close) = close else {
        return vec![text.to_owned()];
    };
    let head: String = chars[..open].iter().collect();
    let tail: String = chars[close + 1..].iter().collect();
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt: String = chars[w[0] + 1..w[1]].iter().collect();
        for rest in alternatives(&format!("{head}{alt}{tail}")) {
            if out.len() < 16 {
                out.push(rest);
            }
        }
    }
    out
}

/// A name the alternative-free component matches, with each `*` replaced by `star`.
fn instantiate(text: &str, star: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '*' => {
                out.push_str(star);
                i += 1;
            }
            '?' => {
                out.push('x');
                i += 1;
            }
            '[' => {
                let (c, next) = class_member(&chars, i);
                out.push(c);
                i = next;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// A character the class starting at `chars[start]` (`[`) matches, and the index after it.
fn class_member(chars: &[char], start: usize) -> (char, usize) {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut members: Vec<(char, char)> = Vec::new();
    let mut first = true;
    while i < chars.len() && (chars[i] != ']' || first) {
        let c = chars[i];
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|e| *e != ']') {
            members.push((c, chars[i + 2]));
            i += 3;
        } else {
            members.push((c, c));
            i += 1;
        }
        first = false;
    }
    let next = (i + 1).min(chars.len());
    let inside = |c: char| members.iter().any(|(a, b)| *a <= c && c <= *b);
    let pick = if negated {
        ['x', 'y', 'z', 'q', '0', '_']
            .into_iter()
            .find(|c| !inside(*c))
            .unwrap_or('~')
    } else {
        members
            .iter()
            .map(|(a, _)| *a)
            .find(|c| *c != '/')
            .unwrap_or('x')
    };
    (pick, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, base: &[&str]) -> Vec<String> {
        let base: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
        matches(pattern, &base, "x", &|_| true)
    }

    #[test]
    fn globs_are_filled_and_follow_the_pool() {
        assert!(m("/a/*.key", &[]).contains(&"/a/x.key".to_owned()));
        assert!(m("/a/*.key", &[]).contains(&"/a/.key".to_owned()));
        assert!(m("/**/.env", &["/srv/app"]).contains(&"/srv/app/.env".to_owned()));
        assert!(m("/**/.env", &["/srv/app"]).contains(&"/.env".to_owned()));
        assert!(m("/home/*/.ssh", &["/home/alice"]).contains(&"/home/alice/.ssh".to_owned()));
        assert_eq!(m("/a/{b,c}", &[]), ["/a/b", "/a/c"]);
        assert_eq!(m("/a/[bc]", &[]), ["/a/b"]);
        assert_eq!(m("/a/[!bc]", &[]), ["/a/x"]);
        assert_eq!(m("/a/\\*", &[]), ["/a/*"]);
    }

    #[test]
    fn components_are_split_outside_brackets_and_braces() {
        assert_eq!(split("/a/{b,c/d}/[/]"), ["a", "{b,c/d}", "[/]"]);
        assert!(is_wild("a*") && !is_wild("a\\*"));
    }
}
