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

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use super::glob::{glob_covers, glob_matches};
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

/// Most symbolic links followed while resolving one path (the kernel's limit).
const MAX_LINKS: usize = 40;

/// A bound target: a concrete path, or a glob with its root bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Path(String),
    Glob {
        text: String,
        root: String,
        alternatives: Vec<Vec<Component>>,
    },
}

impl Bound {
    fn covers(&self, path: &str) -> bool {
        match self {
            Bound::Path(p) => within(path, p),
            Bound::Glob {
                root, alternatives, ..
            } => glob_covers(root, alternatives, path),
        }
    }

    fn root(&self) -> &str {
        match self {
            Bound::Path(p) => p,
            Bound::Glob { root, .. } => root,
        }
    }
}

/// A filesystem rule with variables bound.
#[derive(Debug, Clone)]
pub struct BoundRule {
    pub allow: bool,
    pub target: Bound,
    pub mask: u16,
    pub except: Vec<Bound>,
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
    /// Existing paths found for each deny glob.
    pub glob_matches: Vec<(String, Vec<String>)>,
    /// Allow paths skipped because they go through a link inside a directory the ring may
    /// write: the agent could have planted it.
    pub through_links: Vec<String>,
    pub entries_read: usize,
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

/// Whether `path` is `dir` or lies under it.
pub fn within(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|t| t.starts_with('/'))
}

/// `path`, then each of its ancestors up to `/`: every `dir` with `within(path, dir)`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.rfind('/') {
            _ if current == "/" => None,
            Some(0) => Some("/"),
            Some(i) => Some(&current[..i]),
            None => None,
        };
        Some(current)
    })
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A denied path's rule (the path is its key in `Placer::denies_at`).
struct Denied {
    mask: u16,
    except: Vec<Bound>,
}

struct Placer<'a, F: Fs> {
    fs: &'a F,
    allows: Vec<(String, u16)>,
    denies: Vec<Denied>,
    /// Indexes into `denies` by denied path: a path's denies are those at its ancestors, so
    /// `desired` costs the path's depth, not the number of denies (a deny glob can match
    /// thousands of files).
    denies_at: BTreeMap<String, Vec<usize>>,
    points: BTreeSet<String>,
    out: Placement,
}

/// A filesystem view that asks the real one once per path: placement looks at the same
/// paths several times, and every `stat` is paid on each agent start.
struct Cached<'a, F: Fs> {
    inner: &'a F,
    kinds: RefCell<BTreeMap<String, Kind>>,
    links: RefCell<BTreeMap<String, bool>>,
    read_links: RefCell<BTreeMap<String, Link>>,
    /// Resolved paths: with every `readlink` answer kept, resolving a path again gives the
    /// same answer, so it is worked out once.
    real_paths: RefCell<BTreeMap<String, String>>,
}

impl<F: Fs> Fs for Cached<'_, F> {
    fn kind(&self, path: &str) -> Kind {
        if let Some(kind) = self.kinds.borrow().get(path) {
            return *kind;
        }
        let kind = self.inner.kind(path);
        self.kinds.borrow_mut().insert(path.to_owned(), kind);
        kind
    }

    fn entries(&self, dir: &str) -> std::io::Result<Vec<(String, Kind)>> {
        self.inner.entries(dir)
    }

    fn is_symlink(&self, path: &str) -> bool {
        if let Some(link) = self.links.borrow().get(path) {
            return *link;
        }
        let link = self.inner.is_symlink(path);
        self.links.borrow_mut().insert(path.to_owned(), link);
        link
    }

    fn real_path(&self, path: &str) -> String {
        if let Some(real) = self.real_paths.borrow().get(path) {
            return real.clone();
        }
        let real = resolve(self, path);
        self.real_paths
            .borrow_mut()
            .insert(path.to_owned(), real.clone());
        real
    }

    fn read_link(&self, path: &str) -> Link {
        if let Some(link) = self.read_links.borrow().get(path) {
            return link.clone();
        }
        let (link, seen) = self.inner.read_link_and_kind(path);
        // A link seen by `lstat` stays a link even if reading it failed since; its kind is
        // what it points to, asked when needed.
        let is_link = matches!(link, Link::To(_)) || seen == Some(Kind::Symlink);
        self.links.borrow_mut().insert(path.to_owned(), is_link);
        if let Some(kind) = seen.filter(|k| *k != Kind::Symlink) {
            self.kinds.borrow_mut().insert(path.to_owned(), kind);
        }
        self.read_links
            .borrow_mut()
            .insert(path.to_owned(), link.clone());
        link
    }
}

