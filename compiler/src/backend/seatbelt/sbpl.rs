//! The typed SBPL tree: the subset of the language nonoc prints. The lowering builds it, the
//! printer (`print.rs`) is the only code that turns it into text, and the oracle's reader
//! turns printed text back into it.

use nonoc_runtime::artifact::PROXY_PORT_PLACEHOLDER;

/// A whole profile, form by form, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub forms: Vec<Form>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `(version N)`.
    Version(u32),
    /// `; text`, a whole line.
    Comment(String),
    /// An empty line.
    Blank,
    Rule(Rule),
}

/// `(allow|deny OPERATION... FILTER...)`: the filters at the top level are alternatives (any
/// one matching is enough); no filter matches everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub decision: Decision,
    pub operations: Vec<Operation>,
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    Allow,
    Deny,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
}

macro_rules! names {
    ($(#[$meta:meta])* $ty:ident { $($variant:ident = $name:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $ty {
            $($variant,)*
        }

        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)*
                }
            }

            pub fn from_name(name: &str) -> Option<$ty> {
                match name {
                    $($name => Some($ty::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

names! {
    /// An operation. A name ending in `*` covers every operation whose name starts with what
    /// comes before the `*`; `default` covers every operation.
    Operation {
        Default = "default",
        FileRead = "file-read*",
        FileReadData = "file-read-data",
        FileReadMetadata = "file-read-metadata",
        FileWrite = "file-write*",
        FileWriteData = "file-write-data",
        FileWriteCreate = "file-write-create",
        FileWriteUnlink = "file-write-unlink",
        FileMapExecutable = "file-map-executable",
        FileIoctl = "file-ioctl",
        ProcessExec = "process-exec",
        ProcessFork = "process-fork",
        ProcessInfo = "process-info*",
        Signal = "signal",
        MachLookup = "mach-lookup",
        MachPrivTaskPort = "mach-priv-task-port",
        SysctlRead = "sysctl-read",
        Network = "network*",
        NetworkOutbound = "network-outbound",
        NetworkInbound = "network-inbound",
        NetworkBind = "network-bind",
        SystemSocket = "system-socket",
    }
}

impl Operation {
    /// Whether a rule naming `self` applies to the operation `other`.
    pub fn covers(self, other: Operation) -> bool {
        if self == other || self == Operation::Default {
            return true;
        }
        match self.name().strip_suffix('*') {
            Some(prefix) => other.name().starts_with(prefix),
            None => false,
        }
    }

    /// A wildcard (`default` or a name ending in `*`).
    pub fn is_wildcard(self) -> bool {
        self == Operation::Default || self.name().ends_with('*')
    }
}

names! {
    /// The type of a file system object (`vnode-type`).
    Vnode {
        RegularFile = "REGULAR-FILE",
        Directory = "DIRECTORY",
        Symlink = "SYMLINK",
        Socket = "SOCKET",
        Fifo = "FIFO",
        CharacterDevice = "CHARACTER-DEVICE",
        BlockDevice = "BLOCK-DEVICE",
    }
}

names! {
    /// Which processes a `signal` or `process-info*` rule reaches.
    Target {
        Own = "self",
        SameSandbox = "same-sandbox",
    }
}

names! {
    Proto {
        Tcp = "tcp",
        Udp = "udp",
    }
}

names! {
    Domain {
        Inet = "AF_INET",
        Inet6 = "AF_INET6",
        Unix = "AF_UNIX",
    }
}

names! {
    SocketType {
        Stream = "SOCK_STREAM",
        Datagram = "SOCK_DGRAM",
    }
}

/// The host of a network filter: SBPL accepts only these two (an IP address makes the whole
/// profile fail to compile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    Any,
    Localhost,
}

/// The port of a network filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Port {
    /// `*`.
    Any,
    Number(std::num::NonZeroU16),
    /// The egress proxy's port, known only at apply time: printed as the placeholder
    /// `PROXY_PORT_PLACEHOLDER`, which the runtime replaces with the port of the proxy it
    /// started (`nonoc_runtime::seatbelt::profile_text`).
    Proxy,
}

/// `HOST:PORT` of a network filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub host: Host,
    pub port: Port,
}

impl Address {
    /// The string SBPL takes: `*:443`, `localhost:*`.
    pub fn text(self) -> String {
        let host = match self.host {
            Host::Any => "*",
            Host::Localhost => "localhost",
        };
        match self.port {
            Port::Number(p) => format!("{host}:{p}"),
            Port::Any => format!("{host}:*"),
            Port::Proxy => format!("{host}:{PROXY_PORT_PLACEHOLDER}"),
        }
    }

    /// The inverse of [`Address::text`].
    pub fn parse(text: &str) -> Option<Address> {
        let (host, port) = text.split_once(':')?;
        let host = match host {
            "*" => Host::Any,
            "localhost" => Host::Localhost,
            _ => return None,
        };
        let port = match port {
            "*" => Port::Any,
            PROXY_PORT_PLACEHOLDER => Port::Proxy,
            p if !p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit()) => {
                Port::Number(p.parse::<std::num::NonZeroU16>().ok()?)
            }
            _ => return None,
        };
        Some(Address { host, port })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The path itself.
    Literal(Str),
    /// The path and everything under it, by whole components.
    Subpath(Str),
    /// Paths the regular expression matches.
    Regex(Str),
    /// The path and each directory above it.
    PathAncestors(Str),
    VnodeType(Vnode),
    RequireAll(Vec<Filter>),
    RequireAny(Vec<Filter>),
    RequireNot(Box<Filter>),
    Target(Target),
    /// The peer's address (outbound).
    Remote(Proto, Address),
    /// The socket's own address (bind, inbound).
    Local(Proto, Address),
    /// `(remote unix-socket)`: any unix socket peer (outbound).
    RemoteUnixSocket,
    SocketDomain(Domain),
    SocketType(SocketType),
    SysctlName(Str),
    SysctlNamePrefix(Str),
    GlobalName(Str),
}

impl Filter {
    /// The filter's name in SBPL.
    pub fn name(&self) -> &'static str {
        match self {
            Filter::Literal(_) => "literal",
            Filter::Subpath(_) => "subpath",
            Filter::Regex(_) => "regex",
            Filter::PathAncestors(_) => "path-ancestors",
            Filter::VnodeType(_) => "vnode-type",
            Filter::RequireAll(_) => "require-all",
            Filter::RequireAny(_) => "require-any",
            Filter::RequireNot(_) => "require-not",
            Filter::Target(_) => "target",
            Filter::Remote(..) | Filter::RemoteUnixSocket => "remote",
            Filter::Local(..) => "local",
            Filter::SocketDomain(_) => "socket-domain",
            Filter::SocketType(_) => "socket-type",
            Filter::SysctlName(_) => "sysctl-name",
            Filter::SysctlNamePrefix(_) => "sysctl-name-prefix",
            Filter::GlobalName(_) => "global-name",
        }
    }
}

