//! Binding variables at apply time: the caller's bindings first, then the variable's
//! environment variable, then its default. Unbound means error, and nothing is applied.

use std::collections::BTreeMap;

use crate::Error;
use crate::artifact::Variable;

/// Values the caller supplies for variables (`--var NAME=VALUE`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bindings(BTreeMap<String, String>);

impl Bindings {
    /// No bindings.
    pub fn new() -> Bindings {
        Bindings::default()
    }

    /// Adds a value (builder style).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Bindings {
        self.0.insert(name.into(), value.into());
        self
    }

    /// Adds a value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// The value bound to `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The names bound.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// Every variable a ring uses, bound to a checked absolute path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bound(BTreeMap<String, String>);

impl Bound {
    /// Binds the variables `names` (and those their defaults use).
    pub fn resolve<'a>(
        names: impl IntoIterator<Item = &'a str>,
        declared: &BTreeMap<String, Variable>,
        given: &Bindings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Bound, Error> {
        let mut bound = Bound::default();
        for name in names {
            bound.bind(name, declared, given, env, 0)?;
        }
        Ok(bound)
    }

    fn bind(
        &mut self,
        name: &str,
        declared: &BTreeMap<String, Variable>,
        given: &Bindings,
        env: &dyn Fn(&str) -> Option<String>,
        depth: usize,
    ) -> Result<(), Error> {
        if self.0.contains_key(name) {
            return Ok(());
        }
        let var = declared
            .get(name)
            .ok_or_else(|| Error::Unbound(name.to_owned()))?;
        if depth > declared.len() {
            return Err(Error::Unbound(name.to_owned()));
        }
        let value = match given.get(name) {
            Some(v) => v.to_owned(),
            None => match var.env.as_deref().and_then(env) {
                Some(v) => v,
                None => match &var.default {
                    Some(default) => {
                        if let Some(inner) = variable_of(default) {
                            self.bind(inner, declared, given, env, depth + 1)?;
                        }
                        self.expand(default)?
                    }
                    None => return Err(Error::Unbound(name.to_owned())),
                },
            },
        };
        check_path(&value).map_err(|why| Error::BadValue {
            name: name.to_owned(),
            value: value.clone(),
            why,
        })?;
        self.0.insert(name.to_owned(), value);
        Ok(())
    }

    /// Substitutes a leading `${name}` in a path template.
    pub fn expand(&self, template: &str) -> Result<String, Error> {
        match variable_of(template) {
            None => Ok(template.to_owned()),
            Some(name) => {
                let value = self
                    .0
                    .get(name)
                    .ok_or_else(|| Error::Unbound(name.to_owned()))?;
                let rest = &template[name.len() + 3..];
                Ok(if value == "/" && !rest.is_empty() {
                    rest.to_owned()
                } else {
                    format!("{value}{rest}")
                })
            }
        }
    }

    /// Each variable and its value, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The variable a template starts with.
pub fn variable_of(template: &str) -> Option<&str> {
    let rest = template.strip_prefix("${")?;
    rest.find('}').map(|end| &rest[..end])
}

/// A bound value must be an absolute normalized path without control characters.
pub fn check_path(value: &str) -> Result<(), &'static str> {
    if value.len() > 4096 {
        return Err("longer than 4096 bytes");
    }
    if !value.starts_with('/') {
        return Err("not absolute");
    }
    if value.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    if value != "/"
        && value[1..]
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("not normalized (`..`, `.`, `//` or a trailing `/`)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> BTreeMap<String, Variable> {
        let mut d = BTreeMap::new();
        d.insert(
            "home".into(),
            Variable {
                env: Some("NONOC_TEST_HOME".into()),
                default: Some("/root".into()),
            },
        );
        d.insert(
            "cache".into(),
            Variable {
                env: None,
                default: Some("${home}/.cache".into()),
            },
        );
        d.insert(
            "ws".into(),
            Variable {
                env: Some("NONOC_TEST_WS".into()),
                default: None,
            },
        );
        d
    }

    #[test]
    fn caller_then_env_then_default() {
        let d = declared();
        let env = |k: &str| (k == "NONOC_TEST_HOME").then(|| "/home/u".to_owned());
        let b = Bound::resolve(["cache", "home"], &d, &Bindings::new(), &env).unwrap();
        assert_eq!(b.expand("${cache}/x").unwrap(), "/home/u/.cache/x");
        let given = Bindings::new().with("home", "/h");
        let b = Bound::resolve(["cache"], &d, &given, &env).unwrap();
        assert_eq!(b.expand("${cache}").unwrap(), "/h/.cache");
    }

    #[test]
    fn unbound_and_bad_values_fail() {
        let d = declared();
        let none = |_: &str| None;
        assert!(matches!(
            Bound::resolve(["ws"], &d, &Bindings::new(), &none),
            Err(Error::Unbound(name)) if name == "ws"
        ));
        let bad = Bindings::new().with("ws", "relative/path");
        assert!(matches!(
            Bound::resolve(["ws"], &d, &bad, &none),
            Err(Error::BadValue { .. })
        ));
        let bad = Bindings::new().with("ws", "/a/../b");
        assert!(matches!(
            Bound::resolve(["ws"], &d, &bad, &none),
            Err(Error::BadValue { .. })
        ));
    }
}
