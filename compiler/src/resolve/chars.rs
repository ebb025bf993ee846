//! Characters in paths and globs that make a rule read differently to a reviewer than to the
//! kernel, for every target (NC0411, NC0412). The kernel compares bytes: a deny of
//! `/home/a/.ѕsh` (a Cyrillic `ѕ`) or of `.ssh` followed by a zero-width space denies nothing
//! a reviewer would recognise, and a right-to-left override (U+202E) between `report` and
//! `txt.exe` makes the name display as `reportexe.txt`.
//!
//! - **invisible** (an error): zero-width and joiner characters, the bidirectional marks,
//!   embeddings, overrides and isolates, invisible operators, fillers that render as nothing,
//!   variation selectors, tag characters, the byte order mark, and the line and paragraph
//!   separators. Control characters are NC0403's.
//! - **look-alikes** (a warning): compatibility forms that look like ASCII (fullwidth forms,
//!   mathematical letters and digits, letterlike symbols such as the Kelvin sign, Roman
//!   numerals), characters that look like `/`, `.`, `-`, `*` or a space, and a path component
//!   that mixes ASCII letters with letters of Cyrillic, Greek, Armenian or Cherokee, whose
//!   alphabets share shapes with Latin. A component written wholly in one of those scripts
//!   (`/home/иван`) is not flagged.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::syntax::Spanned;

/// Why a character is invisible or changes the direction of text, or `None`.
pub fn invisible(c: char) -> Option<&'static str> {
    let why = match c {
        '\u{200B}' | '\u{FEFF}' => "a zero-width space",
        '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{034F}' => "a zero-width joiner or non-joiner",
        '\u{200E}' | '\u{200F}' | '\u{061C}' => "a direction mark",
        '\u{202A}'..='\u{202E}' => "a direction embedding or override",
        '\u{2066}'..='\u{2069}' => "a direction isolate",
        '\u{2061}'..='\u{2064}' => "an invisible operator",
        '\u{206A}'..='\u{206F}' => "a deprecated invisible format character",
        '\u{00AD}' => "a soft hyphen",
        '\u{180B}'..='\u{180F}' => "a Mongolian invisible selector or separator",
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{17B4}' | '\u{17B5}' => {
            "a filler that renders as nothing"
        }
        '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' => "a variation selector",
        '\u{E0000}'..='\u{E007F}' => "a tag character",
        '\u{FFF9}'..='\u{FFFB}' => "an interlinear annotation character",
        '\u{1D173}'..='\u{1D17A}' => "an invisible musical format character",
        '\u{2028}' | '\u{2029}' => "a line or paragraph separator",
        _ => return None,
    };
    Some(why)
}

/// Why a character may be taken for an ASCII one whatever surrounds it, or `None`.
pub fn lookalike(c: char) -> Option<&'static str> {
    let why = match c {
        '\u{FF01}'..='\u{FF5E}' => "a fullwidth form of an ASCII character",
        '\u{1D400}'..='\u{1D7FF}' => "a mathematical letter or digit",
        '\u{2100}'..='\u{214F}' => "a letterlike symbol",
        '\u{2160}'..='\u{2188}' => "a Roman numeral",
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
            "a space other than U+0020"
        }
        '\u{2215}' | '\u{2044}' | '\u{29F8}' | '\u{2571}' | '\u{0338}' | '\u{30CE}'
        | '\u{4E3F}' => "a character that looks like `/`",
        '\u{2024}' | '\u{0701}' | '\u{0702}' | '\u{A4F8}' | '\u{A60E}' | '\u{06D4}' => {
            "a character that looks like `.`"
        }
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{02D7}' | '\u{FE63}' => {
            "a character that looks like `-`"
        }
        '\u{2217}' | '\u{204E}' | '\u{066D}' => "a character that looks like `*`",
        '\u{2216}' | '\u{FE68}' | '\u{29F5}' => "a character that looks like `\\`",
        _ => return None,
    };
    Some(why)
}

