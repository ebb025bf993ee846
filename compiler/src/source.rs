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

#[cfg(test)]
mod tests {
    use super::*;

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
