"""The Compare page's Altair charts, in the manner of charts.py: a small DataFrame in, a chart out,
a tooltip on every mark, and the same colour for the same model on every chart of the page."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

TOOLTIP = [alt.Tooltip("model:N"), alt.Tooltip("page:N"), alt.Tooltip("config:N", title="settings"),
           alt.Tooltip("training:N"), alt.Tooltip("params:Q", title="parameters", format=","),
           alt.Tooltip("val loss:Q", format=".4f"), alt.Tooltip("seconds:Q", title="trained in (s)", format=".2f")]


def model_color(models) -> alt.Color:
    """One colour per model, in the table's order, on every chart."""
    return alt.Color("model:N", sort=list(models), title="model",
                     scale=alt.Scale(domain=list(models), scheme="tableau10"))


def val_loss_against(df: pd.DataFrame, x: str, x_title: str, title: str, x_format: str) -> alt.Chart:
    """df: the comparison table (model, page, config, training, params, val loss, seconds); one
    point per model, x on a log scale with a tick at each power of ten."""
    df = df.assign(seconds=df["seconds"].clip(lower=0.01))  # a log scale has no 0: a count table takes ~0 s
    low, high = math.floor(math.log10(df[x].min())), math.ceil(math.log10(df[x].max()))
    powers = [10.0**k for k in range(low, high + 1)] if df[x].nunique() > 1 else alt.Undefined  # else: its value
    base = alt.Chart(df, title=title).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(type="log", nice=False, padding=20),
                axis=alt.Axis(values=powers, format=x_format)),
        y=alt.Y("val loss:Q", title="val loss", scale=alt.Scale(zero=False, padding=12)),
    )
    # no text labels: models with the same size or time would write over each other; the legend names them
    return base.mark_circle(size=140, opacity=0.9).encode(color=model_color(df["model"]), tooltip=TOOLTIP
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
