"""Altair chart builders, every page's (the Compare page's at the end). Each takes a small,
pre-aggregated pandas DataFrame and returns a chart; every mark has a tooltip, a split has the same
colour on every page, and a model the same colour and shape on every chart of the Compare page.

Every encoding is a channel object (alt.X("step:Q"), never x="step:Q"): Altair 6 turns a shorthand
string, a list of them or alt.condition's dict into one by indexing its whole schema again, some
7 ms each, several times a chart's own cost on every page view (tests/test_charts.py checks it)."""

import math

import altair as alt
import pandas as pd

SPLIT_COLORS = {"train": "#4c78a8", "val": "#f58518", "test": "#54a24b", "reference": "#888888"}
WARNING = "#e45756"  # where a chart marks something going wrong (memorising)
ACCENT = "#4c78a8"


def color_when(test, if_true: str, if_false: str) -> alt.ColorValue:
    """One colour where `test` holds and another elsewhere (alt.condition's dict as a channel object)."""
    return alt.ColorValue(**alt.condition(test, alt.value(if_true), alt.value(if_false)))


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
            xOffset=alt.XOffset("position:N"),
            y=alt.Y("words:Q", title="words"),
            color=alt.Color("position:N", title="position",
                            scale=alt.Scale(domain=["first", "last"], range=[ACCENT, "#e45756"])),
            tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("position:N"),
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
        ink = color_when(alt.datum.count > df["count"].max() * 0.3, "white", "#333333")
        layers.append(base.mark_text(dy=-6, fontSize=10).encode(text=alt.Text("pair:N"), color=ink, tooltip=tooltip))
        layers.append(base.mark_text(dy=7, fontSize=8).encode(text=alt.Text("count:Q"), color=ink, tooltip=tooltip))
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
               log_y: bool = False, title: str = "Loss", y_title: str = "loss (NLL)",
               mark_step: int | None = None, mark_label: str = "", shade_label: str = "") -> alt.LayerChart:
    """df: step, loss, split ("train" per step, "val" at evaluations). A dashed rule marks a
    reference loss (for example what the counting model scores). mark_step: a red rule with
    `mark_label` at that step (where val was lowest), and with `shade_label` the steps after it
    shaded (where the model memorised)."""
    splits = list(dict.fromkeys(df["split"]))
    color = alt.Color("split:N", title=None, scale=split_color(splits))
    y = alt.Y("loss:Q", title=y_title, scale=loss_scale(df["loss"], log_y, reference))
    tooltip = [alt.Tooltip("step:Q", format=","), alt.Tooltip("split:N"), alt.Tooltip("loss:Q", format=".4f")]
    lines = alt.Chart(df, title=title).mark_line().encode(
        x=alt.X("step:Q", title="step"), y=y, color=color, tooltip=tooltip)
    points = alt.Chart(df[df["split"] != "train"]).mark_point(filled=True, size=30).encode(
        x=alt.X("step:Q"), y=y, color=color, tooltip=tooltip)
    layers = [lines, points]
    if reference is not None:
        ref = pd.DataFrame({"loss": [reference], "step": [df["step"].max()],
                            "label": [f"{reference_label}: {reference:.4f}"]})
        tip = [alt.Tooltip("label:N", title="reference")]
        rule = alt.Chart(ref).mark_rule(strokeDash=[6, 4], color=SPLIT_COLORS["reference"])
        text = alt.Chart(ref).mark_text(align="right", dy=-7, color=SPLIT_COLORS["reference"])
        layers += [rule.encode(y=y, tooltip=tip),
                   text.encode(x=alt.X("step:Q"), y=y, text=alt.Text("label:N"), tooltip=tip)]
    if mark_step is not None:
        layers = memorising_marks(mark_step, int(df["step"].max()), mark_label, shade_label) + layers
    return alt.layer(*layers)


def memorising_marks(step: int, last: int, label: str, shade_label: str) -> list[alt.Chart]:
    """A rule and its label at `step` and, with shade_label, the steps after it shaded (drawn
    under the curves)."""
    mark = pd.DataFrame({"step": [step], "end": [last], "label": [label], "shade": [shade_label]})
    layers = []
    if shade_label and last > step:
        layers.append(alt.Chart(mark).mark_rect(color=WARNING, opacity=0.1).encode(
            x=alt.X("step:Q"), x2=alt.X2("end:Q"), tooltip=[alt.Tooltip("shade:N", title="after it")]))
    tip = [alt.Tooltip("label:N", title="marked")]
    layers.append(alt.Chart(mark).mark_rule(color=WARNING, strokeWidth=2).encode(x=alt.X("step:Q"), tooltip=tip))
    right = step > 0.6 * last  # late in the run: the label goes left of the rule, inside the chart
    layers.append(alt.Chart(mark).mark_text(align="right" if right else "left", baseline="top", dx=-5 if right else 5,
                                            color=WARNING).encode(x=alt.X("step:Q"), y=alt.YValue(4),
                                                                  text=alt.Text("label:N"), tooltip=tip))
    return layers


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
        x=alt.X("x:Q"), y=alt.Y("y:Q"))
    return alt.layer(line, points).properties(height=360)


