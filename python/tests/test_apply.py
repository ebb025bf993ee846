"""Ring.apply confines the interpreter that calls it: each test runs in a fresh one."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

import nonoc
from conftest import interpreter_paths, require_landlock, run_python

POLICY = """\
apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {name: python-apply}
variables:
  workspace: {}
  data: {}
  python: {}
  python_base: {}
deny:
  - path: ${data}/secret.txt
rings:
  2:
    filesystem:
      read: [/usr, /lib, /lib64, /etc, "${python}", "${python_base}", "${workspace}", "${data}"]
      execute: [/usr, "${python}", "${python_base}"]
      write: ["${workspace}"]
    network: { mode: blocked }
"""

# Reads each file named on the command line before and after the call, writes a file in the
# workspace, and prints what happened as JSON.
CHILD = """
import json, os, sys, threading
import nonoc

artifact_path, variables, call, *files = sys.argv[1:]
variables = json.loads(variables)
ring = nonoc.Artifact.load(artifact_path).ring(2)

def attempt(action):
    try:
        action()
        return "ok"
    except OSError as e:
        return [type(e).__name__, e.errno]

def read_all():
    return {f: attempt(lambda: open(f).read()) for f in files}

out = {"before": read_all()}
release = threading.Event()
if call == "apply-with-a-thread":
    thread = threading.Thread(target=release.wait)
    thread.start()
try:
    report = ring.apply(variables) if call.startswith("apply") else ring.preview(variables)
    out["report"] = report.as_dict()
except nonoc.ApplyError as e:
    out["error"] = [type(e).__name__, str(e), e.errno]
finally:
    release.set()
out["after"] = read_all()
def write():
    with open(os.path.join(variables["workspace"], "written.txt"), "w") as f:
        f.write("from the confined interpreter")
out["write"] = attempt(write)
out["write_outside"] = attempt(lambda: open(os.path.join(os.path.dirname(variables["workspace"]), "x"), "w"))
print(json.dumps(out))
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, dict[str, str], list[str]]:
    artifact = nonoc.compile_str(POLICY, name="python-apply.yaml", target="linux")
    path = tmp_path / "apply.nonoc.json"
    artifact.save(path)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("the agent's own")
    data = tmp_path / "data"
    data.mkdir()
    (data / "public.txt").write_text("readable")
    (data / "secret.txt").write_text("denied inside a readable directory")
    (tmp_path / "outside.txt").write_text("never granted")
    files = [str(workspace / "notes.txt"), str(data / "public.txt"), str(data / "secret.txt"), str(tmp_path / "outside.txt")]
    variables = {"workspace": str(workspace), "data": str(data), **interpreter_paths()}
    return path, variables, files


DENIED = ["PermissionError", errno.EACCES]


def test_apply_confines_the_interpreter(setup) -> None:
    require_landlock()
    path, variables, files = setup
    notes, public, secret, outside = files
    out = run_python(CHILD, str(path), json.dumps(variables), "apply", *files)
    assert out["before"] == {notes: "ok", public: "ok", secret: "ok", outside: "ok"}
    assert out["report"]["ring"] == 2 and out["report"]["landlock"]["abi"] == nonoc.landlock_abi()
    assert out["after"] == {notes: "ok", public: "ok", secret: DENIED, outside: DENIED}
    assert out["write"] == "ok"
    assert out["write_outside"] == DENIED
    assert (Path(variables["workspace"]) / "written.txt").read_text() == "from the confined interpreter"
    # The test process itself is not confined.
    assert Path(secret).read_text() == "denied inside a readable directory"


def test_preview_confines_nothing(setup) -> None:
    require_landlock()
    path, variables, files = setup
    out = run_python(CHILD, str(path), json.dumps(variables), "preview", *files)
    assert out["report"]["ring"] == 2
    assert set(out["after"].values()) == {"ok"}
    assert out["write_outside"] == "ok"


def test_apply_refuses_with_other_threads_running(setup) -> None:
    require_landlock()
    path, variables, files = setup
    out = run_python(CHILD, str(path), json.dumps(variables), "apply-with-a-thread", *files)
    kind, message, code = out["error"]
    assert kind == "ApplyError" and code is None
    assert "the process has 2 threads" in message and "before starting threads" in message
    # Refused before anything was applied: the interpreter is unconfined.
    assert set(out["after"].values()) == {"ok"}
    assert out["write_outside"] == "ok"


def test_a_missing_variable_is_a_value_error(setup) -> None:
    path, variables, _ = setup
    ring = nonoc.Artifact.load(path).ring(2)
    del variables["workspace"]
    with pytest.raises(ValueError, match="variable `workspace` is unbound") as caught:
        ring.preview(variables)
    assert isinstance(caught.value, nonoc.VariableError)
    with pytest.raises(nonoc.VariableError, match="not declared"):
        ring.preview({**variables, "workspce": "/tmp"})
    with pytest.raises(nonoc.VariableError, match="not absolute"):
        ring.preview({**variables, "workspace": "relative/dir"})
