//! Comparing what a ring of OLD may do with what a ring of NEW may do, by asking `decide` the
//! same requests of both in every world, and grouping the requests answered differently into
//! findings.

use std::collections::BTreeSet;

use super::paths;
use super::report::{Area, Changes, Evidence, Finding};
use super::requests::{self, PathRule};
use super::worlds::{World, Worlds};
use crate::ir::{
    AccessSet, BoundVariables, Decision, FsTarget, Ir, PathTemplate, Platform, Reason, Request,
    Right, Ring, Verdict, decide, unbound_variable,
};

/// One side of a comparison: a ring of a policy, or no ring.
#[derive(Debug, Clone, Copy)]
pub(super) struct Side<'a> {
    pub ir: &'a Ir,
    pub level: Option<u8>,
}

impl<'a> Side<'a> {
    pub fn ring(&self) -> Option<&'a Ring> {
        self.level.and_then(|l| self.ir.rings.get(&l))
    }
}

/// The answer a comparison uses: `decide`, except that no ring, or a ring that the runtime
/// refuses to apply because a variable it uses is unbound, denies every request.
pub fn answer(ring: Option<&Ring>, request: &Request, bindings: &BoundVariables) -> Decision {
    answer_with(ring, refusal(ring, bindings), request, bindings)
}

/// The variable whose absence keeps a ring from being applied.
fn refusal<'r>(ring: Option<&'r Ring>, bindings: &BoundVariables) -> Option<&'r str> {
    ring.filter(|r| !r.unconfined)
        .and_then(|r| unbound_variable(r, bindings))
}

/// [`answer`] with the ring's refusal known (it is the same for every request of a world).
fn answer_with(
    ring: Option<&Ring>,
    refused: Option<&str>,
    request: &Request,
    bindings: &BoundVariables,
) -> Decision {
    let deny = |detail: String| Decision {
        verdict: Verdict::Deny,
        because: vec![Reason {
            detail,
            origin: None,
        }],
        action: None,
    };
    match (ring, refused) {
        (None, _) => deny("there is no such ring".to_owned()),
        (Some(r), Some(name)) => deny(format!(
            "ring {} cannot be applied: variable `{name}` is unbound",
            r.level
        )),
        (Some(r), None) => decide(r, request, bindings),
    }
}

/// A request the two sides answer differently.
#[derive(Debug, Clone)]
pub(super) struct Difference {
    pub world: usize,
    pub request: Request,
    /// For paths: every right that the rules treat as the one asked.
    pub rights: AccessSet,
    pub old: Decision,
    pub new: Decision,
}

/// The differences found so far, and those of the base worlds by direction and request.
#[derive(Debug, Default)]
struct Found {
    found: Vec<Difference>,
    in_base: BTreeSet<(bool, String)>,
}

impl Difference {
    pub fn gain(&self) -> bool {
        self.new.verdict == Verdict::Allow
    }
}

/// A difference seen only where the two sides bind a variable differently (the defaults, the
/// environment), for naming the variable change behind it.
#[derive(Debug, Clone)]
pub(super) struct Attributed {
    pub gain: bool,
    /// The variables the rules that decided it use (with the variables their defaults use).
    pub vars: BTreeSet<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Default)]
pub(super) struct PairResult {
    pub changes: Changes,
    pub by_values: Vec<Attributed>,
}

/// What a comparison of two sides needs besides them.
pub(super) struct Pair<'a, 'w> {
    pub label: String,
    pub old: Side<'a>,
    pub new: Side<'a>,
    pub worlds: &'w Worlds<'a>,
    /// A component name no rule names.
    pub fresh: &'w str,
    rules: PairRules,
}

/// The rules of both rings that decide requests naming a path, computed once per pair.
#[derive(Debug, Default)]
struct PairRules {
    old: Vec<PathRule>,
    new: Vec<PathRule>,
    /// Whether each rule of a side is missing from the other side.
    old_only: Vec<bool>,
    new_only: Vec<bool>,
    /// The variables each side's rules use.
    old_vars: BTreeSet<String>,
    new_vars: BTreeSet<String>,
}

