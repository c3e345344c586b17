"""Publishing: execute parameterised notebooks, render them to HTML and PDF, index the runs.

One module per job: :mod:`~quantlib.publish.parameters` (typed parameters, validated before a
kernel starts), :mod:`~quantlib.publish.execute` (papermill, one-line errors),
:mod:`~quantlib.publish.render` (HTML and PDF without code or network), and
:mod:`~quantlib.publish.index` (run records and ``reports/index.html``).
Heavy imports (nbconvert, typst) happen inside the functions that need them.
"""

from quantlib.publish.execute import ExecutionResult, NotebookExecutionError, NotebookTimeoutError, execute_notebook
from quantlib.publish.parameters import (NotebookParameters, ParameterError, check_parameters_cell,
                                         load_parameter_file, parameters_cell, parameters_model,
                                         register_parameters, validate_parameters)

__all__ = [
    "ExecutionResult", "NotebookExecutionError", "NotebookParameters", "NotebookTimeoutError", "ParameterError",
    "check_parameters_cell", "execute_notebook", "load_parameter_file", "parameters_cell", "parameters_model",
    "register_parameters", "validate_parameters",
]
