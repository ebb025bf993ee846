"""A sandbox provider for the Agent Governance Toolkit whose rings reach the kernel.

``NonocSandboxProvider`` is a subclass of AGT's own
``agent_sandbox.sandbox_provider.SandboxProvider`` (install the extra: ``pip install
'nonoc[agt]'``). Each session gets a workspace of its own, bound to the policy's
``workspace`` variable; ``SandboxConfig.ring`` (AGT's ``ExecutionRing``, or an int) selects
the artifact's ring of that level, ``None`` selecting ring 3 and ring 0 refused. AGT's own
ring gate runs first, wired as AGT's Docker provider wires it (``RingEnforcer`` constraints at
``create_session``, ``check_resource(SUBPROCESS)`` and a ``RingBreachDetector`` before every
execution); what AGT allows then runs inside the artifact's ring of the same level::

    from hypervisor.models import ExecutionRing
    from agent_sandbox.sandbox_provider import SandboxConfig
    from nonoc.agt import NonocSandboxProvider

    provider = NonocSandboxProvider("agt-rings.nonoc.json")
    handle = provider.create_session(
        "agent-1", config=SandboxConfig(ring=ExecutionRing.RING_2_STANDARD, read_only_fs=False)
    )
    ...
    provider.destroy_session("agent-1", handle.session_id)

A ``SandboxConfig`` can only narrow the ring, never widen it: ``network_enabled=False`` (a
network namespace with only loopback), ``read_only_fs=True`` (writes only in the session's
workspace and ``output_dir``), ``memory_mb`` (the address-space limit), ``timeout_seconds``
(the process group killed, ``killed=True``), ``output_max_bytes`` and ``env_vars`` (the
whole environment, with ``PATH``). Each execution is one ``nonoc.Ring.run``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path
from collections.abc import Callable
from typing import Any

import nonoc

with warnings.catch_warnings():
    # Both packages warn, on import, about distribution names this package does not use.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from agent_sandbox.sandbox_provider import (
        ExecutionHandle,
        ExecutionStatus,
        SandboxConfig,
        SandboxProvider,
        SandboxResult,
        SessionHandle,
        SessionStatus,
    )
    from hypervisor.models import ExecutionRing
    from hypervisor.rings.breach_detector import RingBreachDetector
    from hypervisor.rings.enforcer import ResourceType, RingEnforcer

__all__ = ["NonocSandboxProvider"]

# `agent_id` names the session's workspace directory: AGT's providers' safe character set.
_AGENT_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")

# The kernel ring of a session whose config names no ring: AGT's fail-closed default.
_DEFAULT_LEVEL = 3


@dataclasses.dataclass
class _Session:
    """What a session keeps between executions."""

    config: SandboxConfig
    ring: nonoc.Ring
    variables: dict[str, str]
    workspace: Path
    # AGT's gate: None when the config names no ring (AGT skips its gate then).
    agt_ring: ExecutionRing | None
    enforcer: RingEnforcer | None
    detector: RingBreachDetector | None
    report: nonoc.Report


class NonocSandboxProvider(SandboxProvider):
    """A ``SandboxProvider`` that runs each execution inside a nonoc ring.

    ``artifact_or_path`` is a ``nonoc.Artifact`` or the path of an artifact file (its policy
    must declare a ``workspace`` variable: each session's workspace is bound to it).
    ``sessions_root`` is where session workspaces are made (a private temporary directory
    by default); ``interpreter`` runs the Python code of ``execute_code`` (the ring must let
    it read and execute its installation). ``breach_detector`` makes each session's
    ``RingBreachDetector``: AGT's defaults (a baseline of 10 calls a second) trip the
    circuit breaker on two executions less than 20 ms apart, which a quick ring reaches;
    pass ``lambda: RingBreachDetector(baseline_rate=...)`` to tune it.
    """

    def __init__(
        self,
        artifact_or_path: nonoc.Artifact | str | os.PathLike[str],
        *,
        sessions_root: str | os.PathLike[str] | None = None,
        interpreter: str = sys.executable,
        breach_detector: Callable[[], RingBreachDetector] = RingBreachDetector,
    ) -> None:
        if isinstance(artifact_or_path, nonoc.Artifact):
            self._artifact = artifact_or_path
        else:
            self._artifact = nonoc.Artifact.load(artifact_or_path)
        if "workspace" not in self._artifact.variables:
            raise ValueError(
                f"the policy `{self._artifact.policy_name}` declares no `workspace` variable; "
                "the provider binds each session's workspace to it"
            )
        if sessions_root is None:
            self._sessions_root = Path(tempfile.mkdtemp(prefix="nonoc-sessions-"))
        else:
            self._sessions_root = Path(sessions_root)
            self._sessions_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._interpreter = interpreter
        self._breach_detector = breach_detector
        self._state_lock = threading.RLock()
        self._sessions: dict[tuple[str, str], _Session] = {}

    @property
    def artifact(self) -> nonoc.Artifact:
        """The artifact whose rings the sessions run in."""
        return self._artifact

    # --- SandboxProvider --------------------------------------------------------------

    def is_available(self) -> bool:
        """True where this system can enforce the artifact's rings and run commands in them
        (Linux with Landlock)."""
        if not hasattr(nonoc.Ring, "run"):
            return False
        if sys.platform == "linux" and nonoc.landlock_abi() == 0:
            return False
        level = _DEFAULT_LEVEL if _DEFAULT_LEVEL in self._artifact.rings else None
        if level is None:
            return False
        try:
            self._artifact.ring(level).preview({"workspace": str(self._sessions_root)})
        except nonoc.NonocError:
            return False
        return True

    def create_session(
        self,
        agent_id: str,
        policy: Any | None = None,
        config: SandboxConfig | None = None,
    ) -> SessionHandle:
        """Makes a session: its workspace, its ring, and AGT's gate for that ring.

        Raises ``ValueError`` for an invalid ``agent_id`` or a ring AGT does not know,
        ``nonoc.UnconfinedRingError`` for ring 0, ``nonoc.RingNotFoundError`` when the
        artifact has no ring of that level, and ``nonoc.VariableError`` when a variable the
        ring uses cannot be bound.
        """
        _validate_agent_id(agent_id)
        if policy is not None:
            raise NotImplementedError(
                "NonocSandboxProvider does not evaluate AGT policy documents; the artifact's "
                "ring is the policy (pass policy=None)"
            )
        cfg = dataclasses.replace(config) if config is not None else SandboxConfig()
        level, agt_ring = _ring_level(cfg.ring)
        ring = self._artifact.ring(level)
        if ring.unconfined:
            raise nonoc.UnconfinedRingError(
                f"ring {level} is unconfined; the provider runs agents confined only"
            )
        enforcer = detector = None
        if agt_ring is not None:
            # AGT's gate, as its Docker provider wires it, except that the config can only
            # narrow: AGT's constraints never turn the network or writes back on.
            enforcer = RingEnforcer()
            constraints = enforcer.get_constraints(agt_ring)
            cfg.network_enabled = cfg.network_enabled and constraints.network_allowed
            if not constraints.filesystem_scope or constraints.filesystem_scope == "none":
                cfg.read_only_fs = True
            detector = self._breach_detector()

        session_id = uuid.uuid4().hex[:8]
        workspace = self._sessions_root / f"{agent_id}-{session_id}"
        workspace.mkdir(mode=0o700)
        try:
            variables = {"workspace": str(workspace)}
            declared = set(self._artifact.variables)
            if cfg.input_dir is not None and "input" in declared:
                variables["input"] = os.fspath(cfg.input_dir)
            if cfg.output_dir is not None and "output" in declared:
                variables["output"] = os.fspath(cfg.output_dir)
            # Binds every variable and opens every path now, so a session that cannot be
            # confined is refused here rather than at its first execution.
            report = ring.preview(variables)
        except BaseException:
            shutil.rmtree(workspace, ignore_errors=True)
            raise
        session = _Session(
            config=cfg,
            ring=ring,
            variables=variables,
            workspace=workspace,
            agt_ring=agt_ring,
            enforcer=enforcer,
            detector=detector,
            report=report,
        )
        with self._state_lock:
            self._sessions[(agent_id, session_id)] = session
        return SessionHandle(agent_id=agent_id, session_id=session_id, status=SessionStatus.READY)

    def execute_code(
        self,
        agent_id: str,
        session_id: str,
        code: str,
        *,
        context: dict[str, Any] | None = None,
    ) -> ExecutionHandle:
        """Runs Python code with the configured interpreter inside the session's ring, in its
        workspace (``interpreter -c code``). AGT's gate first: ``PermissionError`` when it
        denies. ``context`` is not passed to the code."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, not {type(code).__name__}")
        session = self._session(agent_id, session_id)
        self._gate(agent_id, session_id, session)
        result = self._execute(session, [self._interpreter, "-c", code])
        return ExecutionHandle(
            execution_id=uuid.uuid4().hex[:8],
            agent_id=agent_id,
            session_id=session_id,
            status=ExecutionStatus.COMPLETED if result.success else ExecutionStatus.FAILED,
            result=result,
        )

    def run(
        self,
        agent_id: str,
        command: list[str],
        config: SandboxConfig | None = None,
        *,
        session_id: str | None = None,
    ) -> SandboxResult:
        """Runs a command inside the ring of the agent's session (``session_id``, or the
        agent's only session), in its workspace. An agent without a session gets one for
        this command alone, made from ``config`` and destroyed after it (``config`` is
        ignored when the agent has a session: the session's applies). AGT's gate first:
        ``PermissionError`` when it denies."""
        if isinstance(command, (str, bytes)) or not command:
            raise ValueError("command must be a non-empty list of arguments")
        with self._state_lock:
            has_session = any(aid == agent_id for (aid, _) in self._sessions)
        if session_id is None and not has_session:
            handle = self.create_session(agent_id, config=config)
            try:
                return self.run(agent_id, command, session_id=handle.session_id)
            finally:
                self.destroy_session(agent_id, handle.session_id)
        session, session_id = self._find(agent_id, session_id)
        self._gate(agent_id, session_id, session)
        return self._execute(session, list(command))

    def destroy_session(self, agent_id: str, session_id: str) -> None:
        """Drops the session's state (AGT's gate included) and removes its workspace."""
        with self._state_lock:
            session = self._sessions.pop((agent_id, session_id), None)
        if session is not None:
            shutil.rmtree(session.workspace, ignore_errors=True)

    def get_session_status(self, agent_id: str, session_id: str) -> SessionStatus:
        with self._state_lock:
            if (agent_id, session_id) in self._sessions:
                return SessionStatus.READY
        return SessionStatus.DESTROYED

    # --- what a session is ------------------------------------------------------------

    def session_report(self, agent_id: str, session_id: str) -> nonoc.Report:
        """What the session's ring enforces on this system (``Ring.preview`` at
        ``create_session``, with the session's variables)."""
        return self._session(agent_id, session_id).report

    def session_workspace(self, agent_id: str, session_id: str) -> Path:
        """The session's workspace directory."""
        return self._session(agent_id, session_id).workspace

    def session_config(self, agent_id: str, session_id: str) -> SandboxConfig:
        """The session's effective config: the caller's, narrowed by AGT's ring
        constraints (a copy)."""
        return dataclasses.replace(self._session(agent_id, session_id).config)

    # --- helpers ----------------------------------------------------------------------

    def _session(self, agent_id: str, session_id: str) -> _Session:
        with self._state_lock:
            session = self._sessions.get((agent_id, session_id))
        if session is None:
            raise RuntimeError(
                f"No active session for agent '{agent_id}' with session_id '{session_id}'. "
                "Call create_session() first."
            )
        return session

    def _find(self, agent_id: str, session_id: str | None) -> tuple[_Session, str]:
        if session_id is not None:
            return self._session(agent_id, session_id), session_id
        with self._state_lock:
            ids = [sid for (aid, sid) in self._sessions if aid == agent_id]
        if len(ids) != 1:
            raise RuntimeError(
                f"agent '{agent_id}' has {len(ids)} sessions; pass session_id= to say which"
            )
        return self._session(agent_id, ids[0]), ids[0]

    @staticmethod
    def _gate(agent_id: str, session_id: str, session: _Session) -> None:
        """AGT's subprocess gate, in the order AGT's Docker provider checks it."""
        if session.enforcer is None or session.detector is None or session.agt_ring is None:
            return
        result = session.enforcer.check_resource(session.agt_ring, ResourceType.SUBPROCESS)
        session.detector.record_call(
            agent_id, session_id, session.agt_ring, ExecutionRing.RING_3_SANDBOX
        )
        if session.detector.is_breaker_tripped(agent_id, session_id):
            raise PermissionError(f"Ring breach circuit-breaker tripped for agent {agent_id!r}")
        if not result.allowed:
            raise PermissionError(
                f"Ring enforcement denied subprocess for agent {agent_id!r}: {result.reason}"
            )

    def _execute(self, session: _Session, command: list[str]) -> SandboxResult:
        """Runs ``command`` in the session's ring, narrowed by its config."""
        cfg = session.config
        env = {str(k): str(v) for k, v in cfg.env_vars.items()}
        env.setdefault("PATH", os.environ.get("PATH", os.defpath))
        writable = None
        if cfg.read_only_fs:
            # Writes stay where the ring allows them inside the session's own directories
            # (and /dev/null); everywhere else they are withdrawn.
            writable = [str(session.workspace), "/dev/null"]
            if cfg.output_dir is not None:
                writable.append(os.path.abspath(os.fspath(cfg.output_dir)))
        timeout = cfg.timeout_seconds if cfg.timeout_seconds and cfg.timeout_seconds > 0 else None
        memory = cfg.memory_mb * 1024 * 1024 if cfg.memory_mb and cfg.memory_mb > 0 else None
        start = time.monotonic()
        try:
            done = session.ring.run(
                command,
                vars=session.variables,
                cwd=session.workspace,
                env=env,
                timeout=timeout,
                capture_output=True,
                writable=writable,
                memory_limit=memory,
                network=cfg.network_enabled,
            )
        except nonoc.NonocError as e:
            # Nothing ran: the ring could not be entered.
            return SandboxResult(
                success=False,
                exit_code=-1,
                stderr=f"nonoc: {e}",
                duration_seconds=round(time.monotonic() - start, 3),
            )
        limit = cfg.output_max_bytes
        return SandboxResult(
            success=done.returncode == 0 and not done.timed_out,
            exit_code=done.returncode,
            stdout=_truncate(done.stdout or b"", limit),
            stderr=_truncate(done.stderr or b"", limit),
            duration_seconds=round(time.monotonic() - start, 3),
            killed=done.timed_out,
            kill_reason=f"timed out after {timeout} s" if done.timed_out else "",
        )


