"""The ``quant`` command-line application (typer). Sub-commands live in sibling modules."""

import typer

app = typer.Typer(
    name="quant",
    help="Quant: analytics workspace for field-service companies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Quant: analytics workspace for field-service companies."""
