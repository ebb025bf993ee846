//! Syscall presets shipped with the compiler, and the syscall rules that network and process
//! settings imply. Why each entry is here: `docs/backends/seccomp.md`.

use super::model::{ArgCondition, ArgOp, SyscallAction};

/// Namespace creation flags shared by `unshare` and `clone`: CLONE_NEWTIME, NEWNS, NEWCGROUP,
/// NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
pub const NAMESPACE_FLAGS: u64 = 0x7E02_0080;
pub const CLONE_THREAD: u64 = 0x0001_0000;
pub const AF_UNIX: u64 = 1;
pub const AF_INET: u64 = 2;
pub const AF_NETLINK: u64 = 16;
pub const AF_INET6: u64 = 10;
pub const SOCK_STREAM: u64 = 1;
pub const SOCK_TYPE_MASK: u64 = 0xf;
pub const IPPROTO_TCP: u64 = 6;
pub const ENOSYS: u16 = 38;
/// Terminal ioctls that push input into a terminal (`<asm-generic/ioctls.h>`, the same on
/// x86_64 and aarch64).
pub const TIOCSTI: u64 = 0x5412;
pub const TIOCLINUX: u64 = 0x541C;
/// `setpriority`'s `which` for one process (`<linux/resource.h>`).
pub const PRIO_PROCESS: u64 = 0;
/// `ioprio_set`'s `which` for one process (`<linux/ioprio.h>`).
pub const IOPRIO_WHO_PROCESS: u64 = 1;

/// A preset entry: syscall name, the argument conditions that must all hold, and an action
/// of its own where the ring's deny action would be wrong.
#[derive(Debug, Clone)]
pub struct PresetRule {
    pub name: &'static str,
    pub args: Vec<ArgCondition>,
    pub action: Option<SyscallAction>,
}

impl PresetRule {
    pub fn new(name: &'static str, args: Vec<ArgCondition>) -> Self {
        PresetRule {
            name,
            args,
            action: None,
        }
    }
}

pub const PRESETS: &[&str] = &["hardening"];

/// The deny rules of a preset, or `None` for an unknown name.
pub fn preset(name: &str) -> Option<Vec<PresetRule>> {
    match name {
        "hardening" => Some(hardening()),
        _ => None,
    }
}

fn hardening() -> Vec<PresetRule> {
    let ns = || vec![cond(0, ArgOp::AnyBits, NAMESPACE_FLAGS)];
    let mut rules = vec![
        PresetRule::new("unshare", ns()),
        PresetRule::new("clone", ns()),
        // clone3 passes its flags in memory, where a filter cannot read them: ENOSYS makes
        // libc fall back to clone, whose flags the rule above checks.
        PresetRule {
            name: "clone3",
            args: Vec::new(),
            action: Some(SyscallAction::Errno(ENOSYS)),
        },
    ];
    rules.extend(
        [
            // namespaces and mounts
            "setns",
            "mount",
            "umount2",
            "pivot_root",
            "move_mount",
            "open_tree",
            "open_tree_attr",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "mount_setattr",
            // kernel attack surface rarely needed by agents
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "keyctl",
            "add_key",
            "request_key",
            // the kernel itself
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "reboot",
            "swapon",
            "swapoff",
            "acct",
            "quotactl",
            "syslog",
            // clocks and handles
            "settimeofday",
            "clock_settime",
            "clock_adjtime",
            "adjtimex",
            "open_by_handle_at",
            "name_to_handle_at",
            "lookup_dcookie",
            // x86 port I/O
            "iopl",
            "ioperm",
        ]
        .into_iter()
        .map(|name| PresetRule::new(name, Vec::new())),
    );
    rules
}

pub fn cond(index: u8, op: ArgOp, value: u64) -> ArgCondition {
    ArgCondition {
        index,
        op,
        value,
        mask: None,
    }
}

pub fn masked(index: u8, op: ArgOp, mask: u64, value: u64) -> ArgCondition {
    ArgCondition {
        index,
        op,
        value,
        mask: Some(mask),
    }
}
