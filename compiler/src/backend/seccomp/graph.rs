//! The filter as a decision graph: hash-consed nodes (so equal leaves merge into one range
//! and equal tails are shared), built from the ring, before it is laid out as instructions.

use std::collections::HashMap;

use super::ret_value;
use super::{OFFSET_ARCH, OFFSET_ARGS, OFFSET_NR, SECCOMP_RET_KILL_PROCESS, X32_SYSCALL_BIT};
use crate::data::{self, Arch, ArgKind, Syscall};
use crate::ir::{ArgCondition, ArgOp, Ring, SyscallAction, SyscallRule};

pub(super) type NodeId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum JumpOp {
    Eq,
    Gt,
    Ge,
    Set,
}

impl JumpOp {
    pub(super) fn holds(self, a: u32, k: u32) -> bool {
        match self {
            JumpOp::Eq => a == k,
            JumpOp::Gt => a > k,
            JumpOp::Ge => a >= k,
            JumpOp::Set => a & k != 0,
        }
    }
}

/// One node; `Load` and `And` fall through to `next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Node {
    Ret(u32),
    Load {
        off: u32,
        next: NodeId,
    },
    And {
        mask: u32,
        next: NodeId,
    },
    Jump {
        op: JumpOp,
        k: u32,
        jt: NodeId,
        jf: NodeId,
    },
}

#[derive(Debug, Default)]
pub(super) struct Graph {
    nodes: Vec<Node>,
    index: HashMap<Node, NodeId>,
}

impl Graph {
    pub(super) fn node(&self, id: NodeId) -> Node {
        self.nodes[id]
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    fn intern(&mut self, node: Node) -> NodeId {
        if let Some(id) = self.index.get(&node) {
            return *id;
        }
        let id = self.nodes.len();
        self.nodes.push(node);
        self.index.insert(node, id);
        id
    }

    pub(super) fn ret(&mut self, value: u32) -> NodeId {
        self.intern(Node::Ret(value))
    }

    /// Whether a node reads the accumulator before writing it.
    fn reads_a(&self, id: NodeId) -> bool {
        matches!(self.node(id), Node::And { .. } | Node::Jump { .. })
    }

    pub(super) fn load(&mut self, off: u32, next: NodeId) -> NodeId {
        if !self.reads_a(next) {
            return next;
        }
        self.intern(Node::Load { off, next })
    }

    fn and(&mut self, mask: u32, next: NodeId) -> NodeId {
        if !self.reads_a(next) {
            return next;
        }
        self.intern(Node::And { mask, next })
    }

    /// A jump executed while the accumulator holds the word at `a` (if known): a target
    /// that would load that word again starts after the load.
    pub(super) fn jump(
        &mut self,
        op: JumpOp,
        k: u32,
        jt: NodeId,
        jf: NodeId,
        a: Option<u32>,
    ) -> NodeId {
        let jt = self.skip_load(a, jt);
        let jf = self.skip_load(a, jf);
        if jt == jf {
            return jt;
        }
        self.intern(Node::Jump { op, k, jt, jf })
    }

    fn skip_load(&self, a: Option<u32>, target: NodeId) -> NodeId {
        match (a, self.node(target)) {
            (Some(word), Node::Load { off, next }) if off == word => next,
            _ => target,
        }
    }

    /// The longest path from each node, in instructions (layout trampolines not counted).
    fn longest(&self) -> Vec<usize> {
        // Children have smaller ids than their parents (they are interned first).
        let mut len: Vec<usize> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let at = |id: NodeId| len.get(id).copied().unwrap_or(0);
            let l = match *node {
                Node::Ret(_) => 1,
                Node::Load { next, .. } | Node::And { next, .. } => 1 + at(next),
                Node::Jump { jt, jf, .. } => 1 + at(jt).max(at(jf)),
            };
            len.push(l);
        }
        len
    }
}

