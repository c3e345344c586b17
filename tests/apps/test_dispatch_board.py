"""The dispatch board's logic without a browser: events, re-plan, what changed, the widgets' wiring."""

from __future__ import annotations

import duckdb
import pytest

from quantlib.apps.dispatch_board import (
    DispatchBoard,
    DispatchBoardParameters,
    board_from_parameters,
    parse_minute,
    signed_money,
)
from quantlib.errors import MoveReason
from quantlib.ops.problem import WarehouseDayOptions, problem_from_warehouse
from quantlib.ops.reroute import TechnicianSick, reroute
from quantlib.ops.routing import SolverSettings, solve
from quantlib.parameters import ParameterError

# Solution limits stop both searches long before the time limits: plans are reproducible,
# so the board's re-plan can be compared with the engine's own.
INITIAL = SolverSettings(time_limit_seconds=60, solution_limit=20)
REPLAN = SolverSettings(time_limit_seconds=60, solution_limit=10)
NOW = 600


@pytest.fixture(scope="module")
def day(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        return con.execute("SELECT as_of FROM build_params").fetchone()[0]
    finally:
        con.close()


@pytest.fixture()
def board(demo_lake, day):
    b = DispatchBoard(demo_lake.gold, day, now=NOW, initial_settings=INITIAL, replan_settings=REPLAN)
    yield b
    b.close()


def busy_technician(plan, now):
    """A technician with a job still to start after ``now``."""
    for r in plan.routes:
        if any(v.start > now for v in r.visits):
            return r.technician_id
    pytest.skip("no technician has work left after now")


def test_parse_minute_and_signed_money():
    assert parse_minute("10:30") == 630 and parse_minute(630) == 630 and parse_minute("630") == 630
    with pytest.raises(ValueError, match="not a time of day"):
        parse_minute("half past ten")
    with pytest.raises(ValueError, match="outside the day"):
        parse_minute("25:00")
    assert signed_money(1234.4) == "+$1,234" and signed_money(-45.6) == "-$46" and signed_money(0.2) == "$0"


def test_bad_events_are_refused_with_the_name(board):
    with pytest.raises(ValueError, match="job 'NOPE' is not on today's board"):
        board.cancel("NOPE")
    with pytest.raises(ValueError, match="technician 'T9999' is not working today"):
        board.mark_sick("T9999")
    with pytest.raises(ValueError, match="unknown customer 'C-none'"):
        board.add_emergency("C-none", board.skills()[0])
    with pytest.raises(ValueError, match="no technician today has skill 'juggling'"):
        board.add_emergency(board.customers["customer_id"].iloc[0], "juggling")
    with pytest.raises(ValueError, match="nothing to re-plan"):
        board.replan()
    done = [v.job_id for r in board.plan.routes for v in r.visits if v.start <= NOW]
    if done:
        with pytest.raises(ValueError, match="done, under way or already cancelled"):
            board.cancel(done[0])
    with pytest.raises(ValueError, match="outside the day"):
        board.set_now("99:00")
    tech = board.plan.problem.technicians[0].id
    board.delay(tech, 30)
    board.mark_sick(tech)
    with pytest.raises(ValueError, match="already marked sick"):
        board.mark_sick(tech)
    assert f"{tech} delayed 30 min" in board.pending_html() and f"{tech} off sick" in board.pending_html()
    board.clear()
    assert board.pending == [] and "No pending events" in board.pending_html()


def test_sick_replan_equals_the_engine(board, demo_lake, day):
    tech = busy_technician(board.plan, NOW)
    board.mark_sick(tech)
    result = board.replan()
    # A proposal only: nothing applies until Accept.
    assert board.plan is board.initial_plan and board.result is None and len(board.pending) == 1
    assert board.summary()["proposal"]
    assert board.accept() is result

    # The engine on its own, from the same gold day and settings.
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        problem = problem_from_warehouse(con, day, WarehouseDayOptions())
    finally:
        con.close()
    plan = solve(problem, INITIAL)
    assert plan.assignment() == board.initial_plan.assignment()
    expected = reroute(plan, NOW, [TechnicianSick(technician_id=tech)], settings=REPLAN)
    assert result.moved == expected.moved
    assert result.cost_delta == pytest.approx(expected.cost_delta)
    assert result.after.validate() == []
    assert tech not in {r.technician_id for r in result.after.routes if r.visits}
    # Done jobs stay done and off the new plan; started jobs stay with their technician.
    done = {j for ids in result.done.values() for j in ids}
    assert done == {v.job_id for r in plan.routes for v in r.visits if v.end <= NOW}
    assert not done & set(result.after.assignment())
    for t, job in result.started.items():
        if t != tech:
            assert result.after.assignment()[job] == t
    summary = board.summary()
    assert summary["moved"] == len(expected.moved) and summary["violations"] == 0
    assert summary["rules_relaxed"] == [r.reason for r in result.after.relaxations]
    assert ("Rules relaxed" in board.result_html()) == bool(result.after.relaxations)
    assert board.plan is result.after and board.pending == []
    assert set(board.changes_frame()["change"]) <= {"moved", "new eta", "dropped", "added", "cancelled", "started",
                                                    "new"}


def test_widgets_drive_a_replan(board):
    widget = board.widget
    assert widget is not None and "<svg" in board.map_box.value and "<svg" in board.timeline_box.value
    assert "Add events" in board.result_box.value
    job = board.job_picker.value
    board.cancel_button.click()
    assert "1 event(s) pending" in board.status.value and job in board.pending_box.value
    customer = board.customer_picker.value
    board.emergency_button.click()
    assert "2 event(s) pending" in board.status.value and customer in board.pending_box.value
    board.replan_button.click()
    assert 'data-state="proposed"' in board.status.value, board.status.value
    assert 'data-state="proposal"' in board.result_box.value and not board.accept_button.disabled
    assert board.plan is board.initial_plan
    board.accept_button.click()
    assert 'data-state="done"' in board.status.value, board.status.value
    assert board.accept_button.disabled and board.reject_button.disabled
    result = board.result
    assert f'data-key="moved">{len(result.moved)}<' in board.result_box.value
    assert f'data-key="cost_delta">{signed_money(result.cost_delta)}<' in board.result_box.value
    assert f'data-job="{job}" data-change="cancelled"' in board.result_box.value
    assert 'data-job="E001"' in board.result_box.value
    assert job not in board.job_picker.options
    # The clock cannot go back before the re-plan; the picker snaps back and says why.
    board.now_picker.value = "08:00"
    assert "before the last re-plan" in board.status.value and board.now_picker.value == "10:00"
    board.now_picker.value = "11:30"
    assert board.now == 690 and board.timeline_box.value.count("<svg") == 1
    board.replan_button.click()
    assert "nothing to re-plan" in board.status.value


def test_parameters_and_environment(demo_lake, day):
    with pytest.raises(ValueError):
        DispatchBoardParameters(company="mixed_trades", now="noonish")
    assert DispatchBoardParameters(company="mixed_trades", now="630").now == "10:30"
    env = {"QUANT_LAKE": str(demo_lake.root), "QUANT_DISPATCH_NOW": "11:15", "QUANT_DISPATCH_SOLUTION_LIMIT": "5",
           "QUANT_DISPATCH_TIME_LIMIT_SECONDS": "30"}
    board = board_from_parameters("mixed_trades", environ=env)
    try:
        assert board.now == 675 and board.day == day and board.initial_settings.solution_limit == 5
    finally:
        board.close()
    with pytest.raises(ParameterError, match="replan_seconds"):
        board_from_parameters("mixed_trades", environ={**env, "QUANT_DISPATCH_REPLAN_SECONDS": "-1"})


def test_reject_keeps_the_plan_and_locks_hold(board):
    """Reject keeps the plan in force and the events; a locked job stays with its technician."""
    tech = busy_technician(board.plan, NOW)
    mine = [v.job_id for v in board.plan.route(tech).visits if v.start > NOW]
    other = next(t.id for t in board.plan.problem.technicians
                 if t.id != tech and set(board.plan.problem.job(mine[0]).skills) <= t.skills)
    board.lock(mine[0], other)
    board.mark_sick(tech)
    board.widget  # build the widgets
    board.replan_button.click()
    proposal = board.proposal
    assert proposal is not None and board.plan is board.initial_plan
    board.reject_button.click()
    assert board.proposal is None and board.plan is board.initial_plan and len(board.pending) == 2
    assert 'data-state="rejected"' in board.status.value and "Add events" in board.result_box.value
    assert board.accept_button.disabled
    with pytest.raises(ValueError, match="nothing to accept"):
        board.accept()
    board.replan()
    result = board.accept()
    # Served by the technician it is locked to, or dropped (with a reason) if their day is full.
    assert result.after.assignment().get(mine[0], other) == other
    assert result.after.problem.job(mine[0]).pinned_technician == other
    moves = result.moves.set_index("job_id")
    if mine[0] in moves.index:
        assert moves.loc[mine[0], "reason_code"] == MoveReason.LOCKED
    rest = moves.drop(index=mine[0], errors="ignore")
    # The sick technician's other jobs move because they are sick; others' jobs only for a reason
    # of their own (a move that pays), never put down to the sickness or a lock.
    from_sick = rest["technician_before"] == tech
    assert (rest.loc[from_sick, "reason_code"] == MoveReason.TECHNICIAN_SICK).all()
    assert not rest.loc[~from_sick, "reason_code"].isin([MoveReason.TECHNICIAN_SICK, MoveReason.LOCKED]).any()
    assert board.locked() == {mine[0]: other}
    # A later re-plan keeps the locked job where it is.
    board.set_now(NOW + 30)
    board.delay(other, 60)
    later = board.replan()
    assert later.after.assignment().get(mine[0], other) == other


def test_the_morning_plan_is_solved_once_and_kept_signed(demo_lake, day, tmp_path):
    from quantlib.apps.dispatch_board import DispatchBoard

    first = DispatchBoard(demo_lake.gold, day, cache_dir=tmp_path)
    assert first.plan_from_cache_ is False and first.plan_cache_path().exists()
    again = DispatchBoard(demo_lake.gold, day, cache_dir=tmp_path)
    assert again.plan_from_cache_ is True
    assert again.initial_plan.routes == first.initial_plan.routes  # the same plan, not a new solve
    first.plan_cache_path().write_bytes(b"not signed")  # tampered: ignored, solved again
    third = DispatchBoard(demo_lake.gold, day, cache_dir=tmp_path)
    assert third.plan_from_cache_ is False
    for board in (first, again, third):
        board.con.close()
