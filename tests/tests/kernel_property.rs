//! Property test: random trees (depth <= 3, with symlinks to a directory no rule covers),
//! random policies over them (allows with random access, denies inside allows, deny globs,
//! except entries, network and signal settings) and random requests, on the tree and on the
//! directory outside it. Each case is applied in a fresh `nonoc-probe` process and the kernel's
//! answer to every request must equal `decide`'s, except where the kernel is predictably
//! stricter (carve-outs from the report, and Landlock's own rules: execve needs read_file,
//! entry rights are checked on the parent, refer) — those must be denied. The kernel is never
//! more permissive than `decide`. See `nonoc_tests::kernel::expect`.
//!
//! Three runs: the `landlock` tier (`isolation: off`, the carve-outs predicted from the report),
//! the `namespace` tier on the same random policies (masks; a carve-out only for a denied path
//! that cannot be masked, which the report names; a mask's extra rights predicted from its
//! kind and named in the report), and the `namespace` tier with denies a mask expresses
//! exactly, where no carve-out, mask or glob difference may remain.
//!
//! Deterministic: a fixed seed (`NONOC_PROPTEST_SEED=N` picks another),
//! `NONOC_PROPTEST_CASES` cases (default 150). `harness = false`: see the runner.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use nonoc_test_runner::Test;
use nonoc_tests::kernel::{Difference, Op, ProbeArgs, Select, TempTree, compile, probe_ring};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

const PROBE: &str = env!("CARGO_BIN_EXE_nonoc-probe");

fn main() -> ExitCode {
    // The oracle reads what was enforced from the report: any Landlock ABI will do.
    nonoc_test_runner::run(&[
        Test::new("kernel_agrees_with_decide_on_random_policies", 1, || {
            kernel_agrees_with_decide(Mode::Landlock)
        }),
        Test::new(
            "kernel_agrees_with_decide_under_the_namespace_tier",
            1,
            || kernel_agrees_with_decide(Mode::Namespace),
        ),
        Test::new("masks_are_exact_where_a_mask_expresses_the_deny", 1, || {
            kernel_agrees_with_decide(Mode::Exact)
        }),
    ])
}

/// Which tier the policies are applied with, and what differences from `decide` may remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `isolation: off`: the Landlock carve-outs, with today's predictions.
    Landlock,
    /// The isolation layer (`isolation: required`): masks, and the carve-out only for a denied
    /// path that cannot be masked (missing, a link, an exception inside), which the report
    /// names.
    Namespace,
    /// The namespace tier with denies a mask expresses exactly: path denies of paths that
    /// exist (no link, no exception), of every right, of `write`, or of `write` and `execute`.
    /// No carve-out, mask or glob difference may remain, only Landlock's own rules.
    Exact,
}

// ---------------------------------------------------------------------------------------
// The universe of paths: every directory at depth < 3 holds `d0`, `d1`, `f0`, `f1.env` and
// `f2.env`, a symlink to `outside`, beside the policy's root `t`, which no rule covers: a rule
// placed through a link would show as the kernel allowing what `decide` denies there.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Link,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Relative to the policy's root `t`.
    rel: String,
    kind: Kind,
    /// Index of the parent entry (`None`: the root).
    parent: Option<usize>,
}

fn universe() -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut level: Vec<Option<usize>> = vec![None];
    for _depth in 1..=3 {
        let mut next = Vec::new();
        for parent in level {
            let base = parent
                .map(|p| format!("{}/", out[p].rel))
                .unwrap_or_default();
            for (name, kind) in [
                ("d0", Kind::Dir),
                ("d1", Kind::Dir),
                ("f0", Kind::File),
                ("f1.env", Kind::File),
                ("f2.env", Kind::Link),
            ] {
                out.push(Entry {
                    rel: format!("{base}{name}"),
                    kind,
                    parent,
                });
                if kind == Kind::Dir {
                    next.push(Some(out.len() - 1));
                }
            }
        }
        level = next;
    }
    assert!(out.len() <= 64);
    out
}

/// Deny globs (and their except globs): none matches a new name (`nK`) except through a
/// matched ancestor, so that a file created after apply is never decided by a glob alone —
/// the documented limit of globs on Landlock, tested on its own in `kernel_landlock`.
const GLOBS: [(&str, Option<&str>); 11] = [
    ("${t}/**/f1.env", None),
    ("${t}/**/f*", Some("${t}/**/f0")),
    ("${t}/*/d1", None),
    ("${t}/d0/**", None),
    ("${t}/**/d1/f*", None),
    ("${t}/d?/f[01]*", None),
    ("${t}/**/d0", None),
    ("${t}/d1/**", None),
    ("${t}/**", None),
    ("${t}/{d0,d1/d0}/f*", None),
    ("${t}/**/d[!0]/f0", None),
];

