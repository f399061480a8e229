"""Stage 3: activations, gradients and BatchNorm (lecture 3), with the lecture's fixes as presets."""

import math

import pandas as pd
import streamlit as st

import charts
from datasets_ui import current_dataset
from trainer import job_board
from training_ui import (BOUND, apply, check_link, option, trained_live, training_controls, training_settings,
                         training_summary, training_values)
from urlstate import Setting
from widgets import sample_controls, show_samples, show_source, show_table, smoothed_history
from makemore import limits
from makemore.diagnostics import SNAPSHOTS
from makemore.layers import BatchNorm1d, Linear, Tanh
from makemore.models import MODELS
from makemore.models.mlp_bn import MLPBN, PRESETS, MLPBNConfig, estimate_seconds, mlp_bn_param_count
from makemore.sample import generate
from makemore.train import TrainConfig, evaluated_examples

INITS = {  # shown -> the model's name for it
    "randn (naive)": "randn",
    "randn × 0.2 (hand-tuned)": "small",
    "1/√fan_in (no gain)": "fan-in",
    "(5/3)/√fan_in (Kaiming)": "kaiming",
}
OUT_SCALES = (1.0, 0.3, 0.1, 0.03, 0.01)
PRESET_TEXT = {  # preset -> (its name, what it changes and what to look for), in the lecture's order
    "naive": ("Naive init", "Every weight and bias from `randn`. The logits come out large, so the net starts "
              "**confidently wrong**: its first loss is far above the uniform guess, and the first steps are spent "
              "just shrinking the logits (the hockey stick in the loss curve). The tanh units **saturate** too: see "
              "the spikes at ±1 in the activation histogram, where no gradient gets through."),
    "softmax": ("Fix the softmax", "The output layer × 0.01: the first predictions are nearly uniform, so the "
                "first loss sits on the uniform guess and no steps are wasted. The hidden layer still saturates."),
    "tanh": ("Fix tanh saturation", "The hidden weights × 0.2 and biases × 0.01, a scale the lecture found by "
             "looking at the histogram: the pre-activations shrink, few units sit at ±1, and gradients flow."),
    "kaiming": ("Kaiming init", "The magic 0.2 replaced by a rule: randn × (5/3)/√fan_in. Inputs of unit "
                "variance give pre-activations of about unit variance, for any width; 5/3 makes up for tanh's "
                "squashing."),
    "batchnorm": ("BatchNorm", "Normalise each pre-activation over the batch, then scale and shift it by "
                  "learned γ and β: unit Gaussian at the start by construction, whatever the init. On one layer it "
                  "changes little; its worth shows in deep nets."),
    "deep": ("Deep, Kaiming", "Five hidden layers of 100, no BatchNorm. With tanh's gain, every layer keeps "
             "about the same spread of activations and gradients, and the net trains."),
    "deep-no-gain": ("Deep, no gain", "The same net with randn / √fan_in (gain 1): tanh squashes, so each "
                     "layer's activations are narrower than the one before. Look at the histograms."),
    "deep-batchnorm": ("Deep + BatchNorm", "BatchNorm after every linear layer, still without the gain: it "
                       "puts the spread back in every layer, so the init hardly matters any more."),
}
FAST = PRESETS["batchnorm"]  # the lecture's one-layer BatchNorm net, trained the fast way by default
FAST_TRAINING = TrainConfig(**MODELS["mlp-bn"].train_defaults)
LECTURE_TRAINING = TrainConfig(optimizer="sgd", lr=0.1, schedule="step", max_steps=200_000, batch_size=32)
LECTURE_VAL_LOSS = 2.1057  # lecture 3's BatchNorm net after 200k steps, ~220 s on 2 CPU cores (project guide)
LECTURE_SECONDS = 220
SETTINGS = [
    Setting("bn_layers", "Hidden layers", FAST.n_layers, lo=1, hi=limits.MAX_N_LAYERS),
    Setting("bn_hidden", "Width", FAST.n_hidden, lo=16, hi=limits.MAX_N_HIDDEN),
    Setting("bn_embd", "Embedding size", FAST.n_embd, lo=2, hi=limits.MAX_N_EMBD),
    Setting("bn_batchnorm", "BatchNorm", FAST.batchnorm),
    Setting("bn_init", "Initialisation", option(INITS, FAST.init), options=tuple(INITS)),
    Setting("bn_out", "Output layer scale", FAST.out_scale, options=OUT_SCALES),
    *training_settings("bn", FAST_TRAINING),
]
DEFAULTS = {s.key: s.default for s in SETTINGS}


def preset_values(name: str) -> dict:
    config = PRESETS[name]
    return dict(bn_layers=config.n_layers, bn_hidden=config.n_hidden, bn_embd=config.n_embd,
                bn_batchnorm=config.batchnorm, bn_init=option(INITS, config.init), bn_out=config.out_scale)