_TRUNCATED = "\n[...output truncated at {} bytes]\n"


def _truncate(data: bytes, limit: int | None) -> str:
    """The output as text, cut at ``limit`` bytes with a marker saying so."""
    if limit is not None and limit >= 0 and len(data) > limit:
        return data[:limit].decode("utf-8", errors="replace") + _TRUNCATED.format(limit)
    return data.decode("utf-8", errors="replace")


def _validate_agent_id(agent_id: str) -> None:
    if not isinstance(agent_id, str) or not _AGENT_ID.match(agent_id):
        raise ValueError(
            f"invalid agent_id {agent_id!r}: it must match {_AGENT_ID.pattern}"
        )


def _ring_level(ring: Any) -> tuple[int, ExecutionRing | None]:
    """The kernel ring's level and AGT's ring for ``SandboxConfig.ring``."""
    if ring is None:
        return _DEFAULT_LEVEL, None
    if isinstance(ring, bool) or not isinstance(ring, int):
        raise TypeError(
            f"SandboxConfig.ring must be an ExecutionRing, an int or None, not {type(ring).__name__}"
        )
    try:
        agt_ring = ExecutionRing(int(ring))
    except ValueError:
        raise ValueError(
            f"ring {int(ring)} is not one of AGT's execution rings (0..=3)"
        ) from None
    return agt_ring.value, agt_ring
