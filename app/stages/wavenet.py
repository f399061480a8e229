"""Stage 5: the WaveNet of lecture 5, a hierarchical MLP built of torch.nn-like blocks: the lecture's
path as presets, the tensor shapes through the blocks for a typed name, the tree of what each unit
reads, and the BatchNorm bug of 3-D inputs."""

import dataclasses

import pandas as pd
import streamlit as st
import torch

import charts
from kit.datasets_ui import current_dataset
from kit.links import PAGES
from kit.model_controls import BOUND, model_controls, url_settings
from kit.model_views import show_diagnostics, show_embeddings
from kit.presets import choose_preset, preset_buttons, preset_run, presets_table
from kit.references import Reference, lecture_comparison, recipe_reference, result_reference
from kit.results import samples_and_export, loss_chart, remember_run, result_metrics, show_runs
from kit.sections import deeper_views, header, outline
from kit.training_ui import (check_link, cost_line, details_text, fast_training, lecture_training,
                             recipe_buttons, trained_live, training_controls, training_settings)
from kit.urlstate import Setting
from kit.widgets import show_source, show_table
from training.shared import job_board, trained
from makemore import limits
from makemore.data import DataError, typed_word
from makemore.diagnostics import SNAPSHOTS
from makemore.layers import BatchNorm1d, Embedding, Flatten, FlattenConsecutive, Linear, Sequential, Tanh
from makemore.models import MODELS, create_model
from makemore.models.wavenet import LECTURE_VAL_LOSS, WaveNet, batchnorm_stat_shapes, layer_shapes, receptive_fields
from makemore.runs import Run

NAME = "wavenet"
SPEC = MODELS[NAME]
PRESETS = SPEC.presets  # the registry's, in the lecture's order: a preset added there shows up here
PRESET_TEXT = {  # preset -> (its name, what it changes and what to look for)
    "context-3": ("Context 3, flat", "Where lecture 5 starts: lecture 3's MLP with BatchNorm, reading the last "
                  "**3** characters (embeddings of 10, 200 hidden units)."),
    "context-8": ("Context 8, flat", "The same net reading **8** characters. Its one hidden layer now squashes "
                  "8 × 10 numbers in a single step; the lecture's biggest gain, for 10k more parameters."),
    "hierarchical-bug": ("Tree, BatchNorm bug", "The 8 characters fused **two at a time**, in three levels of "
                         "68 units (about the parameters of the flat net). BatchNorm as the lecture first wrote "
                         "it: averaged over the batch only, so each position of a level keeps **its own** mean "
                         "and variance, estimated from fewer numbers (section 4)."),
    "hierarchical": ("Tree, fixed", "The same tree with BatchNorm averaged over the batch **and** the positions: "
                     "one mean and variance per channel, from 4 (then 2) times more numbers."),
    "scaled-up": ("Scaled up", "The lecture's final net: embeddings of 24, 128 units per level, 76,579 "
                  "parameters."),
    "longer": ("Longer run", "The scaled-up net trained for longer, with weight decay against overfitting: "
               "a recipe of its own."),
}
TITLES = {name: PRESET_TEXT.get(name, (name.replace("-", " ").capitalize(),))[0] for name in PRESETS}
FIELDS = list(PAGES[NAME].fields)
NAME_SETTING = Setting("wn_name", "Name", "emma")
SECTIONS = ["1 · Walk the lecture's path", "2 · Train"]
VIEWS = ["3 · Walk the shapes", "4 · The BatchNorm bug", "5 · Look inside", "How it works"]
SETTINGS = url_settings(FIELDS) + training_settings("wn", fast_training(NAME)) + [NAME_SETTING]


# --- the page's own pieces -------------------------------------------------------------------------

def keep_the_tree_possible() -> None:
    """A tree joins pairs, so its context is 8 or 16. Before the widgets are drawn: when the context
    goes to 3 the net turns flat; when the tree is switched on at 3 the context goes to 8. (A link
    asking for the tree at 3 gets the config's own message.)"""
    state = st.session_state
    context, tree, last = state.get("wn_context"), state.get("wn_tree"), state.get("wn_last_net")
    if context is None or not tree or not context & (context - 1) or last is None:
        return
    if last[1]:  # the tree was on already: the context slider moved to 3
        state["wn_tree"] = False
        st.toast(f"Context {context} is for the flat net: a tree joins pairs, so it needs 8 or 16 characters.",
                 icon=":material/info:")
    else:
        state["wn_context"] = 8
        st.toast("A tree needs a context of 8 or 16 characters: the context is now 8.", icon=":material/info:")


