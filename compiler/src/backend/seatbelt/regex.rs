//! Deny globs as anchored regular expressions.
//!
//! `decide` matches a glob with globset (`literal_separator`: `*` and `?` never match `/`)
//! against a path and each of its ancestors. The profile says the same with one regular
//! expression per glob: `^` + the glob's path + `(/.*)?$` (the match or anything below it).
//!
//! The glob is parsed here, component by component, into a closed subset that means the same
//! to globset and to a POSIX-style matcher working on bytes (AppleMatch, as far as public
//! evidence goes): literal text (regex metacharacters escaped with `\`), `*` and `?` within a
//! name, `**` as a whole component, `{a,b}` alternatives (expanded, then written out as one
//! group), and character classes of ASCII letters, digits and a few punctuation marks. Only capturing groups are printed (AppleMatch
//! ignores `(?:...)`), and no class shorthand, lazy quantifier or counted repetition. Anything
//! else is refused with the reason ([`Unsupported`]), never approximated: globset's own
//! quirks (empty alternatives are dropped, `[/]` matches nothing) would otherwise turn into
//! differences between `decide` and the profile.

/// Why a glob cannot be written as an SBPL regular expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// Most alternatives `{...}` may expand a glob to.
pub const MAX_ALTERNATIVES: usize = 64;

/// The regular expression for the part of a glob after its variable (or the whole glob when
/// it has none): text that starts with `/` or is empty. The result goes after `^` and the
/// variable's quoted value, and ends with `$`.
pub fn glob_body(rest: &str) -> Result<String, Unsupported> {
    if rest.is_empty() {
        return Ok("(/.*)?$".to_owned());
    }
    let mut cores: Vec<String> = Vec::new();
    for alternative in expand(rest)? {
        let core = path_regex(&alternative)?;
        if !cores.contains(&core) {
            cores.push(core);
        }
    }
    let body = match cores.as_slice() {
        [one] => one.clone(),
        _ => format!("({})", cores.join("|")),
    };
    Ok(format!("{body}(/.*)?$"))
}

/// A glob without braces, starting with `/`, as a regex without anchors.
fn path_regex(glob: &str) -> Result<String, Unsupported> {
    let Some(rest) = glob.strip_prefix('/') else {
        return Err(Unsupported("the glob does not start with `/`".to_owned()));
    };
    let mut components = split_components(rest)?;
    components.dedup_by(|a, b| *a == "**" && *b == "**"); // `**/**` is one `**`
    let last = components.len() - 1;
    let mut out = String::new();
    let mut after_recursive = false;
    for (i, component) in components.iter().enumerate() {
        if *component == "**" {
            if i == last {
                out.push_str("/.*");
            } else {
                out.push_str("(/|/.*/)");
            }
            after_recursive = true;
            continue;
        }
        if !after_recursive {
            out.push('/');
        }
        after_recursive = false;
        out.push_str(&pattern_regex(component)?);
    }
    Ok(out)
}

/// Expands `{a,b}` (nested too) into the globs it stands for. An empty alternative is
/// refused (globset drops it, so the glob would not match what it seems to), and so is `**`
/// inside braces (globset takes it for `*` there, and for `**` after the expansion).
fn expand(glob: &str) -> Result<Vec<String>, Unsupported> {
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '[' => i = class_end(&chars, i)? + 1,
            '}' => return Err(Unsupported("an unopened `}`".to_owned())),
            '{' => {
                let (end, alternatives) = alternatives(&chars, i)?;
                let prefix: String = chars[..i].iter().collect();
                let suffix: String = chars[end + 1..].iter().collect();
                let mut out = Vec::new();
                for alternative in alternatives {
                    if alternative.is_empty() {
                        return Err(Unsupported(
                            "an empty alternative in `{...}` (globset drops it, so it would not match what it seems to)".to_owned(),
                        ));
                    }
                    if alternative.contains("**") {
                        return Err(Unsupported("`**` inside `{...}`".to_owned()));
                    }
                    out.extend(expand(&format!("{prefix}{alternative}{suffix}"))?);
                    if out.len() > MAX_ALTERNATIVES {
                        return Err(Unsupported(format!(
                            "more than {MAX_ALTERNATIVES} alternatives"
                        )));
                    }
                }
                return Ok(out);
            }
            _ => i += 1,
        }
    }
    Ok(vec![glob.to_owned()])
}

/// The `}` that closes the `{` at `open`, and the alternatives between, split on the commas
/// outside nested braces, classes and escapes (nested braces are kept for the next round).
fn alternatives(chars: &[char], open: usize) -> Result<(usize, Vec<String>), Unsupported> {
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    let mut i = open + 1;
    while i < chars.len() {
        let c = chars[i];
        let push = |parts: &mut Vec<String>, text: &[char]| {
            if let Some(p) = parts.last_mut() {
                p.extend(text);
            }
        };
        match c {
            '\\' => {
                let end = (i + 2).min(chars.len());
                push(&mut parts, &chars[i..end]);
                i = end;
                continue;
            }
            '[' => {
                let end = class_end(chars, i)?;
                push(&mut parts, &chars[i..=end]);
                i = end + 1;
                continue;
            }
            '{' => depth += 1,
            '}' if depth == 0 => return Ok((i, parts)),
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                i += 1;
                continue;
            }
            _ => {}
        }
        push(&mut parts, &chars[i..=i]);
        i += 1;
    }
    Err(Unsupported("an unclosed `{`".to_owned()))
}

