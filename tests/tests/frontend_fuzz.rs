//! The front end never panics, and every diagnostic it reports is well formed, whatever the
//! input: arbitrary bytes, YAML-shaped documents built from the policy language's own field
//! names and near-valid values, and random edits of the example policies. Plus deterministic
//! hostile inputs (alias bombs, deep nesting, huge files) that must be refused by a budget.
//!
//! "Well formed" means: a code from `Code::ALL`, a non-empty message starting in lower case
//! (an acronym such as `YAML` may lead) that names no Rust type, a span inside the input (only
//! whole-file problems may have none), related spans inside the input, no IR exactly when
//! there is an error, and rendering the diagnostics does not panic.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use nonoc::diagnostic::{Code, Diagnostic, render};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------------------------
// The invariants
// ---------------------------------------------------------------------------------------------

/// Codes that describe the whole file and so may come without a span.
const WHOLE_FILE: &[Code] = &[Code::ParserBudget, Code::EmptyDocument];

fn assert_well_formed(diagnostic: &Diagnostic, input: &[u8]) {
    let context = || {
        format!(
            "{diagnostic:#?}\ninput: {:?}",
            String::from_utf8_lossy(input)
        )
    };
    assert!(Code::ALL.contains(&diagnostic.code), "{}", context());
    let message = &diagnostic.message;
    let mut chars = message.chars();
    let first = chars.next();
    assert!(first.is_some(), "empty message: {}", context());
    let first = first.unwrap_or_default();
    let acronym = chars.next().is_some_and(char::is_uppercase);
    assert!(
        !first.is_uppercase() || acronym,
        "the message does not start in lower case: {}",
        context()
    );
    assert!(
        !first.is_whitespace() && !message.ends_with(char::is_whitespace),
        "the message has surrounding white space: {}",
        context()
    );
    // User input stands in backticks; the words around it are the compiler's. (When the input
    // has backticks of its own, the two cannot be told apart: nothing is checked.)
    let own_words: String = match input.contains(&b'`') {
        true => String::new(),
        false => message.split('`').step_by(2).collect(),
    };
    let rust_words = [
        "struct",
        "enum",
        "Spanned",
        "PolicyFile",
        "Entries",
        "Option",
        "Vec",
        "String",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "f64",
    ];
    for word in own_words.split(|c: char| !c.is_alphanumeric()) {
        assert!(
            !rust_words.contains(&word),
            "the message names a Rust type ({word:?}): {}",
            context()
        );
    }
    assert!(!own_words.contains("::"), "a Rust path: {}", context());
    if let Some(help) = &diagnostic.help {
        assert!(!help.trim().is_empty(), "empty help: {}", context());
    }
    match diagnostic.span {
        Some(span) => assert!(
            span.offset
                .checked_add(span.len)
                .is_some_and(|end| end <= input.len()),
            "the span lies outside the input ({} bytes): {}",
            input.len(),
            context()
        ),
        None => assert!(
            WHOLE_FILE.contains(&diagnostic.code),
            "a diagnostic without a span that is not about the whole file: {}",
            context()
        ),
    }
    for (span, text) in &diagnostic.related {
        assert!(
            span.offset
                .checked_add(span.len)
                .is_some_and(|end| end <= input.len()),
            "a related span lies outside the input: {}",
            context()
        );
        assert!(!text.is_empty(), "a related label is empty: {}", context());
    }
}

/// Runs the front end on `input` and checks every invariant; returns the codes reported.
fn analyze_checked(input: &[u8]) -> Vec<Code> {
    let analysis = nonoc::analyze("fuzz.yaml", input);
    let diagnostics: Vec<Diagnostic> = analysis.diagnostics.iter().cloned().collect();
    for diagnostic in &diagnostics {
        assert_well_formed(diagnostic, input);
    }
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    assert_eq!(
        analysis.ir.is_some(),
        !has_errors,
        "the IR must be there exactly when there is no error: {diagnostics:#?}"
    );
    for (color, width) in [(false, 100), (true, 20)] {
        let text = render(
            &diagnostics,
            &analysis.source.name,
            &analysis.source.text,
            color,
            width,
        );
        for diagnostic in &diagnostics {
            assert!(
                text.contains(diagnostic.code.as_str()),
                "{} is missing from the rendered text:\n{text}",
                diagnostic.code
            );
        }
    }
    // The runtime loads every artifact the compiler writes: its checks at load are no
    // stricter than the compiler.
    if let Some(ir) = &analysis.ir
        && let Ok((_, bytes)) =
            nonoc::artifact::build(ir, &analysis.lowered, input, nonoc::backend::Targets::ALL)
        && let Err(e) = nonoc_runtime::Artifact::from_slice(&bytes)
    {
        panic!(
            "the runtime refuses what the compiler wrote: {e}\ninput: {}",
            String::from_utf8_lossy(input)
        );
    }
    diagnostics.iter().map(|d| d.code).collect()
}

