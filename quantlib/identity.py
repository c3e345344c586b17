"""Members, teams and their tokens: ``parameters/teams.yaml``.

.. code-block:: yaml

    teams:
      operations: [ana, ben]
      finance: [cy]
    members:                 # each member's token, stored as its SHA-256 only
      ana: {token_sha256: 9f86d081884c7d65...}
    scopes:                  # optional: what a team may read through the API (absent: everything)
      finance: [kpis, marts, forecasts, charts]
    apps:                    # optional: the apps of notebooks/apps/ a team's members may open
      finance: [executive_dashboard, chart_builder]   # (absent: every app)

``quant token NAME`` makes a token and prints it once with the line to paste under
``members``; the file never holds a token itself. The read API (``quant api``) accepts a member's
token and limits the member to their teams' scopes and to the saved charts shared with them; a
single shared token (``QUANT_API_TOKEN``) keeps working for one-person use. ``$QUANT_TEAMS``
names another file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["SCOPES", "Directory", "hash_token", "load_directory", "new_token"]

#: What the API's routes are grouped into, for team scopes.
SCOPES = ("kpis", "marts", "forecasts", "runs", "alerts", "annotations", "charts")


def hash_token(token: str) -> str:
    """The SHA-256 (hex) a token is stored as."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A new random token (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Directory:
    """Who is who: teams and members, token hashes, team scopes."""

    teams: dict[str, set[str]] = field(default_factory=dict)
    token_hashes: dict[str, str] = field(default_factory=dict)  # member -> sha256
    scopes: dict[str, set[str]] | None = None
    apps: dict[str, set[str]] | None = None  # team -> app (notebook) names; None: every app

    def member_for(self, token: str) -> str | None:
        """The member whose token this is (compared in constant time), or None."""
        given = hash_token(token)
        found = None
        for member, digest in self.token_hashes.items():
            if hmac.compare_digest(given, digest):
                found = member
        return found

    def teams_of(self, member: str) -> set[str]:
        return {team for team, members in self.teams.items() if member in members}

    def may_open(self, member: str, app: str) -> bool:
        """Whether ``member`` may open app ``app`` (a notebook's name without ``.ipynb``)."""
        if self.apps is None:
            return True
        return any(app in self.apps.get(team, set()) for team in self.teams_of(member))

    def scopes_of(self, member: str) -> set[str]:
        """The API scopes of ``member``: every scope when the file sets none, else their teams' union."""
        if self.scopes is None:
            return set(SCOPES)
        return set().union(*(self.scopes.get(team, set()) for team in self.teams_of(member)))


def load_directory(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Directory:
    """The directory of ``parameters/teams.yaml`` (``$QUANT_TEAMS``); empty when there is no file.

    Raises
    ------
    ValueError
        A malformed file, naming it and what is wrong.
    """
    from quantlib.config import project_root

    env = os.environ if environ is None else environ
    path = Path(path or env.get("QUANT_TEAMS") or project_root() / "parameters" / "teams.yaml")
    if not path.is_file():
        return Directory()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    teams = data.get("teams", {})
    if not isinstance(teams, dict) or not all(isinstance(m, list) for m in teams.values()):
        raise ValueError(f"{path}: 'teams' must map each team to a list of member names")
    members = data.get("members", {}) or {}
    hashes = {}
    for member, entry in members.items():
        digest = (entry or {}).get("token_sha256") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError(f"{path}: members.{member}.token_sha256 must be the 64 hex digits 'quant token' prints")
        hashes[str(member)] = digest.lower()
    scopes = data.get("scopes")
    if scopes is not None:
        unknown = {s for granted in scopes.values() for s in granted} - set(SCOPES)
        if unknown:
            raise ValueError(f"{path}: unknown scope(s) {sorted(unknown)}; scopes are {', '.join(SCOPES)}")
        scopes = {str(team): set(granted) for team, granted in scopes.items()}
    apps = data.get("apps")
    if apps is not None:
        if not isinstance(apps, dict) or not all(isinstance(v, list) for v in apps.values()):
            raise ValueError(f"{path}: 'apps' must map each team to a list of app names")
        apps = {str(team): {str(a).removesuffix(".ipynb") for a in names} for team, names in apps.items()}
    return Directory({str(t): {str(m) for m in ms} for t, ms in teams.items()}, hashes, scopes, apps)