def preset_note(name: str, dataset) -> str:
    text = PRESET_TEXT.get(name, (TITLES[name], ""))[1]
    if dataset.is_lecture_list and name in LECTURE_VAL_LOSS:
        text += f" Lecture 5 reports val {LECTURE_VAL_LOSS[name]} for it on these names, after 200,000 SGD steps."
    preset = PRESETS[name]
    if preset.train:
        own = SPEC.preset_training(preset)
        text += f" Its recipe: {own.max_steps:,} steps; {details_text(own)}."
    return f"**{TITLES[name]}.** {text}"


def window_of(name: str, vocab, context: int) -> list[int]:
    """The ids the model reads to predict what follows `name`: its last `context` characters, with
    boundary tokens (id 0) before the word's start."""
    return ([0] * context + vocab.encode(name))[-context:]


def shape_table(model, window: list[int], vocab) -> pd.DataFrame:
    """Each layer's output shape for this window, and what one example's rows hold."""
    chars = [vocab.itos[i] for i in window]
    shapes = layer_shapes(model, torch.tensor([window]))
    rows = []
    for i, (layer, shape) in enumerate(shapes):
        if i == 0:
            holds = f"{len(window)} character ids: " + " ".join(chars)
        elif i == len(shapes) - 1:
            holds = f"{shape[-1]} logits, one per character: what comes after the window"
        else:
            groups = shape[1] if len(shape) == 3 else 1
            size = len(window) // groups
            pieces = ["".join(chars[j * size:(j + 1) * size]) for j in range(groups)]
            holds = f"{groups} vector{'s' * (groups > 1)} of {shape[-1]}: " + " · ".join(pieces)
        rows.append({"layer": layer, "output shape": "(" + ", ".join(["B", *map(str, shape[1:])]) + ")",
                     "numbers per example": int(torch.tensor(shape[1:]).prod()), "one example holds": holds})
    return pd.DataFrame(rows)