// ---------------------------------------------------------------------------------------------
// YAML-shaped documents
// ---------------------------------------------------------------------------------------------

/// A YAML node, rendered to text by [`Node::render`].
#[derive(Debug, Clone)]
enum Node {
    Scalar(Scalar),
    Map {
        flow: bool,
        entries: Vec<(String, Node)>,
    },
    Seq {
        flow: bool,
        items: Vec<Node>,
    },
}

#[derive(Debug, Clone)]
struct Scalar {
    text: String,
    style: Style,
}

#[derive(Debug, Clone, Copy)]
enum Style {
    Plain,
    Double,
    Single,
}

impl Scalar {
    fn render(&self, in_flow: bool) -> String {
        let needs_quotes = self.text.is_empty()
            || self.text.chars().any(|c| c.is_control() || c == '#')
            || self.text.contains(": ")
            || self
                .text
                .starts_with(|c: char| "-?:[]{},&*!|>'\"%@` ".contains(c))
            || (in_flow && self.text.contains(|c: char| "[]{},".contains(c)));
        match self.style {
            Style::Plain if !needs_quotes => self.text.clone(),
            Style::Single if !self.text.chars().any(char::is_control) => {
                format!("'{}'", self.text.replace('\'', "''"))
            }
            // JSON string escapes are YAML double-quoted escapes.
            _ => serde_json::to_string(&self.text).unwrap(),
        }
    }
}

fn key_text(key: &str) -> String {
    Scalar {
        text: key.to_owned(),
        style: Style::Plain,
    }
    .render(true)
}

impl Node {
    fn render(&self) -> String {
        let mut out = String::new();
        self.render_block(0, &mut out);
        out
    }

    fn is_inline(&self) -> bool {
        match self {
            Node::Scalar(_) => true,
            Node::Map { flow, entries } => *flow || entries.is_empty(),
            Node::Seq { flow, items } => *flow || items.is_empty(),
        }
    }

    fn render_flow(&self, out: &mut String) {
        match self {
            Node::Scalar(s) => out.push_str(&s.render(true)),
            Node::Map { entries, .. } => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&key_text(key));
                    out.push_str(": ");
                    value.render_flow(out);
                }
                out.push('}');
            }
            Node::Seq { items, .. } => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.render_flow(out);
                }
                out.push(']');
            }
        }
    }

    /// Renders a node that starts on a new line at `indent`.
    fn render_block(&self, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match self {
            _ if self.is_inline() => {
                out.push_str(&pad);
                self.render_flow(out);
                out.push('\n');
            }
            Node::Map { entries, .. } => {
                for (key, value) in entries {
                    let _ = write!(out, "{pad}{}:", key_text(key));
                    value.render_after_indicator(indent, out);
                }
            }
            Node::Seq { items, .. } => {
                for item in items {
                    let _ = write!(out, "{pad}-");
                    item.render_after_indicator(indent, out);
                }
            }
            Node::Scalar(_) => unreachable!("scalars are inline"),
        }
    }

    /// Renders a value after `key:` or `-`.
    fn render_after_indicator(&self, indent: usize, out: &mut String) {
        if self.is_inline() {
            out.push(' ');
            self.render_flow(out);
            out.push('\n');
        } else {
            out.push('\n');
            self.render_block(indent + 2, out);
        }
    }
}

/// Every field name of the policy language, and a few ring levels and variable names.
#[rustfmt::skip]
const KEYS: &[&str] = &[
    "apiVersion", "kind", "metadata", "name", "description", "settings", "landlock",
    "compatibility", "min_abi", "unenforceable", "monotonic", "variables", "env", "default",
    "trust_tiers", "min_score", "ring", "deny", "path", "glob", "access", "except", "platform",
    "rings", "extends", "unconfined", "filesystem", "read", "write", "execute", "rules",
    "network", "mode", "connect_tcp", "bind_tcp", "udp", "process", "fork", "signals", "ptrace",
    "syscalls", "deny_action", "errno", "allow", "presets", "args", "index", "op", "value",
    "mask", "action", "tests", "trust_score", "signal", "syscall", "expect", "0", "1", "2", "3",
    "4", "255", "256", "-1", "01", "workspace", "home", "${home}", "<<", "",
];

