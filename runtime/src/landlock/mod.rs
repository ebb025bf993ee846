//! Applying a ring's Landlock plan: bind, place rules (carve-outs, glob expansion), negotiate
//! the ABI, open every path, then restrict.

mod glob;
mod loader;
mod resolve;
mod tree;

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;

#[cfg(feature = "compiler")]
pub use loader::interpreter_of;
pub use loader::{Loaders, loaders};
pub use resolve::Cached;
#[cfg(feature = "compiler")]
pub use tree::place;
pub use tree::{BoundRule, BoundTarget, DenyPoint, Fs, Grant, Kind, Link, place_masked, within};

use crate::Error;
use crate::artifact::{Artifact, Compatibility, Effect, LandlockPlan, Right, ScopeName, Target};
use crate::bind::{Bindings, BoundVariables};
use crate::report::{Dropped, LandlockReport};

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl Fs for RealFs {
    fn kind(&self, path: &str) -> Kind {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Kind::Dir,
            Ok(_) => Kind::File,
            Err(_) => Kind::Missing,
        }
    }

    fn entries(&self, dir: &str) -> std::io::Result<Vec<(String, Kind)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let kind = match entry.file_type() {
                Ok(t) if t.is_symlink() => Kind::Symlink,
                Ok(t) if t.is_dir() => Kind::Dir,
                Ok(t)
                    if t.is_file()
                        || t.is_fifo()
                        || t.is_socket()
                        || t.is_char_device()
                        || t.is_block_device() =>
                {
                    Kind::File
                }
                _ => Kind::File,
            };
            // A name that is not UTF-8 cannot be matched or named in a rule: refuse rather
            // than skip it (a deny glob could miss it).
            let name = entry.file_name().into_string().map_err(|name| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{dir}/{}: a file name that is not UTF-8",
                        name.to_string_lossy()
                    ),
                )
            })?;
            out.push((name, kind));
        }
        out.sort();
        Ok(out)
    }

    fn is_symlink(&self, path: &str) -> bool {
        std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
    }

    fn read_link(&self, path: &str) -> Link {
        self.read_link_and_kind(path).0
    }

    fn read_link_and_kind(&self, path: &str) -> (Link, Option<Kind>) {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_symlink() => {
                let link = match std::fs::read_link(path) {
                    Ok(target) => Link::To(target.to_string_lossy().into_owned()),
                    // Replaced since the lstat.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Link::NotLink,
                    Err(_) => Link::Missing,
                };
                (link, Some(Kind::Symlink))
            }
            Ok(m) if m.is_dir() => (Link::NotLink, Some(Kind::Dir)),
            Ok(_) => (Link::NotLink, Some(Kind::File)),
            Err(_) => (Link::Missing, Some(Kind::Missing)),
        }
    }
}

/// Opens a grant's path with `O_PATH`, refusing a symbolic link in any component
/// (`openat2` with `RESOLVE_NO_SYMLINKS`): grants name resolved paths (placement resolves
/// the rules' paths and walks resolved directories), so a link there now was put there
/// since, and the apply fails instead of moving the rule. A final component that became a
/// link, on a path no allow rule names, opens the link itself, whose rule grants nothing
/// reachable (or that the kernel refuses for directory rights: the apply then fails closed).
fn open_path(grant: &Grant) -> Result<Option<std::fs::File>, Error> {
    match crate::sys::open_path_no_symlinks(&grant.path, !grant.follow) {
        Ok(fd) => Ok(Some(fd)),
        // Gone since placement: see `prepare`.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(Error::Apply(format!(
            "`{}` goes through a symbolic link that was not there when the rules were placed; refusing to apply",
            grant.path
        ))),
        Err(e) => Err(Error::system(format!("cannot open `{}`", grant.path), e)),
    }
}

fn rights_of(mask: u16) -> Vec<Right> {
    Right::ALL
        .into_iter()
        .filter(|r| mask & r.bit() != 0)
        .collect()
}

/// The kernel's `LANDLOCK_ACCESS_FS_*` bit of a right (include/uapi/linux/landlock.h).
fn access_fs(right: Right) -> u64 {
    let bit = match right {
        Right::Execute => 0,
        Right::WriteFile => 1,
        Right::ReadFile => 2,
        Right::ReadDir => 3,
        Right::RemoveDir => 4,
        Right::RemoveFile => 5,
        Right::MakeChar => 6,
        Right::MakeDir => 7,
        Right::MakeReg => 8,
        Right::MakeSock => 9,
        Right::MakeFifo => 10,
        Right::MakeBlock => 11,
        Right::MakeSym => 12,
        Right::Refer => 13,
        Right::Truncate => 14,
        Right::IoctlDev => 15,
    };
    1 << bit
}

