//! Syscall requests that tell two rings apart: every syscall a rule or allow list names, with
//! argument values on each side of every condition (and their combinations), and one syscall
//! no rule names (the ring's default answers it, as it answers every other unnamed one).

use std::collections::{BTreeMap, BTreeSet};

use crate::data::{self, Arch};
use crate::ir::{ArgCondition, ArgOp, Ring};

/// Most argument vectors asked per syscall.
const PER_SYSCALL: usize = 20_000;

/// Syscalls commonly left unnamed, tried first as the representative of "every other".
const UNNAMED: &[&str] = &["getpid", "getuid", "read", "write", "close", "uname"];

/// `(name, args)` requests.
pub(super) fn syscall_requests(rings: &[&Ring]) -> Vec<(String, Vec<u64>)> {
    let mut conditions: BTreeMap<&str, Vec<&ArgCondition>> = BTreeMap::new();
    for ring in rings {
        for rule in &ring.syscalls.deny {
            conditions
                .entry(rule.name.as_str())
                .or_default()
                .extend(&rule.args);
        }
        for name in &ring.syscalls.allow {
            conditions.entry(name.as_str()).or_default();
        }
    }
    let mut out = Vec::new();
    for (name, conds) in &conditions {
        for args in arg_vectors(conds) {
            out.push(((*name).to_owned(), args));
        }
    }
    let unnamed = UNNAMED
        .iter()
        .copied()
        .chain(data::syscalls(Arch::X86_64).iter().map(|s| s.name))
        .find(|n| !conditions.contains_key(n));
    if let Some(name) = unnamed {
        out.push((name.to_owned(), Vec::new()));
    }
    out
}

/// Argument vectors covering every combination of the conditions' outcomes: per argument the
/// values on each side of each condition, then their product.
fn arg_vectors(conds: &[&ArgCondition]) -> Vec<Vec<u64>> {
    let mut per_index: BTreeMap<u8, BTreeSet<u64>> = BTreeMap::new();
    let mut bits: BTreeMap<u8, BTreeSet<u64>> = BTreeMap::new();
    for c in conds {
        let values = per_index.entry(c.index).or_default();
        values.extend([0, u64::MAX, 0xffff_ffff, 1 << 32]);
        let v = c.value;
        match c.op {
            ArgOp::Eq | ArgOp::Ne | ArgOp::Lt | ArgOp::Le | ArgOp::Gt | ArgOp::Ge => {
                values.extend([v, v.wrapping_sub(1), v.wrapping_add(1)]);
                // The low 32 bits alone, for an `int` argument compared on them.
                values.insert(v & 0xffff_ffff);
            }
            ArgOp::MaskedEq | ArgOp::MaskedNe => {
                let m = c.mask.unwrap_or(u64::MAX);
                let low = m & m.wrapping_neg();
                let set = [v, v & m, v ^ low, m, (v & m) | !m, !v];
                values.extend(set);
                bits.entry(c.index).or_default().extend(set);
            }
            ArgOp::AnyBits | ArgOp::AllBits => {
                let low = v & v.wrapping_neg();
                let set = [v, low, v & !low, !v, u64::MAX];
                values.extend(set);
                bits.entry(c.index).or_default().extend(set);
            }
        }
    }
    // Bit conditions on one argument combine: `clone(CLONE_THREAD | CLONE_NEWUSER)` is a
    // region of its own when one rule tests each flag.
    for (index, set) in &bits {
        let list: Vec<u64> = set.iter().copied().collect();
        let values = per_index.entry(*index).or_default();
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                values.insert(a | b);
                values.insert(a & !b);
            }
        }
    }
    let Some(max) = per_index.keys().max().copied() else {
        return vec![Vec::new()];
    };
    let mut vectors: Vec<Vec<u64>> = vec![vec![0; usize::from(max) + 1]];
    for (index, values) in &per_index {
        let mut next = Vec::new();
        'outer: for v in &vectors {
            for value in values {
                if next.len() >= PER_SYSCALL {
                    break 'outer;
                }
                let mut w = v.clone();
                w[usize::from(*index)] = *value;
                next.push(w);
            }
        }
        vectors = next;
    }
    vectors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_flags_are_asked() {
        let thread = ArgCondition {
            index: 0,
            op: ArgOp::MaskedEq,
            value: 0,
            mask: Some(0x1_0000),
        };
        let newuser = ArgCondition {
            index: 0,
            op: ArgOp::AnyBits,
            value: 0x1000_0000,
            mask: None,
        };
        let vectors = arg_vectors(&[&thread, &newuser]);
        assert!(vectors.contains(&vec![0x1001_0000]));
        assert!(vectors.contains(&vec![0]));
        assert!(vectors.contains(&vec![0x1_0000]));
    }
}
