"""nonoc.agt.NonocSandboxProvider with AGT's real packages: sessions, ring selection, AGT's gate."""

from __future__ import annotations

import dataclasses
import errno
from pathlib import Path

import pytest

import nonoc
from conftest import POLICIES, require_landlock

from agent_sandbox.sandbox_provider import SandboxConfig, SandboxProvider, SessionStatus
from hypervisor.models import ExecutionRing

from nonoc.agt import NonocSandboxProvider


@pytest.fixture(scope="module")
def artifact() -> nonoc.Artifact:
    return nonoc.compile(POLICIES / "agt-rings.yaml", target="linux")


@pytest.fixture
def provider(artifact: nonoc.Artifact, tmp_path: Path) -> NonocSandboxProvider:
    require_landlock()
    return NonocSandboxProvider(artifact, sessions_root=tmp_path / "sessions")


def test_it_is_agts_provider_class(provider: NonocSandboxProvider) -> None:
    assert issubclass(NonocSandboxProvider, SandboxProvider)
    assert isinstance(provider, SandboxProvider)


def test_a_session_has_its_own_workspace_bound_to_the_ring(provider: NonocSandboxProvider, tmp_path: Path) -> None:
    one = provider.create_session("agent-1", config=SandboxConfig(ring=ExecutionRing.RING_2_STANDARD))
    two = provider.create_session("agent-1", config=SandboxConfig(ring=2))
    assert one.session_id != two.session_id and one.status == SessionStatus.READY
    ws1 = provider.session_workspace("agent-1", one.session_id)
    ws2 = provider.session_workspace("agent-1", two.session_id)
    assert ws1 != ws2 and ws1.is_dir() and ws2.is_dir()
    assert ws1.parent == tmp_path / "sessions"
    report = provider.session_report("agent-1", one.session_id)
    assert report.ring == 2 and report.variables["workspace"] == str(ws1)
    assert provider.get_session_status("agent-1", one.session_id) == SessionStatus.READY
    provider.destroy_session("agent-1", one.session_id)
    assert not ws1.exists() and ws2.is_dir()
    assert provider.get_session_status("agent-1", one.session_id) == SessionStatus.DESTROYED
    with pytest.raises(RuntimeError, match="No active session"):
        provider.execute_code("agent-1", one.session_id, "print(1)")
    # Destroying twice is harmless, as in AGT's providers.
    provider.destroy_session("agent-1", one.session_id)


def test_no_ring_selects_ring_3_and_skips_agts_gate(provider: NonocSandboxProvider) -> None:
    handle = provider.create_session("agent-1")
    assert provider.session_report("agent-1", handle.session_id).ring == 3
    config = provider.session_config("agent-1", handle.session_id)
    assert config.ring is None and config.network_enabled is False and config.read_only_fs is True


def test_ring_0_is_refused(provider: NonocSandboxProvider, tmp_path: Path) -> None:
    for ring in (ExecutionRing.RING_0_ROOT, 0):
        with pytest.raises(nonoc.UnconfinedRingError, match="ring 0 is unconfined"):
            provider.create_session("agent-1", config=SandboxConfig(ring=ring))
    assert list((tmp_path / "sessions").iterdir()) == []


def test_bad_rings_and_agent_ids(provider: NonocSandboxProvider) -> None:
    with pytest.raises(ValueError, match="not one of AGT's execution rings"):
        provider.create_session("agent-1", config=SandboxConfig(ring=7))
    with pytest.raises(TypeError, match="not str"):
        provider.create_session("agent-1", config=SandboxConfig(ring="2"))
    for agent_id in ("../x", "", "a/b", "-x", "a" * 129):
        with pytest.raises(ValueError, match="invalid agent_id"):
            provider.create_session(agent_id)


def test_agts_gate_denies_ring_3_subprocesses(provider: NonocSandboxProvider) -> None:
    handle = provider.create_session("agent-3", config=SandboxConfig(ring=ExecutionRing.RING_3_SANDBOX))
    with pytest.raises(PermissionError, match="Ring enforcement denied subprocess for agent 'agent-3': subprocess access denied at ring 3"):
        provider.execute_code("agent-3", handle.session_id, "print(1)")


def test_agts_circuit_breaker(provider: NonocSandboxProvider) -> None:
    handle = provider.create_session("agent-3", config=SandboxConfig(ring=ExecutionRing.RING_3_SANDBOX))
    # AGT's detector trips on a burst of calls (more than 10x its baseline rate).
    messages = []
    for _ in range(3):
        with pytest.raises(PermissionError) as caught:
            provider.run("agent-3", ["/bin/true"])
        messages.append(str(caught.value))
    assert "denied subprocess" in messages[0]
    assert messages[-1] == "Ring breach circuit-breaker tripped for agent 'agent-3'"
    # The breaker is per session: a new session starts clean.
    fresh = provider.create_session("agent-3", config=SandboxConfig(ring=ExecutionRing.RING_3_SANDBOX))
    with pytest.raises(PermissionError, match="denied subprocess"):
        provider.run("agent-3", ["/bin/true"], session_id=fresh.session_id)


