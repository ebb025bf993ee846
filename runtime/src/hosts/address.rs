//! What kind of destination an address is, and CIDR ranges.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::name::{HostError, parse_v6};

/// Cloud metadata and credential endpoints: refused whatever a policy says. The instance
/// metadata services of AWS, GCP, Azure and Oracle (169.254.169.254, and AWS's IPv6
/// fd00:ec2::254), Alibaba's (100.100.100.200), and the credential endpoints of AWS ECS
/// tasks (169.254.170.2) and EKS Pod Identity (169.254.170.23, fd00:ec2::23).
pub const METADATA: [IpAddr; 6] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
];

/// What kind of destination an address is. Only [`Global`](AddressClass::Global) addresses
/// are reachable under `private: deny`; `private: allow` adds every class but
/// [`Metadata`](AddressClass::Metadata) and the ones that are no destination
/// ([`is_destination`](AddressClass::is_destination)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AddressClass {
    /// Anything not listed below: the public internet.
    Global,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918).
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 100.64.0.0/10, carrier-grade NAT (RFC 6598).
    SharedCgnat,
    /// fc00::/7 (RFC 4193) and the deprecated site-local fec0::/10.
    UniqueLocal,
    /// Documentation, benchmarking, IETF protocol assignments, future use, NAT64 local use,
    /// Teredo, SRv6, IPv4-compatible IPv6 and the other special-purpose blocks (RFC 6890 and
    /// its successors) that are no public destination.
    Reserved,
    /// 0.0.0.0/8 and `::`: on Linux a connection to 0.0.0.0 reaches the local host.
    Unspecified,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// A cloud metadata or credential endpoint ([`METADATA`]).
    Metadata,
}

impl AddressClass {
    /// The class's name in decisions and logs (`loopback`, `shared_cgnat`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AddressClass::Global => "global",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link_local",
            AddressClass::SharedCgnat => "shared_cgnat",
            AddressClass::UniqueLocal => "unique_local",
            AddressClass::Reserved => "reserved",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Metadata => "metadata",
        }
    }

    /// Whether a connection to such an address goes to one host that a policy may grant:
    /// false for the unspecified address, multicast and broadcast, which are refused
    /// whatever the policy says.
    pub fn is_destination(self) -> bool {
        !matches!(
            self,
            AddressClass::Unspecified | AddressClass::Multicast | AddressClass::Broadcast
        )
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The IPv4 blocks that are not [`AddressClass::Global`], most specific first where they
/// nest (255.255.255.255 in 240.0.0.0/4).
const V4_BLOCKS: &[([u8; 4], u8, AddressClass)] = &[
    ([0, 0, 0, 0], 8, AddressClass::Unspecified),
    ([10, 0, 0, 0], 8, AddressClass::Private),
    ([100, 64, 0, 0], 10, AddressClass::SharedCgnat),
    ([127, 0, 0, 0], 8, AddressClass::Loopback),
    ([169, 254, 0, 0], 16, AddressClass::LinkLocal),
    ([172, 16, 0, 0], 12, AddressClass::Private),
    ([192, 0, 0, 0], 24, AddressClass::Reserved),
    ([192, 0, 2, 0], 24, AddressClass::Reserved),
    ([192, 88, 99, 0], 24, AddressClass::Reserved),
    ([192, 168, 0, 0], 16, AddressClass::Private),
    ([198, 18, 0, 0], 15, AddressClass::Reserved),
    ([198, 51, 100, 0], 24, AddressClass::Reserved),
    ([203, 0, 113, 0], 24, AddressClass::Reserved),
    ([224, 0, 0, 0], 4, AddressClass::Multicast),
    ([255, 255, 255, 255], 32, AddressClass::Broadcast),
    ([240, 0, 0, 0], 4, AddressClass::Reserved),
];

/// The IPv6 blocks that are not [`AddressClass::Global`] and embed no IPv4 address, most
/// specific first where they nest.
const V6_BLOCKS: &[([u16; 8], u8, AddressClass)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 128, AddressClass::Unspecified),
    ([0, 0, 0, 0, 0, 0, 0, 1], 128, AddressClass::Loopback),
    // IPv4-translated (SIIT, RFC 2765) and IPv4-compatible (deprecated): the kernel does not
    // route them to IPv4.
    ([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, AddressClass::Reserved),
    ([0, 0, 0, 0, 0, 0, 0, 0], 96, AddressClass::Reserved),
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, AddressClass::Reserved),
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, AddressClass::Reserved),
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, AddressClass::Reserved),
    (
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        AddressClass::Reserved,
    ),
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, AddressClass::Reserved),
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, AddressClass::Reserved),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, AddressClass::UniqueLocal),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, AddressClass::LinkLocal),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, AddressClass::UniqueLocal),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, AddressClass::Multicast),
];

