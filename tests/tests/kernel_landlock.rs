//! Kernel enforcement of the Landlock backend and the runtime: every ring of every policy in
//! `policies/` is applied in a fresh `nonoc-probe` process, which tries allowed and denied
//! operations; each answer of the kernel is compared with `decide` (see
//! `nonoc_tests::kernel::expect` for the mapping and the predicted differences). Then ABI
//! negotiation, the runtime's refusals, missing paths, carve-outs and deny globs.
//!
//! `harness = false`: without Landlock every test reports `skipped` (or `FAILED` with
//! `NONOC_REQUIRE_LANDLOCK=1`), never `ok`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nonoc_runtime::artifact::Right;
use nonoc_runtime::{Artifact, Bindings, Dropped, Error};
use nonoc_test_runner::Test;
use nonoc_tests::kernel::{
    Difference, Op, Outcome, ProbeArgs, Select, TempTree, compile, probe, probe_ring,
};
use serde_json::json;

const PROBE: &str = env!("CARGO_BIN_EXE_nonoc-probe");

/// A directory outside the system's temp directory (the runner's `outside_tmp`).
fn scratch_root() -> PathBuf {
    nonoc_test_runner::outside_tmp(env!("CARGO_TARGET_TMPDIR")).unwrap_or_else(|e| panic!("{e}"))
}

fn main() -> ExitCode {
    nonoc_test_runner::run(&[
        Test::new(
            "every_ring_of_every_policy_matches_decide",
            1,
            every_ring_of_every_policy,
        ),
        Test::new("policy_spot_checks", 6, policy_spot_checks),
        Test::new(
            "trust_score_selects_the_tier_ring",
            1,
            trust_score_selects_the_tier_ring,
        ),
        Test::new(
            "best_effort_reports_exactly_what_an_old_abi_drops",
            6,
            best_effort_drops,
        ),
        Test::new(
            "hard_requirement_refuses_an_old_abi",
            6,
            hard_requirement_refuses,
        ),
        Test::new("runtime_refusals_apply_nothing", 1, runtime_refusals),
        Test::new(
            "missing_allow_paths_are_skipped_and_reported",
            1,
            missing_allow_paths,
        ),
        Test::new("carve_outs_deny_inside_allow", 2, carve_outs),
        Test::new("refer_across_directories", 2, refer_across_directories),
        Test::new(
            "execute_needs_read_file_on_landlock",
            1,
            execute_needs_read_file,
        ),
        Test::new(
            "deny_globs_cover_what_existed_at_apply_time",
            1,
            deny_globs_existing_only,
        ),
        Test::new(
            "links_found_by_the_walk_carry_no_rights",
            1,
            links_carry_no_rights,
        ),
        Test::new(
            "splitting_a_busy_directory_applies",
            1,
            splitting_a_busy_directory,
        ),
        Test::new(
            "deny_glob_matching_an_ancestor_of_an_allowed_directory",
            1,
            glob_matching_an_ancestor,
        ),
    ])
}

// ---------------------------------------------------------------------------------------
// The example policies

/// The tree every example policy is probed in; variables are bound into it.
struct World {
    tree: TempTree,
    vars: BTreeMap<&'static str, String>,
}

impl World {
    /// The tree in `base`: the system's temp directory (which some rings grant wholesale,
    /// and split to carve out the home directory's secrets) or one outside it.
    fn new(base: &Path, tag: &str) -> World {
        let tree = TempTree::new_in(base, tag);
        for f in [
            "notes.txt",
            ".ssh/id_ed25519",
            ".aws/credentials",
            ".gnupg/pubring.kbx",
            ".config/gh/hosts.yml",
        ] {
            tree.file(&format!("home/{f}"), b"secret\n");
        }
        for f in [".cache/pip/x", ".cache/pip/del", ".cache/pip/mv"] {
            tree.file(&format!("home/{f}"), b"cache\n");
        }
        for f in [
            "src/main.rs",
            "src/lib.rs",
            "src/del.rs",
            "src/mv.rs",
            "src/trunc.rs",
            "mv2.txt",
            ".env",
            ".env.example",
        ] {
            tree.file(&format!("ws/{f}"), b"fn main() {}\n");
        }
        tree.file("ws/config/.env.local", b"KEY=1\n");
        tree.file("ws/.git/hooks/pre-commit", b"#!/bin/sh\n");
        tree.file("ws/.git/config", b"[core]\n");
        tree.dir("ws/build");
        tree.dir("ws/empty");
        tree.exe("ws/tool");
        tree.file("checkout/Cargo.toml", b"[package]\n");
        tree.file("checkout/del.txt", b"x\n");
        tree.file("checkout/mv.txt", b"x\n");
        tree.exe("checkout/run.sh");
        tree.file("out/app.tar", b"tar\n");
        tree.file("out/del.bin", b"x\n");
        tree.dir("out/empty");
        tree.dir("out/sub");
        tree.exe("out/tool");
        tree.file("outside/secret.txt", b"secret\n");
        tree.exe("outside/tool");
        let vars = BTreeMap::from([
            ("workspace", tree.path("ws")),
            ("home", tree.path("home")),
            ("checkout", tree.path("checkout")),
            ("out", tree.path("out")),
        ]);
        World { tree, vars }
    }

    fn p(&self, rel: &str) -> String {
        self.tree.path(rel)
    }

    /// `--var` values for the variables a policy declares (others, like `cache`, take their
    /// defaults, which use the bound ones).
    fn args(
        &self,
        artifact: &str,
        select: Select,
        declared: impl Iterator<Item = String>,
    ) -> ProbeArgs {
        let mut args = ProbeArgs::new(artifact, select);
        for name in declared {
            if let Some(value) = self.vars.get(name.as_str()) {
                args = args.var(&name, value);
            }
        }
        args
    }

