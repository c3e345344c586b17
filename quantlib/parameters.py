"""Typed notebook parameters: one pydantic model per published notebook.

A notebook's ``parameters`` cell mirrors a model registered here, and every value is
validated by that model *before* papermill injects it, so a typo or a wrong type is a
one-line error instead of a kernel that fails half-way through a report.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Callable, TypeVar

import nbformat
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from quantlib.config import project_root, validation_problems
from quantlib.errors import QuantError

__all__ = [
    "NotebookParameters",
    "ParameterError",
    "check_parameters_cell",
    "known_companies",
    "load_parameter_file",
    "parameters_cell",
    "parameters_model",
    "APP_ENVIRONMENT",
    "DATA_ROOTS_ENV",
    "allowed_lake_roots",
    "app_parameters",
    "register_parameters",
    "validate_parameters",
]

#: Tag papermill looks for; the cell so tagged holds the notebook's defaults.
PARAMETERS_TAG = "parameters"

#: Colon-separated folders where a lake named in a parameter file or a notebook may live
#: (besides the project root).
DATA_ROOTS_ENV = "QUANT_DATA_ROOTS"

# A company is a slug: it becomes a folder under reports/ and part of the default lake path.
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")

# Validation context key: True when ``lake`` was typed by the person running the command
# (``quant run -p lake=...``, ``quant apps --lake``), who may point at their own data anywhere.
TRUSTED_LAKE = "trusted_lake"


def allowed_lake_roots(environ=None) -> list[Path]:
    """Folders a lake from a parameter file or a notebook must lie under, resolved.

    The project root and every folder of ``$QUANT_DATA_ROOTS`` (colon-separated; empty
    entries are ignored).
    """
    env = os.environ if environ is None else environ
    extra = [Path(p).expanduser() for p in env.get(DATA_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    return [project_root().resolve(), *(p.resolve() for p in extra)]


def _lake_is_allowed(lake: str) -> bool:
    path = Path(lake).expanduser()
    # Relative lakes are relative to the project root (the kernel's working directory);
    # resolve() folds '..' and symlinks so neither can step outside.
    resolved = (path if path.is_absolute() else project_root() / path).resolve()
    return any(resolved.is_relative_to(root) for root in allowed_lake_roots())


def known_companies() -> list[str]:
    """Slugs of the company profiles under ``parameters/companies/``, sorted."""
    return sorted(p.stem for p in (project_root() / "parameters" / "companies").glob("*.yaml"))


class ParameterError(QuantError, ValueError):
    """Invalid notebook parameters; ``problems`` holds one ``"field: message"`` line each.

    Parameters
    ----------
    problems : list of str
        Every problem found (not just the first), so one run fixes them all.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class NotebookParameters(BaseModel):
    """Parameters every company report shares; notebooks subclass it.

    Attributes
    ----------
    company : str
        Profile slug; ``parameters/companies/<company>.yaml`` must exist.
    lake : str or None
        Lake root; defaults to ``data/demo/<company>/lake`` (relative to the project root).
    as_of : date or None
        Reporting date; ``None`` means the latest date in the data.
    """

    # An unknown key is almost always a typo: reject it rather than ignore it silently.
    model_config = ConfigDict(extra="forbid")

    company: str
    lake: str | None = None
    as_of: date | None = None

    @field_validator("company")
    @classmethod
    def _company_exists(cls, value: str) -> str:
        if not _SLUG_RE.match(value):
            # Checked before the file lookup: '../x' or '/abs' would otherwise reach the file
            # system here and become a path outside reports/ later.
            raise PydanticCustomError(
                "company_not_a_slug", "'{company}' is not a company slug (lower-case letters, digits, '_', '-')",
                {"company": value},
            )
        if not (project_root() / "parameters" / "companies" / f"{value}.yaml").is_file():
            # A custom error type keeps pydantic's "Value error, " prefix out of the message.
            raise PydanticCustomError(
                "unknown_company", "unknown company '{company}'; known: {known}",
                {"company": value, "known": ", ".join(known_companies())},
            )
        return value

    @field_validator("lake")
    @classmethod
    def _lake_under_allowed_roots(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A lake typed on the command line is the user's own choice; one that arrives from a
        # parameter file or a notebook must stay inside the project or a declared data root.
        if value is None or (info.context or {}).get(TRUSTED_LAKE):
            return value
        if not _lake_is_allowed(value):
            raise PydanticCustomError(
                "lake_outside_roots",
                "'{lake}' is outside the project root and ${env}; pass it on the command line "
                "(-p lake=...) or add its folder to ${env}",
                {"lake": value, "env": DATA_ROOTS_ENV},
            )
        return value

    @model_validator(mode="after")
    def _default_lake(self) -> "NotebookParameters":
        if self.lake is None:
            self.lake = f"data/demo/{self.company}/lake"
        return self


M = TypeVar("M", bound=type[BaseModel])
_REGISTRY: dict[str, type[BaseModel]] = {}


def register_parameters(notebook_stem: str, model: M | None = None) -> M | Callable[[M], M]:
    """Register ``model`` as the parameters of notebooks named ``<notebook_stem>.ipynb``.

    Usable directly (``register_parameters("mbr", MBRParameters)``) or as a class decorator
    (``@register_parameters("mbr")``).
    """
    def decorate(cls: M) -> M:
        _REGISTRY[notebook_stem] = cls
        return cls

    return decorate(model) if model is not None else decorate


def _notebook_metadata_model(notebook_path: Path) -> type[BaseModel] | None:
    # A notebook may name its model in metadata ("quant": {"parameters": "pkg.mod:Class"}), so
    # the model is found without anyone having imported the module that registers it.
    nb = nbformat.read(notebook_path, as_version=4)
    ref = nb.metadata.get("quant", {}).get("parameters")
    if not ref:
        return None
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _model_from_cell(notebook_path: Path) -> type[BaseModel]:
    # An analyst's draft has no model yet: its own parameters cell is the contract (names and
    # the types of the defaults), still with unknown keys rejected.
    defaults = parameters_cell(notebook_path)
    base_fields = NotebookParameters.model_fields
    fields: dict[str, Any] = {}
    for name, default in defaults.items():
        if name in base_fields:
            continue
        kind = Any if default is None else type(default)
        fields[name] = (kind | None if default is None else kind, default)
    base = NotebookParameters if "company" in defaults else BaseModel
    model = create_model(f"{notebook_path.stem}_parameters", __base__=base, **fields)
    if base is BaseModel:
        model.model_config["extra"] = "forbid"
        model.model_rebuild(force=True)
    return model


def parameters_model(notebook_path: str | Path) -> type[BaseModel]:
    """The parameters model of a notebook.

    Looked up by file stem in the registry, then in the notebook's ``quant.parameters``
    metadata (``"module:Class"``); a notebook with neither gets a model derived from its
    ``parameters`` cell (a :class:`NotebookParameters` subclass when it has ``company``).
    """
    path = Path(notebook_path)
    model = _REGISTRY.get(path.stem) or _notebook_metadata_model(path)
    return model if model is not None else _model_from_cell(path)


def _format_errors(error: ValidationError) -> list[str]:
    return validation_problems(error, root="parameters", unknown="unknown parameter")


def validate_parameters(notebook_path: str | Path, values: dict[str, Any], *,
                        trusted_lake: bool = False) -> dict[str, Any]:
    """Validate ``values`` against the notebook's model; return JSON-able values.

    Parameters
    ----------
    notebook_path : path-like
    values : dict
        Parameter values (from files, the command line, a job spec).
    trusted_lake : bool
        ``True`` when ``values["lake"]`` was given by the person running the command (``quant
        run -p lake=...``): it may then be anywhere. Otherwise a ``lake`` must resolve under
        the project root or a folder of ``$QUANT_DATA_ROOTS``.

    Returns
    -------
    dict
        Every field of the model (defaults filled in), dates as ISO strings: exactly what
        papermill injects and what a run record stores.

    Raises
    ------
    ParameterError
        Listing every problem as ``"field: message"``.
    """
    model = parameters_model(notebook_path)
    try:
        return model.model_validate(values, context={TRUSTED_LAKE: trusted_lake}).model_dump(mode="json")
    except ValidationError as exc:
        raise ParameterError(_format_errors(exc)) from None


#: What ``quant apps`` sets for every app (Voila cannot inject notebook parameters).
APP_ENVIRONMENT = {"company": "QUANT_COMPANY", "lake": "QUANT_LAKE", "as_of": "QUANT_AS_OF"}


def app_parameters(model: type[BaseModel], values: dict[str, Any], environ=None, prefix: str | None = None):
    """Validate a Voila app's parameters, the environment winning over the notebook's values.

    Parameters
    ----------
    model : NotebookParameters subclass
        The app's parameter model.
    values : dict
        The notebook's values (``company``, ``lake``, ``as_of`` and the model's own fields).
    environ : mapping, optional
        Default ``os.environ``. :data:`APP_ENVIRONMENT` overrides ``company`` / ``lake`` /
        ``as_of``; with ``prefix``, ``<prefix><FIELD>`` overrides any other field.

    Returns
    -------
    (model instance, Path)
        The validated parameters and the lake root, absolute (relative lakes are under the
        project root).

    Raises
    ------
    ParameterError
        Every problem as ``"field: message"``, in one line each.
    """
    env = os.environ if environ is None else environ
    merged = dict(values)
    for field, variable in APP_ENVIRONMENT.items():
        merged[field] = env.get(variable) or merged.get(field)
    if prefix:
        for field in model.model_fields:
            if env.get(prefix + field.upper()):
                merged[field] = env[prefix + field.upper()]
    trusted = bool(env.get(APP_ENVIRONMENT["lake"]))
    try:
        params = model.model_validate(merged, context={TRUSTED_LAKE: trusted})
    except ValidationError as error:
        raise ParameterError([f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]) from None
    root = Path(params.lake)
    return params, root if root.is_absolute() else project_root() / root


def load_parameter_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML parameter file (a mapping; an empty file is ``{}``)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError([f"{path}: expected a mapping of parameter names to values"])
    return data


def parameters_cell(notebook_path: str | Path) -> dict[str, Any]:
    """The ``{name: default}`` assignments of the cell tagged ``parameters``.

    Parsed with :mod:`ast` (never executed); every default must be a literal.
    """
    nb = nbformat.read(Path(notebook_path), as_version=4)
    cells = [c for c in nb.cells if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ParameterError([f"{Path(notebook_path).name}: no cell tagged 'parameters'"])
    defaults: dict[str, Any] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            defaults[target.id] = ast.literal_eval(value)
        except ValueError:
            raise ParameterError([f"{target.id}: default is not a literal ({ast.unparse(value)})"]) from None
    return defaults


def check_parameters_cell(notebook_path: str | Path) -> None:
    """Assert the notebook's ``parameters`` cell mirrors its model.

    Same names; where the model has a default the cell's default equals it (compared as
    JSON, so ``as_of = None`` matches ``as_of: date | None = None``); the cell's defaults
    validate. Meant for a one-line test per published notebook.
    """
    cell = parameters_cell(notebook_path)
    model = parameters_model(notebook_path)
    problems = []
    fields = model.model_fields
    for name in sorted(set(fields) - set(cell)):
        problems.append(f"{name}: in the model but not in the parameters cell")
    for name in sorted(set(cell) - set(fields)):
        problems.append(f"{name}: in the parameters cell but not in the model")
    for name in sorted(set(cell) & set(fields)):
        info = fields[name]
        if info.is_required():
            continue
        model_default = json.loads(json.dumps(info.get_default(call_default_factory=True), default=str))
        if model_default != cell[name]:
            problems.append(f"{name}: cell default {cell[name]!r} != model default {model_default!r}")
    if not problems:
        try:
            validate_parameters(notebook_path, cell)
        except ParameterError as exc:
            problems.extend(exc.problems)
    if problems:  # an explicit raise: still checked under python -O
        raise AssertionError(f"{Path(notebook_path).name}: " + "; ".join(problems))
