//! A ring's host lists and the decision they make.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::address::{AddressClass, IpRange, block_of, classify};
use super::name::{Host, HostError, HostName};

/// What a `hosts` or `deny_hosts` entry matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    /// One name (`api.openai.com`).
    Exact(HostName),
    /// Every name below this one, at any depth, not the name itself (`*.example.com`).
    Subdomains(HostName),
    /// An address or a CIDR range: matches address literals only (and, in `deny_hosts`,
    /// the addresses a name resolves to).
    Range(IpRange),
}

impl HostPattern {
    /// Parses an entry: a name, `*.` and a name, an address (IPv6 bare or bracketed) or a
    /// CIDR range. Names are normalized as [`HostName::parse`] does.
    pub fn parse(text: &str) -> Result<HostPattern, HostError> {
        if let Some(rest) = text.strip_prefix("*.") {
            return match Host::parse(rest) {
                Ok(Host::Name(name)) => Ok(HostPattern::Subdomains(name)),
                Ok(Host::Addr(_)) | Err(HostError::NumericName(_)) => {
                    Err(HostError::Wildcard(text.to_owned()))
                }
                Err(e) => Err(e),
            };
        }
        if text.contains('*') {
            return Err(HostError::Wildcard(text.to_owned()));
        }
        if text.contains('/') || text.contains(':') || text.parse::<IpAddr>().is_ok() {
            return IpRange::parse(text).map(HostPattern::Range);
        }
        HostName::parse(text).map(HostPattern::Exact)
    }

    /// Whether the pattern matches the host a request names.
    pub fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (HostPattern::Exact(p), Host::Name(n)) => p == n,
            (HostPattern::Subdomains(p), Host::Name(n)) => n.is_within(p, true),
            (HostPattern::Range(r), Host::Addr(a)) => r.contains(*a),
            _ => false,
        }
    }

    /// Whether the pattern matches an address (only address and range patterns do).
    pub fn matches_addr(&self, addr: IpAddr) -> bool {
        matches!(self, HostPattern::Range(r) if r.contains(addr))
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(n) => write!(f, "{n}"),
            HostPattern::Subdomains(n) => write!(f, "*.{n}"),
            HostPattern::Range(r) => write!(f, "{r}"),
        }
    }
}

impl TryFrom<String> for HostPattern {
    type Error = HostError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        HostPattern::parse(&text)
    }
}

impl From<HostPattern> for String {
    fn from(p: HostPattern) -> String {
        p.to_string()
    }
}

/// The ports an entry covers. In JSON: `"all"` or a list of ports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "compiler", schemars(with = "PortsSchema"))]
#[serde(try_from = "PortsText", into = "PortsText")]
pub enum Ports {
    /// Every port (a `deny_hosts` entry without ports).
    All,
    /// These ports, none 0 ([`Ports::only`] sorts them and drops duplicates).
    Only(Vec<u16>),
}

/// How [`Ports`] is written in JSON, for the artifact's schema.
#[cfg(feature = "compiler")]
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum PortsSchema {
    /// Every port.
    All(AllWord),
    /// These ports, ascending, each once.
    #[schemars(extend("uniqueItems" = true, "minItems" = 1))]
    Only(Vec<std::num::NonZeroU16>),
}

#[cfg(feature = "compiler")]
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
#[serde(rename_all = "snake_case")]
enum AllWord {
    All,
}

/// How [`Ports`] is written in JSON.
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum PortsText {
    Word(String),
    List(Vec<u16>),
}

