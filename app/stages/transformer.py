"""Stage 7: lecture 7, "Let's build GPT", on whole words: from a causal bag of words to a small GPT,
the lecture's path as presets, "the trick" and every head's attention for a typed name."""

import re

import pandas as pd
import streamlit as st

import charts
from kit.datasets_ui import current_dataset
from kit.links import PAGES
from kit.model_controls import BOUND, model_controls, url_settings
from kit.presets import preset_run, preset_buttons, presets_table
from kit.references import Reference, lecture_comparison, result_reference
from kit.results import samples_and_export, loss_chart, remember_run, result_metrics, show_runs
from kit.sections import deeper_views, header, outline
from kit.training_ui import (check_link, cost_line, details_text, fast_training, lecture_training,
                             recipe_buttons, trained_live, training_controls, training_settings)
from kit.urlstate import Setting
from kit.widgets import MISSING, show_source, show_table, source_of
from training.missing import train_missing
from training.shared import job_board, trained
from makemore import limits
from makemore.data import DataError, WordDataset, typed_word
from makemore.serving.jobs import JobBoard
from makemore.models import MODELS, param_count
from makemore.models import transformer as tm
from makemore.models.transformer import (PRESET_CHANGES, Block, CausalAverage, CausalSelfAttention, FeedForward,
                                         Transformer, attention_weights, causal_mask, explicit_attention,
                                         next_char_probs, the_trick)
from makemore.runs import Run

NAME = "transformer"
SPEC = MODELS[NAME]
PRESETS = SPEC.presets  # the registry's, in the lecture's order, each with its own recipe
TITLES = {"bow": "Bag of words", "one-head": "One head", "multi-head": "Multi-head", "feed-forward": "+ Feed-forward",
          "residual": "+ Residual", "layernorm": "+ LayerNorm", "gpt": "Small GPT"}
TITLES |= {name: name.replace("-", " ").capitalize() for name in PRESETS if name not in TITLES}
# what to look for at each step, after the package's one line of what it changes
LOOK_FOR = {
    "bow": "Every score is 0, so each row of the weights is 1/(t+1): position t reads the plain average of what came "
           "before. Order within the past is lost (a *bag* of characters), but the position embeddings still "
           "tell each position where it is.",
    "one-head": "Now the weights in section 3 are not uniform: each position chooses which earlier characters to "
                "read. The first big gain.",
    "multi-head": "Same parameters, split into four heads of 8 dimensions, each with its own pattern (section 4). A "
                  "gain as large as the first head's.",
    "feed-forward": "Attention gathers, the MLP computes on what was gathered. But four blocks stacked without a "
                    "shortcut are hard to train: this step gains nothing over the single block before it.",
    "residual": "x + f(x): each block adds its contribution to a stream that runs from the embeddings to the output, "
                "and the gradient flows straight down it. The deep stack now trains: the largest gain of the path.",
    "layernorm": "Each block's input normalised per position (pre-norm). At this size, with AdamW, it does not lower "
                 "the loss on names (the same as without); it keeps larger and deeper stacks stable.",
    "gpt": "Wider (embeddings of 64), with dropout against overfitting and weight decay 0.1, trained for 3,500 steps: "
           "the best of the path.",
}
# the code each step adds (a step that adds lines to a class shows the class, or the method they are in)
STEP_CODE = {"bow": (causal_mask, CausalAverage), "one-head": (explicit_attention, CausalSelfAttention),
             "multi-head": (CausalSelfAttention.forward,), "feed-forward": (FeedForward,), "residual": (Block.forward,),
             "layernorm": (Block.__init__,), "gpt": ()}
FIELDS = list(PAGES[NAME].fields)
NAME_SETTING = Setting("tf_name", "Name", "emma")
SECTIONS = ["1 · Walk the lecture's path", "2 · Train"]
VIEWS = ["3 · The trick: a weighted average of the past", "4 · Attention in the trained model", "How it works"]
SETTINGS = url_settings(FIELDS) + training_settings("tf", fast_training(NAME)) + [NAME_SETTING]
BOW = "bow"  # makemore.py's BoW, the registry's other model of this stage
BOW_LABEL = "makemore.py's BoW"
TOP_K = 5  # next characters shown per position
TRICK_PX = 240  # each of the trick's three matrices, square: three fit side by side (for a name of up to 13)


# --- presets with recipes of their own ------------------------------------------------------------

