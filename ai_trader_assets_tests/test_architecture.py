"""The tree shows the flows and stays that way: a folder imports only folders below it, the root holds
only the platform's basics, modules stay small enough to hold in mind, and the read side starts
without Dagster or a vendor SDK."""

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_trader_assets.config import REPO_ROOT

PACKAGE = REPO_ROOT / "ai_trader_assets"
# Bottom to top. A part of the package imports its own modules and the parts on lower lines; parts on
# one line are siblings and import neither each other (storage never imports providers, nor they it).
LAYERS: list[set[str]] = [
    {"calendar"},
    {"datasets"},
    {"config"},
    {"settings"},
    {"run_tags"},
    {"storage", "providers"},
    {"read", "ingest"},
    {"planning", "ops"},
    {"cli", "defs", "definitions"},
]
# The one arrow across: ``ai-trader backfill`` without a webserver runs the code location in process.
ALLOWED = {("cli", "definitions")}
ROOT_MODULES = 6
MAX_LINES = 400
LONG_MODULE_REASON = "Longer than 400 lines because"
HEAVY = ("dagster", "massive", "alpaca")  # Dagster and the vendor SDKs


def part_of(module: str) -> str:
    """``ai_trader_assets.storage.lake.tables`` -> ``storage``; a root module is its own part."""
    return module.split(".")[1] if module.count(".") >= 1 else ""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, package: str = "") -> Iterator[tuple[str, int]]:
    """Every module of the package ``path`` imports, at any depth (lazy imports are arrows too);
    relative imports resolved against ``package`` (the module's own package)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            yield ".".join([*base, *([node.module] if node.module else [])]), node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "ai_trader_assets":  # from ai_trader_assets import calendar
                yield from ((f"ai_trader_assets.{alias.name}", node.lineno) for alias in node.names)
            elif node.module.startswith("ai_trader_assets."):
                yield node.module, node.lineno
        elif isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names if a.name.startswith("ai_trader_assets."))


def test_a_folder_imports_only_folders_below_it() -> None:
    rank = {part: level for level, parts in enumerate(LAYERS) for part in parts}
    modules = sorted(PACKAGE.rglob("*.py"))
    unplaced = {part_of(module_name(p)) for p in modules} - set(rank) - {""}
    assert not unplaced, f"{sorted(unplaced)}: place each in LAYERS (which parts may it import?)"
    wrong = []
    for path in modules:
        name = module_name(path)
        importer = part_of(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imported, line in imports(path, package):
            target = part_of(imported)
            if not importer or target == importer or (importer, target) in ALLOWED:
                continue
            if rank[target] >= rank[importer]:
                wrong.append(f"{path.relative_to(REPO_ROOT)}:{line}: {importer} imports {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_layering_check_sees_an_arrow_up(tmp_path: Path) -> None:
    """The check reads lazy imports inside functions and relative imports too (a provider reaching
    into storage)."""
    module = tmp_path / "module.py"
    module.write_text(
        "from ..storage import hot\ndef build():\n    from ai_trader_assets.storage.hot import HotStore\n"
    )
    found = [name for name, _ in imports(module, "ai_trader_assets.providers")]
    assert found == ["ai_trader_assets.storage", "ai_trader_assets.storage.hot"]
    assert {part_of(name) for name in found} == {"storage"}


def test_the_root_holds_only_the_platforms_basics() -> None:
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= ROOT_MODULES, f"{len(root)} modules at the package root: {root}"


def test_no_module_is_longer_than_a_reader_can_hold_without_saying_why() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        head = "\n".join(text.splitlines()[:20])
        if text.count("\n") > MAX_LINES and LONG_MODULE_REASON not in head:
            long.append(f"{path.relative_to(REPO_ROOT)}: {text.count(chr(10))} lines")
    assert not long, f"split these, or say at their top '{LONG_MODULE_REASON} ...':\n" + "\n".join(long)


@pytest.mark.parametrize(
    "module", ["ai_trader_assets.read", "ai_trader_assets.cli", "ai_trader_assets.providers"]
)
def test_importing_the_read_side_loads_neither_dagster_nor_a_vendor_sdk(module: str) -> None:
    shown = f"import json, sys, {module}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", shown], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert module.split(".", maxsplit=1)[0] in loaded  # the import happened
    assert not loaded & set(HEAVY), f"{module} loads {sorted(loaded & set(HEAVY))}"


def test_loading_the_code_location_imports_no_components_plugin() -> None:
    """Every run's process loads the code location: it builds the defs folder's definitions only, not
    the list of every installed Components plugin's types (~0.7 s of a 3.4 s load)."""
    shown = (
        "import json, sys; from ai_trader_assets.definitions import defs; d = defs(); print(json.dumps("
        "[len(d.assets or []), sorted(m for m in sys.modules if m.endswith('.components') and "
        "not m.startswith('dagster.'))]))"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", shown], capture_output=True, text=True, check=True
    )
    assets, plugins = json.loads(done.stdout.splitlines()[-1])
    assert assets >= 10  # the definitions were loaded
    assert plugins == [], plugins  # e.g. dagster_aws.components


# deltalake 1.6.x: a process that called DeltaTable.to_pyarrow_table() aborts at exit (exit 134,
# "terminate called without an active exception"). Reads go through to_pyarrow_dataset() or Polars.
ABORTS_AT_EXIT = "to_pyarrow_table"


def test_no_module_calls_what_makes_a_process_abort_at_exit() -> None:
    calls = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == ABORTS_AT_EXIT
    ]
    assert not calls, f"{ABORTS_AT_EXIT}() makes the process abort at exit: " + ", ".join(calls)