def lr_sweep_loss_range(df: pd.DataFrame) -> tuple[float, float]:
    """The loss axis of the learning-rate finder: from the lowest loss to a little above where the
    sweep started. The blow-up at the end reaches many times that (20 and more) and would flatten
    the valley, the part a student reads, into a line; it runs off the top of the chart instead."""
    low = float(min(df["loss"].min(), df["smoothed"].min()))
    start = float(df["smoothed"].iloc[0])
    return low, max(start, low + 0.1) + 0.15 * max(start - low, 0.1)


def lr_sweep(df: pd.DataFrame, suggested_exponent: float, exponents: tuple[float, float]) -> alt.LayerChart:
    """df: exponent, loss, smoothed. The learning-rate finder's curve over the `exponents` it was
    asked to sweep (the curve ends early where the loss blew up), the suggestion marked."""
    x = alt.X("exponent:Q", title="log10(learning rate)", scale=alt.Scale(domain=list(exponents), nice=False))
    low, high = lr_sweep_loss_range(df)
    y_scale = alt.Scale(domain=[low, high], nice=False)
    tooltip = [alt.Tooltip("exponent:Q", title="log10(lr)", format=".2f"),
               alt.Tooltip("lr:Q", title="learning rate", format=".4g"),
               alt.Tooltip("loss:Q", title="minibatch loss", format=".3f"),
               alt.Tooltip("smoothed:Q", title="smoothed", format=".3f")]
    data = df.assign(lr=10 ** df["exponent"])
    base = alt.Chart(data, title=alt.Title("Loss while the learning rate grows", subtitle="one step at each rate"))
    raw = base.mark_line(opacity=0.3, color=ACCENT, clip=True).encode(
        x=x, y=alt.Y("loss:Q", title="loss (axis cut above the start)", scale=y_scale), tooltip=tooltip)
    smooth = base.mark_line(color=ACCENT, strokeWidth=2.5, clip=True).encode(
        x=x, y=alt.Y("smoothed:Q", scale=y_scale), tooltip=tooltip)
    mark = pd.DataFrame({"exponent": [suggested_exponent], "top": [high],
                         "label": [f"suggested: {10 ** suggested_exponent:.3g}"]})
    rule = alt.Chart(mark).mark_rule(color=SPLIT_COLORS["val"], strokeWidth=2).encode(
        x=alt.X("exponent:Q"), tooltip=[alt.Tooltip("label:N", title="learning rate")])
    # inside the plot, along its top edge: a label above the plot would sit on the title
    text = alt.Chart(mark).mark_text(align="left", baseline="top", dx=5, dy=4, color=SPLIT_COLORS["val"]).encode(
        x=alt.X("exponent:Q"), y=alt.Y("top:Q", scale=y_scale), text=alt.Text("label:N"))
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
    labels = base.mark_text(color="white", fontWeight="bold", fontSize=13).encode(text=alt.Text("char:N"))
    return alt.layer(dots, labels).properties(height=460)


def live_loss(df: pd.DataFrame) -> alt.LayerChart:
    """df as for loss_curve. A lighter chart for the live view, redrawn every second while a model
    trains: two layers only, because building the chart holds the Python lock that the training
    thread needs too."""
    y = alt.Y("loss:Q", title="loss (NLL, log scale)", scale=loss_scale(df["loss"], log_y=True))
    color = alt.Color("split:N", title=None, scale=split_color(["train", "val"]))
    tooltip = [alt.Tooltip("step:Q", format=","), alt.Tooltip("split:N"), alt.Tooltip("loss:Q", format=".4f")]
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
        y=alt.Y("log_ratio:Q"), tooltip=tip)
    text = alt.Chart(ref).mark_text(align="left", dx=4, dy=-7, color=SPLIT_COLORS["reference"]).encode(
        y=alt.Y("log_ratio:Q"), x=alt.XValue(0), text=alt.Text("label:N"), tooltip=tip)
    now = alt.Chart(pd.DataFrame({"step": [step]})).mark_rule(color="#999999", strokeWidth=1).encode(
        x=alt.X("step:Q"), tooltip=[alt.Tooltip("step:Q", title="shown above", format=",")])
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
    ticks = base.mark_tick(color=SPLIT_COLORS["val"], thickness=3).encode(x=alt.X("ideal:Q"), y=y, tooltip=tooltip)
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


