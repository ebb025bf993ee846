//! Rule paths resolved through symbolic links, and the link rule of the policy language:
//! when the runtime places a grant, it follows a link only if no ring of the artifact may
//! write the directory that holds the link. Otherwise one ring could redirect another's
//! grants between two runs (ring 2 may write `/tmp` and replaces the workspace under it with
//! a link to `/etc`; ring 3, which reads the workspace, would then read `/etc`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::tree::{BoundRule, BoundTarget, Fs, Kind, Link, within};

/// Most symbolic links followed while resolving one path (the kernel's limit).
const MAX_LINKS: usize = 40;

/// A path with every symbolic link resolved, and where those links were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The path as the kernel would reach it (for a path that does not exist: its longest
    /// existing ancestor resolved, the rest appended).
    pub real: String,
    /// The (resolved) directory that holds each link met on the way, in any component, the
    /// links inside link targets included.
    pub holders: Vec<String>,
}

/// A filesystem view that asks the real one once per path: placement looks at the same
/// paths several times, and every `stat` is paid on each agent start. One view can serve
/// the loader check and placement of the same apply, which look at the same paths.
pub struct Cached<'a, F: Fs> {
    inner: &'a F,
    kinds: RefCell<BTreeMap<String, Kind>>,
    links: RefCell<BTreeMap<String, bool>>,
    read_links: RefCell<BTreeMap<String, Link>>,
    /// Resolutions: with every `readlink` answer kept, resolving a path again gives the same
    /// answer, so it is worked out once.
    resolved: RefCell<BTreeMap<String, Rc<Resolved>>>,
}

impl<'a, F: Fs> Cached<'a, F> {
    pub fn new(inner: &'a F) -> Self {
        Cached {
            inner,
            kinds: RefCell::default(),
            links: RefCell::default(),
            read_links: RefCell::default(),
            resolved: RefCell::default(),
        }
    }

    /// The path resolved, with the holders of the links on the way.
    pub(super) fn resolution(&self, path: &str) -> Rc<Resolved> {
        if let Some(done) = self.resolved.borrow().get(path) {
            return Rc::clone(done);
        }
        let done = Rc::new(resolve(self, path));
        self.resolved
            .borrow_mut()
            .insert(path.to_owned(), Rc::clone(&done));
        done
    }
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
        self.resolution(path).real.clone()
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

pub(super) fn join(dir: &str, name: &str) -> String {
    let mut path = String::with_capacity(dir.len() + 1 + name.len());
    if dir != "/" {
        path.push_str(dir);
    }
    path.push('/');
    path.push_str(name);
    path
}

/// Resolves every symbolic link of an absolute path, component by component (as the
/// kernel does), with one `readlink` per distinct prefix thanks to the cache. For a path
/// that does not exist: the longest existing ancestor resolved, the rest appended. A loop
/// of links leaves the rest unresolved, as the kernel would refuse the path anyway.
pub(super) fn resolve<F: Fs>(fs: &F, path: &str) -> Resolved {
    let mut queue: Vec<String> = path
        .split('/')
        .rev()
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let mut current = String::from("/");
    let mut holders: Vec<String> = Vec::new();
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
            Link::To(target) => {
                if !holders.contains(&current) {
                    holders.push(current.clone());
                }
                if links == MAX_LINKS {
                    return Resolved {
                        real: unresolved(candidate, queue),
                        holders,
                    };
                }
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
            Link::Missing => {
                return Resolved {
                    real: unresolved(candidate, queue),
                    holders,
                };
            }
        }
    }
    Resolved {
        real: current,
        holders,
    }
}

/// `at` followed by what is left to resolve, as written.
fn unresolved(mut at: String, mut queue: Vec<String>) -> String {
    while let Some(rest) = queue.pop() {
        at = join(&at, &rest);
    }
    at
}

/// The directories some confined ring of the artifact may replace entries of: each writable
/// rule path as written, and where it resolves, when that resolution itself follows no link
/// a ring may have planted (such a rule's grant is not placed, so its target is not
/// writable: a ring that plants `/tmp/ws` -> `/` does not make every link of the system
/// suspect). A link in one of these directories may have been planted by an agent.
pub(super) struct Writers {
    dirs: Vec<String>,
}

