"""The journey Sankey: geometry from the stage counts, drop-off labels equal to the journey's rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.kpi.journey import journey_stages
from quantlib.viz import journey_sankey
from quantlib.viz.flows import sankey_layout
from tests.viz.helpers import aria_labels, marks, render_svg, texts


def _stages(counts: list[int]) -> pd.DataFrame:
    counts = pd.Series(counts, dtype="int64")
    continued = counts.shift(-1).astype("Int64")
    dropped = counts - continued
    return pd.DataFrame({"stage": [f"S{i}" for i in range(len(counts))], "count": counts, "continued": continued,
                         "dropped": dropped, "drop_rate": (dropped.astype(float) / counts).to_numpy(dtype=float,
                                                                                                   na_value=np.nan)})


def test_demo_journey_renders_with_drop_rates_of_journey_stages(gold):
    stages = journey_stages(gold)
    svg = render_svg(journey_sankey(stages))
    words = texts(svg)
    assert [w for w in words if w in set(stages["stage"])] == stages["stage"].tolist()
    for count in stages["count"]:
        assert f"{count:,}" in words
    drop_labels = [w for w in words if " lost (" in w]
    expected = [f"{rate:.1%} lost ({lost:,})" for rate, lost in zip(stages["drop_rate"][:-1], stages["dropped"][:-1])]
    assert drop_labels == expected
    lost_bands = int((stages["dropped"][:-1] > 0).sum())
    assert len(marks(svg, "area")) == (len(stages) - 1) + lost_bands
    assert len(marks(svg, "rect")) == len(stages) + lost_bands
    assert any("Customer journey" in w for w in words)


def test_drop_label_data_equals_the_rates():
    stages = _stages([100, 80, 20, 20, 15])
    layout = sankey_layout(stages)
    np.testing.assert_allclose(layout.drops["drop_rate"], [0.2, 0.75, 0.0, 0.25])
    assert layout.drops["label"].tolist() == ["20.0% lost (20)", "75.0% lost (60)", "0.0% lost (0)", "25.0% lost (5)"]


def test_band_geometry_follows_the_counts():
    stages = _stages([100, 80, 20, 20, 15])
    layout = sankey_layout(stages, samples=21)
    nodes = layout.nodes.set_index("name")
    stage_nodes = nodes[nodes["kind"] == "stage"]
    np.testing.assert_allclose(stage_nodes["y2"] - stage_nodes["y"], [100, 80, 20, 20, 15])
    for band, group in layout.bands.groupby("band", sort=False):
        thickness = (group["y2"] - group["y"]).to_numpy()
        first, last = group.iloc[0], group.iloc[-1]
        i = int(band.split("-")[0])
        if band.endswith("continued"):
            # Leaves the top of its node and covers the next node exactly.
            assert first["y2"] == pytest.approx(stage_nodes["y2"].iloc[i])
            following = stage_nodes.iloc[i + 1]
            assert (last["y"], last["y2"]) == pytest.approx((following["y"], following["y2"]))
            np.testing.assert_allclose(thickness, stages["count"].iloc[i + 1])
        else:
            # Leaves the bottom of its node, as thick as the customers lost there.
            assert first["y"] == pytest.approx(stage_nodes["y"].iloc[i])
            np.testing.assert_allclose(thickness, stages["dropped"].iloc[i])
        # A smooth S-curve: the edges move monotonically, flat at both ends.
        steps = np.diff(group["y"].to_numpy())
        assert (steps <= 1e-9).all() or (steps >= -1e-9).all()
        assert abs(steps[0]) <= abs(steps[len(steps) // 2]) + 1e-9
    assert layout.bands.groupby("band").size().eq(21).all()
    # No band for a stage that loses nobody; every lost band ends in a sink below all nodes.
    assert "2-lost" not in set(layout.bands["band"])
    assert (nodes.loc[nodes["kind"] == "lost", "y2"] < stage_nodes["y"].min()).all()


def test_a_stage_that_multiplies_draws_no_negative_loss():
    stages = _stages([10, 12, 6])  # more quotes than leads: one lead got two quotes
    assert stages["dropped"].iloc[0] == -2
    layout = sankey_layout(stages)
    assert "0-lost" not in set(layout.bands["band"])
    band = layout.bands[layout.bands["band"] == "0-continued"]
    assert (band["y2"] - band["y"]).iloc[0] == pytest.approx(10)
    assert (band["y2"] - band["y"]).iloc[-1] == pytest.approx(12)
    svg = render_svg(journey_sankey(stages, title="Multiplying"))
    assert any("To: S1" in label for label in aria_labels(svg))


def test_a_journey_needs_two_stages():
    with pytest.raises(ValueError, match="two stages"):
        sankey_layout(_stages([10]))
