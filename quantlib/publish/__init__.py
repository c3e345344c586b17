"""Publishing: execute parameterised notebooks, render them to HTML and PDF, index the runs, send them.

One module per job: :mod:`~quantlib.publish.execute` (papermill, one-line errors),
:mod:`~quantlib.publish.render` (HTML and PDF without code or network),
:mod:`~quantlib.publish.index` (run records and ``reports/index.html``) and
:mod:`~quantlib.publish.distribute` (who gets what, through :mod:`quantlib.notify`). The typed
notebook parameters, validated before a kernel starts, are :mod:`quantlib.parameters`.
Heavy imports (nbconvert, typst) happen inside the functions that need them.
"""

from quantlib.publish.execute import ExecutionResult, NotebookExecutionError, NotebookTimeoutError, execute_notebook

__all__ = ["ExecutionResult", "NotebookExecutionError", "NotebookTimeoutError", "execute_notebook"]