impl TryFrom<PortsText> for Ports {
    type Error = HostError;
    fn try_from(text: PortsText) -> Result<Ports, HostError> {
        match text {
            PortsText::Word(w) if w == "all" => Ok(Ports::All),
            PortsText::Word(w) => Err(HostError::Port(w)),
            // Read as written: ascending, each once (as `only` leaves them).
            PortsText::List(list) if list.windows(2).any(|w| w[0] >= w[1]) => Err(HostError::Port(
                list.iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
            PortsText::List(list) => Ports::only(list),
        }
    }
}

impl From<Ports> for PortsText {
    fn from(ports: Ports) -> PortsText {
        match ports {
            Ports::All => PortsText::Word("all".to_owned()),
            Ports::Only(list) => PortsText::List(list),
        }
    }
}

impl Ports {
    /// The ports of a `hosts` entry that names none: 443.
    pub const DEFAULT_ALLOW: u16 = 443;

    /// These ports (sorted and deduplicated); refused when empty or holding 0.
    pub fn only(ports: impl IntoIterator<Item = u16>) -> Result<Ports, HostError> {
        let mut ports: Vec<u16> = ports.into_iter().collect();
        if ports.is_empty() || ports.contains(&0) {
            return Err(HostError::Port(
                ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        ports.sort_unstable();
        ports.dedup();
        Ok(Ports::Only(ports))
    }

    /// Whether the port is covered.
    pub fn contains(&self, port: u16) -> bool {
        match self {
            Ports::All => true,
            Ports::Only(p) => p.contains(&port),
        }
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ports::All => f.write_str("every port"),
            Ports::Only(p) => {
                let list: Vec<String> = p.iter().map(u16::to_string).collect();
                f.write_str(&list.join(", "))
            }
        }
    }
}

/// One `hosts` or `deny_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HostRule {
    /// What it matches: a host name, `*.` and a name, an address or a CIDR range, in normal
    /// form.
    #[serde(with = "pattern_text")]
    #[cfg_attr(feature = "compiler", schemars(with = "String"))]
    pub pattern: HostPattern,
    /// The ports it covers.
    pub ports: Ports,
}

impl HostRule {
    /// A `hosts` entry: the ports given, or 443 when none are.
    pub fn allow(pattern: HostPattern, ports: &[u16]) -> Result<HostRule, HostError> {
        let ports = if ports.is_empty() {
            Ports::only([Ports::DEFAULT_ALLOW])?
        } else {
            Ports::only(ports.iter().copied())?
        };
        Ok(HostRule { pattern, ports })
    }

    /// A `deny_hosts` entry: the ports given, or every port when none are.
    pub fn deny(pattern: HostPattern, ports: &[u16]) -> Result<HostRule, HostError> {
        let ports = if ports.is_empty() {
            Ports::All
        } else {
            Ports::only(ports.iter().copied())?
        };
        Ok(HostRule { pattern, ports })
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({})", self.pattern, self.ports)
    }
}

mod pattern_text {
    use super::HostPattern;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &HostPattern, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(p)
    }

    /// Only the normal form is read (`a.test`, not `A.test` or `a.test.`): what is read is
    /// exactly what is written back.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HostPattern, D::Error> {
        let text = String::deserialize(d)?;
        let pattern = HostPattern::parse(&text).map_err(serde::de::Error::custom)?;
        if pattern.to_string() != text {
            return Err(serde::de::Error::custom(format!(
                "`{}` is not in normal form: write `{pattern}`",
                text.escape_default()
            )));
        }
        Ok(pattern)
    }
}

/// Whether names may lead to non-global addresses (`network.private`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Private {
    /// Only global addresses (the default).
    #[default]
    Deny,
    /// Loopback, private, link-local, CGNAT, unique-local and reserved addresses too.
    Allow,
}

/// A ring's egress by host name: `hosts`, `deny_hosts` and `private`.
///
/// A request is decided in two steps. [`decide`](HostPolicy::decide) takes the host and
/// port the request names, before anything is resolved: `deny_hosts` first, then `hosts`;
/// a name entry never matches an address literal, an address or range entry never matches
/// a name. An address literal must also be a destination, not a metadata endpoint, and,
/// when not [`AddressClass::Global`], granted explicitly (an entry that lies within the
/// special-purpose block the address is in, `10.1.0.0/16` for `10.1.2.3`) or by
/// `private: allow`. A name that `decide` allows is then resolved, and
/// [`decide_addresses`](HostPolicy::decide_addresses) checks every address it resolved to:
/// metadata endpoints and non-destinations are refused, address entries of `deny_hosts`
/// apply, and under `private: deny` only global addresses pass. One refused address
/// refuses the request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HostPolicy {
    /// `hosts`, in the policy's order.
    #[serde(default)]
    pub hosts: Vec<HostRule>,
    /// `deny_hosts`, in the policy's order.
    #[serde(default)]
    pub deny_hosts: Vec<HostRule>,
    /// `private`.
    #[serde(default)]
    pub private: Private,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The connection may be made.
    Allow,
    /// It may not.
    Deny,
}

