"""Job specs: the YAML files under ``scheduled/`` that say what runs when.

A spec names one notebook, one or more parameter files (one run per file, i.e. per
company), a cron schedule, the outputs to render, who receives them, and how failures are
retried. Example::

    name: monthly_business_review
    title: Monthly business review
    notebook: notebooks/monthly_business_review.ipynb
    parameters:
      - parameters/reports/mixed_trades.yaml
      - parameters/reports/seasonal_outdoor.yaml
    cron: "0 7 * * 1#1"          # first Monday of the month, 07:00
    timezone: UTC
    outputs: [html, pdf, ipynb]
    recipients:
      emails: [owner@example.com]
      slack_webhook_env: QUANT_SLACK_WEBHOOK_EXEC   # the NAME of an environment variable
    retries: {count: 2, backoff: 60, exponential: true, max_backoff: 3600, jitter: 0.1}
    timeout: 900                 # seconds for a whole attempt: kernel, every cell, rendering
    cell_timeout: 600            # seconds for one cell (default: timeout)
    retention: {keep_last: 30}   # published runs kept per company

Cron note: in classic cron, a restricted day-of-month *and* a restricted day-of-week match
when EITHER matches, so ``0 7 1-7 * 1`` fires on days 1-7 *and* on every Monday. Such an
expression is rejected unless ``day_match`` says which meaning is wanted (``and`` gives
"a Monday within days 1-7"); ``0 7 * * 1#1`` (croniter's n-th weekday) is the plain way.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quantlib.config import load_yaml_model
from quantlib.errors import QuantError

__all__ = [
    "JobSpec",
    "Recipients",
    "Retention",
    "Retries",
    "SpecError",
    "load_spec",
    "load_specs",
]

OutputKind = Literal["html", "pdf", "ipynb"]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Deliberately simple: a full RFC 5322 check buys nothing here; the SMTP server is the judge.
_EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")



def check_timezone(value: str) -> str:
    """``value`` if it names an IANA time zone, else ``ValueError`` (for pydantic validators)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value

class SpecError(QuantError, ValueError):
    """A job spec that cannot be loaded; the message names the file and every problem."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retries(_Model):
    """How a failed run is retried.

    Attributes
    ----------
    count : int
        Retries after the first attempt (``0``: one attempt only).
    backoff : float
        Seconds to wait before the first retry.
    exponential : bool
        Double the wait after every further failure.
    max_backoff : float
        No wait is longer than this (seconds; default one hour).
    jitter : float
        Each wait is multiplied by a random factor in ``[1 - jitter, 1 + jitter]`` (then
        capped), so runs that failed together do not retry in lock-step.
    """

    count: int = Field(2, ge=0, le=20)
    backoff: float = Field(60.0, ge=0)
    exponential: bool = True
    max_backoff: float = Field(3600.0, ge=0)
    jitter: float = Field(0.1, ge=0, le=1)

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` (1-based) failed.

        Parameters
        ----------
        failed_attempt : int
        rng : random.Random, optional
            Source of the jitter (default: the ``random`` module).
        """
        base = self.backoff * 2 ** min(failed_attempt - 1, 64) if self.exponential else self.backoff
        base = min(base, self.max_backoff)
        if self.jitter:
            base *= 1 + (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, min(base, self.max_backoff))


class Retention(_Model):
    """How many published runs of a job are kept per company.

    Attributes
    ----------
    keep_last : int
        The newest ``keep_last`` runs stay; older ones are deleted after each publish.
    """

    keep_last: int = Field(30, ge=1)


class Recipients(_Model):
    """Who receives a run's output (and its failure alerts).

    Attributes
    ----------
    emails : list of str
        E-mail addresses; the PDF is attached and the HTML linked.
    slack_webhook_env : str or None
        NAME of the environment variable holding the Slack incoming-webhook URL. The URL
        itself is a secret and never belongs in a spec file.
    """

    emails: list[str] = Field(default_factory=list)
    slack_webhook_env: str | None = None

    @field_validator("emails")
    @classmethod
    def _check_emails(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _EMAIL_RE.match(v)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(map(repr, bad))}")
        return value

    @field_validator("slack_webhook_env")
    @classmethod
    def _check_env_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "://" in value:
            # Catch the easy mistake that would commit a secret to git.
            raise ValueError("give the NAME of an environment variable holding the webhook URL, not the URL")
        if not _ENV_NAME_RE.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value