    /// Allowed and denied operations of every kind, across the tree and the system.
    fn ops(&self, free_port: u16) -> Vec<Op> {
        let p = |rel: &str| self.p(rel);
        let mut ops = Vec::new();
        for rel in [
            "home/notes.txt",
            "home/.ssh/id_ed25519",
            "home/.aws/credentials",
            "home/.gnupg/pubring.kbx",
            "home/.config/gh/hosts.yml",
            "home/.cache/pip/x",
            "ws/src/main.rs",
            "ws/.env",
            "ws/.env.example",
            "ws/config/.env.local",
            "ws/.git/config",
            "checkout/Cargo.toml",
            "out/app.tar",
            "outside/secret.txt",
        ] {
            ops.push(Op::Read(p(rel)));
        }
        for sys in [
            "/usr/lib/os-release",
            "/etc/passwd",
            "/etc/ssl/openssl.cnf",
            "/etc/ld.so.cache",
        ] {
            ops.push(Op::Read(sys.to_owned()));
        }
        for rel in [
            "",
            "ws",
            "ws/src",
            "home",
            "home/.ssh",
            "home/.cache",
            "checkout",
            "out",
            "outside",
        ] {
            ops.push(Op::ReadDir(p(rel)));
        }
        for sys in ["/usr/bin", "/etc", "/tmp"] {
            ops.push(Op::ReadDir(sys.to_owned()));
        }
        ops.push(Op::Exec("/usr/bin/true".to_owned()));
        for rel in ["ws/tool", "checkout/run.sh", "out/tool", "outside/tool"] {
            ops.push(Op::Exec(p(rel)));
        }
        for rel in [
            "ws/src/main.rs",
            "ws/.git/hooks/pre-commit",
            "home/.cache/pip/x",
            "home/notes.txt",
            "home/.ssh/id_ed25519",
            "out/app.tar",
            "checkout/Cargo.toml",
            "outside/secret.txt",
        ] {
            ops.push(Op::Write(p(rel)));
        }
        ops.push(Op::Write("/dev/null".to_owned()));
        for rel in [
            "ws/src/trunc.rs",
            "checkout/Cargo.toml",
            "out/app.tar",
            "home/.ssh/id_ed25519",
        ] {
            ops.push(Op::Truncate(p(rel)));
        }
        for rel in [
            "ws/new.txt",
            "ws/src/new.rs",
            "ws/.git/hooks/new-hook",
            "home/.cache/new",
            "home/new.txt",
            "home/.ssh/new",
            "out/new.bin",
            "checkout/new.txt",
            "outside/new.txt",
        ] {
            ops.push(Op::Create(p(rel)));
        }
        for rel in [
            "ws/newdir",
            "out/newdir",
            "home/.cache/newdir",
            "outside/newdir",
        ] {
            ops.push(Op::MakeDir(p(rel)));
        }
        for (from, to) in [
            ("ws/src/mv.rs", "ws/build/mv.rs"),
            ("home/.cache/pip/mv", "ws/mv-from-cache"),
            ("ws/mv2.txt", "home/.ssh/mv2"),
            ("checkout/mv.txt", "out/mv.txt"),
        ] {
            ops.push(Op::Rename(p(from), p(to)));
        }
        for rel in [
            "ws/src/del.rs",
            "checkout/del.txt",
            "out/del.bin",
            "home/.cache/pip/del",
        ] {
            ops.push(Op::Unlink(p(rel)));
        }
        for rel in ["ws/empty", "out/empty"] {
            ops.push(Op::RemoveDir(p(rel)));
        }
        for port in [443, 80, 53, 22, free_port] {
            ops.push(Op::Connect(port));
        }
        ops.push(Op::Bind(free_port));
        ops.push(Op::Signal(std::process::id()));
        ops
    }
}