/// What decided a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// `hosts[i]` allowed it.
    Host(usize),
    /// `deny_hosts[i]` refused it.
    DenyHost(usize),
    /// `hosts[i]` matches the host but not the port (the first such entry).
    Port(usize),
    /// No `hosts` entry matches the host.
    NotListed,
    /// The address is not global and `private` is `deny` (and, for an address literal, no
    /// entry grants it explicitly).
    Private(IpAddr, AddressClass),
    /// A cloud metadata or credential endpoint: refused whatever the policy says.
    Metadata(IpAddr),
    /// The unspecified address, multicast or broadcast: no single destination.
    NotDestination(IpAddr, AddressClass),
    /// The name resolved to no address.
    NoAddress,
}

impl Rule {
    /// The rule's short name in logs: `hosts[2]`, `deny_hosts[0]`, `hosts[1].ports`,
    /// `hosts`, `private`, `metadata`, `not_a_destination`, `no_address`.
    pub fn id(&self) -> String {
        match self {
            Rule::Host(i) => format!("hosts[{i}]"),
            Rule::DenyHost(i) => format!("deny_hosts[{i}]"),
            Rule::Port(i) => format!("hosts[{i}].ports"),
            Rule::NotListed => "hosts".to_owned(),
            Rule::Private(..) => "private".to_owned(),
            Rule::Metadata(_) => "metadata".to_owned(),
            Rule::NotDestination(..) => "not_a_destination".to_owned(),
            Rule::NoAddress => "no_address".to_owned(),
        }
    }

    /// The address the rule is about, where it is about one.
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Rule::Private(a, _) | Rule::Metadata(a) | Rule::NotDestination(a, _) => Some(*a),
            _ => None,
        }
    }
}

/// A decision and the rule that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Verdict {
    /// Allow or deny.
    pub decision: Decision,
    /// Why.
    pub rule: Rule,
}

impl Verdict {
    fn allow(rule: Rule) -> Verdict {
        Verdict {
            decision: Decision::Allow,
            rule,
        }
    }

    fn deny(rule: Rule) -> Verdict {
        Verdict {
            decision: Decision::Deny,
            rule,
        }
    }

    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allow
    }
}

impl HostPolicy {
    /// A policy; `hosts` and `deny_hosts` keep their order (rules are named by index).
    pub fn new(hosts: Vec<HostRule>, deny_hosts: Vec<HostRule>, private: Private) -> HostPolicy {
        HostPolicy {
            hosts,
            deny_hosts,
            private,
        }
    }

    /// Decides a request for `host` at `port` before anything is resolved. For a name, an
    /// allow says the name may be resolved; its addresses still go through
    /// [`decide_addresses`](HostPolicy::decide_addresses).
    pub fn decide(&self, host: &Host, port: u16) -> Verdict {
        if let Host::Addr(addr) = host
            && let Some(refused) = self.refuse_always(*addr)
        {
            return refused;
        }
        if let Some(i) = self
            .deny_hosts
            .iter()
            .position(|r| r.pattern.matches(host) && r.ports.contains(port))
        {
            return Verdict::deny(Rule::DenyHost(i));
        }
        let mut wrong_port = None;
        for (i, rule) in self.hosts.iter().enumerate() {
            if !rule.pattern.matches(host) {
                continue;
            }
            if !rule.ports.contains(port) {
                wrong_port.get_or_insert(i);
                continue;
            }
            if let (Host::Addr(addr), HostPattern::Range(range)) = (host, &rule.pattern)
                && let Some(refused) = self.refuse_private(*addr, Some(range))
            {
                return refused;
            }
            return Verdict::allow(Rule::Host(i));
        }
        Verdict::deny(wrong_port.map_or(Rule::NotListed, Rule::Port))
    }