def choose_preset(name: str) -> None:
    apply(preset_values(name))
    st.session_state["bn_train_now"] = True  # clicking through the lecture's path trains each step


def preset_of(config: MLPBNConfig) -> str | None:
    return next((name for name, preset in PRESETS.items() if preset == config), None)


def bins_frame(kind: str, step: int, d: dict) -> pd.DataFrame:
    """One histogram per layer at recorded step index `step`, as shares of the layer's values."""
    edges = d["activation_edges"] if kind == "act" else d["grad_edges"][step]
    centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
    frames = []
    for j, layer in enumerate(d["layers"]):
        counts = d[f"{kind}_hist"][step][j]
        total = sum(counts) or 1
        if kind == "act":
            summary = (f"mean {d['act_mean'][step][j]:+.3f} · std {d['act_std'][step][j]:.3f} · "
                       f"{d['saturation'][step][j]:.1%} saturated")
        else:
            summary = f"std {d['grad_std'][step][j]:.3g}"
        frames.append(pd.DataFrame({"layer": layer, "value": centres, "share": [c / total for c in counts],
                                    "summary": summary}))
    return pd.concat(frames, ignore_index=True)


dataset = current_dataset()
V = len(dataset.vocab)
ideal = math.log(V)  # -log(1/V): the loss of a uniform guess
board = job_board()

st.title("Activations, gradients and BatchNorm")
st.markdown(
    "A deeper network is not automatically a better one: if the numbers flowing forward (activations) "
    "or backward (gradients) grow or shrink from layer to layer, it learns slowly or not at all. This "
    "page follows lecture 3: it trains the MLP while recording what happens **inside** it, then fixes "
    "the problems one by one: the initial loss, saturated tanh units, the scale of the weights "
    "(Kaiming init) and finally **Batch Normalization** (Ioffe & Szegedy, 2015)."
)
check_link(SETTINGS)  # links carry the settings: say which of this one's cannot be used

# --- the lecture's path --------------------------------------------------------------------------
st.header("1 · Walk the lecture's path")
st.caption("Each button sets up the network for one step of the lecture and trains it (with the training "
           "settings below). Trained models are kept, so a whole class can click through in step.")
for group in (("naive", "softmax", "tanh", "kaiming", "batchnorm"), ("deep", "deep-no-gain", "deep-batchnorm")):
    for column, name in zip(st.columns(5), group):
        number = list(PRESETS).index(name) + 1
        column.button(f"{number} · {PRESET_TEXT[name][0]}", key=f"bn_preset_{name}", on_click=choose_preset,
                      args=(name,), width="stretch")

st.subheader("Model", divider="gray")
c1, c2, c3 = st.columns(3)
n_layers = c1.slider("Hidden layers", 1, limits.MAX_N_LAYERS, DEFAULTS["bn_layers"], key="bn_layers", **BOUND,
                     help="Linear → (BatchNorm) → tanh, this many times, then the output layer.")
n_hidden = c2.slider("Width", 16, limits.MAX_N_HIDDEN, DEFAULTS["bn_hidden"], 8, key="bn_hidden", **BOUND,
                     help="Units in every hidden layer.")
n_embd = c3.slider("Embedding size", 2, limits.MAX_N_EMBD, DEFAULTS["bn_embd"], key="bn_embd", **BOUND,
                   help="Numbers per character; the network reads 3 characters of context.")
c1, c2, c3 = st.columns(3)
batchnorm = c1.toggle("BatchNorm after each hidden linear layer", DEFAULTS["bn_batchnorm"], key="bn_batchnorm",
                      **BOUND)
init = c2.selectbox("Initialisation of the hidden weights", list(INITS), key="bn_init", **BOUND,
                    index=list(INITS).index(DEFAULTS["bn_init"]),
                    help="How the weights of each hidden linear layer start. fan_in: the number of inputs.")
out_scale = c3.select_slider("Output layer scale (fix the overconfident softmax)", OUT_SCALES, DEFAULTS["bn_out"],
                             key="bn_out", **BOUND,
                             help="The output layer's weights are multiplied by this: small values make the "
                             "first predictions nearly uniform. 1: no fix.")
model_config = MLPBNConfig(n_embd=n_embd, n_hidden=n_hidden, n_layers=n_layers, batchnorm=batchnorm,
                           init=INITS[init], out_scale=out_scale)
preset = preset_of(model_config)
with st.container():  # always there, so what follows keeps its place whether a preset matches or not
    if preset:
        st.info(f"**{PRESET_TEXT[preset][0]}.** {PRESET_TEXT[preset][1]}", icon=":material/school:")

