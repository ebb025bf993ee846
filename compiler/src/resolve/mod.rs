//! Stage 2: names and references. Variables (declared, well-formed, acyclic defaults),
//! ring levels and `extends` chains, trust tiers. Produces plain tables the lowering uses,
//! the path templates (`template`) every later stage reads paths with, and the character
//! checks on path and glob text (`chars`, NC0411 and NC0412).

pub mod chars;
mod template;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, Span};
use crate::syntax::{PolicyFile, Ring, Spanned};

pub use template::{
    GlobTemplate, PathError, PathTemplate, escape_glob, has_glob_chars, is_variable_name,
    path_within,
};

/// A declared variable: how it is bound when the caller does not bind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<PathTemplate>,
    /// Provided by the runtime: the private temporary directory of a run (the `tmp`
    /// preset's `tmp`, v1.1), never declared by the policy.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub private_tmp: bool,
}

/// A trust tier: the ring the scores from `min_score` up select.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustTier {
    pub name: String,
    pub min_score: u16,
    pub ring: u8,
}

/// What resolution found.
#[derive(Debug)]
pub struct Resolved<'a> {
    pub variables: BTreeMap<String, Variable>,
    /// Level -> the ring as written, and its key's span.
    pub rings: BTreeMap<u8, (&'a Spanned<Ring>, Span)>,
    /// Level -> the rings it extends, nearest first. Rings in a cycle or with a missing
    /// parent are absent.
    pub chains: BTreeMap<u8, Vec<u8>>,
    pub trust_tiers: Vec<TrustTier>,
}

pub fn resolve<'a>(file: &'a PolicyFile, diags: &mut Diagnostics) -> Resolved<'a> {
    let variables = variables(file, diags);
    let rings = ring_levels(file, diags);
    let chains = chains(&rings, diags);
    let trust_tiers = trust_tiers(file, &rings, diags);
    Resolved {
        variables,
        rings,
        chains,
        trust_tiers,
    }
}

/// Reports a path problem with the right code.
pub fn path_diagnostic(error: &PathError, text: &Spanned<String>, what: &str) -> Diagnostic {
    let value = &text.value;
    match error {
        PathError::MalformedVariable(why) => Diagnostic::new(
            Code::MalformedVariable,
            text.span,
            format!("malformed variable reference in {what} `{value}`"),
        )
        .label(why.clone())
        .help("write `${name}` at the start of the path, followed by `/` or nothing"),
        PathError::NotAbsolute => Diagnostic::new(
            Code::PathNotAbsolute,
            text.span,
            format!("{what} `{value}` is not absolute"),
        )
        .help("start the path with `/` or with a variable such as `${workspace}`; `~` is not special, declare a variable for the home directory"),
        PathError::NotNormalized(why) => Diagnostic::new(
            Code::PathNotNormalized,
            text.span,
            format!("{what} `{value}` is not normalized"),
        )
        .label(format!("has {why}"))
        .help("write the path without `..`, `.`, `//` or a trailing `/`"),
        PathError::ControlChar => Diagnostic::new(
            Code::PathControlChar,
            text.span,
            format!("{what} contains a NUL or control character"),
        )
        .help("remove the control character; file names with them are not supported"),
        PathError::TooLong(len) => Diagnostic::new(
            Code::PathTooLong,
            text.span,
            format!("{what} is {len} bytes long, more than 4096"),
        )
        .help("Linux paths are at most 4096 bytes (PATH_MAX)"),
    }
}

/// Reports a reference to an undeclared variable.
pub fn undeclared(name: &str, span: Span, declared: &BTreeMap<String, Variable>) -> Diagnostic {
    let known: Vec<String> = declared.keys().map(|k| format!("`{k}`")).collect();
    let help = if known.is_empty() {
        format!(
            "declare it under `variables:`, e.g. `{name}: {{ env: {} }}`",
            name.to_uppercase()
        )
    } else {
        format!(
            "declared variables: {}; or declare `{name}` under `variables:`",
            known.join(", ")
        )
    };
    Diagnostic::new(
        Code::UndeclaredVariable,
        span,
        format!("variable `{name}` is not declared"),
    )
    .help(help)
}

