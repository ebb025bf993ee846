//! Where the profile of a ring enforces its rules other than as written, said as warnings:
//! stricter (`NC0904` coarser groups, `NC0907` rename protection) or, because Seatbelt has
//! no operation of its own for a right, more permissive (`NC0905` truncate, `NC0906` refer).
//! Each is reported where it makes a difference a request can observe.

use super::rights::withholds;
use super::sbpl::Operation;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{Access, AccessSet, Effect, FsRule, FsTarget, PathTemplate, Platform, Ring};

const MAKES: [Access; 7] = [
    Access::MakeReg,
    Access::MakeDir,
    Access::MakeSym,
    Access::MakeSock,
    Access::MakeFifo,
    Access::MakeChar,
    Access::MakeBlock,
];

/// The rights an operation stands for when a deny withholds it.
fn rights_of(op: Operation) -> AccessSet {
    match op {
        Operation::FileRead => AccessSet::READ,
        Operation::FileWrite => AccessSet::WRITE
            .union(Access::MakeChar.into())
            .union(Access::MakeBlock.into()),
        Operation::FileWriteData => [Access::WriteFile, Access::Truncate].into_iter().collect(),
        Operation::FileWriteCreate => MAKES.into_iter().chain([Access::Refer]).collect(),
        Operation::FileWriteUnlink => [Access::RemoveFile, Access::RemoveDir, Access::Refer]
            .into_iter()
            .collect(),
        Operation::ProcessExec | Operation::FileMapExecutable => Access::Execute.into(),
        Operation::FileIoctl => Access::IoctlDev.into(),
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
    let mut out = access.difference([Access::Truncate, Access::Refer].into_iter().collect());
    if access.contains(Access::WriteFile) {
        out = out.union(Access::Truncate.into());
    }
    if access.is_superset(AccessSet::WRITE)
        || (access.contains(Access::MakeReg) && access.contains(Access::RemoveFile))
    {
        out = out.union(Access::Refer.into());
    }
    out
}

fn on_macos(rule: &FsRule) -> bool {
    rule.platform.is_none_or(|p| p == Platform::Macos)
}

/// Whether two rules may cover a common path, judged on the templates.
fn overlap(a: &PathTemplate, b: &PathTemplate) -> bool {
    a.is_within(b) || b.is_within(a)
}

fn names(set: AccessSet) -> String {
    set.iter()
        .map(|a| format!("`{}`", a.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The warnings for one confined ring.
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
    let level = ring.level;

    for (rule, path) in &allows {
        let given = granted(rule.access);
        let missing = rule.access.difference(given);
        if !missing.is_empty() {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltCoarse,
                    rule.origin.span(),
                    format!(
                        "on macOS ring {level} is not granted {} on `{}`",
                        names(missing),
                        path.as_str()
                    ),
                )
                .help("Seatbelt has no operation of its own for `truncate` or `refer`: they come with `write_file`, and with `make_reg` and `remove_file`; grant those too, or accept the stricter rule"),
            );
        }
        // Devices cannot be truncated: withholding `truncate` on `/dev/null` means nothing.
        let under_dev = path.as_str() == "/dev" || path.as_str().starts_with("/dev/");
        if given.contains(Access::Truncate) && !rule.access.contains(Access::Truncate) && !under_dev
        {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltTruncate,
                    rule.origin.span(),
                    format!(
                        "on macOS ring {level} may also truncate files under `{}`",
                        path.as_str()
                    ),
                )
                .help("Seatbelt checks truncation as writing (`file-write-data`); add `truncate` to the rule to say so, or leave `write_file` out"),
            );
        }
        if given.contains(Access::Refer) && !rule.access.contains(Access::Refer) {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltRefer,
                    rule.origin.span(),
                    format!(
                        "on macOS ring {level} may also move files into and out of `{}`",
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
        let observable = allows
            .iter()
            .find(|(a, p)| !a.access.intersection(extra).is_empty() && overlap(&root, p));
        if let Some((allow, _)) = observable {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltCoarse,
                    deny.origin.span(),
                    format!(
                        "on macOS the deny of `{}` in ring {level} also withholds {}",
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
        let removable = allows.iter().find(|(a, p)| {
            let given = granted(a.access);
            let removes = [Access::RemoveFile, Access::RemoveDir, Access::Refer]
                .into_iter()
                .any(|r| given.contains(r));
            removes && (root.is_within(p) || (p.is_within(&root) && !unlinks_withheld))
        });
        if let Some((allow, _)) = removable {
            out.push(
                Diagnostic::new(
                    Code::SeatbeltRename,
                    deny.origin.span(),
                    format!(
                        "on macOS `{}` and the directories above it cannot be removed or renamed in ring {level}",
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
