"""Artifacts: saving and loading, tampering, other formats, rings and trust scores against the
command line, reports."""

from __future__ import annotations

import enum
import json
import os
import subprocess
from pathlib import Path

import pytest

import nonoc
from conftest import POLICIES, require_landlock


@pytest.fixture(scope="module")
def agt() -> nonoc.Artifact:
    return nonoc.compile(POLICIES / "agt-rings.yaml")


def test_save_and_load(agt: nonoc.Artifact, tmp_path: Path) -> None:
    path = tmp_path / "agt.nonoc.json"
    agt.save(path)
    assert path.read_bytes() == agt.to_bytes()
    assert not [p for p in tmp_path.iterdir() if p != path], "the temporary file was left behind"
    loaded = nonoc.Artifact.load(path)
    assert (loaded.digest, loaded.policy_name, loaded.rings) == (agt.digest, "agt-rings", [0, 1, 2, 3])
    assert loaded.variables == ["home", "workspace"]
    assert nonoc.Artifact.load(str(path)).digest == agt.digest
    assert nonoc.Artifact.from_bytes(bytearray(agt.to_bytes())).digest == agt.digest


def test_a_tampered_artifact_is_refused(agt: nonoc.Artifact, tmp_path: Path) -> None:
    data = agt.to_bytes()
    # Still valid JSON of the format, with one granted path changed.
    assert b'"/etc/ssl"' in data
    tampered = data.replace(b'"/etc/ssl"', b'"/etc/sss"', 1)
    path = tmp_path / "tampered.nonoc.json"
    path.write_bytes(tampered)
    for load in (lambda: nonoc.Artifact.load(path), lambda: nonoc.Artifact.from_bytes(tampered)):
        with pytest.raises(nonoc.ArtifactError, match="digest does not match"):
            load()


def test_an_artifact_of_a_newer_format_is_refused(agt: nonoc.Artifact) -> None:
    newer = agt.to_bytes().replace(b"nonoc-artifact/v1", b"nonoc-artifact/v2", 1)
    with pytest.raises(nonoc.ArtifactError, match="unknown artifact format `nonoc-artifact/v2`"):
        nonoc.Artifact.from_bytes(newer)
    with pytest.raises(nonoc.ArtifactError, match="malformed"):
        nonoc.Artifact.from_bytes(b"{not json")


def test_an_unreadable_artifact(tmp_path: Path) -> None:
    with pytest.raises(nonoc.ArtifactError, match="cannot read") as caught:
        nonoc.Artifact.load(tmp_path / "missing.json")
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    # A path that is not UTF-8 is a path like any other.
    with pytest.raises(nonoc.ArtifactError) as caught:
        nonoc.Artifact.load(os.fsencode(tmp_path) + b"/\xff.json")
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_rings_by_level_and_by_enum(agt: nonoc.Artifact) -> None:
    from hypervisor.models import ExecutionRing

    assert agt.ring(2).level == 2
    assert agt.ring(ExecutionRing.RING_2_STANDARD).level == 2
    assert agt.ring(ExecutionRing.RING_0_ROOT).unconfined
    assert not agt.ring(ExecutionRing.RING_3_SANDBOX).unconfined

    class Level(enum.IntEnum):
        SANDBOX = 3

    assert agt.ring(Level.SANDBOX).level == 3
    with pytest.raises(KeyError, match="no ring 7") as caught:
        agt.ring(7)
    assert isinstance(caught.value, nonoc.RingNotFoundError)
    assert str(caught.value) == "the artifact has no ring 7"
    with pytest.raises(nonoc.RingNotFoundError):
        agt.ring(256)
    with pytest.raises(nonoc.RingNotFoundError):
        agt.ring(-1)


SCORES = [0, 1, 299, 300, 499, 500, 699, 700, 720, 899, 900, 999, 1000]


