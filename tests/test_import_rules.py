"""The import rule between packages, checked on the source (so it holds for lazy imports too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "bff_web": {"bff_mobile", "devstack"},
    "bff_mobile": {"bff_web", "devstack"},
    "shared": {"bff_web", "bff_mobile", "core_clients", "devstack"},
    "core_clients": {"bff_web", "bff_mobile", "devstack"},
}


def imported_top_level_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_the_architecture_allows(package: str) -> None:
    violations = {
        str(path.relative_to(ROOT)): sorted(imported_top_level_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {file: bad for file, bad in violations.items() if bad} == {}


def test_only_the_cli_and_tests_import_devstack() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for package in ("shared", "core_clients", "bff_web", "bff_mobile", "bench")
        for path in (ROOT / package).rglob("*.py")
        if "devstack" in imported_top_level_packages(path)
    }
    allowed_bench = {p for p in importers if p.startswith("bench/")}
    assert importers - allowed_bench == set()


def test_the_rule_checker_sees_a_violation(tmp_path: Path) -> None:
    """Guard against a checker that silently finds nothing."""
    source = tmp_path / "x.py"
    source.write_text("import bff_mobile.app\nfrom devstack import cli\n")
    assert imported_top_level_packages(source) == {"bff_mobile", "devstack"}
