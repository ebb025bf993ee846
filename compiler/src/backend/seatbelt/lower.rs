//! Building a ring's SBPL tree. What each construct becomes is in the module documentation
//! (`mod.rs`) and docs/backends/seatbelt.md.

use std::collections::{BTreeMap, BTreeSet};

use nonoc_runtime::artifact::{ParamForm, SeatbeltParam, private_alias};

use super::print::check_text;
use super::regex::{self as sbre, glob_body};
use super::rights::{any, grants, not, restrict, withholds};
use super::sbpl::{Decision, Filter, Form, Operation, Profile, Rule, Str, Vnode};
use super::{baseline, sections};
use crate::diagnostic::{Code, Span};
use crate::ir::rule_index::RuleIndex;
use crate::ir::{Effect, FsRule, FsTarget, GlobTemplate, PathTemplate, Platform, Ring};

/// Something that stops a ring's profile from being built, pointing at the rule behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `None` for a failed self-check of the compiler (a bug, not the policy's fault).
    pub code: Option<Code>,
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

/// The tree of a ring's profile and its parameters, in the order the profile first uses them.
#[derive(Debug, Clone)]
pub struct Tree {
    pub profile: Profile,
    pub params: Vec<SeatbeltParam>,
}

/// Whether a path template may name something under `/tmp`, `/var` or `/etc`, which macOS
/// resolves into `/private`: a variable's value is known only at apply time.
fn may_be_private(template: &PathTemplate) -> bool {
    template.variable().is_some() || private_alias(template.as_str()).is_some()
}

/// Whether a literal glob may match under `/tmp`, `/var` or `/etc`.
fn glob_may_be_private(glob: &str) -> bool {
    let first = glob.trim_start_matches('/').split('/').next().unwrap_or("");
    crate::ir::has_glob_chars(first)
        || first.contains('\\')
        || ["etc", "tmp", "var"].contains(&first)
}

fn on_macos(rule: &FsRule) -> bool {
    rule.platform.is_none_or(|p| p == Platform::Macos)
}

struct Builder {
    params: Vec<(String, ParamForm, Span)>,
    /// Where each (template, form) stands in `params`.
    numbered: BTreeMap<(String, ParamForm), usize>,
    problems: Vec<Problem>,
}

impl Builder {
    fn param(&mut self, template: &str, form: ParamForm, span: Span) -> Str {
        let key = (template.to_owned(), form);
        let index = match self.numbered.get(&key) {
            Some(i) => *i,
            None => {
                if let Err(e) = check_text(template) {
                    self.unprintable(template, &e.reason, span);
                }
                self.params.push((template.to_owned(), form, span));
                self.numbered.insert(key, self.params.len() - 1);
                self.params.len() - 1
            }
        };
        Str::Param(param_name(index))
    }

    fn unprintable(&mut self, text: &str, reason: &str, span: Span) {
        self.problems.push(Problem {
            code: Some(Code::SeatbeltUnprintable),
            span: Some(span),
            message: format!(
                "`{}` cannot be written into a Seatbelt profile: {reason}",
                shown(text)
            ),
            help: Some(
                "rename the file, or match it with a glob that leaves the character to a wildcard (`?`, `*`)".to_owned(),
            ),
        });
    }

    /// A path and everything under it, under each name macOS may see it by.
    fn path(&mut self, template: &PathTemplate, span: Span) -> Vec<Filter> {
        let mut out = vec![Filter::Subpath(self.param(
            template.as_str(),
            ParamForm::Path,
            span,
        ))];
        if may_be_private(template) {
            out.push(Filter::Subpath(self.param(
                template.as_str(),
                ParamForm::Private,
                span,
            )));
        }
        out
    }