def preset_note(name: str) -> str:
    own = SPEC.preset_training(PRESETS[name])
    return (f"**{TITLES[name]}.** {PRESET_CHANGES.get(name, '')} {LOOK_FOR.get(name, '')} Its recipe: "
            f"{own.max_steps:,} steps at lr {own.lr:g}; {details_text(own)}.")


def lines_matching(pattern: str) -> str:
    """The lines of the model's module that match `pattern`, numbered: a change spread over many classes."""
    lines = source_of(tm).splitlines()
    return "\n".join(f"{i:4d}  {line.strip()}" for i, line in enumerate(lines, 1) if re.search(pattern, line))


def show_step_code(name: str) -> None:
    with st.expander("The code this step adds", icon=":material/code:"):
        if name == "gpt":
            st.caption("Dropout is a few lines in many places: after the embeddings, on the attention weights, after "
                       "each projection and the MLP (makemore/models/transformer.py, numbered).")
            st.code(lines_matching(r"[Dd]ropout\(|dropout_p"), language="python")
        for obj in STEP_CODE.get(name, ()):
            st.code(source_of(obj), language="python")


# --- other models on the job board -----------------------------------------------------------------

def path_runs() -> dict[str, Run]:
    """The lecture's path, each step with its own recipe, and makemore.py's BoW with its fast recipe."""
    runs = {f"{i} · {TITLES[name]}": SPEC.preset_run(preset) for i, (name, preset) in enumerate(PRESETS.items(), 1)}
    return runs | {BOW_LABEL: MODELS[BOW].default_run()}


def path_table(board: JobBoard, dataset: WordDataset) -> pd.DataFrame:
    """presets_table's rows (parameters, val loss, time), what each step changes, and makemore.py's BoW."""
    table = presets_table(board, dataset, NAME, PRESETS, TITLES, fast_training(NAME))
    table["what it changes"] = [PRESET_CHANGES.get(name, "") for name in PRESETS]
    bow = board.find(dataset, MODELS[BOW].default_run())
    done = bow is not None and bow.finished
    table.loc[len(table)] = {
        "preset": BOW_LABEL, "parameters": param_count(BOW, len(dataset.vocab), MODELS[BOW].config()),
        "val loss": round(bow.result.val_loss, 4) if done else None,
        "trained in (s)": round(bow.result.seconds, 1) if done else None,
        "what it changes": "The registry's bag of words: one block of 64 that averages, then its MLP, with residual "
                           "connections and LayerNorm: step 6 with the attention switched off."}
    return table


# --- a typed name --------------------------------------------------------------------------------

def default_name(dataset: WordDataset) -> str:
    """A word of the list of a middling length, for a list that cannot spell the page's default."""
    words = dataset.splits["train"]
    return next((w for w in words if 4 <= len(w) <= 8 and dataset.vocab.boundary not in w), words[0])


def matrix_frame(matrix, chars: list[str], masked=None) -> pd.DataFrame:
    """A (T, T) query x key matrix as long rows: query, key, their characters, what the query has read,
    value (None where masked) and masked."""
    T = len(chars)
    masked = ~causal_mask(T) if masked is None else masked
    rows = []
    for t in range(T):
        for s in range(T):
            hidden = bool(masked[t, s])
            rows.append({"query": t, "key": s, "query_char": chars[t], "key_char": chars[s],
                         "prefix": "".join(chars[: t + 1]), "masked": hidden,
                         "value": None if hidden else float(matrix[t, s])})
    return pd.DataFrame(rows)


def heads_frame(weights, chars: list[str], averaging: bool) -> pd.DataFrame:
    """One layer's weights (n_head, T, T) as long rows for charts.attention_heads (the future left out)."""
    frames = []
    for h in range(weights.shape[0]):
        frame = matrix_frame(weights[h], chars)
        frames.append(frame[~frame["masked"]].assign(head="average" if averaging else f"head {h + 1}"))
    return pd.concat(frames, ignore_index=True).rename(columns={"value": "weight"})


# =================================================================================================

dataset = current_dataset()
vocab = dataset.vocab
board = job_board()

st.title("Transformer: from averaging to a small GPT")
st.markdown(
    "The recurrent nets carry the past along in one state. A **Transformer** (Vaswani et al., 2017; lecture 7, "
    "*Let's build GPT*) lets every position look back at **all** the earlier ones at once and take a weighted "
    "average of what it finds there. In the simplest version the weights are equal: a *bag of words*. With "
    "**self-attention** they are learned: each position asks a question (its *query*), every earlier position "
    "offers an answer (its *key*), and the better they match, the more of that position's *value* is taken. "
    "Stack a few such blocks with an MLP, residual connections and LayerNorm and you have a small GPT. Here it "
    "reads names: every position predicts the next character, looking only backwards."
)
outline(SECTIONS, VIEWS)
check_link(SETTINGS)  # links carry the settings: say which of this one's cannot be used

