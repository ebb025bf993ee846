#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark aborts on any failure"
)]

//! Apply-path benchmarks (issue: load + apply under 100 µs; `nonoc exec` close to a bare exec).
//!
//! `cargo bench -p nonoc --bench apply`. Landlock restrictions are irrevocable and stack, so
//! each measurement of load + apply runs in a fresh process: the bench re-runs its own
//! executable with `NONOC_BENCH_CHILD` set, the child times `Artifact::load` + `apply` in
//! itself and prints the nanoseconds. Alternating with it, a floor child times the same
//! ring's kernel calls alone (see `floor_child`). The exec comparison times whole commands,
//! alternating `nonoc exec ... -- /bin/true` and `/usr/bin/env /bin/true` in one run;
//! `NONOC_BENCH_BIN` names another `nonoc` binary to time there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 300;

fn main() {
    if let Ok(artifact) = std::env::var("NONOC_BENCH_CHILD") {
        child(Path::new(&artifact));
        return;
    }
    #[cfg(target_os = "linux")]
    if let Ok(artifact) = std::env::var("NONOC_BENCH_FLOOR") {
        floor_child(Path::new(&artifact));
        return;
    }
    if nonoc_runtime::landlock_abi() == 0 {
        println!("landlock unavailable: apply benchmarks need a kernel with Landlock");
        return;
    }
    // Outside /tmp: ring 2 allows writing /tmp, and a home directory under it would make the
    // global `${home}/.ssh` denies carve /tmp out, which is not the case being measured.
    let dir = PathBuf::from("/var/tmp").join(format!("nonoc-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("workspace")).unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    // The artifact as `nonoc compile` writes it by default (Linux and macOS sections), and as
    // `--target linux` writes it for Linux agents.
    let mut ratios = (0.0, 0.0);
    for linux_only in [false, true] {
        let artifact = compile(&dir, linux_only);
        println!(
            "-- artifact: {} ({} bytes)",
            if linux_only {
                "--target linux"
            } else {
                "all targets"
            },
            std::fs::metadata(&artifact).unwrap().len()
        );
        // The summary line is the Linux agents' artifact's (the last one measured).
        ratios = apply_in_process(&artifact, &dir);
        load_alone(&artifact);
        exec_vs_env(&artifact, &dir);
    }
    exec_by_tier(&dir);
    many_glob_matches(&dir);
    placement_scaling(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    // The goals, for the `--target linux` artifact: cold <= 1.5x, warm <= 1.2x.
    println!(
        "apply: cold {:.2}x floor, warm {:.2}x floor",
        ratios.0, ratios.1
    );
}

/// `nonoc exec` of agt-rings ring 2 on a workspace with a `.git` (a deny inside the writable
/// workspace): the `namespace` tier (a read-only mask in a fresh mount namespace) against the
/// `landlock` tier (`isolation: off`, the carve-out), alternated; and ring 3, which needs no
/// mask, with the isolation layer on and off: it must cost the same (no namespace at all).
fn exec_by_tier(dir: &Path) {
    let nonoc = std::env::var_os("NONOC_BENCH_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_nonoc")), PathBuf::from);
    let tiers = dir.join("tiers");
    std::fs::create_dir_all(tiers.join("workspace/.git/hooks")).unwrap();
    std::fs::create_dir_all(tiers.join("home")).unwrap();
    std::fs::write(tiers.join("workspace/.git/config"), b"[core]\n").unwrap();
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/agt-rings.yaml");
    let yaml = std::fs::read_to_string(&policy).unwrap();
    let compile = |name: &str, yaml: &str| {
        let targets = nonoc::backend::Targets::LINUX;
        let analysis = nonoc::analyze_for("agt-rings.yaml", yaml.as_bytes(), targets);
        let ir = analysis.ir.as_ref().expect("agt-rings.yaml compiles");
        let (_, sealed) =
            nonoc::artifact::build(ir, &analysis.lowered, yaml.as_bytes(), targets).unwrap();
        let path = tiers.join(name);
        std::fs::write(&path, sealed).unwrap();
        path
    };
    let on = compile("on.json", &yaml);
    let off = compile(
        "off.json",
        &yaml.replace("settings:\n", "settings:\n  isolation: off\n"),
    );
    let exec = |artifact: &Path, ring: &str| {
        time(
            Command::new(&nonoc)
                .arg("exec")
                .arg(artifact)
                .args(["--ring", ring, "--", "/bin/true"])
                .envs(vars(&tiers))
                // The carve-out's warning, once per run.
                .stderr(std::process::Stdio::null()),
        )
    };
    // The tier each artifact gets here, from its report.
    let tier = |artifact: &Path, ring: &str| {
        let out = Command::new(&nonoc)
            .arg("exec")
            .arg(artifact)
            .args(["--ring", ring, "--report", "--", "/bin/true"])
            .envs(vars(&tiers))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report: serde_json::Value = serde_json::from_str(stderr.lines().next().unwrap_or(""))
            .expect("the report is the first line on stderr");
        let masks = report["isolation"]["masks"].as_array().map_or(0, Vec::len);
        format!("{} ({masks} masks)", report["isolation"]["tier"])
    };
    println!(
        "nonoc exec by tier ({RUNS} runs each, alternated): ring 2 {} / {}, ring 3 {} / {}",
        tier(&on, "2"),
        tier(&off, "2"),
        tier(&on, "3"),
        tier(&off, "3")
    );
    let (mut ns, mut ll, mut r3_on, mut r3_off) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        ns.push(exec(&on, "2"));
        ll.push(exec(&off, "2"));
        r3_on.push(exec(&on, "3"));
        r3_off.push(exec(&off, "3"));
    }
    let paired: Vec<f64> = ns.iter().zip(&ll).map(|(a, b)| a - b).collect();
    let (ns, ll) = (median(ns), median(ll));
    let (r3_on, r3_off) = (median(r3_on), median(r3_off));
    println!("  ring 2, tier namespace (a read-only mask): median {ns:.0} µs");
    println!("  ring 2, tier landlock (the carve-out):     median {ll:.0} µs");
    println!(
        "  the namespace tier adds {:.0} µs (difference of medians; median of paired differences {:.0} µs; goal <= 500 µs)",
        ns - ll,
        median(paired)
    );
    println!("  ring 3 (no mask), isolation on:  median {r3_on:.0} µs");
    println!("  ring 3 (no mask), isolation off: median {r3_off:.0} µs");
}

