//! Every field of a loaded artifact, checked as strictly as the compiler writes it. The digest
//! proves only that the file is what someone sealed; these checks make sure that what was
//! sealed is something the compiler could have written, before any of it is used: a path
//! template with `..`, a tier pointing at an unconfined ring, a seccomp program the kernel
//! would refuse after Landlock is applied, each refused by `Artifact::load` with the place
//! and the reason.
//!
//! Duplicate keys are refused while parsing (`unique_keys`; structs refuse theirs through
//! serde), rights lists must be in their canonical form (`Rights`' deserializer).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use super::landlock::{Component, Effect, Glob, LandlockPlan, PathRule, Rights, Target};
use super::seatbelt::SeatbeltProfile;
use super::seccomp::{SeccompArch, SeccompFilter};
use super::{Isolation, RingTargets, Unverified, Variable, bpf};
use crate::Error;
use crate::bind::{MAX_PATH_BYTES, check_bound_value};
use crate::hosts::{HostPolicy, Ports};

/// The highest Landlock ABI a policy's `min_abi` may name.
pub const MAX_LANDLOCK_ABI: u32 = 7;

/// Most brace alternatives of one glob.
const MAX_ALTERNATIVES: usize = 256;

/// Highest trust score.
const MAX_TRUST_SCORE: u16 = 1000;

/// The arches the compiler writes a filter for in every confined ring with a Linux section.
const ARCHES: [SeccompArch; 2] = [SeccompArch::X86_64, SeccompArch::Aarch64];

fn invalid(at: impl Display, why: impl Display) -> Error {
    Error::Malformed(format!("{at}: {why}"))
}

/// Where a field is, for the message: built without allocating (load runs at every agent
/// start), written out only when something is wrong.
#[derive(Clone, Copy)]
enum At<'a> {
    Ring(u8),
    Variable(&'a str),
    In(&'a At<'a>, Part<'a>),
}

#[derive(Clone, Copy)]
enum Part<'a> {
    Rule(usize),
    Except(usize),
    Root,
    Default,
    Seccomp(SeccompArch),
    Seatbelt,
    Param(&'a str),
    UnixConnect(usize),
    Egress,
}

impl Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Ring(level) => write!(f, "ring {level}"),
            At::Variable(name) => write!(f, "variable `{}`", name.escape_debug()),
            At::In(outer, part) => {
                write!(f, "{outer}: ")?;
                match part {
                    Part::Rule(i) => write!(f, "landlock rule {i}"),
                    Part::Except(i) => write!(f, "except {i}"),
                    Part::Root => f.write_str("root"),
                    Part::Default => f.write_str("default"),
                    Part::Seccomp(arch) => write!(f, "the {} seccomp filter", arch.name()),
                    Part::Seatbelt => f.write_str("seatbelt"),
                    Part::Egress => f.write_str("egress"),
                    Part::Param(name) => write!(f, "parameter {name}"),
                    Part::UnixConnect(i) => write!(f, "landlock unix_connect {i}"),
                }
            }
        }
    }
}

/// Checks every field of a parsed artifact.
pub(super) fn validate(artifact: &Unverified) -> Result<(), Error> {
    printable("compiler.name", &artifact.compiler.name)?;
    printable("compiler.version", &artifact.compiler.version)?;
    policy_name(&artifact.policy.name)?;
    if let Some(file) = &artifact.policy.file {
        printable("policy.file", file)?;
        if file.contains('/') || file.len() > 255 {
            return Err(invalid(
                "policy.file",
                "not a file name (a path component of at most 255 bytes)",
            ));
        }
    }
    let sha = &artifact.policy.source_sha256;
    if sha.len() != 64
        || !sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(invalid(
            "policy.source_sha256",
            format!("`{sha}` is not 64 lower-case hex digits"),
        ));
    }
    let min_abi = artifact.settings.landlock.min_abi;
    if !(1..=MAX_LANDLOCK_ABI).contains(&min_abi) {
        return Err(invalid(
            "settings.landlock.min_abi",
            format!("{min_abi} is not a Landlock ABI from 1 to {MAX_LANDLOCK_ABI}"),
        ));
    }
    variables(&artifact.variables)?;
    let vars = &artifact.variables;
    let mut targets = None;
    for (level, ring) in &artifact.rings {
        ring_targets(*level, ring, vars, &mut targets)?;
    }
    trust_tiers(artifact)
}