/// Resolves every symbolic link of an absolute path, component by component (as the
/// kernel does), with one `readlink` per distinct prefix thanks to the cache. For a path
/// that does not exist: the longest existing ancestor resolved, the rest appended. A loop
/// of links leaves the rest unresolved, as the kernel would refuse the path anyway.
fn resolve<F: Fs>(fs: &F, path: &str) -> String {
    let mut queue: Vec<String> = path
        .split('/')
        .rev()
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let mut current = String::from("/");
    let mut links = 0;
    while let Some(name) = queue.pop() {
        match name.as_str() {
            "." => continue,
            ".." => {
                current = match current.rfind('/') {
                    Some(0) | None => "/".to_owned(),
                    Some(i) => current[..i].to_owned(),
                };
                continue;
            }
            _ => {}
        }
        let candidate = join(&current, &name);
        match fs.read_link(&candidate) {
            Link::NotLink => current = candidate,
            Link::To(target) if links < MAX_LINKS => {
                links += 1;
                if target.starts_with('/') {
                    current = "/".to_owned();
                }
                queue.extend(
                    target
                        .split('/')
                        .rev()
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
            }
            Link::To(_) | Link::Missing => {
                let mut out = candidate;
                while let Some(rest) = queue.pop() {
                    out = join(&out, &rest);
                }
                return out;
            }
        }
    }
    current
}

/// Rights that let the agent replace an entry of a directory (and so plant a link there).
const REPLACE_ENTRIES: u16 = Right::MakeReg.bit()
    | Right::MakeDir.bit()
    | Right::MakeSym.bit()
    | Right::MakeSock.bit()
    | Right::MakeFifo.bit()
    | Right::MakeChar.bit()
    | Right::MakeBlock.bit()
    | Right::RemoveFile.bit()
    | Right::RemoveDir.bit()
    | Right::Refer.bit();

/// Drops the allow rules whose path goes through a symbolic link below another allowed
/// directory that the ring may change entries of: between two runs the agent could have put
/// that link there, and following it would grant what it points to.
fn without_planted_links<F: Fs>(rules: &[BoundRule], fs: &F) -> (Vec<BoundRule>, Vec<String>) {
    let writable: Vec<&str> = rules
        .iter()
        .filter(|r| r.allow && r.mask & REPLACE_ENTRIES != 0)
        .filter_map(|r| match &r.target {
            Bound::Path(p) => Some(p.as_str()),
            Bound::Glob { .. } => None,
        })
        .collect();
    let mut kept = Vec::with_capacity(rules.len());
    let mut skipped = Vec::new();
    for rule in rules {
        let planted = match (&rule.target, rule.allow) {
            (Bound::Path(path), true) => writable.iter().any(|dir| {
                *dir != path && within(path, dir) && {
                    let real_dir = fs.real_path(dir);
                    let tail = &path[if *dir == "/" { 0 } else { dir.len() }..];
                    let expected = if real_dir == "/" {
                        tail.to_owned()
                    } else {
                        format!("{real_dir}{tail}")
                    };
                    fs.real_path(path) != expected
                }
            }),
            _ => false,
        };
        if planted {
            if let Bound::Path(p) = &rule.target {
                skipped.push(p.clone());
            }
        } else {
            kept.push(rule.clone());
        }
    }
    (kept, skipped)
}

/// The rules with every concrete path (and glob root) resolved to where it really is: a deny
/// of `${home}/.ssh` with `home` bound through a symlink must split the real directory, not
/// a name that placement would never see under the allowed tree.
///
/// Three cases keep a link from opening a way around a deny:
/// - an exception is rebased onto the resolved deny by its name relative to the deny, never
///   resolved through links below it (the agent may plant one there between runs);
/// - a deny whose path goes through a link is also kept as written, so the link itself (and
///   every directory on the way to it) is split too: the link cannot be removed or replaced;
/// - deny-glob matches are resolved when they are placed (`add_deny`).
fn resolved<F: Fs>(rules: &[BoundRule], fs: &F) -> Vec<BoundRule> {
    let resolve_glob = |target: &Bound| match target {
        Bound::Path(p) => Bound::Path(fs.real_path(p)),
        Bound::Glob {
            text,
            root,
            alternatives,
        } => Bound::Glob {
            text: text.clone(),
            root: fs.real_path(root),
            alternatives: alternatives.clone(),
        },
    };
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        if rule.allow {
            out.push(BoundRule {
                target: resolve_glob(&rule.target),
                ..rule.clone()
            });
            continue;
        }
        let Bound::Path(written) = &rule.target else {
            out.push(BoundRule {
                target: resolve_glob(&rule.target),
                except: rule.except.iter().map(resolve_glob).collect(),
                ..rule.clone()
            });
            continue;
        };
        let real = fs.real_path(written);
        let rebase = |except: &Bound| -> Option<Bound> {
            let rebase_path = |p: &str| -> Option<String> {
                let tail = if written == "/" {
                    Some(p)
                } else {
                    p.strip_prefix(written.as_str())
                }?;
                (tail.is_empty() || tail.starts_with('/') || written == "/")
                    .then(|| {
                        if real == "/" {
                            tail.to_owned()
                        } else {
                            format!("{real}{tail}")
                        }
                    })
                    .map(|s| if s.is_empty() { "/".to_owned() } else { s })
            };
            match except {
                // An exception outside its deny is dropped: it could only widen it.
                Bound::Path(p) => rebase_path(p).map(Bound::Path),
                Bound::Glob {
                    text,
                    root,
                    alternatives,
                } => Some(Bound::Glob {
                    text: text.clone(),
                    root: rebase_path(root).unwrap_or_else(|| root.clone()),
                    alternatives: alternatives.clone(),
                }),
            }
        };
        out.push(BoundRule {
            allow: false,
            target: Bound::Path(real.clone()),
            mask: rule.mask,
            except: rule.except.iter().filter_map(rebase).collect(),
        });
        if real != *written {
            out.push(BoundRule {
                allow: false,
                target: Bound::Path(written.clone()),
                mask: rule.mask,
                except: rule
                    .except
                    .iter()
                    .filter(|e| {
                        matches!(e, Bound::Path(p) if within(p, written))
                            || matches!(e, Bound::Glob { .. })
                    })
                    .cloned()
                    .collect(),
            });
        }
    }
    out
}

