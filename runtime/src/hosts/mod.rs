//! Egress by host name: the decision, as plain data and functions.
//!
//! One implementation serves the compiler (`decide`, `explain --host`, the `host:` test key)
//! and the egress proxy (the `egress` feature), so the two cannot disagree. Nothing here
//! resolves names or touches the network: the proxy resolves a name that
//! [`HostPolicy::decide`] allows and hands the addresses to
//! [`HostPolicy::decide_addresses`].
//!
//! Names are compared in one normal form ([`HostName`]): ASCII lower case, no trailing dot.
//! Internationalized names are accepted as A-labels (`xn--...`) only; a name with any
//! other non-ASCII character is refused rather than converted, so no Unicode mapping
//! table stands between a policy and a request.

mod address;
mod name;
mod policy;
#[cfg(test)]
mod tests;

pub use address::{AddressClass, IpRange, METADATA, classify, embedded_v4, is_metadata};
pub use name::{
    Host, HostError, HostName, MAX_LABEL_LEN, MAX_NAME_LEN, parse_authority, parse_port,
    parse_resolve,
};
pub use policy::{Decision, HostPattern, HostPolicy, HostRule, Ports, Private, Rule, Verdict};
