"""The render step of a scheduled run, as a child process the runner can kill.

``python -m quantlib.schedule.render_step REQUEST.json`` renders an executed notebook to the
outputs the request names (HTML in-process with nbconvert, PDF through Quarto or pandoc and
Typst) and prints ``{"html": "report.html", ...}`` as JSON. On failure it prints one line to
stderr and exits 1. The runner starts it in a new session so that, on timeout, killing the
process group also stops every Quarto, pandoc or Typst process it started.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Render what the request file asks; returns the exit status."""
    from quantlib.publish.render import ReportMeta, render_html, render_pdf

    argv = sys.argv[1:] if argv is None else argv
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    executed, folder = Path(request["executed"]), Path(request["folder"])
    meta = ReportMeta(**request["meta"])
    files = {}
    try:
        if "html" in request["outputs"]:
            files["html"] = render_html(executed, folder / request["outputs"]["html"], meta).name
        if "pdf" in request["outputs"]:
            files["pdf"] = render_pdf(executed, folder / request["outputs"]["pdf"], meta).name
    except Exception as exc:  # noqa: BLE001 - reported to the runner as one line
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{type(exc).__name__}: {text}", file=sys.stderr)
        return 1
    print(json.dumps(files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
