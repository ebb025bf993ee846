//! What a proxy is started with: the ring's host policy, the secret, `--resolve`, limits,
//! the log.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::hosts::{HostName, HostPolicy};

/// The user name clients send with the secret (`http://nonoc:SECRET@127.0.0.1:PORT`).
pub const USER: &str = "nonoc";

/// The per-run secret that clients send as basic `Proxy-Authorization` (user
/// [`USER`]): without it, no other local process can use the proxy. 32 random bytes,
/// written as 64 hexadecimal digits (safe in a URL's user information as it is). `Debug`
/// does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A new secret from the system's random source.
    pub fn generate() -> io::Result<Secret> {
        let mut bytes = [0_u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        Ok(Secret(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A given secret (tests, or a caller that makes its own): at least 16 characters
    /// among letters, digits, `-`, `.`, `_` and `~` (URL-safe unescaped).
    pub fn new(text: &str) -> Option<Secret> {
        let ok = text.len() >= 16
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        ok.then(|| Secret(text.to_owned()))
    }

    /// The secret as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `Proxy-Authorization` header value a client sends.
    pub fn header_value(&self) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{}", self.0));
        format!("Basic {token}")
    }

    /// SHA-256 of `USER:SECRET`, what a client's credentials are compared with.
    pub(super) fn digest(&self) -> [u8; 32] {
        Sha256::digest(format!("{USER}:{}", self.0).as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Whether a `Proxy-Authorization` header value carries the secret whose digest is
/// `expected`. The credentials are hashed and the digests compared in constant time, so
/// neither the secret's bytes nor its length leak through timing.
pub(super) fn authorized(header: Option<&[u8]>, expected: &[u8; 32]) -> bool {
    let Some(value) = header else {
        return false;
    };
    let Some(split) = value.iter().position(|b| *b == b' ') else {
        return false;
    };
    let (scheme, token) = value.split_at(split);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return false;
    }
    let token = token.trim_ascii();
    let Ok(credentials) = base64::engine::general_purpose::STANDARD.decode(token) else {
        return false;
    };
    let given: [u8; 32] = Sha256::digest(&credentials).into();
    let difference = given
        .iter()
        .zip(expected)
        .fold(0_u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// The proxy's limits. Every refusal they cause is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Client connections served at once (tunnels included); one more is answered 503 and
    /// closed. Default 4096.
    pub max_connections: usize,
    /// The request line and headers together, in bytes; more is answered 431. Default
    /// 16 KiB, at least 8 KiB.
    pub max_header_bytes: usize,
    /// Time a client has to send a request's head (a slow client is cut off, with no
    /// answer). Default 10 s.
    pub header_timeout: Duration,
    /// Time a connection or tunnel may move no byte before it is closed. Default 300 s.
    pub idle_timeout: Duration,
    /// Time to resolve a name (answered 502 after). Default 10 s.
    pub resolve_timeout: Duration,
    /// Time to connect to an upstream address (the next address is tried after; 502 when
    /// none answers). Default 10 s.
    pub connect_timeout: Duration,
    /// Name look-ups running at once (each holds a thread); more wait. Default 16.
    pub max_lookups: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 4096,
            max_header_bytes: 16 * 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            resolve_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            max_lookups: 16,
        }
    }
}

/// Everything a proxy is started with.
pub struct ProxyConfig {
    pub(super) ring: u8,
    pub(super) policy: HostPolicy,
    pub(super) secret: Secret,
    pub(super) resolve: BTreeMap<HostName, Vec<IpAddr>>,
    pub(super) limits: Limits,
    pub(super) log: Option<LogSink>,
    /// Replaces `getaddrinfo` (tests: a resolver that fails or hangs, without DNS traffic).
    pub(super) lookup: Option<super::upstream::Lookup>,
}

/// Where decisions are logged.
pub(super) enum LogSink {
    File(std::fs::File),
    Writer(Box<dyn Write + Send>),
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("ring", &self.ring)
            .field("policy", &self.policy)
            .field("secret", &self.secret)
            .field("resolve", &self.resolve)
            .field("limits", &self.limits)
            .field("log", &self.log.is_some())
            .finish()
    }
}

impl ProxyConfig {
    /// A proxy for ring `ring` deciding by `policy`, with a fresh [`Secret`], default
    /// [`Limits`], no log.
    pub fn new(ring: u8, policy: HostPolicy) -> io::Result<ProxyConfig> {
        Ok(ProxyConfig {
            ring,
            policy,
            secret: Secret::generate()?,
            resolve: BTreeMap::new(),
            limits: Limits::default(),
            log: None,
            lookup: None,
        })
    }

    /// Uses this secret instead of a fresh one.
    #[must_use]
    pub fn with_secret(mut self, secret: Secret) -> ProxyConfig {
        self.secret = secret;
        self
    }

    /// The secret clients must send.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// `--resolve NAME=ADDR`: `name` resolves to `addr` (with the other addresses given
    /// for it) instead of through the system's resolver. The addresses are checked like any
    /// others: under `private: deny`, mapping a name to a loopback address refuses it.
    #[must_use]
    pub fn resolve(mut self, name: HostName, addr: IpAddr) -> ProxyConfig {
        let addrs = self.resolve.entry(name).or_default();
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
        self
    }

    /// Sets the limits. `max_header_bytes` below 8 KiB is raised to 8 KiB (the HTTP
    /// stack's minimum), a `max_connections` or `max_lookups` of 0 to 1.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> ProxyConfig {
        self.limits = Limits {
            max_connections: limits.max_connections.max(1),
            max_header_bytes: limits.max_header_bytes.max(8192),
            max_lookups: limits.max_lookups.max(1),
            ..limits
        };
        self
    }

    /// Logs each decision as one JSON line to this file (opened for append by the caller,
    /// so concurrent lines do not interleave).
    #[must_use]
    pub fn log_file(mut self, file: std::fs::File) -> ProxyConfig {
        self.log = Some(LogSink::File(file));
        self
    }

    /// Resolves names not in the `--resolve` map with `lookup` instead of `getaddrinfo`.
    #[cfg(test)]
    pub(super) fn lookup_with(mut self, lookup: super::upstream::Lookup) -> ProxyConfig {
        self.lookup = Some(lookup);
        self
    }

    /// Logs each decision as one JSON line to this writer (a proxy in a thread only: a
    /// proxy process needs a file).
    #[must_use]
    pub fn log_writer(mut self, writer: impl Write + Send + 'static) -> ProxyConfig {
        self.log = Some(LogSink::Writer(Box::new(writer)));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_authorizes() {
        let secret = Secret::new("0123456789abcdef0123").unwrap();
        let digest = secret.digest();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert!(authorized(Some(secret.header_value().as_bytes()), &digest));
        let good = b64("nonoc:0123456789abcdef0123");
        assert!(authorized(
            Some(format!("basic  {good}").as_bytes()),
            &digest
        ));
        for bad in [
            String::new(),
            "Basic".to_owned(),
            format!("Bearer {good}"),
            format!("Basic {}", b64("nonoc:0123456789abcdef012")),
            format!("Basic {}", b64("nonoc:0123456789abcdef01234")),
            format!("Basic {}", b64("other:0123456789abcdef0123")),
            format!("Basic {}", b64("0123456789abcdef0123")),
            "Basic !!!".to_owned(),
        ] {
            assert!(!authorized(Some(bad.as_bytes()), &digest), "{bad}");
        }
        assert!(!authorized(None, &digest));
    }

    #[test]
    fn secrets_are_random_url_safe_and_hidden_from_debug() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(!format!("{a:?}").contains(a.as_str()));
        assert!(Secret::new("short").is_none());
        assert!(Secret::new("has:colon/and@at12345").is_none());
    }
}