/// `settings.isolation` as the compiler writes it: `required` or `off`; `best_effort`, the
/// default, only by leaving the field out (`deserialize_with`).
pub(super) fn isolation<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Isolation, D::Error> {
    match <Isolation as serde::Deserialize>::deserialize(deserializer)? {
        Isolation::BestEffort => Err(serde::de::Error::custom(
            "settings.isolation: `best_effort` is written by leaving the field out",
        )),
        setting => Ok(setting),
    }
}

/// A name the compiler writes as given: no control characters, not empty.
fn printable(at: &str, text: &str) -> Result<(), Error> {
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err(invalid(at, "empty or holds a control character"));
    }
    Ok(())
}

/// `metadata.name`: lower-case letters, digits and `-`, not starting with `-`.
fn policy_name(name: &str) -> Result<(), Error> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(invalid(
            "policy.name",
            format!("`{}` is not a policy name", name.escape_debug()),
        ));
    }
    Ok(())
}

/// Letters, digits and `_`, not starting with a digit (variable and environment names).
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn variables(vars: &BTreeMap<String, Variable>) -> Result<(), Error> {
    for (name, var) in vars {
        let at = At::Variable(name);
        if !is_name(name) {
            return Err(invalid(at, "not a variable name"));
        }
        if let Some(env) = &var.env
            && !is_name(env)
        {
            return Err(invalid(
                at,
                format!(
                    "`{}` is not an environment variable name",
                    env.escape_debug()
                ),
            ));
        }
        // A default is a value, as a `--var` value is: glob characters in it are literal
        // text (`/builds/[x]`), so only the path rules apply, not the allow-path rule.
        if let Some(default) = &var.default {
            template(&At::In(&at, Part::Default), default, vars, true)?;
        }
        if var.private_tmp && (var.env.is_some() || var.default.is_some()) {
            return Err(invalid(
                at,
                "a private temporary directory has no `env` and no `default`: the runtime provides it",
            ));
        }
    }
    if vars.values().filter(|v| v.private_tmp).count() > 1 {
        return Err(invalid(
            "variables",
            "more than one variable is a private temporary directory",
        ));
    }
    // Defaults that refer to each other in a cycle (the compiler refuses them).
    for name in vars.keys() {
        let mut current = name.as_str();
        for _ in 0..=vars.len() {
            match vars
                .get(current)
                .and_then(|v| v.default.as_deref())
                .and_then(|d| template_variable(d).ok().flatten())
            {
                Some(next) => current = next,
                None => break,
            }
            if current == name {
                return Err(invalid(
                    format!("variable `{name}`"),
                    "its default refers back to it",
                ));
            }
        }
    }
    Ok(())
}

/// The variable a template starts with, `Err` when the reference is malformed.
fn template_variable(text: &str) -> Result<Option<&str>, String> {
    let Some(after) = text.strip_prefix("${") else {
        return if text.contains("${") {
            Err("a variable may only stand at the start".to_owned())
        } else {
            Ok(None)
        };
    };
    let end = after
        .find('}')
        .ok_or_else(|| "`${` is not closed by `}`".to_owned())?;
    let (name, rest) = (&after[..end], &after[end + 1..]);
    if !is_name(name) {
        return Err(format!("`{}` is not a variable name", name.escape_debug()));
    }
    if rest.contains("${") {
        return Err("a variable may only stand at the start".to_owned());
    }
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err(format!(
            "`${{{name}}}` must be followed by `/` or end the path"
        ));
    }
    Ok(Some(name))
}

