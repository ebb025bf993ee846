"""The package as installed: every public name documented, the stubs and py.typed shipped."""

from __future__ import annotations

import importlib.resources
import inspect

import nonoc
import nonoc.agt


def test_every_public_name_has_a_docstring() -> None:
    assert nonoc.__doc__ and "Ring" in nonoc.__doc__
    undocumented = []
    for module in (nonoc, nonoc.agt):
        for name in module.__all__:
            if name == "__version__":
                continue
            value = getattr(module, name)
            if not inspect.getdoc(value):
                undocumented.append(f"{module.__name__}.{name}")
            if inspect.isclass(value):
                for attr, member in vars(value).items():
                    if attr.startswith("_"):
                        continue
                    if not inspect.getdoc(member):
                        undocumented.append(f"{module.__name__}.{name}.{attr}")
    assert undocumented == []


def test_version_and_abi() -> None:
    assert nonoc.__version__.count(".") == 2
    assert isinstance(nonoc.landlock_abi(), int) and nonoc.landlock_abi() >= 0


def test_stubs_and_py_typed_ship() -> None:
    files = importlib.resources.files("nonoc")
    assert files.joinpath("py.typed").is_file()
    stubs = files.joinpath("_nonoc.pyi").read_text()
    for name in ("def compile(", "def compile_str(", "def check(", "class Artifact", "class Ring", "class Report", "class Diagnostic", "class RunResult", "def run("):
        assert name in stubs


def test_exceptions_are_shown_where_they_are_imported_from() -> None:
    assert nonoc.ApplyError("x", 13).errno == 13 and str(nonoc.ApplyError("x")) == "x"
    assert nonoc.ApplyError.__module__ == "nonoc"
    assert issubclass(nonoc.UnconfinedRingError, nonoc.ApplyError)
    assert issubclass(nonoc.VariableError, ValueError) and issubclass(nonoc.RingNotFoundError, KeyError)
