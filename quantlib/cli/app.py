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


def lake_option(role: str = "") -> typer.models.OptionInfo:
    """The ``--lake`` option of every command that takes a lake (resolved by ``resolve_lake``)."""
    return typer.Option(None, "--lake", help="Lake root (default $QUANT_LAKE, else data/demo/<company>/lake)"
                        + (f"; {role}." if role else "."))


def company_option() -> typer.models.OptionInfo:
    """The ``--company`` option that names the default lake ``data/demo/<company>/lake``."""
    return typer.Option(None, "--company", help="Company slug (default $QUANT_COMPANY, else mixed_trades).")


def store_option() -> typer.models.OptionInfo:
    """The ``--store`` option of every command that reads or writes the operational store."""
    return typer.Option(None, "--store", help="Operational store, a SQLite file (default: the PostgreSQL database "
                        "of $QUANT_OPS_DSN, else $QUANT_OPS_DB, else reports/.ops.sqlite).")
