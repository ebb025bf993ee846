//! What this host does to a request the policy allows, when the runtime's isolation tier
//! refuses it anyway: `explain`'s `on this host` line. The ring is compiled and previewed with
//! `nonoc_runtime` exactly as `nonoc exec` would apply it here (placement on the real tree,
//! the tier this process gets), and the request's path is looked up in what the preview
//! reports: a directory split by a carve-out (the `landlock` tier), or a mask that takes more
//! than its deny (the `namespace` tier).

use std::path::Path;

use nonoc_runtime::{IsolationReport, LandlockReport, Tier};

use crate::backend::Targets;
use crate::ir::{self, BoundVariables, Effect, FsTarget, Ir, Right};

/// Why a request `decide` allows fails on this host, in words about files; `None` when it
/// does not (or when the ring cannot be previewed here).
pub fn host_note(
    ir: &Ir,
    analysis: &crate::Analysis,
    level: u8,
    path: &str,
    access: Right,
    bindings: &BoundVariables,
) -> Option<String> {
    if ir::Platform::host() != ir::Platform::Linux {
        return None;
    }
    let targets = Targets {
        linux: true,
        macos: false,
    };
    let (artifact, _) =
        crate::artifact::build(ir, &analysis.lowered, &analysis.bytes, targets).ok()?;
    let ring = artifact.ring(level).ok()?;
    let mut runtime = nonoc_runtime::Bindings::new();
    for (name, value) in bindings.iter() {
        runtime.insert(name, value);
    }
    let report = ring.preview(&runtime).ok()?;
    let (isolation, landlock) = (report.isolation?, report.landlock?);
    let creating = access == Right::WriteFile && !Path::new(path).exists();
    let (dir, right, doing) = if creating {
        let dir = existing_ancestor(path);
        let doing = if dir == parent(path) {
            format!("creating `{path}`")
        } else {
            format!("creating directories on the way to `{path}`")
        };
        (dir, Right::MakeReg, doing)
    } else {
        let right = match access {
            Right::WriteFile | Right::ReadFile | Right::Execute => access,
            _ => return None,
        };
        (path.to_owned(), right, format!("{} `{path}`", verb(right)))
    };
    if let Some(note) = masked(&isolation, &dir, right, creating, &doing) {
        return Some(note);
    }
    if !creating {
        return None;
    }
    carved(ir, level, bindings, &isolation, &landlock, &dir)
}

/// A mask of the namespace tier that takes the right (more than the deny it enforces).
fn masked(
    isolation: &IsolationReport,
    dir: &str,
    right: Right,
    creating: bool,
    doing: &str,
) -> Option<String> {
    let mask = isolation
        .masks
        .iter()
        .rfind(|m| within(dir, &m.path) && m.also_denied.contains(&right))?;
    let what = if creating {
        format!("new files in `{dir}`")
    } else {
        format!("`{}` and everything below it", mask.path)
    };
    let how = match mask.kind {
        nonoc_runtime::MaskKind::Covered => "covered by an empty, read-only, unreadable mask",
        nonoc_runtime::MaskKind::NoExec => "bound onto itself without execute",
        _ => "bound read-only onto itself",
    };
    Some(format!(
        "{doing} fails (tier namespace): `{}` is {how} to enforce its deny, which takes {} from {what} too",
        mask.path,
        right.name(),
    ))
}

/// A directory of the landlock tier's carve-out that lost the right to create entries.
fn carved(
    ir: &Ir,
    level: u8,
    bindings: &BoundVariables,
    isolation: &IsolationReport,
    landlock: &LandlockReport,
    dir: &str,
) -> Option<String> {
    let (_, lost) = landlock.carve_outs.iter().find(|(split, _)| split == dir)?;
    if !lost.contains(&Right::MakeReg) {
        return None;
    }
    let denied: Vec<String> = ir
        .rings
        .get(&level)?
        .filesystem
        .iter()
        .filter(|r| r.effect == Effect::Deny)
        .filter_map(|r| match &r.target {
            FsTarget::Path(p) => p.expand(bindings),
            FsTarget::Glob(_) => None,
        })
        .chain(
            landlock
                .glob_matches
                .iter()
                .flat_map(|(_, found)| found.iter().cloned()),
        )
        .filter(|p| p != dir && within(p, dir))
        .collect();
    let deny = denied.first().map_or_else(
        || "a deny inside it".to_owned(),
        |p| format!("the deny of `{p}`"),
    );
    let why = match (isolation.tier, &isolation.unavailable) {
        (Tier::Landlock, Some(why)) if why.starts_with("the policy") => why.clone(),
        (Tier::Landlock, Some(why)) => format!("this host gives no mount namespaces ({why})"),
        _ => match isolation.unmasked.iter().find(|(p, _)| within(p, dir)) {
            Some((p, reason)) => format!("`{p}` cannot be masked: {reason}"),
            None => "the isolation layer is not used".to_owned(),
        },
    };
    Some(format!(
        "creating new files directly in `{dir}/` fails because {why}; {deny} is then enforced by splitting `{dir}`, which loses the right to create entries in itself (tier landlock; docs/isolation.md)"
    ))
}

fn verb(right: Right) -> &'static str {
    match right {
        Right::ReadFile => "reading",
        Right::Execute => "executing",
        _ => "writing",
    }
}

fn within(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|t| t.starts_with('/'))
}

fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

/// The deepest ancestor of `path` that exists.
fn existing_ancestor(path: &str) -> String {
    let mut dir = parent(path);
    while dir != "/" && !Path::new(&dir).exists() {
        dir = parent(&dir);
    }
    dir
}
