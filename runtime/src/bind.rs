//! Binding variables at apply time: the caller's bindings first, then the variable's
//! environment variable, then its default. Unbound means error, and nothing is applied.

use std::collections::BTreeMap;
use std::ffi::OsString;

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

/// Variables bound to their values: by [`BoundVariables::bind`], each an absolute
/// normalized path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoundVariables(BTreeMap<String, String>);

impl BoundVariables {
    /// Binds the variables `names` (and those their defaults use) as the runtime does at
    /// apply time: the caller's value, then the variable's environment variable, then its
    /// default (which may start with another variable). Refuses a binding for a variable
    /// `declared` does not hold, a variable with no value, an environment value that is not
    /// UTF-8 (taking it as unset would bind the default in its place), and a value that
    /// [`check_bound_value`] refuses. `env` reads an environment variable.
    pub fn bind<'a>(
        names: impl IntoIterator<Item = &'a str>,
        declared: &BTreeMap<String, Variable>,
        given: &Bindings,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<BoundVariables, Error> {
        if let Some(name) = given.names().find(|n| !declared.contains_key(*n)) {
            return Err(Error::UndeclaredVariable(name.to_owned()));
        }
        let mut bound = BoundVariables::default();
        for name in names {
            bound.bind_one(name, declared, given, env, 0)?;
        }
        Ok(bound)
    }

    fn bind_one(
        &mut self,
        name: &str,
        declared: &BTreeMap<String, Variable>,
        given: &Bindings,
        env: &dyn Fn(&str) -> Option<OsString>,
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
        let from_env = || -> Result<Option<String>, Error> {
            let Some(raw) = var.env.as_deref().and_then(env) else {
                return Ok(None);
            };
            raw.into_string().map(Some).map_err(|raw| Error::BadValue {
                name: name.to_owned(),
                value: raw.to_string_lossy().into_owned(),
                why: "not valid UTF-8",
            })
        };
        let value = match given.get(name) {
            Some(v) => v.to_owned(),
            None => match from_env()? {
                Some(v) => v,
                None => match &var.default {
                    Some(default) => {
                        if let Some(inner) = variable_of(default) {
                            self.bind_one(inner, declared, given, env, depth + 1)?;
                        }
                        self.expand(default)?
                    }
                    None => return Err(Error::Unbound(name.to_owned())),
                },
            },
        };
        check_bound_value(&value).map_err(|why| Error::BadValue {
            name: name.to_owned(),
            value: value.clone(),
            why,
        })?;
        self.0.insert(name.to_owned(), value);
        Ok(())
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Substitutes a leading `${name}` in a path template.
    pub fn expand(&self, template: &str) -> Result<String, Error> {
        match variable_of(template) {
            None => Ok(template.to_owned()),
            Some(name) => {
                let value = self
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

/// Values set without the binder's checks: the compiler's what-ifs and tests. Nothing that
/// applies a ring takes `BoundVariables`: [`Ring::apply`](crate::Ring::apply) binds itself.
#[cfg(feature = "compiler")]
impl FromIterator<(String, String)> for BoundVariables {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(values: I) -> Self {
        BoundVariables(values.into_iter().collect())
    }
}

/// Reads a variable from the process environment: the `env` the runtime binds with.
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// The variable a template starts with.
pub fn variable_of(template: &str) -> Option<&str> {
    let rest = template.strip_prefix("${")?;
    rest.find('}').map(|end| &rest[..end])
}

/// Longest value accepted, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// A value bound to a variable must be a plain absolute normalized path: no `${` (a value is
/// never expanded again), at most [`MAX_PATH_BYTES`], no control character. `Err` says what
/// the value is instead, to follow "which is".
pub fn check_bound_value(value: &str) -> Result<(), &'static str> {
    if value.contains("${") {
        return Err("not a plain path: it has `${`");
    }
    if value.len() > MAX_PATH_BYTES {
        return Err("longer than 4096 bytes");
    }
    if value.chars().any(char::is_control) {
        return Err("not a plain path: it has a control character");
    }
    if !value.starts_with('/') {
        return Err("not absolute");
    }
    if value == "/" {
        return Ok(());
    }
    for component in value[1..].split('/') {
        match component {
            "" => return Err("not normalized: it has an empty component (`//` or a trailing `/`)"),
            "." => return Err("not normalized: it has a `.` component"),
            ".." => return Err("not normalized: it has a `..` component"),
            _ => {}
        }
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
                private_tmp: false,
            },
        );
        d.insert(
            "cache".into(),
            Variable {
                env: None,
                default: Some("${home}/.cache".into()),
                private_tmp: false,
            },
        );
        d.insert(
            "ws".into(),
            Variable {
                env: Some("NONOC_TEST_WS".into()),
                default: None,
                private_tmp: false,
            },
        );
        d
    }

    #[test]
    fn caller_then_env_then_default() {
        let d = declared();
        let env = |k: &str| (k == "NONOC_TEST_HOME").then(|| OsString::from("/home/u"));
        let b = BoundVariables::bind(["cache", "home"], &d, &Bindings::new(), &env).unwrap();
        assert_eq!(b.expand("${cache}/x").unwrap(), "/home/u/.cache/x");
        let given = Bindings::new().with("home", "/h");
        let b = BoundVariables::bind(["cache"], &d, &given, &env).unwrap();
        assert_eq!(b.expand("${cache}").unwrap(), "/h/.cache");
        assert_eq!(b.get("home"), Some("/h"));
    }

    #[test]
    fn unbound_undeclared_and_bad_values_fail() {
        let d = declared();
        let none = |_: &str| None;
        assert!(matches!(
            BoundVariables::bind(["ws"], &d, &Bindings::new(), &none),
            Err(Error::Unbound(name)) if name == "ws"
        ));
        let typo = Bindings::new().with("wz", "/w");
        assert!(matches!(
            BoundVariables::bind(["ws"], &d, &typo, &none),
            Err(Error::UndeclaredVariable(name)) if name == "wz"
        ));
        for (value, why) in [
            ("relative/path", "not absolute"),
            ("/a/../b", "not normalized: it has a `..` component"),
            ("/a/./b", "not normalized: it has a `.` component"),
            (
                "/a//b",
                "not normalized: it has an empty component (`//` or a trailing `/`)",
            ),
            (
                "/a/",
                "not normalized: it has an empty component (`//` or a trailing `/`)",
            ),
            ("/x/${y}", "not a plain path: it has `${`"),
            ("${y}", "not a plain path: it has `${`"),
            ("/a\u{7}b", "not a plain path: it has a control character"),
        ] {
            let bad = Bindings::new().with("ws", value);
            let result = BoundVariables::bind(["ws"], &d, &bad, &none);
            assert!(
                matches!(&result, Err(Error::BadValue { why: w, .. }) if *w == why),
                "{value}: {result:?}"
            );
        }
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        assert!(check_bound_value(&long).is_err());
        assert!(check_bound_value(&long[..MAX_PATH_BYTES]).is_ok());
        assert!(check_bound_value("/").is_ok());
    }

    #[test]
    fn an_environment_value_that_is_not_utf8_is_refused_not_taken_as_unset() {
        use std::os::unix::ffi::OsStringExt;
        let d = declared();
        let env =
            |k: &str| (k == "NONOC_TEST_HOME").then(|| OsString::from_vec(b"/h\xff".to_vec()));
        let result = BoundVariables::bind(["cache"], &d, &Bindings::new(), &env);
        assert!(
            matches!(&result, Err(Error::BadValue { name, why: "not valid UTF-8", .. }) if name == "home"),
            "{result:?}"
        );
    }
}
