"""What dashboards share for working together: a comments panel and an export bar.

:class:`CommentsPanel` lists the open comments on a dashboard and its charts (numbered as the
markers on the charts), adds one (on the dashboard, or on a chart at a day) and resolves one;
the comments are :class:`quantlib.data.annotations.AnnotationStore`'s. :class:`ExportBar`
prepares, on a click, the dashboard as PDF, PowerPoint, Excel and CSV (:mod:`quantlib.views.chart_export`)
and offers them as download links (``data:`` URIs: nothing is written on the server).
"""

from __future__ import annotations

import datetime as dt
import getpass
import html
import logging
import os
from collections.abc import Callable

import pandas as pd

from quantlib.apps.base import WidgetApp, download_link
from quantlib.data.annotations import AnnotationError, AnnotationStore
from quantlib.views.annotations import numbered
from quantlib.views.chart_export import (
    ExportChart,
    chart_to_csv,
    charts_to_excel,
    charts_to_pdf,
    charts_to_pptx,
    safe_title,
)

__all__ = ["COMMENTS_CSS", "CommentsPanel", "ExportBar", "default_author"]

log = logging.getLogger(__name__)

COMMENTS_CSS = """<style>
.qc-comment { font-size: 13px; line-height: 1.35; padding: 4px 0; }
.qc-comment .qc-meta { font-size: 11.5px; color: #7a828a; }
.qc-number { display: inline-block; min-width: 18px; font-weight: 700; color: #8a5a00; }
.qc-exports a { margin-right: 16px; font-size: 13px; }
</style>"""


