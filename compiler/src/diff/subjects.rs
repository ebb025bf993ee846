//! Which rings are compared: for every ring level, the ring of that level in OLD against the
//! one in NEW (`exec --ring N` selects it); for every range of trust scores, the ring the
//! scores select in OLD against the one they select in NEW. A pair asked for several reasons
//! is compared once.

use std::collections::BTreeSet;

use super::report::ScoreRange;
use crate::ir::Ir;

/// One pair of rings to compare, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Subject {
    pub old: Option<u8>,
    pub new: Option<u8>,
    pub level: Option<u8>,
    pub scores: Vec<ScoreRange>,
}

pub(super) fn subjects(old: &Ir, new: &Ir) -> Vec<Subject> {
    let levels: BTreeSet<u8> = old.rings.keys().chain(new.rings.keys()).copied().collect();
    let mut out: Vec<Subject> = levels
        .into_iter()
        .map(|level| Subject {
            old: old.rings.contains_key(&level).then_some(level),
            new: new.rings.contains_key(&level).then_some(level),
            level: Some(level),
            scores: Vec::new(),
        })
        .collect();
    if old.trust_tiers.is_empty() && new.trust_tiers.is_empty() {
        return out;
    }
    let mut ranges: Vec<(u16, u16, Option<u8>, Option<u8>)> = Vec::new();
    for score in 0..=1000u16 {
        let pair = (
            old.ring_for_trust_score(score),
            new.ring_for_trust_score(score),
        );
        match ranges.last_mut() {
            Some(last) if (last.2, last.3) == pair && tier(new, last.0) == tier(new, score) => {
                last.1 = score;
            }
            _ => ranges.push((score, score, pair.0, pair.1)),
        }
    }
    for (from, to, a, b) in ranges {
        let range = ScoreRange {
            from,
            to,
            tier: tier(new, from).or_else(|| tier(old, from)),
        };
        // Same level on both sides: the level's own comparison.
        let same = a.is_some() && a == b;
        match out.iter_mut().find(|s| {
            if same {
                s.level == a
            } else {
                s.level.is_none() && s.old == a && s.new == b
            }
        }) {
            Some(subject) => subject.scores.push(range),
            None => out.push(Subject {
                old: a,
                new: b,
                level: None,
                scores: vec![range],
            }),
        }
    }
    out
}

/// The name of the tier that selects `score`.
fn tier(ir: &Ir, score: u16) -> Option<String> {
    ir.trust_tiers
        .iter()
        .filter(|t| t.min_score <= score)
        .max_by_key(|t| t.min_score)
        .map(|t| t.name.clone())
}
