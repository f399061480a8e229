"""Every chart builder of app/charts.py makes a valid Vega-Lite chart without Altair's schema lookup:
a shorthand string (x="step:Q"), a list of them or alt.condition's dict costs a re-index of Altair's
whole schema, about 7 ms each, which every page view of every student paid several times a chart."""

import inspect
import sys
from pathlib import Path

import pandas as pd
import pytest
from altair.utils import schemapi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))
import charts  # noqa: E402

LOSSES = pd.DataFrame({"step": [1, 2, 3, 3], "loss": [3.2, 2.9, 2.7, 2.8], "split": ["train"] * 3 + ["val"]})
WORD = pd.DataFrame({"position": [0, 0, 1, 1], "char": [".", ".", "a", "a"], "prefix": [".", ".", ".a", ".a"],
                     "unit": [0, 1, 0, 1], "value": [0.1, -0.5, 0.7, 0.2]})
ATTENTION = pd.DataFrame({"query": [0, 1, 1], "key": [0, 0, 1], "query_char": [".", "a", "a"],
                          "key_char": [".", ".", "a"], "prefix": [".", ".a", ".a"], "value": [1.0, 0.4, 0.6],
                          "masked": [False, False, False], "head": [0, 0, 0], "weight": [1.0, 0.4, 0.6]})
TABLE = pd.DataFrame({"model": ["bigram", "mlp"], "page": "a page", "config": "settings", "training": "recipe",
                      "params": [729, 11_897], "val loss": [2.45, 2.13], "seconds": [0.1, 6.0]})