impl PairRules {
    fn new(old: Option<&Ring>, new: Option<&Ring>) -> PairRules {
        let rules = |r: Option<&Ring>| r.map(requests::path_rules).unwrap_or_default();
        let (a, b) = (rules(old), rules(new));
        let keys = |rules: &[PathRule]| -> BTreeSet<String> {
            rules.iter().map(|r| r.key.clone()).collect()
        };
        let (ka, kb) = (keys(&a), keys(&b));
        let vars = |rules: &[PathRule]| -> BTreeSet<String> {
            rules
                .iter()
                .flat_map(|r| &r.targets)
                .filter_map(|t| t.variable().map(str::to_owned))
                .collect()
        };
        PairRules {
            old_only: a.iter().map(|r| !kb.contains(&r.key)).collect(),
            new_only: b.iter().map(|r| !ka.contains(&r.key)).collect(),
            old_vars: vars(&a),
            new_vars: vars(&b),
            old: a,
            new: b,
        }
    }

    /// The rules one side has and the other lacks, each with its side's bindings.
    fn differing<'r>(&'r self, world: &'r World) -> Vec<(&'r PathRule, &'r BoundVariables)> {
        let side = |rules: &'r [PathRule], only: &'r [bool], b: &'r BoundVariables| {
            rules
                .iter()
                .zip(only)
                .filter(|(_, o)| **o)
                .map(move |(r, _)| (r, b))
        };
        side(&self.old, &self.old_only, &world.old)
            .chain(side(&self.new, &self.new_only, &world.new))
            .collect()
    }

    fn all<'r>(&'r self, world: &'r World) -> Vec<(&'r PathRule, &'r BoundVariables)> {
        self.old
            .iter()
            .map(|r| (r, &world.old))
            .chain(self.new.iter().map(|r| (r, &world.new)))
            .collect()
    }

    fn same(&self) -> bool {
        !self.old_only.contains(&true) && !self.new_only.contains(&true)
    }
}

impl<'a, 'w> Pair<'a, 'w> {
    pub fn new(
        label: String,
        old: Side<'a>,
        new: Side<'a>,
        worlds: &'w Worlds<'a>,
        fresh: &'w str,
    ) -> Pair<'a, 'w> {
        Pair {
            rules: PairRules::new(old.ring(), new.ring()),
            label,
            old,
            new,
            worlds,
            fresh,
        }
    }
}

impl Pair<'_, '_> {
    pub fn compare(&self) -> PairResult {
        let mut result = PairResult::default();
        let (old, new) = (self.old.ring(), self.new.ring());
        let unconfined = |r: Option<&Ring>| r.is_some_and(|r| r.unconfined);
        match (unconfined(old), unconfined(new)) {
            (false, true) => {
                result.changes.gains.push(Finding::plain(
                    Area::Ring,
                    "unconfined: applies no sandbox, every request is allowed".to_owned(),
                ));
                return result;
            }
            (true, false) => {
                let text = if new.is_some() {
                    "no longer unconfined"
                } else {
                    "no ring any more: was unconfined"
                };
                result
                    .changes
                    .losses
                    .push(Finding::plain(Area::Ring, text.to_owned()));
                return result;
            }
            (true, true) => return result,
            (false, false) => {}
        }
        let rings: Vec<&Ring> = old.into_iter().chain(new).collect();
        let classes = right_classes(&rings);
        let split = rings
            .iter()
            .any(|r| r.filesystem.iter().any(|f| f.platform.is_some()));
        let platforms: &[Platform] = if split {
            &[Platform::Linux, Platform::Macos]
        } else {
            &[Platform::Linux]
        };
        let others = requests::candidates(&rings);
        let mut worlds: Vec<World> = self.worlds.base.clone();
        let mut diffs = Found::default();
        let mut applicability = Vec::new();
        let mut asked_others = BTreeSet::new();
        let mut asked_values = BTreeSet::new();
        for (i, world) in self.worlds.base.iter().enumerate() {
            let state = (applies(old, &world.old), applies(new, &world.new));
            if state.0 != state.1 && old.is_some() && new.is_some() {
                applicability.push((i, state.1));
            }
            if !state.0 && !state.1 {
                continue;
            }
            // Requests other than paths do not depend on values, only on whether each ring
            // can be applied.
            if asked_others.insert(state) {
                let refused = (refusal(old, &world.old), refusal(new, &world.new));
                for request in &others {
                    self.ask(i, world, refused, request, AccessSet::EMPTY, &mut diffs);
                }
            }
            // Paths depend on the values of the variables the rings use: a world that gives
            // them the values an earlier one gave asks the same questions again.
            if self.paths_may_differ(world) && asked_values.insert(self.values_used(world)) {
                self.ask_paths(i, world, None, &classes, platforms, &mut diffs);
            }
        }
        if !self.same_rules() {
            for (name, value) in self.overlaps() {
                let world = self.worlds.overlap(&name, &value);
                worlds.push(world);
                let i = worlds.len() - 1;
                let world = &worlds[i];
                self.ask_paths(i, world, Some(&value), &classes, platforms, &mut diffs);
            }
        }
        self.findings(&worlds, &diffs.found, &applicability, split, &mut result);
        result
    }

