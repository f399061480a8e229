"""Recurrent nets (makemore.py's RNN and GRU): a whole word read one character at a time, the
hidden state and the GRU's gates for a typed name, vanishing gradients, and the other stages' losses."""

import pandas as pd
import streamlit as st
import torch
import torch.nn.functional as F

import charts
from kit.datasets_ui import current_dataset
from kit.links import PAGES
from kit.model_controls import BOUND, initial, model_controls, url_settings
from kit.presets import matching_preset, preset_buttons
from kit.references import Reference, lecture_comparison, result_reference
from kit.results import loss_chart, remember_run, result_metrics, samples_and_export, show_runs
from kit.sections import deeper_views, header, outline
from kit.training_ui import (check_link, cost_line, fast_training, lecture_training, recipe_buttons, trained_live,
                             training_controls, training_settings)
from kit.urlstate import Setting
from kit.widgets import show_source, show_table
from training.missing import train_missing
from training.shared import job_board, trained
from makemore import limits
from makemore.data import DataError, Vocab, WordDataset, typed_word
from makemore.models import MODELS, create_model
from makemore.models.recurrent import (GRUCell, RecurrentLM, RNNCell, gate_values, hidden_gradient_norms,
                                       hidden_states, top_next_chars, word_input)
from makemore.runs import Run

CELLS = {"RNN": "rnn", "GRU": "gru"}  # what the radio shows -> the registry's model
# each cell has its own widgets (and URL parameters): their defaults differ, and switching cells keeps both
FIELDS = {name: list(PAGES[name].fields) for name in CELLS.values()}
CELL = Setting("rec_cell", "Cell", "RNN", options=tuple(CELLS))
SETTINGS = [CELL] + [s for name in CELLS.values()
                     for s in url_settings(FIELDS[name]) + training_settings(name, fast_training(name))]
PRESET_TITLES = {"larger": "A larger GRU"}
TOP_K = 5  # next characters shown per position
SECTIONS = ["1 · Choose the cell and how to train it", "2 · Train"]
VIEWS = ["3 · Look inside, one word at a time", "4 · Vanishing gradients: how far back the error reaches",
         "5 · Against the other stages", "How it works"]
DEFAULT_WORD = "isabella"  # long enough to show a gradient fade; else the list's first word of 4-8


# --- a typed word --------------------------------------------------------------------------------

def default_word(dataset: WordDataset) -> str:
    if all(c in dataset.vocab.chars for c in DEFAULT_WORD):
        return DEFAULT_WORD
    return next((w for w in dataset.splits["train"] if 4 <= len(w) <= 8), dataset.splits["train"][0])


def positions_frame(vocab: Vocab, ids: list[int]) -> pd.DataFrame:
    """One row per position of the word: the character read there and everything read so far."""
    itos = vocab.itos
    read = [0, *ids]
    return pd.DataFrame({"position": range(len(read)),
                         "char": ["␣" if itos[i] == " " else itos[i] for i in read],
                         "prefix": ["".join(itos[i] for i in read[: t + 1]) for t in range(len(read))]})


def unit_frame(values, positions: pd.DataFrame) -> pd.DataFrame:
    """values (n_hidden, T) -> long format: unit, position, char, prefix, value."""
    H, T = values.shape
    return pd.DataFrame({"unit": [u for u in range(H) for _ in range(T)],
                         "position": list(range(T)) * H,
                         "value": values.reshape(-1).tolist()}).merge(positions, on="position")


def gradient_rows(label: str, cell: str, model_name: str, model_config, seed: int, model: RecurrentLM,
                  vocab_size: int, ids: list[int], positions: pd.DataFrame) -> pd.DataFrame:
    """||d loss / d h_t|| of the top layer at every position, trained and as initialised (the same
    seed, so the very weights training started from)."""
    start = create_model(model_name, vocab_size, model_config, seed=seed)
    frames = [positions.assign(model=label, cell=cell, state=state, norm=hidden_gradient_norms(m, ids)[-1].tolist())
              for state, m in (("trained", model), ("at initialisation", start))]
    return pd.concat(frames, ignore_index=True)


# =================================================================================================

dataset = current_dataset()
vocab = dataset.vocab
board = job_board()
watched = set()  # jobs whose live view this run has drawn

st.title("Recurrent nets: RNN and GRU")
st.markdown(
    "The MLP and WaveNet look at a fixed window of the last few characters. A **recurrent** network reads "
    "the whole word, one character at a time, and carries what it has read in a **hidden state** h: at "
    "every position it mixes the new character into h and predicts the next character from it, so a "
    "prediction may depend on everything read so far. The vanilla RNN (Mikolov et al., 2010) mixes with "
    "one tanh layer; the GRU (Cho et al., 2014) adds **gates** that decide, unit by unit, how much of the "
    "old state to keep, and so lets the error signal reach further back in the word."
)
outline(SECTIONS, VIEWS)
check_link(SETTINGS)  # links carry the settings: say which of this one's cannot be used

