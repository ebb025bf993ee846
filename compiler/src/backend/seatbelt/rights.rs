//! Rights of the policy language to SBPL operations: what an allow grants and what a deny
//! withholds. docs/backends/seatbelt.md has the table.

use super::sbpl::{Filter, Operation, Vnode};
use crate::ir::{AccessSet, Right};

/// One operation group a rule grants or withholds, with the object types it is limited to.
pub struct Group {
    pub operations: Vec<Operation>,
    pub only: Option<Filter>,
}

fn group(operations: &[Operation], only: Option<Filter>) -> Group {
    Group {
        operations: operations.to_vec(),
        only,
    }
}

/// `require-any` of several filters, or the one filter.
pub fn any(mut filters: Vec<Filter>) -> Filter {
    if filters.len() == 1 {
        filters.remove(0)
    } else {
        Filter::RequireAny(filters)
    }
}

/// Top-level filters: the targets (alternatives), or with restrictions, one `require-all`.
pub fn restrict(targets: Vec<Filter>, extra: Vec<Filter>) -> Vec<Filter> {
    if extra.is_empty() {
        targets
    } else {
        let mut all = vec![any(targets)];
        all.extend(extra);
        vec![Filter::RequireAll(all)]
    }
}

fn vnodes(types: &[Vnode]) -> Filter {
    any(types.iter().map(|v| Filter::VnodeType(*v)).collect())
}

pub fn not(filter: Filter) -> Filter {
    Filter::RequireNot(Box::new(filter))
}

/// What an allow rule's rights grant, as SBPL operations. A group the rights do not fill is
/// narrowed to the object types they name (`vnode-type`); `truncate` and `refer` have no
/// operation of their own (they come with `write_file`, and with creation and removal).
pub fn grants(access: AccessSet) -> Vec<Group> {
    use Right::*;
    let has = |a| access.contains(a);
    let mut out = Vec::new();
    match (has(ReadFile), has(ReadDir)) {
        (true, true) => out.push(group(&[Operation::FileRead], None)),
        (true, false) => out.push(group(
            &[Operation::FileRead],
            Some(not(Filter::VnodeType(Vnode::Directory))),
        )),
        (false, true) => out.push(group(
            &[Operation::FileRead],
            Some(Filter::VnodeType(Vnode::Directory)),
        )),
        (false, false) => {}
    }
    if access.is_superset(AccessSet::WRITE) {
        out.push(group(&[Operation::FileWrite], None));
    } else {
        if has(WriteFile) {
            out.push(group(&[Operation::FileWriteData], None));
        }
        let made: Vec<Vnode> = [
            (MakeReg, Vnode::RegularFile),
            (MakeDir, Vnode::Directory),
            (MakeSym, Vnode::Symlink),
            (MakeSock, Vnode::Socket),
            (MakeFifo, Vnode::Fifo),
        ]
        .into_iter()
        .filter(|(a, _)| has(*a))
        .map(|(_, v)| v)
        .collect();
        match made.len() {
            0 => {}
            5 => out.push(group(&[Operation::FileWriteCreate], None)),
            _ => out.push(group(&[Operation::FileWriteCreate], Some(vnodes(&made)))),
        }
        match (has(RemoveFile), has(RemoveDir)) {
            (true, true) => out.push(group(&[Operation::FileWriteUnlink], None)),
            (true, false) => out.push(group(
                &[Operation::FileWriteUnlink],
                Some(not(Filter::VnodeType(Vnode::Directory))),
            )),
            (false, true) => out.push(group(
                &[Operation::FileWriteUnlink],
                Some(Filter::VnodeType(Vnode::Directory)),
            )),
            (false, false) => {}
        }
    }
    for (right, vnode) in [
        (MakeChar, Vnode::CharacterDevice),
        (MakeBlock, Vnode::BlockDevice),
    ] {
        if has(right) {
            out.push(group(
                &[Operation::FileWriteCreate],
                Some(Filter::VnodeType(vnode)),
            ));
        }
    }
    if has(Execute) {
        out.push(group(
            &[Operation::ProcessExec, Operation::FileMapExecutable],
            None,
        ));
    }
    if has(IoctlDev) {
        out.push(group(&[Operation::FileIoctl], None));
    }
    out
}

/// What a deny rule's rights withhold, as SBPL operations: whole groups, so a deny may
/// withhold more than it names (lint `NC0904`), never less.
pub fn withholds(access: AccessSet) -> Vec<Operation> {
    use Right::*;
    let has = |a| access.contains(a);
    let mut out = Vec::new();
    if has(ReadFile) || has(ReadDir) {
        out.push(Operation::FileRead);
    }
    if access.is_superset(AccessSet::WRITE) {
        out.push(Operation::FileWrite);
    } else {
        if has(WriteFile) || has(Truncate) {
            out.push(Operation::FileWriteData);
        }
        let creates = [
            MakeReg, MakeDir, MakeSym, MakeSock, MakeFifo, MakeChar, MakeBlock,
        ];
        if creates.iter().any(|a| has(*a)) || has(Refer) {
            out.push(Operation::FileWriteCreate);
        }
        if has(RemoveFile) || has(RemoveDir) || has(Refer) {
            out.push(Operation::FileWriteUnlink);
        }
    }
    if has(Execute) {
        out.push(Operation::ProcessExec);
        out.push(Operation::FileMapExecutable);
    }
    if has(IoctlDev) {
        out.push(Operation::FileIoctl);
    }
    out
}
