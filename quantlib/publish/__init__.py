"""Publishing: execute parameterised notebooks, render them to HTML and PDF, index the runs, send them.

One module per job: :mod:`~quantlib.publish.execute` (papermill, one-line errors),
:mod:`~quantlib.publish.render` (HTML and PDF without code or network),
:mod:`~quantlib.publish.index` (run records and ``reports/index.html``) and
:mod:`~quantlib.publish.distribute` (who gets what, through :mod:`quantlib.notify`). The typed
notebook parameters, validated before a kernel starts, are :mod:`quantlib.parameters`.
Heavy imports (nbconvert, typst) happen inside the functions that need them.
"""

__all__ = ["ExecutionResult", "NotebookExecutionError", "NotebookTimeoutError", "execute_notebook"]


def __getattr__(name: str):
    # Lazy (PEP 562): the CLI imports quantlib.publish.secrets, and nbformat with jsonschema
    # (about 2 s) must not load for `quant --help`.
    if name in __all__:
        from quantlib.publish import execute

        return getattr(execute, name)
    raise AttributeError(f"module 'quantlib.publish' has no attribute {name!r}")
