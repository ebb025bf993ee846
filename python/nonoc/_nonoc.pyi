"""Type stubs of the extension module ``nonoc._nonoc`` (re-exported by ``nonoc``)."""

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, SupportsIndex, TypedDict, final

__version__: str

_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]
_Value = str | os.PathLike[str]
_Target = Literal["all", "linux", "macos"]

def compile(path: _Path, *, target: _Target = "all") -> Artifact:
    """Compiles a policy file into an artifact, as ``nonoc compile POLICY`` does.

    Raises ``PolicyError`` (with ``.diagnostics``) when the policy has errors and ``OSError``
    when the file cannot be read. Releases the GIL while compiling.
    """

def compile_str(text: str, *, name: str = "policy.yaml", target: _Target = "all") -> Artifact:
    """Compiles a policy given as text; ``name`` is the file name its diagnostics show."""

def check(path: _Path) -> list[Diagnostic]:
    """Every diagnostic of a policy file, as ``nonoc check`` finds them; never raises for
    problems in the policy (``OSError`` when the file cannot be read)."""

def landlock_abi() -> int:
    """The Landlock ABI of the running kernel (0 where Landlock is unavailable)."""

@final
class Diagnostic:
    """One problem found in a policy; ``str()`` is the text ``nonoc check`` prints."""

    @property
    def code(self) -> str:
        """The stable code, such as ``"NC0402"``."""
    @property
    def severity(self) -> Literal["error", "warning"]:
        """``"error"`` or ``"warning"``."""
    @property
    def message(self) -> str:
        """What is wrong, in one line."""
    @property
    def path(self) -> str:
        """The policy file's name."""
    @property
    def line(self) -> int | None:
        """The 1-based line, or None when the finding points at no place."""
    @property
    def column(self) -> int | None:
        """The 1-based column (in characters), or None."""
    @property
    def help(self) -> str | None:
        """How to fix it, when there is advice to give."""

@final
class Artifact:
    """A compiled policy, its format and digest verified."""

    @staticmethod
    def load(path: _Path) -> Artifact:
        """Reads and verifies an artifact file; raises ``ArtifactError``."""
    @staticmethod
    def from_bytes(data: bytes | bytearray) -> Artifact:
        """Verifies an artifact given as bytes; raises ``ArtifactError``."""
    def save(self, path: _Path) -> None:
        """Writes the artifact to a file, atomically."""
    def to_bytes(self) -> bytes:
        """The artifact file's bytes."""
    @property
    def digest(self) -> str:
        """``"sha256:"`` + hex."""
    @property
    def policy_name(self) -> str:
        """The ``metadata.name`` of the policy."""
    @property
    def rings(self) -> list[int]:
        """The levels of its rings, in increasing order."""
    @property
    def variables(self) -> list[str]:
        """The names of the variables the policy declares, sorted."""
    def ring(self, level: SupportsIndex) -> Ring:
        """The ring at ``level`` (an int or an IntEnum such as AGT's ``ExecutionRing``);
        raises ``RingNotFoundError`` (a ``KeyError``)."""
    def ring_for_trust_score(self, score: SupportsIndex) -> Ring:
        """The ring a trust score (0..=1000) selects; ``ValueError`` outside that range."""

@final
class Ring:
    """One ring of an artifact."""

    @property
    def level(self) -> int:
        """The ring's level."""
    @property
    def unconfined(self) -> bool:
        """True when the ring applies no sandbox (needs ``allow_unconfined=True``)."""
    def preview(
        self,
        vars: Mapping[str, _Value] | None = None,
        *,
        allow_unconfined: bool = False,
        writable: Iterable[_Value] | None = None,
    ) -> Report:
        """What ``apply`` would enforce here, without confining anything."""
    def apply(
        self,
        vars: Mapping[str, _Value] | None = None,
        *,
        allow_unconfined: bool = False,
        writable: Iterable[_Value] | None = None,
    ) -> Report:
        """Confines the calling process to the ring, irrevocably; raises ``ApplyError``
        (``UnconfinedRingError``, ``PartlyConfinedError``) or ``VariableError``.
        ``writable`` narrows the ring: writes only inside those paths."""
    def run(
        self,
        args: _Path | Sequence[_Path],
        *,
        vars: Mapping[str, _Value] | None = None,
        cwd: _Path | None = None,
        env: Mapping[str | bytes, str | bytes] | None = None,
        input: bytes | bytearray | None = None,
        timeout: float | None = None,
        capture_output: bool = False,
        allow_unconfined: bool = False,
        writable: Iterable[_Value] | None = None,
        memory_limit: int | None = None,
        network: bool = True,
    ) -> RunResult:
        """Runs a command confined by the ring, like ``subprocess.run`` (Linux); the caller
        is never confined. A failure before the command runs raises ``ApplyError``."""