/// The script of a letter whose alphabet shares shapes with Latin, or `None`.
fn latin_lookalike_script(c: char) -> Option<&'static str> {
    if !c.is_alphabetic() {
        return None;
    }
    match c {
        '\u{0370}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}' => Some("Greek"),
        '\u{0400}'..='\u{052F}' | '\u{1C80}'..='\u{1C8F}' | '\u{A640}'..='\u{A69F}' => {
            Some("Cyrillic")
        }
        '\u{0530}'..='\u{058F}' => Some("Armenian"),
        '\u{13A0}'..='\u{13FF}' | '\u{AB70}'..='\u{ABBF}' => Some("Cherokee"),
        _ => None,
    }
}

/// Text for a message: each flagged character shown as `\u{..}`.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || invisible(c).is_some() || lookalike(c).is_some() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Checks one path or glob as written; `what` names it (`path`, `glob`, `default`).
pub fn check(text: &Spanned<String>, what: &str, diags: &mut Diagnostics) {
    let value = &text.value;
    if let Some((c, why)) = value.chars().find_map(|c| invisible(c).map(|w| (c, w))) {
        diags.push(
            Diagnostic::new(
                Code::PathInvisibleChar,
                text.span,
                format!(
                    "{what} `{}` holds {why} (U+{:04X})",
                    shown(value),
                    u32::from(c)
                ),
            )
            .label("invisible here")
            .help("the kernel compares bytes, so a reviewer would not see what this rule names; retype the path without it"),
        );
        return;
    }
    let found = value.chars().find_map(|c| lookalike(c).map(|w| (c, w)));
    let message = match found {
        Some((c, why)) => Some(format!(
            "{what} `{}` holds {why} (U+{:04X})",
            shown(value),
            u32::from(c)
        )),
        None => value.split('/').find_map(|component| {
            let script = component.chars().find_map(latin_lookalike_script)?;
            component
                .chars()
                .any(|c| c.is_ascii_alphabetic())
                .then(|| {
                    format!(
                        "{what} `{value}` mixes Latin and {script} letters in `{component}`, which may look alike"
                    )
                })
        }),
    };
    if let Some(message) = message {
        diags.push(
            Diagnostic::new(Code::PathConfusableChar, text.span, message)
                .help("the kernel compares bytes: a rule on a look-alike name covers another file than the one it seems to; write the name in one script, as it is on disk"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;

    fn codes(text: &str) -> Vec<Code> {
        let mut diags = Diagnostics::default();
        check(
            &Spanned::new(text.to_owned(), Span::new(0, 1)),
            "path",
            &mut diags,
        );
        diags.iter().map(|d| d.code).collect()
    }

    #[test]
    fn invisible_and_bidi_characters_are_errors() {
        for text in [
            "/home/a/.ssh\u{200B}",
            "/srv/report\u{202E}txt.exe",
            "/srv/a\u{2066}b",
            "/srv/\u{FEFF}x",
            "/srv/x\u{E0041}",
            "/srv/x\u{FE0F}",
        ] {
            assert_eq!(codes(text), [Code::PathInvisibleChar], "{text:?}");
        }
    }

    #[test]
    fn look_alikes_are_warnings_and_plain_scripts_are_not() {
        for text in [
            "/home/a/.\u{0455}sh",  // Cyrillic dze
            "/etc/p\u{0430}sswd",   // Cyrillic a
            "/srv/\u{FF53}ecret",   // fullwidth s
            "/srv/a\u{2215}b",      // division slash
            "/srv/\u{212A}ey",      // Kelvin sign
            "/srv/a\u{00A0}b",      // no-break space
            "/srv/\u{03BF}pt/file", // Greek omicron next to Latin
        ] {
            assert_eq!(codes(text), [Code::PathConfusableChar], "{text:?}");
        }
        for text in [
            "/home/\u{0438}\u{0432}\u{0430}\u{043D}/docs",
            "/srv/caf\u{00E9}",
            "/srv/\u{6587}\u{4EF6}",
            "/app/workspace/**/.env*",
        ] {
            assert!(codes(text).is_empty(), "{text:?}");
        }
    }
}
