//! Host names and the hosts requests name: one normal form, checked once.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest host name, in bytes, without a trailing dot (RFC 1035: 255 octets on the
/// wire, which is 253 characters of text).
pub const MAX_NAME_LEN: usize = 253;

/// The longest label, in bytes (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// Why a host name, address, pattern or port was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// Nothing to parse.
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    TooLong(usize),
    /// A label is longer than [`MAX_LABEL_LEN`] bytes.
    LabelTooLong(String),
    /// Two dots in a row, or a leading dot.
    EmptyLabel(String),
    /// A character other than ASCII letters, digits, `-` and `_`.
    BadCharacter {
        /// The name.
        name: String,
        /// The character.
        found: char,
    },
    /// A name with characters outside ASCII: internationalized names are written in their
    /// A-label (punycode) form.
    NonAscii(String),
    /// A label begins or ends with `-`.
    Hyphen(String),
    /// The last label is a number (`127.1`, `0x7f.1`): resolvers read such a name as an
    /// IPv4 address, so it is neither a name nor an address in dotted-quad form.
    NumericName(String),
    /// `*` anywhere but as a whole first label followed by a name (`*.example.com`).
    Wildcard(String),
    /// An IPv6 address with a zone (`fe80::1%eth0`).
    Zone(String),
    /// An IPv4-mapped IPv6 address in a pattern: write the IPv4 form.
    MappedPattern(String),
    /// A CIDR range whose prefix is too long for its address family, or not a number.
    Prefix(String),
    /// A CIDR range with bits set below its prefix (`10.1.0.1/16`).
    HostBits {
        /// The range as written.
        range: String,
        /// The range as it should be written.
        network: String,
    },
    /// A port that is not a number from 1 to 65535.
    Port(String),
    /// An authority (`host:port`) that cannot be split into a host and a port.
    Authority(String),
    /// Not an IP address.
    Address(String),
    /// Not `HOST=ADDR`.
    Resolve(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Empty => write!(f, "empty host name"),
            HostError::TooLong(n) => {
                write!(
                    f,
                    "host name is {n} bytes long, over the {MAX_NAME_LEN} allowed"
                )
            }
            HostError::LabelTooLong(l) => write!(
                f,
                "label `{l}` is over the {MAX_LABEL_LEN} bytes a label may have"
            ),
            HostError::EmptyLabel(n) => write!(f, "host name `{n}` has an empty label"),
            HostError::BadCharacter { name, found } => write!(
                f,
                "host name `{name}` holds `{}`: only ASCII letters, digits, `-` and `_` may appear in a label",
                found.escape_default()
            ),
            HostError::NonAscii(n) => write!(
                f,
                "host name `{}` is not ASCII: write internationalized names in their A-label (punycode) form, `xn--...`",
                n.escape_default()
            ),
            HostError::Hyphen(l) => write!(f, "label `{l}` begins or ends with `-`"),
            HostError::NumericName(n) => write!(
                f,
                "`{n}` ends in a number: resolvers read it as an IPv4 address; write addresses in dotted-quad form"
            ),
            HostError::Wildcard(n) => write!(
                f,
                "`{n}`: `*` may only stand as the whole first label, followed by a name (`*.example.com`)"
            ),
            HostError::Zone(a) => write!(f, "address `{a}` has a zone: zones are not supported"),
            HostError::MappedPattern(a) => write!(
                f,
                "`{a}` is an IPv4-mapped IPv6 address: write the IPv4 form"
            ),
            HostError::Prefix(r) => write!(f, "`{r}` has no valid prefix length"),
            HostError::HostBits { range, network } => write!(
                f,
                "`{range}` has bits set below its prefix: write `{network}`"
            ),
            HostError::Port(p) => write!(f, "`{p}` is not a port from 1 to 65535"),
            HostError::Authority(a) => {
                write!(f, "`{a}` is not a host and port (`host:port`, `[v6]:port`)")
            }
            HostError::Address(a) => write!(f, "`{a}` is not an IP address"),
            HostError::Resolve(r) => write!(
                f,
                "`{r}` is not a host name and an address (`HOST=ADDR`, `api.example.com=192.0.2.7`)"
            ),
        }
    }
}

impl std::error::Error for HostError {}

/// A host name in its normal form: ASCII, lower case, no trailing dot, 1 to 253 bytes of
/// labels of 1 to 63 letters, digits, `-` (not at either end) and `_`, the last label not
/// a number. Internationalized names are accepted in their A-label (`xn--`) form only: a
/// name with any other character is refused, so a U-label and its A-label can never be two
/// spellings of one host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