/// Values that are valid somewhere in a policy, or nearly so.
#[rustfmt::skip]
const VALUES: &[&str] = &[
    "nonoc.dev/v1", "nonoc.dev/v2", "RingPolicy", "ringpolicy", "agt-rings", "Bad Name",
    "/", "/usr", "/tmp", "/etc/passwd", "/usr/lib/os-release", "relative/path", "/a/../b",
    "/a//b", "/a/./b", "/a/", "${workspace}", "${home}/.ssh", "${undeclared}/x", "${", "${}",
    "${x", "$x", "${workspace}/**/.env*", "/**/*.key", "/[", "/tmp/{a,b}", "~", "null", "true",
    "false", "yes", "0", "1", "3", "-1", "255", "256", "443", "65535", "65536", "1000", "1001",
    "-0", "0x10", "0xffffffffffffffff", "0x1ffffffffffffffff", "99999999999999999999999999",
    "-99999999999999999999", "1.5", "1e3", ".inf", "read", "write", "execute", "read_file",
    "write_file", "make_reg", "ioctl_dev", "fly", "blocked", "restricted", "allowed", "open",
    "self", "sandbox", "any", "allow", "deny", "errno", "kill_process", "log", "trap",
    "EPERM", "EACCES", "E2BIG", "EBOGUS", "4096", "hardening", "bogus", "ptrace", "socket",
    "clone", "clone3", "unshare", "personality", "no_such_call", "AF_UNIX", "AF_PACKET",
    "CLONE_NEWUSER", "NOT_A_CONSTANT", "eq", "ne", "masked_eq", "masked_ne", "any_bits",
    "all_bits", "linux", "macos", "windows", "best_effort", "hard_requirement", "warn",
    "error", "AGENT_WORKSPACE", "HOME", "1BAD", "a\u{0}b", "/tmp/\u{7}", "tab\there",
    "line\nbreak", "\u{202e}", "é", "/日本", "\u{feff}", "-", ":", "#", "&anchor", "*alias",
    "!tag", "|", ">",
];

fn scalar() -> impl Strategy<Value = Node> {
    let text = prop_oneof![
        6 => prop::sample::select(VALUES).prop_map(str::to_owned),
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| format!("0x{n:x}")),
        1 => "[a-z/${}._*-]{0,12}",
        1 => any::<String>(),
    ];
    let style = prop_oneof![
        4 => Just(Style::Plain),
        2 => Just(Style::Double),
        1 => Just(Style::Single),
    ];
    (text, style).prop_map(|(text, style)| Node::Scalar(Scalar { text, style }))
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{1,8}",
    ]
}

fn flow() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.25)
}

/// Free-form documents: any nesting of mappings and sequences with real keys and values.
fn free_node() -> impl Strategy<Value = Node> {
    scalar().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            (flow(), prop::collection::vec((key(), inner.clone()), 0..6))
                .prop_map(|(flow, entries)| Node::Map { flow, entries }),
            (flow(), prop::collection::vec(inner, 0..5))
                .prop_map(|(flow, items)| Node::Seq { flow, items }),
        ]
    })
}

// --- documents that follow the grammar ---
//
// Every value list is split in two: values that parse (some of them still wrong: a relative
// path, an unknown syscall, ring 256) and values that break the parse (`yes` for a boolean,
// `open` for a network mode). With `Chaos::NONE` every document parses, so resolve, the checks
// and lowering are fuzzed; with `Chaos::SOME` a field now and then breaks the parse or holds a
// free-form node.

type Values = (&'static [&'static str], &'static [&'static str]);

#[derive(Debug, Clone, Copy)]
struct Chaos(u32);

impl Chaos {
    const NONE: Chaos = Chaos(0);
    const SOME: Chaos = Chaos(1);
}

type Field = BoxedStrategy<Option<(String, Node)>>;

fn plain(values: &'static [&'static str]) -> BoxedStrategy<Node> {
    prop::sample::select(values)
        .prop_map(|t| {
            Node::Scalar(Scalar {
                text: t.to_owned(),
                style: Style::Plain,
            })
        })
        .boxed()
}

/// A value for a field.
fn text(values: Values, chaos: Chaos) -> BoxedStrategy<Node> {
    let (parses, breaks) = values;
    match (chaos.0, breaks.is_empty()) {
        (0, _) => plain(parses),
        (c, true) => prop_oneof![60 => plain(parses), c => scalar()].boxed(),
        (c, false) => {
            prop_oneof![60 => plain(parses), 3 * c => plain(breaks), c => scalar()].boxed()
        }
    }
}

/// A field that is there 60% of the time.
fn field(name: &'static str, value: BoxedStrategy<Node>, chaos: Chaos) -> Field {
    let value = match chaos.0 {
        0 => value,
        c => prop_oneof![80 => value, c => free_node()].boxed(),
    };
    prop::option::weighted(0.6, value.prop_map(move |v| (name.to_owned(), v))).boxed()
}