/// A 32-bit half of an argument: in `seccomp_data`, or known zero (the high word of an
/// `int` argument, which the kernel never looks at).
#[derive(Debug, Clone, Copy)]
enum Word {
    At(u32),
    Zero,
}

/// `word [& mask] <op> k ? t : f`, folded where the outcome is known. `t` and `f` must not
/// depend on the accumulator (a `ret` or a node that loads).
fn test(
    g: &mut Graph,
    word: Word,
    mask: Option<u32>,
    op: JumpOp,
    k: u32,
    t: NodeId,
    f: NodeId,
) -> NodeId {
    let mask = mask.filter(|m| *m != u32::MAX);
    let off = match word {
        Word::Zero => return if op.holds(0, k) { t } else { f },
        Word::At(off) => off,
    };
    match (op, k, mask) {
        (_, _, Some(0)) => return if op.holds(0, k) { t } else { f },
        (JumpOp::Ge, 0, _) => return t,
        (JumpOp::Gt, u32::MAX, _) | (JumpOp::Set, 0, _) => return f,
        _ => {}
    }
    match mask {
        Some(m) => {
            let j = g.jump(op, k, t, f, None);
            let a = g.and(m, j);
            g.load(off, a)
        }
        None => {
            let j = g.jump(op, k, t, f, Some(off));
            g.load(off, j)
        }
    }
}

