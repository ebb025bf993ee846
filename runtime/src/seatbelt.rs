//! macOS: a ring's Seatbelt profile, its parameter values, and (on macOS only) applying it.
//!
//! Computing the parameter values is plain code that runs and is tested everywhere; only the
//! call into the sandbox library is macOS-only (`sys::macos`). That call has never been
//! compiled or run by this project's CI, which is Linux-only: `docs/macos-check.md` is the
//! procedure that confirms it on a Mac.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::num::NonZeroU16;

use crate::artifact::{PROXY_RULE, ParamForm, SeatbeltProfile, proxy_rules};
use crate::bind::{self, BoundVariables};
use crate::{Bindings, Error};

/// The sandbox compiler of macOS refuses a profile whose serialized patterns exceed 65,535
/// bytes. The runtime refuses before that, on an estimate: the profile's text plus every
/// parameter value once.
pub const MAX_PROFILE_BYTES: usize = 65_535;

/// Parameter names and values, in the profile's order: what `sandbox-exec -D` and
/// `sandbox_init_with_parameters` take.
pub type ParamValues = Vec<(String, String)>;

/// The variables a profile's parameters use.
pub fn variables(profile: &SeatbeltProfile) -> BTreeSet<&str> {
    profile
        .params
        .iter()
        .filter_map(|p| bind::variable_of(&p.path))
        .collect()
}

/// Each parameter's name and value, in the profile's order, for bound variables; refused
/// when the estimate of the compiled profile exceeds [`MAX_PROFILE_BYTES`].
pub fn param_values(
    profile: &SeatbeltProfile,
    values: &BoundVariables,
) -> Result<ParamValues, Error> {
    let mut out = Vec::with_capacity(profile.params.len());
    for param in &profile.params {
        let path = values.expand(&param.path)?;
        let value = match param.form {
            ParamForm::Path | ParamForm::Prefix => param.form.value(&path),
            ParamForm::Private | ParamForm::PrivatePrefix => param.form.value(&kernel_path(&path)?),
        };
        out.push((param.name.clone(), value));
    }
    let size = profile.sbpl.len() + out.iter().map(|(_, v)| v.len()).sum::<usize>();
    if size > MAX_PROFILE_BYTES {
        return Err(Error::Apply(format!(
            "the Seatbelt profile with its parameter values comes to {size} bytes; macOS refuses profiles over {MAX_PROFILE_BYTES}"
        )));
    }
    Ok(out)
}

/// The path as the macOS kernel checks it. On macOS: symbolic links resolved (the longest
/// existing ancestor, canonicalized, then the rest), so that a rule on a path reached through
/// a link (`${home}/.ssh` -> `/Volumes/keys/ssh`) holds for what the kernel sees. Elsewhere
/// (previews, tests): the three links every Mac has, `/tmp`, `/var` and `/etc` into `/private`.
#[cfg(target_os = "macos")]
fn kernel_path(path: &str) -> Result<String, Error> {
    use std::path::Path;
    let whole = Path::new(path);
    for ancestor in whole.ancestors() {
        let Ok(real) = std::fs::canonicalize(ancestor) else {
            continue;
        };
        let resolved = match whole.strip_prefix(ancestor) {
            Ok(rest) if !rest.as_os_str().is_empty() => real.join(rest),
            _ => real,
        };
        return resolved
            .into_os_string()
            .into_string()
            .map_err(|_| Error::Apply(format!("`{path}` resolves to a path that is not UTF-8")));
    }
    Ok(ParamForm::Private.value(path))
}

#[cfg(not(target_os = "macos"))]
fn kernel_path(path: &str) -> Result<String, Error> {
    Ok(ParamForm::Private.value(path))
}

/// Binds the variables a profile uses (caller, environment, default) and computes the
/// parameter values.
pub fn bind_params(
    profile: &SeatbeltProfile,
    declared: &std::collections::BTreeMap<String, crate::artifact::Variable>,
    bindings: &Bindings,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<(BoundVariables, ParamValues), Error> {
    let values = BoundVariables::bind(variables(profile), declared, bindings, env)?;
    let params = param_values(profile, &values)?;
    Ok((values, params))
}

/// The profile's text as macOS gets it. A ring with hosts carries the egress proxy's rule
/// with a placeholder for the port (`PROXY_RULE`): with `proxy_port`, the port of the proxy
/// the runtime started, the rule names it (`(remote tcp "localhost:PORT")`); without a proxy
/// the rule is left out, and the process can then reach only its `connect_tcp` ports. The
/// port is a number from the runtime, never text from elsewhere. A placeholder in any other
/// form is refused (the artifact's validation refuses it first).
pub fn profile_text(
    profile: &SeatbeltProfile,
    proxy_port: Option<NonZeroU16>,
) -> Result<Cow<'_, str>, Error> {
    let rules = proxy_rules(&profile.sbpl).map_err(Error::Malformed)?;
    if rules == 0 {
        return Ok(Cow::Borrowed(&profile.sbpl));
    }
    let replacement = match proxy_port {
        Some(port) => format!("(allow network-outbound (remote tcp \"localhost:{port}\"))"),
        None => "; no egress proxy runs: its rule is left out".to_owned(),
    };
    let mut out = String::with_capacity(profile.sbpl.len());
    for line in profile.sbpl.split_inclusive('\n') {
        match line.strip_suffix('\n') {
            Some(text) if text == PROXY_RULE => {
                out.push_str(&replacement);
                out.push('\n');
            }
            None if line == PROXY_RULE => out.push_str(&replacement),
            _ => out.push_str(line),
        }
    }
    Ok(Cow::Owned(out))
}