/// A field that is always there.
fn required(name: &'static str, value: BoxedStrategy<Node>, chaos: Chaos) -> Field {
    let value = match chaos.0 {
        0 => value,
        c => prop_oneof![120 => value, c => free_node()].boxed(),
    };
    value.prop_map(move |v| Some((name.to_owned(), v))).boxed()
}

/// A mapping of the given fields; with chaos, now and then with a stray key.
fn map(fields: Vec<Field>, chaos: Chaos) -> BoxedStrategy<Node> {
    let stray = match chaos.0 {
        0 => Just(None).boxed(),
        c => prop::option::weighted(0.02 * f64::from(c), (key(), scalar())).boxed(),
    };
    (fields, stray, flow())
        .prop_map(|(fields, stray, flow)| {
            let mut entries: Vec<(String, Node)> = fields.into_iter().flatten().collect();
            entries.extend(stray);
            Node::Map { flow, entries }
        })
        .boxed()
}

fn seq(item: BoxedStrategy<Node>, len: std::ops::Range<usize>) -> BoxedStrategy<Node> {
    (flow(), prop::collection::vec(item, len))
        .prop_map(|(flow, items)| Node::Seq { flow, items })
        .boxed()
}

/// A mapping with distinct keys from `keys.0`; with chaos, now and then one from `keys.1`.
fn entries(
    keys: Values,
    value: BoxedStrategy<Node>,
    len: std::ops::Range<usize>,
    chaos: Chaos,
) -> BoxedStrategy<Node> {
    let (parses, breaks) = keys;
    let chosen = prop::sample::subsequence(parses, len).prop_shuffle();
    let odd = match chaos.0 {
        0 => Just(None).boxed(),
        c => prop::option::weighted(0.05 * f64::from(c), prop::sample::select(breaks)).boxed(),
    };
    (flow(), chosen, odd)
        .prop_flat_map(move |(flow, mut keys, odd)| {
            keys.extend(odd);
            let values = vec![value.clone(); keys.len()];
            (Just(flow), Just(keys), values)
        })
        .prop_map(|(flow, keys, values)| Node::Map {
            flow,
            entries: keys.into_iter().map(str::to_owned).zip(values).collect(),
        })
        .boxed()
}

const PATHS: Values = (
    &[
        "/usr",
        "/lib",
        "/tmp",
        "/etc",
        "/etc/ssl",
        "/",
        "/dev/null",
        "/usr/bin/make",
        "${workspace}",
        "${workspace}/src",
        "${workspace}/.git/hooks",
        "${home}",
        "${home}/.ssh",
        "${nope}/x",
        "relative",
        "/a/../b",
        "/tmp/*",
        "${workspace}/**/.env*",
        "${",
        "${}",
        "/a//b",
        "/tmp/\u{7}",
    ],
    &[],
);
const GLOBS: Values = (
    &[
        "/**/*.pem",
        "${workspace}/**/.env*",
        "/etc/{a,b}",
        "**",
        "/tmp/[",
        "relative/*",
    ],
    &[],
);
const LEVELS: Values = (
    &["0", "1", "2", "3", "4", "255", "256", "-1"],
    &["x", "1.5"],
);
const ACCESS: Values = (
    &[
        "read",
        "write",
        "execute",
        "read_file",
        "write_file",
        "refer",
        "make_dir",
        "fly",
    ],
    &[],
);
const PORTS: Values = (
    &["22", "53", "443", "65535", "0", "65536", "-1"],
    &["1e3", "[]"],
);
const BOOLS: Values = (&["true", "false"], &["yes", "1", "null"]);
const PLATFORMS: Values = (&["linux", "macos"], &["bsd"]);
const SYSCALLS: Values = (
    &[
        "ptrace",
        "socket",
        "clone",
        "clone3",
        "unshare",
        "mount",
        "personality",
        "ioperm",
        "nope",
    ],
    &[],
);
const ARG_VALUES: Values = (
    &[
        "0",
        "1",
        "0x10",
        "AF_UNIX",
        "AF_PACKET",
        "CLONE_NEWUSER",
        "-1",
        "NOPE",
        "0x1ffffffffffffffff",
    ],
    &[],
);
const ERRNOS: Values = (
    &["EPERM", "EACCES", "1", "4095", "0", "4096", "EBOGUS"],
    &[],
);

fn deny_rule(c: Chaos) -> BoxedStrategy<Node> {
    map(
        vec![
            field("path", text(PATHS, c), c),
            field("glob", text(GLOBS, c), c),
            field("access", seq(text(ACCESS, c), 0..3), c),
            field("except", seq(text(PATHS, c), 0..3), c),
            field("platform", text(PLATFORMS, c), c),
        ],
        c,
    )
}