def default_author(environ=None) -> str:
    """Who is commenting: ``$QUANT_USER``, else the account the server runs as."""
    env = os.environ if environ is None else environ
    if env.get("QUANT_USER"):
        return env["QUANT_USER"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


class CommentsPanel(WidgetApp):
    """Comments on dashboard ``dashboard`` and its charts.

    Parameters
    ----------
    store : AnnotationStore
    dashboard : str
        Targets are ``dashboard:<dashboard>`` and ``chart:<dashboard>/<chart key>``.
    charts : tuple of (str, str)
        ``(key, label)`` of the charts a comment can be about (at a day).
    author : str, optional
        The author field's first value (default :func:`default_author`).
    on_change : callable, optional
        Called after a comment is added or resolved (the dashboard redraws its markers).
    """

    def __init__(self, store: AnnotationStore, dashboard: str, charts: tuple[tuple[str, str], ...] = (),
                 author: str | None = None, on_change: Callable[[], None] | None = None):
        self.store = store
        self.dashboard = dashboard
        self.charts = charts
        self.author = author or default_author()
        self.member: str | None = None  # set by sign_in: then the author field is locked
        self.on_change = on_change
        self._widget = None

    # ------------------------------------------------------------------ data

    def comments(self) -> pd.DataFrame:
        """The open comments on the dashboard and its charts, oldest first, :func:`numbered`."""
        parts = [self.store.frame(f"dashboard:{self.dashboard}", include_resolved=False),
                 self.store.frame(f"chart:{self.dashboard}/", prefix=True, include_resolved=False)]
        frame = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
        return numbered(frame.sort_values(["created_at", "id"]).reset_index(drop=True))

    def chart_notes(self, chart: str) -> pd.DataFrame:
        """The open comments on one chart, with the panel's numbers (for its markers)."""
        notes = self.comments()
        return notes[notes["target"] == f"chart:{self.dashboard}/{chart}"].reset_index(drop=True)

    def sign_in(self, member: str | None) -> None:
        """Comment as ``member`` (signed in by ``quant apps``): the author field is theirs and locked."""
        if not member:
            return
        self.author = self.member = member
        if self._widget is not None:
            self.author_box.value = member
            self.author_box.disabled = True

    def add(self, text: str, author: str, chart: str | None = None, day=None):
        """Add a comment on the dashboard, or on ``chart`` (at ``day`` when given)."""
        target = f"chart:{self.dashboard}/{chart}" if chart else f"dashboard:{self.dashboard}"
        return self.store.add(target, text, author, point_x=day if chart else None)

    def resolve(self, annotation_id: int, by: str):
        return self.store.resolve(annotation_id, by=by)

    # ------------------------------------------------------------------ widgets

    def lines_html(self, notes: pd.DataFrame) -> dict[int, str]:
        """Each comment's line, by id: number, text, author, time, what it is on."""
        labels = dict(self.charts)
        out = {}
        for r in notes.itertuples(index=False):
            on = "the dashboard"
            if r.target.startswith("chart:"):
                key = r.target.split("/", 1)[1]
                on = labels.get(key, key) + (f" at {r.point_x}" if pd.notna(r.point_x) else "")
            out[int(r.id)] = (
                f'<div class="qc-comment" data-comment-id="{int(r.id)}"><span class="qc-number">{int(r.number)}</span> '
                f"{html.escape(str(r.text))}<br><span class=\"qc-meta\">{html.escape(str(r.author))} &middot; "
                f"{r.created_at:%d %b %Y %H:%M} UTC &middot; on {html.escape(on)}</span></div>")
        return out

    def _build(self) -> None:
        import ipywidgets as w

        style = {"description_width": "initial"}
        self.text = w.Textarea(placeholder="Add a comment", layout=w.Layout(width="420px", height="54px"))
        self.text.add_class("qc-text")
        self.author_box = w.Text(value=self.author, description="Author", style=style, disabled=self.member is not None,
                                 layout=w.Layout(width="220px"))
        self.author_box.add_class("qc-author")
        self.on = w.Dropdown(options=[("the dashboard", ""), *[(label, key) for key, label in self.charts]],
                             value="", description="On", style=style, layout=w.Layout(width="240px"))
        self.on.add_class("qc-on")
        self.day = w.DatePicker(description="Day", style=style, layout=w.Layout(width="auto"))
        self.day.add_class("qc-day")
        self.add_button = w.Button(description="Add comment", layout=w.Layout(width="auto"))
        self.add_button.add_class("qc-add")
        self.add_button.on_click(lambda _b: self._on_add())
        self.list = w.VBox()
        self.note = w.HTML()
        form = w.HBox([self.text, w.VBox([self.author_box, self.on, self.day]), self.add_button],
                      layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
        self._widget = w.VBox([w.HTML(COMMENTS_CSS + "<h2>Comments</h2>"), self.list, form, self.note],
                              layout=w.Layout(width="100%"))
        self._widget.add_class("qd-panel")
        self._widget.add_class("qc-comments")

    def refresh(self, note: str = "") -> None:
        """Re-read the comments and redraw the list (``note``: a line under the form)."""
        import ipywidgets as w

        if self._widget is None:
            self._build()
        notes = self.comments()
        lines = self.lines_html(notes)
        rows = []
        for r in notes.itertuples(index=False):
            button = w.Button(description="Resolve", tooltip=f"Resolve comment {int(r.number)}",
                              layout=w.Layout(width="auto", flex="0 0 auto"))
            button.add_class("qc-resolve")
            button.add_class(f"qc-resolve-{int(r.id)}")
            button.on_click(lambda _b, i=int(r.id): self._on_resolve(i))
            rows.append(w.HBox([w.HTML(lines[int(r.id)], layout=w.Layout(flex="1 1 auto")), button],
                               layout=w.Layout(align_items="center")))
        if not rows:
            rows = [w.HTML('<div class="qd-empty">No open comments.</div>')]
        for old in self.list.children:
            old.close()
        self.list.children = rows
        self.note.value = f'<div class="qd-status">{html.escape(note)}</div>' if note else ""

    def _changed(self, note: str) -> None:
        self.refresh(note)
        if self.on_change is not None:
            self.on_change()

    def _on_add(self) -> None:
        chart = self.on.value or None
        day: dt.date | None = self.day.value if chart else None
        try:
            made = self.add(self.text.value, self.member or self.author_box.value, chart, day)
        except AnnotationError as problem:
            self.refresh(str(problem))
            return
        except Exception as problem:  # never a stack trace in front of a manager; the log has it
            log.exception("adding a comment failed")
            self.refresh(f"Could not add the comment: {type(problem).__name__}")
            return
        self.text.value = ""
        self._changed(f"Comment added (#{made.id}).")

    def _on_resolve(self, annotation_id: int) -> None:
        try:
            self.resolve(annotation_id, by=self.member or self.author_box.value)
        except AnnotationError as problem:
            self.refresh(str(problem))
            return
        self._changed("Comment resolved.")


class ExportBar:
    """A button that prepares the dashboard's exports, then links to download them.

    Parameters
    ----------
    content : callable
        ``content() -> (title, subtitle, [ExportChart, ...])``: what the dashboard shows now.
    """

    def __init__(self, content: Callable[[], tuple[str, str, list[ExportChart]]]):
        self.content = content
        self._widget = None

    def files(self) -> dict[str, tuple[str, bytes]]:
        """The exports of what the dashboard shows: ``{kind: (file name, bytes)}`` (CSV: the first chart's data)."""
        title, subtitle, charts = self.content()
        stem = safe_title(f"{title} {subtitle}")
        return {"pdf": (f"{stem}.pdf", charts_to_pdf(charts, title=title, subtitle=subtitle)),
                "pptx": (f"{stem}.pptx", charts_to_pptx(charts, title=title, subtitle=subtitle)),
                "xlsx": (f"{stem}.xlsx", charts_to_excel(charts)),
                "csv": (f"{stem}.csv", chart_to_csv(charts[0]).encode("utf-8"))}

    def links_html(self, files: dict[str, tuple[str, bytes]]) -> str:
        labels = {"pdf": "PDF", "pptx": "PowerPoint", "xlsx": "Excel", "csv": "CSV"}
        links = "".join(download_link(name, data, labels[kind], f"qc-export-{kind}")
                        for kind, (name, data) in files.items())
        return f'<div class="qc-exports">{links}</div>'

    @property
    def widget(self):
        if self._widget is None:
            import ipywidgets as w

            self.button = w.Button(description="Prepare exports", layout=w.Layout(width="auto"))
            self.button.add_class("qc-prepare")
            self.button.on_click(lambda _b: self.prepare())
            self.links = w.HTML()
            self._widget = w.HBox([self.button, self.links], layout=w.Layout(align_items="center"))
        return self._widget

    def prepare(self) -> None:
        """Build the files for what the dashboard shows now and show their links."""
        self.widget  # noqa: B018 - built on first use
        self.links.value = '<div class="qd-status">Preparing&hellip;</div>'
        try:
            self.links.value = self.links_html(self.files())
        except Exception as problem:  # never a stack trace in front of a manager; the log has it
            log.exception("preparing the exports failed")
            self.links.value = f'<div class="qd-status error">Could not export: {type(problem).__name__}</div>'
