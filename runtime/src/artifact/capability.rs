//! The Linux capabilities a ring keeps (`process.capabilities`). The confined command of a
//! root agent loses every other capability (effective, permitted, inheritable, ambient and
//! the bounding set) before it runs. An artifact names capabilities only by these names: an
//! unknown name, or a number, does not deserialize.

use serde::{Deserialize, Serialize};

macro_rules! capabilities {
    ($($variant:ident = $number:literal, $name:literal;)*) => {
        /// A Linux capability, named as in the policy language: the `CAP_` constant of
        /// `<linux/capability.h>` in lower case, without the prefix.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
        #[cfg_attr(
            feature = "compiler",
            expect(missing_docs, reason = "each variant is the capability its name says")
        )]
        pub enum Capability {
            $(
                #[serde(rename = $name)]
                $variant,
            )*
        }

        impl Capability {
            /// Every capability, by number.
            #[cfg(any(test, feature = "compiler"))]
            pub const ALL: &'static [Capability] = &[$(Capability::$variant,)*];

            /// The capability's number (`CAP_CHOWN` is 0).
            #[cfg(any(test, feature = "compiler", target_os = "linux"))]
            pub fn number(self) -> u32 {
                match self {
                    $(Capability::$variant => $number,)*
                }
            }

            /// The name as the policy language writes it (`net_bind_service`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Capability::$variant => $name,)*
                }
            }
        }
    };
}

capabilities! {
    Chown = 0, "chown";
    DacOverride = 1, "dac_override";
    DacReadSearch = 2, "dac_read_search";
    Fowner = 3, "fowner";
    Fsetid = 4, "fsetid";
    Kill = 5, "kill";
    Setgid = 6, "setgid";
    Setuid = 7, "setuid";
    Setpcap = 8, "setpcap";
    LinuxImmutable = 9, "linux_immutable";
    NetBindService = 10, "net_bind_service";
    NetBroadcast = 11, "net_broadcast";
    NetAdmin = 12, "net_admin";
    NetRaw = 13, "net_raw";
    IpcLock = 14, "ipc_lock";
    IpcOwner = 15, "ipc_owner";
    SysModule = 16, "sys_module";
    SysRawio = 17, "sys_rawio";
    SysChroot = 18, "sys_chroot";
    SysPtrace = 19, "sys_ptrace";
    SysPacct = 20, "sys_pacct";
    SysAdmin = 21, "sys_admin";
    SysBoot = 22, "sys_boot";
    SysNice = 23, "sys_nice";
    SysResource = 24, "sys_resource";
    SysTime = 25, "sys_time";
    SysTtyConfig = 26, "sys_tty_config";
    Mknod = 27, "mknod";
    Lease = 28, "lease";
    AuditWrite = 29, "audit_write";
    AuditControl = 30, "audit_control";
    Setfcap = 31, "setfcap";
    MacOverride = 32, "mac_override";
    MacAdmin = 33, "mac_admin";
    Syslog = 34, "syslog";
    WakeAlarm = 35, "wake_alarm";
    BlockSuspend = 36, "block_suspend";
    AuditRead = 37, "audit_read";
    Perfmon = 38, "perfmon";
    Bpf = 39, "bpf";
    CheckpointRestore = 40, "checkpoint_restore";
}

impl Capability {
    /// The capability named `name` (`net_bind_service`); `None` for anything else.
    #[cfg(any(test, feature = "compiler"))]
    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.iter().copied().find(|c| c.name() == name)
    }
}

/// A capability list as the compiler writes it: by number, each once. Anything else (a
/// duplicate, another order) does not deserialize.
pub(super) fn sorted_unique<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Capability>, D::Error> {
    let list = Vec::<Capability>::deserialize(deserializer)?;
    if list.windows(2).any(|w| w[0] >= w[1]) {
        return Err(serde::de::Error::custom(
            "capabilities must be listed by number, each once",
        ));
    }
    Ok(list)
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_kernel_header_without_gaps() {
        for (i, cap) in Capability::ALL.iter().enumerate() {
            assert_eq!(cap.number() as usize, i, "{cap}");
            assert_eq!(Capability::from_name(cap.name()), Some(*cap));
        }
        // CAP_LAST_CAP of Linux 6.18 is CAP_CHECKPOINT_RESTORE (40).
        assert_eq!(Capability::ALL.len(), 41);
    }

    #[test]
    fn names_round_trip_and_nothing_else_deserializes() {
        let json = serde_json::to_string(&[Capability::NetBindService, Capability::SysAdmin])
            .unwrap_or_default();
        assert_eq!(json, r#"["net_bind_service","sys_admin"]"#);
        #[derive(Debug, Deserialize)]
        struct List {
            #[serde(deserialize_with = "sorted_unique")]
            caps: Vec<Capability>,
        }
        let list = |json: &str| serde_json::from_str::<List>(json).map(|l| l.caps);
        assert_eq!(
            list(r#"{"caps": ["chown", "net_bind_service"]}"#).ok(),
            Some(vec![Capability::Chown, Capability::NetBindService])
        );
        assert!(list(r#"{"caps": ["net_bind_service", "chown"]}"#).is_err());
        assert!(list(r#"{"caps": ["chown", "chown"]}"#).is_err());
        for bad in [
            r#""CAP_SYS_ADMIN""#,
            r#""SysAdmin""#,
            r#""sys-admin""#,
            "21",
            r#""""#,
        ] {
            assert!(serde_json::from_str::<Capability>(bad).is_err(), "{bad}");
        }
    }
}