# --- WaveNet (lecture 5) -------------------------------------------------------------------------

def receptive_tree(nodes: pd.DataFrame, edges: pd.DataFrame, level_names: list[str], title: str) -> alt.LayerChart:
    """nodes: level, x, char (the input character, empty above the inputs), reads (the characters a
    node sees), about (one line for the tooltip). edges: x, level, x2, level2, one line from a unit
    down to each node it reads. The inputs sit at the bottom (level 0), each level above joins the
    one below; `level_names` labels the levels on the y axis."""
    names = "[" + ", ".join(f"'{name}'" for name in level_names) + "]"
    x = alt.X("x:Q", axis=None, scale=alt.Scale(padding=24))
    y = alt.Y("level:Q", title=None, scale=alt.Scale(domain=[0, len(level_names) - 1], padding=28),
              axis=alt.Axis(values=list(range(len(level_names))), labelExpr=f"{names}[datum.value]", grid=False,
                            domain=False, ticks=False, labelFontSize=12))
    tooltip = [alt.Tooltip("about:N", title="node"), alt.Tooltip("reads:N", title="sees")]
    lines = alt.Chart(edges).mark_rule(color="#9ecae9", strokeWidth=2).encode(
        x=x, y=y, x2=alt.X2("x2:Q"), y2=alt.Y2("level2:Q"))
    base = alt.Chart(nodes, title=title).encode(x=x, y=y, tooltip=tooltip)
    kinds = alt.Color("kind:N", legend=None, scale=alt.Scale(domain=["input", "unit", "output"],
                                                            range=["#888888", ACCENT, SPLIT_COLORS["val"]]))
    dots = base.mark_circle(size=520, opacity=1).encode(color=kinds)
    chars = base.mark_text(color="white", fontWeight="bold", fontSize=14).encode(text=alt.Text("char:N"))
    reads = base.mark_text(dy=-20, fontSize=11, color="#333333").transform_filter(
        alt.datum.kind == "unit").encode(text=alt.Text("reads:N"))
    return alt.layer(lines, dots, chars, reads).properties(height=90 * len(level_names))


# --- recurrent nets: one typed word, position by position --------------------------------------

def position_axis(df: pd.DataFrame, title: str = "character read at this position") -> alt.X:
    """x: the positions of a typed word, labelled with the character read there (df: position,
    char). Positions, not characters, are the values: a word may repeat a character."""
    import json  # (used only here) a JSON array of strings is a valid Vega expression

    labels = df.drop_duplicates("position").sort_values("position")["char"].tolist()
    return alt.X("position:O", title=title,
                 axis=alt.Axis(labelAngle=0, labelOverlap=False, labelFontSize=13,
                               labelExpr=f"{json.dumps(labels)}[datum.value]"))


