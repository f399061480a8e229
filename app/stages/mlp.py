"""Stage 2: the character MLP of Bengio et al. 2003 (lecture 2), trained live."""

import pandas as pd
import streamlit as st

import charts
from kit import links
from kit.datasets_ui import current_dataset
from kit.model_controls import model_controls, url_settings
from kit.model_views import show_embeddings
from kit.references import Reference, lecture_comparison, result_reference
from kit.results import samples_and_export, loss_chart, remember_run, result_metrics, show_runs
from kit.training_ui import (check_link, cost_line, fast_training, recipe_buttons, trained_live, training_controls,
                             training_settings, use_rate)
from kit.widgets import show_source, show_table
from training.shared import job_board, trained
from makemore.lr_finder import lr_sweep
from makemore.models import MODELS
from makemore.models.mlp import MLP
from makemore.runs import Run

FIELDS = list(links.PAGES["mlp"].fields)
SETTINGS = url_settings(FIELDS) + training_settings("mlp", fast_training("mlp"))


dataset = current_dataset()
vocab = dataset.vocab
board = job_board()

st.title("MLP: embeddings and a hidden layer")
st.markdown(
    "The bigram saw one character. This model, from Bengio et al. (2003), reads the last few "
    "characters, looks each one up in a learned **embedding table** C, joins the vectors and feeds "
    "them through a **tanh hidden layer** to the logits of the next character. Characters that behave "
    "alike get nearby embeddings, so what the model learns about one helps the others."
)

check_link(SETTINGS)  # links carry the settings: say which of this one's cannot be used

# --- settings ------------------------------------------------------------------------------------
st.header("1 · Choose the model and how to train it")
recipe_buttons("mlp", "mlp", FIELDS, note="Both train the same network (block 3, embeddings of 10, 200 hidden "
               "units); the fast recipe gets there in a small fraction of that time. Train both and compare below.")

st.subheader("Model", divider="gray")
model_config = model_controls("mlp", FIELDS, columns=4)

st.subheader("Training", divider="gray")
train_config = training_controls("mlp", fast_training("mlp"), lr_help="The finder below suggests one.")
batch_size, seed = train_config.batch_size, train_config.seed
estimate, allowed = cost_line("mlp", dataset, model_config, train_config,
                              lower="the steps, the batch size or the hidden width")

# --- learning-rate finder ------------------------------------------------------------------------
with st.expander("Find a good learning rate (the lecture's sweep)", icon=":material/search:"):
    st.markdown(
        "One short run of up to 1,000 steps with this model, optimizer and batch size, where the learning "
        "rate grows from 10⁻³ towards 10⁰, one step at each rate. The loss falls faster as the rate grows, "
        "until the steps overshoot and it shoots up; the sweep ends there, once the loss is four times its "
        "lowest, so its curve may stop short of 10⁰. A good rate sits in the valley, a little before its "
        "lowest point."
    )
    optimizer = train_config.optimizer
    sweep_key = (dataset.fingerprint, model_config, optimizer, batch_size, int(seed))
    if st.button("Run the sweep", icon=":material/play_arrow:", key="mlp_sweep_run"):
        with st.spinner("Sweeping the learning rate…"):
            st.session_state["mlp_sweep"] = (sweep_key, lr_sweep(
                dataset, "mlp", model_config, optimizer=optimizer, batch_size=batch_size,
                seed=int(seed)))
    stored = st.session_state.get("mlp_sweep")
    if stored and stored[0] == sweep_key:
        sweep = stored[1]
        df = pd.DataFrame({"exponent": sweep.exponents, "loss": sweep.losses, "smoothed": sweep.smoothed})
        st.altair_chart(charts.lr_sweep(df, sweep.suggested_exponent, (sweep.lo, sweep.hi)), width="stretch")
        if sweep.ended_early:
            st.caption(f"This sweep ended at a rate of {10 ** sweep.exponents[-1]:.2g} "
                       f"(10^{sweep.exponents[-1]:.2f}), where the loss had blown up; the rates above it would only "
                       "blow up sooner.")
        suggested = sweep.suggested_lr
        c1, c2 = st.columns([2, 3], vertical_alignment="center")
        c1.button(f"Use {suggested:.2g} for training", on_click=use_rate, args=("mlp_lr", suggested),
                  icon=":material/check:", key="mlp_sweep_use")
        c2.caption("The suggestion is the lowest point of the smoothed curve, moved half a decade lower "
                   "(it snaps to the nearest rate of the slider).")
    elif stored:
        st.caption("The settings changed since the last sweep: run it again.")