/// Places rules: the grants to add so that no path gets more than the policy allows.
#[cfg(any(test, feature = "compiler"))]
pub fn place<F: Fs>(rules: &[BoundRule], fs: &F) -> Result<Placement, Error> {
    let cached = Cached {
        inner: fs,
        kinds: RefCell::new(BTreeMap::new()),
        links: RefCell::new(BTreeMap::new()),
        read_links: RefCell::new(BTreeMap::new()),
        real_paths: RefCell::new(BTreeMap::new()),
    };
    let (rules, through_links) = without_planted_links(rules, &cached);
    let mut placement = place_cached(&resolved(&rules, &cached), &cached, &mut |_| false)?;
    placement.through_links = through_links;
    Ok(placement)
}

/// Places rules for the isolation layer: each deny point strictly inside an allowed directory
/// that grants some of its denied rights is offered to `mask`; the points it takes are left
/// out of the placement (no directory is split for them; the caller masks them in a mount
/// namespace) and listed in `Placement::masked`. The others are carved out as by [`place`].
pub fn place_masked<F: Fs>(
    rules: &[BoundRule],
    fs: &F,
    mask: &mut dyn FnMut(&DenyPoint) -> bool,
) -> Result<Placement, Error> {
    let cached = Cached {
        inner: fs,
        kinds: RefCell::new(BTreeMap::new()),
        links: RefCell::new(BTreeMap::new()),
        read_links: RefCell::new(BTreeMap::new()),
        real_paths: RefCell::new(BTreeMap::new()),
    };
    let (rules, through_links) = without_planted_links(rules, &cached);
    let mut placement = place_cached(&resolved(&rules, &cached), &cached, mask)?;
    placement.through_links = through_links;
    Ok(placement)
}

