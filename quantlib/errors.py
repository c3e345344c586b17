"""The root of every error Quant raises, and the reason codes that go with them.

Every exception class in ``quantlib`` derives from :class:`QuantError`, so a caller (the CLI,
the scheduler, an app) can catch "anything Quant refused" in one ``except``. Each class keeps
the built-in base it had (``ValueError``, ``RuntimeError``, ...) as a second base, so code that
catches the built-in keeps working. Anchor: papermill's ``PapermillException`` root.

Where a report or a test needs to count or branch on *why* something happened (a dropped job,
a rejected row, a run's status), the reason is an enum member next to the human message,
never a prose string split on ``':'``. Anchor: pandera's ``SchemaErrorReason``.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["AlertEvent", "AlertLevel", "AlertState", "DropReason", "MoveReason", "QuantError", "RejectReason",
           "RelaxReason", "RunStatus", "WarehouseNotFoundError"]


class QuantError(Exception):
    """Base class of every exception raised by ``quantlib``."""


class WarehouseNotFoundError(QuantError, FileNotFoundError):
    """No gold warehouse where one was expected (build it with ``quant warehouse build``)."""


class _Code(str, Enum):
    """A reason or status code: prints as its value (plain Enum gives "RunStatus.SUCCESS";
    messages, logs and tables want "success")."""

    def __str__(self) -> str:
        return self.value


class RejectReason(_Code):
    """Why a row was rejected: the ``reason_code`` next to the human ``reason`` of a reject.

    Set on every row of ``lake.rejects`` by :func:`quantlib.data.ingest.ingest` and on every
    failure of :func:`quantlib.data.contracts.schema_failures` and
    :func:`~quantlib.data.contracts.check_relations`. Members compare equal to their string
    value, which is what the rejects table stores.
    """

    RAGGED_ROW = "ragged_row"
    """A CSV record with more or fewer fields than the header."""
    BAD_TYPE = "bad_type"
    """Not readable as the column's type (a number, a whole number, true/false)."""
    BAD_DATE = "bad_date"
    """Not readable as a date, or a date outside the years 1678-2261."""
    MISSING_REQUIRED = "missing_required"
    """No value where the contract needs one (always, or given the row's status)."""
    NOT_ALLOWED = "not_allowed"
    """A value outside the column's allowed set (an unknown category)."""
    OUT_OF_RANGE = "out_of_range"
    """A number outside the column's bounds."""
    BAD_FORMAT = "bad_format"
    """Text of the wrong shape: a pattern not matched, a length out of bounds."""
    DUPLICATE_KEY = "duplicate_key"
    """The row's key occurs more than once in the file."""
    UNKNOWN_REFERENCE = "unknown_reference"
    """A foreign key not found in the table it refers to."""
    DATE_ORDER = "date_order"
    """A date before the date it must follow, in the row or in the row it refers to."""
    RULE_VIOLATION = "rule_violation"
    """Any other contract check the row fails."""
    MISSING_COLUMN = "missing_column"
    """A required column absent from the whole frame; a file-level failure, so ingest
    reports the file unusable and never writes it to the rejects table."""


class RunStatus(_Code):
    """How a scheduled run (or one attempt of it) stands.

    A ``str`` enum: each member equals its value (``RunStatus.SUCCESS == "success"``), so the run
    history stores the same strings as before and old history files and ``run.json`` records
    still read. ``str()`` and f-strings give the value too.

    Attributes
    ----------
    RUNNING
        An attempt has started and not yet finished.
    SUCCESS
        Published.
    FAILED
        The last attempt failed (or the parameters were invalid, or the run was interrupted).
    RETRYING
        An attempt failed and another one follows.
    SKIPPED
        Not run: another run of the same job and company held the lock.
    DRY_RUN
        Only described, never run; an outcome status, never written to the history.
    """

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    RETRYING = "retrying"
    SKIPPED = "skipped"
    DRY_RUN = "dry-run"


class AlertLevel(_Code):
    """How serious an alert is (:mod:`quantlib.alerts`); members order by severity.

    The spec's routing: ``INFO`` goes to the dashboard and the daily digest, ``WARNING`` to
    e-mail at once, ``CRITICAL`` to e-mail, SMS and a phone call at once, escalated to the
    management team when nobody acknowledges it in time.
    """

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for critical."""
        return _LEVEL_RANK[self.value]


_LEVEL_RANK = {"info": 0, "warning": 1, "critical": 2}


class AlertState(_Code):
    """Where an alert stands: open until acknowledged, snoozed (until a time) or resolved."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class AlertEvent(_Code):
    """What a row of the alert history records."""

    #: The rule started breaching for this subject.
    OPENED = "opened"
    #: Still breaching at the same level: value, count and last-seen time updated (no new message).
    UPDATED = "updated"
    #: Still breaching at another level (a new message when it went up).
    LEVEL_CHANGED = "level_changed"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    #: The snooze ran out while the rule still breached: open again.
    UNSNOOZED = "unsnoozed"
    #: Resolved by hand (``quant alerts resolve``) or because the rule stopped breaching.
    RESOLVED = "resolved"
    #: A critical alert not acknowledged in time was sent to the management team.
    ESCALATED = "escalated"
    #: A message went out on a channel (``detail`` names the channel and recipients).
    NOTIFIED = "notified"
    #: A channel without credentials was skipped (``detail`` says which variable is missing).
    SKIPPED = "skipped"
    #: A channel failed (``detail`` is the redacted one-line error); the next check retries.
    FAILED = "failed"
    #: Held back by quiet hours (non-critical levels); sent when they end.
    DEFERRED = "deferred"
    #: Included in a digest.
    DIGESTED = "digested"