/// A TCP port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn every_ring_of_every_policy() {
    let mut failures = Vec::new();
    for (file, base) in nonoc_tests::example_policies()
        .into_iter()
        .flat_map(|f| [(f.clone(), std::env::temp_dir()), (f, scratch_root())])
    {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let yaml = std::fs::read_to_string(&file).unwrap();
        let compiled = compile(&name, &yaml).unwrap_or_else(|e| panic!("{e}"));
        for (&level, ring) in &compiled.ir.rings {
            // A fresh tree per ring: the operations create, remove and rename.
            let world = World::new(&base, "policy");
            let artifact = world.tree.artifact(&compiled.bytes);
            let mut args = world.args(
                &artifact,
                Select::Ring(level),
                compiled.ir.variables.keys().cloned(),
            );
            args.allow_unconfined = ring.unconfined;
            let ops = world.ops(free_port());
            let run = probe::run(PROBE, &args, &ops);
            if let Some((kind, message)) = &run.apply_error {
                // On a kernel older than the ring needs, `hard_requirement` refuses (as it
                // must); `best_effort` never does.
                let hard = compiled.ir.settings.landlock_compatibility
                    == nonoc::syntax::Compatibility::HardRequirement;
                assert!(
                    kind == "unsupported" && hard && nonoc_runtime::landlock_abi() < 6,
                    "{name} ring {level}: the probe could not apply the ring ({kind}): {message}"
                );
                eprintln!(
                    "  {name} ring {level}: refused on this kernel, as hard_requirement demands: {message}"
                );
                continue;
            }
            let probed = nonoc_tests::kernel::judge(&compiled.ir, &args, run);
            let allowed = probed.judged.iter().filter(|j| j.expected.kernel).count();
            let differences: BTreeMap<String, usize> = probed
                .judged
                .iter()
                .filter_map(|j| j.expected.difference.as_ref())
                .fold(BTreeMap::new(), |mut m, (kind, _)| {
                    *m.entry(kind.to_string()).or_default() += 1;
                    m
                });
            eprintln!(
                "  {name} ring {level} (tree in {}): {} operations, {allowed} allowed, {} denied; predicted stricter than decide: {differences:?}",
                base.display(),
                ops.len(),
                ops.len() - allowed,
            );
            if !ring.unconfined {
                assert!(
                    allowed > 0 && allowed < ops.len(),
                    "{name} ring {level}: the operations do not discriminate"
                );
            }
            for f in probed.failures {
                failures.push(format!("{name} ring {level}: {f}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} operations disagree:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// Named outcomes, beside the generic comparison: the policies' intent, written out.
fn policy_spot_checks() {
    let eacces = Outcome::Errno("EACCES".to_owned());
    let eperm = Outcome::Errno("EPERM".to_owned());
    let refused = Outcome::Errno("ECONNREFUSED".to_owned());
    let pid = std::process::id();
    let run = |file: &str, level: u8, ops: &dyn Fn(&World) -> Vec<(Op, Outcome)>| {
        let yaml = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../policies")
                .join(file),
        )
        .unwrap();
        let compiled = compile(file, &yaml).unwrap();
        let world = World::new(&scratch_root(), "spot");
        let artifact = world.tree.artifact(&compiled.bytes);
        let args = world.args(
            &artifact,
            Select::Ring(level),
            compiled.ir.variables.keys().cloned(),
        );
        let expected = ops(&world);
        let list: Vec<Op> = expected.iter().map(|(op, _)| op.clone()).collect();
        let probed = probe_ring(PROBE, &compiled.ir, &args, &list);
        assert!(
            probed.failures.is_empty(),
            "{file} ring {level}:\n  {}",
            probed.failures.join("\n  ")
        );
        // A write deny inside a writable directory: a read-only mask (`EROFS`) where the
        // host gives namespaces, the carve-out (`EACCES`) where not.
        let namespace = probed
            .run
            .report()
            .isolation
            .as_ref()
            .is_some_and(|i| i.tier == "namespace");
        for (op, want) in &expected {
            let got = probed.run.outcome(op);
            let want = &match want {
                Outcome::Errno(e) if e == "EROFS" && !namespace => eacces.clone(),
                other => other.clone(),
            };
            let ok_or_refused = *want == refused && *got == Outcome::Ok;
            assert!(
                got == want || ok_or_refused,
                "{file} ring {level}: `{op}` -> {got}, expected {want}"
            );
        }
    };
    run("agt-rings.yaml", 3, &|w| {
        vec![
            (Op::Read(w.p("ws/src/main.rs")), Outcome::Ok),
            (Op::Read(w.p("home/.ssh/id_ed25519")), eacces.clone()),
            (Op::Write(w.p("ws/src/main.rs")), eacces.clone()),
            (Op::Create(w.p("ws/new.txt")), eacces.clone()),
            // `fork: false`: the seccomp filter refuses the fork before any execve.
            (Op::Exec("/usr/bin/true".to_owned()), eperm.clone()),
            (Op::Exec(w.p("ws/tool")), eperm.clone()),
            // `network.mode: blocked`: the filter refuses the inet socket itself.
            (Op::Connect(443), eperm.clone()),
            (Op::Signal(pid), eperm.clone()),
        ]
    });
    run("agt-rings.yaml", 2, &|w| {
        vec![
            (Op::Write(w.p("ws/src/main.rs")), Outcome::Ok),
            (Op::Create(w.p("ws/src/new.rs")), Outcome::Ok),
            (
                Op::Rename(w.p("ws/src/mv.rs"), w.p("ws/build/mv.rs")),
                Outcome::Ok,
            ),
            (Op::Read(w.p("home/.aws/credentials")), eacces.clone()),
            (Op::Connect(443), refused.clone()),
            (Op::Connect(22), eacces.clone()),
            (Op::Signal(pid), eperm.clone()),
        ]
    });
    run("agt-rings.yaml", 1, &|w| {
        vec![
            (Op::Read("/etc/passwd".to_owned()), Outcome::Ok),
            (Op::Write(w.p("home/notes.txt")), Outcome::Ok),
            (Op::Read(w.p("home/.aws/credentials")), eacces.clone()),
            (Op::Exec(w.p("outside/tool")), Outcome::Ok),
            (Op::Connect(22), refused.clone()),
            // Ring 1 inherits `signals: sandbox` from ring 2.
            (Op::Signal(pid), eperm.clone()),
        ]
    });
    run("coding-agent.yaml", 3, &|w| {
        vec![
            (Op::Read(w.p("ws/.env")), eacces.clone()),
            (Op::Read(w.p("ws/config/.env.local")), eacces.clone()),
            (Op::Read(w.p("ws/.env.example")), Outcome::Ok),
            (Op::Write("/dev/null".to_owned()), Outcome::Ok),
            (Op::Exec("/usr/bin/true".to_owned()), Outcome::Ok),
        ]
    });
    run("coding-agent.yaml", 2, &|w| {
        vec![
            (Op::Write(w.p("ws/src/main.rs")), Outcome::Ok),
            (
                Op::Write(w.p("ws/.git/hooks/pre-commit")),
                Outcome::Errno("EROFS".to_owned()),
            ),
            (Op::Write(w.p("home/.cache/pip/x")), Outcome::Ok),
            (Op::Read(w.p("home/.ssh/id_ed25519")), eacces.clone()),
            (Op::Connect(443), refused.clone()),
            (Op::Connect(80), eacces.clone()),
        ]
    });
    run("ci-runner.yaml", 2, &|w| {
        vec![
            (Op::Read(w.p("checkout/Cargo.toml")), Outcome::Ok),
            (Op::Write(w.p("checkout/Cargo.toml")), eacces.clone()),
            (Op::Write(w.p("out/app.tar")), Outcome::Ok),
            (Op::Exec(w.p("checkout/run.sh")), eacces.clone()),
            // `network.mode: blocked`: the seccomp filter refuses the inet socket itself.
            (Op::Connect(443), eperm.clone()),
        ]
    });
    run("ci-runner.yaml", 1, &|_| {
        vec![
            (Op::Connect(443), refused.clone()),
            (Op::Connect(80), eacces.clone()),
        ]
    });
}

fn trust_score_selects_the_tier_ring() {
    let yaml = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/agt-rings.yaml"),
    )
    .unwrap();
    let compiled = compile("agt-rings.yaml", &yaml).unwrap();
    for score in [0_u16, 299, 300, 500, 750, 950, 1000] {
        let world = World::new(&scratch_root(), "tier");
        let artifact = world.tree.artifact(&compiled.bytes);
        let args = world.args(
            &artifact,
            Select::TrustScore(u32::from(score)),
            compiled.ir.variables.keys().cloned(),
        );
        let ops = vec![
            Op::Write(world.p("ws/src/main.rs")),
            Op::Connect(443),
            Op::Read(world.p("home/.ssh/id_ed25519")),
        ];
        let probed = probe_ring(PROBE, &compiled.ir, &args, &ops);
        let expected = compiled.ir.ring_for_trust_score(score).unwrap();
        assert_eq!(probed.run.report().ring, expected, "trust score {score}");
        assert!(
            probed.failures.is_empty(),
            "trust score {score}:\n  {}",
            probed.failures.join("\n  ")
        );
    }
}

// ---------------------------------------------------------------------------------------
// ABI negotiation

const NEGOTIATION_POLICY: &str = r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: { name: negotiation }
settings:
  landlock: { compatibility: COMPAT, min_abi: MIN }
variables:
  t: { env: NONOC_TEST_ROOT }
rings:
  1:
    filesystem:
      read: ["${t}/ro"]
      write: ["${t}/a", "${t}/b"]
      rules:
        - { path: "${t}/a", access: [read] }
        - { path: "${t}/b", access: [read] }
    network: { mode: restricted, connect_tcp: [443] }
    process: { signals: self }
"#;

fn negotiation_policy(compat: &str, min_abi: u32) -> String {
    NEGOTIATION_POLICY
        .replace("COMPAT", compat)
        .replace("MIN", &min_abi.to_string())
}

fn dropped_right(right: &str, needs: u32) -> serde_json::Value {
    json!({ "what": "right", "right": right, "needs_abi": needs })
}

fn best_effort_drops() {
    let compiled = compile("negotiation.yaml", &negotiation_policy("best_effort", 1)).unwrap();
    let scopes = [
        json!({ "what": "scope", "scope": "signal", "needs_abi": 6 }),
        json!({ "what": "scope", "scope": "abstract_unix_socket", "needs_abi": 6 }),
    ];
    let tcp = json!({ "what": "tcp_ports", "needs_abi": 4 });
    let cases: [(u32, Vec<serde_json::Value>); 4] = [
        (
            1,
            vec![
                dropped_right("truncate", 3),
                dropped_right("refer", 2),
                dropped_right("ioctl_dev", 5),
                tcp.clone(),
                scopes[0].clone(),
                scopes[1].clone(),
            ],
        ),
        (
            2,
            vec![
                dropped_right("truncate", 3),
                dropped_right("ioctl_dev", 5),
                tcp.clone(),
                scopes[0].clone(),
                scopes[1].clone(),
            ],
        ),
        (
            3,
            vec![
                dropped_right("ioctl_dev", 5),
                tcp.clone(),
                scopes[0].clone(),
                scopes[1].clone(),
            ],
        ),
        (6, vec![]),
    ];
    for (abi, mut expected) in cases {
        let tree = TempTree::new("best-effort");
        tree.file("ro/file", b"read only\n");
        tree.file("a/file", b"a\n");
        tree.file("a/mv", b"a\n");
        tree.dir("b");
        let artifact = tree.artifact(&compiled.bytes);
        let mut args = ProbeArgs::new(&artifact, Select::Ring(1)).var("t", &tree.root());
        args.max_abi = Some(abi);
        let ops = vec![
            Op::Truncate(tree.path("ro/file")),
            Op::Truncate(tree.path("a/file")),
            Op::Write(tree.path("ro/file")),
            Op::Read(tree.path("ro/file")),
            Op::Rename(tree.path("a/mv"), tree.path("b/mv")),
            Op::Connect(443),
            Op::Connect(free_port()),
            Op::Signal(std::process::id()),
        ];
        let probed = probe_ring(PROBE, &compiled.ir, &args, &ops);
        assert!(
            probed.failures.is_empty(),
            "ABI {abi}:\n  {}",
            probed.failures.join("\n  ")
        );
        let ll = probed.run.report().landlock.clone().unwrap();
        assert_eq!(ll.abi, abi);
        // The report lists rights in their declaration order: sort both for the comparison.
        let key = |v: &serde_json::Value| v.to_string();
        let mut got = ll.dropped.clone();
        got.sort_by_key(key);
        expected.sort_by_key(key);
        assert_eq!(got, expected, "ABI {abi}: dropped");
        let truncate = probed.run.outcome(&Op::Truncate(tree.path("ro/file")));
        let write = probed.run.outcome(&Op::Write(tree.path("ro/file")));
        assert_eq!(
            *write,
            Outcome::Errno("EACCES".to_owned()),
            "ABI {abi}: write_file is enforced on every ABI"
        );
        if abi < 3 {
            assert!(!ll.handles("truncate"));
            assert_eq!(
                *truncate,
                Outcome::Ok,
                "ABI {abi}: truncate is not restricted"
            );
        } else {
            assert!(ll.handles("truncate"));
            assert_eq!(
                *truncate,
                Outcome::Errno("EACCES".to_owned()),
                "ABI {abi}: truncate is restricted"
            );
        }
        let rename = probed
            .run
            .outcome(&Op::Rename(tree.path("a/mv"), tree.path("b/mv")));
        let want = if abi < 2 {
            Outcome::Errno("EXDEV".to_owned())
        } else {
            Outcome::Ok
        };
        assert_eq!(*rename, want, "ABI {abi}: rename across directories");
        let signal = probed.run.outcome(&Op::Signal(std::process::id()));
        assert_eq!(
            *signal,
            if abi < 6 {
                Outcome::Ok
            } else {
                Outcome::Errno("EPERM".to_owned())
            },
            "ABI {abi}: signal scope"
        );
        assert_eq!(ll.tcp_ports_enforced, abi >= 4);
    }
}

fn hard_requirement_refuses() {
    let compiled = compile(
        "negotiation.yaml",
        &negotiation_policy("hard_requirement", 4),
    )
    .unwrap();
    let tree = TempTree::new("hard");
    tree.file("ro/file", b"read only\n");
    tree.dir("a");
    tree.dir("b");
    let artifact_path = tree.artifact(&compiled.bytes);
    let artifact = Artifact::from_slice(&compiled.bytes).unwrap();
    let bindings = Bindings::new().with("t", tree.root());
    for abi in [1_u32, 3, 4, 5] {
        // In process: `preview` negotiates exactly as `apply` does, restricting nothing.
        let err = artifact
            .ring(1)
            .unwrap()
            .max_abi(abi)
            .preview(&bindings)
            .unwrap_err();
        let Error::Unsupported { abi: got, dropped } = err else {
            panic!("ABI {abi}: expected Unsupported, got {err:?}")
        };
        assert_eq!(got, abi);
        let mut want = Vec::new();
        if abi < 4 {
            want.push(Dropped::BelowMinAbi { min_abi: 4, abi });
        }
        for right in Right::ALL.into_iter().filter(|r| r.min_abi() > abi) {
            want.push(Dropped::Right {
                right,
                needs_abi: right.min_abi(),
            });
        }
        if abi < 4 {
            want.push(Dropped::TcpPorts { needs_abi: 4 });
        }
        want.push(Dropped::Scope {
            scope: nonoc_runtime::artifact::ScopeName::Signal,
            needs_abi: 6,
        });
        want.push(Dropped::Scope {
            scope: nonoc_runtime::artifact::ScopeName::AbstractUnixSocket,
            needs_abi: 6,
        });
        assert_eq!(dropped, want, "ABI {abi}");
        // The probe: exit 126 before any operation, with the same refusal.
        let mut args = ProbeArgs::new(&artifact_path, Select::Ring(1)).var("t", &tree.root());
        args.max_abi = Some(abi);
        let run = probe::run(PROBE, &args, &[Op::Read(tree.path("ro/file"))]);
        assert_eq!(run.status, Some(126), "ABI {abi}: {}", run.stdout);
        assert_eq!(
            run.apply_error.as_ref().map(|(k, _)| k.as_str()),
            Some("unsupported")
        );
        assert!(
            run.report.is_none() && run.results.is_empty(),
            "ABI {abi}: {}",
            run.stdout
        );
    }
    // With ABI 6 everything the ring needs is there.
    let mut args = ProbeArgs::new(&artifact_path, Select::Ring(1)).var("t", &tree.root());
    args.max_abi = Some(6);
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &args,
        &[
            Op::Write(tree.path("ro/file")),
            Op::Truncate(tree.path("ro/file")),
        ],
    );
    assert!(probed.failures.is_empty(), "{}", probed.failures.join("\n"));
    assert!(
        probed
            .run
            .report()
            .landlock
            .as_ref()
            .unwrap()
            .dropped
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------
// Refusals

const REFUSAL_POLICY: &str = r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: { name: refusals }
variables:
  t: { env: NONOC_TEST_UNSET_VARIABLE }
trust_tiers:
  - { name: all, min_score: 0, ring: 1 }
rings:
  1:
    filesystem: { read: ["${t}"] }
  0:
    unconfined: true
"#;

fn runtime_refusals() {
    let compiled = compile("refusals.yaml", REFUSAL_POLICY).unwrap();
    let tree = TempTree::new("refusals");
    let secret = tree.file("secret", b"secret\n");
    let artifact = tree.artifact(&compiled.bytes);
    // Each refusal exits 126 before any operation: the probe stays unconfined.
    let refused = |args: &ProbeArgs, kind: &str| {
        let run = probe::run(PROBE, args, &[Op::Read(secret.clone())]);
        assert_eq!(
            run.status,
            Some(126),
            "expected refusal `{kind}`:\n{}{}",
            run.stdout,
            run.stderr
        );
        let got = run
            .apply_error
            .as_ref()
            .map(|(k, m)| (k.as_str(), m.as_str()));
        assert_eq!(got.map(|g| g.0), Some(kind), "{}", run.stdout);
        assert!(run.report.is_none() && run.results.is_empty());
        got.map(|g| g.1.to_owned()).unwrap_or_default()
    };
    let bound = |args: ProbeArgs| args.var("t", &tree.root());

    // Unconfined ring: refused without the opt-in, applies nothing with it.
    let msg = refused(
        &bound(ProbeArgs::new(&artifact, Select::Ring(0))),
        "unconfined_refused",
    );
    assert!(msg.contains("ring 0 is unconfined"), "{msg}");
    let mut args = bound(ProbeArgs::new(&artifact, Select::Ring(0)));
    args.allow_unconfined = true;
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &args,
        &[Op::Read(secret.clone()), Op::Write(secret.clone())],
    );
    assert!(probed.run.report().unconfined && probed.run.report().landlock.is_none());
    assert!(
        probed.run.results.iter().all(|(_, o)| *o == Outcome::Ok),
        "{}",
        probed.run.stdout
    );
    assert!(probed.failures.is_empty());

    // A second thread: Landlock would confine only the calling one.
    let mut args = bound(ProbeArgs::new(&artifact, Select::Ring(1)));
    args.extra_thread = true;
    let msg = refused(&args, "multi_threaded");
    assert!(msg.contains("2 threads"), "{msg}");

    // Unbound variable (no `--var`, no environment, no default).
    let msg = refused(&ProbeArgs::new(&artifact, Select::Ring(1)), "unbound");
    assert!(msg.contains("`t`"), "{msg}");
    // A bound value must be an absolute normalized path.
    refused(
        &ProbeArgs::new(&artifact, Select::Ring(1)).var("t", "relative/dir"),
        "bad_value",
    );
    refused(
        &ProbeArgs::new(&artifact, Select::Ring(1)).var("t", "/a/../b"),
        "bad_value",
    );

    // Trust scores outside 0..=1000; a ring the artifact lacks.
    let msg = refused(
        &bound(ProbeArgs::new(&artifact, Select::TrustScore(1001))),
        "trust_score_range",
    );
    assert!(msg.contains("1001"), "{msg}");
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &bound(ProbeArgs::new(&artifact, Select::TrustScore(1000))),
        &[Op::Read(secret.clone())],
    );
    assert_eq!(probed.run.report().ring, 1);
    refused(
        &bound(ProbeArgs::new(&artifact, Select::Ring(7))),
        "no_such_ring",
    );

    // A byte flipped inside a string value: still valid JSON, but not what was compiled.
    let text = String::from_utf8(compiled.bytes.clone()).unwrap();
    let at = text.find("\"refusals\"").unwrap() + 1;
    let mut flipped = compiled.bytes.clone();
    flipped[at] ^= 0x01; // `r` -> `s`
    let bad = tree.path("flipped.json");
    std::fs::write(&bad, &flipped).unwrap();
    let msg = refused(
        &bound(ProbeArgs::new(&bad, Select::Ring(1))),
        "digest_mismatch",
    );
    assert!(msg.contains("modified after compilation"), "{msg}");
    assert!(matches!(
        Artifact::from_slice(&flipped),
        Err(Error::DigestMismatch { .. })
    ));

    // An unknown format version.
    let v2 = text.replace("\"nonoc-artifact/v1\"", "\"nonoc-artifact/v2\"");
    assert_ne!(v2, text);
    let bad = tree.path("v2.json");
    std::fs::write(&bad, v2.as_bytes()).unwrap();
    let msg = refused(
        &bound(ProbeArgs::new(&bad, Select::Ring(1))),
        "unknown_format",
    );
    assert!(msg.contains("nonoc-artifact/v2"), "{msg}");

    // Not JSON at all.
    let bad = tree.path("truncated.json");
    std::fs::write(&bad, &compiled.bytes[..compiled.bytes.len() / 2]).unwrap();
    refused(&bound(ProbeArgs::new(&bad, Select::Ring(1))), "malformed");
}

fn missing_allow_paths() {
    let tree = TempTree::new("missing");
    tree.file("present/file", b"x\n");
    let yaml = format!(
        r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: missing }}
rings:
  1:
    filesystem:
      read: ["{root}/present", "{root}/absent", "{root}/present/absent-too"]
      write: ["{root}/gone/deeper"]
"#,
        root = tree.root()
    );
    let compiled = compile("missing.yaml", &yaml).unwrap();
    let artifact = tree.artifact(&compiled.bytes);
    let ops = vec![
        Op::Read(tree.path("present/file")),
        Op::ReadDir(tree.path("present")),
    ];
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &ProbeArgs::new(&artifact, Select::Ring(1)),
        &ops,
    );
    assert!(probed.failures.is_empty(), "{}", probed.failures.join("\n"));
    assert!(probed.run.results.iter().all(|(_, o)| *o == Outcome::Ok));
    let ll = probed.run.report().landlock.clone().unwrap();
    let mut want = vec![
        tree.path("absent"),
        tree.path("gone/deeper"),
        tree.path("present/absent-too"),
    ];
    want.sort();
    assert_eq!(ll.missing_paths, want);
    // The skipped rules grant nothing: a directory created later in their place (by someone
    // else) stays out of reach.
    tree.file("absent/later", b"x\n");
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &ProbeArgs::new(&artifact, Select::Ring(1)),
        &[Op::Read(tree.path("present/file"))],
    );
    assert!(
        !probed
            .run
            .report()
            .landlock
            .as_ref()
            .unwrap()
            .missing_paths
            .contains(&tree.path("absent"))
    );
}

