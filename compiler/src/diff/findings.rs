//! Grouping the requests two rings answer differently into findings, each with the requests
//! that show it and the words people read.

use std::collections::{BTreeMap, BTreeSet};

use super::report::{Area, Evidence, Finding, Outcome, Probe};
use super::requests;
use super::rights::{Attributed, Difference, Pair, PairResult};
use super::worlds::{World, WorldKind, target_variables, variable_chain};
use crate::ir::{AccessSet, BoundVariables, Decision, Origin, Request, unbound_variable};

/// Most evidence kept per finding.
const EVIDENCE: usize = 3;

/// How requests answered differently are grouped into findings: requests naming a path by
/// the rules that make the difference, other requests by kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// `rules`: for a gain, the denies that no longer apply, or where nothing denied it but
    /// the default, the allows that now grant it; for a loss the reverse. `unix`: connecting
    /// to unix sockets rather than the filesystem rights.
    Path {
        gain: bool,
        unix: bool,
        rules: Vec<Origin>,
    },
    Other {
        gain: bool,
        area: Area,
        label: String,
    },
}

impl Key {
    fn of(d: &Difference) -> Key {
        let origins = |decision: &Decision| {
            let mut o: Vec<Origin> = decision
                .because
                .iter()
                .filter_map(|r| r.origin.clone())
                .collect();
            o.sort();
            o.dedup();
            o
        };
        match &d.request {
            Request::Path { .. } | Request::UnixConnect { .. } => {
                // The side that denies, and the side that allows.
                let (denying, allowing) = if d.gain() {
                    (&d.old, &d.new)
                } else {
                    (&d.new, &d.old)
                };
                let rules = match origins(denying) {
                    o if o.is_empty() => origins(allowing),
                    o => o,
                };
                Key::Path {
                    gain: d.gain(),
                    unix: matches!(d.request, Request::UnixConnect { .. }),
                    rules,
                }
            }
            other => {
                let (area, label) = requests::group(other);
                Key::Other {
                    gain: d.gain(),
                    area,
                    label,
                }
            }
        }
    }

    fn area(&self) -> Area {
        match self {
            Key::Path { unix: false, .. } => Area::Filesystem,
            Key::Path { unix: true, .. } => Area::Network,
            Key::Other { area, .. } => *area,
        }
    }
}

