"""Stage 1: the bigram model, counted and then learned (lecture 1)."""

import math

import pandas as pd
import streamlit as st

import charts
from kit.bigram_numbers import counts_nll
from kit.datasets_ui import current_dataset
from kit.model_controls import BOUND, initial
from kit.links import (BIGRAM_ALPHA, BIGRAM_LEARNING_RATES, BIGRAM_OPTIMIZERS, BIGRAM_STEPS, BIGRAM_WEIGHT_DECAYS,
                       bigram_network_training, bigram_settings, bigram_training)
from kit.results import TRAINED_BY_YOU, add_my_run, opened_notice, origin
from kit.training_ui import check_link, meta
from kit.widgets import (diverged, difference, history_frame, sample_controls, show_samples, show_source, show_table,
                          shown)
from training.shared import trained
from makemore.models import MODELS
from makemore.models.bigram import (LECTURE_COUNTS_NLL, BigramCounts, BigramNN,
                                    BigramNNConfig, learned_vs_counted)
from makemore.sample import generate
from makemore.runs import Run

SPEC = MODELS["bigram-nn"]
# optimizer -> the learning rate that suits it on this model: the fast recipe's (AdamW) and the
# lecture's (plain gradient descent on the full batch)
RECIPES = {recipe["optimizer"]: recipe["lr"] for recipe in (SPEC.lecture.train, SPEC.train_defaults)}
OPTIMIZERS, LEARNING_RATES, WEIGHT_DECAYS, STEPS = (BIGRAM_OPTIMIZERS, BIGRAM_LEARNING_RATES, BIGRAM_WEIGHT_DECAYS,
                                                    BIGRAM_STEPS)  # the page's widgets, set with its links
SECONDS_PER_STEP = 0.06  # full batch of ~180k pairs on 2 CPU cores, measured; for the estimate only
NETWORK = bigram_network_training()  # the fast recipe: the widgets' defaults
ALPHA = BIGRAM_ALPHA
LECTURE_ALPHA = 1.0  # lecture 1 adds one to every count: its figure is for this smoothing alone
SETTINGS = bigram_settings()


dataset = current_dataset()
vocab = dataset.vocab
V = len(vocab)

example = next((w for w in dataset.words if 3 <= len(w) <= 6), dataset.words[0])
chain = [a + b for a, b in zip(vocab.boundary + example, example + vocab.boundary)]

st.title("Bigram: one character predicts the next")
st.markdown(
    f"The simplest language model looks only at the previous character. Every word of "
    f"**{dataset.name}** is a chain of pairs, {', '.join(f'`{p}`' for p in chain)} for *{example}*, "
    f"where `{vocab.boundary}` marks the start and the end. Count how often each pair occurs, "
    "normalise each row, and you have the probability of every next character. Then train a neural "
    "network to predict the same thing, and watch it land on the same answer."
)
check_link(SETTINGS)  # links carry the settings: say which of this one's cannot be used

# --- 1. counting -----------------------------------------------------------------------------------
st.header("1 · Count the pairs")
counted = trained(dataset, MODELS["bigram"].default_run())
alpha = ALPHA.widget()
counts_model = counted.model.with_alpha(alpha)
train_nll = counts_nll(dataset.fingerprint, alpha, "train", dataset, counted.model)
val_nll = counts_nll(dataset.fingerprint, alpha, "val", dataset, counted.model)
uniform = math.log(V)


def fmt(loss: float) -> str:
    return f"{loss:.4f}" if math.isfinite(loss) else "∞"


c1, c2, c3 = st.columns(3)
c1.metric("train NLL", fmt(train_nll), help="mean −log P(next | previous) over the training pairs")
c2.metric("val NLL", fmt(val_nll), help="the same on the validation words, which the counts never saw")
c3.metric("uniform guess", f"{uniform:.4f}", help=f"log {V}: every one of the {V} symbols equally likely")
if dataset.is_lecture_list and alpha == LECTURE_ALPHA:  # the lecture's number: these names, its α only
    st.caption(f"Lecture 1 finds an NLL of about {LECTURE_COUNTS_NLL} for these counts on these names, with one added "
               "to every count (α = 1).")
