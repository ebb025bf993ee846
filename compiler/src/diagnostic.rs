//! Diagnostics: every problem the front end finds, with a stable code, a span and help.
//!
//! Codes are `NC` + 4 digits and never change meaning once released. The list below is the
//! single source of truth: `docs/diagnostics.md` must have an entry for every code (a test
//! checks it).

use std::fmt;

use miette::{LabeledSpan, SourceSpan};

/// A byte range in the policy source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
}

impl Span {
    pub const fn new(offset: usize, len: usize) -> Self {
        Self { offset, len }
    }
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> Self {
        SourceSpan::new(span.offset.into(), span.len)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $severity:ident, $summary:literal;)*) => {
        /// Every diagnostic code the compiler can emit.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// All codes, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable code, e.g. `NC0101`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The severity the code has unless settings raise it.
            pub fn default_severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// One line saying what the code is about.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    // input and YAML
    YamlSyntax = "NC0001", Error, "the file is not valid YAML";
    Shape = "NC0002", Error, "a field is unknown, missing or of the wrong type";
    DuplicateKey = "NC0003", Error, "a mapping has the same key twice";
    ParserBudget = "NC0004", Error, "the document exceeds a parser budget (size, depth, aliases)";
    NotUtf8 = "NC0005", Error, "the file is not UTF-8";
    EmptyDocument = "NC0006", Error, "the file holds no policy";
    ApiVersion = "NC0007", Error, "`apiVersion` is not `nonoc.dev/v1`";
    Kind = "NC0008", Error, "`kind` is not `RingPolicy`";
    PolicyName = "NC0009", Error, "`metadata.name` is not a valid name";
    MinAbi = "NC0010", Error, "`settings.landlock.min_abi` is not a known Landlock ABI";
    AcceptCode = "NC0011", Error, "a code in `settings.accept` is not a warning code";
    // variables
    UndeclaredVariable = "NC0101", Error, "a `${name}` reference names no declared variable";
    MalformedVariable = "NC0102", Error, "a `${...}` reference is malformed or misplaced";
    VariableCycle = "NC0103", Error, "variable defaults refer to each other in a cycle";
    VariableDefault = "NC0104", Error, "a variable default is not an absolute normalized path";
    VariableName = "NC0105", Error, "a variable or environment name is not valid";
    // rings and extends
    NoRings = "NC0201", Error, "the policy has no rings";
    RingLevel = "NC0202", Error, "a ring level is not an integer from 0 to 255";
    DuplicateRing = "NC0203", Error, "two ring keys name the same level";
    MissingParent = "NC0204", Error, "`extends` names a ring that does not exist";
    ExtendsCycle = "NC0205", Error, "rings extend each other in a cycle";
    ExtendsUnconfined = "NC0206", Error, "a ring extends an unconfined ring";
    UnconfinedWithRules = "NC0207", Error, "an unconfined ring also has rules";
    // trust tiers
    TierLowest = "NC0301", Error, "the lowest trust tier does not start at 0";
    TierDuplicateScore = "NC0302", Error, "two trust tiers have the same `min_score`";
    TierUnknownRing = "NC0303", Error, "a trust tier maps to a ring that does not exist";
    TierUnconfined = "NC0304", Error, "a trust tier maps to an unconfined ring";
    TierScoreRange = "NC0305", Error, "a trust score is outside 0..=1000";
    TierDuplicateName = "NC0306", Error, "two trust tiers have the same name";
    // filesystem rules
    PathNotAbsolute = "NC0401", Error, "a path is not absolute";
    PathNotNormalized = "NC0402", Error, "a path has `..`, `.` or empty components";
    PathControlChar = "NC0403", Error, "a path contains a NUL or control character";
    PathTooLong = "NC0404", Error, "a path is longer than 4096 bytes";
    GlobInAllow = "NC0405", Error, "an allow path contains glob characters";
    InvalidGlob = "NC0406", Error, "a glob does not compile";
    UnknownAccess = "NC0407", Error, "an access right name is unknown";
    ExceptOutsideDeny = "NC0408", Error, "an `except` entry lies outside its deny";
    DenyTarget = "NC0409", Error, "a deny rule needs exactly one of `path` and `glob`";
    EmptyAccess = "NC0410", Error, "an access list is empty";
    PathInvisibleChar = "NC0411", Error, "a path or glob holds an invisible, zero-width or direction-changing character";
    PathConfusableChar = "NC0412", Warning, "a path or glob mixes letters that look alike across scripts";
    UnknownFsPreset = "NC0413", Error, "a filesystem preset name is unknown";
    FsPresetWithoutHome = "NC0414", Warning, "a filesystem preset's grants under `${home}` are left out: the policy declares no `home`";
    TmpVariableDeclared = "NC0415", Error, "the policy declares a variable `tmp` and uses the `tmp` preset, which provides it";
    // network and process
    PortRange = "NC0501", Error, "a port is outside 1..=65535";
    HostName = "NC0502", Error, "a network rule names a host";
    PortsWithoutRestricted = "NC0503", Error, "ports are listed but the network mode is not `restricted`";
    UnknownCapability = "NC0504", Error, "a name in `process.capabilities` is not a Linux capability";
    InvalidHost = "NC0505", Error, "a `hosts` or `deny_hosts` entry is not a host name, wildcard, address or CIDR range";
    HostsWithoutRestricted = "NC0506", Error, "hosts are listed but the network mode is not `restricted`";
    // syscalls
    UnknownSyscall = "NC0601", Error, "a syscall name is unknown on every target arch";
    SyscallOneArch = "NC0602", Warning, "a syscall exists on one target arch only";
    UnknownErrno = "NC0603", Error, "an errno name or number is unknown";
    UnknownConstant = "NC0604", Error, "a constant name in a syscall argument is unknown";
    ArgIndex = "NC0605", Error, "a syscall argument index is outside 0..=5";
    ArgMask = "NC0606", Error, "`mask` is missing for `masked_eq`, or given for another op";
    UnknownPreset = "NC0607", Error, "a syscall preset name is unknown";
    AllowListIgnored = "NC0608", Warning, "a syscall `allow` list has no effect with `default: allow`";
    ArgValue = "NC0609", Error, "a syscall argument value is not a 64-bit unsigned integer";
    ErrnoWithoutErrnoAction = "NC0610", Error, "`errno` is given with an action other than `errno`";
    // tests
    TestUnknownRing = "NC0701", Error, "a test names a ring that does not exist";
    TestRequest = "NC0702", Error, "a test needs exactly one ring selector and exactly one request";
    TestNoTiers = "NC0703", Error, "a test selects by `trust_score` but the policy has no trust tiers";
    // lints
    Monotonicity = "NC0801", Warning, "a less privileged ring is granted what a more privileged ring is denied";
    DenyInsideAllow = "NC0802", Warning, "a deny inside an allowed directory is enforced by a Landlock carve-out";
    DenyGlobPartial = "NC0803", Warning, "a deny glob is enforced by Landlock on files that exist at apply time only";
    SignalsSelfWithFork = "NC0804", Warning, "`signals: self` with `fork: true` is enforced as `sandbox` on Linux";
    ExecuteWithoutRead = "NC0805", Warning, "`execute` without `read_file` cannot run programs on Linux";
    HostNeverMatches = "NC0806", Warning, "a `hosts` entry can never allow a request";
    WideWildcard = "NC0807", Warning, "a host wildcard is wider than a registrable domain";
    // Seatbelt (macOS)
    SeatbeltUnprintable = "NC0901", Error, "a path or glob that reaches the Seatbelt profile holds a character SBPL cannot carry";
    SeatbeltBudget = "NC0902", Error, "a ring's Seatbelt profile exceeds 65,535 bytes";
    SeatbeltGlob = "NC0903", Error, "a deny glob cannot be written as a Seatbelt regular expression";
    SeatbeltCoarse = "NC0904", Warning, "on macOS a rule's rights are enforced in coarser groups, more strictly than written";
    SeatbeltTruncate = "NC0905", Warning, "on macOS `truncate` cannot be withheld where `write_file` is granted";
    SeatbeltRefer = "NC0906", Warning, "on macOS `refer` cannot be withheld where files may be created and removed";
    SeatbeltRename = "NC0907", Warning, "on macOS a denied path and the directories above it cannot be removed or renamed";
    // backend limits
    SeccompTooLong = "NC1001", Error, "a ring's seccomp filter is longer than the kernel's limit of 4096 instructions";
}