fn place_cached<F: Fs>(
    rules: &[BoundRule],
    fs: &F,
    mask: &mut dyn FnMut(&DenyPoint) -> bool,
) -> Result<Placement, Error> {
    let allows: Vec<(String, u16)> = rules
        .iter()
        .filter(|r| r.allow)
        .filter_map(|r| match &r.target {
            Bound::Path(p) => Some((p.clone(), r.mask)),
            Bound::Glob { .. } => None, // allow rules take no globs (compiler-checked)
        })
        .collect();
    let mut placer = Placer {
        fs,
        allows,
        denies: Vec::new(),
        denies_at: BTreeMap::new(),
        points: BTreeSet::new(),
        out: Placement::default(),
    };
    for rule in rules.iter().filter(|r| !r.allow) {
        placer.add_deny(rule)?;
    }
    placer.leave_to_masks(mask);
    for (path, _) in &placer.allows {
        placer.points.insert(path.clone());
    }
    let mut roots: Vec<String> = placer
        .allows
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| !placer.allows.iter().any(|(q, _)| q != p && within(p, q)))
        .collect();
    roots.sort();
    roots.dedup();
    for root in roots {
        match fs.kind(&root) {
            Kind::Missing => placer.out.missing.push(root),
            _ => placer.visit(&root, 0)?,
        }
    }
    // Nested allow paths that do not exist are reported too.
    for (path, _) in &placer.allows {
        if fs.kind(path) == Kind::Missing && !placer.out.missing.contains(path) {
            placer.out.missing.push(path.clone());
        }
    }
    placer.out.missing.sort();
    Ok(placer.out)
}

