//! The Seatbelt section of a ring: the SBPL profile text, machine-independent, and the
//! parameters it reads. Every host path of the policy reaches the profile as a parameter
//! (`(param "NONOC_P3")`); the runtime computes each value from the variable bindings and
//! passes them to `sandbox_init_with_parameters`.

use serde::{Deserialize, Serialize};

/// A ring's Seatbelt section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SeatbeltProfile {
    /// The profile (SBPL), as `nonoc compile --emit sbpl` prints it.
    pub sbpl: String,
    /// The parameters the profile reads, sorted by name; each is used by the profile and
    /// each `(param ...)` of the profile is listed here.
    pub params: Vec<SeatbeltParam>,
    /// Parts of the ring's policy that do not apply on macOS, said plainly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_enforced: Vec<String>,
}

/// One parameter: its name in the profile and how its value is computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SeatbeltParam {
    /// Its name in the profile (`NONOC_P3`).
    pub name: String,
    /// A path template (may start with `${name}`), bound like the Landlock plan's paths.
    pub path: String,
    /// How its value is made from the bound path.
    #[serde(default, skip_serializing_if = "ParamForm::is_path")]
    pub form: ParamForm,
}

/// How a parameter's value is made from its bound path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ParamForm {
    /// The path itself.
    #[default]
    Path,
    /// The path as the macOS kernel sees it: `/tmp`, `/var` and `/etc` are links into
    /// `/private`, so `/tmp/x` becomes `/private/tmp/x`. On macOS the runtime also resolves
    /// every other symbolic link on the way (`nonoc_runtime::seatbelt::param_values`).
    Private,
    /// The path as the start of a regular expression that goes on with `/`: the root `/`
    /// becomes the empty string.
    Prefix,
    /// `private`, then `prefix`.
    PrivatePrefix,
}

impl ParamForm {
    fn is_path(&self) -> bool {
        *self == ParamForm::Path
    }
}

#[cfg(any(test, feature = "compiler", target_os = "macos"))]
impl ParamForm {
    /// The parameter value for a bound (absolute, normalized) path.
    pub fn value(self, path: &str) -> String {
        let private = |p: &str| match private_alias(p) {
            Some(alias) => alias,
            None => p.to_owned(),
        };
        let prefix = |p: String| if p == "/" { String::new() } else { p };
        match self {
            ParamForm::Path => path.to_owned(),
            ParamForm::Private => private(path),
            ParamForm::Prefix => prefix(path.to_owned()),
            ParamForm::PrivatePrefix => prefix(private(path)),
        }
    }
}

/// The egress proxy's port in a profile: SBPL takes no `(param ...)` inside a network
/// address (no project is seen doing it, and it is not known to work), so a ring with hosts
/// carries this placeholder, and the runtime puts the port of the proxy it started in its
/// place at apply time (`nonoc_runtime::seatbelt::profile_text`).
#[cfg(any(test, feature = "compiler"))]
pub const PROXY_PORT_PLACEHOLDER: &str = "@NONOC_PROXY_PORT@";

/// The one rule that names the placeholder, alone on its line, as the compiler prints it: the
/// process may connect over TCP to this machine's loopback at the proxy's port.
pub const PROXY_RULE: &str =
    "(allow network-outbound (remote tcp \"localhost:@NONOC_PROXY_PORT@\"))";

/// How many lines of the profile are exactly [`PROXY_RULE`]; refused when the placeholder's
/// name appears anywhere else outside a comment (a placeholder in any other form: another
/// host, protocol or filter, a cut or misspelled one), which the runtime would not replace.
pub fn proxy_rules(sbpl: &str) -> Result<usize, String> {
    let mut rules = 0;
    // Lines end at `\n` only, as the runtime replaces them: a `\r` left at the end of the
    // rule makes it a malformed one.
    for (i, line) in sbpl.split('\n').enumerate() {
        if line == PROXY_RULE {
            rules += 1;
        } else if !line.starts_with(';') && line.contains("NONOC_PROXY_PORT") {
            return Err(format!(
                "line {} holds the egress proxy's port placeholder in a form other than `{PROXY_RULE}`",
                i + 1
            ));
        }
    }
    Ok(rules)
}

/// The directories of macOS that are links into `/private`.
#[cfg(any(test, feature = "compiler", target_os = "macos"))]
pub const PRIVATE_LINKS: [&str; 3] = ["/etc", "/tmp", "/var"];

/// `/private` + the path when it lies at or under `/etc`, `/tmp` or `/var`.
#[cfg(any(test, feature = "compiler", target_os = "macos"))]
pub fn private_alias(path: &str) -> Option<String> {
    PRIVATE_LINKS
        .iter()
        .any(|link| {
            path == *link
                || path
                    .strip_prefix(link)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
        .then(|| format!("/private{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(ParamForm::Path.value("/tmp/x"), "/tmp/x");
        assert_eq!(ParamForm::Private.value("/tmp/x"), "/private/tmp/x");
        assert_eq!(ParamForm::Private.value("/var"), "/private/var");
        assert_eq!(ParamForm::Private.value("/tmpx/y"), "/tmpx/y");
        assert_eq!(ParamForm::Private.value("/usr"), "/usr");
        assert_eq!(ParamForm::Prefix.value("/"), "");
        assert_eq!(ParamForm::Prefix.value("/w"), "/w");
        assert_eq!(ParamForm::PrivatePrefix.value("/etc"), "/private/etc");
        assert_eq!(ParamForm::PrivatePrefix.value("/"), "");
    }

    #[test]
    fn the_proxy_rule_is_found_only_in_its_own_form() {
        let with =
            |line: &str| format!("(version 1)\n; {PROXY_PORT_PLACEHOLDER} in a comment\n{line}\n");
        assert_eq!(proxy_rules(&with("(deny default)")), Ok(0));
        assert_eq!(proxy_rules(&with(PROXY_RULE)), Ok(1));
        assert_eq!(proxy_rules(&format!("{PROXY_RULE}\n{PROXY_RULE}")), Ok(2));
        for malformed in [
            "(allow network-outbound (remote tcp \"*:@NONOC_PROXY_PORT@\"))",
            "(allow network-outbound (remote udp \"localhost:@NONOC_PROXY_PORT@\"))",
            "(allow network-bind (local tcp \"localhost:@NONOC_PROXY_PORT@\"))",
            "(allow network-outbound (remote tcp \"localhost:@NONOC_PROXY_PORT\"))",
            "(allow network-outbound (remote tcp \"localhost:NONOC_PROXY_PORT@\"))",
            "    (remote tcp \"localhost:@NONOC_PROXY_PORT@\")",
            " (allow network-outbound (remote tcp \"localhost:@NONOC_PROXY_PORT@\"))",
            "(allow network-outbound (remote tcp \"localhost:@NONOC_PROXY_PORT@\")) ; x",
            "(allow network-outbound (remote tcp \"localhost:@NONOC_PROXY_PORT@\"))\r",
        ] {
            assert!(proxy_rules(&with(malformed)).is_err(), "{malformed}");
        }
    }
}