fn filesystem(c: Chaos) -> BoxedStrategy<Node> {
    let rule = map(
        vec![
            required("path", text(PATHS, c), c),
            required("access", seq(text(ACCESS, c), 0..4), c),
            field("platform", text(PLATFORMS, c), c),
        ],
        c,
    );
    map(
        vec![
            field("read", seq(text(PATHS, c), 0..4), c),
            field("write", seq(text(PATHS, c), 0..3), c),
            field("execute", seq(text(PATHS, c), 0..3), c),
            field("rules", seq(rule, 0..3), c),
        ],
        c,
    )
}

fn network(c: Chaos) -> BoxedStrategy<Node> {
    let port = prop_oneof![9 => text(PORTS, c), 1 => plain(&["https", "localhost:443"])].boxed();
    map(
        vec![
            field(
                "mode",
                text((&["blocked", "restricted", "allowed"], &["open"]), c),
                c,
            ),
            field("connect_tcp", seq(port.clone(), 0..4), c),
            field("bind_tcp", seq(port, 0..3), c),
            field("udp", text(BOOLS, c), c),
        ],
        c,
    )
}

fn process(c: Chaos) -> BoxedStrategy<Node> {
    map(
        vec![
            field("fork", text(BOOLS, c), c),
            field(
                "signals",
                text((&["self", "sandbox", "any"], &["none"]), c),
                c,
            ),
            field("ptrace", text(BOOLS, c), c),
        ],
        c,
    )
}

fn syscalls(c: Chaos) -> BoxedStrategy<Node> {
    let ops: Values = (
        &[
            "eq",
            "ne",
            "lt",
            "gt",
            "masked_eq",
            "masked_ne",
            "any_bits",
            "all_bits",
        ],
        &["xor"],
    );
    let arg = map(
        vec![
            required("index", text((&["0", "1", "5", "6", "-1"], &["a"]), c), c),
            required("op", text(ops, c), c),
            required("value", text(ARG_VALUES, c), c),
            field("mask", text(ARG_VALUES, c), c),
        ],
        c,
    );
    let actions: Values = (&["errno", "kill_process", "log", "trap"], &["allow"]);
    let rule = map(
        vec![
            required("name", text(SYSCALLS, c), c),
            field("args", seq(arg, 0..3), c),
            field("action", text(actions, c), c),
            field("errno", text(ERRNOS, c), c),
        ],
        c,
    );
    let entry = prop_oneof![text(SYSCALLS, c), rule].boxed();
    map(
        vec![
            field("default", text((&["allow", "deny"], &["kill"]), c), c),
            field("deny_action", text(actions, c), c),
            field("errno", text(ERRNOS, c), c),
            field("allow", seq(text(SYSCALLS, c), 0..4), c),
            field("deny", seq(entry, 0..4), c),
            field(
                "presets",
                seq(text((&["hardening", "bogus"], &[]), c), 0..2),
                c,
            ),
        ],
        c,
    )
}

fn ring(c: Chaos) -> BoxedStrategy<Node> {
    let unconfined = prop_oneof![5 => plain(&["false"]), 1 => text(BOOLS, c)].boxed();
    map(
        vec![
            field("description", text((&["a ring", ""], &[]), c), c),
            field("extends", text(LEVELS, c), c),
            field("unconfined", unconfined, c),
            field("filesystem", filesystem(c), c),
            field("network", network(c), c),
            field("process", process(c), c),
            field("syscalls", syscalls(c), c),
            field("deny", seq(deny_rule(c), 0..3), c),
        ],
        c,
    )
}

fn test_case(c: Chaos) -> BoxedStrategy<Node> {
    let syscall = map(
        vec![
            required("name", text(SYSCALLS, c), c),
            field("args", seq(text(ARG_VALUES, c), 0..7), c),
        ],
        c,
    );
    map(
        vec![
            field("ring", text(LEVELS, c), c),
            field(
                "trust_score",
                text((&["0", "500", "1000", "1001", "-5"], &["x"]), c),
                c,
            ),
            field("read", text(PATHS, c), c),
            field("write", text(PATHS, c), c),
            field("execute", text(PATHS, c), c),
            field("connect_tcp", text(PORTS, c), c),
            field(
                "syscall",
                prop_oneof![text(SYSCALLS, c), syscall].boxed(),
                c,
            ),
            field(
                "signal",
                text((&["self", "sandbox", "any"], &["none"]), c),
                c,
            ),
            required("expect", text((&["allow", "deny"], &["maybe"]), c), c),
        ],
        c,
    )
}