impl<F: Fs> Placer<'_, F> {
    fn read(&mut self, dir: &str) -> Result<Vec<(String, Kind)>, Error> {
        let entries = self
            .fs
            .entries(dir)
            .map_err(|e| Error::system(format!("cannot read directory `{dir}` to split it"), e))?;
        self.out.entries_read += entries.len();
        if self.out.entries_read > MAX_ENTRIES {
            return Err(Error::Apply(format!(
                "more than {MAX_ENTRIES} directory entries read while expanding deny globs and carve-outs; refusing to apply a partial sandbox"
            )));
        }
        Ok(entries)
    }

    /// Turns a deny rule into concrete denied paths (globs: the existing matches inside
    /// allowed directories) and records the points where rights change.
    fn add_deny(&mut self, rule: &BoundRule) -> Result<(), Error> {
        let paths = match &rule.target {
            Bound::Path(p) => vec![p.clone()],
            Bound::Glob { text, .. } => {
                let found = self.expand(&rule.target, rule.mask)?;
                self.out.glob_matches.push((text.clone(), found.clone()));
                // A match that is, or lies below, a link denies where it really is too.
                let mut paths = found.clone();
                for m in &found {
                    let real = self.fs.real_path(m);
                    if real != *m {
                        paths.push(real);
                    }
                }
                paths
            }
        };
        for path in paths {
            // Exception points inside the denied path.
            for except in &rule.except {
                match except {
                    Bound::Path(p) if within(p, &path) => {
                        self.points.insert(p.clone());
                    }
                    Bound::Glob { .. } => {
                        for p in self.walk_matches(&path, except)? {
                            self.points.insert(p);
                        }
                    }
                    Bound::Path(_) => {}
                }
            }
            self.points.insert(path.clone());
            self.denies_at
                .entry(path.clone())
                .or_default()
                .push(self.denies.len());
            self.denies.push(Denied {
                mask: rule.mask,
                except: rule.except.clone(),
            });
        }
        Ok(())
    }

    /// Offers every deny point that would split an allowed directory to `mask`, and takes
    /// the ones it accepts out of the placement.
    fn leave_to_masks(&mut self, mask: &mut dyn FnMut(&DenyPoint) -> bool) {
        let paths: Vec<String> = self.denies_at.keys().cloned().collect();
        for path in paths {
            let Some(indexes) = self.denies_at.get(&path) else {
                continue;
            };
            let denies: Vec<&Denied> = indexes.iter().map(|&i| &self.denies[i]).collect();
            // An exception that covers the point itself: the point is not (wholly) denied.
            if denies
                .iter()
                .any(|d| d.except.iter().any(|e| e.covers(&path)))
            {
                continue;
            }
            let denied = denies.iter().fold(0, |m, d| m | d.mask);
            let above = self
                .allows
                .iter()
                .filter(|(a, _)| *a != path && within(&path, a))
                .fold(0, |m, (_, r)| m | r);
            if above & denied == 0 {
                // Nothing above grants what the deny withholds: no directory is split for it.
                continue;
            }
            let granted = self
                .allows
                .iter()
                .filter(|(a, _)| within(&path, a) || within(a, &path))
                .fold(0, |m, (_, r)| m | r);
            let except_inside = denies.iter().any(|d| {
                d.except.iter().any(|e| match e {
                    Bound::Path(p) => p != &path && within(p, &path),
                    Bound::Glob { root, .. } => within(root, &path) || within(&path, root),
                })
            });
            // A link in any component: a mount would land where the link points.
            let kind = if self.fs.is_symlink(&path) || self.fs.real_path(&path) != path {
                Kind::Symlink
            } else {
                self.fs.kind(&path)
            };
            let point = DenyPoint {
                path: path.clone(),
                denied,
                granted,
                kind,
                except_inside,
            };
            if mask(&point) {
                self.denies_at.remove(&path);
                if !self.allows.iter().any(|(a, _)| *a == path) {
                    self.points.remove(&path);
                }
                self.out.masked.push(point);
            }
        }
    }

    /// The existing paths a deny glob matches inside allowed directories that grant some of
    /// the denied rights.
    fn expand(&mut self, glob: &Bound, mask: u16) -> Result<Vec<String>, Error> {
        let root = glob.root().to_owned();
        let mut starts: Vec<String> = Vec::new();
        for (allowed, allowed_mask) in self.allows.clone() {
            if allowed_mask & mask == 0 {
                continue;
            }
            if within(&root, &allowed) {
                starts.push(root.clone());
            } else if within(&allowed, &root) {
                starts.push(allowed);
            }
        }
        // A glob may match an ancestor of an allowed directory (below the glob's root): it then
        // covers that whole directory. The walks below only look at a start and beneath it.
        let Bound::Glob { alternatives, .. } = glob else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for start in &starts {
            let mut current = start.as_str();
            while current != root {
                let Some(i) = current.rfind('/') else { break };
                current = if i == 0 { "/" } else { &current[..i] };
                if !within(current, &root) {
                    break;
                }
                if glob_matches(&root, alternatives, current) {
                    found.push(current.to_owned());
                }
            }
        }
        starts.sort();
        starts.dedup();
        let starts: Vec<String> = starts
            .iter()
            .filter(|s| {
                !starts.iter().any(|o| o != *s && within(s, o))
                    && !found.iter().any(|f: &String| within(s, f))
            })
            .cloned()
            .collect();
        for start in starts {
            found.extend(self.walk_matches(&start, glob)?);
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// Paths at or under `start` matched exactly by a glob; subtrees under a match are not
    /// searched further (the match covers them).
    fn walk_matches(&mut self, start: &str, glob: &Bound) -> Result<Vec<String>, Error> {
        let Bound::Glob {
            root, alternatives, ..
        } = glob
        else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        let mut stack = vec![start.to_owned()];
        while let Some(path) = stack.pop() {
            if glob_matches(root, alternatives, &path) {
                // A glob covers what exists at apply time (the walk meets only entries that
                // do; the start, named by the glob's root, may not).
                if path != start || self.fs.kind(&path) != Kind::Missing {
                    found.push(path);
                }
                continue;
            }
            if self.fs.kind(&path) != Kind::Dir {
                continue;
            }
            for (name, kind) in self.read(&path)? {
                let child = join(&path, &name);
                if kind == Kind::Dir {
                    stack.push(child);
                } else if glob_matches(root, alternatives, &child) {
                    found.push(child);
                }
            }
        }
        Ok(found)
    }

    /// The rights the policy gives a concrete path.
    fn desired(&self, path: &str) -> u16 {
        let allowed = self
            .allows
            .iter()
            .filter(|(p, _)| within(path, p))
            .fold(0, |m, (_, a)| m | a);
        let denied = ancestors(path)
            .filter_map(|dir| self.denies_at.get(dir))
            .flatten()
            .map(|&i| &self.denies[i])
            .filter(|d| !d.except.iter().any(|e| e.covers(path)))
            .fold(0, |m, d| m | d.mask);
        allowed & !denied
    }

    /// What a directory above `path` may keep for `path`'s sake: the rights the policy gives
    /// `path`, and for a file also `read_dir`, which governs listing a directory and means
    /// nothing for a file (listing the directory that holds a read-denied file shows its name,
    /// as the policy allows; the file's content stays denied by its own rule).
    fn desired_above(&self, path: &str) -> u16 {
        let desired = self.desired(path);
        if self.fs.kind(path) == Kind::File {
            desired | Right::ReadDir.bit()
        } else {
            desired
        }
    }

    /// Points strictly below `path`, in order.
    fn points_below(&self, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        self.points
            .range(prefix.clone()..)
            .take_while(|p| p.starts_with(&prefix))
            .filter(|p| p.as_str() != path)
            .cloned()
            .collect()
    }

    fn grant(&mut self, path: &str, mask: u16, granted: u16) {
        let mask = mask & !granted;
        if mask == 0 {
            return;
        }
        let follow = self.allows.iter().any(|(p, _)| p == path);
        if !follow && self.through_symlink(path) {
            // The rights are for this path; through a link they would go to its target,
            // which the policy governs where it really is.
            return;
        }
        let is_dir = self.fs.kind(path) == Kind::Dir;
        self.out.grants.push(Grant {
            path: path.to_owned(),
            mask,
            is_dir,
            follow,
        });
    }

    /// Whether `path` or one of its ancestors below the nearest allow rule's path is a
    /// symlink (the allow path itself may be one: rules name what a path resolves to).
    fn through_symlink(&self, path: &str) -> bool {
        let Some(root) = self
            .allows
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| within(path, p))
            .max_by_key(|p| p.len())
        else {
            return true;
        };
        let mut current = path;
        while current != root {
            if self.fs.is_symlink(current) {
                return true;
            }
            match current.rfind('/') {
                Some(0) => current = "/",
                Some(i) => current = &current[..i],
                None => return true,
            }
        }
        false
    }

    fn visit(&mut self, path: &str, granted: u16) -> Result<(), Error> {
        let here = self.desired(path);
        let below = self.points_below(path);
        let common = below.iter().fold(here, |m, p| m & self.desired_above(p));
        if common == here {
            // Nothing below has less: grant here, then add what nested points add.
            self.grant(path, here, granted);
            let set: BTreeSet<&str> = below.iter().map(String::as_str).collect();
            let nearest: Vec<String> = below
                .iter()
                .filter(|p| {
                    !ancestors(p)
                        .skip(1)
                        .take_while(|a| *a != path)
                        .any(|a| set.contains(a))
                })
                .cloned()
                .collect();
            for point in nearest {
                if self.fs.kind(&point) != Kind::Missing {
                    self.visit(&point, granted | here)?;
                }
            }
            return Ok(());
        }
        // Split: this directory gets what its whole subtree shares; its entries are placed
        // one by one.
        self.grant(path, common, granted);
        self.out
            .split
            .push((path.to_owned(), here & !common & !granted));
        let granted = granted | common;
        if self.fs.kind(path) != Kind::Dir {
            return Ok(());
        }
        // The entries that are, or lead to, a point below.
        let ways: BTreeSet<&str> = below
            .iter()
            .filter_map(|p| {
                let tail = if path == "/" {
                    p.strip_prefix('/')
                } else {
                    p.strip_prefix(path).and_then(|t| t.strip_prefix('/'))
                }?;
                tail.split('/').next()
            })
            .collect();
        for (name, kind) in self.read(path)? {
            let child = join(path, &name);
            let on_the_way = ways.contains(name.as_str());
            if kind == Kind::Symlink {
                // A symlink's target is governed where it really is; a rule through the link
                // would grant the target (and points below a link are not this tree's).
                continue;
            }
            if on_the_way {
                self.visit(&child, granted)?;
            } else {
                let want = self.desired(&child);
                self.grant(&child, want, granted);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A model filesystem: path -> kind.
    struct Model(BTreeMap<String, Kind>);

    impl Model {
        fn new(paths: &[(&str, Kind)]) -> Model {
            Model(paths.iter().map(|(p, k)| (p.to_string(), *k)).collect())
        }
    }

    impl Fs for Model {
        fn kind(&self, path: &str) -> Kind {
            self.0.get(path).copied().unwrap_or(Kind::Missing)
        }
        fn is_symlink(&self, path: &str) -> bool {
            self.0.get(path) == Some(&Kind::Symlink)
        }
        fn entries(&self, dir: &str) -> std::io::Result<Vec<(String, Kind)>> {
            Ok(self
                .0
                .iter()
                .filter_map(|(p, k)| {
                    let rest = if dir == "/" {
                        p.strip_prefix('/')
                    } else {
                        p.strip_prefix(dir).and_then(|r| r.strip_prefix('/'))
                    }?;
                    (!rest.is_empty() && !rest.contains('/')).then(|| (rest.to_owned(), *k))
                })
                .collect())
        }
    }

    const R: u16 = 0b11;
    const W: u16 = 0b1100;

    fn allow(p: &str, mask: u16) -> BoundRule {
        BoundRule {
            allow: true,
            target: Bound::Path(p.into()),
            mask,
            except: vec![],
        }
    }
    fn deny(p: &str, mask: u16) -> BoundRule {
        BoundRule {
            allow: false,
            target: Bound::Path(p.into()),
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
        let p = place(&[allow("/home", R), allow("/home/u/src", W)], &tree()).unwrap();
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
    fn a_read_denied_file_leaves_listing_to_the_directories_above() {
        // Only `read_file` is lost on the way: listing `/home/u` shows the file's name, which
        // the policy allows; reading it stays denied by its own rule.
        let p = place(&[allow("/home", R | W), deny("/home/u/notes", R)], &tree()).unwrap();
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
        let p = place(&[allow("/home", R | W), deny("/home/u/.ssh", R)], &tree()).unwrap();
        assert_eq!(p.split[0], ("/home".into(), R));
    }

    #[test]
    fn partial_deny_keeps_the_rest_on_the_way() {
        let p = place(&[allow("/home", R | W), deny("/home/u/.ssh", W)], &tree()).unwrap();
        let home = p.grants.iter().find(|g| g.path == "/home").unwrap();
        assert_eq!(home.mask, R);
        assert!(p.grants.iter().all(|g| g.path != "/home/u/.ssh"));
        assert!(p.grants.iter().any(|g| g.path == "/home/v" && g.mask == W));
    }

    #[test]
    fn deny_glob_expands_to_existing_matches() {
        let glob = BoundRule {
            allow: false,
            target: Bound::Glob {
                text: "/home/**/id".into(),
                root: "/home".into(),
                alternatives: vec![vec![Component::AnyDepth, Component::Literal("id".into())]],
            },
            mask: R,
            except: vec![],
        };
        let p = place(&[allow("/home/u", R), glob], &tree()).unwrap();
        assert_eq!(
            p.glob_matches,
            vec![("/home/**/id".into(), vec!["/home/u/.ssh/id".into()])]
        );
        // The file's content is denied on the whole way down; listing the directories on the
        // way is not (a read deny of a file takes only `read_file` from them).
        assert!(p.grants.iter().all(|g| !within("/home/u/.ssh/id", &g.path)
            || g.mask & Right::ReadFile.bit() == 0));
    }

    fn glob(text: &str, root: &str, alternatives: Vec<Vec<Component>>, mask: u16) -> BoundRule {
        BoundRule {
            allow: false,
            target: Bound::Glob {
                text: text.into(),
                root: root.into(),
                alternatives,
            },
            mask,
            except: vec![],
        }
    }

    #[test]
    fn a_glob_matching_only_a_missing_path_covers_nothing() {
        // `/home/u/.git` (a glob without wildcards) does not exist: nothing is split for it.
        let rule = glob("/home/u/.git", "/home/u/.git", vec![vec![]], W);
        let p = place(&[allow("/home", R | W), rule], &tree()).unwrap();
        assert_eq!(p.glob_matches, vec![("/home/u/.git".into(), vec![])]);
        assert!(p.split.is_empty(), "{:?}", p.split);
        // The same glob of a path that exists covers it.
        let rule = glob("/home/u/.ssh", "/home/u/.ssh", vec![vec![]], W);
        let p = place(&[allow("/home", R | W), rule], &tree()).unwrap();
        assert_eq!(
            p.glob_matches,
            vec![("/home/u/.ssh".into(), vec!["/home/u/.ssh".into()])]
        );
        assert!(!p.split.is_empty());
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
        let p = place(&[allow("/home/u/src", R | W), rule], &tree()).unwrap();
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

    /// A filesystem with symbolic links, for path resolution.
    struct Links(BTreeMap<String, Link>);

    impl Fs for Links {
        fn kind(&self, _: &str) -> Kind {
            Kind::Dir
        }
        fn entries(&self, _: &str) -> std::io::Result<Vec<(String, Kind)>> {
            Ok(Vec::new())
        }
        fn is_symlink(&self, path: &str) -> bool {
            matches!(self.0.get(path), Some(Link::To(_)))
        }
        fn read_link(&self, path: &str) -> Link {
            self.0.get(path).cloned().unwrap_or(Link::NotLink)
        }
    }

    #[test]
    fn resolution_follows_links_component_by_component() {
        let fs = Links(
            [
                ("/home", Link::To("var/home".into())),
                ("/var/home/u", Link::NotLink),
                ("/etc/alt", Link::To("../opt/./real".into())),
                ("/loop", Link::To("/loop".into())),
                ("/gone", Link::Missing),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        );
        assert_eq!(resolve(&fs, "/home/u/.ssh"), "/var/home/u/.ssh");
        assert_eq!(resolve(&fs, "/etc/alt/x"), "/opt/real/x");
        assert_eq!(resolve(&fs, "/gone/a/b"), "/gone/a/b");
        assert_eq!(resolve(&fs, "/"), "/");
        assert_eq!(resolve(&fs, "/usr/bin"), "/usr/bin");
        // A loop stops following and keeps the rest as written.
        assert!(resolve(&fs, "/loop/x").ends_with("/x"));
    }

    #[test]
    fn grants_name_resolved_paths() {
        // What lets the runtime open every grant refusing symbolic links (`openat2`,
        // `RESOLVE_NO_SYMLINKS`): an allow through a link is granted where it resolves.
        let fs = Links(
            [("/home", Link::To("var/home".into()))]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        );
        let p = place(&[allow("/home/u", R)], &fs).unwrap();
        let paths: Vec<&str> = p.grants.iter().map(|g| g.path.as_str()).collect();
        assert_eq!(paths, ["/var/home/u"]);
    }

    #[test]
    fn missing_allow_paths_are_reported() {
        let p = place(&[allow("/nope", R)], &tree()).unwrap();
        assert_eq!(p.missing, vec!["/nope".to_owned()]);
        assert!(p.grants.is_empty());
    }
}
