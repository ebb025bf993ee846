"""The `tmp` preset's private temporary directory: one per `Ring.apply` or `Ring.run`, given
as `TMPDIR` (and to `tempfile`), while the shared `/tmp` stays out of reach."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

import nonoc
from conftest import interpreter_paths, require_landlock, run_python

POLICY = """\
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {name: python-tmp}
variables:
  workspace: {}
  python: {}
  python_base: {}
rings:
  2:
    filesystem:
      presets: [python, tmp, devices]
      read: ["${python}", "${python_base}", "${workspace}"]
      execute: ["${python}", "${python_base}"]
      write: ["${workspace}"]
    network: { mode: blocked }
    process: { fork: true, signals: sandbox }
"""

# Asks `tempfile` for its directory before the call (so that it is cached), applies the ring,
# then writes through `tempfile`, into the shared /tmp, and from a child process.
CHILD = """
import json, os, subprocess, sys, tempfile
import nonoc

artifact_path, variables, shared = sys.argv[1:]
before = tempfile.gettempdir()
report = nonoc.Artifact.load(artifact_path).ring(2).apply(json.loads(variables))

def attempt(action):
    try:
        return ["ok", action()]
    except OSError as e:
        return [type(e).__name__, e.errno]

def mkstemp():
    fd, name = tempfile.mkstemp()
    os.write(fd, b"x")
    os.close(fd)
    return name

def shared_write():
    with open(shared, "w") as f:
        f.write("x")

child = subprocess.run(["/bin/sh", "-c", 'echo "$TMPDIR"; f=$(mktemp) && echo "$f"'],
                       capture_output=True, text=True)
print(json.dumps({
    "before": before,
    "private_tmp": report.private_tmp,
    "environ": os.environ.get("TMPDIR"),
    "mkstemp": attempt(mkstemp),
    "shared_read": attempt(lambda: open(shared + ".planted").read()),
    "shared_write": attempt(shared_write),
    "child": child.stdout.splitlines(),
    "mode": oct(os.stat(report.private_tmp).st_mode & 0o777),
}))
"""

DENIED = ["PermissionError", errno.EACCES]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[nonoc.Artifact, Path, dict[str, str]]:
    artifact = nonoc.compile_str(POLICY, name="python-tmp.yaml", target="linux")
    path = tmp_path / "tmp.nonoc.json"
    artifact.save(path)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    variables = {"workspace": str(workspace), **interpreter_paths()}
    return artifact, path, variables


def shared_path(tmp_path: Path) -> str:
    """A file name in the shared /tmp, not under the test's own directory."""
    return f"/tmp/nonoc-python-shared-{os.getpid()}-{tmp_path.name}"


def test_apply_points_tempfile_and_children_at_the_private_directory(setup, tmp_path: Path) -> None:
    require_landlock()
    _, path, variables = setup
    shared = shared_path(tmp_path)
    Path(shared + ".planted").write_text("left by another process")
    try:
        out = run_python(CHILD, str(path), json.dumps(variables), shared)
    finally:
        os.unlink(shared + ".planted")
    private = out["private_tmp"]
    assert private and Path(private).name.startswith("nonoc-tmp-")
    assert out["before"] != private
    assert out["environ"] == private
    kind, name = out["mkstemp"]
    assert kind == "ok" and os.path.dirname(name) == private
    assert out["shared_read"] == DENIED
    assert out["shared_write"] == DENIED
    assert not os.path.exists(shared)
    assert out["child"][0] == private and os.path.dirname(out["child"][1]) == private
    assert out["mode"] == "0o700"
    # Applied in-process: the directory stays for the life of that process (it has ended).
    assert Path(name).read_bytes() == b"x"
    for entry in Path(private).iterdir():
        entry.unlink()
    Path(private).rmdir()


def test_run_gives_each_command_its_own_directory_and_removes_it(setup, tmp_path: Path) -> None:
    require_landlock()
    artifact, _, variables = setup
    ring = artifact.ring(2)
    shared = shared_path(tmp_path)
    script = f'echo "$TMPDIR"; echo kept > "$TMPDIR/file"; stat -c %a "$TMPDIR"; echo x > {shared}'
    seen = []
    for _ in range(2):
        result = ring.run(["/bin/sh", "-c", script], vars=variables, capture_output=True)
        lines = result.stdout.decode().splitlines()
        assert result.report.private_tmp == lines[0], result
        assert lines[1] == "700"
        assert result.returncode != 0 and b"Permission denied" in result.stderr
        assert not Path(lines[0]).exists(), "the directory outlived its command"
        seen.append(lines[0])
    assert seen[0] != seen[1]
    assert not os.path.exists(shared)


def test_preview_removes_its_directory_and_a_bound_tmp_creates_none(setup, tmp_path: Path) -> None:
    require_landlock()
    artifact, _, variables = setup
    ring = artifact.ring(2)
    report = ring.preview(variables)
    assert report.private_tmp and not Path(report.private_tmp).exists()
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    result = ring.run(
        ["/bin/sh", "-c", 'echo "$TMPDIR"; echo x > "$TMPDIR/f"'],
        vars={**variables, "tmp": str(mine)},
        capture_output=True,
    )
    assert result.returncode == 0, result
    # Bound by the caller: the caller's directory is the command's TMPDIR, and it is kept.
    assert result.report.private_tmp == str(mine) == result.stdout.decode().splitlines()[0]
    assert (mine / "f").read_text() == "x\n"
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700


def test_narrowing_writes_keeps_the_private_directory_writable(setup, tmp_path: Path) -> None:
    require_landlock()
    artifact, _, variables = setup
    script = 'echo x > "$TMPDIR/f" && echo ok; echo y > "$0/outside" || echo refused'
    result = artifact.ring(2).run(
        ["/bin/sh", "-c", script, variables["workspace"]],
        vars=variables,
        writable=[str(tmp_path / "elsewhere")],
        capture_output=True,
    )
    assert result.stdout.decode().split() == ["ok", "refused"], result
    assert b"Permission denied" in result.stderr