    fn ask(
        &self,
        world_index: usize,
        world: &World,
        refused: (Option<&str>, Option<&str>),
        request: &Request,
        rights: AccessSet,
        diffs: &mut Found,
    ) {
        let (old, new) = (self.old.ring(), self.new.ring());
        let a = answer_with(old, refused.0, request, &world.old);
        let b = answer_with(new, refused.1, request, &world.new);
        if a.verdict != b.verdict {
            // An overlap world is there for what the base worlds cannot show: a request they
            // already found is not found again.
            let key = (b.verdict == Verdict::Allow, format!("{request:?}"));
            if world_index < self.worlds.base.len() {
                diffs.in_base.insert(key);
            } else if diffs.in_base.contains(&key) {
                return;
            }
            diffs.found.push(Difference {
                world: world_index,
                request: request.clone(),
                rights,
                old: a,
                new: b,
            });
        }
    }

    /// Asks every pool path (at or under `focus`, when given) for each class of rights.
    fn ask_paths(
        &self,
        world_index: usize,
        world: &World,
        focus: Option<&str>,
        classes: &[AccessSet],
        platforms: &[Platform],
        diffs: &mut Found,
    ) {
        let sides = [(self.old.ring(), &world.old), (self.new.ring(), &world.new)];
        let refused = (
            refusal(self.old.ring(), &world.old),
            refusal(self.new.ring(), &world.new),
        );
        let roots = self.differing_roots(world, refused);
        // Without a unix socket grant on either side, both deny every socket path.
        let unix = [self.old.ring(), self.new.ring()]
            .into_iter()
            .flatten()
            .any(|r| !r.network.unix_connect.is_empty());
        for path in paths::pool(&sides, self.fresh, focus) {
            if roots
                .as_ref()
                .is_some_and(|r| !r.iter().any(|root| paths::within(&path, root)))
            {
                continue;
            }
            let Ok(template) = PathTemplate::parse(&path) else {
                continue;
            };
            for (request, class) in requests::at_path(&template, classes, platforms, unix) {
                self.ask(world_index, world, refused, &request, class, diffs);
            }
        }
    }

    /// Where two rings that both apply, and whose variables have the same values on both
    /// sides, can answer a path differently: only where a rule one of them lacks covers it
    /// (their shared rules land on the same paths). The directories those rules name, expanded;
    /// `None` when the answers may differ anywhere.
    fn differing_roots(
        &self,
        world: &World,
        refused: (Option<&str>, Option<&str>),
    ) -> Option<Vec<String>> {
        let (Some(a), Some(b)) = (self.old.ring(), self.new.ring()) else {
            return None;
        };
        if refused != (None, None) || a.unconfined || b.unconfined {
            return None;
        }
        let same = self
            .rules
            .old_vars
            .iter()
            .chain(&self.rules.new_vars)
            .all(|name| world.old.get(name) == world.new.get(name));
        if !same {
            return None;
        }
        let mut roots = Vec::new();
        for (rule, bindings) in self.rules.differing(world) {
            for target in &rule.targets {
                if let Some(root) = target.root().expand(bindings) {
                    roots.push(root);
                }
            }
        }
        Some(roots)
    }