fn compile(dir: &Path, linux_only: bool) -> PathBuf {
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/agt-rings.yaml");
    let bytes = std::fs::read(&policy).unwrap();
    let analysis = nonoc::analyze("agt-rings.yaml", &bytes);
    let ir = analysis.ir.expect("agt-rings.yaml compiles");
    let targets = nonoc::backend::Targets {
        linux: true,
        macos: !linux_only,
    };
    let (_, sealed) = nonoc::artifact::build(&ir, &analysis.lowered, &bytes, targets).unwrap();
    let path = dir.join(if linux_only {
        "agt-rings.linux.nonoc.json"
    } else {
        "agt-rings.nonoc.json"
    });
    std::fs::write(&path, sealed).unwrap();
    path
}

fn vars(dir: &Path) -> [(String, String); 2] {
    [
        (
            "AGENT_WORKSPACE".to_owned(),
            dir.join("workspace").display().to_string(),
        ),
        ("HOME".to_owned(), dir.join("home").display().to_string()),
    ]
}

/// Times `load` + `apply` in this fresh process. With `NONOC_BENCH_WARM` set, after one
/// untimed `load` + `preview` (the same work but the restriction): what is left is nonoc's
/// work and the kernel calls, without the first touch of its code and memory.
fn child(artifact: &Path) {
    if std::env::var_os("NONOC_BENCH_WARM").is_some() {
        let loaded = nonoc_runtime::Artifact::load(artifact).unwrap();
        let preview = loaded
            .ring(2)
            .unwrap()
            .preview(&nonoc_runtime::Bindings::new());
        assert!(preview.unwrap().landlock.is_some());
    }
    let start = Instant::now();
    let loaded = nonoc_runtime::Artifact::load(artifact).unwrap();
    let report = loaded
        .ring(2)
        .unwrap()
        .apply(&nonoc_runtime::Bindings::new())
        .unwrap();
    let elapsed = start.elapsed();
    assert!(report.landlock.is_some());
    println!("{}", elapsed.as_nanos());
}