fn variables(file: &PolicyFile, diags: &mut Diagnostics) -> BTreeMap<String, Variable> {
    let mut out = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut defaults: BTreeMap<String, (PathTemplate, Span)> = BTreeMap::new();
    for (name, var) in file.variables.value.iter() {
        if !is_variable_name(&name.value) {
            diags.push(
                Diagnostic::new(
                    Code::VariableName,
                    name.span,
                    format!("`{}` is not a valid variable name", name.value),
                )
                .help("use letters, digits and `_`, not starting with a digit"),
            );
            continue;
        }
        if !seen.insert(name.value.clone()) {
            diags.push(Diagnostic::new(
                Code::DuplicateKey,
                name.span,
                format!("variable `{}` is declared twice", name.value),
            ));
            continue;
        }
        if let Some(env) = &var.env
            && !is_variable_name(&env.value)
        {
            diags.push(
                Diagnostic::new(
                    Code::VariableName,
                    env.span,
                    format!("`{}` is not a valid environment variable name", env.value),
                )
                .help("use letters, digits and `_`, not starting with a digit"),
            );
        }
        if let Some(d) = &var.default {
            chars::check(d, "default", diags);
        }
        let default = var
            .default
            .as_ref()
            .and_then(|d| match PathTemplate::parse(&d.value) {
                Ok(t) => {
                    defaults.insert(name.value.clone(), (t.clone(), d.span));
                    Some(t)
                }
                Err(e) => {
                    let mut diag = path_diagnostic(&e, d, "default");
                    if !matches!(e, PathError::MalformedVariable(_)) {
                        diag.code = Code::VariableDefault;
                        diag.message = format!(
                            "default of `{}` is not an absolute normalized path: `{}`",
                            name.value, d.value
                        );
                    }
                    diags.push(diag);
                    None
                }
            });
        out.insert(
            name.value.clone(),
            Variable {
                env: var.env.as_ref().map(|e| e.value.clone()),
                default,
                private_tmp: false,
            },
        );
    }
    private_tmp(file, &mut out, diags);
    // Defaults may use other variables: they must be declared, and not form a cycle.
    for (name, (template, span)) in &defaults {
        if let Some(v) = template.variable()
            && !out.contains_key(v)
        {
            diags.push(undeclared(v, *span, &out));
        }
        let mut current = name.as_str();
        let mut path = vec![name.as_str()];
        while let Some(next) = defaults.get(current).and_then(|(t, _)| t.variable()) {
            if next == name {
                // One diagnostic per cycle: reported from its first member by name.
                if path.iter().any(|p| *p < name.as_str()) {
                    break;
                }
                diags.push(
                    Diagnostic::new(
                        Code::VariableCycle,
                        *span,
                        format!(
                            "variable defaults form a cycle: {} -> {name}",
                            path.join(" -> ")
                        ),
                    )
                    .help("give one of these variables a default that does not use another"),
                );
                break;
            }
            if path.contains(&next) {
                break; // a cycle that does not pass through `name`; reported from its own members
            }
            path.push(next);
            current = next;
        }
    }
    out
}

/// The name of the variable the `tmp` preset provides (v1.1): the private temporary
/// directory the runtime creates for each run.
pub const PRIVATE_TMP: &str = "tmp";

/// A policy whose rings use the `tmp` preset gets the variable `tmp`, which the runtime binds
/// to a directory it creates for each run (`private_tmp`). Declaring `tmp` as well is
/// `NC0415`: the two would mean different directories. Every ring may then name `${tmp}`.
fn private_tmp(file: &PolicyFile, out: &mut BTreeMap<String, Variable>, diags: &mut Diagnostics) {
    let uses = file
        .rings
        .value
        .iter()
        .filter_map(|(_, ring)| ring.value.filesystem.as_ref())
        .flat_map(|fs| &fs.value.presets)
        .find(|p| p.value == PRIVATE_TMP);
    let Some(preset) = uses else {
        return;
    };
    if out.contains_key(PRIVATE_TMP) {
        let declared = file
            .variables
            .value
            .iter()
            .find(|(name, _)| name.value == PRIVATE_TMP)
            .map_or(preset.span, |(name, _)| name.span);
        diags.push(
            Diagnostic::new(
                Code::TmpVariableDeclared,
                declared,
                "variable `tmp` is declared, and the `tmp` preset provides it".to_owned(),
            )
            .label("declared here")
            .related(preset.span, "the `tmp` preset provides `${tmp}`: a private directory created for each run")
            .help("rename the variable, or drop it and write `${tmp}` for the run's private temporary directory"),
        );
        return;
    }
    out.insert(
        PRIVATE_TMP.to_owned(),
        Variable {
            env: None,
            default: None,
            private_tmp: true,
        },
    );
}