    /// A deny glob's matches and everything under them; empty after a problem.
    fn glob(&mut self, glob: &GlobTemplate, span: Span) -> Vec<Filter> {
        let text = glob.as_str();
        if let Err(e) = check_text(text) {
            self.unprintable(text, &e.reason, span);
            return Vec::new();
        }
        let (variable, rest) = match glob.variable() {
            Some(name) => (Some(name), &text[name.len() + 3..]),
            None => (None, text),
        };
        let body = match glob_body(rest) {
            Ok(body) => body,
            Err(sbre::Unsupported(why)) => {
                self.problems.push(Problem {
                    code: Some(Code::SeatbeltGlob),
                    span: Some(span),
                    message: format!(
                        "the deny glob `{}` cannot be written as a Seatbelt regular expression: {why}",
                        shown(text)
                    ),
                    help: Some(
                        "write the glob with `*`, `?`, `**` as a whole component, `{a,b}` without empty alternatives or `**`, and classes of ASCII letters and digits; or deny the paths one by one".to_owned(),
                    ),
                });
                return Vec::new();
            }
        };
        match variable {
            Some(name) => {
                let root = format!("${{{name}}}");
                [ParamForm::Prefix, ParamForm::PrivatePrefix]
                    .into_iter()
                    .map(|form| {
                        Filter::Regex(Str::Append(vec![
                            Str::lit("^"),
                            Str::RegexQuote(Box::new(self.param(&root, form, span))),
                            Str::Lit(body.clone()),
                        ]))
                    })
                    .collect()
            }
            None => {
                let mut out = vec![Filter::Regex(Str::Lit(format!("^{body}")))];
                if glob_may_be_private(text) {
                    out.push(Filter::Regex(Str::Lit(format!(
                        "^{}{body}",
                        sbre::literal("/private")
                    ))));
                }
                out
            }
        }
    }

    fn target(&mut self, target: &FsTarget, span: Span) -> Vec<Filter> {
        match target {
            FsTarget::Path(p) => self.path(p, span),
            FsTarget::Glob(g) => self.glob(g, span),
        }
    }

    /// What a deny covers: its target, minus its exceptions.
    fn covered(&mut self, rule: &FsRule) -> Vec<Filter> {
        let span = rule.origin.span();
        let targets = self.target(&rule.target, span);
        if targets.is_empty() {
            return Vec::new();
        }
        let mut excepts = Vec::new();
        for e in &rule.except {
            let filters = self.target(e, span);
            if !filters.is_empty() {
                excepts.push(not(any(filters)));
            }
        }
        restrict(targets, excepts)
    }
}

/// Text for a message: what the profile cannot carry shown as `\u{..}`.
pub fn shown(text: &str) -> String {
    text.chars()
        .map(|c| match super::print::unprintable(c) {
            Some(_) => c.escape_unicode().to_string(),
            None => c.to_string(),
        })
        .collect()
}

/// Forms of a profile section.
pub type Forms = Vec<Form>;

/// The name of the n-th parameter.
pub fn param_name(index: usize) -> String {
    format!("NONOC_P{index}")
}

pub fn rule(decision: Decision, operations: Vec<Operation>, filters: Vec<Filter>) -> Form {
    Form::Rule(Rule {
        decision,
        operations,
        filters,
    })
}

pub fn allow(operations: &[Operation], filters: Vec<Filter>) -> Form {
    rule(Decision::Allow, operations.to_vec(), filters)
}

fn overlaps(a: &[Operation], b: &[Operation]) -> bool {
    a.iter()
        .any(|x| b.iter().any(|y| x.covers(*y) || y.covers(*x)))
}

