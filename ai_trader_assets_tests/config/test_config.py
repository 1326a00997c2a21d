"""The shipped configuration loads, and each kind of mistake gets its own clear error."""

import shutil
from pathlib import Path

import pytest
import yaml
from dagster._utils.schedules import is_valid_cron_string

from ai_trader_assets.config import DEFAULT_CONFIG_DIR, ConfigError, load_config
from ai_trader_assets.config.pipeline import dagster_accepts_cron
from ai_trader_assets.datasets import Dataset

CONFIG_FILES = ["layers.yaml", "retention.yaml", "providers.yaml", "pipeline.yaml"]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    return folder


def edit(folder: Path, file: str, change) -> None:  # type: ignore[no-untyped-def]
    path = folder / file
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def load_error(folder: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    return info.value


def test_shipped_files_load_with_the_product_policy() -> None:
    config = load_config()
    assert config.window(0, Dataset.BARS_1DAY).hot_days == 7  # type: ignore[union-attr]
    assert config.window(3, Dataset.CORPORATE_ACTIONS).cold_days == 3650  # type: ignore[union-attr]
    assert config.window(1, Dataset.BARS_5MIN).hot_days == 14  # type: ignore[union-attr]
    assert config.window(0, Dataset.NEWS) is None
    assert config.window(3, Dataset.TICKS).hot_days == 1  # type: ignore[union-attr]
    assert config.ingests(2, Dataset.BARS_1MIN) and not config.ingests(1, Dataset.BARS_1MIN)
    assert config.pipeline.schedules.daily_ingest.timezone == "America/New_York"


def test_models_are_frozen() -> None:
    config = load_config()
    with pytest.raises(Exception, match="frozen"):
        config.retention.demotion_grace_days = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("file", "path"),
    [
        ("layers.yaml", ["layers", 1]),
        ("retention.yaml", ["layers", 2, "news"]),
        ("providers.yaml", ["providers", "polygon", "rate_limit"]),
        ("pipeline.yaml", ["chunks"]),
    ],
)
def test_mistyped_key_names_file_key_path_and_expectation(config_dir: Path, file: str, path: list) -> None:  # type: ignore[type-arg]
    def add_typo(data: dict) -> None:  # type: ignore[type-arg]
        node = data
        for part in path:
            node = node[part]
        node["hot_dayz" if file == "retention.yaml" else "descripton"] = 1

    edit(config_dir, file, add_typo)
    error = load_error(config_dir)
    assert error.file.endswith(file)
    typo = "hot_dayz" if file == "retention.yaml" else "descripton"
    assert error.key_path == ".".join(str(p) for p in [*path, typo])
    assert f"unknown key '{typo}'" in str(error)
    assert "expected one of:" in str(error)


def test_wrong_type(config_dir: Path) -> None:
    edit(config_dir, "retention.yaml", lambda d: d["layers"][1]["bars_1day"].update(hot_days="thirty"))
    error = load_error(config_dir)
    assert error.key_path == "layers.1.bars_1day.hot_days"
    assert "valid integer" in error.problem and "'thirty'" in error.problem


def test_negative_days(config_dir: Path) -> None:
    edit(config_dir, "retention.yaml", lambda d: d["layers"][0]["corporate_actions"].update(cold_days=-5))
    error = load_error(config_dir)
    assert error.key_path == "layers.0.corporate_actions.cold_days"
    assert "greater than or equal to 0" in error.problem


def test_hot_days_above_cold_days(config_dir: Path) -> None:
    edit(config_dir, "retention.yaml", lambda d: d["layers"][2]["news"].update(hot_days=900))
    error = load_error(config_dir)
    assert error.key_path == "layers.2.news"
    assert "hot_days (900) must not exceed cold_days (730)" in error.problem


def test_retention_for_an_interval_the_layer_does_not_ingest(config_dir: Path) -> None:
    edit(
        config_dir,
        "retention.yaml",
        lambda d: d["layers"][1].update(bars_1min={"hot_days": 1, "cold_days": 2}),
    )
    error = load_error(config_dir)
    assert error.file.endswith("retention.yaml")
    assert error.key_path == "layers.1.bars_1min"
    assert "layer 1 does not ingest" in error.problem


def test_missing_retention_for_an_ingested_dataset(config_dir: Path) -> None:
    edit(config_dir, "retention.yaml", lambda d: d["layers"][3].pop("bars_1hour"))
    error = load_error(config_dir)
    assert error.key_path == "layers.3" and "no retention window for bars_1hour" in error.problem


@pytest.mark.parametrize("file", ["layers.yaml", "retention.yaml"])
def test_a_layer_missing(config_dir: Path, file: str) -> None:
    edit(config_dir, file, lambda d: d["layers"].pop(2))
    error = load_error(config_dir)
    assert error.file.endswith(file)
    assert error.key_path == "layers"
    assert "layer(s) [2] missing" in error.problem


def test_unknown_layer(config_dir: Path) -> None:
    edit(config_dir, "layers.yaml", lambda d: d["layers"].update({4: d["layers"][3]}))
    error = load_error(config_dir)
    assert error.key_path.startswith("layers.4")


