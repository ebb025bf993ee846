//! Filesystem presets (`filesystem.presets`, v1.1): the grants a program family needs to run,
//! kept as data in `data/fs_presets.tsv` (one grant a line, per platform) and expanded into
//! ordinary allow rules of the ring that names them, each with the preset as its origin.

use std::sync::LazyLock;

use super::{AccessSet, PathTemplate, Platform};

const FS_PRESETS_TSV: &str = include_str!("../data/fs_presets.tsv");

/// The filesystem presets, in the order the documentation gives them.
pub const FS_PRESETS: [&str; 7] = ["system", "python", "git", "node", "certs", "tmp", "devices"];

/// The variable a preset line may start with: its line belongs to the preset only when the
/// policy declares it.
pub const HOME: &str = "home";

/// The variable the `tmp` preset's line starts with: the run's private temporary directory,
/// which the preset itself declares (`resolve::PRIVATE_TMP`).
pub const TMP: &str = crate::resolve::PRIVATE_TMP;

/// One grant of a preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsPresetGrant {
    /// The preset whose line it is (another than the one asked for when included).
    pub preset: &'static str,
    /// `None`: both systems.
    pub platform: Option<Platform>,
    pub access: AccessSet,
    pub path: PathTemplate,
}

/// One line of the table.
#[derive(Debug, Clone)]
enum Line {
    Grant(FsPresetGrant),
    Include {
        preset: &'static str,
        included: &'static str,
    },
}

static LINES: LazyLock<Vec<Line>> = LazyLock::new(|| {
    FS_PRESETS_TSV
        .lines()
        .filter_map(|line| parse_line(line).ok().flatten())
        .collect()
});

/// A line of the table: `Ok(None)` for a comment or a blank line, `Err` for a malformed one
/// (skipped at run time; a unit test makes sure there is none).
fn parse_line(line: &'static str) -> Result<Option<Line>, String> {
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let fields: Vec<&'static str> = line.split('\t').collect();
    let [preset, platform, access, path] = fields[..] else {
        return Err(format!("not four fields: {line:?}"));
    };
    let preset = FS_PRESETS
        .into_iter()
        .find(|p| *p == preset)
        .ok_or_else(|| format!("unknown preset: {line:?}"))?;
    if access == "include" {
        let included = FS_PRESETS
            .into_iter()
            .find(|p| *p == path)
            .ok_or_else(|| format!("unknown included preset: {line:?}"))?;
        return Ok(Some(Line::Include { preset, included }));
    }
    let platform = match platform {
        "any" => None,
        "linux" => Some(Platform::Linux),
        "macos" => Some(Platform::Macos),
        _ => return Err(format!("unknown platform: {line:?}")),
    };
    let mut set = AccessSet::EMPTY;
    for name in access.split(',') {
        set = set.union(AccessSet::from_name(name).ok_or_else(|| format!("access: {line:?}"))?);
    }
    let path = PathTemplate::parse(path).map_err(|e| format!("path ({e:?}): {line:?}"))?;
    match path.variable() {
        None => {}
        Some(HOME) => {}
        // The preset that declares `tmp` is the only one that may grant it.
        Some(TMP) if preset == "tmp" => {}
        Some(_) => {
            return Err(format!(
                "a variable other than `home` (or `tmp` in `tmp`): {line:?}"
            ));
        }
    }
    Ok(Some(Line::Grant(FsPresetGrant {
        preset,
        platform,
        access: set,
        path,
    })))
}

/// Whether `name` is a filesystem preset.
pub fn is_fs_preset(name: &str) -> bool {
    FS_PRESETS.contains(&name)
}

