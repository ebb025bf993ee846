"""Shared helpers: the repository's files, the `nonoc` binary, fresh interpreters, and the
kernel contract (a missing Landlock skips, or fails with NONOC_REQUIRE_LANDLOCK=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nonoc

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
FIXTURES = REPO / "tests" / "fixtures"


def require_landlock() -> None:
    """Skips a kernel test where Landlock is unavailable; fails instead in CI."""
    if nonoc.landlock_abi() > 0:
        return
    if os.environ.get("NONOC_REQUIRE_LANDLOCK") == "1":
        pytest.fail("Landlock is unavailable and NONOC_REQUIRE_LANDLOCK=1")
    pytest.skip("Landlock is unavailable on this kernel")


@pytest.fixture(scope="session")
def nonoc_bin() -> Path:
    """The `nonoc` command line built from this checkout (tests/run sets NONOC_BIN)."""
    path = Path(os.environ.get("NONOC_BIN", REPO / "target" / "debug" / "nonoc"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `cargo build -p nonoc` (tests/run does)")
    return path


def cli_env() -> dict[str, str]:
    """The environment `nonoc` renders plain diagnostics in (no colour, 100 columns)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "CLICOLOR_FORCE")}
    env["NO_COLOR"] = "1"
    return env


def interpreter_paths() -> dict[str, str]:
    """Variables binding what a fresh interpreter of this Python reads as it runs: the
    virtual environment (with the installed package) and the installation it comes from."""
    return {
        "python": os.path.realpath(sys.prefix),
        "python_base": os.path.realpath(sys.base_prefix),
    }


def run_python(script: str, *args: str, timeout: float = 60) -> dict:
    """Runs `script` in a fresh interpreter of this Python; returns the JSON object it prints
    on its last line of standard output."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no output\nstderr:\n{proc.stderr}"
    return json.loads(lines[-1])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """With NONOC_REQUIRE_LANDLOCK=1 (CI) no test may skip: a skip is reported as a failure."""
    report = yield
    if report.skipped and os.environ.get("NONOC_REQUIRE_LANDLOCK") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped where every test must run (NONOC_REQUIRE_LANDLOCK=1): {report.longrepr}"
    return report
