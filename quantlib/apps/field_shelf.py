"""A drag-and-drop field shelf (anywidget): fields as chips, dragged onto a chart's shelves.

Tableau's way of building a chart: the data source's fields are chips (dimensions and
measures), each shelf ("Category / time", "Value", "Colour / rows") takes the chips it accepts,
a chip dropped on a shelf replaces what was there, and x removes an optional one. The widget is
the view only: :class:`quantlib.apps.chart_builder.ChartBuilder` owns the choices (its
dropdowns stay as the keyboard way to the same thing) and checks every drop, so a page cannot
put a field where the source does not allow it.

Why not PyGWalker (evaluated for issue 17): it requires telemetry clients
(``segment-analytics-python``, ``kanaries-track``), calls a configuration and an update-check
endpoint unless configured "offline", and queries its own DSL over a DataFrame or a SQLAlchemy
connection, not the builder's field catalogue with bound parameters and team sharing. anywidget
(which PyGWalker itself builds on) serves this module's script from the kernel: nothing comes
from the network.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["FieldShelf"]

_ESM = r"""
let dragging = null;  // the field being dragged (dataTransfer is unreadable during dragover)

function chip(field, extra) {
  const node = document.createElement("span");
  node.className = `qs-chip qs-${field.kind}${extra ? " " + extra : ""}`;
  node.textContent = field.label;
  node.dataset.field = field.name;
  node.title = `${field.label} (${field.kind})`;
  return node;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "qs-root";
  el.appendChild(root);

  function choose(shelf, name) {
    model.set("values", { ...model.get("values"), [shelf]: name });
    model.save_changes();
  }

  function draw() {
    root.replaceChildren();
    const fields = model.get("fields");
    const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
    const values = model.get("values");
    const palette = document.createElement("div");
    palette.className = "qs-fields";
    for (const field of fields) {
      const node = chip(field, "qs-source");
      node.draggable = true;
      node.addEventListener("dragstart", (event) => {
        dragging = field.name;
        event.dataTransfer.setData("text/plain", field.name);
        event.dataTransfer.effectAllowed = "copy";
      });
      node.addEventListener("dragend", () => { dragging = null; });
      palette.appendChild(node);
    }
    const shelves = document.createElement("div");
    shelves.className = "qs-shelves";
    for (const [key, shelf] of Object.entries(model.get("shelves"))) {
      const box = document.createElement("div");
      box.className = "qs-shelf";
      box.dataset.shelf = key;
      const title = document.createElement("div");
      title.className = "qs-shelf-title";
      title.textContent = shelf.label;
      box.appendChild(title);
      const current = values[key] && byName[values[key]];
      if (current) {
        const placed = chip(current, "qs-placed");
        if (shelf.optional) {
          const remove = document.createElement("button");
          remove.className = "qs-remove";
          remove.textContent = "\u00d7";
          remove.title = `Remove ${current.label}`;
          remove.addEventListener("click", () => choose(key, null));
          placed.appendChild(remove);
        }
        box.appendChild(placed);
      } else {
        const hint = document.createElement("span");
        hint.className = "qs-hint";
        hint.textContent = "drop a field here";
        box.appendChild(hint);
      }
      const accepts = (name) => shelf.accepts.includes(name);
      box.addEventListener("dragover", (event) => {
        if (dragging && accepts(dragging)) {
          event.preventDefault();
          event.dataTransfer.dropEffect = "copy";
          box.classList.add("qs-over");
        }
      });
      box.addEventListener("dragleave", () => box.classList.remove("qs-over"));
      box.addEventListener("drop", (event) => {
        event.preventDefault();
        box.classList.remove("qs-over");
        const name = event.dataTransfer.getData("text/plain") || dragging;
        if (accepts(name)) choose(key, name);
      });
      shelves.appendChild(box);
    }
    root.append(palette, shelves);
  }

  model.on("change:fields", draw);
  model.on("change:shelves", draw);
  model.on("change:values", draw);
  draw();
}

export default { render };
"""

_CSS = """
.qs-root { font: 13px/1.4 system-ui, sans-serif; margin: 4px 0 8px; }
.qs-fields { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 6px; }
.qs-chip { display: inline-flex; align-items: center; gap: 4px; padding: 2px 8px; border-radius: 11px;
  border: 1px solid #9aa7b5; background: #f3f6f9; cursor: grab; user-select: none; }
.qs-chip.qs-measure { border-color: #6aa36f; background: #eef7ef; }
.qs-shelves { display: flex; flex-wrap: wrap; gap: 8px; }
.qs-shelf { min-width: 210px; min-height: 46px; padding: 4px 8px; border: 1px dashed #9aa7b5;
  border-radius: 4px; background: #fff; }
.qs-shelf.qs-over { border-style: solid; border-color: #1f5f99; background: #eaf2fb; }
.qs-shelf-title { font-size: 11px; color: #555; text-transform: uppercase; letter-spacing: .04em; }
.qs-hint { color: #888; font-style: italic; }
.qs-remove { border: 0; background: none; cursor: pointer; font-size: 14px; padding: 0 2px; }
"""


class FieldShelf(anywidget.AnyWidget):
    """Fields as draggable chips and shelves to drop them on.

    Traits (synchronised with the page)
    -----------------------------------
    fields : list of dict
        ``{"name", "label", "kind"}`` per field, ``kind`` ``"dimension"`` or ``"measure"``.
    shelves : dict
        Shelf key -> ``{"label", "accepts": [field names], "optional": bool}``.
    values : dict
        Shelf key -> the field on it, or None. The page sets it on a drop; the owner checks it.
    """

    _esm = _ESM
    _css = _CSS
    fields = traitlets.List(traitlets.Dict()).tag(sync=True)
    shelves = traitlets.Dict().tag(sync=True)
    values = traitlets.Dict().tag(sync=True)
