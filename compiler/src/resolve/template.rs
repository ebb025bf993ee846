//! Path and glob templates: text that may start with one `${variable}`.
//!
//! Variables are bound at apply time to absolute normalized paths, so a reference may only
//! stand at the very start of a path (`${workspace}` or `${workspace}/build`); anywhere else
//! it would make a non-normalized path. The literal rest is checked here, at compile time.

use serde::Serialize;

use nonoc_runtime::bind::{BoundVariables, MAX_PATH_BYTES};

/// Why a path text is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// `${` without `}`, a bad name, or a reference not at the start.
    MalformedVariable(String),
    NotAbsolute,
    NotNormalized(String),
    ControlChar,
    TooLong(usize),
}

/// A filesystem path, possibly starting with a variable. Serializes as its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PathTemplate(String);

impl PathTemplate {
    /// Checks the syntax of a path template; whether the variable is declared is the
    /// caller's business.
    pub fn parse(text: &str) -> Result<PathTemplate, PathError> {
        let (_, rest) = split_variable(text)?;
        check_literal(text, rest, false)?;
        Ok(PathTemplate(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The variable the path starts with, if any.
    pub fn variable(&self) -> Option<&str> {
        split_variable(&self.0).ok().and_then(|(v, _)| v)
    }

    /// Substitutes the variable. `None` when the variable is unbound.
    pub fn expand(&self, bindings: &BoundVariables) -> Option<String> {
        expand(&self.0, bindings, |v| v.to_owned())
    }

    /// Whether `self` lies at or under `other`, judged on the templates (same variable, literal
    /// prefix by whole components).
    pub fn is_within(&self, other: &PathTemplate) -> bool {
        if other.0 == "/" {
            return true; // every path, a variable's too, is under the root
        }
        match (split_variable(&self.0), split_variable(&other.0)) {
            (Ok((va, ra)), Ok((vb, rb))) => va == vb && path_within(ra, rb, va.is_some()),
            _ => false,
        }
    }
}

/// A deny glob (globset syntax), possibly starting with a variable. Serializes as its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct GlobTemplate(String);

impl GlobTemplate {
    pub fn parse(text: &str) -> Result<GlobTemplate, PathError> {
        let (_, rest) = split_variable(text)?;
        check_literal(text, rest, true)?;
        Ok(GlobTemplate(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn variable(&self) -> Option<&str> {
        split_variable(&self.0).ok().and_then(|(v, _)| v)
    }

    /// The glob with the variable's value escaped, so a bound value can never add wildcards.
    pub fn expand(&self, bindings: &BoundVariables) -> Option<String> {
        expand(&self.0, bindings, escape_glob)
    }

    /// The longest leading part without glob characters, as a path template: the directory
    /// every match lies under. A component with a backslash ends it too: in a glob `\b`
    /// stands for `b` (globset's escaping), so `/a\b/*` matches under `/ab`, not under a
    /// directory named `a\b`; the components after the root are unescaped where they are
    /// parsed.
    pub fn literal_root(&self) -> PathTemplate {
        let mut root = String::new();
        for (i, component) in self.0.split('/').enumerate() {
            if has_glob_chars(component) || component.contains('\\') {
                break;
            }
            if i > 0 {
                root.push('/');
            }
            root.push_str(component);
        }
        if root.is_empty() {
            root.push('/');
        }
        PathTemplate(root)
    }
}

/// Escapes text for globset so that it matches only itself. `globset::escape` leaves `\`
/// alone, but with globset's Unix default (`backslash_escape`) a backslash escapes the next
/// character: a value `/w\x` would match `/wx` and never itself, and `/a\*` would turn the
/// escaped `*` back into a wildcard. Inside a class a backslash is literal, so it becomes `[\]`.
pub fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '?' | '*' | '[' | ']' | '{' | '}' | '\\') {
            escaped.push('[');
            escaped.push(c);
            escaped.push(']');
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Whether text holds a character with meaning in globset syntax (a leading `${name}` is a
/// variable reference, not a glob alternation).
pub fn has_glob_chars(text: &str) -> bool {
    let rest = match split_variable(text) {
        Ok((Some(_), rest)) => rest,
        _ => text,
    };
    rest.contains(['*', '?', '[', ']', '{', '}'])
}

/// Whether the path `inner` lies at or under `outer` (both literal, absolute or a variable rest).
pub fn path_within(inner: &str, outer: &str, after_variable: bool) -> bool {
    if outer == inner || (!after_variable && outer == "/") || (after_variable && outer.is_empty()) {
        return true;
    }
    inner
        .strip_prefix(outer)
        .is_some_and(|tail| tail.starts_with('/'))
}

fn expand(
    text: &str,
    bindings: &BoundVariables,
    escape: impl Fn(&str) -> String,
) -> Option<String> {
    match split_variable(text).ok()? {
        (None, _) => Some(text.to_owned()),
        (Some(name), rest) => {
            let value = bindings.get(name)?;
            let value = if value == "/" && !rest.is_empty() {
                ""
            } else {
                value
            };
            Some(format!("{}{rest}", escape(value)))
        }
    }
}

/// Splits `${name}rest` into the name and the rest; text without a variable has none.
fn split_variable(text: &str) -> Result<(Option<&str>, &str), PathError> {
    let Some(after) = text.strip_prefix("${") else {
        if text.contains("${") {
            return Err(PathError::MalformedVariable(
                "a variable may only stand at the start of a path".to_owned(),
            ));
        }
        return Ok((None, text));
    };
    let Some(end) = after.find('}') else {
        return Err(PathError::MalformedVariable(
            "`${` is not closed by `}`".to_owned(),
        ));
    };
    let (name, rest) = (&after[..end], &after[end + 1..]);
    if !is_variable_name(name) {
        return Err(PathError::MalformedVariable(format!(
            "`{name}` is not a variable name (letters, digits and `_`, not starting with a digit)"
        )));
    }
    if rest.contains("${") {
        return Err(PathError::MalformedVariable(
            "a variable may only stand at the start of a path".to_owned(),
        ));
    }
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err(PathError::MalformedVariable(format!(
            "`${{{name}}}` must be followed by `/` or end the path"
        )));
    }
    Ok((Some(name), rest))
}

pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks the literal part of a path: absolute, normalized, no control characters, bounded.
fn check_literal(whole: &str, rest: &str, glob: bool) -> Result<(), PathError> {
    if whole.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong(whole.len()));
    }
    if whole.chars().any(char::is_control) {
        return Err(PathError::ControlChar);
    }
    let starts_with_variable = whole.starts_with("${");
    if !starts_with_variable && !rest.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if rest.is_empty() || rest == "/" && !starts_with_variable {
        return Ok(());
    }
    for component in rest.split('/').skip(1) {
        let bad = match component {
            "" => Some("an empty component (`//` or a trailing `/`)"),
            "." => Some("a `.` component"),
            ".." => Some("a `..` component"),
            _ if glob => None,
            _ => None,
        };
        if let Some(what) = bad {
            return Err(PathError::NotNormalized(what.to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_absolute_and_variable_paths() {
        for ok in [
            "/",
            "/usr",
            "/usr/lib",
            "${ws}",
            "${ws}/build",
            "${_x1}/a b",
        ] {
            assert!(PathTemplate::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_paths() {
        assert_eq!(PathTemplate::parse("usr"), Err(PathError::NotAbsolute));
        assert!(matches!(
            PathTemplate::parse("/a/../b"),
            Err(PathError::NotNormalized(_))
        ));
        assert!(matches!(
            PathTemplate::parse("/a/./b"),
            Err(PathError::NotNormalized(_))
        ));
        assert!(matches!(
            PathTemplate::parse("/a//b"),
            Err(PathError::NotNormalized(_))
        ));
        assert!(matches!(
            PathTemplate::parse("/a/"),
            Err(PathError::NotNormalized(_))
        ));
        assert!(matches!(
            PathTemplate::parse("${ws}/"),
            Err(PathError::NotNormalized(_))
        ));
        assert_eq!(PathTemplate::parse("/a\u{0}b"), Err(PathError::ControlChar));
        assert!(matches!(
            PathTemplate::parse("/a/${ws}"),
            Err(PathError::MalformedVariable(_))
        ));
        assert!(matches!(
            PathTemplate::parse("${ws"),
            Err(PathError::MalformedVariable(_))
        ));
        assert!(matches!(
            PathTemplate::parse("${ws}x"),
            Err(PathError::MalformedVariable(_))
        ));
        assert!(matches!(
            PathTemplate::parse("${1x}"),
            Err(PathError::MalformedVariable(_))
        ));
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        assert!(matches!(
            PathTemplate::parse(&long),
            Err(PathError::TooLong(_))
        ));
    }

    #[test]
    fn expands_without_doubling_the_root() {
        let b: BoundVariables = [("r", "/"), ("ws", "/app/w*")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into_iter()
            .collect();
        assert_eq!(
            PathTemplate::parse("${r}/x").unwrap().expand(&b).as_deref(),
            Some("/x")
        );
        assert_eq!(
            PathTemplate::parse("${r}").unwrap().expand(&b).as_deref(),
            Some("/")
        );
        assert_eq!(PathTemplate::parse("${nope}").unwrap().expand(&b), None);
        let glob = GlobTemplate::parse("${ws}/**/.env").unwrap();
        assert_eq!(glob.expand(&b).as_deref(), Some("/app/w[*]/**/.env"));
    }

    #[test]
    fn within_is_by_whole_components() {
        let p = |s: &str| PathTemplate::parse(s).unwrap();
        assert!(p("/usr/lib").is_within(&p("/usr")));
        assert!(p("/usr").is_within(&p("/usr")));
        assert!(!p("/usrx").is_within(&p("/usr")));
        assert!(p("/anything").is_within(&p("/")));
        assert!(p("${ws}/a").is_within(&p("${ws}")));
        assert!(!p("${ws}/a").is_within(&p("${home}")));
        assert!(!p("/a").is_within(&p("${ws}")));
    }

    #[test]
    fn glob_roots() {
        let g = |s: &str| GlobTemplate::parse(s).unwrap().literal_root();
        assert_eq!(g("${ws}/**/.env").as_str(), "${ws}");
        assert_eq!(g("/home/*/.ssh").as_str(), "/home");
        assert_eq!(g("/**").as_str(), "/");
        // `\b` is `b` to globset: the root cannot be a directory named `a\b`.
        assert_eq!(g("/x/a\\b/*").as_str(), "/x");
    }
}
