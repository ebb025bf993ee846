"""nonoc: kernel sandboxes for AI agents, from ring policies.

A ring policy (YAML) says what each execution ring may touch: files, network, processes,
system calls; its trust tiers map an agent's trust score (0..=1000) to a ring. ``compile``
turns it into an artifact (Landlock + seccomp for Linux, Seatbelt for macOS); an agent loads
the artifact and applies its ring to itself at start::

    import nonoc

    artifact = nonoc.Artifact.load("agt-rings.nonoc.json")
    ring = artifact.ring_for_trust_score(720)        # or artifact.ring(2)
    report = ring.apply({"workspace": "/srv/agent"})  # confined from here on, irrevocably
    print(report.to_json())

Functions: ``compile``, ``compile_str``, ``check``, ``landlock_abi``.
Classes: ``Artifact``, ``Ring`` (``apply`` in-process; ``run`` one command confined, like
``subprocess.run``), ``RunResult``, ``Report``, ``Diagnostic``.
Exceptions: ``NonocError`` and its subclasses ``PolicyError``, ``ArtifactError``,
``RingNotFoundError``, ``VariableError``, ``ApplyError``, ``UnconfinedRingError``,
``PartlyConfinedError``.
The Agent Governance Toolkit's sandbox provider is ``nonoc.agt.NonocSandboxProvider``.
"""

from nonoc._errors import (
    ApplyError,
    ArtifactError,
    NonocError,
    PartlyConfinedError,
    PolicyError,
    RingNotFoundError,
    UnconfinedRingError,
    VariableError,
)
from nonoc._nonoc import (
    Artifact,
    Diagnostic,
    Report,
    Ring,
    __version__,
    check,
    compile,
    compile_str,
    landlock_abi,
)

__all__ = [
    "ApplyError",
    "Artifact",
    "ArtifactError",
    "Diagnostic",
    "NonocError",
    "PartlyConfinedError",
    "PolicyError",
    "Report",
    "Ring",
    "RingNotFoundError",
    "UnconfinedRingError",
    "VariableError",
    "__version__",
    "check",
    "compile",
    "compile_str",
    "landlock_abi",
]

try:
    # `Ring.run` and its result: Linux (the runtime's spawn helper).
    from nonoc._nonoc import RunResult
except ImportError:  # pragma: no cover - other systems
    pass
else:
    __all__.append("RunResult")
