//! SARIF 2.1.0 output of `nonoc check --format sarif`, for code-scanning UIs: one rule per
//! diagnostic code with its page of `docs/diagnostics.md`, one result per diagnostic with
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

fn rule(code: Code) -> Value {
    let page = section(code).unwrap_or_default();
    json!({
        "id": code.as_str(),
        "shortDescription": { "text": code.summary() },
        "fullDescription": { "text": meaning(page).unwrap_or_else(|| code.summary().to_owned()) },
        "help": { "text": page, "markdown": page },
        "defaultConfiguration": { "level": level(code.default_severity()) },
    })
}

/// The SARIF log of the analyses of one run.
pub fn log(analyses: &[Analysis]) -> Value {
    let mut results = Vec::new();
    for analysis in analyses {
        for d in analysis.diagnostics.iter() {
            let mut result = json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": Code::ALL.iter().position(|c| *c == d.code),
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
                "rules": Code::ALL.iter().map(|c| rule(*c)).collect::<Vec<_>>(),
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
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(rules, Code::ALL.len());
    }
}