impl Writers {
    pub(super) fn new<F: Fs>(writable: &[String], fs: &Cached<'_, F>) -> Writers {
        let mut dirs: Vec<String> = writable.to_vec();
        let mut pending: Vec<&String> = writable.iter().collect();
        // Until no resolution is added: adding one may make another's links suspect, never
        // the other way round, and a target added early stays (more links unfollowed).
        loop {
            let mut added = false;
            let mut still = Vec::new();
            for dir in pending {
                let resolution = fs.resolution(dir);
                let suspect = resolution
                    .holders
                    .iter()
                    .any(|h| dirs.iter().any(|w| within(h, w)));
                if suspect {
                    still.push(dir);
                } else {
                    if !dirs.contains(&resolution.real) {
                        dirs.push(resolution.real.clone());
                        added = true;
                    }
                }
            }
            pending = still;
            if !added {
                break;
            }
        }
        Writers { dirs }
    }

    /// Whether a ring may replace the entries of `dir`.
    fn may_replace_in(&self, dir: &str) -> bool {
        self.dirs.iter().any(|w| within(dir, w))
    }

    /// Whether resolving the path meets a link that a ring may have planted.
    pub(super) fn planted<F: Fs>(&self, path: &str, fs: &Cached<'_, F>) -> bool {
        fs.resolution(path)
            .holders
            .iter()
            .any(|h| self.may_replace_in(h))
    }
}

/// The link rule for allow paths: an allow rule whose path goes through a link that a ring
/// may have planted is not placed. Returns the rules kept and the paths skipped.
pub(super) fn without_planted_links<F: Fs>(
    rules: &[BoundRule],
    writers: &Writers,
    fs: &Cached<'_, F>,
) -> (Vec<BoundRule>, Vec<String>) {
    let mut kept = Vec::with_capacity(rules.len());
    let mut skipped = Vec::new();
    for rule in rules {
        match &rule.target {
            BoundTarget::Path(path) if rule.allow && writers.planted(path, fs) => {
                if !skipped.contains(path) {
                    skipped.push(path.clone());
                }
            }
            _ => kept.push(rule.clone()),
        }
    }
    (kept, skipped)
}

/// The rules with every concrete path (and glob root) resolved to where it really is: a deny
/// of `${home}/.ssh` with `home` bound through a symlink must split the real directory, not
/// a name that placement would never see under the allowed tree.
///
/// What keeps a link from opening a way around a deny, or from carrying a deny elsewhere:
/// - an exception is rebased onto the resolved deny by its name relative to the deny, never
///   resolved through links below it (the agent may plant one there between runs);
/// - a deny whose path goes through a link is also kept as written, so the link itself (and
///   every directory on the way to it) is split too: the link cannot be removed or replaced;
/// - a deny glob's root (and a glob exception's) is resolved only through links no ring may
///   have planted: a glob whose root goes through such a link matches nothing (its path is
///   returned with the skipped ones), as walking the link's target (`/usr`, say) would deny
///   or read what the policy never named there;
/// - deny-glob matches are found by walking real directories, never through links, and a
///   match that is itself a link denies nothing (placement).
pub(super) fn resolved<F: Fs>(
    rules: &[BoundRule],
    writers: &Writers,
    fs: &Cached<'_, F>,
) -> (Vec<BoundRule>, Vec<String>) {
    // A glob's root, resolved when that follows no planted link.
    let glob_root =
        |root: &str| -> Option<String> { (!writers.planted(root, fs)).then(|| fs.real_path(root)) };
    let resolve_target = |target: &BoundTarget| match target {
        BoundTarget::Path(p) => BoundTarget::Path(fs.real_path(p)),
        BoundTarget::Glob {
            text,
            root,
            alternatives,
        } => BoundTarget::Glob {
            text: text.clone(),
            root: glob_root(root).unwrap_or_else(|| root.clone()),
            alternatives: alternatives.clone(),
        },
    };
    let mut out = Vec::with_capacity(rules.len());
    let mut skipped = Vec::new();
    for rule in rules {
        if rule.allow {
            out.push(BoundRule {
                target: resolve_target(&rule.target),
                ..rule.clone()
            });
            continue;
        }
        let written = match &rule.target {
            BoundTarget::Path(written) => written,
            BoundTarget::Glob { root, .. } => {
                if glob_root(root).is_none() {
                    if !skipped.contains(root) {
                        skipped.push(root.clone());
                    }
                    continue;
                }
                out.push(BoundRule {
                    target: resolve_target(&rule.target),
                    except: rule.except.iter().map(resolve_target).collect(),
                    ..rule.clone()
                });
                continue;
            }
        };
        let real = fs.real_path(written);
        let rebase = |except: &BoundTarget| -> Option<BoundTarget> {
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
                BoundTarget::Path(p) => rebase_path(p).map(BoundTarget::Path),
                BoundTarget::Glob {
                    text,
                    root,
                    alternatives,
                } => Some(BoundTarget::Glob {
                    text: text.clone(),
                    root: rebase_path(root).unwrap_or_else(|| root.clone()),
                    alternatives: alternatives.clone(),
                }),
            }
        };
        out.push(BoundRule {
            allow: false,
            target: BoundTarget::Path(real.clone()),
            mask: rule.mask,
            except: rule.except.iter().filter_map(rebase).collect(),
        });
        if real != *written {
            out.push(BoundRule {
                allow: false,
                target: BoundTarget::Path(written.clone()),
                mask: rule.mask,
                except: rule
                    .except
                    .iter()
                    .filter(|e| {
                        matches!(e, BoundTarget::Path(p) if within(p, written))
                            || matches!(e, BoundTarget::Glob { .. })
                    })
                    .cloned()
                    .collect(),
            });
        }
    }
    (out, skipped)
}

