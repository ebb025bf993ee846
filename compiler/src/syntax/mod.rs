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

use serde_saphyr::{
    DuplicateKeyPolicy, Error as YamlError, MessageFormatter, UserMessageFormatter,
};

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
            flow_nesting_limit: MAX_DEPTH,
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
    let code = classify(original(inner));
    // The message without the parser's "at line X, column Y" suffix: the span carries the place.
    let message = lower_first(&UserMessageFormatter.format_message(original(inner)));
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
    let message = match original(inner) {
        YamlError::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => format!("aliases expand to more than {max_total_replayed_events} parser events"),
        // The parser's words for these name Rust types and serde's enum encoding.
        YamlError::InvalidScalar { ty, .. } if *ty != "boolean" => {
            let what = match *ty {
                t if t.starts_with('f') || t.starts_with("floating") => "a number",
                t if t.starts_with('i') || t.starts_with('u') => "an integer",
                t => t,
            };
            let found = span.and_then(|s| text.get(s.offset..s.offset.saturating_add(s.len)));
            match found.map(str::trim).filter(|f| !f.is_empty()) {
                Some(found) => format!("expected {what}, found `{found}`"),
                None => format!("expected {what}"),
            }
        }
        YamlError::ExternallyTaggedEnumExpectedScalarOrMapping { .. } => {
            String::from("expected a single name here, not a list")
        }
        YamlError::UnexpectedValueForUnitEnumVariant { .. }
        | YamlError::ExpectedStringKeyForExternallyTaggedEnum { .. }
        | YamlError::ExpectedMappingEndAfterEnumVariantValue { .. } => {
            String::from("expected a single name here, not a mapping")
        }
        YamlError::TaggedEnumMismatch { tagged, .. } => {
            format!("unexpected YAML tag `!{tagged}`: write the name without `!`")
        }
        YamlError::TaggedStructFieldName { tag, .. } => {
            format!("unexpected YAML tag `{tag}` on a field name")
        }
        YamlError::Budget { breach, .. } => budget_message(breach).unwrap_or(message),
        _ if message == "recursion limit exceeded" => {
            format!("the document nests deeper than {MAX_DEPTH} levels")
        }
        _ => message,
    };
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
            if let Some(reference) = span.and_then(|s| unquoted_reference(text, s.offset)) {
                diagnostic.help(format!(
                    "inside `[...]` and `{{...}}` YAML reads `{{` and `}}` as its own syntax: quote a value that holds a variable, e.g. `\"{reference}\"`"
                ))
            } else if text.contains('\t') && diagnostic.message.contains("tab") {
                diagnostic.help("YAML indents with spaces only; replace the tabs with spaces")
            } else {
                diagnostic.help(
                    "check the brackets, quotes and indentation at or just before this place",
                )
            }
        }
    }
}

/// The first `${...}` reference not inside quotes on the line of `offset`, as written
/// there (with the text after it up to a separator): a YAML flow list or mapping reads its
/// `{` as the start of a mapping.
fn unquoted_reference(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let end = text
        .get(offset..)?
        .find('\n')
        .map_or(text.len(), |i| offset + i);
    let line = text.get(start..end)?;
    let at = line.match_indices("${").find_map(|(i, _)| {
        let before = line.get(..i)?;
        // Outside quotes when the quotes before it are balanced.
        let quoted = before.matches('"').count() % 2 == 1 || before.matches('\'').count() % 2 == 1;
        (!quoted).then_some(i)
    })?;
    let rest = line.get(at..)?;
    let close = rest.find('}')?;
    let tail = rest
        .get(close + 1..)?
        .split([',', ']', ' ', '#'])
        .next()
        .unwrap_or("");
    Some(format!("{}{tail}", rest.get(..=close)?))
}

/// Plain words for the budget breaches a policy can reach (the parser prints its data type).
fn budget_message(breach: &serde_saphyr::budget::BudgetBreach) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach as B;
    Some(match breach {
        B::Events { events } => format!("the document has too many parser events: {events}"),
        B::Aliases { aliases } => format!("the document has too many aliases: {aliases}"),
        B::Anchors { anchors } => format!("the document has too many anchors: {anchors}"),
        B::Depth { .. } => format!("the document nests deeper than {MAX_DEPTH} levels"),
        B::Documents { documents } => {
            format!("the file holds {documents} YAML documents; a policy is one document")
        }
        B::Nodes { nodes } => format!("the document has too many nodes: {nodes}"),
        _ => return None,
    })
}

/// The error behind the alias and snippet wrappers.
fn original(mut error: &YamlError) -> &YamlError {
    while let YamlError::AliasError { error: inner, .. }
    | YamlError::WithSnippet { error: inner, .. } = error
    {
        error = inner;
    }
    error
}

/// The code of a parser error, by its variant (the parser's `Debug` is its message, so the
/// variant cannot be read from it).
fn classify(error: &YamlError) -> Code {
    match error {
        YamlError::DuplicateMappingKey { .. } => Code::DuplicateKey,
        YamlError::Budget { .. }
        | YamlError::AliasReplayCounterOverflow { .. }
        | YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. } => Code::ParserBudget,
        YamlError::SerdeUnknownField { .. }
        | YamlError::SerdeMissingField { .. }
        | YamlError::SerdeInvalidType { .. }
        | YamlError::SerdeInvalidValue { .. }
        | YamlError::SerdeInvalidLength { .. }
        | YamlError::SerdeUnknownVariant { .. }
        | YamlError::SerdeVariantId { .. }
        | YamlError::UnexpectedValueForUnitEnumVariant { .. }
        | YamlError::ExternallyTaggedEnumExpectedScalarOrMapping { .. }
        | YamlError::ExpectedStringKeyForExternallyTaggedEnum { .. }
        | YamlError::ExpectedMappingEndAfterEnumVariantValue { .. }
        | YamlError::TaggedEnumMismatch { .. }
        | YamlError::TaggedStructFieldName { .. }
        | YamlError::InvalidScalar { .. }
        | YamlError::NullIntoString { .. }
        | YamlError::Unexpected { .. }
        | YamlError::UnexpectedSequenceEnd { .. }
        | YamlError::UnexpectedMappingEnd { .. }
        | YamlError::InvalidBooleanStrict { .. } => Code::Shape,
        YamlError::Message { msg, .. } | YamlError::ExternalMessage { msg, .. }
            if msg.contains("depth")
                || msg.contains("too large")
                || msg.contains("recursion limit") =>
        {
            Code::ParserBudget
        }
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
    let mut chars = text.chars();
    match chars.next() {
        // Keep acronyms such as `YAML` as they are.
        Some(first) if chars.clone().next().is_some_and(char::is_uppercase) => {
            std::iter::once(first).chain(chars).collect()
        }
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::from("the YAML could not be read"),
    }
}