st.subheader("Training", divider="gray")
c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="bottom")
c1.button("Fast recipe", on_click=apply, args=(training_values("bn", FAST_TRAINING),), icon=":material/bolt:",
          width="stretch", help="AdamW, batches of 1,024, a cosine decay: the page's default.")
c2.button("Lecture 3's recipe", on_click=apply, args=(training_values("bn", LECTURE_TRAINING),),
          icon=":material/school:", width="stretch",
          help="The lecture's own run: SGD at 0.1, then 0.01, batches of 32, 200,000 steps.")
c3.caption(f"With BatchNorm, the lecture's run reaches a validation loss of {LECTURE_VAL_LOSS} after 200,000 steps "
           f"(about {LECTURE_SECONDS} s on 2 CPU cores); the fast recipe reaches the same loss in a small fraction "
           "of that time. The lecture's −3 rule for the update ratio below is for its SGD.")
train_config = training_controls("bn", FAST_TRAINING)

params = mlp_bn_param_count(V, model_config)
estimate = estimate_seconds(V, model_config, train_config.max_steps, train_config.batch_size,
                            evaluated_examples(train_config, dataset))
too_long = estimate > limits.MAX_TRAIN_SECONDS
st.caption(f"**{params:,} parameters** · about **{estimate:.0f} s** on 2 CPU cores · activations and gradients "
           f"are recorded at {SNAPSHOTS} steps of the run · address bar: these settings, ready to share.")
if too_long:
    st.warning(f"This run would take about {estimate / 60:.0f} minutes; the playground allows "
               f"{limits.MAX_TRAIN_SECONDS / 60:.0f} so that the server stays quick for everyone. "
               "Lower the steps, the batch size, the depth or the width.", icon=":material/timer_off:")

# --- training ------------------------------------------------------------------------------------
st.header("2 · Train")
job = trained_live(board, dataset, "mlp-bn", model_config, train_config, estimate, allowed=not too_long,
                   key="bn_train", start=st.session_state.pop("bn_train_now", False))

# --- results -------------------------------------------------------------------------------------
model, r = job.model, job.result
d = r.diagnostics
first_loss = r.loss_history[0]
runs = st.session_state.setdefault("bn_runs", {})
runs[job.key] = {
    "run": PRESET_TEXT[preset][0] if preset else "your own",
    "model": f"{n_layers} × {n_hidden}{' + BN' if batchnorm else ''} · {INITS[init]} · out × {out_scale:g}",
    "training": training_summary(train_config),
    "first loss": round(first_loss, 3), "train": round(r.train_loss, 4), "val": round(r.val_loss, 4),
    "seconds": round(r.seconds, 1),
}

c1, c2, c3, c4 = st.columns(4)
c1.metric("val loss", f"{r.val_loss:.4f}")
c2.metric("train loss", f"{r.train_loss:.4f}")
c3.metric("loss at step 1", f"{first_loss:.3f}", f"{first_loss - ideal:+.3f} vs uniform guess",
          delta_color="inverse", help=f"The uniform guess, −log(1/{V}) = {ideal:.3f}, is what a network that "
          "knows nothing yet should score.")
c4.metric("trained in", f"{r.seconds:.1f} s",
          help=f"{r.steps:,} steps at {r.steps_per_sec:,.0f} steps/s"
          + (" (loaded from the cache: nothing was trained now)" if job.from_disk else ""))

left, right = st.columns([3, 2])
frame = smoothed_history(r.step_history, r.loss_history, r.val_history)
left.altair_chart(charts.loss_curve(frame, reference=ideal, reference_label="uniform guess", log_y=True,
                                    title="Loss during training (train averaged, log scale)"), width="stretch")
table = pd.DataFrame(runs.values())
numbered = [f"{i + 1}. {name}" for i, name in enumerate(table["run"])]
right.altair_chart(charts.initial_losses(pd.DataFrame({"run": numbered, "initial": table["first loss"]}), ideal),
                   width="stretch")
st.markdown("**Your runs on this page**, in the order you trained them")
show_table(table.assign(run=numbered), max_height=330)
st.caption(f"Lecture 3's BatchNorm net, trained with its own recipe (200,000 SGD steps): val ≈ {LECTURE_VAL_LOSS}.")

# --- inside the network --------------------------------------------------------------------------
st.header("3 · Look inside")
if not d or not d["steps"]:
    st.info("This run stopped before its first step: nothing was recorded.")
    st.stop()
recorded = d["steps"]
step = st.select_slider("Show the network at step", recorded, recorded[0], key=f"bn_step_{job.key}",
                        help=f"Recorded at the first step (the network as initialised) and at {SNAPSHOTS} steps "
                        "across the run. Move it to see the statistics evolve.")
i = recorded.index(step)
st.caption(f"At step {step:,}: the forward pass of that step's batch, and the gradients of its backward pass.")

