//! `docs/diagnostics.md` documents exactly the codes the compiler has: one entry per code of
//! `Code::ALL`, headed `## NCxxxx: <summary>` with the code's own summary, in numeric order,
//! each with its meaning, why it matters, an example and the fix; and every `NCxxxx` the page
//! mentions anywhere is a real code.

use std::collections::BTreeSet;
use std::path::Path;

use nonoc::diagnostic::{Code, Severity};

const DOC: &str = "docs/diagnostics.md";

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(DOC);
    std::fs::read_to_string(&path).unwrap()
}

/// The `## NC...` sections: heading line and body, in document order.
fn entries(doc: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find("\n## ") {
        let after = &rest[start + 1..];
        let end = after[3..].find("\n## ").map_or(after.len(), |i| i + 3);
        let (section, tail) = after.split_at(end);
        let (heading, body) = section.split_once('\n').unwrap_or((section, ""));
        if heading.starts_with("## NC") {
            out.push((heading, body));
        }
        rest = tail;
    }
    out
}

/// Every `NC` followed by four digits in the text.
fn mentioned_codes(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    (0..bytes.len())
        .filter(|&i| {
            bytes[i..].starts_with(b"NC")
                && bytes.len() >= i + 6
                && bytes[i + 2..i + 6].iter().all(u8::is_ascii_digit)
                && bytes.get(i + 6).is_none_or(|b| !b.is_ascii_digit())
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        })
        .map(|i| text[i..i + 6].to_owned())
        .collect()
}

#[test]
fn every_code_has_an_entry_with_its_summary() {
    let doc = doc();
    let headings: Vec<&str> = entries(&doc).iter().map(|(h, _)| *h).collect();
    let missing: Vec<String> = Code::ALL
        .iter()
        .map(|c| format!("## {c}: {}", c.summary()))
        .filter(|want| !headings.contains(&want.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{DOC} lacks these headings (or their summary differs from diagnostic.rs):\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_doc_names_no_code_that_does_not_exist() {
    let doc = doc();
    let known: BTreeSet<String> = Code::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    let unknown: Vec<String> = mentioned_codes(&doc)
        .into_iter()
        .filter(|c| !known.contains(c))
        .collect();
    assert!(
        unknown.is_empty(),
        "{DOC} names codes that do not exist: {unknown:?}"
    );
    // Each heading is one of the expected ones, once, in numeric order.
    let expected: Vec<String> = Code::ALL
        .iter()
        .map(|c| format!("## {c}: {}", c.summary()))
        .collect();
    let headings: Vec<String> = entries(&doc).iter().map(|(h, _)| (*h).to_owned()).collect();
    assert_eq!(
        headings, expected,
        "{DOC}: one `## NCxxxx: <summary>` heading per code, in numeric order"
    );
}

#[test]
fn every_entry_explains_why_and_shows_an_example_and_the_fix() {
    let doc = doc();
    for (heading, body) in entries(&doc) {
        for part in [
            "**Severity:**",
            "**What it means.**",
            "**Why it matters.**",
            "**Example.**",
            "**Fix.**",
        ] {
            assert!(body.contains(part), "{heading}: no {part}");
        }
        assert!(body.contains("```yaml\n"), "{heading}: no YAML example");
        let code = Code::ALL
            .iter()
            .find(|c| heading.starts_with(&format!("## {c}:")))
            .unwrap();
        let severity = match code.default_severity() {
            Severity::Error => "**Severity:** error",
            Severity::Warning => "**Severity:** warning",
        };
        assert!(
            body.contains(severity),
            "{heading}: the entry should say `{severity}`"
        );
    }
}
