#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark aborts on any failure"
)]

//! Compile-speed benchmark (issue 6: a generated 4-ring policy with 10,000 allow paths and
//! 5,000 deny paths compiles to a full artifact in under 500 ms).
//!
//! `cargo bench -p nonoc --bench compile`. The policy is generated in memory. macOS refuses
//! Seatbelt profiles over 64 KiB and these rings need megabytes of SBPL, so the policy has no
//! macOS artifact (`nonoc check` says so, `NC0902`): the full artifact it has is the Linux one,
//! every ring's Landlock plan and seccomp filters for x86_64 and aarch64, which is what
//! `nonoc compile POLICY --target linux -o OUT` writes. Measured: that compile in process
//! (`analyze_for`, which runs the front end and the Linux backends, + `artifact::build`, which
//! assembles and seals; each on its own), the same as a whole process, and, for the record,
//! the macOS checks that refuse the policy (`analyze` for every system, which builds each
//! ring's profile to find it too large).

use std::fmt::Write;
use std::time::{Duration, Instant};

use nonoc::backend::Targets;

const RUNS: usize = 11;
const RINGS: usize = 4;
const ALLOW_PER_RING: usize = 2_500;
/// Denies: this many global ones, and as many in each ring.
const DENY_GLOBAL: usize = 1_000;
const DENY_PER_RING: usize = 1_000;
const GOAL: Duration = Duration::from_millis(500);
const LINUX: Targets = Targets::LINUX;

fn main() {
    let policy = generate();
    let (allows, denies) = count(&policy);
    assert_eq!((allows, denies), (10_000, 5_000), "the generator drifted");
    println!(
        "policy: {RINGS} rings (each extends the next), {allows} allow paths, {denies} deny paths, {} KiB of YAML",
        policy.len() / 1024
    );

    // One untimed run to check the policy compiles cleanly for Linux and to warm the
    // allocator.
    let analysis = nonoc::analyze_for("bench.yaml", policy.as_bytes(), LINUX);
    let errors: Vec<String> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .take(5)
        .collect();
    let ir = analysis
        .ir
        .unwrap_or_else(|| panic!("the generated policy has errors: {errors:?}"));
    let (artifact, bytes) =
        nonoc::artifact::build(&ir, &analysis.lowered, policy.as_bytes(), LINUX).unwrap();
    let filters: usize = artifact.rings.values().map(|r| r.seccomp.len()).sum();
    assert_eq!(filters, RINGS * 2, "a seccomp filter per ring and arch");
    println!(
        "linux artifact: {} KiB, {} rules in the largest ring, {filters} seccomp filters",
        bytes.len() / 1024,
        ir.rings
            .values()
            .map(|r| r.filesystem.len())
            .max()
            .unwrap_or(0)
    );
    let everything = nonoc::analyze("bench.yaml", policy.as_bytes());
    let refused: Vec<String> = everything
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.as_str().to_owned())
        .collect();
    println!("every system: refused by {refused:?} (the macOS profiles are too large)");

    let mut analyze = Vec::new();
    let mut build = Vec::new();
    let mut total = Vec::new();
    let mut macos = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let analysis = nonoc::analyze_for("bench.yaml", policy.as_bytes(), LINUX);
        let analyzed = start.elapsed();
        let ir = analysis.ir.expect("compiles");
        let built = Instant::now();
        let (_, bytes) =
            nonoc::artifact::build(&ir, &analysis.lowered, &analysis.bytes, LINUX).unwrap();
        let end = Instant::now();
        assert!(!bytes.is_empty());
        analyze.push(analyzed);
        build.push(end - built);
        total.push(end - start);

        let start = Instant::now();
        let all = nonoc::analyze("bench.yaml", policy.as_bytes());
        macos.push(start.elapsed());
        assert!(all.ir.is_none());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{RUNS} runs, median (min .. max):");
    for (name, samples) in [
        ("analyze_for linux (parse .. Landlock, seccomp)", &analyze),
        ("build linux (assemble, digest)", &build),
        ("policy to linux artifact (both)", &total),
        ("analyze for every system (refused)", &macos),
    ] {
        let (med, min, max) = stats(samples);
        println!(
            "  {name:<46} {:>8.1} ms ({:.1} .. {:.1})",
            ms(med),
            ms(min),
            ms(max)
        );
    }
    let (med, ..) = stats(&total);
    let binary = end_to_end(&policy);
    println!(
        "  {:<46} {:>8.1} ms",
        "`nonoc compile --target linux -o` (process)",
        ms(binary)
    );
    let worst = med.max(binary);
    let verdict = if worst < GOAL { "met" } else { "NOT met" };
    println!("goal: under {} ms: {verdict}", GOAL.as_millis());
}