def test_higher_layer_keeping_less_needs_a_reason(config_dir: Path) -> None:
    edit(
        config_dir, "retention.yaml", lambda d: d["layers"][3]["bars_1day"].update(cold_days=100, hot_days=10)
    )
    error = load_error(config_dir)
    assert error.key_path == "layers.3.bars_1day.hot_days"
    assert "intentional_reduction" in error.problem

    edit(
        config_dir,
        "retention.yaml",
        lambda d: d["layers"][3]["bars_1day"].update(intentional_reduction="layer 3 reads 1day from 1min"),
    )
    assert load_config(config_dir).window(3, "bars_1day").cold_days == 100  # type: ignore[union-attr]


def test_failover_must_name_known_providers(config_dir: Path) -> None:
    edit(config_dir, "providers.yaml", lambda d: d["providers"].pop("alpaca"))
    error = load_error(config_dir)
    assert error.file.endswith("providers.yaml") and "alpaca" in error.problem


def test_demo_is_never_a_failover_target(config_dir: Path) -> None:
    edit(config_dir, "providers.yaml", lambda d: d["failover"]["news"].append("demo"))
    error = load_error(config_dir)
    assert "never a failover target" in error.problem and "AI_TRADER_PROVIDER=demo" in error.problem


def test_failover_names_only_providers_that_serve_the_dataset(config_dir: Path) -> None:
    edit(config_dir, "providers.yaml", lambda d: d["failover"]["news"].append("yahoo"))
    assert "do not serve news" in load_error(config_dir).problem


def test_bad_cron_and_timezone(config_dir: Path) -> None:
    edit(config_dir, "pipeline.yaml", lambda d: d["schedules"]["retention"].update(cron="every day"))
    assert load_error(config_dir).key_path == "schedules.retention.cron"
    # What Dagster's schedules refuse: seconds (six fields), a day February never has.
    edit(config_dir, "pipeline.yaml", lambda d: d["schedules"]["retention"].update(cron="0 0 3 * * *"))
    assert "five fields" in load_error(config_dir).problem
    edit(config_dir, "pipeline.yaml", lambda d: d["schedules"]["retention"].update(cron="0 3 30 2 *"))
    assert "0 3 30 2 *" in load_error(config_dir).problem
    edit(
        config_dir,
        "pipeline.yaml",
        lambda d: d["schedules"]["retention"].update(cron="0 3 * * *", timezone="Mars/Base"),
    )
    assert load_error(config_dir).key_path == "schedules.retention.timezone"


CRON_CASES = [
    "0 3 * * *",
    "@daily",
    "@weekly",
    "@hourly",
    "@reboot",
    "*/5 9-16 * * 1-5",
    "0 3 * * MON-FRI",
    "0 0 15W * *",
    "0 0 L * *",
    "0 0 * * 5#3",
    "0 0 * * 5L",
    "0 3 30 2 *",
    "0 3 29 2 *",
    "0 3 30,31 2 *",
    "0 0 3 * * *",
    "every day",
    "0 24 * * *",
    "H 0 * * *",
]


@pytest.mark.parametrize("cron", CRON_CASES)
def test_the_cron_check_accepts_what_dagsters_schedules_accept(cron: str) -> None:
    """The configuration checks cron strings without loading Dagster; it must agree with Dagster."""
    assert dagster_accepts_cron(cron) == is_valid_cron_string(cron)


def test_missing_file_and_invalid_yaml(config_dir: Path) -> None:
    (config_dir / "pipeline.yaml").unlink()
    assert "pipeline.yaml: <top level>: file not found" in str(load_error(config_dir))
    (config_dir / "pipeline.yaml").write_text("partitions: [unclosed")
    assert "not valid YAML" in str(load_error(config_dir))


@pytest.mark.parametrize(
    ("entry", "key_path", "problem"),
    [
        (
            {"layer": 0, "datasets": ["bars_1min"], "every_minutes": 5},
            "datasets",
            "does not ingest",
        ),
        (
            {"layer": 3, "datasets": ["news"], "every_minutes": 5},
            "datasets",
            "cannot be refreshed",
        ),
        ({"layer": 3, "datasets": ["bars_1min"], "every_minutes": 7}, "every_minutes", "divide"),
    ],
)
def test_an_intraday_refresh_the_layers_cannot_serve_is_refused(
    config_dir: Path,
    entry: dict,
    key_path: str,
    problem: str,  # type: ignore[type-arg]
) -> None:
    edit(config_dir, "pipeline.yaml", lambda d: d.update(intraday=[entry]))
    error = load_error(config_dir)
    assert error.key_path == f"intraday.0.{key_path}" and problem in error.problem


def test_the_shipped_intraday_refresh_follows_the_active_layers() -> None:
    intraday = {(s.layer, s.every_minutes): s.datasets for s in load_config().pipeline.intraday}
    assert intraday == {
        (3, 5): (Dataset.BARS_1MIN, Dataset.BARS_5MIN, Dataset.TICKS),
        (2, 15): (Dataset.BARS_5MIN,),
    }
