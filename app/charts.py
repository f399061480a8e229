"""Altair chart builders. Each takes a small, pre-aggregated pandas DataFrame and returns a chart;
every mark has a tooltip, and a split has the same colour on every page."""

import altair as alt
import pandas as pd

SPLIT_COLORS = {"train": "#4c78a8", "val": "#f58518", "test": "#54a24b", "reference": "#888888"}
ACCENT = "#4c78a8"


def split_color(domain) -> alt.Scale:
    domain = list(domain)
    return alt.Scale(domain=domain, range=[SPLIT_COLORS.get(d, ACCENT) for d in domain])


def length_histogram(df: pd.DataFrame) -> alt.Chart:
    """df: length, words."""
    return (
        alt.Chart(df, title="Word lengths")
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("length:O", title="characters in the word", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("words:Q", title="words"),
            tooltip=[alt.Tooltip("length:O", title="length"), alt.Tooltip("words:Q", format=",")],
        )
    )


def char_frequency(df: pd.DataFrame) -> alt.Chart:
    """df: char, count, share."""
    return (
        alt.Chart(df, title="How often each character occurs")
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("char:N", sort="-y", title="character", axis=alt.Axis(labelAngle=0, labelOverlap=False)),
            y=alt.Y("count:Q", title="occurrences"),
            tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("count:Q", format=","),
                     alt.Tooltip("share:Q", format=".1%")],
        )
    )


def first_last_chars(df: pd.DataFrame) -> alt.Chart:
    """df: char, position ("first" / "last"), words."""
    return (
        alt.Chart(df, title="Characters that start and end words")
        .mark_bar()
        .encode(
            x=alt.X("char:N", title="character", axis=alt.Axis(labelAngle=0, labelOverlap=False)),
            xOffset="position:N",
            y=alt.Y("words:Q", title="words"),
            color=alt.Color("position:N", title="position",
                            scale=alt.Scale(domain=["first", "last"], range=[ACCENT, "#e45756"])),
            tooltip=[alt.Tooltip("char:N", title="character"), "position:N",
                     alt.Tooltip("words:Q", format=",")],
        )
    )


def pair_heatmap(df: pd.DataFrame) -> alt.LayerChart:
    """df: prev, next, pair, count, prob. The lecture's count matrix: one cell per character
    pair, labelled with the pair and its count, darker where the pair is more common."""
    order = list(dict.fromkeys(df["prev"]))
    labelled = len(order) <= 32  # past that the labels no longer fit; the tooltips still tell
    size = (30 if labelled else 14) * len(order)
    base = alt.Chart(df).encode(
        x=alt.X("next:N", sort=order, title="next character",
                axis=alt.Axis(orient="top", labelAngle=0, labelOverlap=False)),
        y=alt.Y("prev:N", sort=order, title="previous character", axis=alt.Axis(labelOverlap=False)),
    )
    tooltip = [alt.Tooltip("pair:N", title="pair"), alt.Tooltip("count:Q", format=","),
               alt.Tooltip("prob:Q", title="P(next | previous)", format=".3f")]
    heat = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues", type="sqrt"), legend=None),
        tooltip=tooltip,
    )
    layers = [heat]
    if labelled:
        # dark text on pale cells, white on dark ones
        ink = alt.condition(alt.datum.count > df["count"].max() * 0.3, alt.value("white"), alt.value("#333333"))
        layers.append(base.mark_text(dy=-6, fontSize=10).encode(text="pair:N", color=ink, tooltip=tooltip))
        layers.append(base.mark_text(dy=7, fontSize=8).encode(text="count:Q", color=ink, tooltip=tooltip))
    # "pad": cells keep their size and the axes go around them (Streamlit's default "fit" would
    # squeeze the axes and titles into the same box, flattening small matrices)
    return alt.layer(*layers).properties(width=size, height=size, autosize=alt.AutoSizeParams(type="pad"))


def loss_scale(losses: pd.Series, log_y: bool, reference: float | None = None) -> alt.Scale:
    """Fit the axis to the data: a "nice" log axis would round 2.1-3.3 out to 1-10 and flatten it."""
    if not log_y:
        return alt.Scale(zero=False)
    values = [losses.min(), losses.max()] + ([reference] if reference is not None else [])
    return alt.Scale(type="log", domain=[min(values) * 0.97, max(values) * 1.03], nice=False)