/// Policies that follow the grammar.
fn policy(c: Chaos) -> BoxedStrategy<Node> {
    let variable = map(
        vec![
            field(
                "env",
                text((&["HOME", "AGENT_WORKSPACE", "1BAD", ""], &[]), c),
                c,
            ),
            field("default", text(PATHS, c), c),
        ],
        c,
    );
    let tier = map(
        vec![
            required("name", text((&["low", "high", "mid"], &[]), c), c),
            required(
                "min_score",
                text((&["0", "300", "900", "1000", "1001", "-1"], &["x"]), c),
                c,
            ),
            required("ring", text(LEVELS, c), c),
        ],
        c,
    );
    let landlock = map(
        vec![
            field(
                "compatibility",
                text((&["best_effort", "hard_requirement"], &["x"]), c),
                c,
            ),
            field("min_abi", text((&["1", "4", "7", "8", "0"], &["x"]), c), c),
        ],
        c,
    );
    let settings = map(
        vec![
            field("landlock", landlock, c),
            field("unenforceable", text((&["warn", "error"], &["x"]), c), c),
            field("monotonic", text(BOOLS, c), c),
        ],
        c,
    );
    let metadata = map(
        vec![
            required("name", text((&["fuzz", "Fuzz", "-x", ""], &[]), c), c),
            field("description", text((&["fuzzed"], &[]), c), c),
        ],
        c,
    );
    let variable_names: Values = (&["workspace", "home", "x", "1bad"], &["home"]);
    map(
        vec![
            required(
                "apiVersion",
                text((&["nonoc.dev/v1", "nonoc.dev/v2"], &[]), c),
                c,
            ),
            required("kind", text((&["RingPolicy", "ringpolicy"], &[]), c), c),
            required("metadata", metadata, c),
            field("settings", settings, c),
            field("variables", entries(variable_names, variable, 0..3, c), c),
            field("trust_tiers", seq(tier, 0..4), c),
            field("deny", seq(deny_rule(c), 0..3), c),
            required("rings", entries(LEVELS, ring(c), 0..4, c), c),
            field("tests", seq(test_case(c), 0..4), c),
        ],
        c,
    )
}

// ---------------------------------------------------------------------------------------------
// Edits of the example policies
// ---------------------------------------------------------------------------------------------

fn example_policies() -> &'static [Vec<u8>] {
    static POLICIES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies");
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        assert!(
            files.len() >= 3,
            "expected the example policies, found {files:?}"
        );
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    /// Moves a line's text by some columns (negative: dedent).
    Reindent(Index, i8),
    InsertBytes(Index, Vec<u8>),
    ReplaceByte(Index, u8),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        3 => prop::sample::select(b"-:[]{},&*!|>'\"#%@` \t\n0123456789/${}\\".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(Edit::DeleteLine),
        2 => any::<Index>().prop_map(Edit::DuplicateLine),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        2 => (any::<Index>(), -4i8..=4).prop_map(|(i, d)| Edit::Reindent(i, d)),
        2 => (any::<Index>(), prop::collection::vec(byte.clone(), 1..6))
            .prop_map(|(i, b)| Edit::InsertBytes(i, b)),
        2 => (any::<Index>(), byte).prop_map(|(i, b)| Edit::ReplaceByte(i, b)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &[u8], edit: &Edit) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = text
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    let mut bytes = text.to_vec();
    match edit {
        Edit::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i.index(lines.len()));
        }
        Edit::DuplicateLine(i) if !lines.is_empty() => {
            let at = i.index(lines.len());
            lines.insert(at, lines[at].clone());
        }
        Edit::SwapLines(a, b) if !lines.is_empty() => {
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            lines.swap(a, b);
        }
        Edit::Reindent(i, delta) if !lines.is_empty() => {
            let at = i.index(lines.len());
            let line = &mut lines[at];
            if *delta >= 0 {
                line.splice(0..0, std::iter::repeat_n(b' ', delta.unsigned_abs().into()));
            } else {
                let spaces = line.iter().take_while(|&&b| b == b' ').count();
                line.drain(..spaces.min(delta.unsigned_abs().into()));
            }
        }
        Edit::InsertBytes(i, inserted) => {
            let at = i.index(bytes.len() + 1);
            bytes.splice(at..at, inserted.iter().copied());
            return bytes;
        }
        Edit::ReplaceByte(i, b) if !bytes.is_empty() => {
            let at = i.index(bytes.len());
            bytes[at] = *b;
            return bytes;
        }
        Edit::Truncate(i) => {
            bytes.truncate(i.index(bytes.len() + 1));
            return bytes;
        }
        _ => return bytes,
    }
    lines.concat()
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// `cases` per property, unless `PROPTEST_CASES` asks for more (a deeper local run).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // A failing input is printed by the failure message; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        analyze_checked(&bytes);
    }

    #[test]
    fn arbitrary_yaml_punctuation(
        bytes in prop::collection::vec(
            prop::sample::select(b"-:[]{},&*!|>'\"#%@` \t\n\r0123456789abcxyz/${}\\?".to_vec()),
            0..300,
        )
    ) {
        analyze_checked(&bytes);
    }

    #[test]
    fn arbitrary_text(text in any::<String>()) {
        analyze_checked(text.as_bytes());
    }

    #[test]
    fn free_form_yaml_documents(node in free_node()) {
        analyze_checked(node.render().as_bytes());
    }

    #[test]
    fn policies_that_parse(node in policy(Chaos::NONE)) {
        analyze_checked(node.render().as_bytes());
    }

    #[test]
    fn policies_with_broken_fields(node in policy(Chaos::SOME)) {
        analyze_checked(node.render().as_bytes());
    }

    #[test]
    fn edited_example_policies(
        which in any::<Index>(),
        edits in prop::collection::vec(edit(), 1..5),
    ) {
        let policies = example_policies();
        let mut text = which.get(policies).clone();
        for edit in &edits {
            text = apply(&text, edit);
        }
        analyze_checked(&text);
    }
}

