"""What every configuration model shares: the error a bad file raises, frozen models that refuse
unknown keys, the field types, and where the configuration folder is."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_DIR = REPO_ROOT / "config"

LayerId = Literal[0, 1, 2, 3]
Days = Annotated[int, Field(strict=True, ge=0)]
PositiveInt = Annotated[int, Field(strict=True, gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid.

    The message always reads ``<file>: <key path>: <what was expected>``.
    """

    def __init__(self, file: Path | str, key_path: str, problem: str) -> None:
        self.file = str(file)
        self.key_path = key_path
        self.problem = problem
        super().__init__(f"{self.file}: {key_path or '<top level>'}: {problem}")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