/// A string expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    /// A string literal, printed between quotes with `\` and `"` escaped.
    Lit(String),
    /// `(param "NAME")`: a value the runtime passes in.
    Param(String),
    /// `(string-append ...)`.
    Append(Vec<Str>),
    /// `(regex-quote ...)`: the string as a regular expression that matches only itself.
    RegexQuote(Box<Str>),
}

impl Str {
    pub fn lit(text: impl Into<String>) -> Str {
        Str::Lit(text.into())
    }
}

/// Every string literal, comment and parameter name of a profile, for the lints.
pub fn walk_strings<'a>(profile: &'a Profile, visit: &mut dyn FnMut(StrRef<'a>)) {
    fn in_str<'a>(s: &'a Str, visit: &mut dyn FnMut(StrRef<'a>)) {
        match s {
            Str::Lit(t) => visit(StrRef::Literal(t)),
            Str::Param(p) => visit(StrRef::Param(p)),
            Str::Append(parts) => parts.iter().for_each(|p| in_str(p, visit)),
            Str::RegexQuote(inner) => in_str(inner, visit),
        }
    }
    fn in_filter<'a>(f: &'a Filter, visit: &mut dyn FnMut(StrRef<'a>)) {
        match f {
            Filter::Literal(s)
            | Filter::Subpath(s)
            | Filter::PathAncestors(s)
            | Filter::SysctlName(s)
            | Filter::SysctlNamePrefix(s)
            | Filter::GlobalName(s) => in_str(s, visit),
            Filter::Regex(s) => {
                visit(StrRef::Regex(s));
                in_str(s, visit);
            }
            Filter::RequireAll(fs) | Filter::RequireAny(fs) => {
                fs.iter().for_each(|f| in_filter(f, visit));
            }
            Filter::RequireNot(f) => in_filter(f, visit),
            Filter::VnodeType(_)
            | Filter::Target(_)
            | Filter::Remote(..)
            | Filter::RemoteUnixSocket
            | Filter::Local(..)
            | Filter::SocketDomain(_)
            | Filter::SocketType(_) => {}
        }
    }
    for form in &profile.forms {
        match form {
            Form::Comment(c) => visit(StrRef::Comment(c)),
            Form::Rule(rule) => rule.filters.iter().for_each(|f| in_filter(f, visit)),
            Form::Version(_) | Form::Blank => {}
        }
    }
}

/// One text-bearing part of a profile.
#[derive(Debug, Clone, Copy)]
pub enum StrRef<'a> {
    Literal(&'a str),
    Comment(&'a str),
    Param(&'a str),
    /// The whole expression of a `(regex ...)` filter.
    Regex(&'a Str),
}

/// Every filter of a profile, nested ones included.
pub fn walk_filters<'a>(profile: &'a Profile, visit: &mut dyn FnMut(&'a Filter)) {
    fn go<'a>(f: &'a Filter, visit: &mut dyn FnMut(&'a Filter)) {
        visit(f);
        match f {
            Filter::RequireAll(fs) | Filter::RequireAny(fs) => fs.iter().for_each(|f| go(f, visit)),
            Filter::RequireNot(f) => go(f, visit),
            _ => {}
        }
    }
    for form in &profile.forms {
        if let Form::Rule(rule) = form {
            rule.filters.iter().for_each(|f| go(f, visit));
        }
    }
}