def loss_curve(df: pd.DataFrame, reference: float | None = None, reference_label: str = "",
               log_y: bool = False, title: str = "Loss", y_title: str = "loss (NLL)") -> alt.LayerChart:
    """df: step, loss, split ("train" per step, "val" at evaluations). A dashed rule marks a
    reference loss (for example what the counting model scores)."""
    splits = list(dict.fromkeys(df["split"]))
    color = alt.Color("split:N", title=None, scale=split_color(splits))
    y = alt.Y("loss:Q", title=y_title, scale=loss_scale(df["loss"], log_y, reference))
    tooltip = [alt.Tooltip("step:Q", format=","), "split:N", alt.Tooltip("loss:Q", format=".4f")]
    lines = alt.Chart(df, title=title).mark_line().encode(
        x=alt.X("step:Q", title="step"), y=y, color=color, tooltip=tooltip)
    points = alt.Chart(df[df["split"] != "train"]).mark_point(filled=True, size=30).encode(
        x="step:Q", y=y, color=color, tooltip=tooltip)
    layers = [lines, points]
    if reference is not None:
        ref = pd.DataFrame({"loss": [reference], "step": [df["step"].max()],
                            "label": [f"{reference_label}: {reference:.4f}"]})
        tip = [alt.Tooltip("label:N", title="reference")]
        rule = alt.Chart(ref).mark_rule(strokeDash=[6, 4], color=SPLIT_COLORS["reference"])
        text = alt.Chart(ref).mark_text(align="right", dy=-7, color=SPLIT_COLORS["reference"])
        layers += [rule.encode(y=y, tooltip=tip), text.encode(x="step:Q", y=y, text="label:N", tooltip=tip)]
    return alt.layer(*layers)


def weights_vs_counts(df: pd.DataFrame) -> alt.LayerChart:
    """df: pair, count_logprob, net_logprob. One point per character pair; on the diagonal the
    network has learned exactly the counts' log-probabilities."""
    lo = float(min(df["count_logprob"].min(), df["net_logprob"].min()))
    diagonal = pd.DataFrame({"x": [lo, 0.0], "y": [lo, 0.0]})
    points = alt.Chart(df, title="Learned W against the counts").mark_circle(size=28, opacity=0.6).encode(
        x=alt.X("count_logprob:Q", title="log P(next | prev) from counts"),
        y=alt.Y("net_logprob:Q", title="log softmax(W) row of the network"),
        tooltip=[alt.Tooltip("pair:N", title="pair"),
                 alt.Tooltip("count_logprob:Q", title="counts", format=".3f"),
                 alt.Tooltip("net_logprob:Q", title="network", format=".3f")],
    )
    line = alt.Chart(diagonal).mark_line(strokeDash=[4, 4], color=SPLIT_COLORS["reference"]).encode(
        x="x:Q", y="y:Q")
    return alt.layer(line, points).properties(height=360)


def lr_sweep(df: pd.DataFrame, suggested_exponent: float) -> alt.LayerChart:
    """df: exponent, loss, smoothed. The learning-rate finder's curve, with the suggestion marked."""
    x = alt.X("exponent:Q", title="log10(learning rate)")
    tooltip = [alt.Tooltip("exponent:Q", title="log10(lr)", format=".2f"),
               alt.Tooltip("lr:Q", title="learning rate", format=".4g"),
               alt.Tooltip("loss:Q", title="minibatch loss", format=".3f"),
               alt.Tooltip("smoothed:Q", title="smoothed", format=".3f")]
    data = df.assign(lr=10 ** df["exponent"])
    base = alt.Chart(data, title="Loss while the learning rate grows, one step at each rate")
    raw = base.mark_line(opacity=0.3, color=ACCENT).encode(
        x=x, y=alt.Y("loss:Q", title="loss", scale=alt.Scale(zero=False)), tooltip=tooltip)
    smooth = base.mark_line(color=ACCENT, strokeWidth=2.5).encode(x=x, y="smoothed:Q", tooltip=tooltip)
    mark = pd.DataFrame({"exponent": [suggested_exponent],
                         "label": [f"suggested: {10 ** suggested_exponent:.3g}"]})
    rule = alt.Chart(mark).mark_rule(color=SPLIT_COLORS["val"], strokeWidth=2).encode(
        x="exponent:Q", tooltip=[alt.Tooltip("label:N", title="learning rate")])
    text = alt.Chart(mark).mark_text(align="left", dx=5, dy=-110, color=SPLIT_COLORS["val"]).encode(
        x="exponent:Q", text="label:N")
    return alt.layer(raw, smooth, rule, text).properties(height=300)


