//! An index of a ring's filesystem rules by path, so the lints and the backends find the rules
//! at, above or below a path with a few hash lookups instead of comparing every rule with
//! every other (a policy with thousands of paths took minutes; see docs/performance.md).
//!
//! "Above" and "below" follow [`PathTemplate::is_within`]: whole components, the same
//! variable, and `/` above every path, a variable's too.

use std::collections::{BTreeSet, HashMap};

use super::{FsRule, PathTemplate};

/// The paths at or above `path`: `/`, then each leading run of whole components, then `path`
/// itself (`${ws}/a/b`: `/`, `${ws}`, `${ws}/a`, `${ws}/a/b`).
pub fn at_or_above(path: &str) -> impl Iterator<Item = &str> {
    let root = (path != "/").then_some("/");
    let prefixes = path
        .char_indices()
        .filter(|&(i, c)| c == '/' && i > 0)
        .map(|(i, _)| &path[..i]);
    root.into_iter()
        .chain(prefixes)
        .chain(std::iter::once(path))
}

/// Rules of one kind (chosen by the caller), each keyed by one path.
#[derive(Debug)]
pub struct RuleIndex<'a> {
    rules: Vec<&'a FsRule>,
    /// Path -> the rules keyed by exactly that path.
    at: HashMap<String, Vec<usize>>,
    /// Path -> the rules keyed by it or by a path below it.
    below: HashMap<String, Vec<usize>>,
}

impl<'a> RuleIndex<'a> {
    /// Indexes `rules` (kept in their order) by `key`; a rule without a key is left out.
    pub fn new(
        rules: impl IntoIterator<Item = &'a FsRule>,
        key: impl Fn(&FsRule) -> Option<PathTemplate>,
    ) -> RuleIndex<'a> {
        let mut index = RuleIndex {
            rules: Vec::new(),
            at: HashMap::new(),
            below: HashMap::new(),
        };
        for rule in rules {
            let Some(path) = key(rule) else { continue };
            let i = index.rules.len();
            index.rules.push(rule);
            for above in at_or_above(path.as_str()) {
                index.below.entry(above.to_owned()).or_default().push(i);
            }
            index
                .at
                .entry(path.as_str().to_owned())
                .or_default()
                .push(i);
        }
        index
    }

    pub fn rule(&self, i: usize) -> &'a FsRule {
        self.rules[i]
    }

    /// Rules indexed.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules keyed by `path` or a path above it, in no particular order.
    pub fn at_or_above<'s>(&'s self, path: &'s str) -> impl Iterator<Item = usize> + 's {
        at_or_above(path)
            .filter_map(|p| self.at.get(p))
            .flatten()
            .copied()
    }

    /// The rules keyed by a path strictly above `path`.
    pub fn strictly_above<'s>(&'s self, path: &'s str) -> impl Iterator<Item = usize> + 's {
        at_or_above(path)
            .filter(move |p| *p != path)
            .filter_map(|p| self.at.get(p))
            .flatten()
            .copied()
    }

    /// The rules keyed by `path` or a path below it.
    pub fn at_or_below(&self, path: &str) -> &[usize] {
        self.below.get(path).map_or(&[], Vec::as_slice)
    }

    /// The rules keyed by a path at, above or below `path`, once each, in rule order.
    pub fn related(&self, path: &str) -> BTreeSet<usize> {
        self.at_or_above(path)
            .chain(self.at_or_below(path).iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_above_agree_with_is_within() {
        let paths = [
            "/",
            "/a",
            "/a/b",
            "/a/bc",
            "/ab",
            "${ws}",
            "${ws}/a",
            "${ws}/a/b",
            "${home}/a",
        ];
        for inner in paths {
            let above: Vec<&str> = at_or_above(inner).collect();
            for outer in paths {
                let within = PathTemplate::parse(inner)
                    .ok()
                    .zip(PathTemplate::parse(outer).ok())
                    .is_some_and(|(i, o)| i.is_within(&o));
                assert_eq!(above.contains(&outer), within, "`{inner}` within `{outer}`");
            }
        }
    }
}