# --- settings ------------------------------------------------------------------------------------
header(SECTIONS[0])
cell = st.radio("Cell", list(CELLS), index=initial(CELL.key, list(CELLS).index(CELL.default), 0), key=CELL.key,
                horizontal=True, **BOUND,
                help="**RNN**: h_t = tanh(W [x_t; h_{t−1}] + b). **GRU**: the same idea with an update "
                "and a reset gate. Each keeps its own settings below.")
name = CELLS[cell]
recipe_buttons(name, name, FIELDS[name], note="makemore.py itself runs until stopped: its recipe here stops at "
               "10,000 steps. The fast recipe (a higher rate with a cosine decay, bigger batches) gets lower in less "
               "time: train both and compare below.")
if name == "gru":
    preset_buttons(MODELS["gru"].presets, PRESET_TITLES, FIELDS["gru"], prefix="gru", train_key="gru_train",
                   model_name="gru")

st.subheader("Model", divider="gray")
model_config = model_controls(name, FIELDS[name], columns=3)
if matching_preset(MODELS[name].presets, model_config):
    st.info("**A larger GRU**: 32-dimensional embeddings and 128 units, trained on batches of 128 for 5,000 "
            "steps. It needs more time than the default and gets a little lower.", icon=":material/school:")

st.subheader("Training", divider="gray")
train_config = training_controls(name, fast_training(name), lecture=lecture_training(name))
estimate, allowed = cost_line(name, dataset, model_config, train_config,
                              notes=("every batch is cut to its longest word",),
                              lower="the steps, the batch size or the hidden size")

# --- training ------------------------------------------------------------------------------------
header(SECTIONS[1])
bigram = trained(dataset, MODELS["bigram"].default_run()).result
job = trained_live(board, dataset, Run(name, model_config, train_config), estimate, allowed=allowed, key=f"{name}_train")

model, r = job.model, job.result
c = model_config
runs = remember_run("recurrent", job, cell=cell, model=f"{c.n_layers} × {c.n_hidden} · emb {c.n_embd}")
# makemore.py reports no figure for its RNN or GRU: result_reference keeps the bigram for every result
reference = result_reference(dataset, job, Reference("bigram", bigram.val_loss, lecture_figure=False))
result_metrics(job, compare_to=(reference.label, reference.val_loss), params=True)
loss_chart(job, reference=bigram.val_loss, reference_label="bigram val")
show_runs(runs, best_first=True)  # full width: in a column beside the chart its columns would not fit
lecture_comparison(board, dataset, name, key=f"{name}_lecture_train")

st.subheader("Samples")
st.caption("Each word starts from the start token; the model reads every character it drew and stops at the "
           f"end token (or at {limits.MAX_WORD_LEN} characters).")
samples_and_export(job, dataset, "rec")

layers = c.n_layers
other_name = "gru" if name == "rnn" else "rnn"  # the other cell, beside this one in views 4 and 5
other_cell = next(k for k, v in CELLS.items() if v == other_name)
other_label, other = f"{other_cell} (its defaults)", MODELS[other_name].default_run()
look, vanishing, against, how = deeper_views(VIEWS)

