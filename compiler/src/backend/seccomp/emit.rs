//! Lays the decision graph out as instructions, last instruction first, so that every jump
//! target is already placed. A conditional jump reaches at most 255 instructions ahead: a
//! farther target gets a `ja` trampoline (32-bit offset), or a fresh copy when it is a `ret`.

use super::graph::{Graph, JumpOp, Node, NodeId};
use super::{Instruction, op};

const MAX_JUMP: usize = 255;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Instruction {
    Instruction { code, jt, jf, k }
}

fn jump_code(op: JumpOp) -> u16 {
    match op {
        JumpOp::Eq => op::JEQ_K,
        JumpOp::Gt => op::JGT_K,
        JumpOp::Ge => op::JGE_K,
        JumpOp::Set => op::JSET_K,
    }
}

enum Step {
    Enter(NodeId),
    Finish(NodeId),
}

/// The program in reverse while it is built: an instruction's position counts from the end,
/// so positions stay valid as instructions are prepended.
struct Layout {
    rev: Vec<Instruction>,
    /// Position of each node's (latest) first instruction.
    pos: Vec<Option<usize>>,
}

impl Layout {
    fn push(&mut self, i: Instruction) -> usize {
        self.rev.push(i);
        self.rev.len() - 1
    }

    /// Offset from an instruction about to be pushed to the one at `target`.
    fn distance(&self, target: usize) -> usize {
        self.rev.len() - target - 1
    }

    /// Makes `id` reachable from the instruction about to be pushed within `limit`: returns
    /// the position to jump to, pushing a trampoline or a `ret` copy when it is too far.
    fn reach(&mut self, g: &Graph, id: NodeId, limit: usize) -> usize {
        let at = self.pos[id].unwrap_or(0);
        if self.distance(at) <= limit {
            return at;
        }
        match g.node(id) {
            Node::Ret(k) => {
                let p = self.push(insn(op::RET_K, 0, 0, k));
                self.pos[id] = Some(p);
                p
            }
            _ => {
                let k = self.distance(at) as u32;
                self.push(insn(op::JA, 0, 0, k))
            }
        }
    }
}

pub(super) fn emit(g: &Graph, root: NodeId) -> Vec<Instruction> {
    let mut l = Layout {
        rev: Vec::new(),
        pos: vec![None; g.len()],
    };
    let mut stack = vec![Step::Enter(root)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(id) => {
                if l.pos[id].is_some() {
                    continue;
                }
                match g.node(id) {
                    Node::Ret(k) => {
                        let p = l.push(insn(op::RET_K, 0, 0, k));
                        l.pos[id] = Some(p);
                    }
                    Node::Load { next, .. } | Node::And { next, .. } => {
                        stack.push(Step::Finish(id));
                        stack.push(Step::Enter(next));
                    }
                    Node::Jump { jt, jf, .. } => {
                        // The false branch is laid out first (farther), the true branch
                        // right after the jump.
                        stack.push(Step::Finish(id));
                        stack.push(Step::Enter(jt));
                        stack.push(Step::Enter(jf));
                    }
                }
            }
            Step::Finish(id) => {
                let p = match g.node(id) {
                    Node::Ret(_) => continue,
                    Node::Load { off, next } => {
                        l.reach(g, next, 0);
                        l.push(insn(op::LD_W_ABS, 0, 0, off))
                    }
                    Node::And { mask, next } => {
                        l.reach(g, next, 0);
                        l.push(insn(op::AND_K, 0, 0, mask))
                    }
                    Node::Jump { op, k, jt, jf } => {
                        let mut t = l.pos[jt].unwrap_or(0);
                        let mut f = l.pos[jf].unwrap_or(0);
                        loop {
                            if l.distance(t) > MAX_JUMP {
                                t = l.reach(g, jt, MAX_JUMP);
                            } else if l.distance(f) > MAX_JUMP {
                                f = l.reach(g, jf, MAX_JUMP);
                            } else {
                                break;
                            }
                        }
                        let (dt, df) = (l.distance(t) as u8, l.distance(f) as u8);
                        l.push(insn(jump_code(op), dt, df, k))
                    }
                };
                l.pos[id] = Some(p);
            }
        }
    }
    l.rev.reverse();
    l.rev
}
