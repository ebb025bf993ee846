"""Ring.run: the command is confined, the caller is not; subprocess.run's arguments."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

import nonoc
from conftest import POLICIES, interpreter_paths, require_landlock, run_python


@pytest.fixture(scope="module")
def agt() -> nonoc.Artifact:
    return nonoc.compile(POLICIES / "agt-rings.yaml", target="linux")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    require_landlock()
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def test_run_confines_only_the_child(agt: nonoc.Artifact, workspace: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the caller's")
    done = agt.ring(3).run(["/bin/cat", secret], vars={"workspace": workspace}, capture_output=True)
    assert done.returncode == 1
    assert done.stderr == f"/bin/cat: {secret}: Permission denied\n".encode()
    assert done.stdout == b""
    assert secret.read_text() == "the caller's"
    assert done.report.ring == 3 and done.report.process["session"] == "new"
    # The same command unconfined reads it.
    assert agt.ring(1).run(["/bin/cat", secret], vars={"workspace": workspace}, capture_output=True).stdout == b"the caller's"


def test_run_from_a_multi_threaded_process(agt: nonoc.Artifact, workspace: Path) -> None:
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        done = agt.ring(2).run(["/bin/sh", "-c", "echo ok > out.txt"], vars={"workspace": workspace}, cwd=workspace)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert done.returncode == 0 and (workspace / "out.txt").read_text() == "ok\n"
    assert done.stdout is None and done.stderr is None


def test_cwd_env_input_and_output(agt: nonoc.Artifact, workspace: Path) -> None:
    ring = agt.ring(2)
    done = ring.run(
        ["/bin/sh", "-c", 'pwd; echo "$GREETING"; cat; echo err >&2; env | sort'],
        vars={"workspace": workspace},
        cwd=workspace,
        env={"GREETING": "hello", "PATH": "/usr/bin:/bin"},
        input=b"from stdin\n",
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[:3] == [str(workspace), "hello", "from stdin"]
    # `env` is the whole environment (the shell adds PWD and, for dash, nothing else of ours).
    names = {line.split("=", 1)[0] for line in lines[3:]}
    assert {"GREETING", "PATH"} <= names and not names & {"HOME", "USER", "NONOC_BIN"}
    assert done.stderr == b"err\n"
    assert done.args == ["/bin/sh", "-c", 'pwd; echo "$GREETING"; cat; echo err >&2; env | sort']
    assert not done.timed_out


def test_timeout_kills_the_process_group(agt: nonoc.Artifact, workspace: Path) -> None:
    start = time.monotonic()
    done = agt.ring(2).run(
        ["/bin/sh", "-c", "sleep 60 & echo $! > bg.pid; wait"],
        vars={"workspace": workspace},
        cwd=workspace,
        timeout=0.5,
    )
    elapsed = time.monotonic() - start
    assert done.timed_out and done.returncode == -9
    assert elapsed < 10
    # The background sleep was in the group: killed too (gone, or a zombie nobody reaped).
    pid = int((workspace / "bg.pid").read_text())
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break
        if state in ("Z", "X"):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the background process {pid} outlived the timeout (state {state})")


def test_a_failure_before_execve_is_an_apply_error(agt: nonoc.Artifact, workspace: Path, tmp_path: Path) -> None:
    marker = workspace / "ran"
    with pytest.raises(nonoc.ApplyError) as caught:
        agt.ring(2).run(["/bin/sh", "-c", f"touch {marker}"], vars={"workspace": workspace}, cwd=tmp_path / "missing")
    assert caught.value.errno == errno.ENOENT
    assert not marker.exists()
    with pytest.raises(nonoc.ApplyError, match="cannot run") as caught:
        agt.ring(2).run(["/no/such/program"], vars={"workspace": workspace})
    assert caught.value.errno == errno.ENOENT
    # A program the ring may not execute (ring 3 executes /usr/bin and /usr/lib only).
    tool = workspace / "tool"
    tool.write_text("#!/bin/sh\ntouch ran\n")
    tool.chmod(0o755)
    with pytest.raises(nonoc.ApplyError) as caught:
        agt.ring(3).run([tool], vars={"workspace": workspace}, cwd=workspace)
    assert caught.value.errno == errno.EACCES
    assert not marker.exists()
    with pytest.raises(nonoc.UnconfinedRingError):
        agt.ring(0).run(["/bin/true"])


def test_narrowing_writes_and_network(agt: nonoc.Artifact, workspace: Path, tmp_path: Path) -> None:
    ring = agt.ring(2)
    script = "echo a > ws.txt && echo ws; echo b > ../outside.txt && echo outside"
    wide = ring.run(["/bin/sh", "-c", script], vars={"workspace": workspace}, cwd=workspace, capture_output=True)
    assert wide.stdout == b"ws\noutside\n"
    narrow = ring.run(["/bin/sh", "-c", script], vars={"workspace": workspace}, cwd=workspace, capture_output=True, writable=[workspace])
    assert narrow.stdout == b"ws\n" and b"Permission denied" in narrow.stderr
    offline = ring.run(["/bin/true"], vars={"workspace": workspace}, network=False)
    assert offline.returncode == 0 and offline.report.isolation["network_namespace"] is True


def test_bad_arguments(agt: nonoc.Artifact, workspace: Path) -> None:
    ring = agt.ring(2)
    v = {"workspace": workspace}
    with pytest.raises(ValueError, match="args is empty"):
        ring.run([], vars=v)
    with pytest.raises(TypeError, match="input must be bytes, not str"):
        ring.run(["/bin/cat"], vars=v, input="text")
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        ring.run(["/bin/true"], vars=v, timeout=-1)
    with pytest.raises(ValueError, match="illegal environment variable name"):
        ring.run(["/bin/true"], vars=v, env={"A=B": "c"})
    with pytest.raises(TypeError, match="env must be a mapping"):
        ring.run(["/bin/true"], vars=v, env=["A=b"])
    with pytest.raises(TypeError, match="writable must be a list of paths"):
        ring.run(["/bin/true"], vars=v, writable=str(workspace))
    with pytest.raises(TypeError):
        ring.run(["/bin/true", 3], vars=v)
    # A single program, as subprocess.run takes it.
    assert ring.run("/bin/true", vars=v).returncode == 0



@pytest.fixture
def local_server(tmp_path: Path):
    """A plain-HTTP server on 127.0.0.1 serving `hello`, and a policy whose ring 3 may reach
    `localhost` at its port through the egress proxy (and read what Python needs)."""
    import http.server
    import socketserver

    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "hello").write_text("hello through the proxy\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "www"), **kwargs)

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Quiet)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    reads = ", ".join(["/usr", "/etc", "/lib", "/lib64", "/bin", "/proc", "/dev", *interpreter_paths().values()])
    policy = tmp_path / "hosts.yaml"
    policy.write_text(
        f"""apiVersion: nonoc.dev/v1
