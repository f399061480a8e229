"""The Compare page's scatter charts (app/charts.py): every model in its own colour and
shape, its name beside its point, and models on one spot (bigram and bigram-nn) nudged apart."""

import sys
from pathlib import Path

import pandas as pd

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
        assert set(colors["range"]) <= set(charts.MODEL_COLORS)  # category10, no pastel look-alikes
        for point in marks(spec, "point"):
            shapes = point["encoding"]["shape"]["scale"]
            assert shapes["domain"] == MODELS and len(set(shapes["range"])) == len(MODELS)


def test_each_point_has_its_name_beside_it_and_models_on_one_spot_are_nudged_apart():
    spec = charts.val_loss_against_params(table()).to_dict()
    texts = marks(spec, "text")
    assert all(t["encoding"]["text"]["field"] == "model" for t in texts)
    assert len(texts) == 2  # one label layer per rank on a spot: the bigrams share one
    offsets = {(t["mark"]["dx"], t["mark"].get("dy", 0)) for t in texts}
    assert len(offsets) == 2  # the second bigram's label sits below the first's, not on it
    assert len({p["mark"].get("xOffset", 0) for p in marks(spec, "point")}) == 2  # and its point beside it
    ranks = charts.same_spot(table(), "params")
    assert ranks[MODELS.index("bigram")] == 0 and ranks[MODELS.index("bigram-nn")] == 1
    assert (ranks.drop([0, 1]) == 0).all()  # every other model has a spot of its own