# --- the lecture's path and the settings ---------------------------------------------------------
header(SECTIONS[0])
st.caption("Each button sets up the model for one step of the lecture, with that step's recipe, and trains it. "
           "Trained models are kept: section 2 lists the steps side by side.")
preset_buttons(PRESETS, TITLES, FIELDS, prefix="tf", train_key="tf_train", model_name=NAME)

st.subheader("Model", divider="gray")
model_config = model_controls(NAME, FIELDS, columns=4)
c = model_config
if not c.attention:
    st.caption("Without self-attention each position averages the earlier ones: there are no heads, so **Heads** "
               "does nothing.")

st.subheader("Training", divider="gray")
recipe_buttons(NAME, "tf", FIELDS, note="The fast recipe's bigger batches, higher rate and cosine decay get a smaller "
               "net further in less time. Train both and compare below.")
slider_training = training_controls("tf", fast_training(NAME), lecture=lecture_training(NAME))
preset, train_config = preset_run(NAME, PRESETS, model_config, slider_training)
estimate, allowed = cost_line(NAME, dataset, model_config, train_config,
                              notes=("every batch is cut to its longest word",),
                              lower="the steps, the batch size, the blocks or the embedding size")
with st.container():  # always there, so what follows keeps its place whether a preset matches or not
    if preset:
        st.info(preset_note(preset), icon=":material/school:")
        show_step_code(preset)

# --- training ------------------------------------------------------------------------------------
header(SECTIONS[1])
bigram = trained(dataset, MODELS["bigram"].default_run()).result
job = trained_live(board, dataset, Run(NAME, model_config, train_config), estimate, allowed=allowed, key="tf_train")

model, r = job.model, job.result
switches = [label for on, label in ((c.attention, "attention"), (c.feed_forward, "MLP"), (c.residual, "residual"),
                                    (c.layernorm, "LayerNorm")) if on]
runs = remember_run("tf", job, run=TITLES[preset] if preset else "your settings",
                    model=f"{c.n_layer} × {c.n_embd}" + (f" · {c.n_head} heads" if c.attention else " · average")
                    + f" · {' + '.join(switches[1:] if c.attention else switches) or 'nothing else'}"
                    + (f" · dropout {c.dropout:g}" if c.dropout else ""))
# makemore.py's figure only beside its own recipe on its names; any other result beside the bigram
reference = result_reference(dataset, job, Reference("bigram", bigram.val_loss, lecture_figure=False))
result_metrics(job, compare_to=(reference.label, reference.val_loss), params=True)
left, right = st.columns([3, 2])
loss_chart(job, reference=bigram.val_loss, reference_label="bigram val", container=left)
with right:
    lecture_comparison(board, dataset, NAME, key="tf_lecture_train")
show_runs(runs, best_first=True)  # full width: in the column beside the chart its columns would not fit

st.subheader("The lecture's path, side by side")
table = path_table(board, dataset)
st.dataframe(table, hide_index=True, width="stretch", height=36 * (len(table) + 1) + 12,  # room for a scrollbar
             column_config={"what it changes": st.column_config.TextColumn(width="large")}, placeholder=MISSING)
trained_rows = table.dropna(subset=["val loss"])
losses = pd.DataFrame({"model": trained_rows["preset"], "val": trained_rows["val loss"].astype(float),
                       "highlight": False}).reset_index(drop=True)
if not preset:  # this page's model, unless it is one of the rows already
    losses.loc[len(losses)] = {"model": "this page's model", "val": r.val_loss, "highlight": True}
else:
    losses["highlight"] = losses["model"] == f"{list(PRESETS).index(preset) + 1} · {TITLES[preset]}"
if len(losses) > 1:
    st.altair_chart(charts.val_losses(losses, "Validation loss along the lecture's path"), width="stretch")
train_missing(board, dataset, path_runs(), key="tf_path_train",
              button="Train the {count} not trained yet (about {total:.0f} s of training, two at a time)",
              help="Each with its own recipe, in the background. {names}.")