/// The kernel calls of the same apply and nothing else: everything the calls need (the
/// placed paths, the ports, the filter) is worked out before the clock starts, then the
/// child opens each path, builds the ruleset through the `landlock` crate, restricts itself
/// and installs the filter through `seccompiler`. What no implementation can avoid on this
/// machine; `load + apply` minus this is what nonoc itself costs. Linux, as the crates are.
#[cfg(target_os = "linux")]
fn floor_child(artifact: &Path) {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
        RulesetCreatedAttr, Scope,
    };
    use nonoc_runtime::SeccompArch;

    let loaded = nonoc_runtime::Artifact::load(artifact).unwrap();
    let targets = &loaded.rings[&2];
    let plan = targets.landlock.as_ref().unwrap();
    let paths = loaded
        .ring(2)
        .unwrap()
        .landlock_grants(&nonoc_runtime::Bindings::new())
        .unwrap();
    let (connect, bind) = plan
        .network
        .as_ref()
        .map(|n| (n.connect_tcp.clone(), n.bind_tcp.clone()))
        .unwrap_or_default();
    let filter: seccompiler::BpfProgram = targets.seccomp[&SeccompArch::host().unwrap()]
        .instructions()
        .unwrap()
        .into_iter()
        .map(|i| seccompiler::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();

    let start = Instant::now();
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI::V6))
        .unwrap()
        .handle_access(AccessNet::from_all(ABI::V6))
        .unwrap()
        .scope(Scope::Signal)
        .unwrap()
        .scope(Scope::AbstractUnixSocket)
        .unwrap()
        .create()
        .unwrap();
    for (path, is_dir) in &paths {
        let access = if *is_dir {
            AccessFs::from_all(ABI::V6)
        } else {
            AccessFs::from_file(ABI::V6)
        };
        ruleset = ruleset
            .add_rule(PathBeneath::new(PathFd::new(path).unwrap(), access))
            .unwrap();
    }
    for port in &connect {
        ruleset = ruleset
            .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
            .unwrap();
    }
    for port in &bind {
        ruleset = ruleset
            .add_rule(NetPort::new(*port, AccessNet::BindTcp))
            .unwrap();
    }
    ruleset.restrict_self().unwrap();
    seccompiler::apply_filter(&filter).unwrap();
    let elapsed = start.elapsed();
    println!("{}", elapsed.as_nanos());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}

