"""The Compare page's scatter charts (app/charts.py): every model in its own colour and
shape, its name beside its point, and models on one spot (bigram and bigram-nn) nudged apart."""

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))
import charts  # noqa: E402

MODELS = ["bigram", "bigram-nn", "mlp", "mlp-bn", "wavenet", "rnn", "gru", "bow", "transformer"]
PARAMS = [729, 729, 11_897, 12_097, 76_579, 17_000, 42_000, 30_000, 55_000]
LOSSES = [2.4544, 2.4571, 2.13, 2.10, 2.02, 2.05, 2.01, 2.20, 1.98]  # the two bigrams: one spot


def table() -> pd.DataFrame:
    return pd.DataFrame({"model": MODELS, "val loss": LOSSES, "params": PARAMS,
                         "seconds": [0.0, 3.1, 6.0, 17.0, 40.0, 12.0, 20.0, 15.0, 30.0], "page": "a page",
                         "config": "its settings", "training": "its recipe", "trained on": "names.txt"})


def marks(spec: dict, kind: str) -> list[dict]:
    return [layer for layer in spec["layer"] if layer["mark"]["type"] == kind]


def test_every_model_has_its_own_strongly_distinct_colour_and_shape():
    for chart in (charts.val_loss_against_params(table()), charts.val_loss_against_time(table())):
        spec = chart.to_dict()  # validates against Vega-Lite's schema
        colors = spec["encoding"]["color"]["scale"]
        assert colors["domain"] == MODELS and len(set(colors["range"])) == len(MODELS)
        assert set(colors["range"]) <= set(charts.MODEL_COLORS)  # strong hues, no pastel look-alikes
        for point in marks(spec, "point"):
            shapes = point["encoding"]["shape"]["scale"]
            assert shapes["domain"] == MODELS and len(set(shapes["range"])) == len(MODELS)


def test_each_point_has_its_name_beside_it_and_models_on_one_spot_are_nudged_apart():
    spec = charts.val_loss_against_params(table()).to_dict()
    texts = marks(spec, "text")
    assert all(t["encoding"]["text"]["field"] == "model" for t in texts)
    places = {row["model"]: row["place"] for row in spec["datasets"][spec["data"]["name"]]}
    assert places["bigram"] != places["bigram-nn"]  # the second bigram's label is not on the first's
    assert len({p["mark"].get("xOffset", 0) for p in marks(spec, "point")}) == 2  # and its point beside it
    ranks = charts.same_spot(table(), "params", 340)
    assert ranks[MODELS.index("bigram")] == 0 and ranks[MODELS.index("bigram-nn")] == 1
    assert (ranks.drop([0, 1]) == 0).all()  # every other model has a spot of its own


# The Compare page's table on the lectures' names with the shipped models (where the labels of
# wavenet and transformer, and of others, lay on each other)
SHIPPED = pd.DataFrame({
    "model": MODELS,
    "val loss": [2.4533, 2.4534, 2.1088, 2.1059, 1.9857, 2.0232, 1.987, 2.0947, 1.9909],
    "params": [729, 729, 11_897, 12_097, 76_579, 23_843, 38_403, 39_067, 60_843],
    "seconds": [0.0, 2.39, 7.67, 15.73, 59.47, 15.24, 24.1, 13.31, 49.46],
    "page": "a page", "config": "its settings", "training": "its recipe", "trained on": "names.txt"})


def label_and_point_boxes(spec: dict, x: str, width: float) -> tuple[dict, dict]:
    """Each model's label and point as (left, top, right, bottom) in pixels on a plot `width` wide,
    computed from the spec as Vega draws it: its scales (log x, linear y, their padding, no nice
    domain), each layer's offsets and alignment, and generous text widths (7.5 px a character)."""
    rows = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    scale_x, scale_y = spec["encoding"]["x"]["scale"], spec["encoding"]["y"]["scale"]
    assert scale_x["type"] == "log" and not scale_x["nice"] and not scale_y["nice"] and not scale_y["zero"]
    height = spec["height"]
    logs = rows[x].map(math.log10)
    px = scale_x["padding"] + (width - 2 * scale_x["padding"]) * (logs - logs.min()) / (logs.max() - logs.min())
    losses = rows["val loss"]
    py = height - scale_y["padding"] - (height - 2 * scale_y["padding"]) * (losses - losses.min()) / (
        losses.max() - losses.min())
    labels, points = {}, {}
    for layer in spec["layer"]:
        chosen = rows.query(layer["transform"][0]["filter"].replace("datum.", "").replace("===", "=="))
        for i, row in chosen.iterrows():
            mark = layer["mark"]
            if mark["type"] == "point":
                cx = px[i] + mark.get("xOffset", 0)
                points[row["model"]] = (cx - 6, py[i] - 6, cx + 6, py[i] + 6)
            else:
                text_width = 7.5 * len(row["model"])
                anchor = px[i] + mark["dx"]
                left = anchor if mark["align"] == "left" else anchor - text_width
                middle = py[i] + mark["dy"]
                labels[row["model"]] = (left, middle - 6, left + text_width, middle + 6)
    return labels, points


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("chart, x", [(charts.val_loss_against_params, "params"),
                                      (charts.val_loss_against_time, "seconds")])
@pytest.mark.parametrize("width", [300, 420, 700])  # half a 1,024 px page's main column, 1,400 px, a wide screen
def test_no_label_lies_on_another_label_or_on_another_models_point(chart, x, width):
    spec = chart(SHIPPED).to_dict()
    labels, points = label_and_point_boxes(spec, x, width)
    assert set(labels) == set(points) == set(MODELS)
    for model, box in labels.items():
        assert not [other for other, theirs in labels.items() if other != model and overlap(box, theirs)], model
        assert not [other for other, theirs in points.items() if other != model and overlap(box, theirs)], model


def contrast_on_white(color: str) -> float:
    """WCAG's contrast ratio of a colour against the white page."""
    def channel(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(int(color[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_every_models_marker_stands_out_on_the_page():
    # the Transformer's was an olive wedge: 2:1 against white, and a sliver
    spec = charts.val_loss_against_params(SHIPPED).to_dict()
    colors = dict(zip(spec["encoding"]["color"]["scale"]["domain"], spec["encoding"]["color"]["scale"]["range"]))
    shapes = marks(spec, "point")[0]["encoding"]["shape"]["scale"]
    shapes = dict(zip(shapes["domain"], shapes["range"]))
    for model in MODELS:
        assert contrast_on_white(colors[model]) >= 3, (model, colors[model])  # WCAG's minimum for graphics
        assert shapes[model] not in ("wedge", "stroke", "arrow", "triangle"), (model, shapes[model])
    assert all(contrast_on_white(c) >= 3 for c in charts.MODEL_COLORS)