const RIGHTS: [&str; 10] = [
    "read_file",
    "read_dir",
    "write_file",
    "truncate",
    "make_reg",
    "make_dir",
    "remove_file",
    "remove_dir",
    "refer",
    "execute",
];

/// An access list: a group combination, or a random subset of single rights.
#[derive(Debug, Clone, Copy)]
struct AccessChoice(u8, u16);

impl AccessChoice {
    fn render(self) -> String {
        let names: Vec<&str> = match self.0 {
            0 => vec!["read"],
            1 => vec!["write"],
            2 => vec!["read", "write"],
            3 => vec!["read", "execute"],
            4 => vec!["read", "write", "execute"],
            // Only chosen by the exact mode (the generator draws 0..8).
            8 => vec!["write", "execute"],
            _ => {
                let mask = if self.1 & 0x3ff == 0 {
                    1
                } else {
                    self.1 & 0x3ff
                };
                RIGHTS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, r)| *r)
                    .collect()
            }
        };
        format!("[{}]", names.join(", "))
    }
}

#[derive(Debug, Clone)]
enum DenyTarget {
    Path(usize),
    Glob(usize),
}

#[derive(Debug, Clone)]
struct Deny {
    target: DenyTarget,
    access: Option<AccessChoice>,
    except: Option<usize>,
    platform: u8,
}

/// `platform:` of a rule: mostly none; a macOS-only rule must not count on Linux.
fn platform(choice: u8) -> &'static str {
    match choice {
        0 => ", platform: macos",
        1 => ", platform: linux",
        _ => "",
    }
}

#[derive(Debug, Clone)]
struct Case {
    present: u64,
    allows: Vec<(usize, AccessChoice, u8)>,
    denies: Vec<Deny>,
    /// mode (0 blocked, 1 restricted, 2 allowed), connect and bind port masks.
    network: (u8, u8, u8),
    /// 0 self, 1 sandbox, 2 any.
    signals: u8,
    /// `process.fork`: without it the seccomp filter refuses the fork of every `exec`.
    fork: bool,
    /// (operation kind, operand choice, second operand choice).
    requests: Vec<(u8, usize, usize)>,
    /// Apply as if the kernel had at most this ABI (best effort drops what it lacks).
    max_abi: Option<u32>,
}

fn access_choice() -> impl Strategy<Value = AccessChoice> {
    (0_u8..8, 1_u16..1024).prop_map(|(g, m)| AccessChoice(g, m))
}

fn case() -> impl Strategy<Value = Case> {
    let allow = (
        prop_oneof![2 => 0_usize..3, 1 => any::<usize>()],
        access_choice(),
        0_u8..8,
    );
    let deny = (
        prop_oneof![3 => any::<usize>().prop_map(DenyTarget::Path), 1 => (0..GLOBS.len()).prop_map(DenyTarget::Glob)],
        option::of(access_choice()),
        option::weighted(0.4, any::<usize>()),
        0_u8..8,
    )
        .prop_map(|(target, access, except, platform)| Deny {
            target,
            access,
            except,
            platform,
        });
    (
        any::<u64>(),
        vec(allow, 1..=4),
        vec(deny, 0..=3),
        (0_u8..3, any::<u8>(), any::<u8>()),
        (0_u8..3, proptest::bool::weighted(0.8)),
        vec((0_u8..13, any::<usize>(), any::<usize>()), 10..=40),
        option::weighted(0.2, 1_u32..=6),
    )
        .prop_map(
            |(present, allows, denies, network, (signals, fork), requests, max_abi)| Case {
                present,
                allows,
                denies,
                network,
                signals,
                fork,
                requests,
                max_abi,
            },
        )
}

// ---------------------------------------------------------------------------------------
// From a case to a tree, a policy and operations

struct Built {
    tree: TempTree,
    yaml: String,
    ops: Vec<Op>,
}

