"""The Python package's benchmarks, each side by side in one run (docs/performance.md).

    python/benches/run                    # a venv under target/, the pinned deps, a release build
    target/python-bench-venv/bin/python python/benches/bench.py [--runs N] [--only NAME]

1. ``apply``: in-process ``Ring.apply()`` against ``nono_py.apply()`` of the same capabilities
   (five directories readable, TCP blocked: ``five-reads.yaml``), each in a fresh interpreter
   started for that one sample; the artifact is loaded (and nono's ``CapabilitySet`` built)
   before the clock starts. Goal: nonoc's median at most 1.5x nono-py's.
2. ``run``: ``Ring.run(["/bin/true"])`` of the same ring, ``subprocess.run(["/bin/true"])``
   and ``nono_py.sandboxed_exec`` of the same capabilities, alternated in one interpreter.
   Goals: at most 1.3x ``subprocess.run``, and below ``sandboxed_exec``.
3. ``agt``: ``NonocSandboxProvider.run`` of ``/bin/true`` in a ring 2 session of
   ``policies/agt-rings.yaml`` (``SandboxConfig``'s defaults otherwise: no network, writes
   only in the session's workspace) against AGT's own ``NonoSandboxProvider.run`` in a
   session of ``SandboxConfig``'s defaults, alternated in one interpreter. (AGT's own gate
   refuses subprocesses at ring 3.)

Every comparison alternates its commands (A B A B ...), so a change in the machine's speed
reaches both; it prints medians, p90s and the median of the pairwise ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
POLICY = HERE / "five-reads.yaml"
# The same five directories as five-reads.yaml, for nono-py.
READ_PATHS = ["/usr", "/etc", "/var/lib", "/opt", "/srv"]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def p90(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int((len(ordered) - 1) * 0.9)]


def nono_caps():
    import nono_py

    caps = nono_py.CapabilitySet()
    for path in READ_PATHS:
        caps.allow_path(path, nono_py.AccessMode.READ)
    caps.block_network()
    return caps


# --- 1. in-process apply, one fresh interpreter per sample ---------------------------------


def child(kind: str, artifact: str) -> None:
    """One sample: prepare outside the clock, time the apply, print nanoseconds."""
    if kind == "nonoc":
        import nonoc

        ring = nonoc.Artifact.load(artifact).ring(1)
        start = time.perf_counter_ns()
        ring.apply()
        elapsed = time.perf_counter_ns() - start
    else:
        import nono_py

        caps = nono_caps()
        start = time.perf_counter_ns()
        nono_py.apply(caps)
        elapsed = time.perf_counter_ns() - start
    # Confined now: the answer goes out on the descriptor already open.
    os.write(1, f"{elapsed}\n".encode())


def sample(kind: str, artifact: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(artifact)],
        capture_output=True,
        check=True,
    )
    return int(out.stdout) / 1000.0


def bench_apply(artifact: Path, runs: int) -> None:
    nonoc_us, nono_us = [], []
    for _ in range(runs):
        nonoc_us.append(sample("nonoc", artifact))
        nono_us.append(sample("nono", artifact))
    ratios = [a / b for a, b in zip(nonoc_us, nono_us)]
    print(f"apply in a fresh interpreter ({runs} of each, alternated):")
    print(f"  nonoc Ring.apply()  median {median(nonoc_us):7.1f} µs, p90 {p90(nonoc_us):7.1f} µs")
    print(f"  nono_py.apply()     median {median(nono_us):7.1f} µs, p90 {p90(nono_us):7.1f} µs")
    print(
        f"  nonoc / nono-py: {median(nonoc_us) / median(nono_us):.2f}x of the medians, "
        f"{median(ratios):.2f}x median of pairs (goal <= 1.5x)"
    )


# --- 2. one command confined, in one interpreter -------------------------------------------


def timed(call) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1000.0


def bench_run(artifact: Path, runs: int) -> None:
    import nono_py

    import nonoc

    ring = nonoc.Artifact.load(artifact).ring(1)
    caps = nono_caps()
    command = ["/bin/true"]

    def with_nonoc() -> None:
        assert ring.run(command).returncode == 0

    def with_subprocess() -> None:
        assert subprocess.run(command).returncode == 0

    def with_nono() -> None:
        assert nono_py.sandboxed_exec(caps, command).exit_code == 0

    for call in (with_nonoc, with_subprocess, with_nono):
        call()
    a, b, c = [], [], []
    for _ in range(runs):
        a.append(timed(with_nonoc))
        b.append(timed(with_subprocess))
        c.append(timed(with_nono))
    print(f"one command, /bin/true ({runs} of each, alternated, one interpreter):")
    print(f"  nonoc Ring.run             median {median(a):7.1f} µs, p90 {p90(a):7.1f} µs")
    print(f"  subprocess.run             median {median(b):7.1f} µs, p90 {p90(b):7.1f} µs")
    print(f"  nono_py.sandboxed_exec     median {median(c):7.1f} µs, p90 {p90(c):7.1f} µs")
    print(
        f"  Ring.run / subprocess.run: {median(a) / median(b):.2f}x "
        f"({median([x / y for x, y in zip(a, b)]):.2f}x median of pairs; goal <= 1.3x)"
    )
    print(
        f"  Ring.run / sandboxed_exec: {median(a) / median(c):.2f}x "
        f"({median([x / y for x, y in zip(a, c)]):.2f}x median of pairs; goal < 1x)"
    )


# --- 3. the AGT providers ------------------------------------------------------------------


def bench_agt(dir: Path, runs: int) -> None:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            from agent_sandbox.nono_sandbox_provider.provider import NonoSandboxProvider
            from agent_sandbox.sandbox_provider import SandboxConfig
            from hypervisor.models import ExecutionRing
            from hypervisor.rings.breach_detector import RingBreachDetector

            from nonoc.agt import NonocSandboxProvider
    except ImportError as e:
        print(f"the Agent Governance Toolkit is not installed ({e}): agt comparison skipped")
        return

    import nonoc

    artifact = nonoc.compile(REPO / "policies" / "agt-rings.yaml", target="linux")
    # AGT's default breach detector trips on executions a few milliseconds apart.
    ours = NonocSandboxProvider(
        artifact,
        sessions_root=dir / "sessions",
        breach_detector=lambda: RingBreachDetector(baseline_rate=1e6),
    )
    theirs = NonoSandboxProvider()
    if not theirs.is_available():
        print("AGT's NonoSandboxProvider is not available here: agt comparison skipped")
        return
    config = SandboxConfig(ring=ExecutionRing.RING_2_STANDARD)
    mine = ours.create_session("bench", config=config)
    other = theirs.create_session("bench", config=SandboxConfig())
    command = ["/bin/true"]

    def with_nonoc() -> None:
        result = ours.run("bench", command, session_id=mine.session_id)
        assert result.success, result.stderr

    def with_nono() -> None:
        result = theirs.run("bench", command, session_id=other.session_id)
        assert result.success, result.stderr

    try:
        with_nonoc()
        with_nono()
        a, b = [], []
        for _ in range(runs):
            a.append(timed(with_nonoc))
            b.append(timed(with_nono))
    finally:
        ours.destroy_session("bench", mine.session_id)
        theirs.destroy_session("bench", other.session_id)
    print(f"AGT providers, run(['/bin/true']) in a session ({runs} of each, alternated):")
    print(f"  nonoc.agt.NonocSandboxProvider (ring 2)   median {median(a):7.1f} µs, p90 {p90(a):7.1f} µs")
    print(f"  AGT NonoSandboxProvider (its defaults)    median {median(b):7.1f} µs, p90 {p90(b):7.1f} µs")
    print(
        f"  nonoc / AGT's nono: {median(a) / median(b):.2f}x "
        f"({median([x / y for x, y in zip(a, b)]):.2f}x median of pairs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--only", choices=["apply", "run", "agt"])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARTIFACT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    import nono_py

    import nonoc

    if nonoc.landlock_abi() == 0:
        sys.exit("Landlock is unavailable: the benchmarks need it")
    print(
        f"python {sys.version.split()[0]}, nonoc {nonoc.__version__}, "
        f"nono-py {getattr(nono_py, '__version__', '?')}, Landlock ABI {nonoc.landlock_abi()}"
    )
    # Outside /tmp, as the Rust apply bench does.
    with tempfile.TemporaryDirectory(prefix="nonoc-pybench-", dir="/var/tmp") as tmp:
        dir = Path(tmp)
        artifact = dir / "five-reads.nonoc.json"
        nonoc.compile(POLICY, target="linux").save(artifact)
        if args.only in (None, "apply"):
            bench_apply(artifact, args.runs)
        if args.only in (None, "run"):
            bench_run(artifact, args.runs)
        if args.only in (None, "agt"):
            bench_agt(dir, args.runs)


if __name__ == "__main__":
    main()