def embedding_scatter(df: pd.DataFrame, x_title: str, y_title: str) -> alt.LayerChart:
    """df: char, x, y, nearest. One labelled point per character of the embedding table."""
    tooltip = [alt.Tooltip("char:N", title="character"), alt.Tooltip("x:Q", format=".3f"),
               alt.Tooltip("y:Q", format=".3f"), alt.Tooltip("nearest:N", title="nearest")]
    base = alt.Chart(df, title="The learned embedding of every character").encode(
        x=alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False, padding=20)),
        y=alt.Y("y:Q", title=y_title, scale=alt.Scale(zero=False, padding=20)),
        tooltip=tooltip,
    )
    dots = base.mark_circle(size=420, color=ACCENT, opacity=0.85)
    labels = base.mark_text(color="white", fontWeight="bold", fontSize=13).encode(text="char:N")
    return alt.layer(dots, labels).properties(height=460)


def live_loss(df: pd.DataFrame) -> alt.LayerChart:
    """df as for loss_curve. A lighter chart for the live view, redrawn every second while a model
    trains: two layers only, because building the chart holds the Python lock that the training
    thread needs too (loss_curve with its reference rule costs four times as much)."""
    y = alt.Y("loss:Q", title="loss (NLL, log scale)", scale=loss_scale(df["loss"], log_y=True))
    color = alt.Color("split:N", title=None, scale=split_color(["train", "val"]))
    tooltip = [alt.Tooltip("step:Q", format=","), "split:N", alt.Tooltip("loss:Q", format=".4f")]
    base = alt.Chart(df, title="Loss so far (live)").encode(x=alt.X("step:Q", title="step"), y=y, color=color,
                                                           tooltip=tooltip)
    return alt.layer(base.mark_line().transform_filter(alt.datum.split == "train"),
                     base.mark_point(filled=True, size=40).transform_filter(alt.datum.split == "val"))


# --- activations, gradients and BatchNorm (lecture 3) ------------------------------------------

def layer_histograms(df: pd.DataFrame, x_title: str, title: str) -> alt.Chart:
    """df: layer, value (bin centre), share (of the layer's values in that bin), summary (one line
    about the layer). One line per layer, drawn over each other as the lecture does."""
    tooltip = [alt.Tooltip("layer:N"), alt.Tooltip("summary:N", title="whole layer"),
               alt.Tooltip("value:Q", title="bin centre", format=".3g"),
               alt.Tooltip("share:Q", title="share of values", format=".1%")]
    return (
        alt.Chart(df, title=title)
        .mark_line(interpolate="step", strokeWidth=1.8)
        .encode(
            x=alt.X("value:Q", title=x_title),
            y=alt.Y("share:Q", title="share of values", axis=alt.Axis(format="%")),
            color=alt.Color("layer:N", title=None, sort=list(dict.fromkeys(df["layer"]))),
            tooltip=tooltip,
        )
        .properties(height=280)
    )


def saturation_bars(df: pd.DataFrame, threshold: float) -> alt.Chart:
    """df: layer, saturation, mean, std. The share of each tanh layer's outputs stuck near ±1."""
    return (
        alt.Chart(df, title=f"Saturated units: |tanh| > {threshold}")
        .mark_bar(color="#e45756")
        .encode(
            x=alt.X("layer:N", title=None, sort=list(df["layer"]), axis=alt.Axis(labelAngle=0)),
            y=alt.Y("saturation:Q", title="share of outputs", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, max(0.1, float(df["saturation"].max()))])),
            tooltip=[alt.Tooltip("layer:N"), alt.Tooltip("saturation:Q", title="saturated", format=".1%"),
                     alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("std:Q", format=".3f")],
        )
        .properties(height=280)
    )


def grad_data_ratios(df: pd.DataFrame) -> alt.Chart:
    """df: weight, ratio. std(grad) / std(weight) of each weight matrix, on a log axis."""
    return (
        alt.Chart(df, title="Gradient to weight: std(grad) / std(W)")
        .mark_circle(size=140, color=ACCENT, opacity=0.9)
        .encode(
            x=alt.X("weight:N", title=None, sort=list(df["weight"]), axis=alt.Axis(labelAngle=0)),
            y=alt.Y("ratio:Q", title="ratio (log scale)", scale=alt.Scale(type="log")),
            tooltip=[alt.Tooltip("weight:N"), alt.Tooltip("ratio:Q", title="std(grad) / std(W)", format=".3g")],
        )
        .properties(height=280)
    )