elif dataset.is_lecture_list:
    st.caption(f"Lecture 1's figure is for α = {LECTURE_ALPHA:g}, one added to every count: set α to "
               f"{LECTURE_ALPHA:g} to compare with it.")
if not math.isfinite(val_nll):
    st.warning("With α = 0 some validation pair was never seen in training: its probability is 0 and "
               "−log 0 is infinite. That is exactly what smoothing fixes: move α above 0.")

counts = counted.model.counts
probs = counts_model.probs()
itos = vocab.itos
cells = pd.DataFrame(
    [(itos[i], itos[j], itos[i] + itos[j], int(counts[i, j]), float(probs[i, j]))
     for i in range(V) for j in range(V)],
    columns=["prev", "next", "pair", "count", "prob"],
)
st.subheader("The count matrix")
st.caption("Row: the previous character; column: the next one. Hover a cell for its probability "
           f"with α = {alpha:g}. The first row is how words start; the first column, how they end.")
st.altair_chart(charts.pair_heatmap(cells), width="content")

st.subheader("Samples from the counts")
options = sample_controls("bigram_counts")
counts_samples = generate(counts_model, vocab, train_words=dataset.splits["train"], **options)
show_samples(counts_samples)
st.caption("A bigram remembers only one character, so most samples are not very word-like: looking "
           "further back is where the lectures go next.")

# --- 2. the neural bigram --------------------------------------------------------------------------
st.header("2 · Learn the same thing with a neural network")
st.markdown(
    "Encode the previous character as a one-hot vector and multiply by a "
    f"{V}×{V} weight matrix **W**: the result is one row of W, read as *log-counts* (logits). Softmax "
    "turns them into probabilities, and gradient descent lowers the NLL. Its best possible loss is the "
    "counts' NLL with α = 0; weight decay plays the part of smoothing."
)


def use_recipe():
    st.session_state["bigram_lr"] = RECIPES[st.session_state["bigram_optimizer"]]


c1, c2, c3, c4 = st.columns(4)
optimizer = c1.radio("Optimizer", list(OPTIMIZERS), index=initial("bigram_optimizer",
                                                                list(OPTIMIZERS).index(NETWORK.optimizer), 0),
                     key="bigram_optimizer", on_change=use_recipe, format_func=OPTIMIZERS.get, **BOUND,
                     help="Switching sets the learning rate that suits it.")
lr = c2.select_slider("Learning rate", LEARNING_RATES, initial("bigram_lr", NETWORK.lr), key="bigram_lr", **BOUND)
steps = c3.slider("Steps (each on the full training set)", STEPS["lo"], STEPS["hi"],
                  initial("bigram_steps", NETWORK.max_steps), STEPS["step"], key="bigram_steps", **BOUND)
weight_decay = c4.select_slider("Weight decay (L2)", WEIGHT_DECAYS, initial("bigram_wd", NETWORK.weight_decay),
                                key="bigram_wd", **BOUND)
seed = st.columns(4)[0].number_input("Seed (initial weights)", meta("seed")["min"], meta("seed")["max"],
                                     initial("bigram_seed", NETWORK.seed, "min"), key="bigram_seed", **BOUND)
st.caption(f"{V * V:,} parameters · about {steps * SECONDS_PER_STEP:.0f} s to train on 2 CPU cores "
           "(once: trained models are kept for everyone). Training starts as soon as a setting changes.")

train_config = bigram_training(optimizer, lr, steps, weight_decay, seed)
try:
    neural = trained(dataset, Run("bigram-nn", BigramNNConfig(), train_config))
except FloatingPointError as e:
    diverged(e)
    st.stop()

r = neural.result
add_my_run("Bigram", dataset, "bigram-nn", BigramNNConfig(), train_config, neural.model, r)  # "my runs" (Compare)
whose = origin(Run("bigram-nn", BigramNNConfig(), train_config).key(dataset))
if whose != TRAINED_BY_YOU:
    opened_notice(whose, how="change a setting of the network above, and it trains at once")
reference = counts_nll(dataset.fingerprint, 0.0, "train", dataset, counted.model)
c1, c2, c3 = st.columns(3)
c1.metric("network train NLL", f"{r.train_loss:.4f}", **difference(r.train_loss, reference, "counts (α = 0)"),
          delta_color="off")
