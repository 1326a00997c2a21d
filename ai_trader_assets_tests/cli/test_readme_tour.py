"""The README's terminal tour, command by command, on the quickstart's embedded set-up (SQLite, local
lake, the demo provider, the demo universe; a smaller backfill than the quickstart's for time): each
command's exit code is 0 and its output holds the text the README puts after "→"."""

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai_trader_assets.cli import app
from ai_trader_assets.config import DEFAULT_CONFIG_DIR

README = Path(__file__).resolve().parents[2] / "README.md"
runner = CliRunner()


def tour() -> list[tuple[str, str]]:
    """(command, expected text) for each ``ai-trader`` line of the block after the tour marker."""
    text = README.read_text()
    block = re.search(r"<!-- tour:.*?-->\s*```bash\n(.*?)```", text, flags=re.DOTALL)
    assert block, "README.md has no tour block"
    steps = []
    for line in block.group(1).splitlines():
        if line.startswith("ai-trader "):
            command, _, expected = line.partition("# →")
            steps.append((command.strip(), expected.strip()))
    return steps


def test_the_readme_tour_names_real_commands_and_checks_each() -> None:
    steps = tour()
    assert len(steps) >= 6 and all(expected for _, expected in steps)
    assert {shlex.split(c)[1] for c, _ in steps} >= {"status", "bars", "sql", "backfill", "companies"}


def test_the_readme_tour_works_as_written(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AI_TRADER_AS_OF", "2026-11-20")
    for setup in (
        ["db", "upgrade"],
        ["companies", "import", str(DEFAULT_CONFIG_DIR / "demo_universe.csv")],
        ["backfill", "--symbols", "AAPL,MSFT", "--days", "7", "--datasets", "bars_1day,bars_1min,news"],
    ):
        result = runner.invoke(app, setup)
        assert result.exit_code == 0, result.output
    for command, expected in tour():
        result = runner.invoke(app, shlex.split(command)[1:])
        assert result.exit_code == 0, (command, result.output)
        assert expected in result.output, (command, expected, result.output)
