"""The exceptions nonoc raises. Every one derives from :class:`NonocError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nonoc._nonoc import Diagnostic

__all__ = [
    "ApplyError",
    "ArtifactError",
    "NonocError",
    "PartlyConfinedError",
    "PolicyError",
    "RingNotFoundError",
    "UnconfinedRingError",
    "VariableError",
]


class NonocError(Exception):
    """The base class of every error nonoc raises."""


class PolicyError(NonocError):
    """The policy has errors and was not compiled.

    ``diagnostics`` holds every finding (errors and warnings) as :class:`nonoc.Diagnostic`,
    each with its code, place and help; ``str()`` of one is what ``nonoc check`` prints.
    """

    diagnostics: list[Diagnostic]

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics or [])


class ArtifactError(NonocError):
    """The artifact cannot be used: unreadable (the ``OSError`` is the ``__cause__``), not an
    artifact, of another format (a newer compiler's, say), or modified after compilation
    (its digest does not match)."""


class RingNotFoundError(NonocError, KeyError):
    """The artifact has no ring at this level, or no trust tier selects this trust score."""

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument; this is a message.
        return str(self.args[0]) if self.args else ""


class VariableError(NonocError, ValueError):
    """A variable the ring uses is unbound (no binding, environment variable or default),
    undeclared by the policy, or bound to a value that is not an absolute normalized path."""


class ApplyError(NonocError):
    """The ring cannot be applied here. ``errno`` is the failed system call's error number,
    or None when no system call failed (other threads are running, the kernel lacks what the
    ring requires, the artifact has no section for this system, ...). The process is left
    unconfined, unless it is a :class:`PartlyConfinedError`."""

    errno: int | None

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class UnconfinedRingError(ApplyError):
    """The ring is unconfined (AGT's ring 0) and the caller did not pass
    ``allow_unconfined=True``."""


class PartlyConfinedError(ApplyError):
    """Landlock is in force but the kernel refused the seccomp filter: the process is only
    partly confined and must not go on as if the ring were applied."""


# Shown as `nonoc.ApplyError`, where users import them from.
for _cls in (
    NonocError,
    PolicyError,
    ArtifactError,
    RingNotFoundError,
    VariableError,
    ApplyError,
    UnconfinedRingError,
    PartlyConfinedError,
):
    _cls.__module__ = "nonoc"
del _cls