left, right = st.columns([3, 2])
left.altair_chart(charts.layer_histograms(bins_frame("act", i, d), "tanh output",
                                          "Activations of each tanh layer"), width="stretch")
layers = pd.DataFrame({"layer": d["layers"], "saturation": d["saturation"][i], "mean": d["act_mean"][i],
                       "std": d["act_std"][i]})
right.altair_chart(charts.saturation_bars(layers, d["saturated_above"]), width="stretch")
st.caption("Healthy: every layer spread over (−1, 1) with a similar std and few values at ±1. A saturated unit "
           "passes almost no gradient back (tanh's derivative is 1 − tanh², near 0 at ±1); a layer squeezed "
           "towards 0 behaves like a linear layer.")

left, right = st.columns([3, 2])
left.altair_chart(charts.layer_histograms(bins_frame("grad", i, d), "gradient of the loss w.r.t. the tanh output",
                                          "Gradients flowing back into each tanh layer"), width="stretch")
weights = pd.DataFrame({"weight": d["weights"], "ratio": d["grad_data"][i]}).dropna()
right.altair_chart(charts.grad_data_ratios(weights[weights["ratio"] > 0]), width="stretch")
st.caption("Healthy: the gradient histograms of all layers about as wide as each other (none shrinking or "
           "exploding with depth), and gradients small next to the weights they update (ratios around 10⁻³ to "
           "10⁻²). A ratio far above the rest trains that weight much faster than the others.")

updates = pd.DataFrame([(s, w, v) for s, row in zip(recorded, d["update_data"]) for w, v in zip(d["weights"], row)],
                       columns=["step", "weight", "log_ratio"]).dropna()
st.altair_chart(charts.update_ratios(updates, step), width="stretch")
st.caption("How big each step's change is next to the weights themselves, on a log scale. The lecture's rule of "
           "thumb for SGD: around −3 (each step changes a weight by about a thousandth). Far below, the net "
           "learns too slowly; far above, it is jumping around. AdamW's steps are about the learning rate for "
           "every weight, so its lines sit higher and fall with the cosine decay.")

with st.expander("The numbers behind these charts, per layer"):
    show_table(layers.assign(**{"grad std": d["grad_std"][i]}).round(4))

st.subheader("Samples")
st.caption("In evaluation BatchNorm uses its running mean and variance instead of the batch's, so the model "
           "can generate one word at a time.")
show_samples(generate(model, dataset.vocab, train_words=dataset.splits["train"], **sample_controls("bn_samples")))

# --- how it works --------------------------------------------------------------------------------
st.header("How it works")
st.markdown(r"""
**The first loss.** A network that knows nothing should give every one of the $V$ characters the same
probability, a loss of $-\log(1/V) = \log V$. Large random weights in the output layer make large logits: the
softmax is confidently wrong and the loss starts far higher. Scaling the output layer down fixes it.

**Saturation.** $\tanh'(x) = 1 - \tanh^2(x)$: where an output is near $\pm 1$ the gradient through it is near 0.
A unit that is saturated for every example never learns (a *dead* unit). Pre-activations with a large spread
saturate; smaller weights prevent it.

**Kaiming init.** A layer $y = xW$ with $n$ inputs of unit variance and weights of variance $\sigma^2$ gives
outputs of variance $n\sigma^2$. So $\sigma = g/\sqrt{n}$ keeps the spread through the layer; the gain $g = 5/3$
makes up for tanh shrinking its inputs (He et al., 2015).

**Batch Normalization.** For each feature, over the batch of $m$ examples:

$$\mu = \frac{1}{m}\sum_i x_i, \quad \sigma^2 = \frac{1}{m-1}\sum_i (x_i - \mu)^2, \quad \hat{x}_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y_i = \gamma\,\hat{x}_i + \beta$$

The pre-activations are unit Gaussian by construction, and the learned $\gamma, \beta$ let the network choose
another scale. Each example's output now depends on the others in its batch, a little noise that regularises.
To use the model on one example, it keeps running averages
$\mu_{\text{run}} \leftarrow (1 - m)\,\mu_{\text{run}} + m\,\mu$ (momentum $m = 0.1$) while training and uses
those instead at evaluation; evaluating never changes them. A bias before BatchNorm is useless (the mean is
subtracted), so those linear layers have none.

**The diagnostics.** Recorded at 50 steps of each run: each tanh layer's mean, standard deviation and saturated
share, histograms of its outputs and of the gradients reaching them; for each weight matrix
$\text{std}(\nabla W)/\text{std}(W)$ and $\log_{10}(\text{std}(\Delta W)/\text{std}(W))$, where $\Delta W$ is the
change the optimizer made in that step ($-\text{lr}\cdot\nabla W$ for SGD).
""")
show_source(Linear, BatchNorm1d, Tanh, MLPBN, title="The layers' and the model's source code")