st.caption("Each step is trained with its own recipe whatever the sliders say; empty rows are not trained yet. "
           + ("On the lectures' names (the val column) attention, more heads and above all residual connections "
              "help; the MLP helps only once the residual connections let the deep stack train; LayerNorm does not "
              "help at this size." if dataset.is_lecture_list else
              "Read the val column for what each change does on this list."))

st.subheader("Samples")
st.caption("Each word starts from the start token; the model reads everything it drew so far and stops at the end "
           f"token (or at {limits.MAX_WORD_LEN} characters).")
samples_and_export(job, dataset, "tf", top_k=True)

trick, attention, how = deeper_views(VIEWS)

# --- the trick -----------------------------------------------------------------------------------
with trick:
    st.markdown(
        "Position t may read positions 0…t, never the future. The lecture's trick does this with one matrix product: "
        "start from **scores** (zeros for the plain average; query · key for attention), set the future to −∞ with a "
        "lower-triangular **mask**, and take the softmax of each row: the future gets weight 0 and the past's "
        "**weights** sum to 1. Then out = weights @ values. Type a name to see the three matrices for it."
    )
    typed = st.text_input("Name", NAME_SETTING.default, key="tf_name", max_chars=2 * limits.MAX_WORD_LEN, **BOUND,
                          help=f"Up to {limits.MAX_WORD_LEN} characters of this word list.")
    if (typed or "").strip() == NAME_SETTING.default and not set(NAME_SETTING.default) <= set(vocab.chars):
        typed = default_name(dataset)  # the page's default is a name; this list cannot spell it
        st.caption(f"This list cannot spell “{NAME_SETTING.default}”: showing “{typed}”, one of its words. Type another.")
    try:
        ids = [0, *typed_word(typed, vocab)[1]]  # the start token, then the name
    except DataError as e:
        (st.info if not (typed or "").strip() else st.warning)(str(e), icon=":material/keyboard:")
        ids = None

    if ids is not None:
        chars = [vocab.itos[i] for i in ids]
        heads = c.n_head if c.attention else 1
        left, right = st.columns(2)
        layer = left.radio("Block", list(range(1, c.n_layer + 1)), horizontal=True, key=f"tf_trick_layer_{c.n_layer}")
        head = right.radio("Head", list(range(1, heads + 1)), horizontal=True, key=f"tf_trick_head_{heads}",
                           disabled=heads == 1, help="Each head has its own scores and weights."
                           if c.attention else "The average has no heads.")
        trick = the_trick(model, ids, layer - 1, head - 1)
        mask = trick["mask"]
        where = f" · block {layer}" + (f", head {head}" if c.attention else "")
        T = len(chars)
        size = TRICK_PX if T <= 14 else 2 * TRICK_PX - 60  # a long name: two to a row, bigger cells
        cols = st.columns(3) if T <= 14 else [*st.columns(2), *st.columns(2)]
        cols[0].altair_chart(charts.attention_map(matrix_frame(mask.float(), chars, masked=~mask), "1 · The mask",
                                                  "may look", domain=(0, 1), masked_text="0", fmt=".0f", size=size),
                             width="content")
        cols[1].altair_chart(charts.attention_map(matrix_frame(trick["scores"], chars), "2 · The scores" + where,
                                                  "score", scheme="redblue", masked_text="−∞", fmt=".1f", size=size),
                             width="content")
        cols[2].altair_chart(charts.attention_map(matrix_frame(trick["weights"], chars), "3 · The weights" + where,
                                                  "weight", domain=(0, 1), masked_text="0", size=size),
                             width="content")
        beside = cols[3] if len(cols) > 3 else st  # a long name leaves a place beside the weights
        if c.attention:
            beside.caption("The scores are q·k/√head_size, learned: how well what position t looks for (its query) "
                           "matches what position s holds (its key). Blue: a high score, and so more weight; red: a low "
                           "one. The bag of words would give every row the same weights, 1/(t+1) over the past: press "
                           "**Bag of words** above to compare.")
        else:
            beside.caption("Without attention every score is 0, so each row of weights is uniform: 1/(t+1) on each "
                           "earlier position, the plain average. Switch **Self-attention** on (or press **One head**) to "
                           "learn them.")