c2.metric("network val NLL", f"{r.val_loss:.4f}",
          **(difference(r.val_loss, val_nll, f"counts (α = {alpha:g})") if math.isfinite(val_nll) else {}),
          delta_color="off")
c3.metric("trained in", f"{r.seconds:.1f} s", help=f"{r.steps} steps at {r.steps_per_sec:.0f} steps/s"
          + (" (loaded from the cache: no training needed now)" if neural.from_cache else ""))
st.altair_chart(
    charts.loss_curve(history_frame(r), reference=reference,
                      reference_label="counts' train NLL (α = 0)", title="Network loss against the counts"),
    width="stretch",
)

net_logprob, count_logprob, distance = learned_vs_counted(neural.model, counts_model)
pairs = pd.DataFrame({
    "pair": [a + b for a in itos for b in itos],
    "count_logprob": count_logprob.flatten().numpy(),
    "net_logprob": net_logprob.flatten().numpy(),
})
pairs = pairs[pairs["count_logprob"] > -math.inf]
left, right = st.columns([3, 2])
left.altair_chart(charts.weights_vs_counts(pairs), width="stretch")
right.markdown(
    f"Each dot is one of the {V * V} pairs: across, its log-probability from the counts (α = {alpha:g}); "
    "up, the network's `log_softmax(W)`. On the dashed diagonal the two agree: the network has learned "
    "the log of the count table. The pairs that never occur in training fall below it: smoothing gives "
    "them a small probability, while the network keeps pushing theirs towards 0 (raw counts say "
    "log 0 = −∞); weight decay holds them back, as smoothing does."
)
right.metric("mean total-variation distance", f"{distance:.4f}",
             help="Half the summed |difference| of the two next-character distributions, averaged over "
             "rows: 0 when identical, 1 when disjoint.")

st.subheader("Samples from the network")
net_samples = generate(neural.model, vocab, train_words=dataset.splits["train"], **options)
same = [a.word == b.word for a, b in zip(net_samples, counts_samples)]
st.caption(f"Drawn with the settings and seed of the counts' samples above: {sum(same)} of {len(same)} "
           "words are identical to theirs. The same random numbers fed through (nearly) the same "
           "probabilities pick the same characters.")
show_table(pd.DataFrame({"network": [shown(s.word) for s in net_samples],
                         "counts": [shown(s.word) for s in counts_samples], "same": same}), max_height=300)

# --- how it works ----------------------------------------------------------------------------------
st.header("How it works")
st.markdown(r"""
**Likelihood.** A model that gives probability $p_i$ to the next character of each of the $n$ pairs in a
dataset assigns the whole dataset the product $\prod_i p_i$. Products of small numbers underflow, so we
take logs, negate (so lower is better) and average: the **negative log-likelihood**

$$\text{NLL} = -\frac{1}{n}\sum_{i=1}^{n} \log P(c_{i+1} \mid c_i).$$

A perfect model scores 0; guessing uniformly among $V$ symbols scores $\log V$.

**Counting is the maximum-likelihood answer.** For a bigram model the probabilities that minimise the
training NLL are the normalised counts, $P(b \mid a) = N_{ab} / \sum_{b'} N_{ab'}$.

**Smoothing as regularisation.** With raw counts, a pair never seen in training gets probability 0 and a
single such pair in new data makes the NLL infinite. Adding $\alpha$ to every count,
$P(b \mid a) = (N_{ab} + \alpha) / \sum_{b'} (N_{ab'} + \alpha)$, trades a little training likelihood for
robustness: large $\alpha$ flattens every row towards uniform.

**The network.** With $x$ the one-hot vector of the previous character, $\text{logits} = xW$ picks a row
of $W$, and $\text{softmax}(xW)_b = e^{W_{ab}} / \sum_{b'} e^{W_{ab'}}$. That is the count formula with
$N_{ab}$ replaced by $e^{W_{ab}}$: $W$ plays the part of log-counts. Gradient descent on the same NLL
therefore converges to the counts. Penalising $\lVert W \rVert^2$ (weight decay) pulls $W$ towards 0, which
is the uniform distribution: the same effect as smoothing.
""")
show_source(BigramCounts, BigramNN)
