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

/// Whether a bound glob (root bound to a concrete path) matches a concrete path exactly.
#[cfg(test)]
pub fn glob_matches(root: &str, alternatives: &[Vec<Component>], path: &str) -> bool {
    let matcher = Matcher::new_rooted(root, alternatives);
    let mut steps = 0;
    matcher.matched(&matcher.state_at(path, &mut steps))
}

/// Whether a bound glob covers a path: matches it or one of its ancestors.
#[cfg(test)]
pub fn glob_covers(root: &str, alternatives: &[Vec<Component>], path: &str) -> bool {
    let matcher = Matcher::new_rooted(root, alternatives);
    let mut state = matcher.start();
    let mut steps = 0;
    if matcher.matched(&state) {
        return true;
    }
    for name in path.split('/').filter(|c| !c.is_empty()) {
        state = matcher.step(&state, name, &mut steps);
        if matcher.matched(&state) {
            return true;
        }
        if state.is_empty() {
            return false;
        }
    }
    false
}

/// A glob as an automaton over the components of an absolute path, from `/`: the root's
/// names as literals, then each alternative's components. Matching a path costs one step per
/// component, whatever the `**`s (no backtracking), and a walk down a tree carries the state
/// of a directory to its entries: placement matches every path it meets in constant time per
/// path, not in time proportional to its depth.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Per alternative: the root's names, then the alternative's components.
    alternatives: Vec<Vec<Component>>,
}

/// Where the automaton may be: `(alternative, position)` pairs, sorted, each once, closed
/// over `**` (a position at `**` may also be past it). Empty: no path below can match.
pub type State = Vec<(u32, u32)>;

impl Matcher {
    /// A glob whose root is `/` (its components cover the whole path).
    fn new(root: &[&str], alternatives: &[Vec<Component>]) -> Matcher {
        let prefix: Vec<Component> = root
            .iter()
            .map(|name| Component::Literal((*name).to_owned()))
            .collect();
        Matcher {
            alternatives: alternatives
                .iter()
                .map(|alt| prefix.iter().chain(alt).cloned().collect())
                .collect(),
        }
    }

    /// A glob with a bound root (a concrete absolute path).
    pub fn new_rooted(root: &str, alternatives: &[Vec<Component>]) -> Matcher {
        let names: Vec<&str> = root.split('/').filter(|c| !c.is_empty()).collect();
        Matcher::new(&names, alternatives)
    }

    /// The state at `/`.
    pub fn start(&self) -> State {
        let mut state: State = (0..self.alternatives.len())
            .map(|a| (a as u32, 0))
            .collect();
        self.close(&mut state);
        state
    }

    /// The state at a path (from `/`).
    pub fn state_at(&self, path: &str, steps: &mut usize) -> State {
        path.split('/')
            .filter(|c| !c.is_empty())
            .fold(self.start(), |state, name| self.step(&state, name, steps))
    }

    /// Adds the positions past each `**` (which may match no component).
    fn close(&self, state: &mut State) {
        let mut i = 0;
        while i < state.len() {
            let (alt, pos) = state[i];
            if matches!(
                self.alternatives[alt as usize].get(pos as usize),
                Some(Component::AnyDepth)
            ) {
                state.push((alt, pos + 1));
            }
            i += 1;
        }
        state.sort_unstable();
        state.dedup();
    }

    /// The state after one more component `name`; `steps` counts the positions tried.
    pub fn step(&self, state: &State, name: &str, steps: &mut usize) -> State {
        let mut next = State::new();
        for &(alt, pos) in state {
            *steps += 1;
            match self.alternatives[alt as usize].get(pos as usize) {
                Some(Component::AnyDepth) => next.push((alt, pos)),
                Some(Component::Literal(l)) if l == name => next.push((alt, pos + 1)),
                Some(Component::Pattern(p)) if component_matches(p, name) => {
                    next.push((alt, pos + 1));
                }
                _ => {}
            }
        }
        self.close(&mut next);
        next
    }

    /// Whether the path the state was reached by matches.
    pub fn matched(&self, state: &State) -> bool {
        state
            .iter()
            .any(|&(alt, pos)| pos as usize == self.alternatives[alt as usize].len())
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
        assert!(!glob_covers("/w", &alt, "/w/a/b"));
        // The root itself, and a root of `/`.
        let none: Vec<Vec<Component>> = vec![vec![]];
        assert!(glob_matches("/w", &none, "/w"));
        assert!(!glob_matches("/w", &none, "/w/x"));
        let all = vec![vec![Component::AnyDepth]];
        assert!(glob_matches("/", &all, "/"));
        assert!(glob_matches("/", &all, "/a/b"));
    }

    #[test]
    fn many_any_depths_cost_steps_linear_in_the_depth() {
        // `**/a/**/a/**/a/**/b` against 2,000 `a`s: backtracking would try ~d^3 splits.
        let mut alt = Vec::new();
        for _ in 0..3 {
            alt.push(Component::AnyDepth);
            alt.push(Component::Literal("a".into()));
        }
        alt.push(Component::AnyDepth);
        alt.push(Component::Literal("b".into()));
        let matcher = Matcher::new_rooted("/", &[alt]);
        let path = "/a".repeat(2000);
        let mut steps = 0;
        let state = matcher.state_at(&path, &mut steps);
        assert!(!matcher.matched(&state));
        assert!(steps <= 2000 * 8, "{steps}");
        let mut steps = 0;
        assert!(matcher.matched(&matcher.state_at(&format!("{path}/b"), &mut steps)));
    }
}