@final
class RunResult:
    """The result of ``Ring.run``."""

    @property
    def args(self) -> list[Any]:
        """The command's arguments, as given."""
    @property
    def returncode(self) -> int:
        """The exit status; ``-N`` when signal N ended it."""
    @property
    def stdout(self) -> bytes | None:
        """Standard output with ``capture_output=True``, else None."""
    @property
    def stderr(self) -> bytes | None:
        """Standard error with ``capture_output=True``, else None."""
    @property
    def timed_out(self) -> bool:
        """True when the timeout killed the command's process group."""
    @property
    def report(self) -> Report:
        """What was enforced in the command's process."""

class Dropped(TypedDict, total=False):
    """Something the ring asks for that the kernel cannot enforce (best effort)."""

    what: Literal["below_min_abi", "right", "tcp_ports", "scope"]
    min_abi: int
    abi: int
    right: str
    scope: str
    needs_abi: int

class LandlockReport(TypedDict, total=False):
    """``Report.landlock``: the Landlock ruleset applied."""

    abi: int
    handled: list[str]
    tcp_ports_enforced: bool
    scopes: list[str]
    dropped: list[Dropped]
    rules: int
    missing_paths: list[str]
    carve_outs: list[list[Any]]
    glob_matches: list[list[Any]]
    skipped_through_links: list[str]
    loaders: list[LoaderGrant]
    loaders_not_added: list[LoaderNotAdded]
    enforced: list[EnforcedRule]

class EnforcedRule(TypedDict):
    """A filesystem rule as enforced (``Report.landlock["enforced"]``): what a reader maps
    back to the policy. ``origin`` is ``FILE:LINE (SCOPE)`` for a rule of the policy,
    ``loader of PROGRAM`` for a program loader, ``the caller's writable_only`` otherwise."""

    effect: Literal["allow", "deny"]
    path: str
    rights: list[str]
    origin: str

class LoaderGrant(TypedDict):
    """A program loader granted for an execute grant (``Report.landlock["loaders"]``)."""

    program: str
    interpreter: str
    resolved: str

class LoaderNotAdded(TypedDict):
    """An execute grant whose program's loader was not granted, and why."""

    program: str
    why: str

class SeccompStats(TypedDict):
    """What the seccomp filter costs."""

    length: int
    worst_case: int
    mean: float
    syscalls: int
    cache_allowed: int

class SeccompReport(TypedDict):
    """``Report.seccomp``: the seccomp filter installed."""

    arch: str
    stats: SeccompStats

@final
class Report:
    """What ``Ring.apply`` enforced (or ``Ring.preview`` would enforce)."""

    @property
    def ring(self) -> int:
        """The ring's level."""
    @property
    def unconfined(self) -> bool:
        """True when nothing was applied (an unconfined ring)."""
    @property
    def variables(self) -> dict[str, str]:
        """The variables as bound."""
    @property
    def landlock(self) -> LandlockReport | None:
        """The Landlock ruleset (Linux)."""
    @property
    def seccomp(self) -> SeccompReport | None:
        """The seccomp filter (Linux)."""
    @property
    def isolation(self) -> dict[str, Any] | None:
        """The isolation layer (Linux): tier, masks, namespaces."""
    @property
    def process(self) -> dict[str, Any] | None:
        """The process (Linux): session, capabilities, descriptors."""
    @property
    def private_tmp(self) -> str | None:
        """The run's private temporary directory (the ``tmp`` preset), given as ``TMPDIR``:
        removed by ``Ring.run`` when the command ends; after ``Ring.apply`` it stays for the
        life of the process."""
    @property
    def not_enforced(self) -> list[str]:
        """What the system's sandbox cannot enforce, said plainly (macOS)."""
    def as_dict(self) -> dict[str, Any]:
        """The whole report as plain Python values."""
    def to_json(self, *, indent: int | None = None) -> str:
        """The whole report as JSON (compact unless ``indent`` is given)."""