# --- inside, for one word ------------------------------------------------------------------------
with look:
    typed = st.text_input("A word to read", default_word(dataset), key=f"rec_word_{dataset.fingerprint[:12]}",
                          max_chars=64, help=f"Up to {limits.MAX_WORD_LEN} characters of this word list.")
    try:
        _, ids = typed_word(typed, vocab)
    except DataError as e:
        (st.info if not typed.strip() else st.warning)(str(e), icon=":material/keyboard:")
        ids = None
    if ids is not None:
        positions = positions_frame(vocab, ids)

        st.markdown(f"The network reads the start token `{vocab.boundary}` and then each character; after each one it "
                    "has a new hidden state and a prediction for the next character.")
        states = hidden_states(model, ids)  # (n_layers, n_hidden, T)
        for layer in range(layers):
            title = "Hidden state h_t after each character" + (f" · layer {layer + 1}" if layers > 1 else "")
            st.altair_chart(charts.unit_heatmap(unit_frame(states[layer], positions), title, "h", (-1, 1)),
                            width="stretch")
        st.caption("One row per unit, one column per position: red is near +1, blue near −1 (tanh's range). A unit that "
                   "changes colour at a certain character has noticed it; one that keeps its colour carries something "
                   "along the word.")

        probs, top_ids = top_next_chars(model, ids, k=TOP_K)  # (T, k) each
        itos = vocab.itos
        following = [*ids, 0]  # what follows each position: the next character, then the end
        top = pd.DataFrame([{"position": t, "rank": k + 1, "candidate": itos[int(top_ids[t, k])], "prob": float(probs[t, k]),
                             "actual": itos[following[t]]} for t in range(len(following)) for k in range(top_ids.shape[1])])
        st.altair_chart(charts.next_char_heatmap(top.merge(positions, on="position")), width="stretch")
        with torch.no_grad():
            all_probs = F.softmax(model(word_input(model, ids))[0][0], dim=-1)  # (T, V)
        p_next = all_probs[torch.arange(len(following)), torch.tensor(following)]
        word_loss = -p_next.log().mean().item()
        show_table(pd.DataFrame({
            "read so far": positions["prefix"],
            "comes next": [itos[i] for i in following],
            "its probability": p_next.tolist(),
            "−log p": (-p_next.log()).tolist(),
            f"top {TOP_K}": [" ".join(f"{itos[int(i)]} {float(p):.2f}" for i, p in zip(row_ids, row_p))
                             for row_ids, row_p in zip(top_ids, probs)],
        }).round(3), max_height=300)
        st.caption(f"An orange frame marks the character that does come next (`{vocab.boundary}` is the end). The model's "
                   f"loss on this word is **{word_loss:.3f}**: the mean of −log p over its {len(following)} predictions, "
                   f"the same measure as the validation loss ({r.val_loss:.3f}).")

        st.subheader("The GRU's gates")
        if name != "gru":
            st.caption("The RNN has no gates: every step rewrites the whole state. Choose **GRU** above to see them.")
        else:
            gates = gate_values(model, ids)  # {"update", "reset"}: (n_layers, n_hidden, T)
            for layer in range(layers):
                suffix = f" · layer {layer + 1}" if layers > 1 else ""
                left, right = st.columns(2)
                left.altair_chart(charts.unit_heatmap(unit_frame(gates["update"][layer], positions),
                                                      "Update gate z_t: 1 keeps the old state" + suffix, "z", (0, 1),
                                                      scheme="viridis"), width="stretch")
                right.altair_chart(charts.unit_heatmap(unit_frame(gates["reset"][layer], positions),
                                                       "Reset gate r_t: 0 lets the candidate ignore it" + suffix, "r",
                                                       (0, 1), scheme="viridis"), width="stretch")
            st.caption("h_t = (1 − z_t) · n_t + z_t · h_{t−1}: where z is bright (near 1) the unit keeps what it held "
                       "and ignores this character; where it is dark the unit takes the new candidate n_t. The reset gate "
                       "decides how much of the old state the candidate itself may use.")

# --- vanishing gradients -------------------------------------------------------------------------
with vanishing:
    st.markdown(
        "Train a model and every prediction's error flows back through the states that led to it: "
        "∂loss/∂h_t says how much the state at position t could change that prediction. Below, the loss is the "
        "last prediction of the word (that it ends there), and the chart shows the size of its gradient at every "
        "earlier position, for the RNN and the GRU: solid lines trained, dashed as initialised."
    )
    if ids is None:
        st.info("Type a word this model can read in the tab *3 · Look inside*.", icon=":material/keyboard:")
    else:
        chart_slot = st.container()
        others = train_missing(board, dataset, {other_label: other}, key="rec_other_train", watched=watched)
        rows = [gradient_rows(f"{cell} (this page's model)", cell, name, model_config, train_config.seed, model, len(vocab),
                              ids, positions)]
        if other_label in others:
            rows.append(gradient_rows(other_label, other_cell, other_name, other.model_config, other.train_config.seed,
                                      others[other_label].model, len(vocab), ids, positions))
        else:
            st.caption(f"Train the {other_cell} too to see both cells on one chart.")
        norms = pd.concat(rows, ignore_index=True)
        top_layer = " (top layer)" if layers > 1 or other.model_config.n_layers > 1 else ""
        title = f"‖∂loss/∂h_t‖ at each position{top_layer}, for the word's last prediction"
        chart_slot.altair_chart(charts.gradient_norms(norms[norms["norm"] > 0], title), width="stretch")
        first, last = norms[norms["position"] == 0], norms[norms["position"] == norms["position"].max()]
        fading = first.merge(last, on=["model", "state"], suffixes=(" first", " last"))
        show_table(pd.DataFrame({
            "model": fading["model"], "state": fading["state"],
            "at the last position": fading["norm last"], "at the first": fading["norm first"],
            "last ÷ first": fading["norm last"] / fading["norm first"],
        }).map(lambda v: float(f"{v:.3g}") if isinstance(v, float) else v), max_height=220)
        st.markdown(
            "**Why the RNN's signal fades.** Each step back multiplies the gradient by "
            "∂h_t/∂h_{t−1} = diag(1 − h_t²) · W_hh: tanh's slope is at most 1 and smaller wherever a unit is busy, "
            "and small recurrent weights shrink it further, so over a long word it falls geometrically (or, with large "
            "weights, explodes). Early characters then barely learn to matter for late predictions. "
            "**Why the gate helps.** The GRU's state moves on as h_t = (1 − z_t) · n_t + z_t · h_{t−1}: its Jacobian "
            "has the extra term diag(z_t), with no tanh and no matrix in it. Where the update gate is near 1 the old "
            "state, and its gradient, pass through almost unchanged. Compare the slopes of the lines: the steeper, "
            "the faster the signal fades."
        )