/// The generator is not vacuous: without chaos every document parses (so the properties above
/// reach resolve, the checks and lowering), and together they draw many different codes.
#[test]
fn generated_policies_parse_and_reach_the_later_stages() {
    use std::collections::BTreeSet;

    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    const SYNTAX: &[Code] = &[
        Code::YamlSyntax,
        Code::Shape,
        Code::DuplicateKey,
        Code::ParserBudget,
        Code::NotUtf8,
        Code::EmptyDocument,
    ];
    let mut runner = TestRunner::deterministic();
    let strategy = policy(Chaos::NONE);
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let text = strategy.new_tree(&mut runner).unwrap().current().render();
        let codes = analyze_checked(text.as_bytes());
        assert!(
            !codes.iter().any(|c| SYNTAX.contains(c)),
            "a generated policy does not parse: {codes:?}\n{text}"
        );
        seen.extend(codes);
    }
    assert!(
        seen.len() >= 20,
        "the generated policies draw only {} codes: {seen:?}",
        seen.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile inputs
// ---------------------------------------------------------------------------------------------

const HEADER: &str = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {name: hostile}\n";

/// The one error a hostile input produces.
fn single_error(input: &[u8]) -> Diagnostic {
    let codes = analyze_checked(input);
    let analysis = nonoc::analyze("hostile.yaml", input);
    let diagnostics: Vec<Diagnostic> = analysis.diagnostics.into_vec();
    assert_eq!(diagnostics.len(), 1, "{codes:?}: {diagnostics:#?}");
    diagnostics.into_iter().next().unwrap()
}

/// Nine levels of nine aliases: 9^9 (387 million) strings if expanded.
fn billion_laughs() -> String {
    let mut text = format!("a0: &a0 [{}]\n", ["\"lol\""; 9].join(", "));
    for level in 1..10 {
        let aliases = vec![format!("*a{}", level - 1); 9].join(", ");
        let _ = writeln!(text, "a{level}: &a{level} [{aliases}]");
    }
    text
}

#[test]
fn billion_laughs_at_the_top_level_is_refused_before_any_expansion() {
    // Not a policy: the typed reader stops at the first unknown key, `a0`, before a single
    // alias is replayed. That is the right answer (and cheaper than a budget breach).
    let d = single_error(billion_laughs().as_bytes());
    assert_eq!(d.code, Code::Shape, "{d:#?}");
    assert!(d.message.contains("`a0`"), "{d:#?}");
}

#[test]
fn billion_laughs_inside_a_policy_is_refused_at_the_first_misplaced_alias() {
    // The anchors sit in fields that take a list of paths; the first alias of a list stands
    // where a path must be, so the reader refuses it before expanding it.
    let text = format!(
        "{HEADER}rings:\n  3:\n    filesystem:\n      read: &a0 [{}]\n      write: &a1 [{}]\n",
        ["/lol"; 9].join(", "),
        ["*a0"; 9].join(", "),
    );
    let d = single_error(text.as_bytes());
    assert_eq!(d.code, Code::Shape, "{d:#?}");
    let at = text.find("*a0").unwrap();
    assert_eq!(d.span.map(|s| s.offset), Some(at), "{d:#?}");
}

#[test]
fn alias_fan_out_that_fits_the_types_breaches_the_replay_budget() {
    // Every alias here is well typed: 256 rings share one ring of 600 paths, so expanding
    // would make ~150,000 rules. The replay budget stops it.
    let paths: Vec<String> = (0..200).map(|i| format!("/p{i}")).collect();
    let mut text = format!(
        "{HEADER}rings:\n  0: &r {{filesystem: {{read: &l [{}], write: *l, execute: *l}}}}\n",
        paths.join(", ")
    );
    for level in 1..256 {
        let _ = writeln!(text, "  {level}: *r");
    }
    let d = single_error(text.as_bytes());
    assert_eq!(d.code, Code::ParserBudget, "{d:#?}");
}

#[test]
fn too_many_aliases_breach_the_alias_budget() {
    let aliases = vec!["*p"; 1_500].join(", ");
    let text = format!("{HEADER}rings:\n  3:\n    filesystem:\n      read: [&p /usr, {aliases}]\n");
    let d = single_error(text.as_bytes());
    assert_eq!(d.code, Code::ParserBudget, "{d:#?}");
    assert!(d.message.contains("too many aliases"), "{d:#?}");
}

#[test]
fn too_many_anchors_breach_the_anchor_budget() {
    let anchored: Vec<String> = (0..1_500).map(|i| format!("&a{i} /p{i}")).collect();
    let text = format!(
        "{HEADER}rings:\n  3:\n    filesystem:\n      read: [{}]\n",
        anchored.join(", ")
    );
    let d = single_error(text.as_bytes());
    assert_eq!(d.code, Code::ParserBudget, "{d:#?}");
    assert!(d.message.contains("too many anchors"), "{d:#?}");
}

#[test]
fn twenty_thousand_nested_brackets_breach_the_depth_budget() {
    for open in ["[", "{", "[{\"a\": "] {
        let d = single_error(open.repeat(20_000).as_bytes());
        assert_eq!(d.code, Code::ParserBudget, "{open:?}: {d:#?}");
        assert!(d.message.contains("nests deeper"), "{d:#?}");
    }
}

#[test]
fn deep_block_nesting_is_refused_where_the_shape_is_wrong() {
    // Block collections are read as they come: the document is a sequence where a policy
    // (a mapping) is due, and that is the first thing wrong with it.
    let d = single_error("- ".repeat(20_000).as_bytes());
    assert_eq!(d.code, Code::Shape, "{d:#?}");
    assert_eq!(d.span.map(|s| s.offset), Some(0));
}

#[test]
fn deep_nesting_where_a_mapping_is_due_is_a_shape_error() {
    // `rings` takes a mapping: the reader refuses the first `[` before nesting matters.
    let text = format!("{HEADER}rings: {}\n", "[".repeat(20_000));
    let d = single_error(text.as_bytes());
    assert_eq!(d.code, Code::Shape, "{d:#?}");
}

#[test]
fn too_many_nodes_breach_the_node_budget() {
    // 250,000 list items in about a megabyte: under the size limit, over the node budget.
    let text = format!(
        "{HEADER}rings:\n  3:\n    filesystem:\n      read: [{}]\n",
        vec!["/a"; 250_000].join(",")
    );
    let d = single_error(text.as_bytes());
    assert_eq!(d.code, Code::ParserBudget, "{d:#?}");
    assert!(d.message.contains("too many nodes"), "{d:#?}");
}

#[test]
fn an_oversized_file_is_refused_as_a_whole() {
    let mut text = HEADER.to_owned();
    text.push_str(&"#".repeat(nonoc::syntax::MAX_INPUT_BYTES));
    let d = single_error(text.as_bytes());
    assert_eq!(d.code, Code::ParserBudget, "{d:#?}");
    assert_eq!(d.span, None);
}

#[test]
fn an_error_far_right_on_a_long_line_renders() {
    // miette cannot draw a snippet past 65,535 columns (a tab counts four); the diagnostic
    // says where instead of drawing it.
    let long_path = format!("/{}", "a".repeat(70_000));
    let tabs = "\t".repeat(20_000);
    for (filler, codes) in [
        (
            format!("{long_path}, "),
            &[Code::PathTooLong, Code::PathNotAbsolute][..],
        ),
        (tabs, &[Code::PathNotAbsolute][..]),
    ] {
        let text =
            format!("{HEADER}rings:\n  3:\n    filesystem:\n      read: [{filler}relative]\n");
        let analysis = nonoc::analyze("long.yaml", text.as_bytes());
        let found: Vec<Code> = analysis.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(found, codes);
        let diagnostics = analysis.diagnostics.into_vec();
        let rendered = render(&diagnostics, "long.yaml", &text, false, 100);
        assert!(rendered.contains("NC0401"), "{rendered}");
        assert!(rendered.contains("(line 7, byte column"), "{rendered}");
        assert!(
            rendered.len() < 2_000,
            "the long line should not be shown: {rendered}"
        );
    }
}
