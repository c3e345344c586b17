"""Saved charts and dashboards, shared by team: YAML under ``parameters/dashboards/``.

A chart built in the ``chart_builder`` app is saved as its :class:`~quantlib.viz.builder.ChartSpec`
plus who may see and change it (:class:`SavedChart`), one file per chart in
``parameters/dashboards/charts/<name>.yaml``; reopening the file draws the same chart. A dashboard
(:class:`SavedDashboard`, ``parameters/dashboards/<name>.yaml``) places saved charts in order.
Both are plain YAML a team can review in version control, kept apart from code.

Who may see or change what (team-specific views):

* the owner, always;
* members of the item's ``team`` and of the teams in ``viewers`` see it;
* members of the teams in ``editors`` (and the owner) change or delete it.

Teams and their members are ``parameters/teams.yaml`` (:func:`load_teams`):

.. code-block:: yaml

    teams:
      operations: [ana, ben]
      finance: [cy]

``$QUANT_DASHBOARDS_DIR`` and ``$QUANT_TEAMS`` move the folder and the file (tests, other
installations).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quantlib.errors import QuantError
from quantlib.viz.builder import ChartSpec

__all__ = ["SavedChart", "SavedDashboard", "SharingError", "dashboards_dir", "list_charts", "list_dashboards",
           "load_chart",
           "load_dashboard", "load_teams", "save_chart", "save_dashboard"]

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class SharingError(QuantError, PermissionError):
    """A user may not see or change a saved chart or dashboard; the message says who may."""


class _Shared(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    owner: str
    team: str | None = None
    viewers: list[str] = Field(default_factory=list)
    editors: list[str] = Field(default_factory=list)
    updated_at: str = ""
    updated_by: str = ""

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r}: lower-case letters, digits, '-' and '_', at most 64")
        return value

    def can_view(self, user: str, teams: Mapping[str, set[str]]) -> bool:
        """Whether ``user`` (a member of the teams in ``teams``) sees this item."""
        mine = _teams_of(user, teams)
        return user == self.owner or bool(mine & {self.team, *self.viewers, *self.editors})

    def can_edit(self, user: str, teams: Mapping[str, set[str]]) -> bool:
        """Whether ``user`` may change or delete this item."""
        return user == self.owner or bool(_teams_of(user, teams) & set(self.editors))


class SavedChart(_Shared):
    """A saved chart: its spec and its sharing."""

    spec: ChartSpec


class SavedDashboard(_Shared):
    """A dashboard of saved charts, in order."""

    title: str = ""
    charts: list[str] = Field(default_factory=list)


def _teams_of(user: str, teams: Mapping[str, set[str]]) -> set[str]:
    return {team for team, members in teams.items() if user in members}


def dashboards_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$QUANT_DASHBOARDS_DIR``, else ``parameters/dashboards`` under the project root."""
    from quantlib.config import project_root

    env = os.environ if environ is None else environ
    return Path(env.get("QUANT_DASHBOARDS_DIR") or project_root() / "parameters" / "dashboards")


def load_teams(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> dict[str, set[str]]:
    """Teams and their members from ``parameters/teams.yaml`` (``$QUANT_TEAMS``); none when there is no file.

    Raises
    ------
    ValueError
        A malformed file, naming it and the entry (:func:`quantlib.identity.load_directory`).
    """
    from quantlib.identity import load_directory

    return load_directory(path, environ).teams


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write(item: _Shared, path: Path, user: str, teams: Mapping[str, set[str]]) -> Path:
    if path.exists():
        current = type(item).model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        if not current.can_edit(user, teams):
            raise SharingError(f"{user} may not change {current.name!r}: its owner {current.owner} and members of "
                               f"{', '.join(current.editors) or 'no team'} may")
        item = item.model_copy(update={"owner": current.owner})
    item = item.model_copy(update={"updated_at": _now(), "updated_by": user})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(item.model_dump(mode="json"), sort_keys=False, allow_unicode=True),
                   encoding="utf-8")
    tmp.replace(path)
    return path


def _read(model, path: Path, user: str | None, teams: Mapping[str, set[str]]):
    if not path.is_file():
        raise FileNotFoundError(f"no saved {model.__name__.removeprefix('Saved').lower()} at {path}")
    item = model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    if user is not None and not item.can_view(user, teams):
        shared = ", ".join(dict.fromkeys(x for x in [item.team, *item.viewers, *item.editors] if x)) or "nobody"
        raise SharingError(f"{user} may not see {item.name!r}: it is shared with {shared}")
    return item


def save_chart(chart: SavedChart, user: str, teams: Mapping[str, set[str]] | None = None,
               folder: Path | None = None) -> Path:
    """Write ``chart`` as ``<folder>/charts/<name>.yaml``; an existing one only if ``user`` may change it."""
    folder = folder or dashboards_dir()
    return _write(chart, folder / "charts" / f"{chart.name}.yaml", user, teams or {})


def load_chart(name: str, user: str | None = None, teams: Mapping[str, set[str]] | None = None,
               folder: Path | None = None) -> SavedChart:
    """The saved chart ``name``; with ``user``, only if they may see it (:class:`SharingError`)."""
    return _read(SavedChart, (folder or dashboards_dir()) / "charts" / f"{name}.yaml", user, teams or {})


def list_charts(user: str | None, teams: Mapping[str, set[str]] | None = None,
                folder: Path | None = None) -> list[SavedChart]:
    """The saved charts ``user`` may see (every one with ``user=None``: one-person use), by name."""
    found = []
    for path in sorted(((folder or dashboards_dir()) / "charts").glob("*.yaml")):
        chart = SavedChart.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        if user is None or chart.can_view(user, teams or {}):
            found.append(chart)
    return found


def save_dashboard(dashboard: SavedDashboard, user: str, teams: Mapping[str, set[str]] | None = None,
                   folder: Path | None = None) -> Path:
    """Write ``dashboard`` as ``<folder>/<name>.yaml`` (its charts must exist and be visible to ``user``)."""
    folder = folder or dashboards_dir()
    for name in dashboard.charts:
        load_chart(name, user, teams, folder)
    return _write(dashboard, folder / f"{dashboard.name}.yaml", user, teams or {})


def load_dashboard(name: str, user: str | None = None, teams: Mapping[str, set[str]] | None = None,
                   folder: Path | None = None) -> SavedDashboard:
    """The saved dashboard ``name``; with ``user``, only if they may see it."""
    return _read(SavedDashboard, (folder or dashboards_dir()) / f"{name}.yaml", user, teams or {})


def list_dashboards(user: str | None, teams: Mapping[str, set[str]] | None = None,
                    folder: Path | None = None) -> list[SavedDashboard]:
    """The saved dashboards ``user`` may see (every one with ``user=None``), by name."""
    found = []
    for path in sorted((folder or dashboards_dir()).glob("*.yaml")):
        board = SavedDashboard.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        if user is None or board.can_view(user, teams or {}):
            found.append(board)
    return found