def test_config_only_narrows(provider: NonocSandboxProvider) -> None:
    # AGT's ring 2 allows the network; a config without it keeps it off.
    off = provider.create_session("a", config=SandboxConfig(ring=2, network_enabled=False, read_only_fs=False))
    on = provider.create_session("a", config=SandboxConfig(ring=2, network_enabled=True, read_only_fs=False))
    assert provider.session_config("a", off.session_id).network_enabled is False
    assert provider.session_config("a", on.session_id).network_enabled is True
    assert provider.session_config("a", on.session_id).read_only_fs is False
    # AGT's ring 3 takes both away whatever the config says.
    three = provider.create_session("a", config=SandboxConfig(ring=3, network_enabled=True, read_only_fs=False))
    config = provider.session_config("a", three.session_id)
    assert config.network_enabled is False and config.read_only_fs is True
    # The caller's config is not changed.
    given = SandboxConfig(ring=3, network_enabled=True)
    provider.create_session("a", config=given)
    assert given.network_enabled is True and dataclasses.asdict(given)["ring"] == 3


def test_the_policy_must_declare_a_workspace(tmp_path: Path) -> None:
    artifact = nonoc.compile_str(
        "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {name: x}\n"
        "rings:\n  3:\n    filesystem:\n      read: [/usr]\n"
    )
    with pytest.raises(ValueError, match="declares no `workspace` variable"):
        NonocSandboxProvider(artifact, sessions_root=tmp_path)


def test_is_available_needs_a_section_for_this_system(tmp_path: Path) -> None:
    macos_only = nonoc.compile(POLICIES / "agt-rings.yaml", target="macos")
    assert NonocSandboxProvider(macos_only, sessions_root=tmp_path).is_available() is False


# --- running code: the kernel's walls --------------------------------------------------------

import json  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402

from hypervisor.rings.breach_detector import RingBreachDetector  # noqa: E402

# Ring 3 of agt-rings reads and executes /usr only: the system's interpreter lives there.
SYSTEM_PYTHON = "/usr/bin/python3"

PROBE = """
import json, os, socket
out = {}
def attempt(name, action):
    try:
        action()
        out[name] = "ok"
    except OSError as e:
        out[name] = e.errno
def connect():
    with socket.create_connection(("127.0.0.1", PORT), timeout=2):
        pass
def write(path):
    with open(path, "w") as f:
        f.write("x")
attempt("write_workspace", lambda: write("in-workspace.txt"))
attempt("write_tmp", lambda: write(TMP_FILE))
attempt("connect", connect)
print(json.dumps(out))
"""


@pytest.fixture
def runner(artifact: nonoc.Artifact, tmp_path: Path) -> NonocSandboxProvider:
    require_landlock()
    return NonocSandboxProvider(
        artifact,
        sessions_root=tmp_path / "sessions",
        interpreter=SYSTEM_PYTHON,
        # Executions here follow each other within milliseconds.
        breach_detector=lambda: RingBreachDetector(baseline_rate=1000.0),
    )


@pytest.fixture
def listener():
    """A TCP listener on 127.0.0.1 at a port ring 2 may connect to (80 or 443)."""
    for port in (443, 80):
        server = socket.socket()
        try:
            server.bind(("127.0.0.1", port))
        except OSError:
            server.close()
            continue
        server.listen(8)
        stop = threading.Event()

        def serve() -> None:
            server.settimeout(0.1)
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                    conn.close()
                except OSError:
                    pass

        thread = threading.Thread(target=serve)
        thread.start()
        yield port
        stop.set()
        thread.join()
        server.close()
        return
    pytest.fail("neither port 443 nor port 80 is free on 127.0.0.1")


def probe(provider: NonocSandboxProvider, config: SandboxConfig, port: int, tmp_path: Path) -> dict:
    handle = provider.create_session("agent", config=config)
    code = PROBE.replace("PORT", str(port)).replace("TMP_FILE", repr(str(tmp_path / "outside.txt")))
    execution = provider.execute_code("agent", handle.session_id, code)
    result = execution.result
    assert result is not None and result.success, result
    out = json.loads(result.stdout)
    out["workspace"] = provider.session_workspace("agent", handle.session_id)
    return out


