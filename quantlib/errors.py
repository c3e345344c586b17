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

__all__ = ["DropReason", "QuantError", "WarehouseNotFoundError"]


class QuantError(Exception):
    """Base class of every exception raised by ``quantlib``."""


class WarehouseNotFoundError(QuantError, FileNotFoundError):
    """No gold warehouse where one was expected (build it with ``quant warehouse build``)."""


class DropReason(str, Enum):
    """Why a planner left a job out: the code next to the human ``reason`` of a dropped job.

    Daily routing and re-routing (:mod:`quantlib.ops.routing`, :mod:`quantlib.ops.reroute`) and
    weekly scheduling (:mod:`quantlib.ops.weekly`) each set one; reports count dropped jobs by it.
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