def test_ring_for_trust_score_matches_the_cli(agt: nonoc.Artifact, nonoc_bin: Path, tmp_path: Path) -> None:
    require_landlock()
    path = tmp_path / "agt.nonoc.json"
    agt.save(path)
    for score in SCORES:
        proc = subprocess.run(
            [nonoc_bin, "exec", path, "--trust-score", str(score), "--var", f"workspace={tmp_path}",
             "--report", "--", "/bin/true"],
            capture_output=True,
        )
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stderr.decode().splitlines()[0])
        assert agt.ring_for_trust_score(score).level == report["ring"], score
    for score in (1001, 5000):
        proc = subprocess.run(
            [nonoc_bin, "exec", path, "--trust-score", str(score), "--", "/bin/true"], capture_output=True
        )
        assert proc.returncode != 0
        assert b"outside 0..=1000" in proc.stderr
        with pytest.raises(ValueError, match=f"trust score {score} is outside 0..=1000"):
            agt.ring_for_trust_score(score)
    with pytest.raises(ValueError, match="outside 0..=1000"):
        agt.ring_for_trust_score(-1)


def test_a_score_no_tier_selects() -> None:
    artifact = nonoc.compile_str(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {name: x}\n"
        "rings:\n  3:\n    filesystem:\n      read: [/usr]\n"
    )
    with pytest.raises(nonoc.RingNotFoundError, match="no trust tier selects trust score 500"):
        artifact.ring_for_trust_score(500)


def test_report_attributes_are_the_runtime_report(agt: nonoc.Artifact, tmp_path: Path) -> None:
    require_landlock()
    report = agt.ring(2).preview({"workspace": str(tmp_path)})
    whole = report.as_dict()
    assert json.loads(report.to_json()) == whole
    assert json.loads(report.to_json(indent=2)) == whole
    assert report.ring == whole["ring"] == 2
    assert report.unconfined is whole["unconfined"] is False
    assert report.variables == dict(whole["variables"]) == {"workspace": str(tmp_path), "home": os.environ.get("HOME", "/root")}
    assert report.landlock == whole["landlock"]
    assert report.landlock["abi"] == nonoc.landlock_abi()
    assert "write_file" in report.landlock["handled"]
    assert report.seccomp == whole["seccomp"] and report.seccomp["stats"]["length"] > 0
    assert report.isolation == whole["isolation"] and report.isolation["tier"] in ("namespace", "landlock")
    assert report.process == whole["process"] and report.process["session"] == "kept"
    assert report.not_enforced == []
    assert set(whole) == {"ring", "unconfined", "variables", "landlock", "seccomp", "isolation", "process"}


def test_an_unconfined_ring_needs_the_opt_in(agt: nonoc.Artifact) -> None:
    ring = agt.ring(0)
    for call in (ring.preview, ring.apply):
        with pytest.raises(nonoc.UnconfinedRingError, match="ring 0 is unconfined") as caught:
            call()
        assert isinstance(caught.value, nonoc.ApplyError) and caught.value.errno is None
    report = ring.preview(allow_unconfined=True)
    assert report.unconfined and report.landlock is None and report.seccomp is None
    # Applying an unconfined ring applies nothing: safe in the test process.
    assert ring.apply(allow_unconfined=True).unconfined


def test_report_names_each_rule_with_its_policy_line(agt: nonoc.Artifact, tmp_path: Path) -> None:
    require_landlock()
    report = agt.ring(2).preview({"workspace": str(tmp_path)})
    enforced = report.landlock["enforced"]
    assert enforced and all(set(rule) == {"effect", "path", "rights", "origin"} for rule in enforced)
    lines = (POLICIES / "agt-rings.yaml").read_text().splitlines()
    workspace = [rule for rule in enforced if rule["path"] == str(tmp_path)]
    assert workspace, enforced
    for rule in workspace:
        # `agt-rings.yaml:LINE (SCOPE)`: the line that names the workspace.
        file, _, rest = rule["origin"].partition(":")
        line, _, scope = rest.partition(" ")
        assert file == "agt-rings.yaml", rule
        assert "${workspace}" in lines[int(line) - 1], rule
        assert scope.startswith("(ring "), rule