/// A path template as the compiler writes one: `/...` or `${name}` then `/...`, the variable
/// declared, at most 4096 bytes, and what follows the variable a path as the binder takes a
/// value (`check_bound_value`: normalized, no control characters). `glob`: the text of a deny
/// glob (wildcards allowed in components).
fn template(
    at: &At<'_>,
    text: &str,
    vars: &BTreeMap<String, Variable>,
    glob: bool,
) -> Result<(), Error> {
    let bad = |why: String| invalid(at, format!("`{}` {why}", text.escape_debug()));
    if text.len() > MAX_PATH_BYTES {
        return Err(bad(format!("is longer than {MAX_PATH_BYTES} bytes")));
    }
    let variable = template_variable(text).map_err(bad)?;
    let rest = match variable {
        Some(name) => {
            if !vars.contains_key(name) {
                return Err(bad(format!("names the undeclared variable `{name}`")));
            }
            &text[name.len() + 3..]
        }
        None => text,
    };
    if rest.is_empty() {
        return Ok(());
    }
    // `${name}/` would pass as the path `/`.
    if variable.is_some() && rest == "/" {
        return Err(bad("has an empty component (a trailing `/`)".to_owned()));
    }
    check_bound_value(rest).map_err(|why| bad(format!("is {why}")))?;
    if !glob && rest.contains(['*', '?', '[', ']', '{', '}']) {
        return Err(bad("has glob characters".to_owned()));
    }
    Ok(())
}

fn path_template(at: &At<'_>, text: &str, vars: &BTreeMap<String, Variable>) -> Result<(), Error> {
    template(at, text, vars, false)
}

/// Whether the template `inner` is `outer` or lies under it, by whole components.
fn template_within(inner: &str, outer: &str) -> bool {
    outer == "/" && inner.starts_with('/')
        || inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|tail| tail.starts_with('/'))
}

/// The set of targets (Linux, macOS) of the first confined ring: every confined ring has the
/// same, as the compiler writes them for every ring at once.
type TargetSet = Option<(bool, bool)>;

fn ring_targets(
    level: u8,
    ring: &RingTargets,
    vars: &BTreeMap<String, Variable>,
    seen: &mut TargetSet,
) -> Result<(), Error> {
    let at = At::Ring(level);
    if ring.unconfined {
        if ring.landlock.is_some() || !ring.seccomp.is_empty() || ring.seatbelt.is_some() {
            return Err(invalid(at, "an unconfined ring has sandbox sections"));
        }
        // It keeps what it has; a list would say otherwise (the compiler writes none).
        if !ring.capabilities.is_empty() {
            return Err(invalid(at, "an unconfined ring lists capabilities to keep"));
        }
        if ring.egress.is_some() {
            return Err(invalid(at, "an unconfined ring has an egress section"));
        }
        return Ok(());
    }
    if let Some(egress) = &ring.egress {
        egress_ok(&At::In(&at, Part::Egress), egress, ring.landlock.as_ref())?;
    }
    let here = (ring.landlock.is_some(), ring.seatbelt.is_some());
    if here == (false, false) {
        return Err(invalid(at, "a confined ring has no sandbox section"));
    }
    if *seen.get_or_insert(here) != here {
        return Err(invalid(
            at,
            "its sections are not for the same systems as the other rings'",
        ));
    }
    match &ring.landlock {
        Some(plan) => {
            landlock(&at, plan, vars)?;
            for arch in ARCHES {
                if !ring.seccomp.contains_key(&arch) {
                    return Err(invalid(
                        at,
                        format!("no seccomp filter for {}", arch.name()),
                    ));
                }
            }
            for (arch, filter) in &ring.seccomp {
                seccomp(&At::In(&at, Part::Seccomp(*arch)), filter)?;
            }
        }
        None if !ring.seccomp.is_empty() => {
            return Err(invalid(at, "seccomp filters without a Landlock section"));
        }
        None => {}
    }
    if let Some(profile) = &ring.seatbelt {
        seatbelt(
            &At::In(&at, Part::Seatbelt),
            profile,
            vars,
            ring.egress.is_some(),
        )?;
    }
    Ok(())
}

