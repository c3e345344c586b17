"""Events on the input topics and their validation against the data contracts.

An event is a JSON object: ``{"table", "event_time", "sent_at", "data"}`` where ``data`` is
one row of a contract table (``quantlib.data.contracts``), ``event_time`` the time it
happened (ISO 8601) and ``sent_at`` the producer's clock when it was sent (Unix seconds; the
benchmark's latency runs from it). The message key is the row's key column
(``parameters/streams.yaml``), so one job's, customer's or unit's events stay in order.

Validating a single event with the table's pandera schema costs milliseconds, so each
contract is compiled once into a pydantic model (pydantic-core validates in microseconds)
with the same types, allowed values, ranges and row rules; reasons for a failure are worded
as ingest words them (:func:`quantlib.data.contracts._column_reason`), with their codes. A
failed event is never dropped: it goes to the dead-letter topic with its reasons.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Literal, Optional

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from quantlib.data.contracts import TableContract, _column_reason, get_contract
from quantlib.errors import RejectReason

ENVELOPE_FIELDS = ("table", "event_time", "sent_at", "data")


@dataclass(frozen=True)
class Problem:
    """One reason an event failed: the field it is about, plain words and a reject code."""

    field: str
    reason: str
    code: str


@dataclass
class Checked:
    """The result of :meth:`EventValidator.check`: the row (typed) or the problems, never both."""

    table: str | None
    row: dict | None = None
    event_time: datetime | None = None
    sent_at: float | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _annotation(column) -> tuple[Any, dict]:
    """The pydantic type and Field constraints for one pandera column."""
    dtype = str(column.dtype)
    base: Any = {"datetime64[ns]": datetime, "float64": float, "int64": int, "Int64": int, "bool": bool}.get(dtype, str)
    constraints: dict[str, Any] = {}
    for check in column.checks:
        stats = check.statistics or {}
        if check.name == "isin":
            base = Literal[tuple(stats["allowed_values"])]
        elif check.name == "in_range":
            constraints["ge" if stats.get("include_min", True) else "gt"] = stats["min_value"]
            constraints["le" if stats.get("include_max", True) else "lt"] = stats["max_value"]
        elif check.name == "greater_than_or_equal_to":
            constraints["ge"] = stats["min_value"]
        elif check.name == "greater_than":
            constraints["gt"] = stats["min_value"]
        elif check.name == "str_length":
            if stats.get("min_value") is not None:
                constraints["min_length"] = stats["min_value"]
            if stats.get("max_value") is not None:
                constraints["max_length"] = stats["max_value"]
    return base, constraints


@lru_cache(maxsize=None)
def event_model(table: str) -> type[BaseModel]:
    """The pydantic model of one row of ``table``, compiled from its contract.

    Column checks the compiler does not know (a custom function) are applied by
    :class:`EventValidator` with pandera itself, so nothing the contract says is skipped.
    """
    contract = get_contract(table)
    fields = {}
    for name, column in contract.schema.columns.items():
        base, constraints = _annotation(column)
        if column.nullable:
            fields[name] = (Optional[base], Field(default=None, **constraints))
        else:
            fields[name] = (base, Field(**constraints))
    # Extra fields are kept (a source may send more than the contract needs); numbers read as
    # identifiers, as pandera's coercion does.
    config = ConfigDict(extra="allow", coerce_numbers_to_str=True)
    return create_model(f"{table}_event", __config__=config, **fields)


_KNOWN_CHECKS = {"isin", "in_range", "greater_than_or_equal_to", "greater_than", "str_length"}


class EventValidator:
    """Validate events against their tables' contracts, one at a time, in microseconds.

    Parameters
    ----------
    tables : iterable of str
        The tables whose events are accepted (others are problems: ``unknown table``).
    """

    def __init__(self, tables):
        self.tables = tuple(tables)

    def check(self, value: bytes | str | dict) -> Checked:
        """Parse and validate one event (the raw message value or its decoded object)."""
        if isinstance(value, (bytes, str)):
            try:
                value = json.loads(value)
            except (ValueError, UnicodeDecodeError) as exc:
                return Checked(None, problems=[Problem("", f"not JSON: {exc}", RejectReason.BAD_FORMAT.value)])
        if not isinstance(value, dict):
            return Checked(None, problems=[Problem("", "an event is a JSON object", RejectReason.BAD_FORMAT.value)])
        table = value.get("table")
        if table not in self.tables:
            return Checked(None, problems=[Problem("table", f"{table!r} is not one of {', '.join(self.tables)}",
                                                   RejectReason.NOT_ALLOWED.value)])
        data = value.get("data")
        if not isinstance(data, dict):
            return Checked(table, problems=[Problem("data", "missing the row (data)",
                                                    RejectReason.MISSING_REQUIRED.value)])
        problems = []
        event_time = _parse_time(value.get("event_time"))
        if event_time is None:
            problems.append(Problem("event_time", f"cannot read {value.get('event_time')!r} as a date",
                                    RejectReason.BAD_DATE.value))
        sent_at = value.get("sent_at")
        if sent_at is not None and not isinstance(sent_at, (int, float)):
            problems.append(Problem("sent_at", f"cannot read {sent_at!r} as a number", RejectReason.BAD_TYPE.value))
            sent_at = None
        contract = get_contract(table)
        try:
            row = event_model(table).model_validate(data).model_dump()
        except ValidationError as exc:
            return Checked(table, problems=problems + _problems(contract, data, exc))
        problems += _row_rules(contract, row) + _custom_checks(contract, row)
        if problems:
            return Checked(table, problems=problems)
        return Checked(table, row=row, event_time=event_time, sent_at=sent_at)


def _parse_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else parsed.astimezone(timezone.utc).replace(tzinfo=None)


_TYPE_WORDS = {datetime: ("a date", RejectReason.BAD_DATE), float: ("a number", RejectReason.BAD_TYPE),
               int: ("a whole number", RejectReason.BAD_TYPE), bool: ("true/false", RejectReason.BAD_TYPE)}


def _problems(contract: TableContract, data: dict, error: ValidationError) -> list[Problem]:
    """Ingest's words for pydantic's errors: missing, unreadable, or the contract check it breaks."""
    found = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        column = contract.schema.columns.get(name)
        value = data.get(name)
        if item["type"] == "missing" or (value is None and column is not None and not column.nullable):
            found.append(Problem(name, "missing value", RejectReason.MISSING_REQUIRED.value))
            continue
        broken = None
        if column is not None:
            base, _ = _annotation(column)
            for check in column.checks:
                try:
                    passed = bool(check(pd.Series([value])).check_passed)
                except Exception:  # noqa: BLE001 - a check that cannot run on the raw value is not the cause
                    passed = True
                if not passed:
                    broken = check
                    break
            if broken is None and base in _TYPE_WORDS:
                words, code = _TYPE_WORDS[base]
                found.append(Problem(name, f"cannot read {value!r} as {words}", code.value))
                continue
        if broken is not None:
            reason, code = _column_reason(column, broken.error or broken.name, value)
            found.append(Problem(name, reason, code.value))
        else:
            found.append(Problem(name, f"{item['msg']} (got {value!r})", RejectReason.RULE_VIOLATION.value))
    return found


def _row_rules(contract: TableContract, row: dict) -> list[Problem]:
    """The contract's rules over several columns (not-before, required-when), per event."""
    found = []
    for check in contract.schema.checks:
        stats = check.statistics or {}
        if stats.get("rule") == "not_before":
            later, earlier = row.get(stats["later"]), row.get(stats["earlier"])
            if later is not None and earlier is not None and later < earlier:
                found.append(Problem(stats["later"], f"{stats['later']} {later} is before {stats['earlier']} {earlier}",
                                     RejectReason.DATE_ORDER.value))
        elif stats.get("rule") == "required_when":
            if row.get(stats["condition_column"]) == stats["value"] and row.get(stats["column"]) is None:
                found.append(Problem(stats["column"], check.error or check.name, RejectReason.MISSING_REQUIRED.value))
    return found


