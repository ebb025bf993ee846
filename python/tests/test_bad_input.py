"""Bad arguments raise the documented exception with a clear message; nothing crashes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import nonoc
from conftest import POLICIES


@pytest.fixture(scope="module")
def agt() -> nonoc.Artifact:
    return nonoc.compile(POLICIES / "agt-rings.yaml", target="linux")


def test_wrong_types(agt: nonoc.Artifact) -> None:
    with pytest.raises(TypeError):
        nonoc.compile(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="as str, not bytes"):
        nonoc.compile_str(b"apiVersion: nonoc.dev/v1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes bytes, not str"):
        nonoc.Artifact.from_bytes(agt.to_bytes().decode())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        nonoc.Artifact.from_bytes(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ring level must be an int, not str"):
        agt.ring("2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not float"):
        agt.ring(2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not bool"):
        agt.ring(True)
    with pytest.raises(TypeError, match="trust score must be an int, not float"):
        agt.ring_for_trust_score(720.0)  # type: ignore[arg-type]
    ring = agt.ring(3)
    with pytest.raises(TypeError, match="vars must be a mapping"):
        ring.preview([("workspace", "/tmp")])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="variable name must be a str, not int"):
        ring.preview({1: "/tmp"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="variable `workspace` must be a str or os.PathLike, not int"):
        ring.preview({"workspace": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        ring.apply(allow_unconfined="yes")  # type: ignore[arg-type]


def test_bad_values(agt: nonoc.Artifact, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="trust score 1001 is outside 0..=1000"):
        agt.ring_for_trust_score(1001)
    with pytest.raises(ValueError, match="outside 0..=1000"):
        agt.ring_for_trust_score(2**70)
    with pytest.raises(ValueError, match='target must be "all", "linux" or "macos"'):
        nonoc.compile(POLICIES / "agt-rings.yaml", target="windows")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        agt.ring(9)
    ring = agt.ring(3)
    # A variable's value must be UTF-8 (the policy's paths are): a str that carries bytes as
    # surrogate escapes, or a path-like whose path is bytes that are not UTF-8, is refused.
    class BytesPath(os.PathLike):
        def __fspath__(self) -> bytes:
            return b"/tmp/\xff"

    for value in (os.fsdecode(b"/tmp/\xff"), BytesPath()):
        with pytest.raises(ValueError, match="variable `workspace`: .* is not valid UTF-8"):
            ring.preview({"workspace": value})
    # A path-like value is a path.
    assert ring.preview({"workspace": tmp_path}).variables["workspace"] == str(tmp_path)


def test_paths_that_are_not_utf8(tmp_path: Path) -> None:
    odd = os.fsencode(tmp_path) + b"/\xff.yaml"
    with open(odd, "wb") as f:
        f.write((POLICIES / "agt-rings.yaml").read_bytes())
    # The file is read like any other; its name shows with a replacement character.
    artifact = nonoc.compile(odd)
    assert artifact.policy_name == "agt-rings"
    bad = os.fsencode(tmp_path) + b"/\xfe.yaml"
    with open(bad, "wb") as f:
        f.write(b"apiVersion: nonoc.dev/v2\n")
    diagnostics = nonoc.check(bad)
    assert diagnostics and all(d.path == f"{tmp_path}/\ufffd.yaml" for d in diagnostics)
    out = os.fsencode(tmp_path) + b"/\xfe.nonoc.json"
    artifact.save(out)
    assert nonoc.Artifact.load(out).digest == artifact.digest


def test_a_policy_and_an_artifact_mixed_up_name_what_to_do(agt: nonoc.Artifact, tmp_path: Path) -> None:
    policy = POLICIES / "agt-rings.yaml"
    with pytest.raises(nonoc.ArtifactError, match=r"is a policy, not an artifact: compile it first with `nonoc.compile\(path\)`"):
        nonoc.Artifact.load(policy)
    artifact = tmp_path / "agt.nonoc.json"
    artifact.write_bytes(agt.to_bytes())
    with pytest.raises(nonoc.PolicyError, match=r"is an artifact, not a policy: load it with `nonoc.Artifact.load\(path\)`"):
        nonoc.compile(artifact)
