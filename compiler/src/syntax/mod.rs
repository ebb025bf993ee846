//! Stage 1: YAML text to serde types with spans.
//!
//! The parser (serde-saphyr) stays behind this module so it can be swapped. It runs with
//! budgets: a document that is too large, too deep or expands too many aliases is rejected
//! with `NC0004` before it can cost much time or memory.

mod entries;
mod policy;
mod spanned;

pub use entries::Entries;
pub use policy::*;
pub use spanned::Spanned;

use serde_saphyr::{DuplicateKeyPolicy, Error as YamlError};

use crate::diagnostic::{Code, Diagnostic, Span};

/// Largest policy file accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted.
pub const MAX_DEPTH: usize = 64;

/// Parses a policy from raw bytes. Never panics; every failure is one diagnostic.
pub fn parse(bytes: &[u8]) -> Result<PolicyFile, Box<Diagnostic>> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Box::new(
            Diagnostic::new(
                Code::ParserBudget,
                None,
                format!(
                    "the file is {} bytes, more than the limit of {MAX_INPUT_BYTES}",
                    bytes.len()
                ),
            )
            .help(
                "a ring policy is a small document; split it or check that this is the right file",
            ),
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| {
            Diagnostic::new(
                Code::NotUtf8,
                Span::new(e.valid_up_to(), 1),
                format!(
                    "the file is not UTF-8: invalid byte at offset {}",
                    e.valid_up_to()
                ),
            )
            .label("not UTF-8")
            .help("save the policy as UTF-8 text")
        })
        .map_err(Box::new)?;
    if text
        .trim()
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(Box::new(
            Diagnostic::new(
                Code::EmptyDocument,
                Span::new(0, 0),
                "the file holds no policy",
            )
            .help("a policy starts with `apiVersion: nonoc.dev/v1` and `kind: RingPolicy`"),
        ));
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_INPUT_BYTES),
            max_depth: MAX_DEPTH,
            max_events: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_nodes: 100_000,
            max_documents: 1,
        },
        duplicate_keys: DuplicateKeyPolicy::Error,
        with_snippet: false,
    };
    let mut options = options;
    options.alias_limits.max_total_replayed_events = 10_000;
    serde_saphyr::from_str_with_options::<PolicyFile>(text, options)
        .map_err(|e| Box::new(yaml_diagnostic(&e, text)))
}

/// Maps a parser error to a diagnostic with a code and a span.
fn yaml_diagnostic(error: &YamlError, text: &str) -> Diagnostic {
    let inner = error.without_snippet();
    let code = classify(inner);
    let message = lower_first(&inner.render_with_formatter(&serde_saphyr::UserMessageFormatter));
    let message = message
        .split_once(", set DuplicateKeyPolicy")
        .map_or(message.clone(), |(m, _)| m.to_owned());
    let span = inner.location().map(|loc| {
        let s = loc.span();
        match s.byte_offset() {
            Some(offset) => Span::new(
                usize::try_from(offset).unwrap_or(0),
                s.byte_len()
                    .and_then(|l| usize::try_from(l).ok())
                    .unwrap_or(0),
            ),
            None => line_col_span(text, loc.line(), loc.column()),
        }
    });
    let diagnostic = Diagnostic::new(code, span, message);
    match code {
        Code::DuplicateKey => diagnostic.help(
            "YAML mapping keys must be unique; nonoc never lets the last one win: remove or merge the duplicate",
        ),
        Code::ParserBudget => diagnostic.help(format!(
            "nonoc limits policies to {MAX_INPUT_BYTES} bytes, nesting depth {MAX_DEPTH} and a few aliases; a ring policy never needs more"
        )),
        Code::Shape => diagnostic.help("see `nonoc schema` or docs/policy-language.md for the fields each section takes"),
        _ => {
            if text.contains('\t') && diagnostic.message.contains("tab") {
                diagnostic.help("YAML indents with spaces only; replace the tabs with spaces")
            } else {
                diagnostic
            }
        }
    }
}

fn classify(error: &YamlError) -> Code {
    let debug = format!("{error:?}");
    let variant = debug.split([' ', '{', '(']).next().unwrap_or("");
    match variant {
        "DuplicateMappingKey" => Code::DuplicateKey,
        "Budget"
        | "AliasReplayCounterOverflow"
        | "AliasReplayLimitExceeded"
        | "AliasExpansionLimitExceeded"
        | "AliasReplayStackDepthExceeded" => Code::ParserBudget,
        "SerdeUnknownField"
        | "SerdeMissingField"
        | "SerdeInvalidType"
        | "SerdeInvalidValue"
        | "SerdeUnknownVariant"
        | "SerdeVariantId"
        | "UnexpectedValueForUnitEnumVariant"
        | "ExternallyTaggedEnumExpectedScalarOrMapping"
        | "InvalidScalar"
        | "NullIntoString"
        | "Unexpected"
        | "UnexpectedSequenceEnd"
        | "UnexpectedMappingEnd"
        | "InvalidBooleanStrict" => Code::Shape,
        "Message" if debug.contains("depth") || debug.contains("too large") => Code::ParserBudget,
        _ => Code::YamlSyntax,
    }
}

fn line_col_span(text: &str, line: u64, column: u64) -> Span {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if (i as u64) + 1 == line {
            let col = usize::try_from(column.saturating_sub(1)).unwrap_or(0);
            let within: usize = l.chars().take(col).map(char::len_utf8).sum();
            return Span::new(offset + within, 0);
        }
        offset += l.len();
    }
    Span::new(text.len(), 0)
}

fn lower_first(text: &str) -> String {
    let text = text.trim();
    let text = text.strip_prefix("error: ").unwrap_or(text);
    // Drop a leading "line N column M: " the renderer adds; the span carries the place.
    let text = match text.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") && head.contains(" column ") => rest,
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::from("the YAML could not be read"),
    }
}