/// The binary, as a user runs it: reading the file, compiling, rendering every warning (on a
/// pipe), writing the artifact. Median of a few runs.
fn end_to_end(policy: &str) -> Duration {
    let dir = std::env::temp_dir().join(format!("nonoc-bench-compile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("bench.yaml");
    std::fs::write(&input, policy).unwrap();
    let output = dir.join("bench.nonoc.json");
    let mut samples = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_nonoc"))
            .arg("compile")
            .arg(&input)
            .args(["--target", "linux", "-o"])
            .arg(&output)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        samples.push(start.elapsed());
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(std::fs::metadata(&output).unwrap().len() > 0);
    }
    let _ = std::fs::remove_dir_all(&dir);
    stats(&samples).0
}

fn stats(samples: &[Duration]) -> (Duration, Duration, Duration) {
    let mut v = samples.to_vec();
    v.sort();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The policy: rings 0..=3, ring N extends ring N+1, every ring confined. Each ring allows
/// 2,500 paths of its own (read, write and execute mixed) and denies 1,000 paths inside them
/// (carve-outs, the costly case); 1,000 global denies fall inside the allowed trees too.
fn generate() -> String {
    let mut y = String::new();
    y.push_str(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata:\n  name: bench\n\
         settings:\n  unenforceable: warn\n\
         variables:\n  home:\n    env: HOME\n    default: /home/agent\n",
    );
    y.push_str("deny:\n");
    for i in 0..DENY_GLOBAL {
        let ring = i % RINGS;
        let _ = writeln!(
            y,
            "  - path: /srv/r{ring}/d{}/secret-{i}",
            i % ALLOW_PER_RING
        );
    }
    y.push_str("rings:\n");
    for ring in 0..RINGS {
        let _ = writeln!(y, "  {ring}:");
        if ring + 1 < RINGS {
            let _ = writeln!(y, "    extends: {}", ring + 1);
        }
        y.push_str("    filesystem:\n");
        for (kind, from, to) in [
            ("read", 0, ALLOW_PER_RING / 2),
            ("write", ALLOW_PER_RING / 2, ALLOW_PER_RING * 9 / 10),
            ("execute", ALLOW_PER_RING * 9 / 10, ALLOW_PER_RING),
        ] {
            let _ = writeln!(y, "      {kind}:");
            for i in from..to {
                let _ = writeln!(y, "        - /srv/r{ring}/d{i}");
            }
        }
        y.push_str("    deny:\n");
        for i in 0..DENY_PER_RING {
            let _ = writeln!(y, "      - path: /srv/r{ring}/d{}/private", i * 2);
        }
        y.push_str("    network:\n      mode: restricted\n      connect_tcp: [443]\n");
        y.push_str("    syscalls:\n      presets: [hardening]\n");
    }
    y
}

/// Allow and deny paths in the generated text (each stands on a line of its own).
fn count(policy: &str) -> (usize, usize) {
    let allows = policy
        .lines()
        .filter(|l| l.trim_start().starts_with("- /srv/"))
        .count();
    let denies = policy
        .lines()
        .filter(|l| l.trim_start().starts_with("- path: /srv/"))
        .count();
    (allows, denies)
}