/// Applies a profile to this process: refuses when the process already has a sandbox
/// (macOS does not nest them), then calls `sandbox_init_with_parameters`.
#[cfg(target_os = "macos")]
pub fn apply(profile: &SeatbeltProfile, params: &[(String, String)]) -> Result<(), Error> {
    if crate::sys::macos::is_sandboxed() {
        return Err(Error::Apply(
            "this process already runs in a macOS sandbox, and sandboxes do not nest".to_owned(),
        ));
    }
    // No egress proxy runs on macOS yet: a ring with hosts reaches only its `connect_tcp`
    // ports.
    let text = profile_text(profile, None)?;
    crate::sys::macos::init_with_parameters(&text, params).map_err(|e| {
        Error::Apply(format!(
            "sandbox_init_with_parameters refused the profile: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::artifact::{SeatbeltParam, Variable};

    fn profile(sbpl: &str) -> SeatbeltProfile {
        let param = |name: &str, path: &str, form| SeatbeltParam {
            name: name.to_owned(),
            path: path.to_owned(),
            form,
        };
        SeatbeltProfile {
            sbpl: sbpl.to_owned(),
            params: vec![
                param("NONOC_P0", "/usr", ParamForm::Path),
                param("NONOC_P1", "${ws}", ParamForm::Path),
                param("NONOC_P2", "${ws}", ParamForm::Private),
                param("NONOC_P3", "${ws}", ParamForm::Prefix),
            ],
            not_enforced: Vec::new(),
        }
    }

    fn declared() -> BTreeMap<String, Variable> {
        let mut d = BTreeMap::new();
        d.insert(
            "ws".to_owned(),
            Variable {
                env: None,
                default: Some("/app".to_owned()),
                private_tmp: false,
            },
        );
        d
    }

    #[test]
    fn values_follow_the_bindings() {
        let none = |_: &str| None::<std::ffi::OsString>;
        let given = Bindings::new().with("ws", "/tmp/w");
        let (_, params) = bind_params(&profile("(version 1)"), &declared(), &given, &none).unwrap();
        let values: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            values,
            [
                ("NONOC_P0", "/usr"),
                ("NONOC_P1", "/tmp/w"),
                ("NONOC_P2", "/private/tmp/w"),
                ("NONOC_P3", "/tmp/w"),
            ]
        );
        let given = Bindings::new().with("ws", "/");
        let (_, params) = bind_params(&profile("(version 1)"), &declared(), &given, &none).unwrap();
        assert_eq!(params[3].1, "");
    }

    #[test]
    fn refuses_undeclared_bindings_and_oversized_profiles() {
        let none = |_: &str| None::<std::ffi::OsString>;
        let given = Bindings::new().with("wz", "/x");
        assert!(matches!(
            bind_params(&profile(""), &declared(), &given, &none),
            Err(Error::UndeclaredVariable(name)) if name == "wz"
        ));
        let long = "x".repeat(MAX_PROFILE_BYTES - 10);
        let given = Bindings::new().with("ws", "/a/rather/long/workspace/path");
        assert!(matches!(
            bind_params(&profile(&long), &declared(), &given, &none),
            Err(Error::Apply(m)) if m.contains("65535")
        ));
    }

    #[test]
    fn the_proxy_port_takes_the_placeholders_place() {
        let text = format!("(version 1)\n(deny default)\n{PROXY_RULE}\n(allow process-fork)\n");
        let p = profile(&text);
        let port = NonZeroU16::new(49152);
        assert_eq!(
            profile_text(&p, port).unwrap(),
            "(version 1)\n(deny default)\n(allow network-outbound (remote tcp \"localhost:49152\"))\n(allow process-fork)\n"
        );
        let without = profile_text(&p, None).unwrap();
        assert!(!without.contains("network-outbound"), "{without}");
        assert!(!without.contains("NONOC_PROXY_PORT"), "{without}");
        assert!(without.ends_with("(allow process-fork)\n"), "{without}");
        // The last line, without a newline after it.
        let p = profile(&format!("(version 1)\n{PROXY_RULE}"));
        assert_eq!(
            profile_text(&p, NonZeroU16::new(1)).unwrap(),
            "(version 1)\n(allow network-outbound (remote tcp \"localhost:1\"))"
        );
        // A profile without hosts is passed through as it is.
        let p = profile("(version 1)\n(deny default)\n");
        assert!(matches!(profile_text(&p, port).unwrap(), Cow::Borrowed(_)));
        // A placeholder in another form is refused, never passed to macOS.
        let p = profile("(allow network-outbound (remote tcp \"*:@NONOC_PROXY_PORT@\"))\n");
        assert!(matches!(profile_text(&p, port), Err(Error::Malformed(_))));
    }
}