/// The egress section as the compiler writes it: at least one `hosts` entry, each with its
/// ports (never `all`), no entry twice in a list, and, beside a Landlock plan, a plan that
/// restricts TCP (`network.mode: restricted`), so the proxy is the way out. Patterns and port
/// lists are read in their normal form only (`hosts::HostRule`'s deserializer).
fn egress_ok(at: &At<'_>, egress: &HostPolicy, plan: Option<&LandlockPlan>) -> Result<(), Error> {
    if egress.hosts.is_empty() {
        return Err(invalid(
            at,
            "no `hosts` entry: a ring without hosts has no egress section",
        ));
    }
    if let Some(i) = egress.hosts.iter().position(|r| r.ports == Ports::All) {
        return Err(invalid(
            at,
            format!("hosts[{i}] covers every port: a `hosts` entry names its ports"),
        ));
    }
    for (name, list) in [("hosts", &egress.hosts), ("deny_hosts", &egress.deny_hosts)] {
        for (i, rule) in list.iter().enumerate() {
            if list[..i].contains(rule) {
                return Err(invalid(at, format!("{name}[{i}] repeats an earlier entry")));
            }
        }
    }
    if plan.is_some_and(|p| p.network.is_none()) {
        return Err(invalid(
            at,
            "hosts beside a Landlock plan that does not restrict TCP",
        ));
    }
    Ok(())
}

fn landlock(
    at: &At<'_>,
    plan: &LandlockPlan,
    vars: &BTreeMap<String, Variable>,
) -> Result<(), Error> {
    for (i, rule) in plan.rules.iter().enumerate() {
        rule_ok(&At::In(at, Part::Rule(i)), rule, vars)?;
    }
    if let Some(net) = &plan.network {
        for (name, ports) in [
            ("connect_tcp", &net.connect_tcp),
            ("bind_tcp", &net.bind_tcp),
        ] {
            if ports.first() == Some(&0) || ports.windows(2).any(|w| w[0] >= w[1]) {
                return Err(invalid(
                    format!("{at}: landlock {name}"),
                    "ports must be 1..=65535, ascending, each once",
                ));
            }
        }
    }
    if plan.scopes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(invalid(
            format!("{at}: landlock scopes"),
            "each scope must appear once, in order",
        ));
    }
    // Path templates like the rules' paths, each once (the compiler merges a lineage's
    // grants by path).
    let mut sockets = BTreeSet::new();
    for (i, path) in plan.unix_connect.iter().enumerate() {
        let at = At::In(at, Part::UnixConnect(i));
        path_template(&at, path, vars)?;
        if !sockets.insert(path.as_str()) {
            return Err(invalid(at, format!("`{path}` is listed twice")));
        }
    }
    Ok(())
}

fn rule_ok(at: &At<'_>, rule: &PathRule, vars: &BTreeMap<String, Variable>) -> Result<(), Error> {
    if rule.access == Rights(0) {
        return Err(invalid(at, "grants or denies no right"));
    }
    if let Some(origin) = &rule.origin
        && (origin.line == 0
            || origin.scope.is_empty()
            || origin.scope.len() > super::landlock::MAX_ORIGIN_SCOPE
            || origin.scope.chars().any(char::is_control))
    {
        return Err(invalid(
            at,
            "its origin is not a line from 1 and a printable scope of at most 256 bytes",
        ));
    }
    match (rule.effect, &rule.target) {
        (Effect::Allow, Target::Glob(_)) => {
            return Err(invalid(at, "an allow rule with a glob"));
        }
        (Effect::Allow, Target::Path(_)) if !rule.except.is_empty() => {
            return Err(invalid(at, "an allow rule with exceptions"));
        }
        _ => {}
    }
    let deny_root = match (rule.effect, &rule.target) {
        // A deny `path:` is taken literally, glob characters and all (`/srv/a{b`); only
        // allow paths are free of them (the compiler's NC0405).
        (Effect::Deny, Target::Path(p)) => {
            template(at, p, vars, true)?;
            p.as_str()
        }
        _ => target_ok(at, &rule.target, vars)?,
    };
    for (j, except) in rule.except.iter().enumerate() {
        let at = At::In(at, Part::Except(j));
        let root = target_ok(&at, except, vars)?;
        // An exception lies inside its deny (the compiler refuses one outside): a path, or a
        // glob's root, under the denied path or the deny glob's root.
        if !template_within(root, deny_root) && !template_within(deny_root, root) {
            return Err(invalid(at, "lies outside its deny"));
        }
    }
    Ok(())
}

/// Checks a target; returns its path, or its glob's root.
fn target_ok<'a>(
    at: &At<'_>,
    target: &'a Target,
    vars: &BTreeMap<String, Variable>,
) -> Result<&'a str, Error> {
    match target {
        Target::Path(p) => {
            path_template(at, p, vars)?;
            Ok(p)
        }
        Target::Glob(g) => {
            glob_ok(at, g, vars)?;
            Ok(&g.root)
        }
    }
}