impl Pair<'_, '_> {
    pub(super) fn findings(
        &self,
        worlds: &[World],
        diffs: &[Difference],
        applicability: &[(usize, bool)],
        split: bool,
        result: &mut PairResult,
    ) {
        // Where one side cannot be applied, every answer of the other differs: one finding
        // says so, instead of one per rule of the ring.
        let refused: BTreeSet<usize> = applicability.iter().map(|(w, _)| *w).collect();
        // The first world where the ring now applies, and the first where it no longer does.
        let firsts = [true, false]
            .into_iter()
            .filter_map(|now| applicability.iter().find(|(_, n)| *n == now));
        for (world, now) in firsts {
            let w = &worlds[*world];
            let (side, bindings) = if *now {
                (&self.old, &w.old)
            } else {
                (&self.new, &w.new)
            };
            let var = side
                .ring()
                .and_then(|r| unbound_variable(r, bindings))
                .unwrap_or_default();
            let when = self.worlds.label(&w.kind).unwrap_or_default();
            let text = if *now {
                format!("could not be applied {when}: `${{{var}}}` was unbound; now it can")
            } else {
                format!("can no longer be applied {when}: `${{{var}}}` is unbound")
            };
            // Paths first: they say more than a port.
            let mut shown: Vec<&Difference> = diffs
                .iter()
                .filter(|d| d.world == *world && d.gain() == *now)
                .collect();
            shown.sort_by_key(|d| !matches!(d.request, Request::Path { .. }));
            shown.truncate(EVIDENCE);
            let evidence: Vec<Evidence> = shown
                .iter()
                .map(|d| self.evidence(d, worlds, split))
                .collect();
            if w.kind == WorldKind::Defaults {
                result.by_values.extend(shown.iter().map(|d| Attributed {
                    gain: *now,
                    vars: self.deciding_vars(d, w),
                    evidence: self.evidence(d, worlds, split),
                }));
            }
            result.changes.push(
                *now,
                Finding {
                    area: Area::Ring,
                    text,
                    evidence,
                },
            );
        }
        // Groups, each with its differences in the order found (base worlds first).
        let mut groups: BTreeMap<Key, Vec<&Difference>> = BTreeMap::new();
        for d in diffs.iter().filter(|d| !refused.contains(&d.world)) {
            groups.entry(Key::of(d)).or_default().push(d);
        }
        // Groups the caller world shows come from the rules: there every variable has the
        // same value on both sides.
        let from_rules: BTreeSet<&Key> = groups
            .iter()
            .filter(|(_, ds)| ds.iter().any(|d| worlds[d.world].kind == WorldKind::Caller))
            .map(|(k, _)| k)
            .collect();
        let mut ordered: Vec<(&Key, &Vec<&Difference>)> = groups.iter().collect();
        ordered.sort_by_key(|(k, _)| k.area());
        for (key, ds) in ordered {
            let Some(first) = ds.first() else { continue };
            let evidence: Vec<Evidence> = distinct_requests(ds)
                .into_iter()
                .take(EVIDENCE)
                .map(|d| self.evidence(d, worlds, split))
                .collect();
            let finding = Finding {
                area: key.area(),
                text: self.text(key, ds, split),
                evidence,
            };
            if !from_rules.contains(key) {
                for d in ds
                    .iter()
                    .filter(|d| {
                        matches!(
                            worlds[d.world].kind,
                            WorldKind::Defaults | WorldKind::Environment
                        )
                    })
                    .take(EVIDENCE)
                {
                    result.by_values.push(Attributed {
                        gain: d.gain(),
                        vars: self.deciding_vars(d, &worlds[d.world]),
                        evidence: self.evidence(d, worlds, split),
                    });
                }
            }
            result.changes.push(first.gain(), finding);
        }
    }

    /// `write `/etc` and 2 more paths`, `connect_tcp 22, 2222`, `syscall `ptrace``.
    fn text(&self, key: &Key, ds: &[&Difference], split: bool) -> String {
        let display = |p: &str| self.worlds.fresh.display(p);
        match key {
            Key::Path { unix, .. } => {
                let mut paths: BTreeMap<(bool, usize, String), ()> = BTreeMap::new();
                let mut rights = AccessSet::EMPTY;
                let mut platforms = BTreeSet::new();
                // The paths of the world the evidence comes from: another world's values
                // would make a path mean something else.
                let first = ds.first().map(|d| d.world);
                for d in ds.iter().filter(|d| Some(d.world) == first) {
                    if let Request::Path { path, platform, .. }
                    | Request::UnixConnect { path, platform } = &d.request
                    {
                        // Shown first: a path without a stand-in value, then the shortest.
                        let shown = display(path.as_str());
                        let symbolic = shown.starts_with('$');
                        paths.insert((symbolic, shown.matches('/').count(), shown), ());
                        rights = rights.union(d.rights);
                        platforms.extend(*platform);
                    }
                }
                let mut names = paths.keys().map(|(_, _, p)| p);
                let first = names.next().cloned().unwrap_or_default();
                let more = match paths.len() {
                    0 | 1 => String::new(),
                    2 => " and 1 more path".to_owned(),
                    n => format!(" and {} more paths", n - 1),
                };
                let only = match (split, platforms.len(), platforms.first()) {
                    (true, 1, Some(p)) => format!(" (on {} only)", p.name()),
                    _ => String::new(),
                };
                if *unix {
                    format!("unix_connect `{first}`{more}{only}")
                } else {
                    format!("{} `{first}`{more}{only}", rights.describe())
                }
            }
            Key::Other { label, .. } => {
                let mut shorts: Vec<String> = Vec::new();
                for d in distinct_requests(ds) {
                    let s = requests::short(&d.request);
                    if !s.is_empty() && !shorts.contains(&s) {
                        shorts.push(s);
                    }
                }
                let listed = match shorts.len() {
                    0 => String::new(),
                    1..=6 => format!(" {}", shorts.join(", ")),
                    n => format!(" {} and {} more", shorts[..6].join(", "), n - 6),
                };
                format!("{label}{listed}")
            }
        }
    }