def update_ratios(df: pd.DataFrame, step: int, reference: float = -3.0) -> alt.LayerChart:
    """df: step, weight, log_ratio. log10(std(update) / std(W)) of each weight matrix over the run,
    with the lecture's reference line and a rule at the step the other charts show."""
    weights = list(dict.fromkeys(df["weight"]))
    lines = alt.Chart(df, title="How much each step changes the weights: log10(std(update) / std(W))").mark_line(
        point=alt.OverlayMarkDef(size=18)).encode(
        x=alt.X("step:Q", title="step"),
        y=alt.Y("log_ratio:Q", title="log10 of the ratio", scale=alt.Scale(zero=False)),
        color=alt.Color("weight:N", title=None, sort=weights),
        tooltip=[alt.Tooltip("weight:N"), alt.Tooltip("step:Q", format=","),
                 alt.Tooltip("log_ratio:Q", title="log10 ratio", format=".2f")],
    )
    ref = pd.DataFrame({"log_ratio": [reference], "label": [f"{reference:g}: about 1/1000 per step"]})
    tip = [alt.Tooltip("label:N", title="reference")]
    rule = alt.Chart(ref).mark_rule(strokeDash=[6, 4], color=SPLIT_COLORS["reference"]).encode(
        y="log_ratio:Q", tooltip=tip)
    text = alt.Chart(ref).mark_text(align="left", dx=4, dy=-7, color=SPLIT_COLORS["reference"]).encode(
        y="log_ratio:Q", x=alt.value(0), text="label:N", tooltip=tip)
    now = alt.Chart(pd.DataFrame({"step": [step]})).mark_rule(color="#999999", strokeWidth=1).encode(
        x="step:Q", tooltip=[alt.Tooltip("step:Q", title="shown above", format=",")])
    return alt.layer(lines, rule, text, now).properties(height=320)


def initial_losses(df: pd.DataFrame, ideal: float) -> alt.LayerChart:
    """df: run, initial. The loss of each run's first step, against -log(1/V): the loss of a
    network that starts by giving every character the same probability (a tick on every bar)."""
    data = df.assign(ideal=ideal, label=f"-log(1/V) = {ideal:.3f}")
    y = alt.Y("run:N", title=None, sort=list(df["run"]), axis=alt.Axis(labelLimit=220))
    tooltip = [alt.Tooltip("run:N"), alt.Tooltip("initial:Q", title="first loss", format=".3f"),
               alt.Tooltip("label:N", title="uniform guess")]
    base = alt.Chart(data, title="Loss at step 1 against the uniform guess (orange)")
    bars = base.mark_bar(color=ACCENT).encode(x=alt.X("initial:Q", title="loss at the first step"), y=y,
                                             tooltip=tooltip)
    ticks = base.mark_tick(color=SPLIT_COLORS["val"], thickness=3).encode(x="ideal:Q", y=y, tooltip=tooltip)
    return alt.layer(bars, ticks).properties(height=alt.Step(28))


# --- backprop (lectures 1 and 4) -----------------------------------------------------------------

def gradient_heatmap(df: pd.DataFrame, title: str) -> alt.Chart:
    """df: example, char, grad, prob, target. One cell per (example, character) of a gradient such as
    dlogits: blue below zero (the target, pulled up), red above (every other character, pushed down)."""
    limit = float(df["grad"].abs().max()) or 1.0
    order = list(dict.fromkeys(df["char"]))
    return (
        alt.Chart(df, title=title)
        .mark_rect()
        .encode(
            x=alt.X("char:N", sort=order, title="next character", axis=alt.Axis(labelAngle=0, labelOverlap=False)),
            y=alt.Y("example:O", title="example in the batch"),
            color=alt.Color("grad:Q", title="gradient",
                            scale=alt.Scale(scheme="redblue", reverse=True, domain=[-limit, limit])),
            tooltip=[alt.Tooltip("example:O"), alt.Tooltip("char:N", title="character"),
                     alt.Tooltip("grad:Q", title="gradient", format=".4f"),
                     alt.Tooltip("prob:Q", title="predicted probability", format=".3f"),
                     alt.Tooltip("target:N", title="the right next character")],
        )
        .properties(height=alt.Step(12))
    )


def two_runs(df: pd.DataFrame, title: str) -> alt.LayerChart:
    """df: step, loss, run (two runs, e.g. "autograd" and "manual"). The first run as a wide pale line,
    the second as a thin dark one on top: where they agree, the dark line runs inside the pale one."""
    runs = list(dict.fromkeys(df["run"]))
    color = alt.Color("run:N", title=None, sort=runs, scale=alt.Scale(domain=runs, range=["#9ecae9", "#1f3b73"]),
                      legend=alt.Legend(orient="top"))
    base = alt.Chart(df, title=title).encode(
        x=alt.X("step:Q", title="step"),
        y=alt.Y("loss:Q", title="minibatch loss (averaged)", scale=alt.Scale(zero=False)),
        color=color,
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q", format=","), alt.Tooltip("loss:Q", format=".6f")],
    )
    wide = base.mark_line(strokeWidth=7).transform_filter(alt.datum.run == runs[0])
    thin = base.mark_line(strokeWidth=1.5).transform_filter(alt.datum.run == runs[-1])
    return alt.layer(wide, thin).properties(height=300)