/// Splits on `/`; a `/` inside a class, or after `\`, is refused.
fn split_components(text: &str) -> Result<Vec<&str>, Unsupported> {
    let mut components = Vec::new();
    let mut start = 0;
    let mut in_class = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            if c == '/' {
                return Err(Unsupported("an escaped `/`".to_owned()));
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' if !in_class => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '/' if in_class => {
                return Err(Unsupported("a `/` inside a character class".to_owned()));
            }
            '/' => {
                components.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if escaped {
        return Err(Unsupported("a dangling `\\`".to_owned()));
    }
    components.push(&text[start..]);
    Ok(components)
}

/// The index of the `]` that closes the class opening at `open`.
fn class_end(chars: &[char], open: usize) -> Result<usize, Unsupported> {
    let mut first = open + 1;
    if matches!(chars.get(first), Some('!' | '^')) {
        first += 1;
    }
    if chars.get(first) == Some(&']') {
        return Err(Unsupported("a `]` inside a character class".to_owned()));
    }
    chars[first..]
        .iter()
        .position(|c| *c == ']')
        .map(|p| first + p)
        .ok_or_else(|| Unsupported("an unclosed `[`".to_owned()))
}

/// Text with `*`, `?`, `[...]` and `\` escapes, without braces or `/`.
fn pattern_regex(text: &str) -> Result<String, Unsupported> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let c = *chars
                    .get(i + 1)
                    .ok_or_else(|| Unsupported("a dangling `\\`".to_owned()))?;
                push_literal(c, &mut out);
                i += 2;
            }
            '*' => {
                out.push_str("[^/]*");
                i += 1;
            }
            '?' => {
                out.push_str("[^/]");
                i += 1;
            }
            '[' => {
                let end = class_end(&chars, i)?;
                out.push_str(&class_regex(&chars[i + 1..end])?);
                i = end + 1;
            }
            ']' => {
                return Err(Unsupported("a `]` outside a character class".to_owned()));
            }
            c => {
                push_literal(c, &mut out);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Characters a class may hold besides ASCII letters and digits.
const CLASS_PUNCTUATION: &str = "._+~@%,:=";

/// `[...]` (without the brackets) as a regex class; negated classes never match `/`.
fn class_regex(inner: &[char]) -> Result<String, Unsupported> {
    let (negated, items) = match inner.first() {
        Some('!' | '^') => (true, &inner[1..]),
        _ => (false, inner),
    };
    if items.is_empty() {
        return Err(Unsupported("an empty character class".to_owned()));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || CLASS_PUNCTUATION.contains(c);
    let mut body = String::new();
    let mut dash = false;
    let mut k = 0;
    while k < items.len() {
        let c = items[k];
        if c == '-' {
            if k == 0 || k == items.len() - 1 {
                dash = true;
                k += 1;
                continue;
            }
            return Err(Unsupported(
                "a `-` inside a character class that is not a range between letters or digits"
                    .to_owned(),
            ));
        }
        if !ok(c) {
            return Err(Unsupported(format!(
                "`{c}` in a character class (classes may hold ASCII letters, digits, ranges and `{CLASS_PUNCTUATION}-`)"
            )));
        }
        if items.get(k + 1) == Some(&'-') && k + 2 < items.len() {
            let hi = items[k + 2];
            let same_kind = (c.is_ascii_digit() && hi.is_ascii_digit())
                || (c.is_ascii_lowercase() && hi.is_ascii_lowercase())
                || (c.is_ascii_uppercase() && hi.is_ascii_uppercase());
            if !same_kind || hi < c {
                return Err(Unsupported(format!(
                    "the range `{c}-{hi}` (ranges go upwards between two digits or two letters of one case)"
                )));
            }
            body.push(c);
            body.push('-');
            body.push(hi);
            k += 3;
            continue;
        }
        body.push(c);
        k += 1;
    }
    if dash {
        body.push('-');
    }
    Ok(if negated {
        format!("[^/{body}]")
    } else {
        format!("[{body}]")
    })
}

/// A character that matches itself: regex metacharacters get a `\`.
fn push_literal(c: char, out: &mut String) {
    if ".^$|?*+()[]{}\\".contains(c) {
        out.push('\\');
    }
    out.push(c);
}

/// Literal text as a regex that matches only itself.
pub fn literal(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        push_literal(c, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn matches(glob: &str, path: &str) -> bool {
        let glob = globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .unwrap()
            .compile_matcher();
        crate::ir::ancestors(path).any(|p| glob.is_match(p))
    }

    fn regex_matches(glob: &str, path: &str) -> bool {
        let body = glob_body(glob).unwrap();
        let re = ::regex::bytes::Regex::new(&format!("(?-u)^{body}")).unwrap();
        re.is_match(path.as_bytes())
    }

    #[test]
    fn examples() {
        assert_eq!(glob_body("/a/**").unwrap(), "/a/.*(/.*)?$");
        assert_eq!(
            glob_body("/**/.env*").unwrap(),
            "(/|/.*/)\\.env[^/]*(/.*)?$"
        );
        assert_eq!(
            glob_body("/etc/{shadow,gshadow}").unwrap(),
            "(/etc/shadow|/etc/gshadow)(/.*)?$"
        );
        assert_eq!(
            glob_body("/t/{d0,d1/d0}/f*").unwrap(),
            "(/t/d0/f[^/]*|/t/d1/d0/f[^/]*)(/.*)?$"
        );
        assert_eq!(
            glob_body("/a/[!a-c-]x?").unwrap(),
            "/a/[^/a-c-]x[^/](/.*)?$"
        );
        assert_eq!(glob_body("").unwrap(), "(/.*)?$");
        for bad in [
            "/a/{b,}",
            "/a/{x,{b,}}",
            "/a/[/]",
            "/a/[\\]]",
            "/a/[é]",
            "/a/{**,c}/d",
            "/a/[^]",
            "/a/[a-]b-c]",
        ] {
            assert!(glob_body(bad).is_err(), "{bad}");
        }
    }

    /// Paths near a glob: the glob with its wildcards filled in several ways, and changed.
    fn near(glob: &str) -> Vec<String> {
        let fills: [(&str, &str, &str); 3] = [("", "x", "a"), ("ab", "é", "b/c"), ("a.b", "-", "")];
        let mut out = Vec::new();
        for (star, one, deep) in fills {
            let mut p = String::new();
            let mut chars = glob.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '*' if chars.peek() == Some(&'*') => {
                        chars.next();
                        p.push_str(deep);
                    }
                    '*' => p.push_str(star),
                    '?' => p.push_str(one),
                    '[' => {
                        let class: String = chars.by_ref().take_while(|c| *c != ']').collect();
                        p.push(
                            class
                                .chars()
                                .find(|c| c.is_ascii_alphanumeric())
                                .unwrap_or('z'),
                        );
                    }
                    '{' => {
                        let alts: String = chars.by_ref().take_while(|c| *c != '}').collect();
                        p.push_str(alts.split(',').next_back().unwrap_or(""));
                    }
                    '\\' => {
                        if let Some(n) = chars.next() {
                            p.push(n);
                        }
                    }
                    c => p.push(c),
                }
            }
            let p = p.replace("//", "/");
            let p = if p.len() > 1 {
                p.trim_end_matches('/').to_owned()
            } else {
                p
            };
            for q in [
                p.clone(),
                format!("{p}/k"),
                format!("{p}x"),
                p.replacen('a', "b", 1),
            ] {
                if q.starts_with('/') && !q.contains("//") {
                    out.push(q);
                }
            }
            if let Some((parent, _)) = p.rsplit_once('/') {
                out.push(if parent.is_empty() {
                    "/".to_owned()
                } else {
                    parent.to_owned()
                });
            }
        }
        out
    }

    fn component() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-c.]{1,3}",
            Just("*".to_owned()),
            Just("?".to_owned()),
            Just("[ab]".to_owned()),
            Just("[!a]".to_owned()),
            Just("[a-c-]".to_owned()),
            Just("{a,bc}".to_owned()),
            Just("{a*,b?}".to_owned()),
            Just("{a,b/c}".to_owned()),
            Just("{x,{y,z}w}".to_owned()),
            Just("\\*".to_owned()),
            Just("(x)".to_owned()),
            Just("é".to_owned()),
            Just("$^+|".to_owned()),
        ];
        prop_oneof![
            4 => proptest::collection::vec(piece, 1..3).prop_map(|v| v.concat()),
            1 => Just("**".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

        /// The regex matches exactly the paths globset matches (with ancestors, as `decide`).
        #[test]
        fn agrees_with_globset(components in proptest::collection::vec(component(), 1..5)) {
            let glob = format!("/{}", components.join("/"));
            prop_assume!(globset::GlobBuilder::new(&glob).literal_separator(true).build().is_ok());
            // The only construct the generator makes that the subset refuses: too many
            // alternatives.
            if let Err(Unsupported(why)) = glob_body(&glob) {
                prop_assert!(why.starts_with("more than"), "{}: {}", glob, why);
                return Ok(());
            }
            for path in near(&glob) {
                prop_assert_eq!(
                    regex_matches(&glob, &path),
                    matches(&glob, &path),
                    "glob {} path {} regex {}", glob, path, glob_body(&glob).unwrap()
                );
            }
        }
    }
}
