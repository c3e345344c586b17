"""The chart builder (``notebooks/apps/chart_builder.ipynb``): self-service charts on the warehouse.

Pick a data source, a chart type, the fields on the shelves (category or time, value, colour or
rows), a calculation and filters; the chart is queried in DuckDB on gold
(:func:`quantlib.viz.builder.query`) and drawn as SVG. Save it (a name, a team, the teams that may
see it), reopen a saved chart (only those the user may see), place it on a dashboard, and export
it (PDF, PowerPoint, Excel, CSV). Templates from the specification start common views in one
click. The user is the member ``quant apps`` signed in (:meth:`ChartBuilder.sign_in`), else
``$QUANT_USER`` (else the account the server runs as); their teams are ``parameters/teams.yaml``.
"""

from __future__ import annotations

import html
import logging
import time

import pandas as pd

from quantlib.apps.base import WidgetApp
from quantlib.apps.builder_views import SPEC_VIEWS, ViewUnavailable, draw_view
from quantlib.apps.field_shelf import FieldShelf
from quantlib.data.gold import connect_gold
from quantlib.viz.builder import AGGREGATES, CHART_TYPES, SOURCES, ChartFilters, ChartSpec, build_chart, query
from quantlib.viz.saved import (
    SavedChart,
    SavedDashboard,
    SharingError,
    list_charts,
    list_dashboards,
    load_chart,
    load_dashboard,
    load_teams,
    save_chart,
    save_dashboard,
)

__all__ = ["TEMPLATES", "ChartBuilder", "builder_from_parameters"]

log = logging.getLogger(__name__)
NONE = "(none)"
ALL = "All"

#: The specification's templates: a name and the spec it starts from.
TEMPLATES: dict[str, ChartSpec] = {
    "Technician performance: revenue ranking": ChartSpec(
        title="Revenue by technician", source="work_orders", chart="bar", x="technician", y="revenue", top=15),
    "Technician performance: rating trend": ChartSpec(
        title="Average rating by month", source="work_orders", chart="line", x="month", y="rating",
        aggregate="average"),
    "Technician performance: revenue per job against rating (comparison)": ChartSpec(
        title="Technicians: revenue per job against rating", source="work_orders", chart="scatter", x="rating",
        y="revenue", color="technician", aggregate="average"),
    "Customer analysis: new customers by channel": ChartSpec(
        title="New customers by month and channel", source="customers", chart="bar", x="first_month",
        y="customers", color="acquisition_channel", aggregate="count"),
    "Customer analysis: spend by segment": ChartSpec(
        title="Spend share by customer type", source="customers", chart="pie", x="customer_type", y="spend_365d",
        aggregate="percentage"),
    "Financial dashboard: revenue growth": ChartSpec(
        title="Monthly revenue growth", source="financials", chart="line", x="month", y="revenue",
        aggregate="growth"),
    "Financial dashboard: gross profit by line": ChartSpec(
        title="Gross profit by month and service line", source="financials", chart="bar", x="month",
        y="gross_profit", color="service_line"),
}

CSS = """<style>
.cb-root { font-family: Liberation Sans, Helvetica, Arial, sans-serif; color: #333; }
.cb-root h1 { font-size: 22px; font-weight: 600; margin: 4px 0 2px 0; }
.cb-sub, .cb-status { font-size: 12.5px; color: #666; }
.cb-status.error { color: #a8352e; }
.cb-chart-area svg { max-width: 100%; height: auto; }
.cb-panel { background: #fff; border: 1px solid #e2e5e9; border-radius: 6px; padding: 10px 12px; margin-top: 8px; }
</style>"""


