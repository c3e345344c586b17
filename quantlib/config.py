"""Typed YAML files: read a file into a pydantic model, every problem in one line.

Company profiles, job specs and parameter sets are all YAML mappings validated by a
pydantic model; this is the one place that turns a file into a model or a clear error.
It also says where those files live: :func:`project_root`, and which lake a command reads:
:func:`resolve_lake`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

# yaml and pydantic are imported where they are used: the command line imports this module
# for resolve_lake, and `quant --help` should not pay for them.
M = TypeVar("M", bound="BaseModel")

#: The company a command works on when neither ``--company`` nor ``QUANT_COMPANY`` names one.
DEFAULT_COMPANY = "mixed_trades"
COMPANY_ENV = "QUANT_COMPANY"
LAKE_ENV = "QUANT_LAKE"
#: An object storage URL as pathlib folds it ("s3://b/x" -> "s3:/b/x").
_FOLDED_URL = re.compile(r"^(s3a?):/(?=[^/])")


def project_root() -> Path:
    """The project root: ``$QUANT_HOME`` if set, else the folder holding the ``quantlib`` package."""
    home = os.environ.get("QUANT_HOME")
    return Path(home).resolve() if home else Path(__file__).resolve().parents[1]


def resolve_company(company: str | None = None, environ: dict | None = None) -> str:
    """The company slug: ``company``, else ``$QUANT_COMPANY``, else :data:`DEFAULT_COMPANY`.

    Parameters
    ----------
    company : str, optional
        The ``--company`` option.
    environ : dict, optional
        Environment to read (default ``os.environ``).

    Returns
    -------
    str
    """
    env = os.environ if environ is None else environ
    return company or env.get(COMPANY_ENV) or DEFAULT_COMPANY


def resolve_lake(lake: str | Path | None = None, company: str | None = None,
                 environ: dict | None = None) -> Path | str:
    """The lake root a command uses; the one rule every command that takes a lake follows.

    ``lake`` (the ``--lake`` option), else ``$QUANT_LAKE``, else
    ``<project root>/data/demo/<company>/lake``, where the company is
    :func:`resolve_company` of ``company`` (``--company``, else ``$QUANT_COMPANY``, else
    ``mixed_trades``). So after ``make demo`` every command finds the demo lake with no option.

    Parameters
    ----------
    lake : str or Path, optional
        The ``--lake`` option.
    company : str, optional
        The ``--company`` option.
    environ : dict, optional
        Environment to read (default ``os.environ``).

    Returns
    -------
    Path or str
        The lake root (not checked for existence; the command says what is missing); an object
        storage URL (``s3://bucket/prefix``) is returned as the text it is, for
        :class:`quantlib.data.lake.Lake` (a ``Path`` would fold its ``//``; one that a ``Path``
        option already folded, ``s3:/bucket/prefix``, is unfolded).
    """
    env = os.environ if environ is None else environ
    chosen = lake or env.get(LAKE_ENV)
    if isinstance(chosen, Path) and _FOLDED_URL.match(str(chosen)):
        # A command whose --lake is typed Path got "s3://b/x" as Path("s3:/b/x"): unfold it.
        chosen = _FOLDED_URL.sub(r"\1://", str(chosen), count=1)
    if chosen and "://" in str(chosen) and not str(chosen).startswith("file://"):
        return str(chosen)
    if chosen:
        return Path(chosen)
    return project_root() / "data" / "demo" / resolve_company(company, env) / "lake"


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
    import yaml
    from pydantic import ValidationError

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