/// Microseconds a fresh child process reports.
fn in_child(mode: &str, artifact: &Path, dir: &Path, warm: bool) -> f64 {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.env(mode, artifact).envs(vars(dir));
    if warm {
        command.env("NONOC_BENCH_WARM", "1");
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ns: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    ns / 1000.0
}

/// Load + apply cold and warm, and the floor, alternated; returns the cold and warm medians
/// as multiples of the floor's.
fn apply_in_process(artifact: &Path, dir: &Path) -> (f64, f64) {
    // Alternated, so that all three see the machine in the same state.
    let (mut cold, mut warm, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        cold.push(in_child("NONOC_BENCH_CHILD", artifact, dir, false));
        warm.push(in_child("NONOC_BENCH_CHILD", artifact, dir, true));
        floor.push(in_child("NONOC_BENCH_FLOOR", artifact, dir, false));
    }
    let line = |what: &str, samples: &[f64]| {
        println!(
            "  {what:<58} median {:6.1} µs, p90 {:6.1} µs",
            median(samples.to_vec()),
            percentile(samples.to_vec(), 0.9)
        );
    };
    println!("load + apply, agt-rings ring 2, in-process ({RUNS} fresh processes each):");
    line("first call of a fresh process (an agent at start)", &cold);
    line(
        "after one untimed load + preview (code and memory warm)",
        &warm,
    );
    line(
        "its kernel calls alone, through the crates (the floor)",
        &floor,
    );
    let floor = median(floor);
    let ratios = (median(cold) / floor, median(warm) / floor);
    println!(
        "  cold {:.2}x the floor (goal <= 1.5x), warm {:.2}x (goal <= 1.2x)",
        ratios.0, ratios.1
    );
    ratios
}

/// The artifact's fields, parsed without a check (`Artifact` itself is read only by
/// `Artifact::from_slice`, which checks everything).
#[derive(serde::Deserialize)]
#[expect(dead_code, reason = "only parsed")]
struct Parsed {
    format: String,
    compiler: nonoc_runtime::artifact::CompilerInfo,
    policy: nonoc_runtime::artifact::PolicyInfo,
    settings: nonoc_runtime::artifact::Settings,
    variables: std::collections::BTreeMap<String, nonoc_runtime::artifact::Variable>,
    trust_tiers: Vec<nonoc_runtime::artifact::TrustTier>,
    rings: std::collections::BTreeMap<u8, nonoc_runtime::artifact::RingTargets>,
    digest: String,
}

/// `Artifact::load` alone, in this (warm) process: the whole load (read, parse, digest, every
/// field checked), and the parse alone (`serde_json` into the artifact's types, no checks).
fn load_alone(artifact: &Path) {
    const LOADS: usize = 2000;
    let bytes = std::fs::read(artifact).unwrap();
    let mut load = Vec::with_capacity(LOADS);
    let mut parse = Vec::with_capacity(LOADS);
    for _ in 0..LOADS {
        let start = Instant::now();
        let loaded = nonoc_runtime::Artifact::load(artifact).unwrap();
        load.push(start.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(loaded);
        let start = Instant::now();
        let parsed: Parsed = serde_json::from_slice(&bytes).unwrap();
        parse.push(start.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(parsed);
    }
    println!(
        "  Artifact::load, warm ({LOADS} loads): median {:.1} µs; of which parsing alone {:.1} µs",
        median(load),
        median(parse)
    );
}

fn time(cmd: &mut Command) -> f64 {
    let start = Instant::now();
    let status = cmd.status().unwrap();
    let elapsed = start.elapsed().as_secs_f64() * 1e6;
    assert!(status.success());
    elapsed
}

fn exec_vs_env(artifact: &Path, dir: &Path) {
    // `NONOC_BENCH_BIN` measures another build of the same sources, e.g. the static-pie one
    // docs/performance.md describes.
    let nonoc = std::env::var_os("NONOC_BENCH_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_nonoc")), PathBuf::from);
    println!("nonoc binary: {}", nonoc.display());
    let nonoc = nonoc.as_path();
    let (mut with_nonoc, mut with_env, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        with_nonoc.push(time(
            Command::new(nonoc)
                .args(["exec"])
                .arg(artifact)
                .args(["--ring", "3", "--", "/bin/true"])
                .envs(vars(dir)),
        ));
        with_env.push(time(Command::new("/usr/bin/env").arg("/bin/true")));
        bare.push(time(&mut Command::new("/bin/true")));
    }
    let (n, e, b) = (median(with_nonoc), median(with_env), median(bare));
    println!("nonoc exec --ring 3 -- /bin/true: median {n:.0} µs");
    println!("/usr/bin/env /bin/true:           median {e:.0} µs");
    println!("/bin/true:                        median {b:.0} µs");
    println!("ratio nonoc exec / env: {:.2}x (goal <= 1.3x)", n / e);
}

/// Placement when a deny glob matches many files in an allowed directory: 20,000 files, every
/// one matched (`Ring::preview` places and opens what `apply` would, without restricting).
fn many_glob_matches(dir: &Path) {
    const FILES: usize = 20_000;
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for i in 0..FILES {
        std::fs::write(keys.join(format!("k{i}.pem")), b"").unwrap();
    }
    let yaml = format!(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: many }}\n\
         rings:\n  1:\n    filesystem:\n      read: [{keys}]\n      write: [{keys}]\n\
         \x20   deny:\n      - {{ glob: \"{keys}/*.pem\" }}\n",
        keys = keys.display()
    );
    let analysis = nonoc::analyze("many.yaml", yaml.as_bytes());
    let ir = analysis.ir.expect("the generated policy compiles");
    let targets = nonoc::backend::Targets::ALL;
    let (artifact, _) =
        nonoc::artifact::build(&ir, &analysis.lowered, yaml.as_bytes(), targets).unwrap();
    let ring = artifact.ring(1).unwrap();
    let mut samples = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let report = ring.preview(&nonoc_runtime::Bindings::new()).unwrap();
        samples.push(start.elapsed().as_secs_f64() * 1e3);
        let matched: usize = report
            .landlock
            .iter()
            .flat_map(|l| &l.glob_matches)
            .map(|(_, found)| found.len())
            .sum();
        assert_eq!(matched, FILES);
    }
    println!(
        "placement, a deny glob matching {FILES} files in an allowed directory: median {:.1} ms (5 previews)",
        median(samples)
    );
}

