//! A policy file's text and the name it is reported under.

use crate::diagnostic::Span;

/// Longest source line kept in a rule's origin; longer lines are cut (at a character boundary).
pub const MAX_LINE_TEXT: usize = 200;

/// The text of one policy file.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
    /// Where each line starts, and whether it is ASCII (then a column is a byte difference).
    /// Every rule asks for its line and column: a scan from the start of the file each time
    /// would make a policy of many rules quadratic.
    lines: Vec<(usize, bool)>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut lines = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            lines.push((start, line.is_ascii()));
            start += line.len();
        }
        if lines.is_empty() || text.ends_with('\n') {
            lines.push((start, true));
        }
        Self {
            name: name.into(),
            text,
            lines,
        }
    }

    /// The 0-based index of the line an offset stands on, and where that line starts.
    fn line_of(&self, offset: usize) -> (usize, usize, bool) {
        let index = self
            .lines
            .partition_point(|&(start, _)| start <= offset)
            .saturating_sub(1);
        let (start, ascii) = self.lines.get(index).copied().unwrap_or((0, true));
        (index, start, ascii)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let (index, start, ascii) = self.line_of(offset);
        let column = match self.text.get(start..offset) {
            Some(before) if !ascii => before.chars().count(),
            _ => offset - start,
        };
        (index + 1, column + 1)
    }

    /// The source line a span starts on, trimmed, and cut to [`MAX_LINE_TEXT`] bytes.
    pub fn line_text(&self, span: Span) -> &str {
        let offset = span.offset.min(self.text.len());
        let (index, start, _) = self.line_of(offset);
        let end = self
            .lines
            .get(index + 1)
            .map_or(self.text.len(), |&(next, _)| next);
        let line = self.text.get(start..end).unwrap_or("").trim();
        let mut cut = line.len().min(MAX_LINE_TEXT);
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.get(..cut).unwrap_or("").trim_end()
    }
}

/// A text for miette to quote, with an index of its lines. miette's own sources (`str`,
/// `String`) find a span's line by scanning from the start of the text, once per label: with
/// thousands of diagnostics (a large policy's carve-out warnings) rendering was quadratic and
/// took seconds. Here each span is read from a window that starts a few lines above it, and
/// the line numbers are shifted back, so the contents are exactly those miette computes on
/// the whole text.
#[derive(Debug)]
pub struct Quoted<'a> {
    name: &'a str,
    text: &'a str,
    /// Where each line (ended by `\n`) starts, and how many line breaks miette counts before it
    /// (it also counts a lone `\r`, and `\r\n` once).
    lines: Vec<(usize, usize)>,
}

impl<'a> Quoted<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Quoted<'a> {
        let bytes = text.as_bytes();
        let mut lines = vec![(0, 0)];
        let mut breaks = 0;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b == b'\r' || b == b'\n' {
                breaks += 1;
                if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'\n') {
                    lines.push((i + 1, breaks));
                }
            }
            i += 1;
        }
        Quoted { name, text, lines }
    }
}

impl miette::SourceCode for Quoted<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let line = self
            .lines
            .partition_point(|&(start, _)| start <= span.offset())
            .saturating_sub(1);
        // One more line above than miette keeps, so its window of context lines is full.
        let first = line.saturating_sub(context_lines_before.saturating_add(1));
        let (start, breaks) = self.lines.get(first).copied().unwrap_or((0, 0));
        let window = self.text.as_bytes().get(start..).unwrap_or_default();
        let local = miette::SourceSpan::new(span.offset().saturating_sub(start).into(), span.len());
        let inner = window.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_owned(),
            inner.data(),
            miette::SourceSpan::new((inner.span().offset() + start).into(), inner.span().len()),
            inner.line() + breaks,
            inner.column(),
            inner.line_count() + breaks,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_reads_every_span_as_miette_does_on_the_whole_text() {
        use miette::{SourceCode, SourceSpan};
        let texts = [
            "a\nbb\nccc\n\ndddd\neeeee\nf",
            "a\r\nb\rc\n\r\nd\n\n\ne\r",
            "\n\n\nx: [\u{e9}, y]\nz\n",
            "",
            "one line",
        ];
        for text in texts {
            let quoted = Quoted::new("p.yaml", text);
            let whole = miette::NamedSource::new("p.yaml", text.to_owned());
            for offset in 0..=text.len() {
                for len in [0, 1, 3] {
                    for (before, after) in [(0, 0), (1, 1), (2, 3), (5, 0)] {
                        let span = SourceSpan::new(offset.into(), len);
                        let expected = whole.read_span(&span, before, after);
                        let got = quoted.read_span(&span, before, after);
                        let show = |r: Result<
                            Box<dyn miette::SpanContents<'_> + '_>,
                            miette::MietteError,
                        >| {
                            r.map(|c| {
                                (
                                    c.data().to_vec(),
                                    *c.span(),
                                    c.line(),
                                    c.column(),
                                    c.line_count(),
                                    c.name().map(str::to_owned),
                                )
                            })
                            .map_err(|e| e.to_string())
                        };
                        assert_eq!(
                            show(got),
                            show(expected),
                            "{text:?} at {offset}+{len}, context {before}/{after}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn lines_and_columns() {
        let source = Source::new("p.yaml", "ab\n\u{e9}x: 1\n\nlast");
        assert_eq!(source.line_col(0), (1, 1));
        assert_eq!(source.line_col(2), (1, 3));
        assert_eq!(source.line_col(3), (2, 1));
        // `é` is two bytes and one column.
        assert_eq!(source.line_col(5), (2, 2));
        assert_eq!(source.line_col(10), (3, 1));
        assert_eq!(source.line_col(11), (4, 1));
        assert_eq!(source.line_col(100), (4, 5));
        assert_eq!(Source::new("e", "").line_col(0), (1, 1));
        assert_eq!(Source::new("n", "a\n").line_col(2), (2, 1));
    }

    #[test]
    fn line_text_is_trimmed_and_cut() {
        let source = Source::new("p.yaml", "a: 1\n  - /usr  \r\nz");
        assert_eq!(source.line_text(Span::new(8, 4)), "- /usr");
        assert_eq!(source.line_text(Span::new(17, 1)), "z");
        let long = format!("read: [{}]", "\u{e9}".repeat(500));
        let source = Source::new("p.yaml", long);
        let text = source.line_text(Span::new(7, 2));
        assert!(text.len() <= MAX_LINE_TEXT && text.starts_with("read: ["));
    }
}