EXAMPLES = {
    "length_histogram": lambda: charts.length_histogram(pd.DataFrame({"length": [3, 4], "words": [10, 20]})),
    "char_frequency": lambda: charts.char_frequency(pd.DataFrame({"char": ["a", "b"], "count": [5, 3],
                                                                  "share": [0.6, 0.4]})),
    "first_last_chars": lambda: charts.first_last_chars(pd.DataFrame({"char": ["a", "a"], "position": ["first", "last"],
                                                                      "words": [4, 2]})),
    "pair_heatmap": lambda: charts.pair_heatmap(pd.DataFrame({"prev": [".", "a"], "next": ["a", "."],
                                                              "pair": [".a", "a."], "count": [3, 1],
                                                              "prob": [0.75, 0.25]})),
    "loss_curve": lambda: charts.loss_curve(LOSSES, reference=2.45, reference_label="counts", log_y=True,
                                            mark_step=2, mark_label="lowest val", shade_label="memorising"),
    "memorising_marks": lambda: charts.memorising_marks(2, 3, "lowest val", "memorising"),
    "weights_vs_counts": lambda: charts.weights_vs_counts(pd.DataFrame({"pair": [".a"], "count_logprob": [-1.0],
                                                                        "net_logprob": [-1.1]})),
    "lr_sweep": lambda: charts.lr_sweep(pd.DataFrame({"exponent": [-3.0, -1.0], "loss": [3.0, 2.5],
                                                      "smoothed": [3.0, 2.6]}), -1.0, (-3.0, 0.0)),
    "embedding_scatter": lambda: charts.embedding_scatter(pd.DataFrame({"char": ["a"], "x": [0.1], "y": [0.2],
                                                                        "nearest": ["b"]}), "dim 0", "dim 1"),
    "live_loss": lambda: charts.live_loss(LOSSES),
    "layer_histograms": lambda: charts.layer_histograms(pd.DataFrame({"layer": ["1"], "value": [0.5], "share": [1.0],
                                                                      "summary": ["mean 0"]}), "tanh", "t"),
    "saturation_bars": lambda: charts.saturation_bars(pd.DataFrame({"layer": ["1"], "saturation": [0.2],
                                                                    "mean": [0.0], "std": [0.6]}), 0.97),
    "grad_data_ratios": lambda: charts.grad_data_ratios(pd.DataFrame({"weight": ["W1"], "ratio": [1e-3]})),
    "update_ratios": lambda: charts.update_ratios(pd.DataFrame({"step": [1, 2], "weight": ["W1", "W1"],
                                                                "log_ratio": [-3.1, -2.9]}), 2),
    "initial_losses": lambda: charts.initial_losses(pd.DataFrame({"run": ["1"], "initial": [3.3]}), 3.296),
    "gradient_heatmap": lambda: charts.gradient_heatmap(pd.DataFrame({"example": [0], "char": ["a"], "grad": [-0.1],
                                                                      "prob": [0.9], "target": ["a"]}), "dlogits"),
    "two_runs": lambda: charts.two_runs(pd.DataFrame({"step": [1, 1], "loss": [3.0, 3.0],
                                                      "run": ["autograd", "manual"]}), "t"),
    "receptive_tree": lambda: charts.receptive_tree(
        pd.DataFrame({"level": [0, 1], "x": [0.0, 0.0], "char": ["a", ""], "reads": ["a", "a"],
                      "about": ["input", "unit"], "kind": ["input", "unit"]}),
        pd.DataFrame({"x": [0.0], "level": [1], "x2": [0.0], "level2": [0]}), ["input", "unit"], "t"),
    "position_axis": lambda: charts.position_axis(WORD),
    "unit_heatmap": lambda: charts.unit_heatmap(WORD, "t", "h", (-1, 1)),
    "next_char_heatmap": lambda: charts.next_char_heatmap(WORD.assign(rank=1, candidate="a", prob=0.5, actual="a")),
    "gradient_norms": lambda: charts.gradient_norms(WORD.assign(model="rnn", state="trained", cell="RNN",
                                                                norm=[1.0, 1.0, 0.5, 0.5]), "t"),
    "val_losses": lambda: charts.val_losses(pd.DataFrame({"model": ["a", "b"], "val": [2.1, 2.2],
                                                          "highlight": [True, False]}), "t"),
    "attention_map": lambda: charts.attention_map(ATTENTION, "t", "weight", masked_text="-"),
    "attention_heads": lambda: charts.attention_heads(ATTENTION, "t"),
    "model_color": lambda: charts.model_color(TABLE["model"]),
    "model_shape": lambda: charts.model_shape(TABLE["model"]),
    "val_loss_against": lambda: charts.val_loss_against(TABLE, "params", "parameters", "t", "~s"),
    "val_loss_against_params": lambda: charts.val_loss_against_params(TABLE),
    "val_loss_against_time": lambda: charts.val_loss_against_time(TABLE),
    "loss_by_position": lambda: charts.loss_by_position(pd.DataFrame({"model": ["mlp"], "position": [1],
                                                                      "loss": [2.0], "words": [9]}), ["mlp"]),
    "room_runs": lambda: charts.room_runs(TABLE.assign(nickname="ada", stage="MLP", settings="x"), ["MLP"]),
    "poll_predictions": lambda: charts.poll_predictions(pd.DataFrame({"from": [2.1, 2.2], "to": [2.15, 2.25],
                                                                      "predictions": [1, 2], "who": ["ada", "bob, cy"]}),
                                                        2.13),
}


def builders() -> list[str]:
    """charts' functions that return an Altair chart, layers or channel."""
    return sorted(name for name, f in inspect.getmembers(charts, inspect.isfunction)
                  if f.__module__ == "charts" and "altair" in str(inspect.signature(f).return_annotation)
                  and name not in PARTS)


PARTS = {"color_when", "split_color", "loss_scale", "_attention_axes"}  # pieces of the charts above


def test_every_chart_builder_has_an_example_here():
    assert builders() == sorted(EXAMPLES)


@pytest.fixture
def schema_lookups(monkeypatch):
    made = []
    original = schemapi._FromDict.__init__

    def counting(self, *args, **kwargs):
        made.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(schemapi._FromDict, "__init__", counting)
    return made


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_chart_is_built_and_drawn_without_a_schema_lookup(name, schema_lookups):
    made = EXAMPLES[name]()
    if isinstance(made, list):  # layers for another chart
        import altair as alt
        made = alt.layer(*made)
    if hasattr(made, "to_dict") and name not in ("position_axis", "model_color", "model_shape"):
        spec = made.to_dict()  # validated against Vega-Lite's schema
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert schema_lookups == []


def test_the_lookup_counted_here_is_the_one_shorthand_pays(schema_lookups):
    import altair as alt
    alt.Chart(LOSSES).mark_line().encode(x="step:Q")
    assert len(schema_lookups) == 1