    fn evidence(&self, d: &Difference, worlds: &[World], split: bool) -> Evidence {
        let world = &worlds[d.world];
        let fresh = &self.worlds.fresh;
        let outcome = |decision: &Decision| Outcome {
            verdict: decision.verdict,
            because: decision
                .because
                .iter()
                .map(|r| {
                    let detail = fresh.display_text(&r.detail);
                    match &r.origin {
                        Some(o) => format!("{detail} at line {} ({})", o.line, o.scope),
                        None => detail,
                    }
                })
                .collect(),
        };
        let platform = match &d.request {
            Request::Path { platform, .. } | Request::UnixConnect { platform, .. } if split => {
                *platform
            }
            _ => None,
        };
        let when = match world.kind {
            WorldKind::Defaults => Some(self.defaults_label(d, world)),
            _ => self.worlds.label(&world.kind),
        };
        Evidence {
            subject: self.label.clone(),
            request: requests::describe(&d.request, &|p| fresh.display(p)),
            platform,
            when,
            old: outcome(&d.old),
            new: outcome(&d.new),
            probe: Probe {
                old_ring: self.old.level,
                new_ring: self.new.level,
                request: Some(d.request.clone()),
                old_bindings: world.old.clone(),
                new_bindings: world.new.clone(),
            },
        }
    }

    /// `with the defaults: `${home}` is `/root/sub` (was `/root`)`, for the variables the
    /// deciding rules use.
    fn defaults_label(&self, d: &Difference, world: &World) -> String {
        let vars = self.deciding_vars(d, world);
        let value = |b: &BoundVariables, v: &str| {
            b.get(v)
                .map_or_else(|| "unbound".to_owned(), |x| format!("`{x}`"))
        };
        let parts: Vec<String> = vars
            .iter()
            .map(|v| {
                let (a, b) = (value(&world.old, v), value(&world.new, v));
                if a == b {
                    format!("`${{{v}}}` is {b}")
                } else {
                    format!("`${{{v}}}` is {b} (was {a})")
                }
            })
            .collect();
        if parts.is_empty() {
            "with the defaults".to_owned()
        } else {
            format!("with the defaults: {}", parts.join(", "))
        }
    }

    /// The variables used by the rules that decided a difference, on either side, and the
    /// variable whose absence keeps a ring from being applied.
    fn deciding_vars(&self, d: &Difference, world: &World) -> BTreeSet<String> {
        let mut vars = BTreeSet::new();
        for (side, decision, bindings) in [
            (&self.old, &d.old, &world.old),
            (&self.new, &d.new, &world.new),
        ] {
            let Some(ring) = side.ring() else { continue };
            if let Some(v) = unbound_variable(ring, bindings) {
                vars.extend(variable_chain(side.ir, v));
            }
            for origin in decision.because.iter().filter_map(|r| r.origin.as_ref()) {
                for rule in ring.filesystem.iter().filter(|r| &r.origin == origin) {
                    for t in std::iter::once(&rule.target).chain(&rule.except) {
                        vars.extend(target_variables(side.ir, t));
                    }
                }
                for grant in ring.network.unix_connect.iter() {
                    if &grant.origin == origin
                        && let Some(v) = grant.path.variable()
                    {
                        vars.extend(variable_chain(side.ir, v));
                    }
                }
            }
        }
        vars
    }
}

/// The differences of a group, one per request (the first world that asked it).
fn distinct_requests<'d>(ds: &[&'d Difference]) -> Vec<&'d Difference> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for d in ds {
        if !seen.contains(&&d.request) {
            seen.push(&d.request);
            out.push(*d);
        }
    }
    out
}
