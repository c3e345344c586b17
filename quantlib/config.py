"""Typed YAML files: read a file into a pydantic model, every problem in one line.

Company profiles, job specs and parameter sets are all YAML mappings validated by a
pydantic model; this is the one place that turns a file into a model or a clear error.
It also says where those files live: :func:`project_root`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def project_root() -> Path:
    """The project root: ``$QUANT_HOME`` if set, else the folder holding the ``quantlib`` package."""
    home = os.environ.get("QUANT_HOME")
    return Path(home).resolve() if home else Path(__file__).resolve().parents[1]


def validation_problems(error: ValidationError, root: str = "value", unknown: str = "unknown key") -> list[str]:
    """``field: message`` for every problem pydantic found.

    ``root`` names the whole value (for problems without a field); ``unknown`` is the
    message for a key the model does not have.
    """
    problems = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or root
        message = unknown if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(f"{field}: {message}")
    return problems


def load_yaml_model(path: str | Path, model: type[M], what: str, error: type[Exception] = ValueError) -> M:
    """Read ``path`` (a YAML mapping) into ``model``.

    Raises
    ------
    error
        ``"<path>: <problem>; <problem>"`` when the file is missing, is not YAML, is not a
        mapping, or breaks the model's rules; ``what`` names the kind of file.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: a {what} is a YAML mapping of fields")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{path}: {'; '.join(validation_problems(exc, root=what))}") from None