kind: RingPolicy
metadata: {{ name: hosts }}
rings:
  3:
    filesystem:
      read: [{reads}]
      execute: [/usr, /bin, /lib, /lib64]
    network:
      mode: restricted
      hosts:
        - {{ host: localhost, ports: [{port}] }}
      private: allow
"""
    )
    try:
        yield nonoc.compile(policy, target="linux"), port
    finally:
        server.shutdown()
        server.server_close()


CLIENT = """
import socket, sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode(), end='')
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode(), end='')
try:
    socket.create_connection(('127.0.0.1', int(sys.argv[2])), timeout=5); print('connected')
except OSError as e:
    print(e.errno)
"""


def test_a_ring_with_hosts_runs_beside_its_egress_proxy(local_server) -> None:
    """The proxy starts and stops with the command: a listed host works through it, another
    is refused with the rule, and a direct connection around it is refused."""
    require_landlock()
    artifact, port = local_server
    ring = artifact.ring(3)
    allowed = ring.run(
        ["/usr/bin/python3", "-I", "-S", "-c", CLIENT, f"http://localhost:{port}/hello", str(port)],
        capture_output=True,
    )
    refused = ring.run(
        ["/usr/bin/python3", "-I", "-S", "-c", CLIENT, f"http://other.invalid:{port}/hello", str(port)],
        capture_output=True,
    )
    assert allowed.returncode == 0, allowed.stderr
    lines = allowed.stdout.decode().splitlines()
    assert lines[0] == "hello through the proxy"
    # Around the proxy: Landlock refuses the port.
    assert lines[1] == str(errno.EACCES), lines
    assert allowed.report.as_dict()["egress"]["tier"] == "namespace"
    assert allowed.report.as_dict()["egress"]["runs_in"] == "thread"
    out = refused.stdout.decode()
    assert out.startswith("403 ") and "`other.invalid` is not in `hosts`" in out, out


APPLY_WITH_HOSTS = """
import json, os, socket, sys, urllib.request, urllib.error
import nonoc
report = nonoc.Artifact.load(sys.argv[1]).ring(3).apply()
port = int(sys.argv[2])
out = {"egress": report.as_dict().get("egress"), "proxy_env": os.environ.get("HTTP_PROXY", "")}
out["body"] = urllib.request.urlopen(f"http://localhost:{port}/hello", timeout=10).read().decode()
try:
    urllib.request.urlopen(f"http://other.invalid:{port}/hello", timeout=10)
except urllib.error.HTTPError as e:
    out["refused"] = [e.code, e.read().decode()]
try:
    socket.create_connection(("127.0.0.1", port), timeout=5); out["direct"] = "connected"
except OSError as e:
    out["direct"] = e.errno
print(json.dumps(out))
"""


def test_apply_of_a_ring_with_hosts_starts_its_proxy_first(local_server, tmp_path: Path) -> None:
    """In-process apply: the proxy is a child process started before the restriction, the
    interpreter is pointed at it (os.environ) and pinned to its port; the report says so."""
    require_landlock()
    artifact, port = local_server
    path = tmp_path / "hosts.nonoc.json"
    artifact.save(path)
    out = run_python(APPLY_WITH_HOSTS, str(path), str(port))
    assert out["egress"]["tier"] == "port-pinned" and out["egress"]["runs_in"] == "process", out
    assert out["proxy_env"].startswith("http://nonoc:") and out["proxy_env"].endswith(out["egress"]["proxy"])
    assert out["body"] == "hello through the proxy\n"
    assert out["refused"][0] == 403 and "`other.invalid` is not in `hosts`" in out["refused"][1], out
    assert out["direct"] == errno.EACCES, out