# --- attention in the trained model ----------------------------------------------------------------
with attention:
    if ids is None:
        st.info("Type a name this model can read in the tab *3 · The trick*.", icon=":material/keyboard:")
    else:
        st.markdown(f"Every block and head for “{''.join(chars[1:])}”: row t shows where position t, having read "
                    "the characters up to it, takes its information from. Darker is more weight; each row sums to 1.")
        maps = attention_weights(model, ids)  # (n_layer, n_head, T, T)
        for block in range(c.n_layer):
            title = f"Block {block + 1}: " + ("each head's attention weights" if c.attention else "the average (no heads)")
            st.altair_chart(charts.attention_heads(heads_frame(maps[block], chars, not c.attention), title),
                            width="content")
        if c.attention:
            st.caption("Heads often specialise: one looks at the start token or the first letter, one at the previous "
                       "character, one spreads out. The deeper blocks mix what the lower ones already gathered.")

        probs, top_ids = next_char_probs(model, ids, k=TOP_K)  # (T, k) each
        itos = vocab.itos
        following = [*ids[1:], 0]  # what follows each position: the next character, then the end
        prefixes = ["".join(chars[: t + 1]) for t in range(len(chars))]
        top = pd.DataFrame([{"position": t, "char": chars[t], "prefix": prefixes[t], "rank": k + 1,
                             "candidate": itos[int(top_ids[t, k])], "prob": float(probs[t, k]),
                             "actual": itos[following[t]]}
                            for t in range(len(chars)) for k in range(top_ids.shape[1])])
        st.altair_chart(charts.next_char_heatmap(top), width="stretch")
        show_table(pd.DataFrame({
            "read so far": prefixes,
            "comes next": [itos[i] for i in following],
            f"top {TOP_K}": [" ".join(f"{itos[int(i)]} {float(p):.2f}" for i, p in zip(row_ids, row_p))
                             for row_ids, row_p in zip(top_ids, probs)],
        }), max_height=300)
        st.caption(f"An orange frame marks the character that does come next (`{vocab.boundary}` is the end).")

# --- how it works --------------------------------------------------------------------------------
with how:
    st.markdown(r"""
**Input.** A word's ids after the start token, $x_0, \dots, x_{T-1}$, each looked up in a token table and added to
a table of positions: $h_t = E[x_t] + P[t] \in \mathbb{R}^{C}$. Without $P$ the model could not tell *emma* from
*mmea*: averaging and attention ignore order.

**The trick.** For one head of size $d$, with $Q = hW_q$, $K = hW_k$, $V = hW_v$ (each $T \times d$):

$$\text{scores} = \frac{QK^\top}{\sqrt{d}}, \qquad \text{scores}_{ts} = -\infty \text{ for } s > t, \qquad w = \text{softmax}_s(\text{scores}), \qquad \text{out} = wV$$

Dividing by $\sqrt{d}$ keeps the scores near unit variance whatever $d$ is, so the softmax does not start out
one-hot. The bag of words is the same formula with every score 0 and $V = h$: $w_{ts} = 1/(t+1)$.

**Multi-head attention.** $H$ heads of size $d = C/H$ side by side (so $H$ must divide $C$), their outputs joined
back to $C$ numbers and projected: several different ways of looking back, for the parameters of one.

**A block (pre-norm).** $h \leftarrow h + \text{Attention}(\text{LN}(h))$, then
$h \leftarrow h + \text{MLP}(\text{LN}(h))$, with the MLP $C \to 4C \to C$ and GELU. Attention is where the
positions talk; the MLP thinks at each position on its own. The $h +$ is the **residual** connection: the
gradient of the loss reaches every block directly through the sum. **LayerNorm** scales each position's vector to
mean 0 and variance 1 (then by learned $\gamma, \beta$). **Dropout** zeroes a random share of activations while
training only. After the last block, $\text{logits}_t = \text{LN}(h_t) W + b$ predict $x_{t+1}$.

**Whole words.** Every position of a word predicts its next character, the last one the end, so a word of $n$
characters gives $n + 1$ examples in one pass. Words in a batch are padded; the padding's targets are $-1$ and the
loss ignores them. The loss is per predicted character, as on every page.

**Two ways to compute attention.** Training uses PyTorch's fused `scaled_dot_product_attention` (never slower on a
CPU); the views above use the explicit softmax$(QK^\top/\sqrt{d})\,V$ written below, which keeps its scores and
weights. The package's tests check that both give the same outputs and gradients.
""")
    show_source(explicit_attention, CausalAverage, CausalSelfAttention, title="Mixing across positions: the average and "
                "attention (makemore/models/transformer.py)")
    show_source(FeedForward, Block, Transformer, title="The MLP, the block and the model")