/// The system whose enforcement a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Linux,
    Macos,
}

impl Code {
    /// The system a warning is about, for a code that speaks of one system's enforcement
    /// only: such a warning is silent when the artifact is not compiled for that system.
    pub fn system(self) -> Option<System> {
        match self {
            Code::SyscallOneArch
            | Code::DenyInsideAllow
            | Code::DenyGlobPartial
            | Code::SignalsSelfWithFork
            | Code::ExecuteWithoutRead => Some(System::Linux),
            Code::SeatbeltCoarse
            | Code::SeatbeltTruncate
            | Code::SeatbeltRefer
            | Code::SeatbeltRename => Some(System::Macos),
            _ => None,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn and_list<T: fmt::Display>(items: &[T]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(ToString::to_string).collect();
            format!("{} and {last}", init.join(", "))
        }
    }
}

/// `1 warning`, `2 warnings`: a count with its noun, singular or plural.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Findings made ring by ring, merged: the same finding (code, place and words) in several
/// rings is one diagnostic that names them all. Each message is written without its ring;
/// ` in ring 2` or ` in rings 1 and 2` is added to it. The order is that of first finding.
pub fn merge_rings(found: Vec<(u8, Diagnostic)>) -> Vec<Diagnostic> {
    let mut merged: Vec<(Vec<u8>, Diagnostic)> = Vec::new();
    for (level, d) in found {
        let same = merged.iter_mut().find(|(_, m)| {
            (m.code, m.span, &m.message, &m.label, &m.help)
                == (d.code, d.span, &d.message, &d.label, &d.help)
        });
        match same {
            Some((levels, m)) => {
                if !levels.contains(&level) {
                    levels.push(level);
                }
                for related in d.related {
                    if !m.related.contains(&related) {
                        m.related.push(related);
                    }
                }
            }
            None => merged.push((vec![level], d)),
        }
    }
    merged
        .into_iter()
        .map(|(mut levels, mut d)| {
            levels.sort_unstable();
            let rings = match levels.as_slice() {
                [one] => format!("ring {one}"),
                _ => format!("rings {}", and_list(&levels)),
            };
            d.message = format!("{} in {rings}", d.message);
            d
        })
        .collect()
}

/// One finding, pointing into the policy source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// Lower case; user input in backticks.
    pub message: String,
    pub span: Option<Span>,
    /// Text under the primary span.
    pub label: Option<String>,
    pub help: Option<String>,
    /// Further places that explain the finding (e.g. the ring that denies).
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn new(code: Code, span: impl Into<Option<Span>>, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.default_severity(),
            message: message.into(),
            span: span.into(),
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn related(mut self, span: Span, text: impl Into<String>) -> Self {
        self.related.push((span, text.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The diagnostics of one run, in the order they were found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Raises every warning to an error (`--deny-warnings`).
    pub fn deny_warnings(&mut self) {
        for d in &mut self.0 {
            d.severity = Severity::Error;
        }
    }

    /// Takes out the warnings of the given codes (`settings.accept`) and returns them.
    pub fn take_accepted(&mut self, codes: &[Code]) -> Vec<Diagnostic> {
        let (accepted, kept) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|d| !d.is_error() && codes.contains(&d.code));
        self.0 = kept;
        accepted
    }

    /// Keeps the diagnostics for which `keep` holds.
    pub fn retain(&mut self, keep: impl FnMut(&Diagnostic) -> bool) {
        self.0.retain(keep);
    }

    /// Raises the warnings of the given codes to errors.
    pub fn raise(&mut self, codes: &[Code]) {
        for d in &mut self.0 {
            if codes.contains(&d.code) {
                d.severity = Severity::Error;
            }
        }
    }

    /// Sorts by position, then code, so output is stable whatever order the checks ran in.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (a.span.map(|s| s.offset), a.code, &a.message).cmp(&(
                b.span.map(|s| s.offset),
                b.code,
                &b.message,
            ))
        });
        self.0.dedup();
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A diagnostic bound to its source, ready for miette to render.
#[derive(Debug)]
pub struct Report<'a> {
    pub diagnostic: &'a Diagnostic,
    pub source: &'a crate::source::Quoted<'a>,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Warning => miette::Severity::Warning,
            Severity::Error => miette::Severity::Error,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diagnostic
            .span
            .map(|_| self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diagnostic.span?;
        let primary = LabeledSpan::new_primary_with_span(self.diagnostic.label.clone(), span);
        let related = self
            .diagnostic
            .related
            .iter()
            .map(|(span, text)| LabeledSpan::new_with_span(Some(text.clone()), *span));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Renders diagnostics for people: miette's graphical handler, without colour when asked.
pub fn render(
    diagnostics: &[Diagnostic],
    name: &str,
    text: &str,
    color: bool,
    width: usize,
) -> String {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let mut out = String::new();
    // A policy is untrusted input: its text, and the parts of it quoted in messages, must not
    // reach the terminal as escape sequences.
    let text = &terminal_safe_source(text);
    let name = &terminal_safe(name);
    let quoted = crate::source::Quoted::new(name, text);
    for diagnostic in diagnostics {
        let safe = Diagnostic {
            message: terminal_safe(&diagnostic.message),
            label: diagnostic.label.as_deref().map(terminal_safe),
            help: diagnostic.help.as_deref().map(terminal_safe),
            related: diagnostic
                .related
                .iter()
                .map(|(s, t)| (*s, terminal_safe(t)))
                .collect(),
            ..diagnostic.clone()
        };
        let shown;
        let diagnostic = match too_wide_for_a_snippet(&safe, text) {
            Some(place) => {
                shown = without_snippet(&safe, place);
                &shown
            }
            None => &safe,
        };
        let report = Report {
            diagnostic,
            source: &quoted,
        };
        // Writing into a String cannot fail; a formatter error would only cut the text short.
        let _ = handler.render_report(&mut out, &report);
    }
    out
}

/// Unicode's bidirectional formatting characters: a terminal reorders the text around them,
/// so a line can show other than what it holds (a path that reads as another: "Trojan
/// Source", CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Text with control characters (other than newline) and bidirectional formatting characters
/// shown as `\u{..}` escapes.
pub fn terminal_safe(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        if (c.is_control() && c != '\n') || is_bidi_control(c) {
            safe.extend(c.escape_unicode());
        } else {
            safe.push(c);
        }
    }
    safe
}