// ---------------------------------------------------------------------------------------
// Carve-outs, refer, execute, globs

fn carve_outs() {
    let tree = TempTree::new("carve");
    for f in [
        "ws/secret/key",
        "ws/notes",
        "ws/sub/file",
        "ws/sub/del",
        "ws/ro-deny/file",
        "ws/keep/.env",
        "ws/keep/.env.example",
    ] {
        tree.file(f, b"x\n");
    }
    let yaml = r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: { name: carve }
settings: { isolation: off }   # the carve-outs themselves (tests/tests/kernel_isolation.rs: masks)
variables:
  ws: { env: NONOC_TEST_WS }
rings:
  1:
    filesystem:
      read: ["${ws}"]
      write: ["${ws}"]
    deny:
      - path: "${ws}/secret"
      - path: "${ws}/ro-deny"
        access: [write]
      - glob: "${ws}/keep/.env*"
        access: [read]
        except: ["${ws}/keep/.env.example"]
"#;
    let compiled = compile("carve.yaml", yaml).unwrap();
    assert!(
        compiled
            .warnings
            .iter()
            .any(|w| w.contains("carve") || w.contains("split")),
        "carve-outs are reported at compile time: {:?}",
        compiled.warnings
    );
    let artifact = tree.artifact(&compiled.bytes);
    let ws = tree.path("ws");
    let ops = vec![
        Op::Read(tree.path("ws/secret/key")),
        Op::Read(tree.path("ws/notes")),
        Op::Read(tree.path("ws/keep/.env")),
        Op::Read(tree.path("ws/keep/.env.example")),
        Op::Read(tree.path("ws/ro-deny/file")),
        Op::Write(tree.path("ws/ro-deny/file")),
        Op::Write(tree.path("ws/notes")),
        Op::ReadDir(ws.clone()),
        Op::ReadDir(tree.path("ws/sub")),
        Op::Create(tree.path("ws/new")),
        Op::Create(tree.path("ws/sub/new")),
        Op::Create(tree.path("ws/secret/new")),
        Op::Create(tree.path("ws/ro-deny/new")),
        Op::Unlink(tree.path("ws/sub/del")),
        Op::MakeDir(tree.path("ws/sub/dir")),
    ];
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &ProbeArgs::new(&artifact, Select::Ring(1)).var("ws", &ws),
        &ops,
    );
    assert!(probed.failures.is_empty(), "{}", probed.failures.join("\n"));
    let ll = probed.run.report().landlock.clone().unwrap();
    // `ws` is split (a full deny and a write deny below it); `keep` is split for `.env`.
    let split: Vec<&String> = ll.carve_outs.keys().collect();
    assert_eq!(split, [&ws, &tree.path("ws/keep")], "{:?}", ll.carve_outs);
    assert!(
        ll.lost(&ws).contains(&"make_reg".to_owned())
            && ll.lost(&ws).contains(&"read_dir".to_owned())
    );
    assert_eq!(
        ll.glob_matches,
        vec![(
            "${ws}/keep/.env*".to_owned(),
            vec![tree.path("ws/keep/.env"), tree.path("ws/keep/.env.example")]
        )]
    );
    let outcome = |op: Op| probed.run.outcome(&op).clone();
    let eacces = Outcome::Errno("EACCES".to_owned());
    assert_eq!(outcome(Op::Read(tree.path("ws/secret/key"))), eacces);
    assert_eq!(outcome(Op::Read(tree.path("ws/keep/.env"))), eacces);
    assert_eq!(
        outcome(Op::Read(tree.path("ws/keep/.env.example"))),
        Outcome::Ok
    );
    assert_eq!(outcome(Op::Read(tree.path("ws/ro-deny/file"))), Outcome::Ok);
    assert_eq!(outcome(Op::Write(tree.path("ws/ro-deny/file"))), eacces);
    assert_eq!(outcome(Op::Write(tree.path("ws/notes"))), Outcome::Ok);
    assert_eq!(outcome(Op::Create(tree.path("ws/sub/new"))), Outcome::Ok);
    // Stricter than decide, and predicted: `ws` lost the rights its carve-out withholds.
    for op in [Op::ReadDir(ws.clone()), Op::Create(tree.path("ws/new"))] {
        let j = probed.judged.iter().find(|j| j.op == op).unwrap();
        assert!(j.expected.decide && !j.expected.kernel, "{op}");
        assert_eq!(
            j.expected.difference.as_ref().map(|d| d.0),
            Some(Difference::CarveOut),
            "{op}"
        );
        assert_eq!(j.outcome, eacces, "{op}");
    }

    // A write deny under a read-only allow needs no carve-out.
    let yaml = format!(
        r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: no-carve }}