def unit_heatmap(df: pd.DataFrame, title: str, value_title: str, domain: tuple[float, float],
                 scheme: str = "redblue") -> alt.Chart:
    """df: unit, position, char, prefix, value. One cell per (unit, position): a layer's hidden
    state or a gate over the positions of one word; `domain` fixes the colour scale ((-1, 1) for a
    tanh state, (0, 1) for a sigmoid gate)."""
    units = int(df["unit"].max()) + 1
    every = max(1, units // 16)
    return (
        alt.Chart(df, title=title)
        .mark_rect()
        .encode(
            x=position_axis(df),
            y=alt.Y("unit:O", title="unit", axis=alt.Axis(values=list(range(0, units, every)))),
            color=alt.Color("value:Q", title=value_title,
                            scale=alt.Scale(scheme=scheme, domain=list(domain), reverse=scheme == "redblue")),
            tooltip=[alt.Tooltip("prefix:N", title="read so far"), alt.Tooltip("unit:O"),
                     alt.Tooltip("value:Q", title=value_title, format=".3f")],
        )
        .properties(height=min(560, max(220, 3 * units + 120)))  # the whole chart: rows, axis and title
    )


def next_char_heatmap(df: pd.DataFrame) -> alt.LayerChart:
    """df: position, char, prefix, rank, candidate, prob, actual (the character that does come
    next). The k likeliest next characters after each position, likeliest at the top; the one that
    actually follows is framed."""
    tooltip = [alt.Tooltip("prefix:N", title="read so far"), alt.Tooltip("rank:O"),
               alt.Tooltip("candidate:N", title="next character"), alt.Tooltip("prob:Q", title="probability",
                                                                                  format=".3f"),
               alt.Tooltip("actual:N", title="what comes next")]
    base = alt.Chart(df, title="The likeliest next characters after each position").encode(
        x=position_axis(df), y=alt.Y("rank:O", title="rank"), tooltip=tooltip)
    cells = base.mark_rect().encode(
        color=alt.Color("prob:Q", title="probability", scale=alt.Scale(scheme="blues", domain=[0, 1])))
    framed = base.mark_rect(fillOpacity=0, stroke=SPLIT_COLORS["val"], strokeWidth=3).transform_filter(
        alt.datum.candidate == alt.datum.actual)
    ink = color_when(alt.datum.prob > 0.5, "white", "#333333")
    text = base.mark_text(fontSize=13, fontWeight="bold").encode(text=alt.Text("candidate:N"), color=ink)
    return alt.layer(cells, framed, text).properties(height=alt.Step(30))


def gradient_norms(df: pd.DataFrame, title: str) -> alt.Chart:
    """df: position, char, prefix, model, state ("at initialisation" / "trained"), cell ("RNN" /
    "GRU"), norm. ||d loss / d h_t|| at each position of a word, log scale: one line per model and
    state, coloured by cell, dashed before training."""
    models = list(dict.fromkeys(df["model"]))
    cells = {m: df.loc[df["model"] == m, "cell"].iloc[0] for m in models}
    palette = {"RNN": ["#e45756", "#f4a582"], "GRU": ["#4c78a8", "#9ecae9"]}
    colors, used = [], {"RNN": 0, "GRU": 0}
    for m in models:  # a second model of the same cell gets the lighter shade
        colors.append(palette[cells[m]][min(used[cells[m]], 1)])
        used[cells[m]] += 1
    states = ["trained", "at initialisation"]
    tooltip = [alt.Tooltip("model:N"), alt.Tooltip("state:N"), alt.Tooltip("prefix:N", title="read so far"),
               alt.Tooltip("norm:Q", title="‖∂loss/∂h‖", format=".3g")]
    return (
        alt.Chart(df, title=alt.TitleParams(title, subtitle="solid: trained · dashed: as initialised"))
        .mark_line(point=alt.OverlayMarkDef(size=40))
        .encode(
            x=position_axis(df),
            y=alt.Y("norm:Q", title="‖∂ loss / ∂ h_t‖ (log scale)", scale=alt.Scale(type="log")),
            color=alt.Color("model:N", title=None, scale=alt.Scale(domain=models, range=colors),
                            legend=alt.Legend(orient="top")),
            strokeDash=alt.StrokeDash("state:N", title=None, sort=states,
                                      scale=alt.Scale(domain=states, range=[[1, 0], [5, 4]]), legend=None),
            detail=alt.Detail("state:N"),
            tooltip=tooltip,
        )
        .properties(height=400)
    )


def val_losses(df: pd.DataFrame, title: str) -> alt.LayerChart:
    """df: model, val (val loss), highlight (bool: this page's model). One dot per model, best
    at the top, labelled with its loss; a loss axis that does not start at 0, so dots, not bars."""
    order = df.sort_values("val")["model"].tolist()
    lo, hi = float(df["val"].min()), float(df["val"].max())
    pad = max(0.02, (hi - lo) * 0.15)
    base = alt.Chart(df, title=title).encode(
        x=alt.X("val:Q", title="validation loss (lower is better)", scale=alt.Scale(domain=[lo - pad, hi + pad])),
        y=alt.Y("model:N", title=None, sort=order, axis=alt.Axis(labelLimit=260)),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("val:Q", title="val loss", format=".4f")],
    )
    color = color_when(alt.datum.highlight, SPLIT_COLORS["val"], ACCENT)
    dots = base.mark_circle(size=160, opacity=1).encode(color=color)
    text = base.mark_text(align="left", dx=10).encode(text=alt.Text("val:Q", format=".4f"))
    return alt.layer(dots, text).properties(height=alt.Step(34))


# --- transformer: attention over the positions of one word --------------------------------------

def _char_labels(df: pd.DataFrame, position: str, char: str) -> str:
    """A Vega label expression that shows the character at each position (a word may repeat one)."""
    import json  # (used only here) a JSON array of strings is a valid Vega expression

    labels = df.drop_duplicates(position).sort_values(position)[char].tolist()
    return f"{json.dumps(labels)}[datum.value]"


def _label_size(cell: float) -> int:
    """A font size for axis labels on cells of `cell` pixels: small cells, small letters, no overlap."""
    return 12 if cell >= 14 else max(6, int(cell * 0.85))


