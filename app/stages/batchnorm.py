"""Stage 3: activations, gradients and BatchNorm (lecture 3), with the lecture's fixes as presets."""

import pandas as pd
import streamlit as st

import charts
from kit.datasets_ui import current_dataset
from kit.links import PAGES
from kit.model_controls import model_controls, url_settings
from kit.model_views import show_diagnostics
from kit.presets import matching_preset, preset_buttons
from kit.references import lecture_comparison, recipe_reference, result_reference
from kit.results import samples_and_export, loss_chart, remember_run, result_metrics, show_runs, uniform_loss
from kit.training_ui import (check_link, cost_line, fast_training, recipe_buttons, trained_live, training_controls,
                             training_settings)
from kit.widgets import show_source
from training.shared import job_board
from makemore.diagnostics import SNAPSHOTS
from makemore.layers import BatchNorm1d, Linear, Tanh
from makemore.models import MODELS
from makemore.models.mlp_bn import MLPBN
from makemore.runs import Run

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
PRESET_TITLES = {name: title for name, (title, _) in PRESET_TEXT.items()}
FIELDS = list(PAGES["mlp-bn"].fields)
PRESETS = MODELS["mlp-bn"].presets
SETTINGS = url_settings(FIELDS) + training_settings("bn", fast_training("mlp-bn"))


dataset = current_dataset()
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
preset_buttons(PRESETS, PRESET_TITLES, FIELDS, prefix="bn", train_key="bn_train", model_name="mlp-bn")

st.subheader("Model", divider="gray")
model_config = model_controls("mlp-bn", FIELDS, columns=3)
preset = matching_preset(PRESETS, model_config)
with st.container():  # always there, so what follows keeps its place whether a preset matches or not
    if preset:
        st.info(f"**{PRESET_TEXT[preset][0]}.** {PRESET_TEXT[preset][1]}", icon=":material/school:")

st.subheader("Training", divider="gray")
recipe_buttons("mlp-bn", "bn", note="With BatchNorm the fast recipe reaches the same loss in a small fraction of "
               "that time. The lecture's −3 rule for the update ratio below is for its SGD.")
train_config = training_controls("bn", fast_training("mlp-bn"))
estimate, allowed = cost_line("mlp-bn", dataset, model_config, train_config,
                              notes=(f"activations and gradients are recorded at {SNAPSHOTS} steps of the run",),
                              lower="the steps, the batch size, the depth or the width")

# --- training ------------------------------------------------------------------------------------
st.header("2 · Train")
job = trained_live(board, dataset, Run("mlp-bn", model_config, train_config), estimate, allowed=allowed, key="bn_train")

# --- results -------------------------------------------------------------------------------------
model, r = job.model, job.result
c = model_config
runs = remember_run("bn", job, run=PRESET_TEXT[preset][0] if preset else "your settings",
                    model=f"{c.n_layers} × {c.n_hidden}{' + BN' if c.batchnorm else ''} · {c.init} · out × {c.out_scale:g}")
# lecture 3's figure only beside its own recipe on its names; else that recipe as trained on this list, if it is
reference = result_reference(dataset, job, recipe_reference(board, dataset, job))
result_metrics(job, compare_to=(reference.label, reference.val_loss) if reference else None, first_loss=True)

ideal = uniform_loss(job)
left, right = st.columns([3, 2])
loss_chart(job, reference=ideal, reference_label="uniform guess", container=left)
numbered = [f"{i + 1}. {name}" for i, name in enumerate(runs["run"])]
right.altair_chart(charts.initial_losses(pd.DataFrame({"run": numbered, "initial": runs["first loss"]}), ideal),
                   width="stretch")
show_runs(runs.assign(run=numbered))
lecture_comparison(board, dataset, "mlp-bn", key="bn_lecture_train")

# --- inside the network --------------------------------------------------------------------------
st.header("3 · Look inside")
if not show_diagnostics(r.diagnostics, key=f"bn_step_{job.key}"):
    st.stop()

st.subheader("Samples")
st.caption("In evaluation BatchNorm uses its running mean and variance instead of the batch's, so the model "
           "can generate one word at a time.")
samples_and_export(job, dataset, "bn")

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
