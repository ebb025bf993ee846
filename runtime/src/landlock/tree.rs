//! From bound filesystem rules to Landlock path rules.
//!
//! Landlock only grants: the rights at a path are the union of the rules on it and on its
//! ancestors. A deny inside an allowed directory is therefore enforced by a carve-out: the
//! allowed directory is split along the way to the denied entry. Every directory on that way
//! gets only the rights common to its whole subtree, each sibling entry gets the full allowed
//! rights, and the denied entry gets what is left after the deny. The split directories thus
//! lose, for themselves and for entries created in them later, the rights the deny withholds
//! (stricter than the policy, never more permissive). Deny globs are first expanded into the
//! existing paths they match, inside allowed directories, with a bound on the entries read.
//! Where the isolation layer masks a denied path in a mount namespace instead
//! ([`place_masked`]), nothing is split for it.
//!
//! The paths where rights change (allow paths, denied paths, exceptions) are kept in a tree of
//! path components. Each path's rights are worked out once, from its parent's, and each
//! directory's "rights common to its subtree" once, from its children's; a glob is matched
//! by an automaton whose state a directory hands to its entries. Placement thus costs a
//! constant amount of work per path and per directory entry read (each path's own length
//! aside), however deep the tree and however many paths a glob matches.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::glob::{Matcher, State};
use super::resolve::{Cached, Writers, join, resolved, without_planted_links};
use crate::Error;
use crate::artifact::{Component, Right};

/// Entries read while expanding globs and splitting directories, at most, per apply.
pub const MAX_ENTRIES: usize = 100_000;

/// What a path is, as far as rule placement cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Missing,
}

/// The filesystem, as the algorithm sees it (a trait so tests can use a model).
pub trait Fs {
    /// Kind of a path, following a final symlink (rules name what a path resolves to).
    fn kind(&self, path: &str) -> Kind;
    /// Names and kinds (not following symlinks) of a directory's entries.
    fn entries(&self, dir: &str) -> std::io::Result<Vec<(String, Kind)>>;
    /// Whether the path's last component is a symlink (not following it).
    fn is_symlink(&self, path: &str) -> bool;
    /// The path with every symlink resolved (for a path that does not exist: its longest
    /// existing ancestor resolved, the rest appended). Rules attach to what paths resolve
    /// to, so allows and denies are compared where they really are.
    fn real_path(&self, path: &str) -> String {
        path.to_owned()
    }
    /// What `readlink` says of a path: a link and its target, not a link, or nothing there.
    fn read_link(&self, path: &str) -> Link {
        match self.kind(path) {
            Kind::Missing => Link::Missing,
            _ => Link::NotLink,
        }
    }
    /// `read_link`, with what the same look-up tells of the path when it tells it (a real
    /// filesystem learns both from one `lstat`): its kind, or `Kind::Symlink` for a link (not
    /// followed). Resolving a rule's path then costs no second call.
    fn read_link_and_kind(&self, path: &str) -> (Link, Option<Kind>) {
        (self.read_link(path), None)
    }
}

/// The answer of `readlink`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::enum_variant_names,
    reason = "`NotLink` is what readlink answers"
)]
pub enum Link {
    To(String),
    NotLink,
    Missing,
}

/// A bound target: a concrete path, or a glob with its root bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundTarget {
    Path(String),
    Glob {
        text: String,
        root: String,
        alternatives: Vec<Vec<Component>>,
    },
}

/// A filesystem rule with variables bound.
#[derive(Debug, Clone)]
pub struct BoundRule {
    pub allow: bool,
    pub target: BoundTarget,
    pub mask: u16,
    pub except: Vec<BoundTarget>,
}

/// A Landlock path rule to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub path: String,
    pub mask: u16,
    pub is_dir: bool,
    /// Open following a final symlink: only for paths an allow rule names (`/lib` may be a
    /// link to `usr/lib`). Paths found by walking the tree (entries of a split directory,
    /// glob matches, exceptions, denied paths) are opened without following, so a link
    /// planted there never carries rights to its target.
    pub follow: bool,
}

/// What placement did, for the enforcement report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Placement {
    pub grants: Vec<Grant>,
    /// Directories split by a carve-out, each with the rights it lost for itself.
    pub split: Vec<(String, u16)>,
    /// Allow paths that do not exist (skipped).
    pub missing: Vec<String>,
    /// Existing paths found for each deny glob (links excepted: see `glob_links`).
    pub glob_matches: Vec<(String, Vec<String>)>,
    /// Deny-glob matches that are symbolic links: they deny nothing by themselves (the target
    /// keeps its own rules), and get no rule of their own.
    pub glob_links: Vec<String>,
    /// Paths not followed because they go through a symbolic link inside a directory that a
    /// ring of the artifact may change (an agent could have planted the link): allow paths,
    /// not granted, and deny-glob roots, whose globs then match nothing.
    pub through_links: Vec<String>,
    pub entries_read: usize,
    /// Units of work placement did (directory entries, tree nodes, glob automaton steps),
    /// for tests that hold its cost to the size of its input.
    pub work: usize,
    /// Deny points left to the isolation layer ([`place_masked`]): not carved out.
    pub masked: Vec<DenyPoint>,
}

/// A concrete denied path strictly inside an allowed directory that grants some of the rights
/// it denies: what a carve-out splits the directories above for, or what the isolation layer
/// may mask instead ([`place_masked`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyPoint {
    /// The denied path (resolved; a link only when the deny names one).
    pub path: String,
    /// The rights denied there (every deny at the path).
    pub denied: u16,
    /// The rights the allow rules give the path (the allowed directories above it and any
    /// allow rule at or below it): what the deny withholds is `denied & granted`.
    pub granted: u16,
    /// What the path is now (`Kind::Symlink` for a link, not followed).
    pub kind: Kind,
    /// A deny's exception lies strictly inside the path (a mask would hide it too).
    pub except_inside: bool,
}

/// What the isolation layer is asked about deny points (see [`place_masked`]).
type MaskHook<'m> = (bool, &'m mut dyn FnMut(&[DenyPoint]) -> Vec<bool>);

/// Whether `path` is `dir` or lies under it.
pub fn within(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|t| t.starts_with('/'))
}

/// Places rules: the grants to add so that no path gets more than the policy allows.
/// `writable`: the directories (bound paths) that some confined ring of the artifact may
/// replace entries of, this ring included; a link in one of them is not followed to place a
/// grant (the link rule of the policy language).
#[cfg(any(test, feature = "compiler"))]
pub fn place<F: Fs>(rules: &[BoundRule], writable: &[String], fs: &F) -> Result<Placement, Error> {
    place_with(rules, writable, fs, None)
}

/// Places rules for the isolation layer: the deny points strictly inside an allowed directory
/// that grants some of their denied rights are offered to `mask` at once, parents before
/// children; the points it takes (`true` at their index) are left out of the placement (no
/// directory is split for them; the caller masks them in a mount namespace) and listed in
/// `Placement::masked`. The others are carved out as by `place`. `inspect: false` offers
/// the points without looking at what they are (`kind` is then `Kind::Missing`): for a caller
/// that will take none and only counts them.
pub fn place_masked<F: Fs>(
    rules: &[BoundRule],
    writable: &[String],
    fs: &F,
    inspect: bool,
    mask: &mut dyn FnMut(&[DenyPoint]) -> Vec<bool>,
) -> Result<Placement, Error> {
    place_with(rules, writable, fs, Some((inspect, mask)))
}

fn place_with<F: Fs>(
    rules: &[BoundRule],
    writable: &[String],
    fs: &F,
    mask: Option<MaskHook<'_>>,
) -> Result<Placement, Error> {
    let cached = Cached::new(fs);
    let writers = Writers::new(writable, &cached);
    let (rules, mut through_links) = without_planted_links(rules, &writers, &cached);
    let (rules, roots) = resolved(&rules, &writers, &cached);
    through_links.extend(roots);
    let mut placement = Placer::new(&cached).run(&rules, mask)?;
    placement.through_links = through_links;
    Ok(placement)
}

type NodeId = usize;