fn split(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

/// `(word & m) == v` on one word, where `v` has no bit outside `m`.
fn word_masked_eq(g: &mut Graph, word: Word, m: u32, v: u32, t: NodeId, f: NodeId) -> NodeId {
    if m == 0 {
        return if v == 0 { t } else { f };
    }
    if v == 0 {
        // No bit of the mask set.
        return test(g, word, None, JumpOp::Set, m, f, t);
    }
    if m == u32::MAX {
        return test(g, word, None, JumpOp::Eq, v, t, f);
    }
    if v == m && m.is_power_of_two() {
        return test(g, word, None, JumpOp::Set, m, t, f);
    }
    test(g, word, Some(m), JumpOp::Eq, v, t, f)
}

/// `(arg & mask) == value` on 64 bits.
fn masked_eq(
    g: &mut Graph,
    (hi, lo): (Word, Word),
    mask: u64,
    value: u64,
    t: NodeId,
    f: NodeId,
) -> NodeId {
    if value & !mask != 0 {
        return f;
    }
    let (mh, ml) = split(mask);
    let (vh, vl) = split(value);
    let low = word_masked_eq(g, lo, ml, vl, t, f);
    word_masked_eq(g, hi, mh, vh, low, f)
}

/// `arg > value` (`lo_op` Gt) or `arg >= value` (`lo_op` Ge), unsigned, on 64 bits.
fn above(
    g: &mut Graph,
    (hi, lo): (Word, Word),
    lo_op: JumpOp,
    value: u64,
    t: NodeId,
    f: NodeId,
) -> NodeId {
    let (vh, vl) = split(value);
    let low = test(g, lo, None, lo_op, vl, t, f);
    let equal_high = test(g, hi, None, JumpOp::Eq, vh, low, f);
    test(g, hi, None, JumpOp::Gt, vh, t, equal_high)
}

/// `cond ? t : f` for one argument condition.
fn condition(g: &mut Graph, c: &ArgCondition, kind: ArgKind, t: NodeId, f: NodeId) -> NodeId {
    let base = OFFSET_ARGS + 8 * u32::from(c.index);
    let lo = Word::At(base);
    let hi = match kind {
        ArgKind::Int => Word::Zero,
        ArgKind::Long => Word::At(base + 4),
    };
    let words = (hi, lo);
    let v = c.value;
    match c.op {
        ArgOp::Eq => masked_eq(g, words, u64::MAX, v, t, f),
        ArgOp::Ne => masked_eq(g, words, u64::MAX, v, f, t),
        ArgOp::Gt => above(g, words, JumpOp::Gt, v, t, f),
        ArgOp::Ge => above(g, words, JumpOp::Ge, v, t, f),
        ArgOp::Le => above(g, words, JumpOp::Gt, v, f, t),
        ArgOp::Lt => above(g, words, JumpOp::Ge, v, f, t),
        ArgOp::MaskedEq => masked_eq(g, words, c.mask.unwrap_or(u64::MAX), v, t, f),
        ArgOp::MaskedNe => masked_eq(g, words, c.mask.unwrap_or(u64::MAX), v, f, t),
        ArgOp::AllBits => masked_eq(g, words, v, v, t, f),
        ArgOp::AnyBits => {
            let (vh, vl) = split(v);
            let low = test(g, lo, None, JumpOp::Set, vl, t, f);
            test(g, hi, None, JumpOp::Set, vh, t, low)
        }
    }
}

/// What a syscall gets when no deny rule matches.
fn fallback(ring: &Ring, name: Option<&str>) -> SyscallAction {
    let s = &ring.syscalls;
    if s.default_allow || name.is_some_and(|n| s.allow.iter().any(|a| a == n)) {
        SyscallAction::Allow
    } else {
        s.deny_action
    }
}

/// The checks for one syscall: its deny rules in `decide`'s order of precedence (strictest
/// action, then the earliest origin, then the last listed), the first that matches wins,
/// else the fallback. Rules weaker than the fallback never decide and are left out.
fn leaf(g: &mut Graph, ring: &Ring, syscall: &Syscall) -> NodeId {
    let fallback = fallback(ring, Some(syscall.name));
    let mut rules: Vec<(usize, &SyscallRule)> = ring
        .syscalls
        .deny
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.name == syscall.name
                && SyscallAction::strictness(r.action) >= SyscallAction::strictness(fallback)
        })
        .collect();
    rules.sort_by(|(ia, a), (ib, b)| {
        SyscallAction::strictness(b.action)
            .cmp(&SyscallAction::strictness(a.action))
            .then_with(|| a.origin.cmp(&b.origin))
            .then_with(|| ib.cmp(ia))
    });
    let mut next = g.ret(ret_value(fallback));
    for (_, rule) in rules.iter().rev() {
        let mut entry = g.ret(ret_value(rule.action));
        let mut conds: Vec<&ArgCondition> = rule.args.iter().collect();
        // Conditions on one argument side by side, so its word is loaded once.
        conds.sort_by_key(|c| c.index);
        for c in conds.iter().rev() {
            let kind = syscall
                .args
                .get(usize::from(c.index))
                .copied()
                .unwrap_or(ArgKind::Long);
            entry = condition(g, c, kind, entry, next);
        }
        next = entry;
    }
    next
}

/// A range of syscall numbers with one outcome: `start..` up to the next range's start.
#[derive(Debug, Clone, Copy)]
struct Range {
    start: u32,
    node: NodeId,
    /// Syscalls of the table inside.
    weight: usize,
}

pub(super) struct Built {
    pub(super) graph: Graph,
    pub(super) root: NodeId,
    /// The first number of each range, in order (one representative per distinct path).
    pub(super) range_starts: Vec<u32>,
}