# --- training ------------------------------------------------------------------------------------
st.header("2 · Train")
bigram = trained(dataset, MODELS["bigram"].default_run()).result
job = trained_live(board, dataset, Run("mlp", model_config, train_config), estimate, allowed=allowed, key="mlp_train")

# --- results -------------------------------------------------------------------------------------
model, r = job.model, job.result
c = model_config
runs = remember_run("mlp", job, settings=f"block {c.block_size} · emb {c.n_embd} · hidden {c.n_hidden} · {c.init}")
# lecture 2's figure only beside lecture 2's own recipe on its names; any other result beside the bigram
reference = result_reference(dataset, job, Reference("bigram", bigram.val_loss, lecture_figure=False))
result_metrics(job, compare_to=(reference.label, reference.val_loss), params=True)

left, right = st.columns([3, 2])
loss_chart(job, reference=bigram.val_loss, reference_label="bigram val", container=left)
with right:
    st.markdown("**Loss on each split**")
    show_table(pd.DataFrame({
        "model": ["this MLP", "bigram (counts)"],
        "train": [r.train_loss, bigram.train_loss],
        "val": [r.val_loss, bigram.val_loss],
        "test": [r.test_loss, bigram.test_loss],
    }).round(4))
    lecture_comparison(board, dataset, "mlp", key="mlp_lecture_train")
show_runs(runs, best_first=True)  # full width: in the column beside the chart its columns would not fit

st.subheader("Samples")
samples_and_export(job, dataset, "mlp", top_k=True)

st.subheader("The embedding table")
show_embeddings(model.C, vocab)

# --- how it works --------------------------------------------------------------------------------
st.header("How it works")
st.markdown(r"""
**The model.** With context characters $c_1,\dots,c_k$ ($k$ = block size) and an embedding table
$C \in \mathbb{R}^{V\times d}$:

$$x = [C_{c_1}, C_{c_2}, \dots, C_{c_k}] \in \mathbb{R}^{kd}, \quad h = \tanh(x W_1 + b_1), \quad \text{logits} = h W_2 + b_2$$

and $P(\text{next} \mid \text{context}) = \text{softmax}(\text{logits})$. The loss is the same negative
log-likelihood as the bigram's, now averaged over a random **minibatch** at each step: a noisy but cheap
estimate of the gradient.

**Parameters.** $Vd + (kd + 1)\,n_{\text{hidden}} + (n_{\text{hidden}} + 1)\,V$: the table, the hidden layer
and the output layer.

**Initialisation.** With `randn` weights the logits start large, so the first predictions are confidently
wrong (a loss far above $\log V$) and many $\tanh$ units sit at $\pm 1$ where their gradient vanishes.
Scaling $W_1$ by $\tfrac{5/3}{\sqrt{kd}}$ (Kaiming, with $\tanh$'s gain) and $W_2$ by 0.01 starts from
nearly uniform predictions, a loss of about $\log V$.

**Training faster.** The lecture takes 200,000 SGD steps of 32 examples at a fixed rate, divided by 10
halfway. AdamW adapts each weight's step size, so larger rates are safe; a batch of hundreds gives a
cleaner gradient at little extra cost per step; and a cosine decay lowers the rate smoothly to fine-tune
at the end. Same network, same data: a fraction of the time.

**Splits.** Train on 80 % of the words, choose settings by the validation loss (10 %), and report the
test loss (10 %) once at the end: a model that only memorises shows a train loss well below val.
""")
show_source(MLP)