    /// The values a world gives the variables each ring's path rules use.
    fn values_used(&self, world: &World) -> [Vec<(String, Option<String>)>; 2] {
        let used = |names: &BTreeSet<String>, b: &BoundVariables| {
            names
                .iter()
                .map(|n| (n.clone(), b.get(n).map(str::to_owned)))
                .collect()
        };
        [
            used(&self.rules.old_vars, &world.old),
            used(&self.rules.new_vars, &world.new),
        ]
    }

    /// Whether a world can answer a path differently: not when both rings have the same
    /// filesystem rules, both can be applied, and every variable those rules use has the same
    /// value on both sides.
    fn paths_may_differ(&self, world: &World) -> bool {
        let (old, new) = (self.old.ring(), self.new.ring());
        if old.is_none() || new.is_none() {
            return old.is_some() || new.is_some();
        }
        if !self.same_rules() || applies(old, &world.old) != applies(new, &world.new) {
            return true;
        }
        self.rules
            .old_vars
            .iter()
            .chain(&self.rules.new_vars)
            .any(|v| world.old.get(v) != world.new.get(v))
    }

    /// Whether both rings have the same rules for requests that name a path (no ring on
    /// either side counts as the same only when there is none on the other).
    fn same_rules(&self) -> bool {
        self.old.ring().is_some() == self.new.ring().is_some() && self.rules.same()
    }

    /// `(variable, value)` for each overlap world: every variable both policies declare that
    /// the rings use, set to each path that can put its rules across a rule the rings do not
    /// share. Two rings answer a path differently only where a rule one of them lacks covers
    /// it, so the values are the targets of those rules (with their ancestors and a child of
    /// each); where such a rule uses the variable itself, every target of the rings.
    fn overlaps(&self) -> Vec<(String, String)> {
        let Some(caller) = self.worlds.base.first() else {
            return Vec::new();
        };
        let all = self.rules.all(caller);
        let differing = self.rules.differing(caller);
        let uses = |r: &PathRule, var: &str| r.targets.iter().any(|t| t.variable() == Some(var));
        let vars: BTreeSet<&str> = all
            .iter()
            .flat_map(|(r, _)| &r.targets)
            .filter_map(FsTarget::variable)
            .filter(|v| self.worlds.shared(v))
            .collect();
        let mut out = Vec::new();
        for var in vars {
            let from = if differing.iter().any(|(r, _)| uses(r, var)) {
                &all
            } else {
                &differing
            };
            let own = self.worlds.fresh.var(var);
            for value in paths::overlap_values(from, self.fresh) {
                if !paths::within(&value, &own) {
                    out.push((var.to_owned(), value));
                }
            }
        }
        out
    }
}

/// Whether a ring can be applied with these values (no ring: nothing to apply).
fn applies(ring: Option<&Ring>, bindings: &BoundVariables) -> bool {
    ring.is_some_and(|r| r.unconfined || unbound_variable(r, bindings).is_none())
}

/// The rights in classes that every rule of the rings treats alike: asking one right of a
/// class answers for all of them.
fn right_classes(rings: &[&Ring]) -> Vec<AccessSet> {
    let mut classes = vec![AccessSet::ALL.intersection(Right::ALL.into_iter().collect())];
    for ring in rings {
        for rule in &ring.filesystem {
            classes = classes
                .into_iter()
                .flat_map(|c| [c.intersection(rule.access), c.difference(rule.access)])
                .filter(|c| !c.is_empty())
                .collect();
        }
    }
    classes
}
