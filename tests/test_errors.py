"""One root for every error Quant raises: ``quantlib.errors.QuantError``."""

import importlib
import inspect
import pkgutil

import pytest

import quantlib
from quantlib.errors import QuantError


def _quantlib_modules():
    """Import every module under ``quantlib``; ``__main__`` modules run the CLI, so they are skipped."""
    modules = []
    for info in pkgutil.walk_packages(quantlib.__path__, prefix="quantlib."):
        if info.name.rpartition(".")[2] == "__main__":
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _exception_classes():
    """Every Exception subclass *defined* in quantlib (re-exports counted once, where defined)."""
    found = {}
    for module in _quantlib_modules():
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Exception) and obj.__module__.startswith("quantlib"):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_the_walk_finds_the_known_errors():
    # Guards the test below against passing vacuously (e.g. a walk that imports nothing).
    names = set(_exception_classes())
    assert {"quantlib.errors.WarehouseNotFoundError", "quantlib.schedule.specs.SpecError",
            "quantlib.kpi.registry.KpiUnavailable"} <= names


def test_every_quantlib_exception_derives_from_quant_error():
    outside = sorted(name for name, cls in _exception_classes().items() if not issubclass(cls, QuantError))
    assert outside == [], f"exception classes not derived from QuantError: {outside}"


@pytest.mark.parametrize("path, builtin", [
    ("quantlib.publish.render.RenderError", RuntimeError),
    ("quantlib.publish.execute.NotebookExecutionError", RuntimeError),
    ("quantlib.cli.apps.AppsError", RuntimeError),
    ("quantlib.schedule.specs.SpecError", ValueError),
    ("quantlib.apps.signed_cache.CacheIntegrityError", ValueError),
    ("quantlib.parameters.ParameterError", ValueError),
])
def test_built_in_base_is_kept(path, builtin):
    # Callers that catch the built-in (``except ValueError``) must keep working.
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, QuantError) and issubclass(cls, builtin)