class JobSpec(_Model):
    """One scheduled job (see the module docstring for the YAML format).

    Paths (``notebook``, ``parameters``) are relative to the project root.
    """

    name: str
    title: str
    notebook: Path
    parameters: list[Path]
    cron: str
    day_match: Literal["and", "or"] | None = None
    timezone: str = "UTC"
    outputs: list[OutputKind] = Field(default_factory=lambda: ["html", "pdf"])
    recipients: Recipients = Field(default_factory=Recipients)
    retries: Retries = Field(default_factory=Retries)
    timeout: float = Field(900.0, gt=0)
    cell_timeout: float | None = Field(None, gt=0)
    retention: Retention = Field(default_factory=Retention)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        # The name becomes a folder under reports/ and a lock file name.
        if not _NAME_RE.match(value):
            raise ValueError("use lower-case letters, digits, '_' and '-' only")
        return value

    @field_validator("notebook")
    @classmethod
    def _check_notebook(cls, value: Path) -> Path:
        if value.is_absolute() or not value.parts or value.parts[0] != "notebooks" or ".." in value.parts:
            raise ValueError("must be a relative path under notebooks/")
        if value.suffix != ".ipynb":
            raise ValueError("must be a .ipynb file")
        return value

    @field_validator("parameters", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, (str, Path)) else value

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, value: list[Path]) -> list[Path]:
        if not value:
            raise ValueError("at least one parameter file is needed")
        if len(set(value)) != len(value):
            raise ValueError("a parameter file is listed twice")
        for p in value:
            if p.suffix not in {".yaml", ".yml"}:
                raise ValueError(f"{p}: parameter files are YAML")
        return value

    @field_validator("outputs")
    @classmethod
    def _check_outputs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one output is needed")
        if len(set(value)) != len(value):
            raise ValueError("an output is listed twice")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _check_cron(self) -> "JobSpec":
        fields = self.cron.split()
        if len(fields) != 5 or not croniter.is_valid(self.cron):
            raise ValueError(f"cron {self.cron!r} is not a valid 5-field cron expression")
        dom, dow = fields[2], fields[4]
        if dom not in {"*", "?"} and dow not in {"*", "?"} and self.day_match is None:
            raise ValueError(
                f"cron {self.cron!r} restricts both day-of-month and day-of-week, which cron reads as "
                "EITHER (e.g. days 1-7 AND every Monday). Set day_match: and (a Monday within days 1-7) "
                "or day_match: or, or write the first Monday as '0 7 * * 1#1'."
            )
        return self

    # -- schedule arithmetic -------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        """The time zone the cron expression is read in."""
        return ZoneInfo(self.timezone)

    def _localise(self, when: datetime) -> datetime:
        # Naive datetimes are taken as wall-clock time in the job's zone.
        return when.replace(tzinfo=self.tz) if when.tzinfo is None else when.astimezone(self.tz)

    def _iter(self, when: datetime) -> croniter:
        return croniter(self.cron, self._localise(when), day_or=self.day_match != "and")

    def next_run(self, after: datetime) -> datetime:
        """First scheduled time strictly after ``after`` (time-zone aware)."""
        return self._iter(after).get_next(datetime)

    def next_runs(self, after: datetime, n: int) -> list[datetime]:
        """The next ``n`` scheduled times after ``after``."""
        it = self._iter(after)
        return [it.get_next(datetime) for _ in range(n)]

    def previous_run(self, now: datetime) -> datetime:
        """Most recent scheduled time at or before ``now``."""
        # get_prev is strict, so nudge forward: a job scheduled for exactly ``now`` is due now.
        return self._iter(now + timedelta(microseconds=1)).get_prev(datetime)

    @property
    def companies(self) -> list[str]:
        """Company names by parameter-file stem (the file's ``company`` key decides at run time)."""
        return [p.stem for p in self.parameters]


def load_spec(path: str | Path) -> JobSpec:
    """Load and validate one job spec.

    Parameters
    ----------
    path : path-like
        The YAML file.

    Returns
    -------
    JobSpec

    Raises
    ------
    SpecError
        If the file cannot be read or parsed, or breaks a rule; every problem is listed.
    """
    return load_yaml_model(path, JobSpec, "job spec", error=SpecError)


def load_specs(directory: str | Path) -> dict[str, JobSpec]:
    """Load every ``*.yaml`` / ``*.yml`` spec in ``directory``, keyed by job name.

    Raises
    ------
    SpecError
        If any spec is invalid (all problems of all files are reported together) or two
        specs share a name.
    """
    directory = Path(directory)
    specs: dict[str, JobSpec] = {}
    errors: list[str] = []
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for f in files:
        try:
            spec = load_spec(f)
        except SpecError as exc:
            errors.append(str(exc))
            continue
        if spec.name in specs:
            errors.append(f"{f}: job name {spec.name!r} is used by another spec")
            continue
        specs[spec.name] = spec
    if errors:
        raise SpecError("\n".join(errors))
    return specs
