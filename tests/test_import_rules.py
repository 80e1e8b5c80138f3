"""The layering of docs/architecture.md, checked on the source (so it holds for lazy imports too).

Each layer may import itself and the layers listed for it, nothing else of the project::

    shared.platform   nothing
    shared.cache      platform
    core_clients      platform, cache
    shared.identity   platform, cache
    shared.screens    platform, identity, core_clients
    shared.remote     platform, cache, identity, core_clients
    bff_web           every layer above, never bff_mobile
    bff_mobile        every layer above, never bff_web

Nothing imports ``devstack`` but the dev CLI itself and the tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LIBRARY_LAYERS = ("shared.platform", "shared.cache", "core_clients", "shared.identity")
ALLOWED: dict[str, set[str]] = {
    "shared.platform": set(),
    "shared.cache": {"shared.platform"},
    "core_clients": {"shared.platform", "shared.cache"},
    "shared.identity": {"shared.platform", "shared.cache"},
    "shared.screens": {"shared.platform", "shared.identity", "core_clients"},
    "shared.remote": {*LIBRARY_LAYERS},
    "bff_web": {*LIBRARY_LAYERS, "shared.screens", "shared.remote"},
    "bff_mobile": {*LIBRARY_LAYERS, "shared.screens", "shared.remote"},
}
PROJECT_LAYERS = (*ALLOWED, "devstack", "bench", "tests")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name imported by the file (``from a import b`` gives ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def layer_of(module: str) -> str | None:
    """The project layer a module belongs to (the longest matching prefix), or None."""
    matches = [
        layer for layer in PROJECT_LAYERS if module == layer or module.startswith(layer + ".")
    ]
    if not matches and (module == "shared" or module.startswith("shared.")):
        return "shared"  # the bare namespace: nothing lives there
    return max(matches, key=len) if matches else None


def source_files(layer: str) -> list[Path]:
    return sorted((ROOT / layer.replace(".", "/")).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_the_architecture_allows(layer: str) -> None:
    files = source_files(layer)
    assert files, f"no source found for {layer}"
    violations = {}
    for path in files:
        bad = sorted(
            module
            for module in imported_modules(path)
            if (target := layer_of(module)) is not None
            and target != layer
            and target not in ALLOWED[layer]
        )
        if bad:
            violations[str(path.relative_to(ROOT))] = bad
    assert violations == {}


def test_shared_holds_only_its_layers() -> None:
    """A module dropped straight into ``shared/`` would belong to no layer and escape the rule."""
    loose = sorted(p.name for p in (ROOT / "shared").glob("*.py") if p.name != "__init__.py")
    assert loose == []


def test_only_the_dev_cli_and_tests_import_devstack() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for layer in ALLOWED
        for path in source_files(layer)
        if any(layer_of(module) == "devstack" for module in imported_modules(path))
    }
    assert importers == set()


def test_the_rule_checker_sees_a_violation(tmp_path: Path) -> None:
    """Guard against a checker that silently finds nothing."""
    source = tmp_path / "x.py"
    source.write_text(
        "import bff_mobile.app\nfrom devstack import cli\nfrom shared.identity.oidc import X\n"
    )
    modules = imported_modules(source)
    assert {layer_of(m) for m in modules} == {"bff_mobile", "devstack", "shared.identity"}
    assert "shared.identity" not in ALLOWED["shared.cache"]