rings:
  1:
    filesystem: {{ read: ["{ws}"] }}
    deny:
      - {{ path: "{ws}/ro-deny", access: [write] }}
"#
    );
    let compiled = compile("no-carve.yaml", &yaml).unwrap();
    let artifact = tree.artifact(&compiled.bytes);
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &ProbeArgs::new(&artifact, Select::Ring(1)),
        &[
            Op::ReadDir(ws.clone()),
            Op::Read(tree.path("ws/ro-deny/file")),
        ],
    );
    assert!(probed.failures.is_empty(), "{}", probed.failures.join("\n"));
    assert!(
        probed
            .run
            .report()
            .landlock
            .as_ref()
            .unwrap()
            .carve_outs
            .is_empty()
    );
    assert!(probed.run.results.iter().all(|(_, o)| *o == Outcome::Ok));
}

fn refer_across_directories() {
    let tree = TempTree::new("refer");
    for f in ["rw/a", "rw/b", "rw/c", "rw/d", "nore/a", "ro/x"] {
        tree.file(f, b"x\n");
    }
    tree.dir("rw2");
    tree.dir("rwx");
    let root = tree.root();
    let yaml = format!(
        r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: refer }}
rings:
  1:
    filesystem:
      read: ["{root}/rw", "{root}/rw2", "{root}/rwx", "{root}/nore"]
      write: ["{root}/rw", "{root}/rw2", "{root}/rwx"]
      execute: ["{root}/rwx"]
      rules:
        - {{ path: "{root}/nore", access: [write_file, make_reg, remove_file] }}