fn ring_levels<'a>(
    file: &'a PolicyFile,
    diags: &mut Diagnostics,
) -> BTreeMap<u8, (&'a Spanned<Ring>, Span)> {
    let mut rings = BTreeMap::new();
    if file.rings.value.is_empty() {
        diags.push(
            Diagnostic::new(Code::NoRings, file.rings.span, "the policy has no rings").help(
                "add at least one ring, e.g. `rings: { 3: { filesystem: { read: [/usr] } } }`",
            ),
        );
    }
    for (key, ring) in file.rings.value.iter() {
        let Some(level) = parse_level(&key.value) else {
            diags.push(
                Diagnostic::new(
                    Code::RingLevel,
                    key.span,
                    format!("ring level `{}` is not an integer from 0 to 255", key.value),
                )
                .help("ring keys are levels 0..=255; lower is more privileged"),
            );
            continue;
        };
        if let Some((_, first)) = rings.get(&level) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateRing,
                    key.span,
                    format!("ring {level} is defined twice"),
                )
                .related(*first, "first defined here")
                .help("merge the two definitions; nonoc never lets the last one win"),
            );
            continue;
        }
        rings.insert(level, (ring, key.span));
    }
    rings
}

fn parse_level(text: &str) -> Option<u8> {
    let t = text.trim();
    // Canonical decimal only: `03` would name ring 3 in a way the schema (and a reader) does not.
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) || t.len() > 1 && t.starts_with('0') {
        return None;
    }
    t.parse::<u8>().ok()
}

fn chains(
    rings: &BTreeMap<u8, (&Spanned<Ring>, Span)>,
    diags: &mut Diagnostics,
) -> BTreeMap<u8, Vec<u8>> {
    let mut chains = BTreeMap::new();
    let mut reported_cycle = BTreeSet::new();
    'rings: for (&level, (ring, _)) in rings {
        let mut chain = Vec::new();
        let mut current = &ring.value;
        while let Some(parent) = &current.extends {
            let Some(p) = u8::try_from(parent.value).ok() else {
                diags.push(
                    Diagnostic::new(
                        Code::RingLevel,
                        parent.span,
                        format!(
                            "`extends: {}` is not a ring level from 0 to 255",
                            parent.value
                        ),
                    )
                    .help("`extends` names the level of another ring of this policy, 0..=255"),
                );
                continue 'rings;
            };
            let Some((parent_ring, _)) = rings.get(&p) else {
                if chain.is_empty() {
                    let known: Vec<String> = rings.keys().map(u8::to_string).collect();
                    diags.push(
                        Diagnostic::new(
                            Code::MissingParent,
                            parent.span,
                            format!("ring {level} extends ring {p}, which does not exist"),
                        )
                        .help(format!("defined rings: {}", known.join(", "))),
                    );
                }
                continue 'rings;
            };
            if p == level || chain.contains(&p) {
                if chain.is_empty() || p == level {
                    let members: Vec<u8> = std::iter::once(level)
                        .chain(chain.iter().copied())
                        .collect();
                    let mut key = members.clone();
                    key.sort_unstable();
                    if reported_cycle.insert(key) {
                        let text: Vec<String> = members
                            .iter()
                            .chain(std::iter::once(&level))
                            .map(u8::to_string)
                            .collect();
                        diags.push(
                            Diagnostic::new(
                                Code::ExtendsCycle,
                                parent.span,
                                format!(
                                    "rings extend each other in a cycle: {}",
                                    text.join(" -> ")
                                ),
                            )
                            .help("one ring of the cycle must stand on its own"),
                        );
                    }
                }
                continue 'rings;
            }
            if parent_ring
                .value
                .unconfined
                .as_ref()
                .is_some_and(|u| u.value)
            {
                if chain.is_empty() {
                    diags.push(
                        Diagnostic::new(Code::ExtendsUnconfined, parent.span, format!("ring {level} extends ring {p}, which is unconfined"))
                            .help("an unconfined ring has no rules to inherit; extend a confined ring or list the rules"),
                    );
                }
                continue 'rings;
            }
            chain.push(p);
            current = &parent_ring.value;
        }
        chains.insert(level, chain);
    }
    chains
}

