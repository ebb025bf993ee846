//! Parsing a deny glob (globset syntax) into the runtime's component form: a literal root and,
//! for each brace alternative, the components below it.

use nonoc_runtime::artifact::{Component, Glob};

use crate::ir::GlobTemplate;

/// Most brace alternatives one glob may expand to.
pub const MAX_ALTERNATIVES: usize = 256;

/// Parses a glob template; `Err` explains why it cannot be lowered.
pub fn parse(glob: &GlobTemplate) -> Result<Glob, String> {
    let root = glob.literal_root();
    let text = glob.as_str();
    let rest = text.strip_prefix(root.as_str()).unwrap_or(text);
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let alternatives = expand_braces(rest)?
        .into_iter()
        .map(|alt| {
            if alt.is_empty() {
                Vec::new()
            } else {
                alt.split('/').map(component).collect()
            }
        })
        .collect();
    Ok(Glob {
        text: text.to_owned(),
        root: root.as_str().to_owned(),
        alternatives,
    })
}

fn component(text: &str) -> Component {
    if text == "**" {
        return Component::AnyDepth;
    }
    let mut literal = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' | '[' => return Component::Pattern(text.replace("**", "*")),
            '\\' => {
                if let Some(next) = chars.next() {
                    literal.push(next);
                }
            }
            c => literal.push(c),
        }
    }
    Component::Literal(literal)
}

/// Expands `{a,b}` alternations (nested allowed); `\{` is literal.
fn expand_braces(text: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut depth = 0usize;
    let mut open = None;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' => {
                // Skip a character class: braces inside it are literal.
                if let Some(end) = chars[i + 1..].iter().position(|c| *c == ']') {
                    i += end + 1;
                }
            }
            '{' => {
                if depth == 0 {
                    open = Some(i);
                }
                depth += 1;
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let start = open.unwrap_or(0);
                    let prefix: String = chars[..start].iter().collect();
                    let inner: String = chars[start + 1..i].iter().collect();
                    let suffix: String = chars[i + 1..].iter().collect();
                    let mut out = Vec::new();
                    for choice in split_top(&inner) {
                        for tail in expand_braces(&format!("{choice}{suffix}"))? {
                            out.push(format!("{prefix}{tail}"));
                            if out.len() > MAX_ALTERNATIVES {
                                return Err(format!(
                                    "more than {MAX_ALTERNATIVES} brace alternatives"
                                ));
                            }
                        }
                    }
                    return Ok(out);
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth > 0 {
        return Err("unclosed `{`".to_owned());
    }
    Ok(vec![text.to_owned()])
}

/// Splits on commas not nested in braces.
fn split_top(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                current.push(c);
            }
            '{' => {
                depth += 1;
                current.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Glob {
        parse(&GlobTemplate::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn roots_and_components() {
        let g = p("${ws}/**/.env*");
        assert_eq!(g.root, "${ws}");
        assert_eq!(
            g.alternatives,
            vec![vec![
                Component::AnyDepth,
                Component::Pattern(".env*".into())
            ]]
        );
        let g = p("/home/*/.ssh");
        assert_eq!(g.root, "/home");
        assert_eq!(
            g.alternatives,
            vec![vec![
                Component::Pattern("*".into()),
                Component::Literal(".ssh".into())
            ]]
        );
        // An escaped character is itself, as globset reads it: `/x/a\b/*` matches under
        // `/x/ab`, so the root stops before the escape and the component is unescaped.
        let g = p("/x/a\\b/*");
        assert_eq!(g.root, "/x");
        assert_eq!(
            g.alternatives,
            vec![vec![
                Component::Literal("ab".into()),
                Component::Pattern("*".into())
            ]]
        );
        let matcher = globset::Glob::new("/x/a\\b/*").unwrap().compile_matcher();
        assert!(matcher.is_match("/x/ab/k"));
    }

    #[test]
    fn braces_expand() {
        let g = p("/etc/{shadow,gshadow}");
        assert_eq!(g.root, "/etc");
        assert_eq!(g.alternatives.len(), 2);
        let g = p("/a/{b,c{d,e}}/x");
        let texts: Vec<String> = g
            .alternatives
            .iter()
            .map(|alt| {
                alt.iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        assert_eq!(texts.len(), 3);
    }
}