"#
    );
    let compiled = compile("refer.yaml", &yaml).unwrap();
    let artifact = tree.artifact(&compiled.bytes);
    let exdev = Outcome::Errno("EXDEV".to_owned());
    let eacces = Outcome::Errno("EACCES".to_owned());
    let cases = [
        // Same rights on both sides: allowed.
        (
            Op::Rename(tree.path("rw/a"), tree.path("rw2/a")),
            Outcome::Ok,
        ),
        // Same directory: refer is not needed.
        (
            Op::Rename(tree.path("nore/a"), tree.path("nore/a2")),
            Outcome::Ok,
        ),
        // No refer at the destination: EXDEV (decide denies refer on the new path).
        (
            Op::Rename(tree.path("rw/b"), tree.path("nore/b")),
            exdev.clone(),
        ),
        // Removal is not granted under `ro`: EACCES wins over EXDEV.
        (Op::Rename(tree.path("ro/x"), tree.path("rw/x")), eacces),
        // The file would gain execute in `rwx`: Landlock refuses (EXDEV) though decide allows.
        (Op::Rename(tree.path("rw/c"), tree.path("rwx/c")), exdev),
    ];
    let ops: Vec<Op> = cases.iter().map(|(op, _)| op.clone()).collect();
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &ProbeArgs::new(&artifact, Select::Ring(1)),
        &ops,
    );
    assert!(probed.failures.is_empty(), "{}", probed.failures.join("\n"));
    for (op, want) in &cases {
        assert_eq!(probed.run.outcome(op), want, "{op}");
    }
    let gain = probed.judged.iter().find(|j| j.op == cases[4].0).unwrap();
    assert!(gain.expected.decide);
    assert_eq!(
        gain.expected.difference.as_ref().map(|d| d.0),
        Some(Difference::Refer)
    );
}