fn glob_ok(at: &At<'_>, glob: &Glob, vars: &BTreeMap<String, Variable>) -> Result<(), Error> {
    template(at, &glob.text, vars, true)?;
    path_template(&At::In(at, Part::Root), &glob.root, vars)?;
    if !template_within(&glob.text, &glob.root) {
        return Err(invalid(
            at,
            format!(
                "the root `{}` does not start the glob",
                glob.root.escape_debug()
            ),
        ));
    }
    if glob.alternatives.is_empty() || glob.alternatives.len() > MAX_ALTERNATIVES {
        return Err(invalid(
            at,
            format!("a glob has 1 to {MAX_ALTERNATIVES} alternatives"),
        ));
    }
    for component in glob.alternatives.iter().flatten() {
        let text = match component {
            Component::AnyDepth => continue,
            Component::Literal(t) | Component::Pattern(t) => t,
        };
        // (A brace alternative may leave a `.` or `..`: it matches no directory entry.)
        if text.is_empty() || text.contains('/') || text.chars().any(char::is_control) {
            return Err(invalid(
                at,
                format!("`{}` is not a file name pattern", text.escape_debug()),
            ));
        }
    }
    Ok(())
}

fn seccomp(at: &At<'_>, filter: &SeccompFilter) -> Result<(), Error> {
    let program = filter.instructions().map_err(|e| invalid(at, e))?;
    bpf::check(&program).map_err(|e| invalid(at, e))?;
    let stats = &filter.stats;
    if stats.worst_case > stats.length
        || !(stats.mean.is_finite() && (0.0..=stats.length as f64).contains(&stats.mean))
        || stats.cache_allowed > stats.syscalls
    {
        return Err(invalid(at, "its stats do not fit the program"));
    }
    Ok(())
}

/// The profile as the compiler writes it: text without NUL, parameter names as SBPL reads
/// them, each once, with their templates; and the egress proxy's rule (`PROXY_RULE`, the one
/// form its port placeholder may take) exactly once in a ring with hosts, never in another.
fn seatbelt(
    at: &At<'_>,
    profile: &SeatbeltProfile,
    vars: &BTreeMap<String, Variable>,
    hosts: bool,
) -> Result<(), Error> {
    // Both reach the C API `sandbox_init_with_parameters` as NUL-terminated strings.
    if profile.sbpl.is_empty() || profile.sbpl.contains('\0') {
        return Err(invalid(at, "the profile is empty or holds a NUL"));
    }
    match (
        super::proxy_rules(&profile.sbpl).map_err(|e| invalid(at, e))?,
        hosts,
    ) {
        (1, true) | (0, false) => {}
        (0, true) => {
            return Err(invalid(
                at,
                "a ring with hosts has no rule for the egress proxy's port",
            ));
        }
        (_, true) => {
            return Err(invalid(
                at,
                "the egress proxy's rule is there more than once",
            ));
        }
        (_, false) => {
            return Err(invalid(
                at,
                "a rule for the egress proxy's port in a ring without hosts",
            ));
        }
    }
    let mut names = BTreeSet::new();
    for param in &profile.params {
        if param.name.is_empty()
            || !param
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(invalid(
                at,
                format!("`{}` is not a parameter name", param.name.escape_debug()),
            ));
        }
        if !names.insert(param.name.as_str()) {
            return Err(invalid(
                at,
                format!("parameter `{}` is listed twice", param.name),
            ));
        }
        // A parameter's path may be a literal deny path with glob characters in it; its value
        // reaches the profile as a string (quoted where it is a regex prefix).
        template(
            &At::In(at, Part::Param(&param.name)),
            &param.path,
            vars,
            true,
        )?;
    }
    Ok(())
}