def _attention_axes(df: pd.DataFrame, font_size: int = 12) -> tuple[alt.X, alt.Y]:
    """x: the key (the position looked at), y: the query (the position that looks), both labelled
    with their characters (df: query, key, query_char, key_char)."""
    axis = dict(labelAngle=0, labelOverlap=False, labelFontSize=font_size, ticks=False)
    return (alt.X("key:O", title="key: the character looked at",
                  axis=alt.Axis(orient="top", labelExpr=_char_labels(df, "key", "key_char"), **axis)),
            alt.Y("query:O", title="query: the position that looks",
                  axis=alt.Axis(labelExpr=_char_labels(df, "query", "query_char"), **axis)))


def attention_map(df: pd.DataFrame, title: str, value_title: str, scheme: str = "blues",
                  domain: tuple[float, float] | None = None, masked_text: str = "", fmt: str = ".2f",
                  size: int = 260) -> alt.LayerChart:
    """df: query, key, query_char, key_char, prefix (what the query has read), value, masked (bool).
    One matrix of "the trick" for one word, query x key, `size` pixels square: the mask, the scores or
    the weights. Masked cells (the future) are grey and say `masked_text`; the others are coloured by
    value, with the number written in while the cells are big enough."""
    df = df.assign(label=[masked_text if m else format(v, fmt) for v, m in zip(df["value"], df["masked"])])
    values = df["value"].astype(float)
    if domain:  # white numbers on the darker cells
        df["dark"] = ((values - domain[0]) / (domain[1] - domain[0])).gt(0.6)
    else:
        df["dark"] = values.abs().gt(0.6 * max(values.abs().max(), 1e-9))
    T = int(df["query"].max()) + 1
    x, y = _attention_axes(df, font_size=_label_size(size / T))
    tooltip = [alt.Tooltip("prefix:N", title="query has read"), alt.Tooltip("key_char:N", title="key"),
               alt.Tooltip("label:N", title=value_title)]
    base = alt.Chart(df, title=title).encode(x=x, y=y, tooltip=tooltip)
    scale = alt.Scale(scheme=scheme, domain=list(domain)) if domain else alt.Scale(scheme=scheme, domainMid=0)
    cells = base.transform_filter("!datum.masked").mark_rect().encode(
        color=alt.Color("value:Q", title=value_title, scale=scale, legend=alt.Legend(orient="bottom")))
    future = base.transform_filter("datum.masked").mark_rect(color="#e8e8e8")
    layers = [cells, future]
    if size / T >= 28:  # smaller cells cannot hold the numbers; the tooltips still tell
        ink = color_when("datum.dark", "white", "#222222")
        layers.append(base.mark_text(fontSize=11 if size / T >= 36 else 9).encode(text=alt.Text("label:N"), color=ink))
    # "pad": the cells keep their size and the axes go around them (as pair_heatmap)
    return alt.layer(*layers).properties(width=size, height=size, autosize=alt.AutoSizeParams(type="pad"))


def attention_heads(df: pd.DataFrame, title: str, columns: int = 4) -> alt.FacetChart:
    """df: head, query, key, query_char, key_char, prefix, weight (rows above the diagonal left out).
    One small matrix of attention weights per head of one layer, query x key, side by side."""
    T = int(df["query"].max()) + 1
    heads = df["head"].nunique()
    side = max(90, min(220, 820 // min(heads, columns) - 40))  # pixels per panel: a row fits the page
    x, y = _attention_axes(df, font_size=_label_size(side / T))
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(x=x, y=y,
                color=alt.Color("weight:Q", title="weight", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                                legend=alt.Legend(orient="right")),
                tooltip=[alt.Tooltip("head:N"), alt.Tooltip("prefix:N", title="query has read"),
                         alt.Tooltip("key_char:N", title="key"), alt.Tooltip("weight:Q", format=".3f")])
        .properties(width=side, height=side)
        .facet(facet=alt.Facet("head:N", title=None, header=alt.Header(labelFontSize=13, labelFontWeight="bold")),
               columns=min(heads, columns), title=title)
    )


# --- Compare: one point or line per model, in its own colour (and shape) on every chart -----------

MODEL_TOOLTIP = [alt.Tooltip("model:N"), alt.Tooltip("page:N"), alt.Tooltip("config:N", title="settings"),
                 alt.Tooltip("training:N"), alt.Tooltip("params:Q", title="parameters", format=","),
                 alt.Tooltip("val loss:Q", format=".4f"),
                 alt.Tooltip("seconds:Q", title="trained in (s)", format=".2f")]


# Ten strongly distinct hues (the theme's own palette has pastel ones that look alike): Category10
# with its light orange, pink, olive and cyan darkened, so that every one stands out on the white
# page (a contrast of 3:1 or more: the olive was 2:1, and the Transformer's), and a shape for each
# model as well, so that two models stay apart in colour and in form. No thin shapes (Vega's wedge,
# the ninth, the Transformer's, was a sliver at this size): a star (an SVG path in Vega's unit box).
STAR = "M" + "L".join(f"{1.35 * x:.3f},{1.35 * y:.3f}" for x, y in (  # 1.35: as heavy as a circle at this size
    (0, -1), (0.24, -0.33), (0.95, -0.31), (0.38, 0.12), (0.59, 0.81), (0, 0.4), (-0.59, 0.81), (-0.38, 0.12),
    (-0.95, -0.31), (-0.24, -0.33))) + "Z"
MODEL_COLORS = ["#1f77b4", "#d95f02", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#c2399b", "#7f7f7f",
                "#808000", "#0f8a8a"]
MODEL_SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "triangle-right",
                "triangle-left", STAR]