/// A filesystem of symbolic links only (every other path a directory with no entries), for
/// the tests of path resolution and placement.
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::BTreeMap;

    use super::{Fs, Kind, Link};

    /// A filesystem with symbolic links, for path resolution.
    pub(crate) struct Links(BTreeMap<String, Link>);

    impl Links {
        pub(crate) fn new(links: &[(&str, Link)]) -> Links {
            Links(
                links
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            )
        }
    }

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
}

#[cfg(test)]
mod tests {
    use super::fake::Links;
    use super::*;

    #[test]
    fn resolution_follows_links_component_by_component() {
        let fs = Links::new(&[
            ("/home", Link::To("var/home".into())),
            ("/var/home/u", Link::NotLink),
            ("/etc/alt", Link::To("../opt/./real".into())),
            ("/loop", Link::To("/loop".into())),
            ("/gone", Link::Missing),
        ]);
        assert_eq!(resolve(&fs, "/home/u/.ssh").real, "/var/home/u/.ssh");
        assert_eq!(resolve(&fs, "/etc/alt/x").real, "/opt/real/x");
        assert_eq!(resolve(&fs, "/gone/a/b").real, "/gone/a/b");
        assert_eq!(resolve(&fs, "/").real, "/");
        assert_eq!(resolve(&fs, "/usr/bin").real, "/usr/bin");
        // A loop stops following and keeps the rest as written.
        assert!(resolve(&fs, "/loop/x").real.ends_with("/x"));
    }

    #[test]
    fn holders_of_every_link_on_the_way() {
        // `/srv/ws` -> `/tmp/w`, in which `/tmp/w/sub` -> `/etc`: both links count, the second
        // one met inside the first one's target.
        let fs = Links::new(&[
            ("/srv/ws", Link::To("/tmp/w".into())),
            ("/tmp/w/sub", Link::To("/etc".into())),
        ]);
        let r = resolve(&fs, "/srv/ws/sub/shadow");
        assert_eq!(r.real, "/etc/shadow");
        assert_eq!(r.holders, ["/srv", "/tmp/w"]);
        let cached = Cached::new(&fs);
        let writers = Writers::new(&["/tmp".to_owned()], &cached);
        assert!(writers.planted("/srv/ws/sub/shadow", &cached));
        // A writable directory replaced by a link to `/` (held in the writable `/tmp`): its
        // grant is not placed, so `/` does not count as writable, and the system's links
        // stay followed.
        let planted = Links::new(&[
            ("/tmp/ws", Link::To("/".into())),
            ("/lib", Link::To("usr/lib".into())),
        ]);
        let cached = Cached::new(&planted);
        let writers = Writers::new(&["/tmp".to_owned(), "/tmp/ws".to_owned()], &cached);
        assert!(!writers.planted("/lib", &cached));
        assert!(writers.planted("/tmp/ws", &cached));
        // The first link alone lies in a directory no ring writes.
        assert!(!writers.planted("/srv/ws", &cached));
        let none = Writers::new(&[], &cached);
        assert!(!none.planted("/srv/ws/sub/shadow", &cached));
    }
}
