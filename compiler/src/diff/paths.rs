//! The paths a comparison asks about: enough that every region the rules of two rings cut the
//! filesystem into has a path in it, so a widening cannot hide between samples.
//!
//! A ring's answer for a path depends only on which rule targets cover it. For every target
//! (a rule's path or glob, an `except` entry) the pool holds the target, each of its
//! ancestors up to `/`, and a child of each of them that no rule names ("outside every more
//! specific rule"); for every glob, its matches (`globs.rs`).

use std::collections::BTreeSet;

use super::globs::{is_wild, matches, split, unescape};
use super::requests::{self, PathRule};
use crate::ir::{BoundVariables, FsTarget, PathTemplate, Ring, ancestors};

/// A rule target after variable expansion.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Expanded {
    Path(String),
    /// The expanded pattern (variable values escaped) and its literal root.
    Glob {
        pattern: String,
        root: String,
    },
}

fn expand(target: &FsTarget, bindings: &BoundVariables) -> Option<Expanded> {
    match target {
        FsTarget::Path(p) => p.expand(bindings).map(Expanded::Path),
        FsTarget::Glob(g) => Some(Expanded::Glob {
            pattern: g.expand(bindings)?,
            root: g.literal_root().expand(bindings)?,
        }),
    }
}

/// Every path or glob a ring's rules name, expanded (unbound ones are left out: the ring
/// cannot be applied then, and answers nothing).
fn targets(ring: &Ring, bindings: &BoundVariables) -> Vec<Expanded> {
    requests::path_rules(ring)
        .iter()
        .flat_map(|r| &r.targets)
        .filter_map(|t| expand(t, bindings))
        .collect()
}

/// The candidate paths for two sides, each ring's rules expanded with its own bindings; with a
/// `focus`, only the paths at or under it (what an overlap world can answer differently).
pub(super) fn pool(
    sides: &[(Option<&Ring>, &BoundVariables)],
    fresh: &str,
    focus: Option<&str>,
) -> BTreeSet<String> {
    let all = all_targets(sides);
    // Paths at or under the focus, and those above it (whose children may lead under it).
    let relevant = |p: &str| focus.is_none_or(|f| within(p, f) || within(f, p));
    let mut paths = BTreeSet::new();
    for t in &all {
        let (Expanded::Path(p) | Expanded::Glob { root: p, .. }) = t;
        add_with_context(&mut paths, p, fresh, &relevant);
    }
    if let Some(f) = focus {
        add_with_context(&mut paths, f, fresh, &relevant);
    }
    let base: Vec<String> = paths.iter().cloned().collect();
    for t in &all {
        if let Expanded::Glob { pattern, .. } = t {
            for m in matches(pattern, &base, fresh, &relevant) {
                add_with_context(&mut paths, &m, fresh, &relevant);
            }
        }
    }
    paths.retain(|p| is_request_path(p) && focus.is_none_or(|f| within(p, f)));
    paths
}

/// The values an overlap world gives a variable: every target of `rules`, its ancestors and a
/// child of each, and the matches of each glob by itself (not following other rules' paths).
pub(super) fn overlap_values(
    rules: &[(&PathRule, &BoundVariables)],
    fresh: &str,
) -> BTreeSet<String> {
    let mut all: Vec<Expanded> = rules
        .iter()
        .flat_map(|(r, b)| r.targets.iter().filter_map(|t| expand(t, b)))
        .collect();
    all.sort();
    all.dedup();
    let everything = |_: &str| true;
    let mut paths = BTreeSet::new();
    for t in &all {
        match t {
            Expanded::Path(p) => add_with_context(&mut paths, p, fresh, &everything),
            Expanded::Glob { pattern, root } => {
                add_with_context(&mut paths, root, fresh, &everything);
                for m in matches(pattern, &[], fresh, &everything) {
                    add_with_context(&mut paths, &m, fresh, &everything);
                }
            }
        }
    }
    paths.retain(|p| is_request_path(p));
    paths
}

fn all_targets(sides: &[(Option<&Ring>, &BoundVariables)]) -> Vec<Expanded> {
    let mut all: Vec<Expanded> = sides
        .iter()
        .filter_map(|(ring, b)| ring.map(|r| targets(r, b)))
        .flatten()
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Adds a path, each of its ancestors, and a fresh child of each (those `relevant` says).
fn add_with_context(
    paths: &mut BTreeSet<String>,
    path: &str,
    fresh: &str,
    relevant: &dyn Fn(&str) -> bool,
) {
    for a in ancestors(path) {
        if !relevant(a) {
            continue;
        }
        if !paths.insert(a.to_owned()) {
            // Its ancestors (and their fresh children) are in already.
            break;
        }
        let c = child(a, fresh);
        if relevant(&c) {
            paths.insert(c);
        }
    }
}

pub(super) fn child(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Whether a path can be asked about: absolute, normalized, without variables.
fn is_request_path(path: &str) -> bool {
    !path.contains("${") && PathTemplate::parse(path).is_ok()
}

/// Whether `path` is `root` or lies under it.
pub(super) fn within(path: &str, root: &str) -> bool {
    crate::ir::path_within(path, root, false)
}

/// A component name that no rule names and no glob component (other than a bare `*` or `**`,
/// which match every name) matches: a child that stands for "any other entry".
pub(super) fn fresh_name(rings: &[&Ring]) -> String {
    let mut literal = BTreeSet::new();
    let mut wild = Vec::new();
    for ring in rings {
        for rule in requests::path_rules(ring) {
            for target in &rule.targets {
                for component in split(target.text()) {
                    if component == "*" || component == "**" {
                        continue;
                    }
                    if is_wild(&component) {
                        wild.push(component);
                    } else {
                        literal.insert(unescape(&component));
                    }
                }
            }
        }
    }
    let matchers: Vec<globset::GlobMatcher> = wild
        .iter()
        .filter_map(|w| globset::Glob::new(w).ok().map(|g| g.compile_matcher()))
        .collect();
    ["x", "y", "z", "other", "xy"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain((1..).map(|n| format!("x{n}")))
        .find(|name| !literal.contains(name) && !matchers.iter().any(|m| m.is_match(name)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fresh_name_avoids_what_rules_name() {
        let yaml = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\ndeny:\n  - glob: \"/b/y*\"\nrings:\n  1:\n    filesystem:\n      read: [/a/x]\n";
        let ir = crate::analyze("t.yaml", yaml.as_bytes()).ir;
        let rings: Vec<&Ring> = ir.iter().flat_map(|ir| ir.rings.values()).collect();
        assert_eq!(rings.len(), 1);
        // `x` is a rule's name and `y*` matches `y`.
        assert_eq!(fresh_name(&rings), "z");
    }
}