/// A path in the tree of the paths where rights change, or an ancestor of one.
struct Node {
    path: String,
    parent: Option<NodeId>,
    children: BTreeMap<String, NodeId>,
    /// Rights may change here (an allow path, a denied path, an exception).
    point: bool,
    /// Rights of the allow rules naming this path.
    allow: u16,
    named_by_allow: bool,
    /// Denies placed at this path (indexes into `Placer::denies`).
    denies: Vec<usize>,
    /// Path exceptions naming this path (indexes into `Placer::excepts`).
    excepts: Vec<usize>,
    /// What the path is, not following a final link, when a directory listing said so (it
    /// then needs no `stat` of its own).
    kind: Option<Kind>,
    /// An exception makes this path a point (rights grow back here).
    excepted: bool,
}

/// A denied path's rule: its rights, its exceptions (indexes into `Placer::excepts`) and the
/// rule it comes from.
struct Denied {
    mask: u16,
    excepts: Vec<usize>,
    rule: usize,
}

/// An exception of a deny rule.
enum Except {
    Path,
    Glob(Matcher),
}

/// One deny glob's automaton and its exceptions' (states carried together down a walk).
struct GlobWalk {
    rule: usize,
    deny: Matcher,
    excepts: Vec<Matcher>,
}

/// One step of the placement walk, on an explicit stack (trees may be deep).
enum Task {
    Visit(NodeId, u16),
    /// An entry of a split directory that no point lies at or under.
    Entry {
        path: String,
        is_dir: bool,
        mask: u16,
        granted: u16,
        parent: NodeId,
    },
}

struct Placer<'a, F: Fs> {
    fs: &'a Cached<'a, F>,
    nodes: Vec<Node>,
    index: BTreeMap<String, NodeId>,
    /// Directory listings read by glob walks, for the splits of the same directories.
    listed: BTreeMap<String, Vec<(String, Kind)>>,
    denies: Vec<Denied>,
    excepts: Vec<Except>,
    /// Per node, once the tree is complete: the rights the policy gives the path, and those
    /// every point strictly below it keeps.
    desired: Vec<u16>,
    below: Vec<u16>,
    /// Per node: the rights of the allow rules strictly above the path, and at or below it;
    /// whether an exception of a deny at the path covers the path.
    allowed_above: Vec<u16>,
    allowed_below: Vec<u16>,
    excepted_here: Vec<bool>,
    /// Per node: whether the path, or an ancestor below its nearest allow path, is a link.
    through_link: Vec<Option<bool>>,
    out: Placement,
}

impl<'a, F: Fs> Placer<'a, F> {
    fn new(fs: &'a Cached<'a, F>) -> Self {
        let mut placer = Placer {
            fs,
            nodes: Vec::new(),
            index: BTreeMap::new(),
            listed: BTreeMap::new(),
            denies: Vec::new(),
            excepts: Vec::new(),
            desired: Vec::new(),
            below: Vec::new(),
            allowed_above: Vec::new(),
            allowed_below: Vec::new(),
            excepted_here: Vec::new(),
            through_link: Vec::new(),
            out: Placement::default(),
        };
        placer.nodes.push(Node::new("/".to_owned(), None));
        placer.index.insert("/".to_owned(), 0);
        placer
    }

    fn run(mut self, rules: &[BoundRule], mask: Option<MaskHook<'_>>) -> Result<Placement, Error> {
        for rule in rules.iter().filter(|r| r.allow) {
            // Allow rules take no globs (compiler-checked, and checked at load).
            if let BoundTarget::Path(path) = &rule.target {
                let id = self.node(path);
                let node = &mut self.nodes[id];
                node.point = true;
                node.named_by_allow = true;
                node.allow |= rule.mask;
            }
        }
        for (i, rule) in rules.iter().enumerate().filter(|(_, r)| !r.allow) {
            self.add_deny(i, rule, rules)?;
        }
        self.rights();
        if let Some((inspect, mask)) = mask
            && self.leave_to_masks(rules, inspect, mask)
        {
            self.rights();
        }
        let mut roots: Vec<NodeId> = (0..self.nodes.len())
            .filter(|id| self.nodes[*id].named_by_allow && self.allow_ancestor(*id).is_none())
            .collect();
        roots.sort_by(|a, b| self.nodes[*a].path.cmp(&self.nodes[*b].path));
        for root in roots {
            match self.fs.kind(&self.nodes[root].path) {
                Kind::Missing => self.out.missing.push(self.nodes[root].path.clone()),
                _ => self.visit(root)?,
            }
        }
        // Nested allow paths that do not exist are reported too.
        for id in 0..self.nodes.len() {
            let path = &self.nodes[id].path;
            if self.nodes[id].named_by_allow
                && self.fs.kind(path) == Kind::Missing
                && !self.out.missing.contains(path)
            {
                self.out.missing.push(path.clone());
            }
        }
        self.out.missing.sort();
        self.out.glob_links.sort();
        self.out.glob_links.dedup();
        self.out.work += self.nodes.len();
        Ok(self.out)
    }

    /// The node of a path, created with its missing ancestors.
    fn node(&mut self, path: &str) -> NodeId {
        if let Some(id) = self.index.get(path) {
            return *id;
        }
        // The nearest existing ancestor, then the missing ones downwards.
        let mut missing = vec![path.to_owned()];
        let mut parent = loop {
            let Some(current) = missing.last() else {
                break 0;
            };
            let up = match current.rfind('/') {
                Some(0) => "/".to_owned(),
                Some(i) => current[..i].to_owned(),
                None => "/".to_owned(),
            };
            self.out.work += 1;
            if let Some(id) = self.index.get(&up) {
                break *id;
            }
            missing.push(up);
        };
        while let Some(path) = missing.pop() {
            let id = self.nodes.len();
            let name = path.rsplit('/').next().unwrap_or_default().to_owned();
            self.nodes[parent].children.insert(name, id);
            self.nodes.push(Node::new(path.clone(), Some(parent)));
            self.index.insert(path, id);
            parent = id;
        }
        parent
    }

    /// A directory's entries: kept from an earlier read of this apply (a glob's walk, then the
    /// split of the same directory), or read now.
    fn read(&mut self, dir: &str) -> Result<Vec<(String, Kind)>, Error> {
        if let Some(entries) = self.listed.remove(dir) {
            return Ok(entries);
        }
        let entries = self
            .fs
            .entries(dir)
            .map_err(|e| Error::system(format!("cannot read directory `{dir}` to split it"), e))?;
        self.out.entries_read += entries.len();
        self.out.work += entries.len();
        if self.out.entries_read > MAX_ENTRIES {
            return Err(Error::Apply(format!(
                "more than {MAX_ENTRIES} directory entries read while expanding deny globs and carve-outs; refusing to apply a partial sandbox"
            )));
        }
        Ok(entries)
    }

    /// Keeps a directory's entries for a later `read` in this apply.
    fn keep(&mut self, dir: String, entries: Vec<(String, Kind)>) {
        self.listed.insert(dir, entries);
    }

    fn step(&mut self, matcher: &Matcher, state: &State, name: &str) -> State {
        if state.is_empty() {
            return State::new();
        }
        matcher.step(state, name, &mut self.out.work)
    }

    /// A deny rule: its denied paths (a glob's: the existing matches inside allowed
    /// directories), its exceptions, the points where rights change.
    fn add_deny(
        &mut self,
        index: usize,
        rule: &BoundRule,
        rules: &[BoundRule],
    ) -> Result<(), Error> {
        let deny = self.denies.len();
        let mut excepts = Vec::new();
        let mut except_matchers = Vec::new();
        let mut except_paths = Vec::new();
        for except in &rule.except {
            excepts.push(self.excepts.len());
            match except {
                BoundTarget::Path(p) => {
                    self.excepts.push(Except::Path);
                    except_paths.push((self.excepts.len() - 1, p.clone()));
                }
                BoundTarget::Glob {
                    root, alternatives, ..
                } => {
                    let matcher = Matcher::new_rooted(root, alternatives);
                    except_matchers.push(matcher.clone());
                    self.excepts.push(Except::Glob(matcher));
                }
            }
        }
        self.denies.push(Denied {
            mask: rule.mask,
            excepts,
            rule: index,
        });
        match &rule.target {
            BoundTarget::Path(path) => {
                let id = self.node(path);
                self.nodes[id].point = true;
                self.nodes[id].denies.push(deny);
                if !except_matchers.is_empty() {
                    let mut work = 0;
                    let states = except_matchers
                        .iter()
                        .map(|m| m.state_at(path, &mut work))
                        .collect();
                    self.out.work += work;
                    // Not through a link: the deny kept as written when it goes through one
                    // is walked where it really is.
                    if !self.fs.is_symlink(path) {
                        self.walk_excepts(path, None, &except_matchers, states)?;
                    }
                }
            }
            BoundTarget::Glob {
                text,
                root,
                alternatives,
            } => {
                let walk = GlobWalk {
                    rule: index,
                    deny: Matcher::new_rooted(root, alternatives),
                    excepts: except_matchers,
                };
                let found = self.expand(&walk, root, rules, deny)?;
                self.out.glob_matches.push((text.clone(), found));
            }
        }
        // A path exception marks its path (it covers what lies there) and is a point when it
        // lies inside one of the rule's denied paths.
        for (except, path) in except_paths {
            let id = self.node(&path);
            self.nodes[id].excepts.push(except);
            let mut current = Some(id);
            while let Some(c) = current {
                self.out.work += 1;
                if self.nodes[c].denies.contains(&deny) {
                    self.nodes[id].point = true;
                    self.nodes[id].excepted = true;
                    break;
                }
                current = self.nodes[c].parent;
            }
        }
        Ok(())
    }