fn build(case: &Case, universe: &[Entry], ports: &[u16; 3], mode: Mode) -> Built {
    let tree = TempTree::new("prop");
    tree.dir("t");
    tree.exe("outside/f0");
    tree.exe("outside/f1");
    tree.dir("outside/d0");
    let outside = tree.path("outside");
    let mut present = vec![false; universe.len()];
    for (i, e) in universe.iter().enumerate() {
        present[i] = case.present & (1 << i) != 0 && e.parent.is_none_or(|p| present[p]);
        if present[i] {
            let rel = format!("t/{}", e.rel);
            match e.kind {
                Kind::Dir => drop(tree.dir(&rel)),
                Kind::File => drop(tree.exe(&rel)),
                Kind::Link => drop(tree.symlink(&rel, &outside)),
            }
        }
    }
    let of = |kind: Kind| {
        universe
            .iter()
            .zip(&present)
            .filter(move |(e, p)| **p && e.kind == kind)
            .map(|(e, _)| e.rel.as_str())
    };
    // Candidates, relative to `t` ("" is `t` itself). Allow rules name no link (a rule names
    // what its path resolves to: through a link, by design).
    let existing: Vec<&str> = std::iter::once("")
        .chain(of(Kind::Dir))
        .chain(of(Kind::File))
        .collect();
    let dirs: Vec<&str> = std::iter::once("").chain(of(Kind::Dir)).collect();
    let files: Vec<&str> = of(Kind::File).collect();
    let all: Vec<&str> = std::iter::once("")
        .chain(universe.iter().map(|e| e.rel.as_str()))
        .collect();
    let var = |rel: &str| {
        if rel.is_empty() {
            "${t}".to_owned()
        } else {
            format!("${{t}}/{rel}")
        }
    };

    let settings = match mode {
        Mode::Landlock => "settings: { isolation: off }\n",
        Mode::Namespace | Mode::Exact => "settings: { isolation: required }\n",
    };
    let mut yaml = format!(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: prop }}\n{settings}variables:\n  t: {{ env: NONOC_PROP_ROOT }}\nrings:\n  1:\n    filesystem:\n      rules:\n",
    );
    for (target, access, os) in &case.allows {
        let _ = writeln!(
            yaml,
            "        - {{ path: \"{}\", access: {}{} }}",
            var(existing[target % existing.len()]),
            access.render(),
            platform(*os)
        );
    }
    // Exact: every deny on a path that exists and is no link, of rights a mask expresses.
    let denies: Vec<Deny> = match mode {
        Mode::Landlock | Mode::Namespace => case.denies.clone(),
        Mode::Exact => case
            .denies
            .iter()
            .map(|d| {
                let i = match d.target {
                    DenyTarget::Path(i) | DenyTarget::Glob(i) => i,
                };
                let rel = existing[i % existing.len()];
                Deny {
                    target: DenyTarget::Path(all.iter().position(|a| *a == rel).unwrap_or(0)),
                    access: match d.access.map_or(0, |a| a.0 % 3) {
                        0 => None,
                        1 => Some(AccessChoice(1, 0)),
                        _ => Some(AccessChoice(8, 0)),
                    },
                    except: None,
                    platform: 2,
                }
            })
            .collect(),
    };
    if !denies.is_empty() {
        yaml.push_str("    deny:\n");
    }
    for deny in &denies {
        let (target, except) = match deny.target {
            DenyTarget::Path(i) => {
                let rel = all[i % all.len()];
                let below: Vec<&str> = all
                    .iter()
                    .copied()
                    .filter(|o| {
                        !o.is_empty() && (rel.is_empty() || o.starts_with(&format!("{rel}/")))
                    })
                    .collect();
                let except = deny
                    .except
                    .filter(|_| !below.is_empty())
                    .map(|j| var(below[j % below.len()]));
                (format!("path: \"{}\"", var(rel)), except)
            }
            DenyTarget::Glob(i) => {
                let (glob, except) = GLOBS[i];
                (
                    format!("glob: \"{glob}\""),
                    except.filter(|_| deny.except.is_some()).map(str::to_owned),
                )
            }
        };
        let _ = write!(yaml, "      - {{ {target}");
        if let Some(access) = deny.access {
            let _ = write!(yaml, ", access: {}", access.render());
        }
        if let Some(except) = except {
            let _ = write!(yaml, ", except: [\"{except}\"]");
        }
        yaml.push_str(platform(deny.platform));
        yaml.push_str(" }\n");
    }
    let port_list = |mask: u8| {
        let chosen: Vec<String> = ports
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, p)| p.to_string())
            .collect();
        format!("[{}]", chosen.join(", "))
    };
    let (mode, connect, bind) = case.network;
    let _ = match mode {
        0 => writeln!(yaml, "    network: {{ mode: blocked }}"),
        1 => writeln!(
            yaml,
            "    network: {{ mode: restricted, connect_tcp: {}, bind_tcp: {} }}",
            port_list(connect),
            port_list(bind)
        ),
        _ => writeln!(yaml, "    network: {{ mode: allowed }}"),
    };
    let _ = writeln!(
        yaml,
        "    process: {{ signals: {}, fork: {} }}",
        ["self", "sandbox", "any"][usize::from(case.signals % 3)],
        case.fork
    );

    // Operations, in phases so that none disturbs another: reading ones first, then
    // creation, renames, removals. Each path is the subject of one destructive operation.
    // `OUT` stands for the outside directory, which every link points to: whatever the
    // policy, `decide` denies everything there. No operation goes through a link (`decide`
    // judges paths as written, the kernel as resolved).
    let p = |rel: &str| match rel.strip_prefix("OUT") {
        Some(rest) => format!("{outside}{rest}"),
        None if rel.is_empty() => tree.path("t"),
        None => tree.path(&format!("t/{rel}")),
    };
    let files: Vec<&str> = files.into_iter().chain(["OUT/f0", "OUT/f1"]).collect();
    let dirs: Vec<&str> = dirs.into_iter().chain(["OUT", "OUT/d0"]).collect();
    let pick = |list: &[&str], i: usize| -> Option<String> {
        (!list.is_empty()).then(|| list[i % list.len()].to_owned())
    };
    let mut fresh = 0;
    let mut new_name = |dir: &str| {
        fresh += 1;
        if dir.is_empty() {
            format!("n{fresh}")
        } else {
            format!("{dir}/n{fresh}")
        }
    };
    let mut phases: [Vec<Op>; 6] = Default::default();
    let mut taken: Vec<String> = Vec::new();
    for &(kind, a, b) in &case.requests {
        let op = match kind {
            0 => pick(&files, a).map(|f| (0, Op::Read(p(&f)))),
            1 => pick(&dirs, a).map(|d| (0, Op::ReadDir(p(&d)))),
            2 => pick(&files, a).map(|f| (0, Op::Exec(p(&f)))),
            3 => pick(&files, a).map(|f| (1, Op::Write(p(&f)))),
            4 => pick(&files, a).map(|f| (1, Op::Truncate(p(&f)))),
            5 => pick(&dirs, a).map(|d| (2, Op::Create(p(&new_name(&d))))),
            6 => pick(&dirs, a).map(|d| (2, Op::MakeDir(p(&new_name(&d))))),
            7 => pick(&files, a).filter(|f| !taken.contains(f)).map(|f| {
                taken.push(f.clone());
                // Half within the file's own directory (no refer needed), half across.
                let dir = match f.rfind('/') {
                    Some(i) if b % 2 == 0 => f[..i].to_owned(),
                    None if b % 2 == 0 => String::new(),
                    _ => pick(&dirs, b / 2).unwrap_or_default(),
                };
                (3, Op::Rename(p(&f), p(&new_name(&dir))))
            }),
            8 => pick(&files, a).filter(|f| !taken.contains(f)).map(|f| {
                taken.push(f.clone());
                (4, Op::Unlink(p(&f)))
            }),
            9 => pick(&dirs, a)
                .filter(|d| !d.is_empty() && d != "OUT" && !taken.contains(d))
                .map(|d| {
                    taken.push(d.clone());
                    (5, Op::RemoveDir(p(&d)))
                }),
            10 => Some((0, Op::Connect(ports[a % 3]))),
            11 => Some((0, Op::Bind(ports[a % 3]))),
            _ => Some((0, Op::Signal(std::process::id()))),
        };
        if let Some((phase, op)) = op
            && !phases[phase].contains(&op)
        {
            phases[phase].push(op);
        }
    }
    // Deeper directories first, so a removal is not refused only because a child remains.
    phases[5].sort_by_key(|op| std::cmp::Reverse(op.to_string().len()));
    let ops = phases.into_iter().flatten().collect();
    Built { tree, yaml, ops }
}

