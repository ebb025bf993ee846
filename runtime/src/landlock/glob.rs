//! Matching deny globs against paths, and finding the existing paths a glob matches.
//!
//! The compiler parses globset syntax into components (`Literal`, `Pattern`, `AnyDepth`) and
//! expands brace alternatives; this module only matches components, so the runtime needs no
//! regex engine. Semantics follow globset with `literal_separator`: `*` and `?` never match
//! `/`, `**` as a whole component matches zero or more components.

use crate::artifact::Component;

/// Whether `name` (one path component) matches a component pattern with `*`, `?`, `[...]`
/// (`[!...]`/`[^...]` negate, `a-z` ranges) and `\` escapes.
pub fn component_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches_from(&p, &n)
}

fn matches_from(p: &[char], n: &[char]) -> bool {
    // Iterative wildcard matching with one backtrack point for the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    while pi < p.len() && p[pi] == '*' {
                        pi += 1;
                    }
                    star = Some((pi, ni));
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(p, pi, n[ni]) {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                // An escape that does not match: no literal `\` match either.
                '\\' if pi + 1 < p.len() => {}
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Evaluates a `[...]` class at `p[start]` against `c`: `(matched, index after the class)`,
/// or `None` when the class is not closed (then `[` is literal).
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        let ch = p[i];
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if (ch..=p[i + 2]).contains(&c) {
                matched = true;
            }
            i += 3;
        } else {
            if ch == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// Whether the components below a glob's root match a relative path's components.
pub fn components_match(pattern: &[Component], names: &[&str]) -> bool {
    match pattern.split_first() {
        None => names.is_empty(),
        Some((Component::AnyDepth, rest)) => {
            (0..=names.len()).any(|skip| components_match(rest, &names[skip..]))
        }
        Some((head, rest)) => match names.split_first() {
            None => false,
            Some((name, tail)) => {
                let ok = match head {
                    Component::Literal(l) => l == name,
                    Component::Pattern(p) => component_matches(p, name),
                    Component::AnyDepth => false,
                };
                ok && components_match(rest, tail)
            }
        },
    }
}

/// Whether a bound glob (root bound to a concrete path) matches a concrete path exactly.
pub fn glob_matches(root: &str, alternatives: &[Vec<Component>], path: &str) -> bool {
    let rest = if root == "/" {
        path.strip_prefix('/')
    } else {
        path.strip_prefix(root).and_then(|r| {
            if r.is_empty() {
                Some("")
            } else {
                r.strip_prefix('/')
            }
        })
    };
    let Some(rest) = rest else { return false };
    let names: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    alternatives.iter().any(|alt| components_match(alt, &names))
}

/// Whether a bound glob covers a path: matches it or one of its ancestors.
pub fn glob_covers(root: &str, alternatives: &[Vec<Component>], path: &str) -> bool {
    let mut current = path;
    loop {
        if glob_matches(root, alternatives, current) {
            return true;
        }
        match current.rfind('/') {
            Some(0) if current.len() > 1 => current = "/",
            Some(i) if i > 0 => current = &current[..i],
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_wildcards() {
        assert!(component_matches("*", ".env"));
        assert!(component_matches(".env*", ".env.local"));
        assert!(!component_matches(".env*", "x.env"));
        assert!(component_matches("?.txt", "a.txt"));
        assert!(!component_matches("?.txt", "ab.txt"));
        assert!(component_matches("[abc].rs", "b.rs"));
        assert!(!component_matches("[!abc].rs", "b.rs"));
        assert!(component_matches("[a-c]x", "cx"));
        assert!(component_matches("a\\*b", "a*b"));
        assert!(!component_matches("a\\*b", "axb"));
        assert!(component_matches("*.*", "a.b"));
        assert!(component_matches("**", "anything"));
    }

    #[test]
    fn any_depth() {
        let alt = vec![vec![
            Component::AnyDepth,
            Component::Pattern(".env*".into()),
        ]];
        assert!(glob_matches("/w", &alt, "/w/.env"));
        assert!(glob_matches("/w", &alt, "/w/a/b/.env.local"));
        assert!(!glob_matches("/w", &alt, "/x/.env"));
        assert!(!glob_matches("/w", &alt, "/wx/.env"));
        assert!(glob_covers("/w", &alt, "/w/a/.env/inner"));
    }
}