/// Landlock's execve opens the file for reading: execute alone does not run a file. `decide`
/// allows it (the language makes execute its own right), so the kernel is stricter here.
fn execute_needs_read_file() {
    let tree = TempTree::new("exec");
    tree.exe("x/tool");
    tree.exe("rx/tool");
    let root = tree.root();
    let yaml = format!(
        r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: exec }}
rings:
  1:
    filesystem:
      execute: ["{root}/x", "{root}/rx"]
      read: ["{root}/rx"]
    process: {{ fork: true }}
"#
    );
    let compiled = compile("exec.yaml", &yaml).unwrap();
    let artifact = tree.artifact(&compiled.bytes);
    let ops = vec![
        Op::Exec(tree.path("x/tool")),
        Op::Exec(tree.path("rx/tool")),
        Op::Read(tree.path("x/tool")),
    ];
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &ProbeArgs::new(&artifact, Select::Ring(1)),
        &ops,
    );
    assert!(probed.failures.is_empty(), "{}", probed.failures.join("\n"));
    assert_eq!(
        *probed.run.outcome(&ops[0]),
        Outcome::Errno("EACCES".to_owned())
    );
    assert_eq!(*probed.run.outcome(&ops[1]), Outcome::Ok);
    let j = &probed.judged[0];
    assert!(j.expected.decide, "decide allows execute without read_file");
    assert_eq!(
        j.expected.difference.as_ref().map(|d| d.0),
        Some(Difference::ExecNeedsRead)
    );
}

/// The documented limit of deny globs on Landlock: they are expanded to the files that exist
/// when the ring is applied. A file created later under an allowed directory is not covered
/// (decide denies it; the report's `glob_matches` shows what was covered).
fn deny_globs_existing_only() {
    let tree = TempTree::new("glob");
    tree.file("ws/.env", b"x\n");
    tree.file("ws/sub/file", b"x\n");
    let yaml = r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: { name: glob }
variables:
  ws: { env: NONOC_TEST_WS }
rings:
  1:
    filesystem:
      read: ["${ws}"]
      write: ["${ws}"]
    deny:
      - glob: "${ws}/**/.env*"
        access: [read]
"#;
    let compiled = compile("glob.yaml", yaml).unwrap();
    let artifact = tree.artifact(&compiled.bytes);
    let ws = tree.path("ws");
    // In `sub`, which no match split (a late file directly in `ws` would meet the carve-out
    // of `ws`, which lost read for its new entries).
    let late = tree.path("ws/sub/.env.late");
    let ops = vec![
        Op::Read(tree.path("ws/.env")),
        Op::Create(late.clone()),
        Op::Read(late.clone()),
    ];
    let run = probe::run(
        PROBE,
        &ProbeArgs::new(&artifact, Select::Ring(1)).var("ws", &ws),
        &ops,
    );
    let ll = run.report().landlock.clone().unwrap();
    assert_eq!(
        ll.glob_matches,
        vec![("${ws}/**/.env*".to_owned(), vec![tree.path("ws/.env")])]
    );
    assert_eq!(*run.outcome(&ops[0]), Outcome::Errno("EACCES".to_owned()));
    assert_eq!(*run.outcome(&ops[1]), Outcome::Ok);
    // Known and reported: the late file is readable though decide denies it.
    assert_eq!(*run.outcome(&ops[2]), Outcome::Ok);
    let bound = nonoc_tests::kernel::bindings(&compiled.ir, &[("ws".to_owned(), ws.clone())]);
    let oracle = nonoc_tests::kernel::Oracle {
        ring: &compiled.ir.rings[&1],
        bindings: &bound,
        report: run.report(),
    };
    assert!(!oracle.decide_path(&late, nonoc::ir::Right::ReadFile));
    assert!(
        compiled.warnings.iter().any(|w| w.contains("glob")),
        "the compiler warns about partial glob enforcement: {:?}",
        compiled.warnings
    );
}