class ChartBuilder(WidgetApp):
    """The self-service chart builder over one gold warehouse.

    Parameters
    ----------
    gold_path : path-like
    user : str, optional
        Who builds (default ``$QUANT_USER``, else the server's account).
    teams : dict, optional
        Teams and members (default :func:`quantlib.viz.saved.load_teams`).
    folder : Path, optional
        Where charts and dashboards are saved (default ``parameters/dashboards``).
    """

    def __init__(self, gold_path, user: str | None = None, teams: dict | None = None, folder=None, company: str = "",
                 ops_store=None):
        from quantlib.apps.collaboration import ExportBar, default_author

        self.con = connect_gold(gold_path)
        self.gold_path = gold_path
        self.ops_store = ops_store
        self.user = user or default_author()
        self.teams = load_teams() if teams is None else teams
        self.folder = folder
        self.company = company
        self.spec: ChartSpec | None = None
        self.view: str | None = None  # a specification view on screen (quantlib.apps.builder_views)
        self.frame: pd.DataFrame | None = None
        self.exports = ExportBar(self._export_content)
        self.board_exports = ExportBar(self._board_export_content)  # the dashboard shown, every chart
        self.board_charts: list = []
        self.board_title = ""
        self._widget = None
        self._quiet = False

    # ------------------------------------------------------------------ numbers

    def options(self, column: str, table: str = "job_facts") -> list[str]:
        return [r[0] for r in self.con.execute(
            f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY 1").fetchall()]  # nosec B608

    def draw(self, spec: ChartSpec) -> str:
        """Query and draw ``spec``; keep it as the current chart; return its SVG."""
        frame = query(self.con, spec)
        chart, svg = _themed_svg(build_chart(spec, frame))
        self.spec, self.frame, self.chart_spec, self.view = spec, frame, chart, None
        return svg

    def show_view(self, name: str) -> None:
        """Draw specification view ``name`` (:data:`~quantlib.apps.builder_views.SPEC_VIEWS`) at the "To" date."""
        if self._widget is None:
            self._build()
        started = time.perf_counter()

        def drawn():
            title, chart, frame = draw_view(name, self.con, self.gold_path, self.end.value, ops_store=self.ops_store)
            return (title, frame, *_themed_svg(chart))

        result = self._attempt(drawn, ViewUnavailable, "view")
        if result is None:
            return
        title, frame, spec, svg = result
        self.spec, self.view, self.frame, self.chart_spec, self.view_title = None, name, frame, spec, title
        self.area.value = f'<div class="cb-panel" data-view="{html.escape(name)}">{svg}</div>'
        self.status.value = (f'<div class="cb-status cb-view" data-rows="{len(frame)}">{html.escape(title)}: a '
                             "specification view (the shelves and calculation do not apply; \"To\" sets its date) "
                             f"&middot; drawn in {(time.perf_counter() - started) * 1000:.0f} ms</div>")

    def _export_content(self):
        from quantlib.views.chart_export import ExportChart

        if self.view is not None:
            return self.view_title, self.company, [ExportChart(self.view_title, self.chart_spec, data=self.frame)]
        if self.spec is None:
            raise ValueError("no chart yet")
        title = self.spec.title or "Chart"
        data = self.frame.rename(columns={"value": self.frame.attrs.get("label", "value")})
        return title, self.company, [ExportChart(title, self.chart_spec, data=data)]

    def _board_export_content(self):
        if not self.board_charts:
            raise ValueError("no dashboard shown")
        return self.board_title, self.company, list(self.board_charts)

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        import ipywidgets as w

        style = {"description_width": "initial"}

        def dropdown(label, options, hook, width="200px"):
            box = w.Dropdown(options=options, description=label, style=style, layout=w.Layout(width=width))
            box.add_class(hook)
            return box

        self.template = dropdown("Template", [NONE, *TEMPLATES, *SPEC_VIEWS], "cb-template", "420px")
        self.source = dropdown("Data", [(s.label, key) for key, s in SOURCES.items()], "cb-source")
        self.chart_type = dropdown("Chart", list(CHART_TYPES), "cb-chart", "170px")
        self.aggregate = dropdown("Calculation", list(AGGREGATES), "cb-aggregate", "200px")
        self.x = dropdown("Category / time", [], "cb-x", "230px")
        self.y = dropdown("Value", [], "cb-y", "220px")
        self.color = dropdown("Colour / rows", [], "cb-color", "230px")
        # Drag and drop onto the same three choices; the dropdowns stay as the keyboard way.
        self.shelf = FieldShelf()
        self.shelf.add_class("cb-shelf")
        self.shelf.observe(self._on_shelf, names="values")
        self.start = w.DatePicker(description="From", style=style, layout=w.Layout(width="auto"))
        self.end = w.DatePicker(description="To", style=style, layout=w.Layout(width="auto"))
        self.service_line = dropdown("Service line", [ALL, *self.options("service_line")], "cb-service-line")
        self.region = dropdown("Region", [ALL, *self.options("region")], "cb-region")
        technicians = self.con.execute("SELECT technician_id, name FROM technicians ORDER BY name").fetchall()
        self.technician = dropdown("Technician", [(ALL, ALL), *[(n, t) for t, n in technicians]], "cb-technician",
                                   "260px")
        self.title = w.Text(description="Title", style=style, layout=w.Layout(width="420px"))
        self.title.add_class("cb-title")
        self.status = w.HTML('<div class="cb-status">&nbsp;</div>')
        self.area = w.HTML()
        self.area.add_class("cb-chart-area")
        # Save, open, place on a dashboard.
        self.name = w.Text(description="Name", placeholder="revenue-by-line", style=style,
                           layout=w.Layout(width="260px"))
        self.name.add_class("cb-name")
        self.team = dropdown("Team", [NONE], "cb-team", "200px")
        self.viewers = w.SelectMultiple(options=sorted(self.teams), description="Also shared with", style=style,
                                        layout=w.Layout(width="300px", height="64px"))
        self.viewers.add_class("cb-viewers")
        self.save_button = w.Button(description="Save chart")
        self.save_button.add_class("cb-save")
        self.saved = dropdown("Saved charts", [], "cb-saved", "320px")
        self.open_button = w.Button(description="Open")
        self.open_button.add_class("cb-open")
        self.dashboard = w.Text(description="Dashboard", placeholder="ops-weekly", style=style,
                                layout=w.Layout(width="260px"))
        self.dashboard.add_class("cb-dashboard")
        self.place_button = w.Button(description="Place on dashboard")
        self.place_button.add_class("cb-place")
        self.note = w.HTML()
        self.boards = dropdown("Dashboards", [], "cb-boards", "320px")
        self.show_board_button = w.Button(description="Show dashboard")
        self.show_board_button.add_class("cb-show-board")
        self.board_area = w.HTML()
        self.board_area.add_class("cb-board-area")
        self.show_board_button.on_click(lambda _b: self.show_dashboard(self.boards.value))
        self.save_button.on_click(lambda _b: self.save())
        self.open_button.on_click(lambda _b: self.open(self.saved.value))
        self.place_button.on_click(lambda _b: self.place())
        self.template.observe(self._on_template, names="value")
        self.source.observe(self._on_source, names="value")
        for control in (self.chart_type, self.aggregate, self.x, self.y, self.color, self.start, self.end,
                        self.service_line, self.region, self.technician, self.title):
            control.observe(self._on_change, names="value")
        row = dict(layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.heading = w.HTML()
        self._widget = w.VBox([
            self.heading,
            w.HBox([self.template], **row),
            w.HBox([self.source, self.chart_type, self.aggregate, self.title], **row),
            self.shelf,
            w.HBox([self.x, self.y, self.color], **row),
            w.HBox([self.start, self.end, self.service_line, self.region, self.technician], **row),
            w.HBox([self.status, self.exports.widget], **row),
            self.area,
            w.VBox([w.HBox([self.name, self.team, self.viewers, self.save_button], **row),
                    w.HBox([self.saved, self.open_button, self.dashboard, self.place_button], **row), self.note,
                    w.HBox([self.boards, self.show_board_button, self.board_exports.widget], **row),
                    self.board_area],
                   layout=w.Layout(width="100%")),
        ], layout=w.Layout(padding="8px 16px", max_width="1300px"))
        self._widget.add_class("cb-root")
        self._fill_fields()
        self._refresh_user()

    def _refresh_user(self) -> None:
        """The heading, the teams a chart may be saved under and the saved views: all follow the user."""
        self.heading.value = (CSS + f'<h1>{html.escape(self.company or "Chart builder")}</h1>'
                              f'<div class="cb-sub">Build a chart on the warehouse as '
                              f'<span class="cb-user">{html.escape(self.user)}</span>.</div>')
        mine = sorted(team for team, members in self.teams.items() if self.user in members)
        self.team.options = [NONE, *mine]
        self.team.value = NONE
        self._refresh_saved()

    def sign_in(self, member: str | None) -> None:
        """Build as ``member`` (the visitor ``quant apps`` signed in); None keeps the operator.

        Called by the notebook's last cell with :func:`quantlib.apps.identity.visiting_member`,
        once the preheated kernel is handed to the visitor.
        """
        if not member or member == self.user:
            return
        self.user = member
        if self._widget is not None:
            self._refresh_user()

    def _fill_fields(self) -> None:
        """Shelf options for the source (keeping the current choices that still exist)."""
        source = SOURCES[self.source.value]
        self._quiet = True
        try:
            dimensions, measures = list(source.dimensions), list(source.measures)
            keep_x = self.x.value if self.x.value in dimensions + measures else None
            self.x.options = [NONE, *dimensions, *measures]
            self.x.value = keep_x or dimensions[0]
            keep_y = self.y.value if self.y.value in measures else None
            self.y.options = measures
            self.y.value = keep_y or measures[min(1, len(measures) - 1)]
            keep_color = self.color.value if self.color.value in dimensions else NONE
            self.color.options = [NONE, *dimensions]
            self.color.value = keep_color
            for name, box in (("service_line", self.service_line), ("region", self.region),
                              ("technician", self.technician)):
                box.disabled = name not in source.filters
                if box.disabled:
                    box.value = ALL
            dated = source.date is not None
            self.start.disabled = self.end.disabled = not dated
            if not dated:
                self.start.value = self.end.value = None
        finally:
            self._quiet = False
        self._sync_shelf()

    def _shelves(self) -> dict:
        """What each shelf of the source accepts (the dropdowns' options, without "(none)")."""
        def names(box):
            return [value for value in box.options if value != NONE]

        return {"x": {"label": "Category / time", "accepts": names(self.x), "optional": True},
                "y": {"label": "Value", "accepts": names(self.y), "optional": False},
                "color": {"label": "Colour / rows", "accepts": names(self.color), "optional": True}}

    def _sync_shelf(self) -> None:
        """Show on the shelf what the dropdowns hold."""
        source = SOURCES[self.source.value]
        fields = [{"name": name, "label": source.labels.get(name, name.replace("_", " ").capitalize()),
                   "kind": "dimension"} for name in source.dimensions]
        fields += [{"name": name, "label": measure.label, "kind": "measure"}
                   for name, measure in source.measures.items()]
        self.shelf.fields = fields
        self.shelf.shelves = self._shelves()
        self.shelf.values = {key: (None if box.value in (NONE, None) else box.value)
                             for key, box in (("x", self.x), ("y", self.y), ("color", self.color))}

    def _on_shelf(self, change) -> None:
        """A drop (or a removal) on the page: checked against what the shelf accepts, then the dropdown moves."""
        shelves = self._shelves()
        for key, box in (("x", self.x), ("y", self.y), ("color", self.color)):
            name = (change["new"] or {}).get(key)
            current = None if box.value in (NONE, None) else box.value
            if name == current:
                continue
            if name is None and shelves[key]["optional"]:
                box.value = NONE
            elif name in shelves[key]["accepts"]:
                box.value = name
        self._sync_shelf()  # a refused drop goes back to what the dropdowns hold

    def current_spec(self) -> ChartSpec:
        """The spec the widgets describe (pydantic validates it: a message says what does not fit)."""
        def pick(box):
            return None if box.value in (ALL, NONE, None) else box.value

        filters = ChartFilters(start=self.start.value, end=self.end.value, service_line=pick(self.service_line),
                               region=pick(self.region), technician=pick(self.technician))
        return ChartSpec(title=self.title.value, source=self.source.value, chart=self.chart_type.value,
                         x=pick(self.x), y=self.y.value, aggregate=self.aggregate.value, color=pick(self.color),
                         filters=filters)

    def show(self, spec: ChartSpec) -> None:
        """Set the widgets to ``spec`` and draw it."""
        self._quiet = True
        try:
            self.source.value = spec.source
            self._fill_fields()
            self._quiet = True
            self.chart_type.value, self.aggregate.value = spec.chart, spec.aggregate
            self.x.value = spec.x or NONE
            self.y.value, self.color.value = spec.y, spec.color or NONE
            self.title.value = spec.title
            f = spec.filters
            self.start.value, self.end.value = f.start, f.end
            self.service_line.value = f.service_line or ALL
            self.region.value = f.region or ALL
            self.technician.value = f.technician or ALL
        finally:
            self._quiet = False
        self.refresh()

    def refresh(self) -> None:
        """Validate the widgets' spec, query and draw it."""
        from pydantic import ValidationError

        if self._widget is None:
            self._build()
        self._sync_shelf()
        started = time.perf_counter()
        svg = self._attempt(lambda: self.draw(self.current_spec()), ValidationError, "update")
        if svg is None:
            return
        self.area.value = f'<div class="cb-panel">{svg}</div>'
        self.status.value = (f'<div class="cb-status" data-rows="{len(self.frame)}">{len(self.frame):,} rows '
                             f"&middot; drawn in {(time.perf_counter() - started) * 1000:.0f} ms</div>")

    def _attempt(self, draw, expected: type[Exception], what: str):
        """``draw()``, or None with the problem in the status line: an ``expected`` one says what is
        wrong; anything else only its kind (never a stack trace in front of a manager; the log has it)."""
        try:
            return draw()
        except expected as problem:
            self.status.value = f'<div class="cb-status error">{html.escape(_message(problem))}</div>'
        except Exception as problem:
            log.exception("chart builder %s failed", what)
            self.status.value = f'<div class="cb-status error">Could not draw: {type(problem).__name__}</div>'
        return None

    def _on_change(self, change=None) -> None:
        if self._quiet:
            return
        if self.view is not None and change is not None and change.get("owner") is self.end:
            self.show_view(self.view)  # a view moves with its date; any other control goes back to the shelves
            return
        self.refresh()

    def _on_source(self, _change=None) -> None:
        if not self._quiet:
            self._fill_fields()
            self.refresh()

    def _on_template(self, change) -> None:
        if change["new"] in TEMPLATES:
            self.show(TEMPLATES[change["new"]])
        elif change["new"] in SPEC_VIEWS:
            self.show_view(change["new"])

    # ------------------------------------------------------------------ saving and sharing

    def _refresh_saved(self) -> None:
        charts = list_charts(self.user, self.teams, self.folder)
        self.saved.options = [(f"{c.name} ({c.owner})", c.name) for c in charts]
        boards = list_dashboards(self.user, self.teams, self.folder)
        self.boards.options = [(f"{b.title or b.name} ({len(b.charts)})", b.name) for b in boards]

    def show_dashboard(self, name: str | None) -> None:
        """Draw every chart of saved dashboard ``name`` the user may see, in order (others say why not)."""
        if not name:
            return
        try:
            board = load_dashboard(name, self.user, self.teams, self.folder)
        except (FileNotFoundError, SharingError) as problem:
            self.board_charts = []
            self.board_area.value = f'<div class="cb-status error">{html.escape(str(problem))}</div>'
            return
        from quantlib.views.chart_export import ExportChart

        parts = [f'<h2 class="cb-board-title">{html.escape(board.title or board.name)}</h2>']
        charts = []
        for chart_name in board.charts:
            try:
                spec = load_chart(chart_name, self.user, self.teams, self.folder).spec
                frame = query(self.con, spec)
                drawn, svg = _themed_svg(build_chart(spec, frame))
                parts.append(f'<div class="cb-panel" data-chart="{html.escape(chart_name)}">{svg}</div>')
                title = spec.title or chart_name
                charts.append(ExportChart(title, drawn, data=frame.rename(
                    columns={"value": frame.attrs.get("label", "value")})))
            except (FileNotFoundError, SharingError, ValueError) as problem:
                parts.append(f'<div class="cb-panel cb-status error" data-chart="{html.escape(chart_name)}">'
                             f"{html.escape(chart_name)}: {html.escape(_message(problem))}</div>")
        self.board_charts, self.board_title = charts, board.title or board.name
        self.board_area.value = "".join(parts)

    def save(self) -> None:
        """Save the current chart under the name field, for the chosen team and viewers."""
        if self.view is not None:
            self.note.value = ('<div class="cb-status error">A specification view is not saved as a chart: it is '
                               "always in the template list. Build a chart on the shelves to save it.</div>")
            return
        try:
            spec = self.current_spec()
            team = None if self.team.value == NONE else self.team.value
            chart = SavedChart(name=self.name.value.strip(), owner=self.user, spec=spec, team=team,
                               viewers=list(self.viewers.value), editors=[team] if team else [])
            save_chart(chart, self.user, self.teams, self.folder)
        except (ValueError, SharingError) as problem:
            self.note.value = f'<div class="cb-status error">{html.escape(_message(problem))}</div>'
            return
        self._refresh_saved()
        self.note.value = f'<div class="cb-status cb-saved-note">Saved {html.escape(chart.name)}.</div>'

    def open(self, name: str | None) -> None:
        """Reopen a saved chart the user may see."""
        if not name:
            return
        try:
            chart = load_chart(name, self.user, self.teams, self.folder)
        except (FileNotFoundError, SharingError) as problem:
            self.note.value = f'<div class="cb-status error">{html.escape(str(problem))}</div>'
            return
        self.name.value = chart.name
        self.show(chart.spec)
        self.note.value = (f'<div class="cb-status">Opened {html.escape(chart.name)} by '
                           f"{html.escape(chart.owner)}.</div>")

    def place(self) -> None:
        """Add the chart named in the name field to the dashboard named in the dashboard field."""
        board_name, chart_name = self.dashboard.value.strip(), self.name.value.strip()
        try:
            try:
                board = load_dashboard(board_name, self.user, self.teams, self.folder)
            except FileNotFoundError:
                team = None if self.team.value == NONE else self.team.value
                board = SavedDashboard(name=board_name, owner=self.user, team=team, title=board_name,
                                       editors=[team] if team else [])
            if chart_name not in board.charts:
                board = board.model_copy(update={"charts": [*board.charts, chart_name]})
            save_dashboard(SavedDashboard.model_validate(board.model_dump()), self.user, self.teams, self.folder)
        except (ValueError, SharingError, FileNotFoundError) as problem:
            self.note.value = f'<div class="cb-status error">{html.escape(_message(problem))}</div>'
            return
        self.note.value = (f'<div class="cb-status">{html.escape(chart_name)} is on {html.escape(board_name)} '
                           f"({len(board.charts)} chart{'s' if len(board.charts) != 1 else ''}).</div>")
        self._refresh_saved()


def _themed_svg(chart) -> tuple[dict, str]:
    """An Altair chart's spec in the house theme, and its SVG (vl-convert: no browser, no network)."""
    import vl_convert as vlc

    from quantlib.views.theme import house_theme

    spec = chart.to_dict()
    spec["config"] = {**house_theme()["config"], **spec.get("config", {})}
    return spec, vlc.vegalite_to_svg(spec)


def _message(problem: Exception) -> str:
    """One line saying what is wrong (pydantic's errors without its links)."""
    from pydantic import ValidationError

    if isinstance(problem, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) + ': ' if e['loc'] else ''}"
                         f"{e['msg'].removeprefix('Value error, ')}" for e in problem.errors())
    return str(problem)


def builder_from_parameters(company: str = "mixed_trades", lake: str | None = None, as_of=None,
                            environ: dict | None = None) -> ChartBuilder:
    """The builder of the app notebook's parameters (``QUANT_COMPANY`` / ``QUANT_LAKE`` win)."""
    from quantlib.apps.base import gold_from_parameters

    _, gold = gold_from_parameters(company, lake, as_of, environ)
    with connect_gold(gold) as con:
        row = con.execute("SELECT any_value(company) FROM build_info").fetchone()
    builder = ChartBuilder(gold, company=(row[0] if row else None) or company)
    builder.widget  # noqa: B018 - build and draw the first chart before the page shows
    builder.show(next(iter(TEMPLATES.values())))
    return builder