fn trust_tiers(
    file: &PolicyFile,
    rings: &BTreeMap<u8, (&Spanned<Ring>, Span)>,
    diags: &mut Diagnostics,
) -> Vec<TrustTier> {
    let mut tiers = Vec::new();
    let mut names: BTreeMap<&str, Span> = BTreeMap::new();
    let mut scores: BTreeMap<i64, Span> = BTreeMap::new();
    for tier in &file.trust_tiers {
        let t = &tier.value;
        if let Some(first) = names.insert(&t.name.value, t.name.span) {
            diags.push(
                Diagnostic::new(
                    Code::TierDuplicateName,
                    t.name.span,
                    format!("trust tier `{}` is defined twice", t.name.value),
                )
                .related(first, "first defined here")
                .help("give each trust tier its own name"),
            );
        }
        let score = t.min_score.value;
        let score_ok = (0..=1000).contains(&score);
        if !score_ok {
            diags.push(
                Diagnostic::new(
                    Code::TierScoreRange,
                    t.min_score.span,
                    format!("`min_score: {score}` is outside 0..=1000"),
                )
                .help("trust scores use the 0..=1000 scale"),
            );
        } else if let Some(first) = scores.insert(score, t.min_score.span) {
            diags.push(
                Diagnostic::new(
                    Code::TierDuplicateScore,
                    t.min_score.span,
                    format!("two trust tiers start at `min_score: {score}`"),
                )
                .related(first, "the other tier")
                .help(
                    "each score must select exactly one tier; give each tier its own `min_score`",
                ),
            );
        }
        let ring = u8::try_from(t.ring.value)
            .ok()
            .filter(|r| rings.contains_key(r));
        match ring {
            None => diags.push(
                Diagnostic::new(Code::TierUnknownRing, t.ring.span, format!("trust tier `{}` maps to ring {}, which does not exist", t.name.value, t.ring.value))
                    .help(format!("defined rings: {}", rings.keys().map(u8::to_string).collect::<Vec<_>>().join(", "))),
            ),
            Some(r) if rings.get(&r).is_some_and(|(ring, _)| ring.value.unconfined.as_ref().is_some_and(|u| u.value)) => diags.push(
                Diagnostic::new(Code::TierUnconfined, t.ring.span, format!("trust tier `{}` maps to ring {r}, which is unconfined", t.name.value))
                    .help("a trust score must never select an unconfined ring; unconfined rings are applied only by explicit opt-in"),
            ),
            Some(r) => {
                if let (true, Ok(min_score)) = (score_ok, u16::try_from(score)) {
                    tiers.push(TrustTier {
                        name: t.name.value.clone(),
                        min_score,
                        ring: r,
                    });
                }
            }
        }
    }
    if let Some(lowest) = file
        .trust_tiers
        .iter()
        .min_by_key(|t| t.value.min_score.value)
        && lowest.value.min_score.value != 0
        && (0..=1000).contains(&lowest.value.min_score.value)
    {
        diags.push(
            Diagnostic::new(
                Code::TierLowest,
                lowest.value.min_score.span,
                format!(
                    "the lowest trust tier starts at {}, not 0",
                    lowest.value.min_score.value
                ),
            )
            .help("add a tier with `min_score: 0` so every trust score selects a ring"),
        );
    }
    tiers.sort_by_key(|t| std::cmp::Reverse(t.min_score));
    tiers
}