/// The kernel's access mask of a mask of policy rights.
fn flags(mask: u16) -> u64 {
    Right::ALL
        .into_iter()
        .filter(|r| mask & r.bit() != 0)
        .fold(0, |f, r| f | access_fs(r))
}

/// `LANDLOCK_ACCESS_NET_BIND_TCP` and `LANDLOCK_ACCESS_NET_CONNECT_TCP`.
const ACCESS_NET_BIND_TCP: u64 = 1 << 0;
const ACCESS_NET_CONNECT_TCP: u64 = 1 << 1;

/// The kernel's `LANDLOCK_SCOPE_*` bit of a scope.
fn scope_bit(scope: ScopeName) -> u64 {
    match scope {
        ScopeName::AbstractUnixSocket => 1 << 0,
        ScopeName::Signal => 1 << 1,
    }
}

/// Rights a kernel with this ABI handles.
pub fn supported_mask(abi: u32) -> u16 {
    Right::ALL
        .into_iter()
        .filter(|r| r.min_abi() <= abi)
        .fold(0, |m, r| m | r.bit())
}

fn file_mask() -> u16 {
    Right::ALL
        .into_iter()
        .filter(|r| r.applies_to_files())
        .fold(0, |m, r| m | r.bit())
}

/// Binds a plan's targets.
pub fn bind_rules(plan: &LandlockPlan, values: &BoundVariables) -> Result<Vec<BoundRule>, Error> {
    let target = |t: &Target| -> Result<BoundTarget, Error> {
        Ok(match t {
            Target::Path(p) => BoundTarget::Path(values.expand(p)?),
            Target::Glob(g) => BoundTarget::Glob {
                text: g.text.clone(),
                root: values.expand(&g.root)?,
                alternatives: g.alternatives.clone(),
            },
        })
    };
    plan.rules
        .iter()
        .map(|r| {
            Ok(BoundRule {
                allow: r.effect == Effect::Allow,
                target: target(&r.target)?,
                mask: r.access.0,
                except: r.except.iter().map(target).collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

/// The ring's bound rules in the policy's words, for the report. `rules` are the plan's rules
/// bound (one for one, in order), then what the runtime added: the caller's `writable_only`
/// narrowing and the program loaders (`loaders`). `file`: the policy file's name.
pub fn enforced(
    plan: &LandlockPlan,
    rules: &[BoundRule],
    file: Option<&str>,
    loaders: &[crate::report::LoaderGrant],
) -> Vec<crate::report::EnforcedRule> {
    let file = file.unwrap_or("policy");
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let path = match &rule.target {
                BoundTarget::Path(p) => p.clone(),
                BoundTarget::Glob { text, .. } => text.clone(),
            };
            let origin = match plan.rules.get(i) {
                Some(planned) => match &planned.origin {
                    Some(o) => format!("{file}:{} ({})", o.line, o.scope),
                    None => format!("{file} (rule {} of the ring)", i + 1),
                },
                None => {
                    let programs: Vec<&str> = loaders
                        .iter()
                        .filter(|l| rule.allow && l.resolved == path)
                        .map(|l| l.program.as_str())
                        .collect();
                    if programs.is_empty() {
                        "the caller's writable_only".to_owned()
                    } else {
                        format!("loader of {}", programs.join(", "))
                    }
                }
            };
            crate::report::EnforcedRule {
                effect: if rule.allow {
                    Effect::Allow
                } else {
                    Effect::Deny
                },
                path,
                rights: rights_of(rule.mask),
                origin,
            }
        })
        .collect()
}

/// Rights that let an agent replace an entry of a directory, and so plant a link there.
const REPLACE_ENTRIES: u16 = Right::MakeReg.bit()
    | Right::MakeDir.bit()
    | Right::MakeSym.bit()
    | Right::MakeSock.bit()
    | Right::MakeFifo.bit()
    | Right::MakeChar.bit()
    | Right::MakeBlock.bit()
    | Right::RemoveFile.bit()
    | Right::RemoveDir.bit()
    | Right::Refer.bit();

/// The directories (bound) that some confined ring of the artifact may replace entries of:
/// placement follows no link in one of them (the link rule). A ring's carve-outs may take
/// some of those rights away again; counting them anyway only leaves more links unfollowed.
/// Unconfined rings are not counted: an agent that may do anything gains nothing by planting
/// a link. The variables are bound as for the ring being applied; one that stays unbound is
/// an error, as where that ring may write would be unknown.
pub fn writable_dirs(
    artifact: &Artifact,
    bindings: &Bindings,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Vec<String>, Error> {
    writable_paths(artifact, bindings, env, REPLACE_ENTRIES)
}

/// Rights that let an agent change a program: replace it, or write into it.
const CHANGE_PROGRAM: u16 = REPLACE_ENTRIES | Right::WriteFile.bit() | Right::Truncate.bit();

/// The paths (bound) where some confined ring of the artifact may change or replace a file:
/// a program found there is not trusted to name its own loader.
pub fn program_writable_paths(
    artifact: &Artifact,
    bindings: &Bindings,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Vec<String>, Error> {
    writable_paths(artifact, bindings, env, CHANGE_PROGRAM)
}

/// The allow paths (bound) of every confined ring of the artifact that grant one of `rights`.
fn writable_paths(
    artifact: &Artifact,
    bindings: &Bindings,
    env: &dyn Fn(&str) -> Option<OsString>,
    rights: u16,
) -> Result<Vec<String>, Error> {
    let mut templates: Vec<(u8, &str)> = Vec::new();
    for (level, ring) in &artifact.rings {
        let Some(plan) = ring.landlock.as_ref().filter(|_| !ring.unconfined) else {
            continue;
        };
        for rule in &plan.rules {
            if let (Effect::Allow, Target::Path(path)) = (rule.effect, &rule.target)
                && rule.access.0 & rights != 0
            {
                templates.push((*level, path));
            }
        }
    }
    let names = templates
        .iter()
        .filter_map(|(_, t)| crate::bind::variable_of(t));
    let unbound = |name: String| {
        let (level, template) = templates
            .iter()
            .find(|(_, t)| crate::bind::variable_of(t) == Some(name.as_str()))
            .copied()
            .unwrap_or((0, ""));
        Error::Apply(format!(
            "variable `{name}` is unbound, and ring {level} may write `{template}`: bind it, so that the symbolic links this ring may follow are known"
        ))
    };
    let values =
        BoundVariables::bind(names, &artifact.variables, bindings, env).map_err(|e| match e {
            Error::Unbound(name) => unbound(name),
            other => other,
        })?;
    let mut dirs: Vec<String> = templates
        .iter()
        .map(|(_, t)| values.expand(t))
        .collect::<Result<_, _>>()?;
    dirs.sort();
    dirs.dedup();
    Ok(dirs)
}

/// What the kernel will be asked to enforce, after ABI negotiation.
#[derive(Debug, Clone)]
pub struct Negotiated {
    pub abi: u32,
    pub handled: u16,
    pub net: bool,
    pub scopes: Vec<ScopeName>,
    pub dropped: Vec<Dropped>,
}

/// Decides what can be enforced with `abi`; errors under `hard_requirement` when anything
/// the ring needs is missing.
pub fn negotiate(
    plan: &LandlockPlan,
    abi: u32,
    compatibility: Compatibility,
    min_abi: u32,
) -> Result<Negotiated, Error> {
    let mut dropped = Vec::new();
    if abi < min_abi {
        dropped.push(Dropped::BelowMinAbi { min_abi, abi });
    }
    let handled = supported_mask(abi);
    for right in Right::ALL.into_iter().filter(|r| handled & r.bit() == 0) {
        dropped.push(Dropped::Right {
            right,
            needs_abi: right.min_abi(),
        });
    }
    let net = plan.network.is_some();
    if net && abi < 4 {
        dropped.push(Dropped::TcpPorts { needs_abi: 4 });
    }
    let scopes_ok = abi >= 6;
    if !plan.scopes.is_empty() && !scopes_ok {
        for scope in &plan.scopes {
            dropped.push(Dropped::Scope {
                scope: *scope,
                needs_abi: 6,
            });
        }
    }
    if compatibility == Compatibility::HardRequirement && !dropped.is_empty() {
        return Err(Error::Unsupported { abi, dropped });
    }
    Ok(Negotiated {
        abi,
        handled: if abi == 0 { 0 } else { handled },
        net: net && abi >= 4,
        scopes: if scopes_ok {
            plan.scopes.clone()
        } else {
            Vec::new()
        },
        dropped,
    })
}

/// A Landlock ruleset ready to restrict the calling thread: every fd opened.
#[derive(Debug)]
pub struct Prepared {
    ruleset: Option<OwnedFd>,
    pub report: LandlockReport,
}

/// Opens every path of a placement and builds the ruleset; nothing is restricted yet.
pub fn prepare_placed(
    plan: &LandlockPlan,
    placement: &tree::Placement,
    negotiated: Negotiated,
) -> Result<Prepared, Error> {
    let mut report = LandlockReport {
        abi: negotiated.abi,
        handled: rights_of(negotiated.handled),
        tcp_ports_enforced: negotiated.net,
        scopes: negotiated.scopes.clone(),
        dropped: negotiated.dropped.clone(),
        rules: 0,
        missing_paths: placement.missing.clone(),
        carve_outs: placement
            .split
            .iter()
            .map(|(p, m)| (p.clone(), rights_of(*m)))
            .collect(),
        glob_matches: placement.glob_matches.clone(),
        glob_links: placement.glob_links.clone(),
        skipped_through_links: placement.through_links.clone(),
        loaders: Vec::new(),
        loaders_not_added: Vec::new(),
        enforced: Vec::new(),
    };
    if negotiated.abi == 0 {
        return Ok(Prepared {
            ruleset: None,
            report,
        });
    }
    let attr = crate::sys::RulesetAttr {
        handled_access_fs: flags(negotiated.handled),
        handled_access_net: if negotiated.net {
            ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP
        } else {
            0
        },
        scoped: negotiated
            .scopes
            .iter()
            .fold(0, |bits, scope| bits | scope_bit(*scope)),
    };
    let ruleset = crate::sys::landlock_create_ruleset(&attr)
        .map_err(|e| Error::system("landlock: cannot create the ruleset", e))?;
    for grant in &placement.grants {
        let mut m = grant.mask & negotiated.handled;
        if !grant.is_dir {
            m &= file_mask();
        }
        if m == 0 {
            continue;
        }
        // If the path changed kind since placement, the kernel refuses the rule and the apply
        // fails closed. A path gone since placement needs no rule: whatever appears there
        // later gets only what its parent grants (busy directories like /tmp churn while a
        // split reads them).
        let Some(fd) = open_path(grant)? else {
            report.missing_paths.push(grant.path.clone());
            continue;
        };
        crate::sys::landlock_add_path_rule(ruleset.as_fd(), flags(m), fd.as_fd()).map_err(|e| {
            Error::system(
                format!("landlock: cannot add the rule for `{}`", grant.path),
                e,
            )
        })?;
        report.rules += 1;
    }
    if let (true, Some(net)) = (negotiated.net, &plan.network) {
        let ports = (net.connect_tcp.iter().map(|p| (*p, ACCESS_NET_CONNECT_TCP)))
            .chain(net.bind_tcp.iter().map(|p| (*p, ACCESS_NET_BIND_TCP)));
        for (port, access) in ports {
            crate::sys::landlock_add_port_rule(ruleset.as_fd(), access, port).map_err(|e| {
                Error::system(
                    format!("landlock: cannot add the rule for TCP port {port}"),
                    e,
                )
            })?;
            report.rules += 1;
        }
    }
    Ok(Prepared {
        ruleset: Some(ruleset),
        report,
    })
}

impl Prepared {
    /// The ruleset (none when Landlock is unavailable) and the report, for the confining
    /// sequence to restrict with.
    pub fn into_parts(self) -> (Option<OwnedFd>, LandlockReport) {
        (self.ruleset, self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel numbers its filesystem rights in the order the ABIs added them: ABI 1 has
    /// bits 0..=12, ABI 2 adds `refer` (13), ABI 3 `truncate` (14), ABI 5 `ioctl_dev` (15).
    /// Checked against each right's own `min_abi`, so a swapped bit across ABIs shows.
    #[test]
    fn rights_map_to_the_kernels_bits() {
        assert_eq!(flags(supported_mask(1)), 0x1fff);
        assert_eq!(flags(supported_mask(2)), 0x3fff);
        assert_eq!(flags(supported_mask(3)), 0x7fff);
        assert_eq!(flags(supported_mask(5)), 0xffff);
        let bits: Vec<u64> = Right::ALL.into_iter().map(access_fs).collect();
        let union = bits.iter().fold(0, |all, bit| all | bit);
        assert_eq!(union.count_ones(), 16, "each right has a bit of its own");
        assert_eq!(access_fs(Right::Execute), 1);
        assert_eq!(access_fs(Right::ReadFile), 1 << 2);
        assert_eq!(access_fs(Right::MakeReg), 1 << 8);
    }
}