def test_ring_3_cannot_write_or_reach_the_network(runner, listener, tmp_path: Path) -> None:
    assert runner.is_available()
    out = probe(runner, SandboxConfig(network_enabled=True, read_only_fs=False), listener, tmp_path)
    assert out["write_workspace"] == errno.EACCES
    assert out["write_tmp"] == errno.EACCES
    assert out["connect"] in (errno.EACCES, errno.EPERM)
    assert not (out["workspace"] / "in-workspace.txt").exists()


def test_ring_2_writes_its_workspace_and_reaches_its_ports(runner, listener, tmp_path: Path) -> None:
    out = probe(runner, SandboxConfig(ring=ExecutionRing.RING_2_STANDARD, network_enabled=True, read_only_fs=False), listener, tmp_path)
    assert out == {"write_workspace": "ok", "write_tmp": "ok", "connect": "ok", "workspace": out["workspace"]}
    assert (out["workspace"] / "in-workspace.txt").read_text() == "x"


def test_network_enabled_false_narrows_ring_2(runner, listener, tmp_path: Path) -> None:
    out = probe(runner, SandboxConfig(ring=2, network_enabled=False, read_only_fs=False), listener, tmp_path)
    assert out["connect"] in (errno.ECONNREFUSED, errno.ENETUNREACH)
    assert out["write_workspace"] == "ok"


def test_read_only_fs_narrows_ring_2_to_its_workspace(runner, listener, tmp_path: Path) -> None:
    # SandboxConfig's defaults: read_only_fs=True, network_enabled=False.
    out = probe(runner, SandboxConfig(ring=2), listener, tmp_path)
    assert out["write_workspace"] == "ok"
    assert out["write_tmp"] == errno.EACCES
    assert not (tmp_path / "outside.txt").exists()


def test_timeout_kills(runner) -> None:
    handle = runner.create_session("agent", config=SandboxConfig(ring=2, timeout_seconds=0.5))
    result = runner.execute_code("agent", handle.session_id, "import time; time.sleep(30)").result
    assert result.killed and not result.success
    assert result.kill_reason == "timed out after 0.5 s" and result.exit_code == -9
    assert result.duration_seconds < 10


def test_memory_mb_limits(runner) -> None:
    code = "b = bytearray(400 * 1024 * 1024); print(len(b))"
    small = runner.create_session("agent", config=SandboxConfig(ring=2, memory_mb=200))
    result = runner.execute_code("agent", small.session_id, code).result
    assert not result.success and "MemoryError" in result.stderr
    large = runner.create_session("agent", config=SandboxConfig(ring=2, memory_mb=2048))
    result = runner.execute_code("agent", large.session_id, code).result
    assert result.success and result.stdout == f"{400 * 1024 * 1024}\n"


def test_output_is_truncated(runner) -> None:
    handle = runner.create_session("agent", config=SandboxConfig(ring=2, output_max_bytes=1000))
    result = runner.execute_code("agent", handle.session_id, "import sys; print('x' * 5000); sys.stderr.write('y' * 3000)").result
    assert result.success
    assert result.stdout == "x" * 1000 + "\n[...output truncated at 1000 bytes]\n"
    assert result.stderr == "y" * 1000 + "\n[...output truncated at 1000 bytes]\n"


def test_env_vars_are_the_whole_environment_but_path(runner, monkeypatch) -> None:
    monkeypatch.setenv("NONOC_SHOULD_NOT_LEAK", "1")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    handle = runner.create_session("agent", config=SandboxConfig(ring=2, env_vars={"TOOL_MODE": "fast"}))
    result = runner.run("agent", ["/usr/bin/env"], session_id=handle.session_id)
    assert result.success, result
    assert sorted(result.stdout.splitlines()) == ["PATH=/usr/bin:/bin", "TOOL_MODE=fast"]
    # Without a session, `run` makes one from the config for this command alone.
    before = set((runner._sessions_root).iterdir())
    result = runner.run("loner", ["/usr/bin/env"], SandboxConfig(env_vars={"A": "1", "PATH": "/bin"}))
    assert sorted(result.stdout.splitlines()) == ["A=1", "PATH=/bin"]
    assert set(runner._sessions_root.iterdir()) == before


def test_a_session_that_cannot_run_the_interpreter_fails_closed(artifact: nonoc.Artifact, tmp_path: Path) -> None:
    require_landlock()
    # The test's own interpreter lives outside what ring 2 may execute.
    provider = NonocSandboxProvider(artifact, sessions_root=tmp_path, interpreter="/root/.no-such-python")
    handle = provider.create_session("agent", config=SandboxConfig(ring=2))
    result = provider.execute_code("agent", handle.session_id, "print(1)").result
    assert not result.success and result.exit_code == -1 and result.stderr.startswith("nonoc: cannot run")
