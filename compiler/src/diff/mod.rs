//! Comparing two policies by decision: what `nonoc diff` reports and what
//! `--fail-on-escalation` gates on.
//!
//! For every ring level (what `exec --ring N` gets) and every range of trust scores (what
//! `exec --trust-score S` gets), the ring OLD selects is compared with the ring NEW selects,
//! never by ring number: both are asked the same requests with `decide`, and a request NEW
//! allows and OLD denies is a gain (an escalation), the reverse a loss. The requests are
//! derived from the rules of both rings so that every region their rules cut out is asked
//! (`paths.rs`, `args.rs`, `requests.rs`), under every kind of variable value (`worlds.rs`).
//! A change that leaves every answer alone is no change in rights: it is listed as a note.
//! Settings that weaken enforcement are gains, those that strengthen it losses
//! (`settings.rs`); a changed variable is named with the rules that use it (`variables.rs`).
//!
//! To compare a new kind of request, add it to `requests.rs` (the compiler points there).
//! To compare a new section of the policy language: if `decide` answers it, its requests are
//! the new kind's candidates; if it is a setting, it goes in `settings.rs`; its textual
//! change in `text.rs`.

mod args;
mod findings;
mod globs;
mod paths;
mod report;
mod requests;
mod rights;
mod settings;
mod subjects;
#[cfg(test)]
mod tests;
mod text;
mod variables;
mod worlds;

use std::collections::BTreeMap;

pub use report::{
    Area, Changes, Comparison, Evidence, Finding, Outcome, PolicyDiff, Probe, ScoreRange,
};
pub use rights::answer;

use crate::ir::{Ir, Ring};
use rights::{Pair, Side};

/// Compares two policies.
pub fn compare(old: &Ir, new: &Ir) -> PolicyDiff {
    let worlds = worlds::Worlds::new(old, new);
    let rings: Vec<&Ring> = old.rings.values().chain(new.rings.values()).collect();
    let fresh = paths::fresh_name(&rings);
    let mut comparisons = Vec::new();
    let mut attributed = Vec::new();
    for subject in subjects::subjects(old, new) {
        let label = match subject.level {
            Some(level) => format!("ring {level}"),
            None => {
                let ranges: Vec<String> = subject
                    .scores
                    .iter()
                    .map(|s| format!("{}..={}", s.from, s.to))
                    .collect();
                format!("scores {}", ranges.join(", "))
            }
        };
        let pair = Pair::new(
            label,
            Side {
                ir: old,
                level: subject.old,
            },
            Side {
                ir: new,
                level: subject.new,
            },
            &worlds,
            &fresh,
        );
        let result = pair.compare();
        let mut changes = result.changes;
        attributed.extend(result.by_values);
        if subject.level.is_some()
            && let (Some(a), Some(b)) = (pair.old.ring(), pair.new.ring())
        {
            changes.notes.extend(text::ring_notes(a, b));
        }
        if !changes.is_empty() {
            comparisons.push(Comparison {
                old_ring: subject.old,
                new_ring: subject.new,
                level: subject.level,
                scores: subject.scores,
                changes,
            });
        }
    }
    let mut policy = Changes::default();
    settings::compare(old, new, &mut policy);
    variables::compare(old, new, &worlds, &attributed, &mut policy);
    tier_notes(old, new, &mut policy.notes);
    let gains = comparisons
        .iter()
        .map(|c| c.changes.gains.len())
        .sum::<usize>()
        + policy.gains.len();
    let losses = comparisons
        .iter()
        .map(|c| c.changes.losses.len())
        .sum::<usize>()
        + policy.losses.len();
    PolicyDiff {
        comparisons,
        policy,
        gains,
        losses,
        escalation: gains > 0,
    }
}

/// Tiers added, removed or changed, by name (what they grant is in the score comparisons).
fn tier_notes(old: &Ir, new: &Ir, notes: &mut Vec<String>) {
    let by_name = |ir: &Ir| -> BTreeMap<String, (u16, u8)> {
        ir.trust_tiers
            .iter()
            .map(|t| (t.name.clone(), (t.min_score, t.ring)))
            .collect()
    };
    let (a, b) = (by_name(old), by_name(new));
    for (name, (score, ring)) in &b {
        match a.get(name) {
            None => notes.push(format!(
                "tier `{name}` added (min_score {score}, ring {ring})"
            )),
            Some(was) if was != &(*score, *ring) => {
                let mut what = Vec::new();
                if was.0 != *score {
                    what.push(format!("min_score {} -> {score}", was.0));
                }
                if was.1 != *ring {
                    what.push(format!("ring {} -> {ring}", was.1));
                }
                notes.push(format!("tier `{name}` changed: {}", what.join(", ")));
            }
            Some(_) => {}
        }
    }
    for (name, (score, ring)) in &a {
        if !b.contains_key(name) {
            notes.push(format!(
                "tier `{name}` removed (was min_score {score}, ring {ring})"
            ));
        }
    }
}
