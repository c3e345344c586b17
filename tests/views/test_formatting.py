import math

import pytest

from quantlib.views.formatting import format_kpi_value


@pytest.mark.parametrize("value,unit,text", [
    (41235.4, "currency", "$41,235"), (-12.6, "currency", "-$13"), (0.3061, "ratio", "30.6%"),
    (24.34, "days", "24.3 d"), (12.45, "hours", "12.4 h"), (1234.0, "count", "1,234"), (8.14, "rating", "8.1"),
    (None, "ratio", "n/a"), (math.nan, "currency", "n/a"),
])
def test_format_kpi_value(value, unit, text):
    assert format_kpi_value(value, unit) == text


def test_missing_text_is_configurable():
    assert format_kpi_value(None, "ratio", missing="–") == "–"
