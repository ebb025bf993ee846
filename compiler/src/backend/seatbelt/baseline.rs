//! The platform baseline: what every confined ring is granted on macOS beyond its policy,
//! because a process cannot start without it, or because Linux does not restrict it either.
//! Reviewed line by line; each rule is printed with its reason above it, and
//! docs/backends/seatbelt.md explains each again. Nothing here is imported from the
//! system's `system.sb`, whose contents change with every macOS release.
//!
//! Only these grant something a request of the policy language can ask for, and the oracle
//! tests count them as predicted differences ([`COVERAGE`]): reading `/` itself, reading the
//! dyld shared cache directories, and reading `/private/var/select/sh`.

use super::sbpl::{Decision, Domain, Filter, Operation, Rule, Str, Target};
use crate::ir::AccessSet;

/// One baseline rule and why it is there.
#[derive(Debug, Clone)]
pub struct Line {
    pub why: &'static str,
    pub rule: Rule,
}

/// Directories of the dyld shared cache: on macOS 11 and 12 under `/System/Library/dyld`,
/// from macOS 13 in the OS cryptex (`/System/Volumes/Preboot/Cryptexes/OS`, also reached as
/// `/System/Cryptexes/OS`).
pub const DYLD_CACHE: [&str; 3] = [
    "/System/Library/dyld",
    "/System/Volumes/Preboot/Cryptexes/OS",
    "/System/Cryptexes/OS",
];

/// sysctl names read by libSystem, dyld and common runtimes at start-up.
const SYSCTL_PREFIXES: [&str; 2] = ["hw.", "machdep.cpu."];
const SYSCTL_NAMES: [&str; 10] = [
    "kern.argmax",
    "kern.hostname",
    "kern.maxfilesperproc",
    "kern.osproductversion",
    "kern.osrelease",
    "kern.ostype",
    "kern.osvariant_status",
    "kern.osversion",
    "kern.usrstack64",
    "kern.version",
];

/// Mach services of the system every process may need: user and group lookups
/// (`getpwuid`), and the notification center libSystem registers with.
const MACH_SERVICES: [&str; 2] = [
    "com.apple.system.opendirectoryd.libinfo",
    "com.apple.system.notification_center",
];

/// Mach services that reach the keychain. Never granted; denied again at the end so that a
/// later change granting Mach services broadly cannot open the keychain over IPC while its
/// files are denied.
pub const KEYCHAIN_SERVICES: [&str; 5] = [
    "com.apple.SecurityServer",
    "com.apple.security.agent",
    "com.apple.security.keychaind",
    "com.apple.securityd",
    "com.apple.secd",
];

/// What the baseline grants, in the policy language's terms: (path, whole subtree, rights).
pub const COVERAGE: [(&str, bool, AccessSet); 5] = [
    ("/", false, AccessSet::READ),
    (DYLD_CACHE[0], true, AccessSet::READ),
    (DYLD_CACHE[1], true, AccessSet::READ),
    (DYLD_CACHE[2], true, AccessSet::READ),
    ("/private/var/select/sh", false, AccessSet::READ),
];

fn lit(text: &str) -> Str {
    Str::lit(text)
}

fn allow(operations: Vec<Operation>, filters: Vec<Filter>) -> Rule {
    Rule {
        decision: Decision::Allow,
        operations,
        filters,
    }
}

/// The baseline, in order.
pub fn lines() -> Vec<Line> {
    vec![
        Line {
            why: "stat() of any path, as on Linux where Landlock does not restrict it; realpath() and getcwd() need it",
            rule: allow(
                vec![Operation::FileReadMetadata],
                vec![Filter::Subpath(lit("/"))],
            ),
        },
        Line {
            why: "the root directory itself: dyld aborts every program without it on recent macOS",
            rule: allow(vec![Operation::FileRead], vec![Filter::Literal(lit("/"))]),
        },
        Line {
            why: "the dyld shared cache, where the system libraries are: read and mapped executable",
            rule: allow(
                vec![Operation::FileRead, Operation::FileMapExecutable],
                DYLD_CACHE.iter().map(|p| Filter::Subpath(lit(p))).collect(),
            ),
        },
        Line {
            why: "/bin/sh reads which shell it is from this link",
            rule: allow(
                vec![Operation::FileRead],
                vec![Filter::Literal(lit("/private/var/select/sh"))],
            ),
        },
        Line {
            why: "hardware, CPU and OS version facts that libSystem and language runtimes read at start-up",
            rule: allow(
                vec![Operation::SysctlRead],
                SYSCTL_PREFIXES
                    .iter()
                    .map(|p| Filter::SysctlNamePrefix(lit(p)))
                    .chain(SYSCTL_NAMES.iter().map(|n| Filter::SysctlName(lit(n))))
                    .collect(),
            ),
        },
        Line {
            why: "a process may inspect itself",
            rule: allow(
                vec![Operation::ProcessInfo],
                vec![Filter::Target(Target::Own)],
            ),
        },
        Line {
            why: "user and group lookups, and libSystem's notification center",
            rule: allow(
                vec![Operation::MachLookup],
                MACH_SERVICES
                    .iter()
                    .map(|s| Filter::GlobalName(lit(s)))
                    .collect(),
            ),
        },
        Line {
            why: "Unix domain sockets may be created (socketpair, pipes between processes), as on Linux; connecting to a socket path is still denied",
            rule: allow(
                vec![Operation::SystemSocket],
                vec![Filter::SocketDomain(Domain::Unix)],
            ),
        },
    ]
}

/// The keychain denial, printed among the denies.
pub fn keychain_deny() -> Line {
    Line {
        why: "the keychain over Mach IPC, whatever the file rules say",
        rule: Rule {
            decision: Decision::Deny,
            operations: vec![Operation::MachLookup],
            filters: KEYCHAIN_SERVICES
                .iter()
                .map(|s| Filter::GlobalName(lit(s)))
                .collect(),
        },
    }
}