    /// Records a denied path found by a glob (`listed`: its kind, from a directory listing).
    fn deny_at(&mut self, path: &str, deny: usize, listed: Option<Kind>) {
        let id = self.node(path);
        self.nodes[id].point = true;
        self.nodes[id].denies.push(deny);
        self.nodes[id].kind = self.nodes[id].kind.or(listed);
    }

    /// Records an exception's match (a point: rights grow back there).
    fn except_at(&mut self, path: &str, listed: Option<Kind>) {
        let id = self.node(path);
        self.nodes[id].point = true;
        self.nodes[id].excepted = true;
        self.nodes[id].kind = self.nodes[id].kind.or(listed);
    }

    /// The existing paths a deny glob matches inside allowed directories that grant some of
    /// the denied rights, each recorded as a denied point with the exceptions found in it.
    fn expand(
        &mut self,
        walk: &GlobWalk,
        root: &str,
        rules: &[BoundRule],
        deny: usize,
    ) -> Result<Vec<String>, Error> {
        let mask = rules[walk.rule].mask;
        let mut starts: Vec<String> = Vec::new();
        for rule in rules.iter().filter(|r| r.allow && r.mask & mask != 0) {
            let BoundTarget::Path(allowed) = &rule.target else {
                continue;
            };
            if within(root, allowed) {
                starts.push(root.to_owned());
            } else if within(allowed, root) {
                starts.push(allowed.clone());
            }
        }
        starts.sort();
        starts.dedup();
        // A glob may match an ancestor of an allowed directory (below the glob's root): it then
        // covers that whole directory. The walks below only look at a start and beneath it.
        let mut found: Vec<String> = Vec::new();
        let mut begun: Vec<(String, Vec<State>)> = Vec::new();
        for start in &starts {
            let mut states = walk.start_states();
            let mut current = String::from("/");
            let names: Vec<&str> = start.split('/').filter(|c| !c.is_empty()).collect();
            let mut covered = false;
            for (i, name) in names.iter().enumerate() {
                states = self.step_all(walk, &states, name);
                current = join(&current, name);
                if i + 1 < names.len() && within(&current, root) && walk.deny.matched(&states[0]) {
                    // A glob covers what exists at apply time.
                    let kind = self.fs.kind(&current);
                    if kind != Kind::Missing && !found.contains(&current) {
                        found.push(current.clone());
                        self.matched(walk, &current, kind, None, &states, deny)?;
                    }
                    covered = true;
                    break;
                }
            }
            if !covered {
                begun.push((start.clone(), states));
            }
        }
        let begun: Vec<(String, Vec<State>)> = begun
            .iter()
            .filter(|(s, _)| {
                !begun.iter().any(|(o, _)| o != s && within(s, o))
                    && !found.iter().any(|f| within(s, f))
            })
            .cloned()
            .collect();
        for (start, states) in begun {
            self.walk_matches(walk, start, states, deny, &mut found)?;
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    fn step_all(&mut self, walk: &GlobWalk, states: &[State], name: &str) -> Vec<State> {
        let mut next = Vec::with_capacity(states.len());
        next.push(self.step(&walk.deny, &states[0], name));
        for (matcher, state) in walk.excepts.iter().zip(&states[1..]) {
            next.push(self.step(matcher, state, name));
        }
        next
    }

    /// Paths at or under `start` that a deny glob matches exactly; below a match only its
    /// exceptions are looked for. A directory whose state can no longer match is not read; a
    /// link is never walked through, and a link that matches denies nothing.
    fn walk_matches(
        &mut self,
        walk: &GlobWalk,
        start: String,
        states: Vec<State>,
        deny: usize,
        found: &mut Vec<String>,
    ) -> Result<(), Error> {
        // The start is an allowed path or the glob's root, both resolved; were it a link, it
        // would not be walked.
        let start_kind = match self.fs.read_link(&start) {
            Link::NotLink => self.fs.kind(&start),
            Link::To(_) => Kind::Symlink,
            Link::Missing => Kind::Missing,
        };
        let mut stack = vec![(start, start_kind, states)];
        while let Some((path, kind, states)) = stack.pop() {
            if walk.deny.matched(&states[0]) {
                if kind == Kind::Symlink {
                    self.out.glob_links.push(path);
                } else if kind == Kind::Missing {
                    // A glob covers what exists at apply time (the walk meets only entries
                    // that do; the start, named by the glob's root, may not).
                } else {
                    self.matched(walk, &path, kind, Some(kind), &states, deny)?;
                    found.push(path);
                }
                continue;
            }
            if kind != Kind::Dir || states[0].is_empty() {
                continue;
            }
            let entries = self.read(&path)?;
            for (name, kind) in &entries {
                let next = self.step_all(walk, &states, name);
                if walk.deny.matched(&next[0]) || *kind == Kind::Dir && !next[0].is_empty() {
                    stack.push((join(&path, name), *kind, next));
                }
            }
            self.keep(path, entries);
        }
        Ok(())
    }

    /// A denied path found by a glob: recorded, with the exceptions at or below it.
    fn matched(
        &mut self,
        walk: &GlobWalk,
        path: &str,
        kind: Kind,
        listed: Option<Kind>,
        states: &[State],
        deny: usize,
    ) -> Result<(), Error> {
        self.deny_at(path, deny, listed);
        if walk.excepts.is_empty() {
            return Ok(());
        }
        let excepts = states[1..].to_vec();
        if kind == Kind::Dir || walk.excepts.iter().zip(&excepts).any(|(m, s)| m.matched(s)) {
            self.walk_excepts(path, listed, &walk.excepts, excepts)?;
        }
        Ok(())
    }

    /// Exception matches at or under a denied path (where rights grow back); below a match
    /// nothing more is looked for (the exception covers it).
    fn walk_excepts(
        &mut self,
        start: &str,
        kind: Option<Kind>,
        matchers: &[Matcher],
        states: Vec<State>,
    ) -> Result<(), Error> {
        let mut stack = vec![(start.to_owned(), kind, states)];
        while let Some((path, kind, states)) = stack.pop() {
            if matchers.iter().zip(&states).any(|(m, s)| m.matched(s)) {
                self.except_at(&path, kind);
                continue;
            }
            if states.iter().all(Vec::is_empty) {
                continue;
            }
            let kind = kind.unwrap_or_else(|| self.fs.kind(&path));
            if kind != Kind::Dir {
                continue;
            }
            let entries = self.read(&path)?;
            for (name, kind) in &entries {
                let next: Vec<State> = matchers
                    .iter()
                    .zip(&states)
                    .map(|(m, s)| self.step(m, s, name))
                    .collect();
                stack.push((join(&path, name), Some(*kind), next));
            }
            self.keep(path, entries);
        }
        Ok(())
    }

    /// Works out, top down, the rights the policy gives each node's path (allow rules above
    /// it, denies above it that no exception covers), then, bottom up, what every point below
    /// each node keeps.
    fn rights(&mut self) {
        let n = self.nodes.len();
        self.desired = vec![0; n];
        self.below = vec![u16::MAX; n];
        self.allowed_above = vec![0; n];
        self.allowed_below = vec![0; n];
        self.excepted_here = vec![false; n];
        self.through_link = vec![None; n];
        let glob_excepts: Vec<(usize, Matcher)> = self
            .excepts
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Except::Glob(m) => Some((i, m.clone())),
                Except::Path => None,
            })
            .collect();
        struct Frame {
            node: NodeId,
            allowed: u16,
            active: Rc<Vec<usize>>,
            covered: Rc<Vec<bool>>,
            states: Rc<Vec<State>>,
        }
        let mut stack = vec![Frame {
            node: 0,
            allowed: 0,
            active: Rc::new(Vec::new()),
            covered: Rc::new(vec![false; self.excepts.len()]),
            states: Rc::new(glob_excepts.iter().map(|(_, m)| m.start()).collect()),
        }];
        while let Some(frame) = stack.pop() {
            let id = frame.node;
            let node = &self.nodes[id];
            let allowed = frame.allowed | node.allow;
            let mut covered = frame.covered;
            let mut flip = |i: usize| {
                if !covered[i] {
                    Rc::make_mut(&mut covered)[i] = true;
                }
            };
            for &e in &node.excepts {
                flip(e);
            }
            for ((e, matcher), state) in glob_excepts.iter().zip(frame.states.iter()) {
                if matcher.matched(state) {
                    flip(*e);
                }
            }
            let active = if node.denies.is_empty() {
                frame.active
            } else {
                let mut more = (*frame.active).clone();
                more.extend(&node.denies);
                Rc::new(more)
            };
            let denied = active
                .iter()
                .map(|d| &self.denies[*d])
                .filter(|d| !d.excepts.iter().any(|e| covered[*e]))
                .fold(0, |m, d| m | d.mask);
            self.desired[id] = allowed & !denied;
            self.allowed_above[id] = frame.allowed;
            self.excepted_here[id] = node
                .denies
                .iter()
                .any(|d| self.denies[*d].excepts.iter().any(|e| covered[*e]));
            self.out.work += 1 + active.len();
            let mut work = 0;
            for &child in self.nodes[id].children.values().rev() {
                let states = if frame.states.iter().all(Vec::is_empty) {
                    Rc::clone(&frame.states)
                } else {
                    let path = &self.nodes[child].path;
                    let name = path.rsplit('/').next().unwrap_or_default();
                    let next: Vec<State> = glob_excepts
                        .iter()
                        .zip(frame.states.iter())
                        .map(|((_, m), s)| {
                            if s.is_empty() {
                                State::new()
                            } else {
                                m.step(s, name, &mut work)
                            }
                        })
                        .collect();
                    Rc::new(next)
                };
                stack.push(Frame {
                    node: child,
                    allowed,
                    active: Rc::clone(&active),
                    covered: Rc::clone(&covered),
                    states,
                });
            }
            self.out.work += work;
        }
        // Children are created after their parents: the reverse order is bottom up.
        let read_dir = Right::ReadDir.bit();
        for id in (0..n).rev() {
            self.allowed_below[id] |= self.nodes[id].allow;
            let keeps = if self.nodes[id].point {
                // A file keeps `read_dir` for the directories above it: it governs listing
                // a directory and means nothing for a file (listing the directory that holds
                // a read-denied file shows its name, as the policy allows; the file's content
                // stays denied by its own rule).
                let file = self.desired[id] & read_dir == 0 && self.is_file(id);
                (self.desired[id] | if file { read_dir } else { 0 }) & self.below[id]
            } else {
                self.below[id]
            };
            if let Some(parent) = self.nodes[id].parent {
                self.below[parent] &= keeps;
                self.allowed_below[parent] |= self.allowed_below[id];
            }
        }
    }

