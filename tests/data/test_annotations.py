"""The comments database: add, list by target, resolve and reopen; bad input refused; reading creates nothing."""

from __future__ import annotations

import pytest

from quantlib.data.annotations import AnnotationError, AnnotationStore, default_annotations_path


def test_comments_on_dashboards_charts_and_points(tmp_path):
    store = AnnotationStore(tmp_path / "notes.sqlite")
    assert store.frame().empty and not store.path.exists()  # reading never creates the file
    a = store.add("dashboard:executive_dashboard", "Margins look thin", "ana", now="2024-12-01T09:00:00+00:00")
    b = store.add("chart:executive_dashboard/daily_revenue", "Storm week", "ben", point_x="2024-12-03",
                  now="2024-12-02T09:00:00+00:00")
    store.add("report:monthly_business_review", "<script>x</script>", "cy", now="2024-12-03T09:00:00+00:00")
    assert (b.point_x, b.resolved) == ("2024-12-03", False)
    assert list(store.frame("dashboard:executive_dashboard")["text"]) == ["Margins look thin"]
    assert list(store.frame("chart:executive_dashboard/", prefix=True)["id"]) == [b.id]
    assert list(store.frame()["author"]) == ["ana", "ben", "cy"]
    done = store.resolve(a.id, by="dee", now="2024-12-04T09:00:00+00:00")
    assert done.resolved and done.resolved_by == "dee"
    assert list(store.frame(include_resolved=False)["id"]) == [b.id, b.id + 1]
    assert store.reopen(a.id).resolved is False
    assert store.frame()["created_at"].dt.tz is not None
    assert store.frame().loc[2, "text"] == "<script>x</script>"  # stored as typed; what shows it escapes it


@pytest.mark.parametrize("target, text, author, match", [
    ("everything", "x", "ana", "target 'everything'"),
    ("dashboard:exec dash", "x", "ana", "target"),
    ("dashboard:x", "   ", "ana", "text: between 1"),
    ("dashboard:x", "x" * 4001, "ana", "text: between 1 and 4000"),
    ("dashboard:x", "fine", "", "author: between 1"),
])
def test_bad_comments_are_refused_with_the_reason(tmp_path, target, text, author, match):
    with pytest.raises(AnnotationError, match=match):
        AnnotationStore(tmp_path / "notes.sqlite").add(target, text, author)


def test_unknown_comment_and_missing_resolver(tmp_path):
    store = AnnotationStore(tmp_path / "notes.sqlite")
    note = store.add("dashboard:x", "hello", "ana")
    with pytest.raises(AnnotationError, match="no comment #99"):
        store.resolve(99, by="ana")
    with pytest.raises(AnnotationError, match="who resolves"):
        store.resolve(note.id, by=" ")


def test_the_default_place_is_next_to_the_run_history(tmp_path):
    assert default_annotations_path(env={}).name == ".annotations.sqlite"
    assert default_annotations_path(env={"QUANT_ANNOTATIONS_DB": str(tmp_path / "a.db")}) == tmp_path / "a.db"
    assert default_annotations_path(tmp_path, env={"QUANT_ANNOTATIONS_DB": "/elsewhere"}) == \
        tmp_path / ".annotations.sqlite"