/// Builds the tree of a confined ring's profile. Problems (with a code) are the policy's;
/// all of them are returned, not just the first.
pub fn tree(policy: &str, ring: &Ring) -> Result<Tree, Vec<Problem>> {
    let mut b = Builder {
        params: Vec::new(),
        numbered: BTreeMap::new(),
        problems: Vec::new(),
    };
    let rules: Vec<&FsRule> = ring.filesystem.iter().filter(|r| on_macos(r)).collect();
    let denies: Vec<&FsRule> = rules
        .iter()
        .copied()
        .filter(|r| r.effect == Effect::Deny)
        .collect();
    // Denies by their roots (the same order, so index i is `denies[i]`), and what each
    // withholds: a grant looks only at the denies under its path.
    let by_root = RuleIndex::new(denies.iter().copied(), |r| Some(r.target.root()));
    let withheld_ops: Vec<Vec<Operation>> = denies.iter().map(|d| withholds(d.access)).collect();

    // Filesystem allows, each narrowed by the denies inside it (`require-not`), so that no
    // later rule can reopen what a deny closes; the denies are printed again at the end.
    let mut filesystem = Vec::new();
    let mut device_grants: [Vec<Filter>; 2] = [Vec::new(), Vec::new()];
    for allow_rule in rules.iter().filter(|r| r.effect == Effect::Allow) {
        let FsTarget::Path(path) = &allow_rule.target else {
            continue; // allow rules take no globs
        };
        let span = allow_rule.origin.span();
        for grant in grants(allow_rule.access) {
            let targets = b.path(path, span);
            let mut extra: Vec<Filter> = grant.only.clone().into_iter().collect();
            for &i in by_root.at_or_below(path.as_str()) {
                let deny = denies[i];
                if overlaps(&grant.operations, &withheld_ops[i]) {
                    let covered = b.covered(deny);
                    if !covered.is_empty() {
                        extra.push(not(any(covered)));
                    }
                }
            }
            if let Some(Filter::VnodeType(v)) = &grant.only
                && grant.operations == [Operation::FileWriteCreate]
            {
                let slot = match v {
                    Vnode::CharacterDevice => Some(0),
                    Vnode::BlockDevice => Some(1),
                    _ => None,
                };
                if let Some(slot) = slot {
                    device_grants[slot].push(any(b.path(path, span)));
                }
            }
            filesystem.push(allow(&grant.operations, restrict(targets, extra)));
        }
    }

    let mut unix = Vec::new();
    for grant in &ring.network.unix_connect {
        unix.extend(b.path(&grant.path, grant.origin.span()));
    }
    let network = sections::network(ring, unix);
    let process = sections::process(ring);

    // Denies: the policy's, then rename protection, then device nodes, then the keychain.
    let mut deny_forms = Vec::new();
    for deny in &denies {
        let covered = b.covered(deny);
        if covered.is_empty() {
            continue;
        }
        let withheld = withholds(deny.access);
        deny_forms.push(rule(Decision::Deny, withheld.clone(), covered.clone()));
        // A deny of every right also covers connecting to the sockets under it, which the
        // ring may do only under its `unix_connect` grants (or, in `allowed` mode, nowhere).
        if deny.access == crate::ir::AccessSet::ALL && !ring.network.unix_connect.is_empty() {
            deny_forms.push(rule(
                Decision::Deny,
                vec![Operation::NetworkOutbound],
                covered.clone(),
            ));
        }
        if !withheld
            .iter()
            .any(|op| op.covers(Operation::FileWriteUnlink))
        {
            // Keep the denied paths from being moved or removed out of the deny's reach.
            deny_forms.push(rule(
                Decision::Deny,
                vec![Operation::FileWriteUnlink],
                covered,
            ));
        }
    }
    let mut ancestors = Vec::new();
    for deny in &denies {
        if let FsTarget::Path(p) = &deny.target {
            for f in b.path(p, deny.origin.span()) {
                if let Filter::Subpath(s) = f {
                    ancestors.push(Filter::PathAncestors(s));
                }
            }
        }
    }
    if !ancestors.is_empty() {
        deny_forms.push(Form::Comment(
            "the directories above a denied path cannot be removed or renamed either".to_owned(),
        ));
        deny_forms.push(rule(
            Decision::Deny,
            vec![Operation::FileWriteUnlink],
            ancestors,
        ));
    }
    deny_forms.push(Form::Comment(
        "device nodes only where a rule grants make_char or make_block".to_owned(),
    ));
    for (slot, vnode) in [Vnode::CharacterDevice, Vnode::BlockDevice]
        .into_iter()
        .enumerate()
    {
        let granted = std::mem::take(&mut device_grants[slot]);
        let filters = if granted.is_empty() {
            vec![Filter::VnodeType(vnode)]
        } else {
            let mut all = vec![Filter::VnodeType(vnode)];
            all.extend(granted.into_iter().map(not));
            vec![Filter::RequireAll(all)]
        };
        deny_forms.push(rule(
            Decision::Deny,
            vec![Operation::FileWriteCreate],
            filters,
        ));
    }
    let keychain = baseline::keychain_deny();
    deny_forms.push(Form::Comment(keychain.why.to_owned()));
    deny_forms.push(Form::Rule(keychain.rule));

    if !b.problems.is_empty() {
        let mut problems: Vec<Problem> = Vec::new();
        for p in b.problems {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        return Err(problems);
    }

    let mut forms = vec![
        Form::Version(1),
        Form::Comment(format!(
            "nonoc Seatbelt profile: policy `{policy}`, ring {}",
            ring.level
        )),
        Form::Comment("what each rule stands for: docs/backends/seatbelt.md".to_owned()),
    ];
    if !b.params.is_empty() {
        forms.push(Form::Comment(
            "host paths are parameters, bound by the runtime:".to_owned(),
        ));
        for (i, (template, form, _)) in b.params.iter().enumerate() {
            let how = match form {
                ParamForm::Path => "",
                ParamForm::Private => " under /private",
                ParamForm::Prefix => " as a regex prefix",
                ParamForm::PrivatePrefix => " under /private, as a regex prefix",
            };
            forms.push(Form::Comment(format!(
                "  {} = {template}{how}",
                param_name(i)
            )));
        }
    }
    forms.push(rule(Decision::Deny, vec![Operation::Default], Vec::new()));
    forms.push(Form::Blank);
    forms.push(Form::Comment("platform baseline".to_owned()));
    for line in baseline::lines() {
        forms.push(Form::Comment(line.why.to_owned()));
        forms.push(Form::Rule(line.rule));
    }
    for (title, section) in [
        ("filesystem", filesystem),
        ("network", network),
        ("processes", process),
    ] {
        if !section.is_empty() {
            forms.push(Form::Blank);
            forms.push(Form::Comment(title.to_owned()));
            forms.extend(section);
        }
    }
    forms.push(Form::Blank);
    forms.push(Form::Comment(
        "denies come last and name every operation the allows above them name, so they win whichever precedence macOS applies".to_owned(),
    ));
    forms.extend(deny_forms);
    let mut profile = Profile { forms };
    close_wildcards(&mut profile);

    let params = b
        .params
        .into_iter()
        .enumerate()
        .map(|(i, (path, form, _))| SeatbeltParam {
            name: param_name(i),
            path,
            form,
        })
        .collect();
    Ok(Tree { profile, params })
}

/// Adds to each deny that names a wildcard (`file-read*`) every exact operation under it that
/// an allow names (`file-read-metadata`): where macOS consults rules naming the exact
/// operation first, the deny is then among them, and being last, still wins.
fn close_wildcards(profile: &mut Profile) {
    let exact: BTreeSet<Operation> = profile
        .forms
        .iter()
        .filter_map(|f| match f {
            Form::Rule(r) if r.decision == Decision::Allow => Some(r.operations.iter()),
            _ => None,
        })
        .flatten()
        .copied()
        .filter(|op| !op.is_wildcard())
        .collect();
    for form in &mut profile.forms {
        let Form::Rule(r) = form else { continue };
        if r.decision != Decision::Deny {
            continue;
        }
        let wildcards: Vec<Operation> = r
            .operations
            .iter()
            .copied()
            .filter(|op| op.is_wildcard() && *op != Operation::Default)
            .collect();
        for op in &exact {
            if wildcards.iter().any(|w| w.covers(*op)) && !r.operations.contains(op) {
                r.operations.push(*op);
            }
        }
    }
}