/// Regression: a symlink that a carve-out walk meets (a deny glob's match, an except path,
/// an entry on the way to a denied path) was opened following the link, so the rights meant
/// for the link's path went to its target. With write access to the workspace, an agent
/// could plant `ws/.env.x -> /etc` and get write access to /etc at the next apply.
fn links_carry_no_rights() {
    let tree = TempTree::new("links");
    tree.file("outside/secret.txt", b"secret\n");
    tree.dir("outside/dir");
    let outside = tree.path("outside");
    tree.file("ws/sub/file", b"x\n");
    tree.dir("ws/secret");
    tree.dir("ws/d");
    tree.symlink("ws/.env.x", &outside);
    tree.symlink("ws/d/keep", &outside);
    tree.symlink("ws/onway", &outside);
    let yaml = r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: { name: links }
variables:
  ws: { env: NONOC_TEST_WS }
rings:
  1:
    filesystem:
      read: ["${ws}"]
      write: ["${ws}"]
    deny:
      - path: "${ws}/secret"
      - glob: "${ws}/**/.env*"
        access: [read]
      - path: "${ws}/d"
        except: ["${ws}/d/keep"]
      - path: "${ws}/onway/dir"
"#;
    let compiled = compile("links.yaml", yaml).unwrap();
    let artifact = tree.artifact(&compiled.bytes);
    let ops = vec![
        Op::Write(tree.path("outside/secret.txt")),
        Op::Read(tree.path("outside/secret.txt")),
        Op::Create(tree.path("outside/new")),
        Op::MakeDir(tree.path("outside/dir/new")),
        Op::ReadDir(outside.clone()),
        Op::Write(tree.path("ws/sub/file")),
    ];
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &ProbeArgs::new(&artifact, Select::Ring(1)).var("ws", &tree.path("ws")),
        &ops,
    );
    assert!(probed.failures.is_empty(), "{}", probed.failures.join("\n"));
    for op in &ops[..5] {
        assert_eq!(
            *probed.run.outcome(op),
            Outcome::Errno("EACCES".to_owned()),
            "{op}"
        );
    }
    assert_eq!(*probed.run.outcome(&ops[5]), Outcome::Ok);
}

/// Regression: a deny glob that matches an ancestor of an allowed directory (below the
/// glob's root) covers the whole directory; the runtime only searched at and below it.
fn glob_matching_an_ancestor() {
    let tree = TempTree::new("glob-ancestor");
    tree.file("t/a/b/c/file", b"x\n");
    tree.file("t/a/x/c/file", b"x\n");
    let yaml = r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: { name: glob-ancestor }
variables:
  t: { env: NONOC_TEST_T }
rings:
  1:
    filesystem:
      read: ["${t}/a/b/c", "${t}/a/x/c"]
      write: ["${t}/a/b/c"]
    deny:
      - glob: "${t}/*/b"
"#;
    let compiled = compile("glob-ancestor.yaml", yaml).unwrap();
    let artifact = tree.artifact(&compiled.bytes);
    let ops = vec![
        Op::Read(tree.path("t/a/b/c/file")),
        Op::Write(tree.path("t/a/b/c/file")),
        Op::Read(tree.path("t/a/x/c/file")),
    ];
    let probed = probe_ring(
        PROBE,
        &compiled.ir,
        &ProbeArgs::new(&artifact, Select::Ring(1)).var("t", &tree.path("t")),
        &ops,
    );
    assert!(probed.failures.is_empty(), "{}", probed.failures.join("\n"));
    assert_eq!(
        *probed.run.outcome(&ops[0]),
        Outcome::Errno("EACCES".to_owned())
    );
    assert_eq!(
        *probed.run.outcome(&ops[1]),
        Outcome::Errno("EACCES".to_owned())
    );
    assert_eq!(*probed.run.outcome(&ops[2]), Outcome::Ok);
    let ll = probed.run.report().landlock.clone().unwrap();
    assert_eq!(
        ll.glob_matches,
        vec![("${t}/*/b".to_owned(), vec![tree.path("t/a/b")])]
    );
}

/// Regression: a split reads a directory, then opens every entry; an entry removed in between
/// (a busy `/tmp`) failed the whole apply. It needs no rule: it is skipped and reported.
fn splitting_a_busy_directory() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let tree = TempTree::new("busy");
    tree.file("busy/secret/key", b"x\n");
    tree.file("busy/file", b"x\n");
    let busy = tree.path("busy");
    let yaml = r#"
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: { name: busy }
variables:
  b: { env: NONOC_TEST_BUSY }
rings:
  1:
    filesystem:
      read: ["${b}"]
      write: ["${b}"]
    deny:
      - path: "${b}/secret"
"#;
    let compiled = compile("busy.yaml", yaml).unwrap();
    let artifact = tree.artifact(&compiled.bytes);
    let stop = AtomicBool::new(false);
    let (mut applied, mut vanished) = (0, 0);
    std::thread::scope(|scope| {
        // Many short-lived entries: most runs read some that are gone when opened.
        scope.spawn(|| {
            let mut n = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let p = format!("{busy}/churn-{}", n % 400);
                if n % 800 < 400 {
                    let _ = std::fs::write(&p, b"x");
                } else {
                    let _ = std::fs::remove_file(&p);
                }
                n += 1;
            }
        });
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for _ in 0..40 {
                let args = ProbeArgs::new(&artifact, Select::Ring(1)).var("b", &busy);
                let file = Op::Read(tree.path("busy/file"));
                let key = Op::Read(tree.path("busy/secret/key"));
                let run = probe::run(PROBE, &args, &[file.clone(), key.clone()]);
                let failed = run.apply_error.clone();
                assert!(
                    failed.is_none(),
                    "apply failed on a busy directory: {failed:?}"
                );
                assert_eq!(*run.outcome(&file), Outcome::Ok);
                assert_eq!(*run.outcome(&key), Outcome::Errno("EACCES".to_owned()));
                applied += 1;
                vanished += usize::from(
                    !run.report()
                        .landlock
                        .as_ref()
                        .unwrap()
                        .missing_paths
                        .is_empty(),
                );
            }
        }));
        stop.store(true, Ordering::Relaxed);
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    });
    eprintln!("  {applied} applies on a churning directory; {vanished} met entries that vanished");
}