/// The IPv4 address an IPv6 address leads to: IPv4-mapped (`::ffff:a.b.c.d`, where the
/// connection goes), NAT64's well-known prefix (`64:ff9b::/96`, RFC 6052) and 6to4
/// (`2002:AABB:CCDD::/48`, RFC 3056), whose gateways forward to the embedded address.
pub fn embedded_v4(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = addr.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// The class of an address. An IPv6 address that leads to an IPv4 address
/// ([`embedded_v4`]) has that address's class, but that a 6to4 or NAT64 address of a
/// global IPv4 address is global. An address whose embedded or own form is a metadata
/// endpoint is [`AddressClass::Metadata`] in every form.
pub fn classify(addr: IpAddr) -> AddressClass {
    if is_metadata(addr) {
        return AddressClass::Metadata;
    }
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => block_of(addr).map_or(AddressClass::Global, |(_, c)| c),
        },
    }
}

/// Whether an address is a metadata endpoint in any of its forms (IPv4-mapped,
/// IPv4-compatible, NAT64, 6to4).
pub fn is_metadata(addr: IpAddr) -> bool {
    let v4 = match addr {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => embedded_v4(v6).or_else(|| {
            let s = v6.segments();
            // IPv4-compatible `::a.b.c.d`.
            (s[..6] == [0; 6]).then(|| Ipv4Addr::from(v6.to_bits() as u32))
        }),
    };
    METADATA.contains(&addr) || v4.is_some_and(|v4| METADATA.contains(&IpAddr::V4(v4)))
}

fn classify_v4(v4: Ipv4Addr) -> AddressClass {
    if is_metadata(IpAddr::V4(v4)) {
        return AddressClass::Metadata;
    }
    block_of(IpAddr::V4(v4)).map_or(AddressClass::Global, |(_, c)| c)
}

/// The special-purpose block an address lies in, and its class (`None`: global). IPv6
/// addresses that embed IPv4 ones are looked up as IPv6 here.
pub(super) fn block_of(addr: IpAddr) -> Option<(IpRange, AddressClass)> {
    match addr {
        IpAddr::V4(_) => V4_BLOCKS.iter().find_map(|&(base, prefix, class)| {
            let range = IpRange::new_unchecked(IpAddr::V4(Ipv4Addr::from(base)), prefix);
            range.contains(addr).then_some((range, class))
        }),
        IpAddr::V6(_) => V6_BLOCKS.iter().find_map(|&(base, prefix, class)| {
            let range = IpRange::new_unchecked(IpAddr::V6(Ipv6Addr::from(base)), prefix);
            range.contains(addr).then_some((range, class))
        }),
    }
}

/// An address range in CIDR form (`10.1.0.0/16`, `2001:db8::/32`), no bits set below the
/// prefix. A single address is a range with a full prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// A range; refused when the prefix is too long for the family or bits are set below
    /// it.
    pub fn new(network: IpAddr, prefix: u8) -> Result<IpRange, HostError> {
        let bits = family_bits(network);
        if prefix > bits {
            return Err(HostError::Prefix(format!("{network}/{prefix}")));
        }
        let range = IpRange::new_unchecked(network, prefix);
        if range.network != network {
            return Err(HostError::HostBits {
                range: format!("{network}/{prefix}"),
                network: range.to_string(),
            });
        }
        Ok(range)
    }

    /// The range holding `network` at this prefix (bits below it cleared).
    fn new_unchecked(network: IpAddr, prefix: u8) -> IpRange {
        let network = match network {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(a.to_bits() & mask32(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(a.to_bits() & mask128(prefix))),
        };
        IpRange { network, prefix }
    }

    /// Parses `ADDR/PREFIX`, or a single address (IPv6 bare or bracketed).
    pub fn parse(text: &str) -> Result<IpRange, HostError> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HostError::Prefix(text.to_owned()));
                }
                let p: u8 = p.parse().map_err(|_| HostError::Prefix(text.to_owned()))?;
                (a, Some(p))
            }
            None => (text, None),
        };
        let addr = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        let addr = if addr.contains(':') {
            let v6 = parse_v6(addr)?;
            if v6.to_ipv4_mapped().is_some() {
                return Err(HostError::MappedPattern(text.to_owned()));
            }
            IpAddr::V6(v6)
        } else {
            IpAddr::V4(
                addr.parse::<Ipv4Addr>()
                    .map_err(|_| HostError::Address(text.to_owned()))?,
            )
        };
        IpRange::new(addr, prefix.unwrap_or(family_bits(addr)))
    }

    /// The first address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether the range holds one address only.
    pub fn is_single(&self) -> bool {
        self.prefix == family_bits(self.network)
    }

    /// Whether `addr` lies in the range (an address of the other family never does).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => a.to_bits() & mask32(self.prefix) == n.to_bits(),
            (IpAddr::V6(n), IpAddr::V6(a)) => a.to_bits() & mask128(self.prefix) == n.to_bits(),
            _ => false,
        }
    }

    /// Whether every address of `other` lies in this range.
    pub fn covers(&self, other: &IpRange) -> bool {
        other.prefix >= self.prefix && self.contains(other.network)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

fn family_bits(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}