    /// Whether a node's path is a file (following a final link, as rules do).
    fn is_file(&self, id: NodeId) -> bool {
        match self.nodes[id].kind {
            Some(Kind::File) => true,
            Some(Kind::Dir) => false,
            _ => self.fs.kind(&self.nodes[id].path) == Kind::File,
        }
    }

    /// Offers every deny point that would split an allowed directory to `mask`, and takes
    /// the ones it accepts out of the placement. Whether any was taken (the rights are then
    /// worked out again).
    fn leave_to_masks(
        &mut self,
        rules: &[BoundRule],
        inspect: bool,
        mask: &mut dyn FnMut(&[DenyPoint]) -> Vec<bool>,
    ) -> bool {
        let mut offered = Vec::new();
        let mut ids = Vec::new();
        for id in 0..self.nodes.len() {
            let node = &self.nodes[id];
            // An exception that covers the point itself: the point is not (wholly) denied.
            if node.denies.is_empty() || self.excepted_here[id] {
                continue;
            }
            let denied = node.denies.iter().fold(0, |m, d| m | self.denies[*d].mask);
            if self.allowed_above[id] & denied == 0 {
                // Nothing above grants what the deny withholds: no directory is split for it.
                continue;
            }
            let path = &node.path;
            let granted = self.allowed_above[id] | self.allowed_below[id];
            let except_inside = node.denies.iter().any(|d| {
                rules[self.denies[*d].rule].except.iter().any(|e| match e {
                    BoundTarget::Path(p) => p != path && within(p, path),
                    BoundTarget::Glob { root, .. } => within(root, path) || within(path, root),
                })
            });
            // A link in any component: a mount would land where the link points. (Not looked
            // at when nothing will be masked: the carve-outs need no more system calls.)
            let kind = if !inspect {
                Kind::Missing
            } else if self.fs.is_symlink(path) || self.fs.real_path(path) != *path {
                Kind::Symlink
            } else {
                self.fs.kind(path)
            };
            self.out.work += 1;
            offered.push(DenyPoint {
                path: path.clone(),
                denied,
                granted,
                kind,
                except_inside,
            });
            ids.push(id);
        }
        // Parents before children.
        let mut order: Vec<usize> = (0..offered.len()).collect();
        order.sort_by(|a, b| offered[*a].path.cmp(&offered[*b].path));
        let offered: Vec<DenyPoint> = order.iter().map(|i| offered[*i].clone()).collect();
        let ids: Vec<NodeId> = order.iter().map(|i| ids[*i]).collect();
        let taken = mask(&offered);
        let mut any = false;
        for ((point, id), take) in offered.into_iter().zip(ids).zip(taken) {
            if take {
                let node = &mut self.nodes[id];
                node.denies.clear();
                node.point = node.named_by_allow || node.excepted;
                self.out.masked.push(point);
                any = true;
            }
        }
        any
    }

    /// The nearest ancestor named by an allow rule.
    fn allow_ancestor(&self, id: NodeId) -> Option<NodeId> {
        let mut current = self.nodes[id].parent;
        while let Some(p) = current {
            if self.nodes[p].named_by_allow {
                return Some(p);
            }
            current = self.nodes[p].parent;
        }
        None
    }

    /// Whether the node's path, or an ancestor below its nearest allow path, is a link (the
    /// allow path itself may be one: rules name what a path resolves to).
    fn through_link(&mut self, id: NodeId) -> bool {
        let mut chain = Vec::new();
        let mut current = Some(id);
        // Up to a node already known, or an allow path, or past the root.
        let mut known = loop {
            let Some(c) = current else {
                break true; // under no allow path: no grant
            };
            if let Some(k) = self.through_link[c] {
                break k;
            }
            if self.nodes[c].named_by_allow {
                self.through_link[c] = Some(false);
                break false;
            }
            chain.push(c);
            current = self.nodes[c].parent;
        };
        while let Some(c) = chain.pop() {
            self.out.work += 1;
            known = known
                || match self.nodes[c].kind {
                    Some(kind) => kind == Kind::Symlink,
                    None => self.fs.is_symlink(&self.nodes[c].path),
                };
            self.through_link[c] = Some(known);
        }
        known
    }

    fn grant(&mut self, path: &str, mask: u16, granted: u16, is_dir: bool, follow: bool) {
        let mask = mask & !granted;
        if mask == 0 {
            return;
        }
        self.out.grants.push(Grant {
            path: path.to_owned(),
            mask,
            is_dir,
            follow,
        });
    }

    fn grant_node(&mut self, id: NodeId, mask: u16, granted: u16) {
        if mask & !granted == 0 {
            return;
        }
        let follow = self.nodes[id].named_by_allow;
        // Through a link the rights would go to its target, which the policy governs where it
        // really is.
        if !follow && self.through_link(id) {
            return;
        }
        let path = self.nodes[id].path.clone();
        let is_dir = match self.nodes[id].kind {
            Some(Kind::Dir) => true,
            Some(Kind::File) => false,
            _ => self.fs.kind(&path) == Kind::Dir,
        };
        self.grant(&path, mask, granted, is_dir, follow);
    }

