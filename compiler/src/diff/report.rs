//! What a comparison finds, as plain data: gains, losses and notes, each gain and loss with the
//! requests that show it; and the text people read.

use std::fmt::Write as _;

use serde::Serialize;

use crate::ir::{BoundVariables, Platform, Request, Verdict};

/// The difference between two policies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PolicyDiff {
    /// One entry per pair of rings compared (by ring level, by trust score range) that has a
    /// gain, a loss or a note.
    pub comparisons: Vec<Comparison>,
    /// Changes of the policy as a whole: settings, variables, trust tiers.
    pub policy: Changes,
    pub gains: usize,
    pub losses: usize,
    /// Whether anything is gained: what `--fail-on-escalation` fails on.
    pub escalation: bool,
}

/// What one ring of OLD may do against what one ring of NEW may do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    /// The ring of OLD; `None`: no ring (the level does not exist, or the score selects none).
    pub old_ring: Option<u8>,
    pub new_ring: Option<u8>,
    /// The ring level this pair is for (`exec --ring N` selects it in both).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// The trust scores that select `old_ring` in OLD and `new_ring` in NEW.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<ScoreRange>,
    #[serde(flatten)]
    pub changes: Changes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoreRange {
    pub from: u16,
    pub to: u16,
    /// The tier of NEW that selects these scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

/// Gains, losses, and notes: what changed in the text without changing a verdict.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    pub gains: Vec<Finding>,
    pub losses: Vec<Finding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.gains.is_empty() && self.losses.is_empty() && self.notes.is_empty()
    }

    pub(super) fn push(&mut self, gain: bool, finding: Finding) {
        if gain {
            self.gains.push(finding);
        } else {
            self.losses.push(finding);
        }
    }
}

/// Where a finding belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Filesystem,
    Network,
    Process,
    Syscalls,
    /// The ring as a whole: unconfined, could (not) be applied.
    Ring,
    Variables,
    Settings,
}

/// One gain or loss, with the requests that show it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub area: Area,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// A request that OLD and NEW answer differently.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The ring or trust scores asked: `ring 2`, `scores 700..=899`.
    pub subject: String,
    /// The request as the policy language writes it; a variable's value that could be anything
    /// is shown as `${name}` (given by the caller) or `$ENV` (from the environment).
    pub request: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The variable values under which the answers differ, when that matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub old: Outcome,
    pub new: Outcome,
    /// The exact question asked, so a test can ask `decide` again.
    #[serde(skip)]
    pub probe: Probe,
}

/// A verdict and the rules (or defaults) behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    pub because: Vec<String>,
}

/// The rings, request and variable values of a piece of evidence.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub old_ring: Option<u8>,
    pub new_ring: Option<u8>,
    pub request: Option<Request>,
    pub old_bindings: BoundVariables,
    pub new_bindings: BoundVariables,
}

impl Finding {
    pub(super) fn plain(area: Area, text: String) -> Finding {
        Finding {
            area,
            text,
            evidence: Vec::new(),
        }
    }
}

impl Comparison {
    /// `ring 2`, `scores 700..=899 (tier `trusted`): ring 2 -> ring 1`, `ring 4 (new)`.
    pub fn title(&self) -> String {
        let ring = |r: Option<u8>| r.map_or_else(|| "no ring".to_owned(), |l| format!("ring {l}"));
        match self.level {
            Some(level) => {
                let state = match (self.old_ring, self.new_ring) {
                    (None, Some(_)) => " (new)",
                    (Some(_), None) => " (removed)",
                    _ => "",
                };
                let scores = if self.scores.is_empty() {
                    String::new()
                } else {
                    format!(", selected by {}", scores_text(&self.scores))
                };
                format!("ring {level}{state}{scores}")
            }
            None => format!(
                "{}: {} -> {}",
                scores_text(&self.scores),
                ring(self.old_ring),
                ring(self.new_ring)
            ),
        }
    }
}

/// `scores 700..=899 (tier `trusted`)`, several joined by `, `.
pub(super) fn scores_text(scores: &[ScoreRange]) -> String {
    let parts: Vec<String> = scores
        .iter()
        .map(|s| match &s.tier {
            Some(tier) => format!("{}..={} (tier `{tier}`)", s.from, s.to),
            None => format!("{}..={}", s.from, s.to),
        })
        .collect();
    format!("scores {}", parts.join(", "))
}

impl PolicyDiff {
    /// People's output: a section per comparison and for the policy, `+` gains, `-` losses,
    /// `~` notes, each gain and loss followed by the request that shows it; a summary line.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for c in &self.comparisons {
            section(&mut s, &c.title(), &c.changes);
        }
        if !self.policy.is_empty() {
            section(&mut s, "policy", &self.policy);
        }
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if self.gains == 0 && self.losses == 0 {
            let notes = self.comparisons.iter().any(|c| !c.changes.notes.is_empty())
                || !self.policy.notes.is_empty();
            let _ = writeln!(
                s,
                "no change in rights{}",
                if notes { " (see the notes)" } else { "" }
            );
        } else {
            let _ = writeln!(
                s,
                "{}, {}: {}",
                plural(self.gains, "gain", "gains"),
                plural(self.losses, "loss", "losses"),
                if self.escalation {
                    "escalation"
                } else {
                    "no escalation"
                }
            );
        }
        s
    }
}

fn section(s: &mut String, title: &str, c: &Changes) {
    let _ = writeln!(s, "{title}:");
    for (sign, findings) in [('+', &c.gains), ('-', &c.losses)] {
        for f in findings {
            let _ = writeln!(s, "  {sign} {}", f.text);
            if let Some(e) = f.evidence.first() {
                let _ = writeln!(s, "      e.g. {}", e.sentence());
            }
        }
    }
    for n in &c.notes {
        let _ = writeln!(s, "  ~ {n}");
    }
}

impl Evidence {
    /// `ring 2 may now write_file `/etc/x` (on linux, when `${ws}` is `/`): allowed by ...;
    /// before: no rule ...`.
    pub fn sentence(&self) -> String {
        let verb = match self.new.verdict {
            Verdict::Allow => "may now",
            Verdict::Deny => "may no longer",
        };
        let mut context = Vec::new();
        if let Some(p) = self.platform {
            context.push(format!("on {}", p.name()));
        }
        if let Some(when) = &self.when {
            context.push(when.clone());
        }
        let context = if context.is_empty() {
            String::new()
        } else {
            format!(" ({})", context.join(", "))
        };
        format!(
            "{} {verb} {}{context}: {}; before: {}",
            self.subject,
            self.request,
            self.new.because.join("; "),
            self.old.because.join("; ")
        )
    }
}
