"""The Compare page's Altair charts, in the manner of charts.py: a small DataFrame in, a chart out,
a tooltip on every mark, and the same colour (and shape) for the same model on every chart of the page."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

TOOLTIP = [alt.Tooltip("model:N"), alt.Tooltip("page:N"), alt.Tooltip("config:N", title="settings"),
           alt.Tooltip("training:N"), alt.Tooltip("params:Q", title="parameters", format=","),
           alt.Tooltip("val loss:Q", format=".4f"), alt.Tooltip("seconds:Q", title="trained in (s)", format=".2f")]


# Category10: ten strongly distinct hues (the theme's own palette has pastel ones that look alike),
# and a shape for each model as well, so that two models stay apart in colour and in form.
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf"]
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "triangle-right", "triangle-left",
          "wedge"]
NUDGE = 7  # pixels between the points (sideways) and the labels (down) of models that sit on one spot
LABEL_GAP = 13  # a label's line height


def cycled(values: list, n: int) -> list:
    return [values[i % len(values)] for i in range(n)]


def model_color(models) -> alt.Color:
    """One colour per model, in the table's order, on every chart."""
    models = list(models)
    return alt.Color("model:N", sort=models, title="model",
                     scale=alt.Scale(domain=models, range=cycled(COLORS, len(models))))


def model_shape(models) -> alt.Shape:
    """One point shape per model, in the table's order (with 10 colours and 9 shapes, the first 90
    models differ in one or the other)."""
    models = list(models)
    return alt.Shape("model:N", sort=models, title="model",
                     scale=alt.Scale(domain=models, range=cycled(SHAPES, len(models))))


def same_spot(df: pd.DataFrame, x: str) -> pd.Series:
    """Each model's rank among the models drawn on (almost) the same spot, in the table's order: 0
    for the first, 1 for the next... (bigram and bigram-nn: the same 729 parameters, about the same
    loss). Near: within 12 % of the chart's width (a label's length, about) and 5 % of its height."""
    log_x, loss = df[x].map(math.log10).tolist(), df["val loss"].tolist()
    near_x = max(0.05, 0.12 * (max(log_x) - min(log_x)))
    near_y = max(0.005, 0.05 * (max(loss) - min(loss)))
    ranks = [sum(abs(log_x[i] - log_x[j]) < near_x and abs(loss[i] - loss[j]) < near_y for j in range(i))
             for i in range(len(df))]
    return pd.Series(ranks, index=df.index)


def val_loss_against(df: pd.DataFrame, x: str, x_title: str, title: str, x_format: str) -> alt.LayerChart:
    """df: the comparison table (model, page, config, training, params, val loss, seconds); one
    point per model, each in its colour and shape, its name beside it; x on a log scale with a tick
    at each power of ten. Models on one spot are nudged apart: their points sideways, their labels
    one below the other."""
    df = df.assign(seconds=df["seconds"].clip(lower=0.01))  # a log scale has no 0: a count table takes ~0 s
    df = df.assign(spot=same_spot(df, x))
    low, high = math.floor(math.log10(df[x].min())), math.ceil(math.log10(df[x].max()))
    powers = [10.0**k for k in range(low, high + 1)] if df[x].nunique() > 1 else alt.Undefined  # else: its value
    layers, top = [], int(df["spot"].max())
    for k in range(top + 1):  # a layer per rank: a mark's offsets are the same for all its points
        mine = alt.datum.spot == k
        layers.append(alt.Chart().mark_point(size=140, opacity=0.9, filled=True, xOffset=k * NUDGE)
                      .encode(shape=model_shape(df["model"])).transform_filter(mine))
        # every label starts past the last nudged point, lower for each rank
        layers.append(alt.Chart().mark_text(align="left", baseline="middle", dx=10 + top * NUDGE, dy=k * LABEL_GAP,
                                            fontSize=11)
                      .encode(text="model:N").transform_filter(mine))
    return alt.layer(*layers, data=df, title=title).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(type="log", nice=False, padding=20),
                axis=alt.Axis(values=powers, format=x_format)),
        y=alt.Y("val loss:Q", title="val loss", scale=alt.Scale(zero=False, padding=12)),
        color=model_color(df["model"]), tooltip=TOOLTIP,
    ).properties(height=340)


def val_loss_against_params(df: pd.DataFrame) -> alt.Chart:
    return val_loss_against(df, "params", "parameters (log scale)", "Val loss against the number of parameters",
                            "~s")  # 1k, 10k


def val_loss_against_time(df: pd.DataFrame) -> alt.Chart:
    return val_loss_against(df, "seconds", "training time in seconds (log scale)", "Val loss against training time",
                            "~g")  # 0.01, 0.1, 1


def loss_by_position(df: pd.DataFrame, models) -> alt.Chart:
    """df: model, position, loss, words; one line per model."""
    return (
        alt.Chart(df, title="Loss at each position of a word (val words)")
        .mark_line(point=True, opacity=0.85)
        .encode(
            x=alt.X("position:O", title="position in the word (1 = first character; the last: its end)",
                    axis=alt.Axis(labelAngle=0)),
            y=alt.Y("loss:Q", title="mean loss (−log P)", scale=alt.Scale(zero=False)),
            color=model_color(models),
            tooltip=[alt.Tooltip("model:N"), alt.Tooltip("position:O"), alt.Tooltip("loss:Q", format=".4f"),
                     alt.Tooltip("words:Q", title="val words that reach it", format=",")],
        )
        .properties(height=340)
    )