# --- against the other stages --------------------------------------------------------------------
with against:
    st.caption("Each stage's default model on this word list (its own settings and fast recipe), from the cache. "
               "The loss is per predicted character, the end included, on the same validation words for all.")
    compared = {other_label: other, "MLP (lecture 2)": MODELS["mlp"].default_run(),
                "WaveNet (lecture 5)": MODELS["wavenet"].default_run()}
    done = train_missing(board, dataset, compared, key="rec_compare_train", watched=watched)
    losses = pd.DataFrame(
        [dict(model=f"{cell} (this page's model)", parameters=r.params, val=r.val_loss, train=r.train_loss,
              seconds=r.seconds, highlight=True)]
        + [dict(model=label, parameters=job.result.params, val=job.result.val_loss, train=job.result.train_loss,
                seconds=job.result.seconds, highlight=False) for label, job in done.items()]
        + [dict(model="Bigram counts (lecture 1)", parameters=bigram.params, val=bigram.val_loss,
                train=bigram.train_loss, seconds=bigram.seconds, highlight=False)])
    left, right = st.columns([3, 2])
    left.altair_chart(charts.val_losses(losses, "Validation loss of each stage's model"), width="stretch")
    with right:
        show_table(losses.drop(columns="highlight").rename(columns={"val": "val loss", "train": "train loss",
                                                                  "seconds": "trained in (s)"}).round(4))

# --- how it works --------------------------------------------------------------------------------
with how:
    st.markdown(r"""
**Reading a word.** The word's ids after the start token, $x = [., w_1, \dots, w_n]$, go in one at a time. Each
character is looked up in an embedding table, $e_t = C[x_t]$, and the cell updates the state from it:
$h_t = \text{cell}(e_t, h_{t-1})$ with $h_{-1} = 0$. The logits for the next character come from the state,
$\text{logits}_t = W_{\text{out}} h_t + b_{\text{out}}$. Every position predicts (the last one predicts the end),
so one word of $n$ characters gives $n + 1$ training examples in one pass. With two layers, the second cell reads
the first one's states instead of the embeddings.

**The RNN cell** (Elman's, as Mikolov et al. 2010 used it for language models), with $[a; b]$ two vectors joined:

$$h_t = \tanh\left(W [e_t; h_{t-1}] + b\right)$$

**The GRU cell** (Cho et al. 2014, in PyTorch's form), with $\sigma$ the sigmoid and $\odot$ the elementwise
product:

$$r_t = \sigma(W_r [e_t; h_{t-1}] + b_r) \qquad z_t = \sigma(W_z [e_t; h_{t-1}] + b_z)$$

$$n_t = \tanh\left(W_{xn} e_t + b_{xn} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\right)$$

$$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$$

The reset gate $r_t$ decides how much of the old state the candidate $n_t$ may use; the update gate $z_t$ how much
of the old state to keep as it is.

**Whole words in a batch.** Words differ in length, so a batch pads them to its longest: targets past a word's end
are $-1$, and the loss (cross-entropy, `ignore_index=-1`) never counts them. The loss is the mean over predicted
characters, the end included, as for every other stage, so the losses compare.

**Backpropagation through time.** The gradient of a late loss reaches $h_t$ through every later step:
$\frac{\partial h_{s}}{\partial h_{s-1}} = \text{diag}(1 - h_s^2)\, W_{hh}$ for the RNN, a product of $s - t$ of
them. Its size changes geometrically with the distance (Bengio et al. 1994). The GRU's Jacobian contains
$\text{diag}(z_s)$, a path with no squashing, which the network can hold open where it needs a memory.

**Fast and readable.** Training runs PyTorch's fused `nn.RNN` / `nn.GRU` (one C++ loop over the positions).
The cells below compute the same numbers from the same weights (the package's tests check it); they draw every
chart of sections 3 and 4, where each step's state, gates and gradient must be kept.
""")
    show_source(RNNCell, GRUCell, title="The readable cells' source code")
    show_source(RecurrentLM, hidden_gradient_norms, title="The model's and the gradient norms' source code")