NUDGE = 7  # pixels between the points of models that sit on one spot (sideways)
LABEL_GAP = 13  # a label's line height
# For placing the labels apart: the widths of plot they must fit, from the narrowest these charts get
# (half of the main column of a 1,024 px wide window) to the widest (a wide screen), and a
# character's width at fontSize 11 (a little wider than most)
LABEL_PLOT_WIDTHS, LABEL_CHAR_WIDTH = range(300, 1001, 50), 7.0
POINT_RADIUS = 7  # half a point's width at size 140


def cycled(values: list, n: int) -> list:
    return [values[i % len(values)] for i in range(n)]


def model_color(models) -> alt.Color:
    """One colour per model, in the table's order, on every chart."""
    models = list(models)
    return alt.Color("model:N", sort=models, title="model",
                     scale=alt.Scale(domain=models, range=cycled(MODEL_COLORS, len(models))))


def model_shape(models) -> alt.Shape:
    """One point shape per model, in the table's order (with 10 colours and 9 shapes, the first 90
    models differ in one or the other)."""
    models = list(models)
    return alt.Shape("model:N", sort=models, title="model",
                     scale=alt.Scale(domain=models, range=cycled(MODEL_SHAPES, len(models))))


def estimated_pixels(df: pd.DataFrame, x: str, plot_height: float, width: float = LABEL_PLOT_WIDTHS[0]
                     ) -> tuple[list[float], list[float]]:
    """Where each model's point lands, in pixels from the top left, on a plot `width` wide, with the
    scales of val_loss_against (log x, padding, no nice domains)."""
    def spread(values, pixels, pad):
        lo, hi = min(values), max(values)
        return [pad + (pixels - 2 * pad) * ((v - lo) / (hi - lo) if hi > lo else 0.5) for v in values]

    px = spread(df[x].map(math.log10).tolist(), width, 20)
    py = [plot_height - y for y in spread(df["val loss"].tolist(), plot_height, 12)]  # a higher loss is higher up
    return px, py


def on_one_spot(df: pd.DataFrame, x: str, plot_height: float) -> list[list[bool]]:
    """Whether the points of models i and j would cover half of each other or more (bigram and
    bigram-nn: the same 729 parameters, about the same loss). Only those are nudged apart."""
    px, py = estimated_pixels(df, x, plot_height)
    return [[i != j and abs(px[i] - px[j]) < POINT_RADIUS and abs(py[i] - py[j]) < POINT_RADIUS
             for j in range(len(df))] for i in range(len(df))]


def same_spot(df: pd.DataFrame, x: str, plot_height: float) -> pd.Series:
    """Each model's rank among the models drawn on one spot, from left to right (then in the table's
    order): 0 for the first, 1 for the next... A rank's nudge to the right moves its point away from
    the others of its spot."""
    near = on_one_spot(df, x, plot_height)
    px, _ = estimated_pixels(df, x, plot_height)
    return pd.Series([sum(near[i][j] and (px[j], j) < (px[i], i) for j in range(len(df))) for i in range(len(df))],
                     index=df.index)


# Where a label may go, in the order tried: (side, line), side 1 right of its point and -1 left of it,
# line 0 level with it, 1 a line below, -1 a line above...
LABEL_PLACES = [(side, line) for distance in range(7) for line in sorted({distance, -distance}, reverse=True)
                for side in (1, -1)]