// ---------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Stats {
    cases: usize,
    ops: BTreeMap<&'static str, [usize; 2]>,
    differences: BTreeMap<String, usize>,
    with_carve_outs: usize,
    with_glob_matches: usize,
    with_masks: usize,
    with_unmasked: usize,
    abi_capped: usize,
}

/// Three TCP ports nothing listens on now.
fn free_ports() -> [u16; 3] {
    let listeners: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let port = |i: usize| listeners[i].local_addr().unwrap().port();
    [port(0), port(1), port(2)]
}

fn kernel_agrees_with_decide(mode: Mode) {
    if mode != Mode::Landlock
        && let Err(why) = nonoc_runtime::isolation_available()
    {
        panic!("the namespace tier is not available here: {why}");
    }
    let cases = std::env::var("NONOC_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let rng = match std::env::var("NONOC_PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(seed) => {
            let mut bytes = [0_u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
        }
        None => TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    };
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 500,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng);
    let universe = universe();
    let ports = free_ports();
    let stats = RefCell::new(Stats::default());
    let result = runner.run(&case(), |case| {
        let built = build(&case, &universe, &ports, mode);
        let compiled = compile("prop.yaml", &built.yaml).map_err(TestCaseError::fail)?;
        let artifact = built.tree.artifact(&compiled.bytes);
        let mut args = ProbeArgs::new(&artifact, Select::Ring(1)).var("t", &built.tree.path("t"));
        args.max_abi = case.max_abi;
        let probed = probe_ring(PROBE, &compiled.ir, &args, &built.ops);
        let mut s = stats.borrow_mut();
        s.cases += 1;
        let ll = probed.run.report().landlock.clone().unwrap_or_default();
        s.with_carve_outs += usize::from(!ll.carve_outs.is_empty());
        s.with_glob_matches += usize::from(ll.glob_matches.iter().any(|(_, m)| !m.is_empty()));
        s.abi_capped += usize::from(ll.abi < nonoc_runtime::landlock_abi());
        let isolation = probed.run.report().isolation.clone().unwrap_or_default();
        s.with_masks += usize::from(!isolation.masks.is_empty());
        s.with_unmasked += usize::from(!isolation.unmasked.is_empty());
        let mut failures = probed.failures.clone();
        for j in &probed.judged {
            s.ops.entry(j.op.name()).or_default()[usize::from(j.expected.kernel)] += 1;
            if let Some((kind, why)) = &j.expected.difference {
                *s.differences.entry(kind.to_string()).or_default() += 1;
                // What the isolation layer is for: no difference of its own where a mask
                // expresses the deny exactly.
                if mode == Mode::Exact
                    && matches!(
                        kind,
                        Difference::CarveOut | Difference::Mask | Difference::GlobBase
                    )
                {
                    failures.push(format!("{} -> {}: a {kind} difference: {why}", j.op, j.outcome));
                }
            }
        }
        match mode {
            Mode::Landlock if isolation.tier != "landlock" || !isolation.masks.is_empty() => {
                failures.push("`isolation: off` entered namespaces".to_owned());
            }
            // A carve-out under the namespace tier only for what cannot be masked.
            Mode::Namespace | Mode::Exact
                if !ll.carve_outs.is_empty() && isolation.unmasked.is_empty() =>
            {
                failures.push(format!(
                    "carve-outs {:?} without a denied path that could not be masked",
                    ll.carve_outs
                ));
            }
            Mode::Exact if !isolation.unmasked.is_empty() => failures.push(format!(
                "unmasked paths in the exact mode: {:?}",
                isolation.unmasked
            )),
            _ => {}
        }
        if failures.is_empty() {
            Ok(())
        } else {
            let root = built.tree.path("t");
            let report = serde_json::to_string_pretty(&probed.run.report().raw).unwrap_or_default();
            Err(TestCaseError::fail(format!(
                "{} operations disagree with decide:\n  {}\n--- policy (t = {root}) ---\n{}--- operations ---\n  {}\n--- report ---\n{report}",
                failures.len(),
                failures.join("\n  "),
                built.yaml,
                built.ops.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "),
            )))
        }
    });
    let s = stats.into_inner();
    eprintln!(
        "  {mode:?}: {} cases; with carve-outs: {}; with masks: {}; with paths that could not be masked: {}; with glob matches: {}; applied with a capped ABI: {}",
        s.cases,
        s.with_carve_outs,
        s.with_masks,
        s.with_unmasked,
        s.with_glob_matches,
        s.abi_capped
    );
    eprintln!("  operations [kernel denies, kernel allows]: {:?}", s.ops);
    eprintln!("  predicted differences from decide: {:?}", s.differences);
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator must reach what the property is about.
    let (what, reached) = match mode {
        Mode::Landlock => ("carve-outs", s.with_carve_outs),
        Mode::Namespace | Mode::Exact => ("masks", s.with_masks),
    };
    assert!(
        reached >= cases as usize / 10,
        "too few cases with {what}: {reached}"
    );
    for op in [
        "read", "readdir", "write", "truncate", "exec", "create", "mkdir", "unlink", "rmdir",
        "rename",
    ] {
        let [denied, allowed] = s.ops.get(op).copied().unwrap_or_default();
        assert!(
            denied > 0 && allowed > 0,
            "`{op}` was not seen both allowed and denied: {denied} denied, {allowed} allowed"
        );
    }
}
