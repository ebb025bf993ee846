"""compile, compile_str and check against the command line: the same artifact bytes, the same
diagnostics, the same text."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

import nonoc
from conftest import FIXTURES, POLICIES, cli_env

EXAMPLES = sorted(POLICIES.glob("*.yaml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("policy", EXAMPLES, ids=lambda p: p.name)
def test_compile_writes_the_artifact_nonoc_compile_writes(policy: Path, nonoc_bin: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.nonoc.json"
    subprocess.run([nonoc_bin, "compile", policy, "-o", out], check=True, capture_output=True)
    artifact = nonoc.compile(policy)
    assert artifact.to_bytes() == out.read_bytes()
    assert artifact.digest.startswith("sha256:") and len(artifact.digest) == 71
    assert artifact.policy_name == policy.stem
    assert artifact.rings == sorted(artifact.rings) and artifact.rings


def test_compile_str_and_targets() -> None:
    text = (POLICIES / "agt-rings.yaml").read_text()
    everything = nonoc.compile_str(text, name="agt-rings.yaml")
    assert everything.rings == [0, 1, 2, 3]
    linux = nonoc.compile_str(text, target="linux")
    macos = nonoc.compile_str(text, target="macos")
    assert len({everything.digest, linux.digest, macos.digest}) == 3
    # An artifact for macOS only has nothing to apply on Linux.
    with pytest.raises(nonoc.ApplyError, match="no Linux section") as caught:
        macos.ring(3).preview({"workspace": "/tmp"})
    assert caught.value.errno is None
    assert linux.ring(3).preview({"workspace": "/tmp"}).ring == 3


def test_compile_raises_policy_error_with_every_diagnostic() -> None:
    policy = FIXTURES / "invalid" / "001-nc0001-unclosed-flow-sequence.yaml"
    with pytest.raises(nonoc.PolicyError) as caught:
        nonoc.compile(policy)
    error = caught.value
    assert isinstance(error, nonoc.NonocError)
    assert [d.code for d in error.diagnostics] == [d.code for d in nonoc.check(policy)]
    assert error.diagnostics and error.diagnostics[0].code == "NC0001"
    assert "NC0001" in str(error) and str(policy) in str(error)


def test_compile_str_names_the_file_in_diagnostics() -> None:
    text = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {name: x}\nrings:\n  3:\n    filesystem:\n      read: [/usr/../etc]\n"
    with pytest.raises(nonoc.PolicyError) as caught:
        nonoc.compile_str(text, name="agent.yaml")
    [d] = caught.value.diagnostics
    assert (d.code, d.severity, d.path, d.line, d.column) == ("NC0402", "error", "agent.yaml", 7, 14)
    assert d.help and "`..`" in d.help
    assert "agent.yaml:7:14" in str(d)


@pytest.mark.parametrize("policy", INVALID + EXAMPLES, ids=lambda p: p.name)
def test_check_matches_nonoc_check(policy: Path, nonoc_bin: Path) -> None:
    diagnostics = nonoc.check(policy)
    as_json = subprocess.run(
        [nonoc_bin, "check", "--format", "json", policy], capture_output=True, env=cli_env()
    )
    expected = json.loads(as_json.stdout)
    got = [
        {
            "file": d.path,
            "code": d.code,
            "severity": d.severity,
            "message": d.message,
            "line": d.line,
            "column": d.column,
            "help": d.help,
        }
        for d in diagnostics
    ]
    assert got == expected
    human = subprocess.run([nonoc_bin, "check", policy], capture_output=True, env=cli_env())
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    summary = f"{policy}: {counts}\n" if errors else ""
    assert "".join(str(d) for d in diagnostics) + summary == human.stderr.decode()
    assert (human.returncode == 0) == (errors == 0)


def test_check_never_raises_for_the_policy_but_for_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe not yaml")
    [d] = nonoc.check(bad)
    assert d.code == "NC0005" and d.severity == "error"
    with pytest.raises(FileNotFoundError) as caught:
        nonoc.check(tmp_path / "missing.yaml")
    assert caught.value.filename == str(tmp_path / "missing.yaml")
    with pytest.raises(FileNotFoundError):
        nonoc.compile(tmp_path / "missing.yaml")


def test_compile_releases_the_gil() -> None:
    # A policy large enough that compiling takes a while; a thread that only runs when the
    # GIL is free records when it ran.
    rules = "\n".join(f"      - {{ path: /srv/d{i}/f, access: [read_file] }}" for i in range(3000))
    text = (
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {name: big}\n"
        f"rings:\n  3:\n    filesystem:\n      rules:\n{rules}\n"
    )
    ticks: list[float] = []
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    thread = threading.Thread(target=spin)
    thread.start()
    try:
        time.sleep(0.01)
        start = time.monotonic()
        nonoc.compile_str(text, target="linux")
        end = time.monotonic()
    finally:
        stop.set()
        thread.join()
    assert end - start > 0.1, f"the compile took {end - start:.3f} s: too short to tell"
    inside = [t for t in ticks if start + 0.02 < t < end - 0.02]
    assert len(inside) > 5, f"the thread ran {len(inside)} times during a {end - start:.3f} s compile"
