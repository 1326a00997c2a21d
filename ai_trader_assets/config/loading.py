"""All five files loaded, each validated on its own and then against the others (:class:`PlatformConfig`)."""

import datetime as dt
import functools
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from ai_trader_assets.config.base import DEFAULT_CONFIG_DIR, ConfigError, Frozen
from ai_trader_assets.config.layers import LayersFile
from ai_trader_assets.config.pipeline import PipelineFile
from ai_trader_assets.config.providers import ProvidersFile
from ai_trader_assets.config.retention import RetentionFile, RetentionWindow
from ai_trader_assets.config.sentiment import SentimentFile
from ai_trader_assets.datasets import LAYERS, Dataset

# libyaml's safe loader where PyYAML was built with it (ten times faster: every command loads the
# configuration), else PyYAML's own.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PlatformConfig(Frozen):
    """All five files, validated on their own and against each other."""

    layers: LayersFile
    retention: RetentionFile
    providers: ProvidersFile
    pipeline: PipelineFile
    sentiment: SentimentFile

    def window_start(self, days: int, today: dt.date) -> dt.date:
        """The first day of a ``days``-calendar-day window ending today (``today - d < days``, as
        retention counts), not before the first partition."""
        return max(today - dt.timedelta(days=days - 1), self.pipeline.partitions.start_date)

    def partitions_start(self, today: dt.date) -> dt.date:
        """The first day of the partition grid: where the longest retention window of any layer and
        dataset starts (rolling with today), never before ``partitions.start_date``. One grid for
        every dataset: a run materializes several datasets, and Dagster runs one partitions definition."""
        days = [
            window.cold_days
            for layer in LAYERS
            for dataset in self.layers.layers[layer].datasets  # type: ignore[index]
            if (window := self.window(layer, dataset)) is not None
        ]
        return self.window_start(max(days, default=1), today)

    def wants(self, layer: int, dataset: Dataset | str, session: dt.date, today: dt.date) -> bool:
        """Whether a layer's policy wants a session of a dataset: it ingests it and keeps it."""
        window = self.window(layer, dataset)
        return self.ingests(layer, dataset) and window is not None and window.is_kept(session, today)

    def window(self, layer: int, dataset: Dataset | str) -> RetentionWindow | None:
        """The retention window of a layer for a dataset, or None when the layer does not keep it."""
        return self.retention.layers[layer].get(Dataset(dataset))  # type: ignore[index]

    def ingests(self, layer: int, dataset: Dataset | str) -> bool:
        return Dataset(dataset) in self.layers.layers[layer].datasets  # type: ignore[index]


_Model = TypeVar("_Model", bound=BaseModel)


def _describe_expected(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """The keys allowed where an unknown key was found (walks the model along the error's path)."""
    annotation: Any = model
    for part in loc[:-1]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return ""
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return ""
        # Unwrap `X | None` to X.
        args = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) is not dict and len(args) == 1:
            annotation = args[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f" (expected one of: {', '.join(annotation.model_fields)})"
    return ""


def _parse(model: type[_Model], path: Path) -> _Model:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except FileNotFoundError as exc:
        raise ConfigError(path, "", "file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(path, "", f"expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        # A typo shows up twice (unknown key + required key missing); the typo is the news.
        problems = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = problems[0]
        loc = tuple(first["loc"])
        key_path = ".".join(str(part) for part in loc)
        if first["type"] == "extra_forbidden":
            problem = f"unknown key {loc[-1]!r}{_describe_expected(model, loc)}"
        elif first["type"] == "missing":
            problem = "required key is missing"
        else:
            problem = f"{first['msg']} (got {first.get('input')!r})"
        if len(problems) > 1:
            problem += f" (and {len(problems) - 1} more problem(s) in this file)"
        raise ConfigError(path, key_path, problem) from exc


def _check_retention_matches_layers(layers: LayersFile, retention: RetentionFile, path: Path) -> None:
    for layer, spec in layers.layers.items():
        kept = retention.layers[layer]
        for dataset in kept:
            if dataset not in spec.policy_datasets:
                raise ConfigError(
                    path,
                    f"layers.{layer}.{dataset.value}",
                    f"retention for {dataset.value}, which layer {layer} does not ingest "
                    f"(layers.yaml lists {[d.value for d in spec.policy_datasets]})",
                )
        for dataset in spec.policy_datasets:
            if dataset not in kept:
                raise ConfigError(
                    path,
                    f"layers.{layer}",
                    f"no retention window for {dataset.value}, which layer {layer} ingests",
                )


def _check_higher_layers_keep_more(retention: RetentionFile, path: Path) -> None:
    for dataset in Dataset:
        previous: tuple[int, RetentionWindow] | None = None
        for layer in LAYERS:
            window = retention.layers[layer].get(dataset)  # type: ignore[index]
            if window is None:
                continue
            if previous is not None and window.intentional_reduction is None:
                lower_layer, lower = previous
                for attr in ("hot_days", "cold_days"):
                    if getattr(window, attr) < getattr(lower, attr):
                        raise ConfigError(
                            path,
                            f"layers.{layer}.{dataset.value}.{attr}",
                            f"layer {layer} keeps {getattr(window, attr)} days, less than layer "
                            f"{lower_layer}'s {getattr(lower, attr)}; raise it or add "
                            "intentional_reduction: '<why>'",
                        )
            previous = (layer, window)


def _check_intraday_matches_layers(layers: LayersFile, pipeline: PipelineFile, path: Path) -> None:
    seen: set[int] = set()
    for index, spec in enumerate(pipeline.intraday):
        if spec.layer in seen:
            raise ConfigError(path, f"intraday.{index}.layer", f"layer {spec.layer} is listed twice")
        seen.add(spec.layer)
        ingested = layers.layers[spec.layer].datasets  # type: ignore[index]
        for dataset in spec.datasets:
            if dataset not in ingested:
                raise ConfigError(
                    path,
                    f"intraday.{index}.datasets",
                    f"layer {spec.layer} does not ingest {dataset.value} (layers.yaml)",
                )


def load_config(config_dir: Path | str | None = None) -> PlatformConfig:
    """Load and cross-check the five configuration files.

    Args:
        config_dir: The folder holding the YAML files; defaults to ``<repo>/config``.

    Raises:
        ConfigError: naming the file, the key path and the expectation.
    """
    folder = Path(config_dir) if config_dir is not None else DEFAULT_CONFIG_DIR
    layers = _parse(LayersFile, folder / "layers.yaml")
    retention_path = folder / "retention.yaml"
    retention = _parse(RetentionFile, retention_path)
    _check_retention_matches_layers(layers, retention, retention_path)
    _check_higher_layers_keep_more(retention, retention_path)
    providers = _parse(ProvidersFile, folder / "providers.yaml")
    pipeline_path = folder / "pipeline.yaml"
    pipeline = _parse(PipelineFile, pipeline_path)
    _check_intraday_matches_layers(layers, pipeline, pipeline_path)
    sentiment = _parse(SentimentFile, folder / "sentiment.yaml")
    return PlatformConfig(
        layers=layers, retention=retention, providers=providers, pipeline=pipeline, sentiment=sentiment
    )


@functools.cache
def cached_config(config_dir: str) -> PlatformConfig:
    """``load_config`` memoized per folder: the files are read once per process."""
    return load_config(config_dir)