pub(super) fn build(ring: &Ring, arch: Arch) -> Built {
    let mut g = Graph::default();
    let default = g.ret(ret_value(fallback(ring, None)));
    let mut ranges: Vec<Range> = Vec::new();
    let push = |ranges: &mut Vec<Range>, start: u32, node: NodeId, weight: usize| match ranges
        .last_mut()
    {
        Some(last) if last.node == node => last.weight += weight,
        _ => ranges.push(Range {
            start,
            node,
            weight,
        }),
    };
    let mut cursor: u64 = 0;
    for s in data::syscalls(arch) {
        if u64::from(s.number) > cursor {
            push(&mut ranges, cursor as u32, default, 0);
        }
        let node = leaf(&mut g, ring, s);
        push(&mut ranges, s.number, node, 1);
        cursor = u64::from(s.number) + 1;
    }
    let x32 = match arch {
        Arch::X86_64 => Some(g.ret(ret_value(ring.syscalls.x32_action))),
        Arch::Aarch64 => None,
    };
    let end = if x32.is_some() {
        u64::from(X32_SYSCALL_BIT)
    } else {
        u64::from(u32::MAX) + 1
    };
    if cursor < end {
        push(&mut ranges, cursor as u32, default, 0);
    }
    if let Some(deny) = x32 {
        push(&mut ranges, X32_SYSCALL_BIT, deny, 0);
    }

    let longest = g.longest();
    let costs: Vec<usize> = ranges
        .iter()
        .map(|r| longest.get(r.node).copied().unwrap_or(0))
        .collect();
    let tree = tree(&mut g, &ranges, &costs);
    let nr = g.load(OFFSET_NR, tree);
    let kill = g.ret(SECCOMP_RET_KILL_PROCESS);
    let check = g.jump(JumpOp::Eq, arch.audit_arch(), nr, kill, Some(OFFSET_ARCH));
    let root = g.load(OFFSET_ARCH, check);
    Built {
        graph: g,
        root,
        range_starts: ranges.iter().map(|r| r.start).collect(),
    }
}

/// Above this many ranges the cubic search gives way to a balanced split.
const MAX_OPTIMAL_RANGES: usize = 256;

/// The binary search over the ranges: a `jge start` per inner node. Splits are chosen to
/// minimize the worst path (leaf cost included), then the weighted sum of paths.
fn tree(g: &mut Graph, ranges: &[Range], costs: &[usize]) -> NodeId {
    let n = ranges.len();
    if n == 0 {
        return g.ret(SECCOMP_RET_KILL_PROCESS);
    }
    // best[i][j] = (worst, weighted sum, split) for ranges i..=j.
    let mut prefix = vec![0usize; n + 1];
    for (i, r) in ranges.iter().enumerate() {
        prefix[i + 1] = prefix[i] + r.weight;
    }
    let mut best = vec![vec![(0usize, 0usize, 0usize); n]; n];
    let optimal = n <= MAX_OPTIMAL_RANGES;
    for len in 1..=n {
        for i in 0..=n - len {
            let j = i + len - 1;
            if len == 1 {
                best[i][j] = (costs[i], costs[i] * ranges[i].weight, i);
                continue;
            }
            let weight = prefix[j + 1] - prefix[i];
            let candidates: Vec<usize> = if optimal {
                (i + 1..=j).collect()
            } else {
                vec![i + len.div_ceil(2)]
            };
            let mut choice = (usize::MAX, usize::MAX, i + 1);
            for k in candidates {
                let (lw, ls, _) = best[i][k - 1];
                let (rw, rs, _) = best[k][j];
                let cand = (1 + lw.max(rw), ls + rs + weight, k);
                if (cand.0, cand.1) < (choice.0, choice.1) {
                    choice = cand;
                }
            }
            best[i][j] = choice;
        }
    }
    // Build bottom-up: children before parents, with an explicit stack.
    let mut out: HashMap<(usize, usize), NodeId> = HashMap::new();
    let mut stack = vec![(0usize, n - 1, false)];
    while let Some((i, j, expanded)) = stack.pop() {
        if i == j {
            out.insert((i, j), ranges[i].node);
            continue;
        }
        let k = best[i][j].2;
        if !expanded {
            stack.push((i, j, true));
            stack.push((i, k - 1, false));
            stack.push((k, j, false));
            continue;
        }
        let left = out.get(&(i, k - 1)).copied().unwrap_or(0);
        let right = out.get(&(k, j)).copied().unwrap_or(0);
        let node = g.jump(JumpOp::Ge, ranges[k].start, right, left, Some(OFFSET_NR));
        out.insert((i, j), node);
    }
    out.get(&(0, n - 1)).copied().unwrap_or(0)
}