def label_places(df: pd.DataFrame, x: str, plot_height: float, dx: float) -> pd.Series:
    """df: as for val_loss_against, with its `spot`. Each model's label place (LABEL_PLACES), the first
    free one, from the leftmost point to the rightmost: no label lies on another label or on another
    model's point, on a plot of any of the LABEL_PLOT_WIDTHS (a wider plot moves the points apart,
    but may move one into a label)."""
    near = on_one_spot(df, x, plot_height)
    spots, r = df["spot"].tolist(), POINT_RADIUS
    taken = []  # per width: the boxes of every point, then of each label placed
    for width in LABEL_PLOT_WIDTHS:
        px, py = estimated_pixels(df, x, plot_height, width)
        points = [p + spot * NUDGE for p, spot in zip(px, spots)]  # as nudged apart (same_spot)
        taken.append((px, py, [(points[i] - r, py[i] - r, points[i] + r, py[i] + r) for i in range(len(df))]))
    names = df["model"].astype(str).tolist()
    places = {}
    for i in sorted(range(len(df)), key=taken[0][0].__getitem__):  # from left to right: a label goes right first
        text_width = LABEL_CHAR_WIDTH * len(names[i])
        # Of models on one spot, only the first (its point the leftmost) may take the left: there a
        # nudged one's label would stand beside another's point. The first tries it first, leaving
        # the right to the others.
        if spots[i] > 0:
            order = [place for place in LABEL_PLACES if place[0] > 0]
        elif any(near[i]):
            order = [(-1, 0), *LABEL_PLACES]
        else:
            order = LABEL_PLACES

        def box(px, py, side, line):
            left = px[i] + dx if side > 0 else px[i] - 10 - text_width
            middle = py[i] + line * LABEL_GAP
            return left, middle - LABEL_GAP / 2, left + text_width, middle + LABEL_GAP / 2

        def free(side, line):
            return not any(overlaps(box(px, py, side, line), other)
                           for px, py, boxes in taken for other in boxes[:i] + boxes[i + 1:])  # not its own point

        side, line = next((place for place in order if free(*place)), order[0])  # all taken: beside it anyway
        for px, py, boxes in taken:
            boxes.append(box(px, py, side, line))
        places[i] = f"{side} {line}"
    return pd.Series([places[i] for i in range(len(df))], index=df.index)


def overlaps(a: tuple, b: tuple) -> bool:
    """Whether two boxes (left, top, right, bottom) overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def val_loss_against(df: pd.DataFrame, x: str, x_title: str, title: str, x_format: str) -> alt.LayerChart:
    """df: the comparison table (model, page, config, training, params, val loss, seconds); one
    point per model, each in its colour and shape, its name beside it; x on a log scale with a tick
    at each power of ten. Models on one spot have their points nudged apart sideways, and every
    label goes where no other label or point is (label_places)."""
    height = 340
    df = df.assign(seconds=df["seconds"].clip(lower=0.01))  # a log scale has no 0: a count table takes ~0 s
    df = df.assign(spot=same_spot(df, x, height))
    top = int(df["spot"].max())
    dx = 10 + top * NUDGE  # a label on the right starts past the last nudged point
    df = df.assign(place=label_places(df, x, height, dx))
    low, high = math.floor(math.log10(df[x].min())), math.ceil(math.log10(df[x].max()))
    powers = [10.0**k for k in range(low, high + 1)] if df[x].nunique() > 1 else alt.Undefined  # else: its value
    layers = []
    for k in range(top + 1):  # a layer per rank: a mark's offsets are the same for all its points
        layers.append(alt.Chart().mark_point(size=140, opacity=0.9, filled=True, xOffset=k * NUDGE)
                      .encode(shape=model_shape(df["model"])).transform_filter(alt.datum.spot == k))
    for place in sorted(df["place"].unique()):  # and a layer per label place
        side, line = map(int, place.split())
        layers.append(alt.Chart().mark_text(align="left" if side > 0 else "right", baseline="middle",
                                            dx=dx if side > 0 else -10, dy=line * LABEL_GAP, fontSize=11)
                      .encode(text=alt.Text("model:N")).transform_filter(alt.datum.place == place))
    return alt.layer(*layers, data=df, title=title).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(type="log", nice=False, padding=20),
                axis=alt.Axis(values=powers, format=x_format)),
        y=alt.Y("val loss:Q", title="val loss", scale=alt.Scale(zero=False, nice=False, padding=12)),
        color=model_color(df["model"]), tooltip=MODEL_TOOLTIP,
    ).properties(height=height)


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


# --- the class room's board ------------------------------------------------------------------------

ROOM_LABELLED = 3  # the best runs of the whole room that carry their nickname (and each stage's best)


def room_runs_labelled(df: pd.DataFrame) -> pd.Series:
    """Which runs carry their nickname on the room's chart: each stage's best and the room's best
    ROOM_LABELLED (the lowest val loss, a tie going to fewer parameters)."""
    ranked = df.sort_values(["val loss", "params"])
    top = set(ranked.groupby("stage", sort=False).head(1).index) | set(ranked.head(ROOM_LABELLED).index)
    return pd.Series([i in top for i in df.index], index=df.index)


def room_runs(df: pd.DataFrame, stages: list[str], big: bool = False) -> alt.LayerChart:
    """df: nickname, stage, model, val loss, params, seconds, settings; one point per run posted to
    a class room, val loss against parameters (log x), coloured by stage in lecture order (`stages`:
    the stages that train, each keeps its colour), the top runs labelled with their nicknames. Both
    scales are set to cover every point with a margin, so that no point or label sits on an edge.
    big: the projector's, in large type."""
    # a log scale from a little under the fewest parameters to a little over the most
    x_low, x_high = max(1.0, float(df["params"].min()) / 1.6), float(df["params"].max()) * 1.6
    loss_low, loss_high = float(df["val loss"].min()), float(df["val loss"].max())
    pad = max(0.02, 0.08 * (loss_high - loss_low))
    x = alt.X("params:Q", title="parameters (log scale)",
              scale=alt.Scale(type="log", domain=[x_low, x_high], nice=False))
    y = alt.Y("val loss:Q", title="val loss", scale=alt.Scale(domain=[loss_low - pad, loss_high + pad], nice=False))
    colours = alt.Scale(domain=stages, range=cycled(MODEL_COLORS, len(stages)))  # a stage keeps its colour
    colour = alt.Color("stage:N", title="stage", scale=colours,
                       legend=alt.Legend(orient="bottom", columns=min(len(stages), 3 if big else 6)))
    tooltip = [alt.Tooltip("nickname:N"), alt.Tooltip("stage:N"), alt.Tooltip("model:N"),
               alt.Tooltip("val loss:Q", format=".4f"), alt.Tooltip("params:Q", format=","),
               alt.Tooltip("seconds:Q", format=".1f"), alt.Tooltip("settings:N")]
    # a name stands on the side of its point with the more room: right in the chart's left half, else left
    middle = (math.log10(x_low) + math.log10(x_high)) / 2
    data = df[["nickname", "stage", "model", "val loss", "params", "seconds", "settings"]].assign(
        labelled=room_runs_labelled(df), right=[math.log10(max(p, 1)) <= middle for p in df["params"]])
    base = alt.Chart(data)
    points = base.mark_point(filled=True, size=160 if big else 80, opacity=0.8).encode(
        x=x, y=y, color=colour, tooltip=tooltip)
    names = [base.mark_text(align="left" if right else "right", baseline="middle", dx=9 if right else -9,
                            fontSize=18 if big else 12, fontWeight="bold").encode(
        x=x, y=y, text=alt.Text("nickname:N"), color=alt.Color("stage:N", scale=colours, legend=None), tooltip=tooltip,
    ).transform_filter(alt.datum.labelled & (alt.datum.right == right)) for right in (True, False)]
    chart = alt.layer(points, *names, title="Every run in the room: val loss against parameters").properties(
        height=460 if big else 320)
    if big:
        chart = chart.configure_axis(labelFontSize=16, titleFontSize=18).configure_legend(
            labelFontSize=16, titleFontSize=18).configure_title(fontSize=22)
    return chart