/// Source text with each control character (other than newline and tab) and each
/// bidirectional formatting character replaced by a stand-in of the same length in bytes, so
/// spans still point at the same places.
fn terminal_safe_source(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_control() && c.len_utf8() == 1 => '?',
            // C1 controls and U+061C are 2 bytes in UTF-8, as is `¿`; the other bidirectional
            // characters are 3, as is U+FFFD.
            c if (c.is_control() || is_bidi_control(c)) && c.len_utf8() == 2 => '\u{bf}',
            c if is_bidi_control(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Furthest byte column a snippet is drawn for. miette pads its underlines with a format width,
/// which panics past `u16::MAX` columns (a tab counts four): a policy with a very long line
/// would crash `nonoc check`. Such a snippet would be unreadable anyway.
const MAX_SNIPPET_COLUMN: usize = 10_000;

/// The 1-based line and byte column of the primary span when a span starts or ends too far
/// right for a snippet.
fn too_wide_for_a_snippet(diagnostic: &Diagnostic, text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let before = |offset: usize| bytes.get(..offset.min(bytes.len())).unwrap_or_default();
    let column = |offset: usize| {
        let before = before(offset);
        before.len()
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1
    };
    let wide = diagnostic
        .span
        .iter()
        .chain(diagnostic.related.iter().map(|(s, _)| s))
        .any(|s| {
            column(s.offset) > MAX_SNIPPET_COLUMN
                || column(s.offset.saturating_add(s.len)) > MAX_SNIPPET_COLUMN
        });
    wide.then(|| {
        let offset = diagnostic.span.map_or(0, |s| s.offset);
        let line = before(offset).iter().filter(|&&b| b == b'\n').count() + 1;
        (line, column(offset))
    })
}

/// The diagnostic with its place in the message instead of a snippet.
fn without_snippet(diagnostic: &Diagnostic, (line, column): (usize, usize)) -> Diagnostic {
    let message = match diagnostic.span {
        Some(_) => format!(
            "{} (line {line}, byte column {column}; too long a line to show)",
            diagnostic.message
        ),
        None => diagnostic.message.clone(),
    };
    Diagnostic {
        message,
        span: None,
        label: None,
        related: Vec::new(),
        ..diagnostic.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_never_passes_escape_sequences_through() {
        let text = "apiVersion: nonoc.dev/v1\nkind: \"\u{1b}]0;pwned\u{7}\u{9b}2J\"\n";
        let d = Diagnostic::new(
            Code::Kind,
            Span::new(31, 20),
            "unsupported kind `\u{1b}[2J`",
        )
        .help("x\u{1b}y");
        let out = render(&[d], "p\u{1b}.yaml", text, false, 100);
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(!out.contains('\u{7}'));
        assert!(!out.contains('\u{9b}'));
        assert!(out.contains("\\u{1b}"));
    }

    #[test]
    fn rendering_never_passes_bidirectional_controls_through() {
        let bidi = [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}',
            '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ];
        for c in bidi {
            let path = format!("/etc/{c}hsab.");
            let text = format!("apiVersion: nonoc.dev/v1\nkind: \"{path}\"\nx: 1\n");
            let start = text.find('"').unwrap();
            let d = Diagnostic::new(
                Code::Kind,
                Span::new(start, path.len() + 2),
                format!("unsupported kind `{path}`"),
            )
            .label(format!("here: {path}"))
            .help(format!("not {path}"));
            let out = render(&[d], &format!("p{c}.yaml"), &text, false, 100);
            assert!(
                !out.contains(c),
                "U+{:04X} passed through: {out}",
                u32::from(c)
            );
            assert!(out.contains(&format!("{}", c.escape_unicode())), "{out}");
            // The snippet still underlines the whole quoted value.
            assert_eq!(terminal_safe_source(&text).len(), text.len());
        }
        assert_eq!(terminal_safe("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(terminal_safe("é\u{200d}"), "é\u{200d}");
    }
}