def tree_frames(config, chars: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The nodes and edges of the receptive-field tree for these input characters, and the levels' names."""
    rows = receptive_fields(config.context, config.hierarchical)
    top = max(r["level"] for r in rows)
    nodes, edges = [], []
    centers = {(r["level"], r["unit"]): r["center"] for r in rows}
    for r in rows:
        seen = "".join(chars[r["first"]:r["last"] + 1])
        level, unit = r["level"], r["unit"]
        if level == 0:
            about = f"input {unit + 1} of {config.context}: “{seen}”"
        else:
            below = "inputs" if level == 1 else f"level {level - 1} units"
            about = f"level {level}, unit {unit + 1}: joins {below} " + " and ".join(str(c + 1) for c in r["children"])
            edges += [dict(x=r["center"], level=level, x2=centers[(level - 1, c)], level2=level - 1)
                      for c in r["children"]]
        nodes.append(dict(level=level, x=r["center"], char=seen if level == 0 else "", reads=seen, about=about,
                          kind="input" if level == 0 else "unit"))
    middle = centers[(top, 0)]
    nodes.append(dict(level=top + 1, x=middle, char="?", reads="".join(chars), kind="output",
                      about="the logits: the next character, from everything below"))
    edges.append(dict(x=middle, level=top + 1, x2=middle, level2=top))
    names = ["input"] + [f"level {level}" for level in range(1, top + 1)] + ["output"]
    return pd.DataFrame(nodes), pd.DataFrame(edges), names


def batchnorm_table(config, vocab_size: int, batch_size: int) -> pd.DataFrame:
    """Each BatchNorm's running statistics with the bug and with the fix, and how many numbers of
    a batch go into each one."""
    shapes = {over_time: batchnorm_stat_shapes(create_model(NAME, vocab_size, dataclasses.replace(
        config, bn_over_time=over_time))) for over_time in (False, True)}
    rows = []
    for (level, bug), (_, fix) in zip(shapes[False], shapes[True]):
        positions = bug[1] if len(bug) == 3 else 1
        shape = f"(B, {positions}, {config.n_hidden})" if positions > 1 else f"(B, {config.n_hidden})"
        rows.append({"BatchNorm": level, "its input": shape,
                     "the bug: statistics": str(bug), "numbers behind each (bug)": f"{batch_size:,}",
                     "the fix: statistics": str(fix),
                     "numbers behind each (fix)": f"{batch_size * positions:,}"})
    return pd.DataFrame(rows)


def trained_val(config, train_config) -> float | None:
    job = board.find(dataset, Run(NAME, config, train_config))
    return job.result.val_loss if job is not None and job.finished else None


# --- the page --------------------------------------------------------------------------------------

dataset = current_dataset()
vocab = dataset.vocab
board = job_board()

st.title("WaveNet: a hierarchical MLP")
st.markdown(
    "The MLP of lectures 2 and 3 reads a few characters and squashes them all into one hidden layer at once. "
    "Give it a longer context and that single step has too much to squash. Lecture 5 fuses the context "
    "**slowly instead**: neighbouring characters into pairs, pairs into fours, fours into eights, as the dilated "
    "convolutions of **WaveNet** (van den Oord et al., 2016) do. The network is built from small blocks "
    "like torch.nn's (Embedding, FlattenConsecutive, Linear, BatchNorm1d, Tanh in a Sequential), so the page "
    "can follow a tensor through each of them."
)
outline(SECTIONS, VIEWS)
check_link(SETTINGS)  # links carry the settings: say which of this one's cannot be used

# --- the lecture's path and the settings ---------------------------------------------------------
header(SECTIONS[0])
st.caption("Each button sets up the network for one step of the lecture and trains it (with the training settings "
           "below, unless the step has a recipe of its own). Trained models are kept: section 2 lists them side by "
           "side.")
preset_buttons(PRESETS, TITLES, FIELDS, prefix="wn", train_key="wn_train", model_name=NAME)

st.subheader("Model", divider="gray")
keep_the_tree_possible()
model_config = model_controls(NAME, FIELDS, columns=3)
st.session_state["wn_last_net"] = (model_config.context, model_config.hierarchical)
if not model_config.hierarchical:
    st.caption("The flat net has one hidden layer and one BatchNorm, over (B, hidden): the BatchNorm switch only "
               "matters for the tree. A tree needs a context of 8 or 16.")

st.subheader("Training", divider="gray")
recipe_buttons(NAME, "wn", FIELDS, note="The fast recipe trains the same network in a small fraction of the time.")
slider_training = training_controls("wn", fast_training(NAME), lecture=lecture_training(NAME))
preset, train_config = preset_run(NAME, PRESETS, model_config, slider_training)
estimate, allowed = cost_line(NAME, dataset, model_config, train_config,
                              notes=(f"activations and gradients are recorded at {SNAPSHOTS} steps of the run",),
                              lower="the steps, the batch size, the context or the width")
with st.container():  # always there, so what follows keeps its place whether a preset matches or not
    if preset:
        st.info(preset_note(preset, dataset), icon=":material/school:")

# --- training ------------------------------------------------------------------------------------
header(SECTIONS[1])
job = trained_live(board, dataset, Run(NAME, model_config, train_config), estimate, allowed=allowed, key="wn_train")

model, r = job.model, job.result
c = model_config
# lecture 5's figure only beside its own recipe on its names (it is the 76,579-parameter net's); any
# other result beside that recipe as trained on this list, else the bigram
baseline = recipe_reference(board, dataset, job)
if baseline is None:
    bigram = trained(dataset, MODELS["bigram"].default_run()).result
    baseline = Reference("bigram", bigram.val_loss, lecture_figure=False)
reference = result_reference(dataset, job, baseline)
runs = remember_run("wn", job, run=TITLES[preset] if preset else "your settings",
                    model=f"context {c.context} · {'tree' if c.hierarchical else 'flat'} · emb {c.n_embd} · "
                          f"hidden {c.n_hidden}" + (" · BN bug" if c.hierarchical and not c.bn_over_time else ""))
result_metrics(job, compare_to=(reference.label, reference.val_loss), params=True)

loss_chart(job, reference=reference.val_loss, reference_label=reference.label)
show_runs(runs, best_first=True)  # full width: in a column beside the chart its columns would not fit
lecture_comparison(board, dataset, NAME, key="wn_lecture_train")

st.subheader("The lecture's path, side by side")
table = presets_table(board, dataset, NAME, PRESETS, TITLES, slider_training)
if dataset.is_lecture_list:  # the lecture's numbers are for these names only
    table["lecture's val (200k SGD steps)"] = [LECTURE_VAL_LOSS.get(name) for name in PRESETS]
table["trained with"] = ["its own recipe" if p.train else "the settings above"
                         for p in PRESETS.values()]
show_table(table)
st.caption("Empty rows are not trained yet with these training settings: press their buttons in section 1. "
           + ("The lecture's column: its numbers on these same names and the same split, after 200,000 SGD steps "
              "(the longer run is ours, not the lecture's). " if dataset.is_lecture_list else "")
           + "The lecture's log: context 3 → 8 gains most; the tree gains a little; the bigger net gains again.")

st.subheader("Samples")
samples_and_export(job, dataset, "wn", top_k=True)

shapes, bug, inside, how = deeper_views(VIEWS)

# --- shapes --------------------------------------------------------------------------------------
with shapes:
    st.markdown("Type a name: the table follows the window that predicts the character **after** it (the name's last "
                f"{c.context} characters, `{vocab.boundary}` before its start) through every layer. B is the batch: "
                "one window here, hundreds in training.")
    typed = st.text_input("Name", NAME_SETTING.default, key="wn_name", max_chars=2 * limits.MAX_WORD_LEN, **BOUND,
                          help="Any word made of the list's characters.")
    try:
        typed = typed_word(typed, vocab)[0]
        problem = None
    except DataError as e:
        problem = str(e)
    if problem:
        st.warning(problem, icon=":material/edit_off:")
    else:
        window = window_of(typed, vocab, c.context)
        chars = [vocab.itos[i] for i in window]
        show_table(shape_table(model, window, vocab), max_height=700)
        with torch.no_grad():
            probs = torch.softmax(model(torch.tensor([window]))[0][0], dim=-1)
        top = torch.topk(probs, 5)
        guesses = ", ".join(f"{'end of word' if i == 0 else vocab.itos[i]} {p:.0%}"
                            for p, i in zip(top.values.tolist(), top.indices.tolist()))
        st.caption(f"After “{typed}” this model expects: {guesses}.")
        nodes, edges, level_names = tree_frames(c, chars)
        st.altair_chart(charts.receptive_tree(nodes, edges, level_names, "Which characters each unit reads"),
                        width="stretch")
        st.caption("Each unit of a level reads two units of the level below, with the same weights for every pair (one "
                   "Linear layer applied at every position): the first level sees pairs of characters, the next fours, "
                   "the top the whole window. The flat net has one level that reads everything at once."
                   if c.hierarchical else
                   "The flat net reads the whole window in one layer: every character goes straight into every hidden "
                   "unit. Switch **Hierarchical** on to see the tree.")
    show_source(Embedding, FlattenConsecutive, Flatten, Linear, BatchNorm1d, Tanh, Sequential,
                title="The building blocks' source code (makemore/layers.py)")

# --- the BatchNorm bug ---------------------------------------------------------------------------
with bug:
    if not c.hierarchical:
        st.info("The flat net's BatchNorm sees a plain (B, hidden) batch, so there is nothing to get wrong. Switch "
                "**Hierarchical** on (or press the *Tree* presets) to see the bug.", icon=":material/info:")
    else:
        st.markdown(
            "In the tree, BatchNorm gets 3-D input: (B, positions, hidden). The lecture's first BatchNorm1d "
            "averaged over dimension 0 only, so its running mean and variance came out as (1, positions, hidden): "
            "**each position got its own statistics**, each from the B numbers of the batch. The fix averages over "
            "dimensions (0, 1), batch and positions: (1, 1, hidden), one per channel as torch.nn.BatchNorm1d keeps, "
            "each from B × positions numbers. The switch **BatchNorm over batch and time** chooses."
        )
        show_table(batchnorm_table(c, len(vocab), train_config.batch_size))
        this = "the fix" if c.bn_over_time else "the bug"
        other = not c.bn_over_time
        other_val = trained_val(dataclasses.replace(c, bn_over_time=other), train_config)
        losses = {c.bn_over_time: r.val_loss, other: other_val}
        for column, over_time in zip(st.columns(2), (False, True)):
            column.metric(f"val loss with {'the fix' if over_time else 'the bug'}",
                          f"{losses[over_time]:.4f}" if losses[over_time] is not None else "not trained")
        st.button(f"{'Show' if other_val is not None else 'Train'} the same net and training with "
                  f"{'the fix' if other else 'the bug'}", key="wn_bn_other", on_click=choose_preset,
                  args=({"wn_bn": other}, "wn_train"), icon=":material/compare_arrows:")
        lecture = (f"the lecture measured {LECTURE_VAL_LOSS['hierarchical-bug']} with the bug and "
                   f"{LECTURE_VAL_LOSS['hierarchical']} fixed on these names, and " if dataset.is_lecture_list else "")
        st.caption(f"This is {this}. Do not expect a big difference in loss: {lecture}with the fast recipe the two land "
                   "within a few thousandths of each other (train both to see), because even B numbers estimate a mean "
                   "well. The bug is in the shapes: statistics that should be shared by every position are not, and "
                   "each is noisier than it needs to be.")

# --- inside the network ----------------------------------------------------------------------------
with inside:
    if show_diagnostics(r.diagnostics, key=f"wn_step_{job.key}"):
        st.caption("Layer 1 is the lowest level of the tree (pairs of characters), the last layer the top. The lower "
                   "levels' activations pool every position of the batch.")

    st.subheader("The embedding table")
    show_embeddings(model.layers[0].weight, vocab)

# --- how it works --------------------------------------------------------------------------------
with how:
    st.markdown(r"""
**The blocks.** `Embedding` looks up a vector of $d$ numbers per character: $(B, T) \to (B, T, d)$.
`FlattenConsecutive(n)` joins every $n$ neighbouring vectors into one: $(B, T, C) \to (B, T/n, nC)$, a `view`
that moves no data (a length-1 middle dimension is dropped). `Linear` computes $xW$ on the **last** dimension only,
so one weight matrix serves every position: $(B, T, C_{in}) \to (B, T, C_{out})$. `Sequential` runs them in order.

**The tree.** With a context of 8 and $h$ hidden units per level:

$$x_0 = C_{\text{context}} \in \mathbb{R}^{B\times 8\times d}, \quad x_\ell = \tanh\big(\mathrm{BN}(\mathrm{pairs}(x_{\ell-1})\, W_\ell)\big), \quad \text{logits} = x_3 W_{\text{out}} + b_{\text{out}}$$

where pairs is `FlattenConsecutive(2)`. $x_1$ is $(B, 4, h)$, $x_2$ is $(B, 2, h)$, $x_3$ is $(B, h)$: a unit of
level $\ell$ sees $2^\ell$ characters. The same $W_1$ reads characters 1–2, 3–4, 5–6 and 7–8, as a convolution
of width 2 and stride 2 would; WaveNet's dilated causal convolutions compute exactly this for every position of a
sequence at once.
A context of $2^L$ characters needs $L$ levels. The flat net instead computes
$\tanh(\mathrm{BN}(\mathrm{flatten}(x_0)\,W_1))$ in one layer, lecture 2's `emb.view(B, -1)`.

**Parameters.** $Vd$ for the table, $2dh + (L-1)\,2h^2$ for the levels' weights (no biases: BatchNorm subtracts
the mean, which would cancel them), $2h$ per BatchNorm ($\gamma, \beta$) and $(h+1)V$ for the output layer.

**BatchNorm on 3-D input.** For $x \in \mathbb{R}^{B\times T\times h}$ the fix averages over
batch and positions,

$$\mu = \frac{1}{BT}\sum_{b,t} x_{b,t}, \qquad \sigma^2 = \frac{1}{BT}\sum_{b,t}(x_{b,t}-\mu)^2,$$

one $\mu, \sigma^2 \in \mathbb{R}^h$ per channel; the bug averaged over $b$ only, a separate $\mu_t, \sigma^2_t$
for each of the $T$ positions.

**The last layer starts small** ($W_{\text{out}} \times 0.1$), so the first predictions are nearly uniform and the
first loss is near $\log V$, as in lecture 3.
""")
    show_source(WaveNet, title="The model's source code (makemore/models/wavenet.py)")
