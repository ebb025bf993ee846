//! The SBPL names nonoc may print, each with the public source that shows it exists.
//!
//! Apple publishes no specification of SBPL, and the sandbox compiler of macOS refuses a
//! whole profile for one unknown operation or filter name. So the printer's vocabulary is
//! closed: every operation, filter, function and symbol the tree can hold is listed here with
//! where it is seen in shipped profiles or generators (details in
//! `../shared/reference/seatbelt.md` §3.3–3.5 and docs/backends/seatbelt.md). The lint in
//! `lint.rs` refuses a profile that uses a name missing here.

/// A name and the source that shows it in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub name: &'static str,
    pub source: &'static str,
}

const fn known(name: &'static str, source: &'static str) -> Known {
    Known { name, source }
}

const CHROMIUM: &str = "chromium sandbox/policy/mac/common.sb";
const CODEX_BASE: &str = "openai/codex codex-rs/sandboxing/src/seatbelt_base_policy.sbpl";
const CODEX_GEN: &str = "openai/codex codex-rs/sandboxing/src/seatbelt.rs";
const CODEX_DEFAULTS: &str =
    "openai/codex codex-rs/sandboxing/src/restricted_read_only_platform_defaults.sbpl";
const NONO: &str = "always-further/nono crates/nono/src/sandbox/macos.rs";
const SRT: &str = "anthropic-experimental/sandbox-runtime src/sandbox/macos-sandbox-utils.ts";
const NIX: &str = "NixOS/nix nix/libstore/src/build/sandbox-defaults.sb";
const FIREFOX: &str = "mozilla/gecko-dev security/sandbox/mac/SandboxPolicyContent.h";
const GUIDE: &str = "fG! \"Apple Sandbox Guide v1.0\" (reverse.put.as, 2011)";
const BAZEL: &str = "bazelbuild/bazel src/main/java/com/google/devtools/build/lib/sandbox/DarwinSandboxedSpawnRunner.java";

/// Top-level forms.
pub const FORMS: &[Known] = &[
    known("version", CHROMIUM),
    known("allow", CHROMIUM),
    known("deny", CHROMIUM),
];

/// Operations.
pub const OPERATIONS: &[Known] = &[
    known("default", CHROMIUM),
    known("file-read*", CODEX_GEN),
    known("file-read-data", NONO),
    known("file-read-metadata", CHROMIUM),
    known("file-write*", CODEX_GEN),
    known("file-write-data", CODEX_BASE),
    known("file-write-create", GUIDE),
    known("file-write-unlink", SRT),
    known("file-map-executable", CODEX_DEFAULTS),
    known("file-ioctl", SRT),
    known("process-exec", CODEX_BASE),
    known("process-fork", CODEX_BASE),
    known("process-info*", CODEX_BASE),
    known("signal", CODEX_BASE),
    known("mach-lookup", CODEX_BASE),
    known("mach-priv-task-port", SRT),
    known("sysctl-read", CODEX_BASE),
    known("network*", NIX),
    known("network-outbound", CODEX_GEN),
    known("network-inbound", CODEX_GEN),
    known("network-bind", CODEX_GEN),
    known("system-socket", CODEX_GEN),
];

/// Filters and the combinators over them.
pub const FILTERS: &[Known] = &[
    known("literal", CHROMIUM),
    known("subpath", CHROMIUM),
    known("regex", CHROMIUM),
    known("path-ancestors", CODEX_DEFAULTS),
    known("vnode-type", CODEX_BASE),
    known("require-all", CODEX_GEN),
    known("require-any", FIREFOX),
    known("require-not", CODEX_GEN),
    known("target", CODEX_BASE),
    known("remote", CODEX_GEN),
    known("local", CODEX_GEN),
    known("socket-domain", CODEX_GEN),
    known("socket-type", NONO),
    known("sysctl-name", CODEX_BASE),
    known("sysctl-name-prefix", CODEX_BASE),
    known("global-name", CODEX_BASE),
];

/// Functions that make strings.
pub const FUNCTIONS: &[Known] = &[
    known("param", CODEX_GEN),
    known("string-append", CHROMIUM),
    known("regex-quote", CHROMIUM),
];

/// Symbols that stand as filter arguments.
pub const SYMBOLS: &[Known] = &[
    known("self", CODEX_BASE),
    known("same-sandbox", CODEX_BASE),
    known("tcp", CODEX_GEN),
    known("unix-socket", BAZEL),
    known("udp", CHROMIUM),
    known("AF_INET", NONO),
    known("AF_INET6", NONO),
    known("AF_UNIX", CODEX_GEN),
    known("SOCK_STREAM", NONO),
    known(
        "SOCK_DGRAM",
        "malus-security/sandblaster reverse-sandbox/filters/filters_ios14.json",
    ),
    known(
        "REGULAR-FILE",
        "malus-security/sandblaster reverse-sandbox/filters/filters_ios14.json",
    ),
    known(
        "DIRECTORY",
        "malus-security/sandblaster reverse-sandbox/filters/filters_ios14.json",
    ),
    known(
        "SYMLINK",
        "malus-security/sandblaster reverse-sandbox/filters/filters_ios14.json",
    ),
    known(
        "SOCKET",
        "malus-security/sandblaster reverse-sandbox/filters/filters_ios14.json",
    ),
    known(
        "FIFO",
        "malus-security/sandblaster reverse-sandbox/filters/filters_ios14.json",
    ),
    known("CHARACTER-DEVICE", CODEX_BASE),
    known(
        "BLOCK-DEVICE",
        "malus-security/sandblaster reverse-sandbox/filters/filters_ios14.json",
    ),
];

/// The entry for a name in one of the tables.
pub fn find(table: &[Known], name: &str) -> Option<Known> {
    table.iter().copied().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_a_source_and_appears_once() {
        for table in [FORMS, OPERATIONS, FILTERS, FUNCTIONS, SYMBOLS] {
            for (i, k) in table.iter().enumerate() {
                assert!(!k.source.is_empty(), "{}", k.name);
                assert!(
                    table[i + 1..].iter().all(|other| other.name != k.name),
                    "{} twice",
                    k.name
                );
            }
        }
    }
}
