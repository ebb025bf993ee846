//! SARIF 2.1.0 output of `nonoc check --format sarif`, for code-scanning UIs: one rule per
//! diagnostic code the log reports, with its page of `docs/diagnostics.md` (every rule links
//! to its page by `helpUri`, the tool to the whole reference), one result per diagnostic with
//! its place in the policy.

use serde_json::{Value, json};

use crate::Analysis;
use crate::diagnostic::{Code, Severity};

/// The diagnostics reference, embedded so rule help needs no network.
const DIAGNOSTICS_MD: &str = include_str!("../../docs/diagnostics.md");

/// The section of `docs/diagnostics.md` about a code (from its heading to the next).
fn section(code: Code) -> Option<&'static str> {
    let heading = format!("## {}:", code.as_str());
    let start = DIAGNOSTICS_MD.find(&heading)?;
    let rest = &DIAGNOSTICS_MD[start..];
    let end = rest[heading.len()..]
        .find("\n## ")
        .map_or(rest.len(), |i| i + heading.len() + 1);
    Some(rest[..end].trim())
}

/// The "What it means." paragraph of a section, as plain text.
fn meaning(section: &str) -> Option<String> {
    let start = section.find("**What it means.**")?;
    let text = &section[start + "**What it means.**".len()..];
    let end = text.find("\n\n").unwrap_or(text.len());
    Some(text[..end].split_whitespace().collect::<Vec<_>>().join(" "))
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// Where `docs/diagnostics.md` is published.
const DIAGNOSTICS_URI: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/main/docs/diagnostics.md"
);

/// The link to a code's section: the page and the heading's anchor, as Markdown renderers
/// make it (lower case; letters, digits, `-` and `_` kept; spaces to `-`).
fn help_uri(code: Code) -> String {
    let heading = format!("{}: {}", code.as_str(), code.summary());
    let anchor: String = heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect();
    format!("{DIAGNOSTICS_URI}#{anchor}")
}

fn rule(code: Code) -> Value {
    let page = section(code).unwrap_or_default();
    json!({
        "id": code.as_str(),
        "helpUri": help_uri(code),
        "shortDescription": { "text": code.summary() },
        "fullDescription": { "text": meaning(page).unwrap_or_else(|| code.summary().to_owned()) },
        "help": { "text": page, "markdown": page },
        "defaultConfiguration": { "level": level(code.default_severity()) },
    })
}

/// The SARIF log of the analyses of one run.
pub fn log(analyses: &[Analysis]) -> Value {
    // Only the rules reported are embedded; the others are one link away.
    let reported: Vec<Code> = Code::ALL
        .iter()
        .copied()
        .filter(|c| {
            analyses.iter().any(|a| {
                a.diagnostics
                    .iter()
                    .chain(&a.accepted)
                    .any(|d| d.code == *c)
            })
        })
        .collect();
    let mut results = Vec::new();
    for analysis in analyses {
        // Accepted warnings are results with a suppression, as SARIF has them.
        let accepted = analysis.accepted.iter().map(|d| (d, true));
        for (d, suppressed) in analysis
            .diagnostics
            .iter()
            .map(|d| (d, false))
            .chain(accepted)
        {
            let mut result = json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": reported.iter().position(|c| *c == d.code),
                "level": level(d.severity),
                "message": { "text": d.help.as_ref().map_or(d.message.clone(), |h| format!("{} (help: {h})", d.message)) },
            });
            let mut location = json!({
                "physicalLocation": { "artifactLocation": { "uri": analysis.source.name } }
            });
            if let Some(span) = d.span {
                let (start_line, start_column) = analysis.source.line_col(span.offset);
                let (end_line, end_column) = analysis.source.line_col(span.offset + span.len);
                location["physicalLocation"]["region"] = json!({
                    "startLine": start_line,
                    "startColumn": start_column,
                    "endLine": end_line,
                    "endColumn": end_column,
                });
            }
            result["locations"] = json!([location]);
            if suppressed {
                result["suppressions"] = json!([{
                    "kind": "inSource",
                    "justification": "the policy lists the code in `settings.accept`",
                }]);
            }
            results.push(result);
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "nonoc",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": DIAGNOSTICS_URI,
                "rules": reported.iter().map(|c| rule(*c)).collect::<Vec<_>>(),
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_its_page_and_meaning() {
        for code in Code::ALL {
            let page = section(*code).unwrap_or_else(|| panic!("{code} has no section"));
            assert!(page.starts_with(&format!("## {code}:")));
            assert!(
                !page[3..].contains("\n## "),
                "{code}: section runs into the next"
            );
            assert!(meaning(page).is_some_and(|m| !m.is_empty()), "{code}");
        }
    }

    #[test]
    fn results_carry_rule_and_region() {
        let text = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\nrings:\n  3: { filesystem: { read: [usr] } }\n";
        let analysis = crate::analyze("p.yaml", text.as_bytes());
        let log = log(&[analysis]);
        let result = &log["runs"][0]["results"][0];
        assert_eq!(result["ruleId"], "NC0401");
        assert_eq!(result["level"], "error");
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], 5);
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "p.yaml"
        );
        // Only the rule reported is embedded, with the link to its page.
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(rules[0]["id"], "NC0401");
        assert_eq!(result["ruleIndex"], 0);
        assert_eq!(
            rules[0]["helpUri"],
            format!("{DIAGNOSTICS_URI}#nc0401-a-path-is-not-absolute")
        );
    }

    #[test]
    fn a_clean_policy_embeds_no_rule() {
        let text = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: t }\nrings:\n  3: { filesystem: { read: [/usr] } }\n";
        let log = log(&[crate::analyze("p.yaml", text.as_bytes())]);
        let driver = &log["runs"][0]["tool"]["driver"];
        assert_eq!(driver["rules"], json!([]));
        assert!(
            driver["informationUri"]
                .as_str()
                .is_some_and(|u| u.ends_with("docs/diagnostics.md"))
        );
    }
}