fn trust_tiers(artifact: &Unverified) -> Result<(), Error> {
    let tiers = &artifact.trust_tiers;
    let mut names = BTreeSet::new();
    for (i, tier) in tiers.iter().enumerate() {
        let at = format!("trust tier {i}");
        if tier.name.is_empty() || !names.insert(tier.name.as_str()) {
            return Err(invalid(&at, "its name is empty or not unique"));
        }
        if tier.min_score > MAX_TRUST_SCORE {
            return Err(invalid(
                &at,
                format!(
                    "min_score {} is outside 0..={MAX_TRUST_SCORE}",
                    tier.min_score
                ),
            ));
        }
        match artifact.rings.get(&tier.ring) {
            None => return Err(invalid(&at, format!("ring {} does not exist", tier.ring))),
            Some(ring) if ring.unconfined => {
                return Err(invalid(&at, format!("ring {} is unconfined", tier.ring)));
            }
            Some(_) => {}
        }
    }
    if tiers.windows(2).any(|w| w[0].min_score <= w[1].min_score) {
        return Err(invalid(
            "trust_tiers",
            "must be sorted by min_score, highest first, each score once",
        ));
    }
    if tiers.last().is_some_and(|t| t.min_score != 0) {
        return Err(invalid("trust_tiers", "the lowest tier must start at 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, Variable> {
        let mut vars = BTreeMap::new();
        vars.insert(
            "ws".to_owned(),
            Variable {
                env: None,
                default: Some("/w".to_owned()),
                private_tmp: false,
            },
        );
        vars
    }

    #[test]
    fn a_deny_path_may_hold_glob_characters_an_allow_path_may_not() {
        let rule = |effect: Effect| PathRule {
            effect,
            target: Target::Path("${ws}/a{b*".to_owned()),
            access: Rights(1),
            except: Vec::new(),
            origin: None,
        };
        assert!(rule_ok(&At::Ring(2), &rule(Effect::Deny), &vars()).is_ok());
        let err = rule_ok(&At::Ring(2), &rule(Effect::Allow), &vars()).unwrap_err();
        assert!(err.to_string().contains("glob characters"), "{err}");
    }

    #[test]
    fn a_private_temporary_directory_has_no_env_no_default_and_is_alone() {
        let private = |env: Option<&str>, default: Option<&str>| Variable {
            env: env.map(str::to_owned),
            default: default.map(str::to_owned),
            private_tmp: true,
        };
        let mut v = vars();
        v.insert("tmp".to_owned(), private(None, None));
        assert!(variables(&v).is_ok());
        for bad in [private(Some("TMPDIR"), None), private(None, Some("/tmp"))] {
            let mut v = vars();
            v.insert("tmp".to_owned(), bad);
            let err = variables(&v).unwrap_err().to_string();
            assert!(err.contains("no `env` and no `default`"), "{err}");
        }
        let mut v = vars();
        v.insert("tmp".to_owned(), private(None, None));
        v.insert("tmp2".to_owned(), private(None, None));
        let err = variables(&v).unwrap_err().to_string();
        assert!(err.contains("more than one"), "{err}");
    }

    #[test]
    fn templates_as_the_compiler_writes_them() {
        let v = vars();
        for ok in ["/", "/usr", "/a b/c", "${ws}", "${ws}/x/y"] {
            let result = path_template(&At::Variable("t"), ok, &v);
            assert!(result.is_ok(), "{ok}: {result:?}");
        }
        for (bad, why) in [
            ("usr", "absolute"),
            ("/a/../b", "`..`"),
            ("/a/./b", "`.`"),
            ("/a//b", "empty"),
            ("/a/", "empty"),
            ("${ws}/", "empty"),
            ("${ws}/..", "`..`"),
            ("/a\u{1b}[2J", "control"),
            ("/a/${ws}", "start"),
            ("${ws", "closed"),
            ("${ws}x", "followed"),
            ("${1x}", "variable name"),
            ("${home}/x", "undeclared"),
            ("/a/*", "glob"),
        ] {
            let err = path_template(&At::Variable("t"), bad, &v)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        assert!(path_template(&At::Variable("t"), &long, &v).is_err());
        let result = template(&At::Variable("g"), "${ws}/**/.env*", &v, true);
        assert!(result.is_ok(), "{result:?}");
        assert!(template(&At::Variable("g"), "${ws}/**/../x", &v, true).is_err());
    }

    #[test]
    fn within_by_components() {
        assert!(template_within("${ws}/a", "${ws}"));
        assert!(template_within("/a", "/"));
        assert!(!template_within("${ws}", "/"));
        assert!(!template_within("/ab", "/a"));
    }
}