    /// Decides a request for the name `name` at `port` that resolved to `addrs`: the
    /// name's verdict ([`decide`](HostPolicy::decide)) if it denies, else the first address
    /// refused (metadata, not a destination, an address entry of `deny_hosts`, a
    /// non-global address under `private: deny`), else the name's allow. No address is a
    /// denial ([`Rule::NoAddress`]).
    pub fn decide_addresses(&self, name: &HostName, port: u16, addrs: &[IpAddr]) -> Verdict {
        let verdict = self.decide(&Host::Name(name.clone()), port);
        if !verdict.is_allowed() {
            return verdict;
        }
        if addrs.is_empty() {
            return Verdict::deny(Rule::NoAddress);
        }
        for addr in addrs {
            let addr = addr.to_canonical();
            if let Some(refused) = self.refuse_always(addr) {
                return refused;
            }
            if let Some(i) = self
                .deny_hosts
                .iter()
                .position(|r| r.pattern.matches_addr(addr) && r.ports.contains(port))
            {
                return Verdict::deny(Rule::DenyHost(i));
            }
            if let Some(refused) = self.refuse_private(addr, None) {
                return refused;
            }
        }
        verdict
    }

    /// Metadata endpoints and addresses that are no destination.
    fn refuse_always(&self, addr: IpAddr) -> Option<Verdict> {
        match classify(addr) {
            AddressClass::Metadata => Some(Verdict::deny(Rule::Metadata(addr))),
            class if !class.is_destination() => {
                Some(Verdict::deny(Rule::NotDestination(addr, class)))
            }
            _ => None,
        }
    }

    /// A non-global address under `private: deny`, unless `granted_by` (an address entry
    /// that matched it) lies within the special-purpose block the address is in.
    fn refuse_private(&self, addr: IpAddr, granted_by: Option<&IpRange>) -> Option<Verdict> {
        let class = classify(addr);
        if class == AddressClass::Global || self.private == Private::Allow {
            return None;
        }
        let explicit = granted_by.is_some_and(|range| {
            block_of(range.network()).is_some_and(|(block, _)| block.covers(range))
        });
        (!explicit).then(|| Verdict::deny(Rule::Private(addr, class)))
    }

    /// The verdict said in a sentence for people (a refusal's response body, `explain`):
    /// `` `evil.test` is not in `hosts` ``.
    pub fn describe(&self, host: &Host, port: u16, verdict: &Verdict) -> String {
        let entry = |list: &[HostRule], i: usize| {
            list.get(i)
                .map_or_else(|| "?".to_owned(), ToString::to_string)
        };
        match verdict.rule {
            Rule::Host(i) => format!(
                "`{host}:{port}` is allowed by hosts[{i}] {}",
                entry(&self.hosts, i)
            ),
            Rule::DenyHost(i) => format!(
                "`{host}:{port}` is refused by deny_hosts[{i}] {}",
                entry(&self.deny_hosts, i)
            ),
            Rule::Port(i) => format!(
                "port {port} is not among the ports of hosts[{i}] {}",
                entry(&self.hosts, i)
            ),
            Rule::NotListed => match host {
                Host::Name(_) => format!("`{host}` is not in `hosts`"),
                Host::Addr(_) => format!(
                    "`{host}` is an address and no address or range in `hosts` holds it (name entries never match an address)"
                ),
            },
            Rule::Private(addr, class) => format!(
                "`{host}` leads to {addr}, a {} address, and `private` is `deny`",
                class.name().replace('_', "-")
            ),
            Rule::Metadata(addr) => format!(
                "`{host}` leads to {addr}, a cloud metadata endpoint, refused whatever the policy says"
            ),
            Rule::NotDestination(addr, class) => format!(
                "`{host}` leads to {addr}, a {} address, which is no destination",
                class.name()
            ),
            Rule::NoAddress => format!("`{host}` resolved to no address"),
        }
    }
}