impl HostName {
    /// Checks and normalizes a name: ASCII letters to lower case, one trailing dot dropped.
    pub fn parse(text: &str) -> Result<HostName, HostError> {
        if !text.is_ascii() {
            return Err(HostError::NonAscii(text.to_owned()));
        }
        let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
        if name.is_empty() {
            return Err(HostError::Empty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(HostError::TooLong(name.len()));
        }
        for label in name.split('.') {
            check_label(&name, label)?;
        }
        if name.split('.').next_back().is_some_and(is_numeric_label) {
            return Err(HostError::NumericName(name));
        }
        Ok(HostName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this name is `parent` or lies below it (`a.b.example.com` below
    /// `example.com`); `strictly`: below it only.
    pub fn is_within(&self, parent: &HostName, strictly: bool) -> bool {
        match self.0.strip_suffix(parent.as_str()) {
            Some("") => !strictly,
            Some(rest) => rest.ends_with('.'),
            None => false,
        }
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_label(name: &str, label: &str) -> Result<(), HostError> {
    if label.is_empty() {
        return Err(HostError::EmptyLabel(name.to_owned()));
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(HostError::LabelTooLong(label.to_owned()));
    }
    if let Some(found) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(if found == '*' {
            HostError::Wildcard(name.to_owned())
        } else {
            HostError::BadCharacter {
                name: name.to_owned(),
                found,
            }
        });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(HostError::Hyphen(label.to_owned()));
    }
    Ok(())
}

/// A label the WHATWG URL parser and `inet_aton` read as a number: decimal digits, or
/// `0x` followed by hexadecimal digits (possibly none).
fn is_numeric_label(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .map(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    hex.unwrap_or_else(|| label.bytes().all(|b| b.is_ascii_digit()))
}

/// What a request names: a host name or an address literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// A name, normalized; the proxy resolves it.
    Name(HostName),
    /// An address literal, in its canonical form (an IPv4-mapped IPv6 address is its IPv4
    /// address: the connection goes there).
    Addr(IpAddr),
}

impl Host {
    /// Parses the host of a request: an IPv4 address in dotted-quad form, an IPv6 address
    /// (bracketed, as in a URL, or bare), or a host name ([`HostName::parse`]).
    pub fn parse(text: &str) -> Result<Host, HostError> {
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return parse_v6(inner).map(|a| Host::Addr(IpAddr::V6(a).to_canonical()));
        }
        if text.contains(':') {
            return parse_v6(text).map(|a| Host::Addr(IpAddr::V6(a).to_canonical()));
        }
        if let Ok(v4) = text.parse::<Ipv4Addr>() {
            return Ok(Host::Addr(IpAddr::V4(v4)));
        }
        HostName::parse(text).map(Host::Name)
    }
}

impl fmt::Display for Host {
    /// The host as it is written in an authority: IPv6 addresses in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => write!(f, "{n}"),
            Host::Addr(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Addr(IpAddr::V4(a)) => write!(f, "{a}"),
        }
    }
}

pub(super) fn parse_v6(text: &str) -> Result<Ipv6Addr, HostError> {
    if text.contains('%') {
        return Err(HostError::Zone(text.to_owned()));
    }
    text.parse::<Ipv6Addr>()
        .map_err(|_| HostError::Address(text.to_owned()))
}

/// Parses a port: 1 to 65535, decimal digits only.
pub fn parse_port(text: &str) -> Result<u16, HostError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostError::Port(text.to_owned()));
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(HostError::Port(text.to_owned())),
        Ok(p) => Ok(p),
    }
}

/// Splits `host:port` (`[v6]:port` for IPv6) into a host and a port; without a port,
/// `default_port` is used when given, else the authority is refused.
pub fn parse_authority(text: &str, default_port: Option<u16>) -> Result<(Host, u16), HostError> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Err(HostError::Authority(text.to_owned()));
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(HostError::Authority(text.to_owned())),
            },
        };
        (&text[..inner.len() + 2], port)
    } else {
        match text.rsplit_once(':') {
            Some((_, _)) if text.matches(':').count() > 1 => {
                return Err(HostError::Authority(text.to_owned()));
            }
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let port = match (port, default_port) {
        (Some(p), _) => parse_port(p)?,
        (None, Some(d)) => d,
        (None, None) => return Err(HostError::Authority(text.to_owned())),
    };
    Ok((Host::parse(host)?, port))
}

/// Parses `HOST=ADDR` (`nonoc exec --resolve`): a host name and the address that replaces
/// DNS for it.
pub fn parse_resolve(text: &str) -> Result<(HostName, IpAddr), HostError> {
    let Some((name, addr)) = text.split_once('=') else {
        return Err(HostError::Resolve(text.to_owned()));
    };
    let name = HostName::parse(name)?;
    let addr = match Host::parse(addr)? {
        Host::Addr(a) => a,
        Host::Name(_) => return Err(HostError::Address(addr.to_owned())),
    };
    Ok((name, addr))
}