def _custom_checks(contract: TableContract, row: dict) -> list[Problem]:
    """Column checks the model could not express, run by pandera on the one value."""
    found = []
    for name, column in contract.schema.columns.items():
        for check in column.checks:
            if check.name in _KNOWN_CHECKS or row.get(name) is None:
                continue
            if not bool(check(pd.Series([row[name]])).check_passed):
                reason, code = _column_reason(column, check.error or check.name, row[name])
                found.append(Problem(name, reason, code.value))
    return found


def _json_default(value):
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def encode_event(table: str, row: dict, event_time, sent_at: float | None = None) -> bytes:
    """One event as the bytes a producer sends (missing values as null)."""
    data = {key: (None if (isinstance(value, float) and math.isnan(value)) or value is pd.NaT else value)
            for key, value in row.items()}
    stamp = event_time.isoformat() if hasattr(event_time, "isoformat") else str(event_time)
    return json.dumps({"table": table, "event_time": stamp, "sent_at": time.time() if sent_at is None else sent_at,
                       "data": data}, default=_json_default, separators=(",", ":")).encode()


def dead_letter(value: bytes, topic: str, partition: int, offset: int, problems: list[Problem]) -> bytes:
    """The dead-letter record: where the event came from, why it failed, and the event as it was."""
    try:
        original = value.decode("utf-8")
    except UnicodeDecodeError:
        original = value.decode("latin-1")
    return json.dumps({"source_topic": topic, "partition": partition, "offset": offset,
                       "problems": [{"field": p.field, "reason": p.reason, "code": p.code} for p in problems],
                       "event": original, "rejected_at": time.time()}, separators=(",", ":")).encode()