def poll_predictions(df: pd.DataFrame, result: float | None) -> alt.LayerChart | alt.Chart:
    """df: from, to, predictions, who; a class's predictions of a run's val loss as a histogram (bars
    pre-binned), the server's result, once in, as a rule."""
    x = alt.X("from:Q", title="predicted val loss", scale=alt.Scale(zero=False))
    bars = alt.Chart(df, title="The class's predictions of its val loss").mark_bar(
        color=ACCENT, opacity=0.85, stroke="white").encode(
        x=x, x2=alt.X2("to:Q"), y=alt.Y("predictions:Q", title="students", axis=alt.Axis(tickMinStep=1)),
        y2=alt.Y2Datum(0),  # from the axis up: with x ranged (from-to), a bar is otherwise a horizontal sliver
        tooltip=[alt.Tooltip("from:Q", title="from", format=".2f"), alt.Tooltip("to:Q", title="to", format=".2f"),
                 alt.Tooltip("predictions:Q", title="students"), alt.Tooltip("who:N", title="who")])
    if result is None:
        return bars.properties(height=220)
    mark = pd.DataFrame({"from": [result], "label": [f"result {result:.4f}"]})
    rule = alt.Chart(mark).mark_rule(color=SPLIT_COLORS["val"], strokeWidth=3).encode(
        x=alt.X("from:Q"), tooltip=[alt.Tooltip("label:N", title="the server's training")])
    text = alt.Chart(mark).mark_text(align="left", baseline="top", dx=5, dy=4, color=SPLIT_COLORS["val"],
                                     fontWeight="bold").encode(x=alt.X("from:Q"), y=alt.YValue(0),
                                                               text=alt.Text("label:N"))
    return alt.layer(bars, rule, text).properties(height=220)