class DropReason(str, Enum):
    """Why a planner left a job out: the code next to the human ``reason`` of a dropped job.

    Daily routing and re-routing (:mod:`quantlib.ops.routing`, :mod:`quantlib.ops.reroute`) and
    weekly scheduling (:mod:`quantlib.ops.weekly`) each set one, as does the maintenance schedule
    (:func:`quantlib.maintenance.policy.fleet_schedule`); reports count dropped jobs by it.
    """

    #: No technician has the job's skill(s) (routing: or the technician it is pinned to lacks them).
    NO_SKILLED_TECHNICIAN = "no_skilled_technician"
    #: Routing: no skilled technician's van carries the equipment it needs.
    MISSING_EQUIPMENT = "missing_equipment"
    #: Routing: its hard window closes before any skilled technician can arrive.
    WINDOW_UNREACHABLE = "window_unreachable"
    #: Routing: no skilled technician can do it and get home before shift + overtime end.
    OUTSIDE_SHIFT = "outside_shift"
    #: Qualified technicians could serve it, but their day (routing) or week (weekly) is full.
    CAPACITY = "capacity"
    #: Routing: the solver found no feasible plan at all.
    NO_FEASIBLE_PLAN = "no_feasible_plan"
    #: Weekly: no technician with the skill has the certification level it needs.
    NO_CERTIFIED_TECHNICIAN = "no_certified_technician"
    #: Weekly: its hours plus travel exceed the daily maximum for every qualified technician.
    EXCEEDS_DAILY_HOURS = "exceeds_daily_hours"
    #: Weekly: no qualified technician is available on the days it may be done.
    NO_AVAILABLE_DAY = "no_available_day"
    #: Weekly: the technicians with hours left would break the days-a-week or days-in-a-row rule.
    REST_RULES = "rest_rules"
    #: Weekly: CP-SAT stopped at its time limit with the job out although someone had room.
    TIME_LIMIT = "time_limit"
    #: Weekly: the optimal plan leaves it out for better-scoring jobs.
    OUTSCORED = "outscored"
    #: Weekly: the greedy baseline's order left it out although someone had room.
    GREEDY_ORDER = "greedy_order"
    #: Maintenance schedule: the unit's equipment kind has too few failures for a life model.
    KIND_NOT_FITTED = "kind_not_fitted"
    #: Maintenance schedule: one intervention needs more technician hours than any week has.
    EXCEEDS_WEEKLY_CAPACITY = "exceeds_weekly_capacity"


class MoveReason(_Code):
    """Why a re-plan moved a job to another technician: the code next to the human ``reason``.

    Set by :func:`quantlib.ops.reroute.reroute` on every ``moved`` row of its changes; the
    dispatch board and reports count moved jobs by it.
    """

    #: The technician it was with went home sick.
    TECHNICIAN_SICK = "technician_sick"
    #: The dispatcher locked it to the technician it moved to.
    LOCKED = "locked"
    #: Its technician's route now serves an emergency (a new job) in its place.
    MADE_ROOM_FOR_EMERGENCY = "made_room_for_emergency"
    #: Its technician was delayed and the rest of their day no longer holds it.
    TECHNICIAN_DELAYED = "technician_delayed"
    #: No order of its technician's new route fits it any more (windows, shift, break).
    NO_ROOM = "no_room"
    #: The plan with the move costs less, the move cost included.
    CHEAPER = "cheaper"


class RelaxReason(_Code):
    """Why a planner relaxed one of the rules it was given: the code next to the human ``reason``.

    Set by :func:`quantlib.ops.reroute.reroute` on every :class:`~quantlib.ops.plan.Relaxation`
    of a re-plan (``RoutePlan.relaxations``). :meth:`~quantlib.ops.plan.RoutePlan.validate`
    checks the plan against the rules as given, and each violation a relaxation explains
    carries its code; the dispatch board lists them as "rules relaxed".
    """

    #: The lunch window closed before the re-plan with no break taken: lunch is owed from now on.
    BREAK_WINDOW_PASSED = "break_window_passed"
    #: The job under way runs past the end of the lunch window: lunch comes right after it.
    BREAK_AFTER_STARTED_JOB = "break_after_started_job"
    #: A job under way started outside its time window: the re-plan keeps its actual start.
    STARTED_OUTSIDE_WINDOW = "started_outside_window"
    #: The technician a job was locked to has gone home: the lock is released.
    LOCKED_TECHNICIAN_GONE = "locked_technician_gone"