/// `files` paths of one shape under `ws`, each directory created once: `flat`, all in one
/// directory; `spread`, over 10 x 100 directories; `deep`, chains 100 directories deep with
/// a `.env` and a plain file at every level. Every `.env*` is a match of coding-agent's
/// `**/.env*` deny, inside ring 2's writable workspace.
fn make_tree(ws: &Path, shape: &str, files: usize) {
    std::fs::create_dir_all(ws).unwrap();
    match shape {
        "flat" => {
            for i in 0..files {
                std::fs::write(ws.join(format!(".env{i}")), b"").unwrap();
            }
        }
        "spread" => {
            for i in 0..files {
                let d = ws.join(format!("a{}/b{}", i % 10, (i / 10) % 100));
                std::fs::create_dir_all(&d).unwrap();
                std::fs::write(d.join(format!(".env{i}")), b"").unwrap();
            }
        }
        _ => {
            let mut made = 0;
            let mut chain = 0;
            while made < files {
                let mut d = ws.join(format!("c{chain}"));
                for _ in 0..100 {
                    if made >= files {
                        break;
                    }
                    std::fs::create_dir_all(&d).unwrap();
                    std::fs::write(d.join(".env"), b"").unwrap();
                    std::fs::write(d.join("f"), b"").unwrap();
                    d.push("d");
                    made += 2;
                }
                chain += 1;
            }
        }
    }
}

/// Placement as the number of paths in the workspace grows (a planted tree): ring 2 of
/// `policies/coding-agent.yaml` previewed (placed and every path opened, as `apply` does, but
/// not restricted) over 2,000 and 20,000 paths of each shape. The goal: 20,000 within
/// 15 times the time of 2,000.
fn placement_scaling(dir: &Path) {
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/coding-agent.yaml");
    let bytes = std::fs::read(&policy).unwrap();
    let analysis = nonoc::analyze("coding-agent.yaml", &bytes);
    let ir = analysis.ir.as_ref().unwrap();
    let (artifact, _) = nonoc::artifact::build(
        ir,
        &analysis.lowered,
        &bytes,
        nonoc::backend::Targets::LINUX,
    )
    .unwrap();
    let ring = artifact.ring(2).unwrap();
    println!("placement, coding-agent ring 2, a workspace of N paths (median of 5 previews):");
    for shape in ["flat", "spread", "deep"] {
        let mut medians = Vec::new();
        for files in [2_000, 20_000] {
            let ws = dir.join(format!("scale/{shape}{files}"));
            make_tree(&ws, shape, files);
            let bindings = nonoc_runtime::Bindings::new()
                .with("workspace", ws.display().to_string())
                .with("home", dir.join("home").display().to_string());
            let mut samples = Vec::new();
            for _ in 0..5 {
                let start = Instant::now();
                let report = ring.preview(&bindings).unwrap();
                samples.push(start.elapsed().as_secs_f64() * 1e3);
                assert!(report.landlock.is_some_and(|l| !l.glob_matches.is_empty()));
            }
            let m = median(samples);
            println!("  {shape:<7} {files:>6} paths: {m:8.1} ms");
            medians.push(m);
        }
        println!(
            "  {shape:<7} 20,000 / 2,000: {:.1}x (goal <= 15x)",
            medians[1] / medians[0]
        );
    }
}
