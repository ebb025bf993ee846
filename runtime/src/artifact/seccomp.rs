//! A ring's seccomp filters: one classic-BPF program per arch, and what it costs.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The arches the compiler writes filters for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(not(feature = "compiler"), non_exhaustive)]
pub enum SeccompArch {
    /// x86-64 (`AUDIT_ARCH_X86_64`).
    X86_64,
    /// 64-bit Arm (`AUDIT_ARCH_AARCH64`).
    Aarch64,
}

impl SeccompArch {
    /// The arch this runtime was built for, when the compiler writes filters for it.
    pub fn host() -> Option<SeccompArch> {
        if cfg!(target_arch = "x86_64") {
            Some(SeccompArch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(SeccompArch::Aarch64)
        } else {
            None
        }
    }

    /// `x86_64` or `aarch64`.
    pub fn name(self) -> &'static str {
        match self {
            SeccompArch::X86_64 => "x86_64",
            SeccompArch::Aarch64 => "aarch64",
        }
    }
}

/// A plain list of names (the derive would make a `oneOf` of the documented variants, and the
/// schema of the filters' map would then accept any key).
#[cfg(feature = "compiler")]
impl schemars::JsonSchema for SeccompArch {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SeccompArch".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names = [SeccompArch::X86_64, SeccompArch::Aarch64].map(SeccompArch::name);
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

/// One arch's filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SeccompFilter {
    /// The program as the kernel takes it: little-endian `struct sock_filter` records (u16
    /// code, u8 jt, u8 jf, u32 k; 8 bytes each), in standard padded base64.
    pub bpf: String,
    /// What the program costs.
    pub stats: SeccompStats,
}

/// What a program costs, measured by the compiler's BPF interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(feature = "compiler"), non_exhaustive)]
pub struct SeccompStats {
    /// Instructions in the program.
    pub length: usize,
    /// Most instructions executed for any syscall number (every number, x32 and out of
    /// table ones included), any arguments, or a foreign arch.
    pub worst_case: usize,
    /// Instructions executed, averaged over the arch's syscall table (for a syscall with
    /// argument checks, its longest path).
    pub mean: f64,
    /// Syscalls in the arch's table.
    pub syscalls: usize,
    /// Syscalls of the table that the kernel's action cache allows without running the
    /// filter (the outcome is `allow` whatever the arguments, decided on `nr` alone).
    pub cache_allowed: usize,
}

/// One `struct sock_filter`, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instruction {
    /// The operation.
    pub code: u16,
    /// Jump offset when the condition holds.
    pub jt: u8,
    /// Jump offset when it does not.
    pub jf: u8,
    /// The operand.
    pub k: u32,
}

/// The kernel's limit on a classic-BPF program (`BPF_MAXINSNS`).
pub const MAX_INSTRUCTIONS: usize = 4096;

impl SeccompFilter {
    /// Encodes a program.
    #[cfg(any(test, feature = "compiler"))]
    pub fn new(instructions: &[Instruction], stats: SeccompStats) -> SeccompFilter {
        SeccompFilter {
            bpf: base64::engine::general_purpose::STANDARD.encode(to_bytes(instructions)),
            stats,
        }
    }

    /// Decodes the program, checking what the kernel would otherwise reject later: the
    /// encoding, whole records, a length of 1..=4096 that matches the recorded stats, and a
    /// last instruction that returns.
    pub fn instructions(&self) -> Result<Vec<Instruction>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.bpf)
            .map_err(|e| format!("the program is not valid base64: {e}"))?;
        if bytes.len() % 8 != 0 {
            return Err(format!(
                "the program is {} bytes, not a whole number of 8-byte instructions",
                bytes.len()
            ));
        }
        let program: Vec<Instruction> = bytes
            .chunks_exact(8)
            .map(|r| Instruction {
                code: u16::from_le_bytes([r[0], r[1]]),
                jt: r[2],
                jf: r[3],
                k: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
            })
            .collect();
        if program.is_empty() || program.len() > MAX_INSTRUCTIONS {
            return Err(format!(
                "the program has {} instructions; the kernel takes 1 to {MAX_INSTRUCTIONS}",
                program.len()
            ));
        }
        if program.len() != self.stats.length {
            return Err(format!(
                "the program has {} instructions but its stats say {}",
                program.len(),
                self.stats.length
            ));
        }
        // `BPF_RET | BPF_K`: a filter that can run off its end is refused by the kernel.
        if program.last().map(|i| i.code) != Some(0x06) {
            return Err("the program does not end with a return".to_owned());
        }
        Ok(program)
    }
}

/// The raw records, as `--emit bpf` writes them.
#[cfg(any(test, feature = "compiler"))]
pub fn to_bytes(instructions: &[Instruction]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(instructions.len() * 8);
    for i in instructions {
        bytes.extend_from_slice(&i.code.to_le_bytes());
        bytes.push(i.jt);
        bytes.push(i.jf);
        bytes.extend_from_slice(&i.k.to_le_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(length: usize) -> SeccompStats {
        SeccompStats {
            length,
            worst_case: length,
            mean: 1.0,
            syscalls: 0,
            cache_allowed: 0,
        }
    }

    const RET_ALLOW: Instruction = Instruction {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0x7fff_0000,
    };
    const LD_NR: Instruction = Instruction {
        code: 0x20,
        jt: 0,
        jf: 0,
        k: 0,
    };

    #[test]
    fn round_trip() {
        let program = [LD_NR, RET_ALLOW];
        let filter = SeccompFilter::new(&program, stats(2));
        assert_eq!(filter.instructions(), Ok(program.to_vec()));
        assert_eq!(
            to_bytes(&program),
            [0x20, 0, 0, 0, 0, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]
        );
    }

    #[test]
    fn refuses_what_the_kernel_would() {
        let bad = |bpf: &str, length: usize| {
            SeccompFilter {
                bpf: bpf.to_owned(),
                stats: stats(length),
            }
            .instructions()
            .unwrap_err()
        };
        assert!(bad("not base64!", 1).contains("base64"));
        assert!(bad("AAAA", 1).contains("8-byte"));
        assert!(bad("", 0).contains("1 to 4096"));
        let one = SeccompFilter::new(&[RET_ALLOW], stats(1));
        assert!(bad(&one.bpf, 2).contains("stats say 2"));
        let no_ret = SeccompFilter::new(&[LD_NR], stats(1));
        assert!(bad(&no_ret.bpf, 1).contains("return"));
        let long = SeccompFilter::new(&vec![RET_ALLOW; 4097], stats(4097));
        assert!(bad(&long.bpf, 4097).contains("1 to 4096"));
    }
}
