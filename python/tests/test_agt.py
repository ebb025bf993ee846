"""nonoc.agt.NonocSandboxProvider with AGT's real packages: sessions, ring selection, AGT's gate."""

from __future__ import annotations

import dataclasses
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
