//! Where the profile of a ring enforces its rules other than as written, said as warnings:
//! stricter (`NC0904` coarser groups, `NC0907` rename protection) or, because Seatbelt has
//! no operation of its own for a right, more permissive (`NC0905` truncate, `NC0906` refer).
//! Each is reported where it makes a difference a request can observe.

use std::collections::BTreeSet;

use super::rights::withholds;
use super::sbpl::Operation;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::rule_index::RuleIndex;
use crate::ir::{AccessSet, Effect, FsRule, FsTarget, PathTemplate, Platform, Right, Ring};

const MAKES: [Right; 7] = [
    Right::MakeReg,
    Right::MakeDir,
    Right::MakeSym,
    Right::MakeSock,
    Right::MakeFifo,
    Right::MakeChar,
    Right::MakeBlock,
];

/// The rights an operation stands for when a deny withholds it.
fn rights_of(op: Operation) -> AccessSet {
    match op {
        Operation::FileRead => AccessSet::READ,
        Operation::FileWrite => AccessSet::WRITE
            .union(Right::MakeChar.into())
            .union(Right::MakeBlock.into()),
        Operation::FileWriteData => [Right::WriteFile, Right::Truncate].into_iter().collect(),
        Operation::FileWriteCreate => MAKES.into_iter().chain([Right::Refer]).collect(),
        Operation::FileWriteUnlink => [Right::RemoveFile, Right::RemoveDir, Right::Refer]
            .into_iter()
            .collect(),
        Operation::ProcessExec | Operation::FileMapExecutable => Right::Execute.into(),
        Operation::FileIoctl => Right::IoctlDev.into(),
        _ => AccessSet::EMPTY,
    }
}

/// The rights a deny withholds on macOS.
pub fn withheld(access: AccessSet) -> AccessSet {
    withholds(access)
        .into_iter()
        .fold(AccessSet::EMPTY, |s, op| s.union(rights_of(op)))
}

/// The rights an allow grants on macOS.
pub fn granted(access: AccessSet) -> AccessSet {
    let mut out = access.difference([Right::Truncate, Right::Refer].into_iter().collect());
    if access.contains(Right::WriteFile) {
        out = out.union(Right::Truncate.into());
    }
    if access.is_superset(AccessSet::WRITE)
        || (access.contains(Right::MakeReg) && access.contains(Right::RemoveFile))
    {
        out = out.union(Right::Refer.into());
    }
    out
}

fn on_macos(rule: &FsRule) -> bool {
    rule.platform.is_none_or(|p| p == Platform::Macos)
}

fn names(set: AccessSet) -> String {
    set.iter()
        .map(|a| format!("`{}`", a.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The warnings for one confined ring, each message without the ring
/// ([`crate::diagnostic::merge_rings`] names the rings).
pub fn findings(ring: &Ring) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if ring.unconfined {
        return out;
    }
    let rules: Vec<&FsRule> = ring.filesystem.iter().filter(|r| on_macos(r)).collect();
    let allows: Vec<(&FsRule, &PathTemplate)> = rules
        .iter()
        .filter(|r| r.effect == Effect::Allow)
        .filter_map(|r| match &r.target {
            FsTarget::Path(p) => Some((*r, p)),
            FsTarget::Glob(_) => None,
        })
        .collect();
    // The same allows, by path: index i is `allows[i]`.
    let by_path = RuleIndex::new(allows.iter().map(|(r, _)| *r), |r| match &r.target {
        FsTarget::Path(p) => Some(p.clone()),
        FsTarget::Glob(_) => None,
    });

    for (rule, path) in &allows {
        let given = granted(rule.access);
        let missing = rule.access.difference(given);
        if !missing.is_empty() {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltCoarse,
                    rule.origin.span(),
                    format!(
                        "on macOS {} on `{}` is not granted",
                        names(missing),
                        path.as_str()
                    ),
                )
                .help("Seatbelt has no operation of its own for `truncate` or `refer`: they come with `write_file`, and with `make_reg` and `remove_file`; grant those too, or accept the stricter rule"),
            );
        }
        // Devices cannot be truncated: withholding `truncate` on `/dev/null` means nothing.
        let under_dev = path.as_str() == "/dev" || path.as_str().starts_with("/dev/");
        if given.contains(Right::Truncate) && !rule.access.contains(Right::Truncate) && !under_dev {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltTruncate,
                    rule.origin.span(),
                    format!(
                        "on macOS files under `{}` may also be truncated",
                        path.as_str()
                    ),
                )
                .help("Seatbelt checks truncation as writing (`file-write-data`); add `truncate` to the rule to say so, or leave `write_file` out"),
            );
        }
        if given.contains(Right::Refer) && !rule.access.contains(Right::Refer) {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltRefer,
                    rule.origin.span(),
                    format!(
                        "on macOS files may also be moved into and out of `{}`",
                        path.as_str()
                    ),
                )
                .help("Seatbelt checks a rename as removing the old name and creating the new one; add `refer` to the rule to say so, or leave `make_reg` or `remove_file` out"),
            );
        }
    }

    for deny in rules.iter().filter(|r| r.effect == Effect::Deny) {
        let root = deny.target.root();
        let extra = withheld(deny.access).difference(deny.access);
        // The first allow (in rule order) whose path lies at, above or below the deny's root.
        let observable = by_path
            .related(root.as_str())
            .into_iter()
            .map(|i| allows[i])
            .find(|(a, _)| !a.access.intersection(extra).is_empty());
        if let Some((allow, _)) = observable {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltCoarse,
                    deny.origin.span(),
                    format!(
                        "on macOS the deny of `{}` also withholds {}",
                        deny.target.text(),
                        names(extra.intersection(allow.access))
                    ),
                )
                .label("denies more on macOS")
                .related(allow.origin.span(), "granted here")
                .help("Seatbelt has one operation for reading files and directories, one for writing data, one for creating and one for removing entries; deny the whole group to say so"),
            );
        }
        let unlinks_withheld = withholds(deny.access)
            .iter()
            .any(|op| op.covers(Operation::FileWriteUnlink));
        // Allows at or above the root, and (unless the deny withholds removal) below it.
        let mut candidates: BTreeSet<usize> = by_path.at_or_above(root.as_str()).collect();
        if !unlinks_withheld {
            candidates.extend(by_path.at_or_below(root.as_str()));
        }
        let removable = candidates.into_iter().map(|i| allows[i]).find(|(a, _)| {
            let given = granted(a.access);
            [Right::RemoveFile, Right::RemoveDir, Right::Refer]
                .into_iter()
                .any(|r| given.contains(r))
        });
        if let Some((allow, _)) = removable {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltRename,
                    deny.origin.span(),
                    format!(
                        "on macOS `{}` and the directories above it cannot be removed or renamed",
                        deny.target.text()
                    ),
                )
                .label("protected from renames on macOS")
                .related(allow.origin.span(), "removal granted here")
                .help("a rename of the denied path, or of a directory above it, would move what the deny protects out of its reach; macOS has no way to refuse only that, so the profile refuses removing and renaming them"),
            );
        }
    }
    out
}