    /// The points nearest below a node (no point between), in name order.
    fn nearest_points(&mut self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut stack: Vec<NodeId> = self.nodes[id].children.values().rev().copied().collect();
        while let Some(c) = stack.pop() {
            self.out.work += 1;
            if self.nodes[c].point {
                out.push(c);
            } else {
                stack.extend(self.nodes[c].children.values().rev().copied());
            }
        }
        out
    }

    fn visit(&mut self, root: NodeId) -> Result<(), Error> {
        let mut tasks = vec![Task::Visit(root, 0)];
        while let Some(task) = tasks.pop() {
            self.out.work += 1;
            match task {
                Task::Entry {
                    path,
                    is_dir,
                    mask,
                    granted,
                    parent,
                } => {
                    // Not itself a link (the split skips those): through one only if the
                    // directory it is in is.
                    if !self.through_link(parent) {
                        self.grant(&path, mask, granted, is_dir, false);
                    }
                }
                Task::Visit(id, granted) => self.visit_node(id, granted, &mut tasks)?,
            }
        }
        Ok(())
    }

    fn visit_node(&mut self, id: NodeId, granted: u16, tasks: &mut Vec<Task>) -> Result<(), Error> {
        let here = self.desired[id];
        let common = here & self.below[id];
        if common == here {
            // Nothing below has less: grant here, then add what nested points add.
            self.grant_node(id, here, granted);
            let nearest = self.nearest_points(id);
            for point in nearest.into_iter().rev() {
                let exists = match self.nodes[point].kind {
                    Some(kind) => kind != Kind::Missing,
                    None => self.fs.kind(&self.nodes[point].path) != Kind::Missing,
                };
                if exists {
                    tasks.push(Task::Visit(point, granted | here));
                }
            }
            return Ok(());
        }
        // Split: this directory gets what its whole subtree shares; its entries are placed
        // one by one.
        self.grant_node(id, common, granted);
        let path = self.nodes[id].path.clone();
        self.out
            .split
            .push((path.clone(), here & !common & !granted));
        let granted = granted | common;
        let kind = match self.nodes[id].kind {
            Some(kind) if kind != Kind::Symlink => kind,
            _ => self.fs.kind(&path),
        };
        if kind != Kind::Dir {
            return Ok(());
        }
        let mut next = Vec::new();
        for (name, kind) in self.read(&path)? {
            if kind == Kind::Symlink {
                // A symlink's target is governed where it really is; a rule through the link
                // would grant the target (and points below a link are not this tree's).
                continue;
            }
            match self.nodes[id].children.get(&name).copied() {
                Some(child) => {
                    let known = &mut self.nodes[child].kind;
                    *known = known.or(Some(kind));
                    next.push(Task::Visit(child, granted));
                }
                // An entry no point lies at or under has the rights of the directory.
                None => next.push(Task::Entry {
                    path: join(&path, &name),
                    is_dir: kind == Kind::Dir,
                    mask: here,
                    granted,
                    parent: id,
                }),
            }
        }
        tasks.extend(next.into_iter().rev());
        Ok(())
    }
}

impl Node {
    fn new(path: String, parent: Option<NodeId>) -> Node {
        Node {
            path,
            parent,
            children: BTreeMap::new(),
            point: false,
            allow: 0,
            named_by_allow: false,
            denies: Vec::new(),
            excepts: Vec::new(),
            kind: None,
            excepted: false,
        }
    }
}