/// The grants of a preset, those of the presets it includes after its own, each once (a
/// preset included twice adds nothing the second time). `None` for an unknown name.
pub fn fs_preset(name: &str) -> Option<Vec<FsPresetGrant>> {
    if !is_fs_preset(name) {
        return None;
    }
    let mut grants = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut pending = vec![name];
    while let Some(preset) = pending.pop() {
        if seen.contains(&preset) {
            continue;
        }
        seen.push(preset);
        let mut includes = Vec::new();
        for line in LINES.iter() {
            match line {
                Line::Grant(g) if g.preset == preset => grants.push(g.clone()),
                Line::Include {
                    preset: p,
                    included,
                } if *p == preset => includes.push(*included),
                _ => {}
            }
        }
        // Depth first, in the table's order.
        pending.extend(includes.into_iter().rev());
    }
    Some(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_table_parses() {
        for line in FS_PRESETS_TSV.lines() {
            assert!(parse_line(line).is_ok(), "{:?}", parse_line(line));
        }
    }

    #[test]
    fn every_preset_grants_on_both_systems() {
        for name in FS_PRESETS {
            let grants = fs_preset(name).unwrap();
            for platform in [Platform::Linux, Platform::Macos] {
                assert!(
                    grants
                        .iter()
                        .any(|g| g.platform.is_none_or(|p| p == platform)),
                    "{name} grants nothing on {platform:?}"
                );
            }
        }
        assert!(fs_preset("hardening").is_none());
    }

    #[test]
    fn includes_are_expanded_once() {
        let git = fs_preset("git").unwrap();
        let from = |preset: &str| git.iter().filter(|g| g.preset == preset).count();
        assert!(from("git") > 0 && from("devices") > 0);
        assert_eq!(from("system"), fs_preset("system").unwrap().len());
        let null: Vec<_> = git
            .iter()
            .filter(|g| g.path.as_str() == "/dev/null")
            .collect();
        assert_eq!(null.len(), 1, "{null:?}");
    }

    fn analyzed(variables: &str, presets: &str) -> crate::Analysis {
        let text = format!(
            "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: t }}\n{variables}rings:\n  2:\n    filesystem:\n      presets: [{presets}]\n"
        );
        crate::analyze("t.yaml", text.as_bytes())
    }

    /// The grants of a ring as the IR has them, with their origins' scopes.
    fn grants(a: &crate::Analysis) -> Vec<(String, String)> {
        a.ir.as_ref().unwrap().rings[&2]
            .filesystem
            .iter()
            .map(|r| (r.target.text().to_owned(), r.origin.scope.clone()))
            .collect()
    }

    #[test]
    fn presets_expand_with_their_origin_once_per_path() {
        let a = analyzed("variables: { home: { env: HOME } }\n", "git, devices");
        assert!(!a.diagnostics.iter().any(|d| d.is_error()));
        let g = grants(&a);
        let null: Vec<_> = g.iter().filter(|(p, _)| p == "/dev/null").collect();
        assert_eq!(null.len(), 1, "{g:?}");
        assert!(g.contains(&("${home}/.gitconfig".to_owned(), "preset git".to_owned())));
        assert!(g.contains(&("/usr/lib".to_owned(), "preset git (from system)".to_owned())));
        let rule = &a.ir.as_ref().unwrap().rings[&2].filesystem[0];
        assert_eq!((rule.origin.line, rule.origin.column), (8, 17));
    }

    #[test]
    fn home_grants_need_a_home_variable_and_say_so() {
        use crate::diagnostic::Code;
        let a = analyzed("", "git");
        let warned: Vec<_> = a
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::FsPresetWithoutHome)
            .collect();
        assert_eq!(warned.len(), 1);
        assert!(!grants(&a).iter().any(|(p, _)| p.starts_with("${home}")));
        let a = analyzed("", "system, rust");
        let unknown: Vec<_> = a
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::UnknownFsPreset)
            .collect();
        assert_eq!(unknown.len(), 1);
        assert!(
            a.diagnostics
                .iter()
                .all(|d| d.code != Code::FsPresetWithoutHome)
        );
    }

    #[test]
    fn tmp_grants_the_private_directory_it_declares_and_no_shared_one() {
        use crate::diagnostic::Code;
        let a = analyzed("", "tmp");
        assert!(
            !a.diagnostics.iter().any(|d| d.is_error()),
            "{:?}",
            a.diagnostics
        );
        assert_eq!(grants(&a), [("${tmp}".to_owned(), "preset tmp".to_owned())]);
        let ir = a.ir.as_ref().unwrap();
        assert!(ir.variables[TMP].private_tmp);
        assert!(ir.variables[TMP].env.is_none() && ir.variables[TMP].default.is_none());
        for name in FS_PRESETS {
            for g in fs_preset(name).unwrap() {
                let p = g.path.as_str();
                assert!(
                    !["/tmp", "/var/tmp", "/private/tmp", "/private/var/tmp"]
                        .iter()
                        .any(|shared| crate::resolve::path_within(p, shared, false)),
                    "{name}: {p}"
                );
                assert!(
                    g.path.variable() != Some(TMP) || name == "tmp",
                    "{name}: {p}"
                );
            }
        }
        // Without the preset there is no `tmp`; with it, another ring may name `${tmp}`.
        assert!(
            !analyzed("", "system")
                .ir
                .unwrap()
                .variables
                .contains_key(TMP)
        );
        let text = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\nrings:\n  2:\n    filesystem: { presets: [tmp] }\n  3:\n    filesystem: { read: [\"${tmp}/in\"] }\n";
        let a = crate::analyze("t.yaml", text.as_bytes());
        assert!(
            !a.diagnostics.iter().any(|d| d.is_error()),
            "{:?}",
            a.diagnostics
        );
        let without = text.replace("presets: [tmp]", "presets: [system]");
        let a = crate::analyze("t.yaml", without.as_bytes());
        assert!(
            a.diagnostics
                .iter()
                .any(|d| d.code == Code::UndeclaredVariable)
        );
    }

    #[test]
    fn a_tmp_variable_of_the_policys_own_beside_the_preset_is_nc0415() {
        use crate::diagnostic::Code;
        let a = analyzed("variables: { tmp: { env: TMPDIR } }\n", "tmp");
        let found: Vec<_> = a
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::TmpVariableDeclared)
            .collect();
        assert_eq!(found.len(), 1, "{:?}", a.diagnostics);
        assert!(found[0].is_error() && found[0].help.is_some() && found[0].related.len() == 1);
        // The policy's own `tmp` without the preset is an ordinary variable.
        let a = analyzed("variables: { tmp: { env: TMPDIR } }\n", "system");
        assert!(
            !a.diagnostics.iter().any(|d| d.is_error()),
            "{:?}",
            a.diagnostics
        );
        assert!(!a.ir.unwrap().variables["tmp"].private_tmp);
    }

    #[test]
    fn no_preset_reaches_private_keys_or_secrets() {
        for name in FS_PRESETS {
            for g in fs_preset(name).unwrap() {
                let p = g.path.as_str();
                assert!(
                    !p.starts_with("/etc/ssl/private")
                        && p != "/etc/ssl"
                        && p != "/etc"
                        && p != "/"
                        && p != "${home}"
                        && !p.starts_with("${home}/.ssh"),
                    "{name}: {p}"
                );
            }
        }
    }
}