impl GlobWalk {
    /// The states at `/` of the deny glob, then of each exception.
    fn start_states(&self) -> Vec<State> {
        std::iter::once(self.deny.start())
            .chain(self.excepts.iter().map(Matcher::start))
            .collect()
    }
}
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::glob::glob_covers;
    use super::*;

    /// A model filesystem: path -> kind; links (kind `Symlink`) -> their targets; each
    /// directory's entries.
    struct Model(
        BTreeMap<String, Kind>,
        BTreeMap<String, String>,
        BTreeMap<String, Vec<(String, Kind)>>,
    );

    impl Model {
        fn new(paths: &[(&str, Kind)]) -> Model {
            let mut model = Model(BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
            for (path, kind) in paths {
                model.0.insert((*path).to_owned(), *kind);
            }
            model.index();
            model
        }

        fn index(&mut self) {
            self.2.clear();
            for (path, kind) in self.0.iter().filter(|(p, _)| *p != "/") {
                let (dir, name) = path.rsplit_once('/').unwrap();
                let dir = if dir.is_empty() { "/" } else { dir };
                let entries = self.2.entry(dir.to_owned()).or_default();
                entries.push((name.to_owned(), *kind));
            }
            for entries in self.2.values_mut() {
                entries.sort();
            }
        }

        fn link(mut self, path: &str, target: &str) -> Model {
            self.0.insert(path.to_owned(), Kind::Symlink);
            self.1.insert(path.to_owned(), target.to_owned());
            self.index();
            self
        }
    }

    impl Fs for Model {
        fn kind(&self, path: &str) -> Kind {
            match self.1.get(path) {
                Some(target) => self.kind(target),
                None => self.0.get(path).copied().unwrap_or(Kind::Missing),
            }
        }
        fn is_symlink(&self, path: &str) -> bool {
            self.0.get(path) == Some(&Kind::Symlink)
        }
        fn read_link(&self, path: &str) -> Link {
            match (self.1.get(path), self.0.get(path)) {
                (Some(target), _) => Link::To(target.clone()),
                (None, Some(_)) => Link::NotLink,
                (None, None) => Link::Missing,
            }
        }
        fn entries(&self, dir: &str) -> std::io::Result<Vec<(String, Kind)>> {
            let dir = match self.1.get(dir) {
                Some(target) => target.as_str(),
                None => dir,
            };
            Ok(self.2.get(dir).cloned().unwrap_or_default())
        }
    }

    const R: u16 = 0b11;
    const W: u16 = 0b1100;

    fn allow(p: &str, mask: u16) -> BoundRule {
        BoundRule {
            allow: true,
            target: BoundTarget::Path(p.into()),
            mask,
            except: vec![],
        }
    }
    fn deny(p: &str, mask: u16) -> BoundRule {
        BoundRule {
            allow: false,
            target: BoundTarget::Path(p.into()),
            mask,
            except: vec![],
        }
    }

    fn tree() -> Model {
        Model::new(&[
            ("/", Kind::Dir),
            ("/home", Kind::Dir),
            ("/home/u", Kind::Dir),
            ("/home/u/.ssh", Kind::Dir),
            ("/home/u/.ssh/id", Kind::File),
            ("/home/u/src", Kind::Dir),
            ("/home/u/notes", Kind::File),
            ("/home/u/link", Kind::Symlink),
            ("/home/v", Kind::Dir),
        ])
    }

    #[test]
    fn plain_allows_need_no_split() {
        let p = place(&[allow("/home", R), allow("/home/u/src", W)], &[], &tree()).unwrap();
        assert_eq!(
            p.grants,
            vec![
                Grant {
                    path: "/home".into(),
                    mask: R,
                    is_dir: true,
                    follow: true
                },
                Grant {
                    path: "/home/u/src".into(),
                    mask: W,
                    is_dir: true,
                    follow: true
                },
            ]
        );
        assert!(p.split.is_empty());
    }

    #[test]
    fn deny_inside_allow_splits_the_way_down() {
        let p = place(
            &[allow("/home", R | W), deny("/home/u/.ssh", R | W)],
            &[],
            &tree(),
        )
        .unwrap();
        let paths: Vec<(&str, u16)> = p.grants.iter().map(|g| (g.path.as_str(), g.mask)).collect();
        assert_eq!(
            paths,
            vec![
                ("/home/u/notes", R | W),
                ("/home/u/src", R | W),
                ("/home/v", R | W)
            ]
        );
        assert_eq!(
            p.split,
            vec![("/home".into(), R | W), ("/home/u".into(), R | W)]
        );
    }

    #[test]
    fn partial_deny_keeps_the_rest_on_the_way() {
        let p = place(
            &[allow("/home", R | W), deny("/home/u/.ssh", W)],
            &[],
            &tree(),
        )
        .unwrap();
        let home = p.grants.iter().find(|g| g.path == "/home").unwrap();
        assert_eq!(home.mask, R);
        assert!(p.grants.iter().all(|g| g.path != "/home/u/.ssh"));
        assert!(p.grants.iter().any(|g| g.path == "/home/v" && g.mask == W));
    }

    #[test]
    fn deny_glob_expands_to_existing_matches() {
        let glob = BoundRule {
            allow: false,
            target: BoundTarget::Glob {
                text: "/home/**/id".into(),
                root: "/home".into(),
                alternatives: vec![vec![Component::AnyDepth, Component::Literal("id".into())]],
            },
            mask: R,
            except: vec![],
        };
        let p = place(&[allow("/home/u", R), glob], &[], &tree()).unwrap();
        assert_eq!(
            p.glob_matches,
            vec![("/home/**/id".into(), vec!["/home/u/.ssh/id".into()])]
        );
        // The file's content is denied on the whole way down; listing the directories on the
        // way is not (a read deny of a file takes only `read_file` from them).
        assert!(p.grants.iter().all(|g| !within("/home/u/.ssh/id", &g.path)
            || g.mask & Right::ReadFile.bit() == 0));
    }

    #[test]
    fn a_read_denied_file_leaves_listing_to_the_directories_above() {
        // Only `read_file` is lost on the way: listing `/home/u` shows the file's name, which
        // the policy allows; reading it stays denied by its own rule.
        let p = place(
            &[allow("/home", R | W), deny("/home/u/notes", R)],
            &[],
            &tree(),
        )
        .unwrap();
        let read_dir = Right::ReadDir.bit();
        assert_eq!(
            p.split,
            vec![
                ("/home".into(), Right::ReadFile.bit()),
                ("/home/u".into(), Right::ReadFile.bit())
            ]
        );
        let home = p.grants.iter().find(|g| g.path == "/home").unwrap();
        assert_eq!(
            home.mask,
            (R | W) & !Right::ReadFile.bit(),
            "{:?}",
            p.grants
        );
        assert_ne!(home.mask & read_dir, 0);
        assert!(
            p.grants
                .iter()
                .all(|g| g.path != "/home/u/notes" || g.mask & R == 0)
        );
        // A denied directory still takes `read_dir` from the way down: listing it is reading it.
        let p = place(
            &[allow("/home", R | W), deny("/home/u/.ssh", R)],
            &[],
            &tree(),
        )
        .unwrap();
        assert_eq!(p.split[0], ("/home".into(), R));
    }

    #[test]
    fn a_glob_matching_only_a_missing_path_covers_nothing() {
        // `/home/u/.git` (a glob without wildcards) does not exist: nothing is split for it.
        let rule = glob("/home/u/.git", "/home/u/.git", vec![vec![]], W);
        let p = place(&[allow("/home", R | W), rule], &[], &tree()).unwrap();
        assert_eq!(p.glob_matches, vec![("/home/u/.git".into(), vec![])]);
        assert!(p.split.is_empty(), "{:?}", p.split);
        // The same glob of a path that exists covers it.
        let rule = glob("/home/u/.ssh", "/home/u/.ssh", vec![vec![]], W);
        let p = place(&[allow("/home", R | W), rule], &[], &tree()).unwrap();
        assert_eq!(
            p.glob_matches,
            vec![("/home/u/.ssh".into(), vec!["/home/u/.ssh".into()])]
        );
        assert!(!p.split.is_empty());
        // A `DIR/**` whose DIR is missing, matching DIR itself: nothing either.
        let rule = glob(
            "/home/u/.git/**",
            "/home/u/.git",
            vec![vec![Component::AnyDepth]],
            W,
        );
        let p = place(&[allow("/home", R | W), rule], &[], &tree()).unwrap();
        assert_eq!(p.glob_matches, vec![("/home/u/.git/**".into(), vec![])]);
        assert!(p.split.is_empty(), "{:?}", p.split);
    }

    /// The isolation layer's hook: every deny point inside an allowed directory that grants
    /// what it denies is offered, parents first, with what it denies and what the allows
    /// give it; a point taken splits nothing, one refused is carved out as by `place`.
    #[test]
    fn deny_points_taken_by_masks_split_nothing() {
        let rules = [
            allow("/home", R | W),
            allow("/home/u/src", R),
            deny("/home/u", W),
            deny("/home/u/.ssh", R | W),
            // Nothing above grants what it denies: not a point.
            deny("/home/v", 0b1_0000),
        ];
        let mut seen = Vec::new();
        let p = place_masked(&rules, &[], &tree(), true, &mut |points| {
            seen = points.to_vec();
            vec![true; points.len()]
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                DenyPoint {
                    path: "/home/u".into(),
                    denied: W,
                    granted: R | W,
                    kind: Kind::Dir,
                    except_inside: false,
                },
                DenyPoint {
                    path: "/home/u/.ssh".into(),
                    denied: R | W,
                    granted: R | W,
                    kind: Kind::Dir,
                    except_inside: false,
                },
            ]
        );
        assert_eq!(p.masked, seen);
        assert!(p.split.is_empty(), "{:?}", p.split);
        // `/home/u/src` gets nothing beyond what `/home` gives it.
        assert_eq!(paths(&p), [("/home", R | W)]);
        // Refused: the carve-outs, exactly as `place` makes them.
        let p = place_masked(&rules, &[], &tree(), true, &mut |points| {
            vec![false; points.len()]
        })
        .unwrap();
        let plain = place(&rules, &[], &tree()).unwrap();
        assert!(p.masked.is_empty());
        assert_eq!((p.grants, p.split), (plain.grants, plain.split));
        // Only the parent taken: the child is carved out beneath it.
        let p = place_masked(&rules, &[], &tree(), false, &mut |points| {
            assert!(points.iter().all(|p| p.kind == Kind::Missing));
            points.iter().map(|p| p.path == "/home/u").collect()
        })
        .unwrap();
        assert_eq!(
            p.split,
            [("/home".to_owned(), R | W), ("/home/u".to_owned(), R | W)]
        );
    }

    /// A point whose deny has an exception inside it says so, and one covered by an
    /// exception of its own deny is no point; a link is offered as a link.
    #[test]
    fn deny_points_name_exceptions_and_links() {
        let mut rule = deny("/home/u", R | W);
        rule.except = vec![BoundTarget::Path("/home/u/src".into())];
        let mut seen = Vec::new();
        place_masked(
            &[allow("/home", R | W), rule],
            &[],
            &tree(),
            true,
            &mut |points| {
                seen = points.to_vec();
                vec![false; points.len()]
            },
        )
        .unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].except_inside);
        let fs = tree().link("/home/u/cfg", "/home/v");
        let mut seen = Vec::new();
        place_masked(
            &[allow("/home", R | W), deny("/home/u/cfg", W)],
            &[],
            &fs,
            true,
            &mut |points| {
                seen = points.to_vec();
                vec![false; points.len()]
            },
        )
        .unwrap();
        // The deny is kept at the link as written (offered as a link: a mount there would
        // land on its target) and placed where the link resolves.
        let offered: Vec<(&str, Kind)> = seen.iter().map(|p| (p.path.as_str(), p.kind)).collect();
        assert_eq!(
            offered,
            [("/home/u/cfg", Kind::Symlink), ("/home/v", Kind::Dir)]
        );
    }

    fn glob(text: &str, root: &str, alternatives: Vec<Vec<Component>>, mask: u16) -> BoundRule {
        BoundRule {
            allow: false,
            target: BoundTarget::Glob {
                text: text.into(),
                root: root.into(),
                alternatives,
            },
            mask,
            except: vec![],
        }
    }

    #[test]
    fn deny_glob_matching_an_ancestor_of_an_allow_path_covers_it() {
        // `/home/*/src`... no: `/*/u` matches `/home/u`, above the allowed `/home/u/src`.
        let rule = glob(
            "/*/u",
            "/",
            vec![vec![
                Component::Pattern("*".into()),
                Component::Literal("u".into()),
            ]],
            R | W,
        );
        let p = place(&[allow("/home/u/src", R | W), rule], &[], &tree()).unwrap();
        assert_eq!(
            p.glob_matches,
            vec![("/*/u".into(), vec!["/home/u".into()])]
        );
        assert!(p.grants.is_empty(), "{:?}", p.grants);
    }

    #[test]
    fn no_grant_goes_through_a_symlink_the_walk_found() {
        // `/home/u/link` matches the deny glob; what the deny leaves (W) must not be granted
        // through the link, and the split of `/home/u` skips it as an entry too.
        let rule = glob(
            "/home/u/lin*",
            "/home/u",
            vec![vec![Component::Pattern("lin*".into())]],
            R,
        );
        let p = place(
            &[allow("/home", R | W), deny("/home/u/.ssh", R | W), rule],
            &[],
            &tree(),
        )
        .unwrap();
        assert!(
            p.grants.iter().all(|g| !g.path.contains("link")),
            "{:?}",
            p.grants
        );
        assert!(p.grants.iter().all(|g| !g.follow || g.path == "/home"));
    }

    #[test]
    fn grants_name_resolved_paths() {
        // What lets the runtime open every grant refusing symbolic links (`openat2`,
        // `RESOLVE_NO_SYMLINKS`): an allow through a link is granted where it resolves.
        let fs = super::super::resolve::fake::Links::new(&[("/home", Link::To("var/home".into()))]);
        let p = place(&[allow("/home/u", R)], &[], &fs).unwrap();
        let paths: Vec<&str> = p.grants.iter().map(|g| g.path.as_str()).collect();
        assert_eq!(paths, ["/var/home/u"]);
    }

    #[test]
    fn missing_allow_paths_are_reported() {
        let p = place(&[allow("/nope", R)], &[], &tree()).unwrap();
        assert_eq!(p.missing, vec!["/nope".to_owned()]);
        assert!(p.grants.is_empty());
    }

    fn paths(p: &Placement) -> Vec<(&str, u16)> {
        p.grants.iter().map(|g| (g.path.as_str(), g.mask)).collect()
    }

    /// The attack the link rule stops: ring 2 may write `/tmp` and replaced the workspace
    /// under it with a link to `/etc`; ring 3, which reads the workspace and writes nothing,
    /// must not follow it, though its own rules give it no write anywhere.
    #[test]
    fn a_link_in_a_directory_another_ring_writes_is_not_followed() {
        let fs = Model::new(&[
            ("/", Kind::Dir),
            ("/tmp", Kind::Dir),
            ("/etc", Kind::Dir),
            ("/etc/shadow", Kind::File),
            ("/usr", Kind::Dir),
        ])
        .link("/tmp/ws", "/etc");
        let ring3 = [allow("/usr", R), allow("/tmp/ws", R)];
        // Only ring 3's own rules: nothing writable, the link is followed (today's attack).
        let p = place(&ring3, &[], &fs).unwrap();
        assert!(p.grants.iter().any(|g| g.path == "/etc"), "{:?}", p.grants);
        // Ring 2 writes `/tmp`: the workspace is skipped and reported, `/usr` still granted.
        let p = place(&ring3, &["/tmp".to_owned()], &fs).unwrap();
        assert_eq!(paths(&p), [("/usr", R)]);
        assert_eq!(p.through_links, ["/tmp/ws"]);
    }

    #[test]
    fn every_component_counts_and_links_in_link_targets_too() {
        // `/srv/app` (a link in `/srv`, which no ring writes) -> `/tmp/w`, in which
        // `/tmp/w/data` is a link to `/etc`: the second link is in a writable directory.
        let fs = Model::new(&[
            ("/", Kind::Dir),
            ("/srv", Kind::Dir),
            ("/tmp", Kind::Dir),
            ("/tmp/w", Kind::Dir),
            ("/etc", Kind::Dir),
            ("/opt", Kind::Dir),
            ("/opt/real", Kind::Dir),
        ])
        .link("/srv/app", "/tmp/w")
        .link("/tmp/w/data", "/etc")
        .link("/srv/tool", "/opt/real");
        let rules = [
            allow("/srv/app/data", R),
            allow("/srv/app", R),
            allow("/srv/tool", R),
        ];
        let p = place(&rules, &["/tmp".to_owned()], &fs).unwrap();
        // `/srv/app` resolves through `/srv` only: followed. `/srv/app/data` meets the link
        // in `/tmp/w`: skipped. `/srv/tool`, a link in `/srv` to a directory no ring writes:
        // followed (a system link, like `/lib` -> `usr/lib`).
        assert_eq!(paths(&p), [("/opt/real", R), ("/tmp/w", R)]);
        assert_eq!(p.through_links, ["/srv/app/data"]);
        // A ring that may write `/srv` makes every one of them suspect.
        let p = place(&rules, &["/srv".to_owned()], &fs).unwrap();
        assert!(p.grants.is_empty(), "{:?}", p.grants);
        assert_eq!(p.through_links.len(), 3);
    }

    #[test]
    fn a_real_directory_in_a_writable_directory_is_granted() {
        let fs = Model::new(&[
            ("/", Kind::Dir),
            ("/tmp", Kind::Dir),
            ("/tmp/ws", Kind::Dir),
        ]);
        let p = place(&[allow("/tmp/ws", R)], &["/tmp".to_owned()], &fs).unwrap();
        assert_eq!(paths(&p), [("/tmp/ws", R)]);
        assert!(p.through_links.is_empty());
    }

    fn env_glob(root: &str, mask: u16) -> BoundRule {
        glob(
            &format!("{root}/**/.env*"),
            root,
            vec![vec![
                Component::AnyDepth,
                Component::Pattern(".env*".into()),
            ]],
            mask,
        )
    }

    /// A deny-glob match that is a link denies nothing and gets no rule; the link is not
    /// walked (a link to `/usr` must not make placement read `/usr`).
    #[test]
    fn a_deny_glob_match_that_is_a_link_denies_nothing() {
        let fs = Model::new(&[
            ("/", Kind::Dir),
            ("/ws", Kind::Dir),
            ("/ws/src", Kind::Dir),
            ("/ws/src/main.rs", Kind::File),
            ("/ws/.env", Kind::File),
            ("/usr", Kind::Dir),
            ("/usr/bin", Kind::Dir),
            ("/usr/bin/dash", Kind::File),
        ])
        .link("/ws/src/.envY", "/usr/bin/dash")
        .link("/ws/src/.envZ", "/usr")
        .link("/ws/src/.envW", "/ws/.env");
        let rules = [allow("/usr", R), allow("/ws", R | W), env_glob("/ws", R)];
        let p = place(&rules, &["/ws".to_owned()], &fs).unwrap();
        assert_eq!(
            p.glob_matches,
            vec![("/ws/**/.env*".to_owned(), vec!["/ws/.env".to_owned()])]
        );
        assert_eq!(
            p.glob_links,
            ["/ws/src/.envW", "/ws/src/.envY", "/ws/src/.envZ"]
        );
        // `/usr` keeps its rule; nothing under `/usr` was read or split.
        assert!(p.grants.contains(&Grant {
            path: "/usr".into(),
            mask: R,
            is_dir: true,
            follow: true
        }));
        assert!(p.split.iter().all(|(d, _)| !d.starts_with("/usr")));
        assert!(
            p.grants.iter().all(|g| !g.path.contains(".env")),
            "{:?}",
            p.grants
        );
        // `/ws/src` is not split for the links; `/ws` is, for the real `.env`, whose read is
        // withheld (and a link to it reaches it where it is); a file's read deny leaves
        // listing `/ws` alone.
        assert_eq!(p.split, [("/ws".to_owned(), Right::ReadFile.bit())]);
        assert!(p.grants.contains(&Grant {
            path: "/ws/src".into(),
            mask: Right::ReadFile.bit(),
            is_dir: true,
            follow: false
        }));
    }

    /// A deny glob whose root goes through a link a ring may have planted matches nothing
    /// (walking the target would read, and deny, what the policy never named there).
    #[test]
    fn a_deny_glob_root_through_a_planted_link_matches_nothing() {
        let mut paths: Vec<(String, Kind)> = vec![
            ("/".into(), Kind::Dir),
            ("/tmp".into(), Kind::Dir),
            ("/usr".into(), Kind::Dir),
        ];
        for i in 0..50 {
            paths.push((format!("/usr/.env{i}"), Kind::File));
        }
        let refs: Vec<(&str, Kind)> = paths.iter().map(|(p, k)| (p.as_str(), *k)).collect();
        let fs = Model::new(&refs).link("/tmp/ws", "/usr");
        let rules = [
            allow("/usr", R),
            allow("/tmp", R | W),
            env_glob("/tmp/ws", R),
        ];
        let p = place(&rules, &["/tmp".to_owned()], &fs).unwrap();
        assert_eq!(p.through_links, ["/tmp/ws"]);
        assert!(p.glob_matches.is_empty());
        assert_eq!(p.entries_read, 0);
    }

    /// A workspace of `n` files in the shapes a planted tree can take: flat, spread over
    /// directories, deep chains, every directory holding a match, with an exception glob
    /// too. Returns the work placement did; `masked`: with the isolation layer taking every
    /// other deny point.
    fn work_for(shape: &str, n: usize, masked: bool) -> (usize, usize) {
        let mut paths: Vec<(String, Kind)> =
            vec![("/".into(), Kind::Dir), ("/ws".into(), Kind::Dir)];
        let dir = |p: String, paths: &mut Vec<(String, Kind)>| {
            if !paths.iter().rev().take(64).any(|(q, _)| *q == p) {
                paths.push((p, Kind::Dir));
            }
        };
        match shape {
            "flat" => {
                for i in 0..n {
                    paths.push((format!("/ws/.env{i}"), Kind::File));
                }
            }
            "spread" => {
                for i in 0..n {
                    let d = format!("/ws/a{}/b{}", i % 10, (i / 10) % 100);
                    dir(format!("/ws/a{}", i % 10), &mut paths);
                    dir(d.clone(), &mut paths);
                    paths.push((format!("{d}/.env{i}"), Kind::File));
                }
            }
            "deep" => {
                // Chains 100 directories deep, a match and a plain file at every level.
                let mut made = 0;
                let mut chain = 0;
                while made < n {
                    let mut d = format!("/ws/c{chain}");
                    for _ in 0..100 {
                        if made >= n {
                            break;
                        }
                        paths.push((d.clone(), Kind::Dir));
                        paths.push((format!("{d}/.env"), Kind::File));
                        paths.push((format!("{d}/f"), Kind::File));
                        d.push_str("/d");
                        made += 2;
                    }
                    chain += 1;
                }
            }
            "chain" => {
                // One chain as deep as the paths make it (10 files a level: 180 levels for
                // 2,000 paths, 1,800 for 20,000), a match at every level.
                let mut d = "/ws".to_owned();
                let mut made = 0;
                while made < n {
                    d.push_str("/d");
                    paths.push((d.clone(), Kind::Dir));
                    paths.push((format!("{d}/.env"), Kind::File));
                    for f in 0..9 {
                        paths.push((format!("{d}/f{f}"), Kind::File));
                    }
                    made += 11;
                }
            }
            _ => unreachable!(),
        }
        paths.sort();
        paths.dedup();
        let refs: Vec<(&str, Kind)> = paths.iter().map(|(p, k)| (p.as_str(), *k)).collect();
        let fs = Model::new(&refs);
        let mut env = env_glob("/ws", R);
        env.except = vec![BoundTarget::Glob {
            text: "/ws/**/.env.example".into(),
            root: "/ws".into(),
            alternatives: vec![vec![
                Component::AnyDepth,
                Component::Literal(".env.example".into()),
            ]],
        }];
        let rules = [allow("/ws", R | W), env, deny("/ws/secret", R)];
        let writable = ["/ws".to_owned()];
        let p = if masked {
            let p = place_masked(&rules, &writable, &fs, true, &mut |points| {
                (0..points.len()).map(|i| i % 2 == 0).collect()
            })
            .unwrap();
            assert!(!p.masked.is_empty());
            p
        } else {
            place(&rules, &writable, &fs).unwrap()
        };
        let matched: usize = p.glob_matches.iter().map(|(_, m)| m.len()).sum();
        assert!(matched > 0);
        (p.work, paths.len())
    }

    /// Placement's cost grows with the number of paths, not with its square: 20,000 paths
    /// cost at most 12 times the work of 2,000, in every shape, a chain as deep as the
    /// paths make it included (where placement took time in the fourth power of the depth).
    /// The work counts entries read, tree nodes, glob automaton steps and visits: a
    /// deterministic stand-in for time, which `cargo bench -p nonoc --bench apply` measures.
    /// The same with the isolation layer masking half the deny points.
    #[test]
    fn placement_work_is_linear_in_the_paths() {
        for masked in [false, true] {
            for shape in ["flat", "spread", "deep", "chain"] {
                let (small, small_paths) = work_for(shape, 2_000, masked);
                let (large, large_paths) = work_for(shape, 20_000, masked);
                let ratio = large as f64 / small as f64;
                let paths_ratio = large_paths as f64 / small_paths as f64;
                assert!(
                    ratio <= 12.0 && ratio <= paths_ratio * 1.2,
                    "{shape} (masked: {masked}): work {small} for {small_paths} paths, {large} for {large_paths} ({ratio:.1}x)"
                );
            }
        }
    }

    /// A small deterministic random source for the property below.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// On random trees and rules: every existing path gets exactly the rights the policy
    /// gives it (allows above it, minus the denies covering it that no exception covers),
    /// but the split directories, which get no more than that.
    #[test]
    fn grants_match_the_policy_on_random_trees() {
        const NAMES: [&str; 5] = ["a", "b", ".env", ".env.example", "c"];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..400 {
            let mut paths: Vec<(String, Kind)> = vec![("/".into(), Kind::Dir)];
            let mut dirs = vec!["/".to_owned()];
            for _ in 0..12 {
                let parent = dirs[rng.below(dirs.len())].clone();
                if parent.matches('/').count() >= 4 {
                    continue;
                }
                let path = join(&parent, NAMES[rng.below(NAMES.len())]);
                if paths.iter().any(|(p, _)| *p == path) {
                    continue;
                }
                let kind = if rng.below(3) == 0 {
                    Kind::File
                } else {
                    Kind::Dir
                };
                if kind == Kind::Dir {
                    dirs.push(path.clone());
                }
                paths.push((path, kind));
            }
            let refs: Vec<(&str, Kind)> = paths.iter().map(|(p, k)| (p.as_str(), *k)).collect();
            let fs = Model::new(&refs);
            let pick = |rng: &mut Rng| paths[rng.below(paths.len())].0.clone();
            let mut rules = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let mask = [R, W, R | W][rng.below(3)];
                rules.push(allow(&pick(&mut rng), mask));
            }
            for _ in 0..rng.below(3) {
                let mask = [R, W, R | W][rng.below(3)];
                let mut rule = match rng.below(2) {
                    0 => deny(&pick(&mut rng), mask),
                    _ => {
                        let root = dirs[rng.below(dirs.len())].clone();
                        env_glob(&root, mask)
                    }
                };
                // An exception lies inside its deny (the compiler refuses others).
                let inside: Vec<&String> = paths
                    .iter()
                    .map(|(p, _)| p)
                    .filter(|p| match &rule.target {
                        BoundTarget::Path(d) => within(p, d),
                        BoundTarget::Glob { root, .. } => within(p, root),
                    })
                    .collect();
                match rng.below(3) {
                    0 if !inside.is_empty() => rule
                        .except
                        .push(BoundTarget::Path(inside[rng.below(inside.len())].clone())),
                    1 => rule.except.push(BoundTarget::Glob {
                        text: "/**/.env.example".into(),
                        root: "/".into(),
                        alternatives: vec![vec![
                            Component::AnyDepth,
                            Component::Literal(".env.example".into()),
                        ]],
                    }),
                    _ => {}
                }
                rules.push(rule);
            }
            let p = place(&rules, &[], &fs).unwrap();
            let covers = |target: &BoundTarget, path: &str| match target {
                BoundTarget::Path(t) => within(path, t),
                BoundTarget::Glob {
                    root, alternatives, ..
                } => glob_covers(root, alternatives, path),
            };
            for (path, _) in &paths {
                let allowed = rules
                    .iter()
                    .filter(|r| r.allow && covers(&r.target, path))
                    .fold(0, |m, r| m | r.mask);
                let denied = rules
                    .iter()
                    .filter(|r| !r.allow && covers(&r.target, path))
                    .filter(|r| !r.except.iter().any(|e| covers(e, path)))
                    .fold(0, |m, r| m | r.mask);
                let want = allowed & !denied;
                let got = p
                    .grants
                    .iter()
                    .filter(|g| within(path, &g.path))
                    .fold(0, |m, g| m | g.mask);
                // `read_dir` means nothing for a file (a read-denied file leaves it to the
                // directories above).
                let (got, want) = match fs.kind(path) {
                    Kind::File => (got & !Right::ReadDir.bit(), want & !Right::ReadDir.bit()),
                    _ => (got, want),
                };
                let split = p.split.iter().any(|(d, _)| d == path);
                let ok = if split { got & !want == 0 } else { got == want };
                assert!(
                    ok,
                    "case {case}: {path}: granted {got:#b}, policy {want:#b} (split: {split})\nrules: {rules:?}\npaths: {paths:?}\n{p:?}"
                );
            }
        }
    }
}
