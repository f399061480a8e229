"""Stage 2: the character MLP of Bengio et al. 2003 (lecture 2), trained live."""

import pandas as pd
import streamlit as st

import charts
from datasets_ui import current_dataset
from trainer import job_board, trained
from training_ui import (BOUND, apply, check_link, trained_live, training_controls, training_settings,
                         training_summary, training_values, use_rate)
from urlstate import Setting
from widgets import sample_controls, show_samples, show_source, show_table, smoothed_history
from makemore import limits
from makemore.lr_finder import lr_sweep
from makemore.models import MODELS
from makemore.models.bigram import BigramCountsConfig
from makemore.models.mlp import MLP, MLPConfig, estimate_seconds, mlp_param_count, nearest, project_2d
from makemore.sample import generate
from makemore.train import TrainConfig, evaluated_examples

INITS = ("scaled", "naive")

FAST = MLPConfig()  # the lecture's network; only the way it is trained differs
FAST_TRAINING = TrainConfig(**MODELS["mlp"].train_defaults)
NETWORK = dict(mlp_block=FAST.block_size, mlp_embd=FAST.n_embd, mlp_hidden=FAST.n_hidden)
RECIPES = {
    "fast": NETWORK | dict(mlp_init=FAST.init) | training_values("mlp", FAST_TRAINING),
    # lecture 2's final run: randn init, SGD at 0.1 then 0.01 for the second 100k steps, batch 32
    "lecture": NETWORK | dict(mlp_init="naive") | training_values("mlp", TrainConfig(
        optimizer="sgd", lr=0.1, schedule="step", max_steps=200_000, batch_size=32)),
}
SETTINGS = [
    Setting("mlp_block", "Block size", FAST.block_size, lo=1, hi=limits.MAX_BLOCK_SIZE),
    Setting("mlp_embd", "Embedding size", FAST.n_embd, lo=2, hi=limits.MAX_N_EMBD),
    Setting("mlp_hidden", "Hidden width", FAST.n_hidden, lo=16, hi=limits.MAX_N_HIDDEN),
    Setting("mlp_init", "Initialisation", FAST.init, options=INITS),
    *training_settings("mlp", FAST_TRAINING),
]
DEFAULTS = {s.key: s.default for s in SETTINGS}
LECTURE_VAL_LOSS = 2.164  # lecture 2's recipe on names.txt, as measured for the project guide
LECTURE_SECONDS = 130


dataset = current_dataset()
vocab = dataset.vocab
V = len(vocab)
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
c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="bottom")
c1.button("Fast recipe", on_click=apply, args=(RECIPES["fast"],), icon=":material/bolt:", width="stretch",
          help="The lecture's network trained with AdamW, bigger batches and a cosine schedule.")
c2.button("Lecture 2's recipe", on_click=apply, args=(RECIPES["lecture"],), icon=":material/school:",
          width="stretch", help="The lecture's own run: SGD, batch 32, 200,000 steps (about 2 minutes).")
c3.caption("Both train the same network (block 3, embeddings of 10, 200 hidden units). The lecture's "
           f"run reaches a validation loss of about {LECTURE_VAL_LOSS} in roughly {LECTURE_SECONDS} s on "
           "2 CPU cores; the fast recipe gets there in a small fraction of that time. Train both and "
           "compare below.")

st.subheader("Model", divider="gray")
c1, c2, c3, c4 = st.columns(4)
block_size = c1.slider("Block size (context characters)", 1, limits.MAX_BLOCK_SIZE, DEFAULTS["mlp_block"],
                       key="mlp_block", **BOUND, help="How many previous characters the model sees.")
n_embd = c2.slider("Embedding size", 2, limits.MAX_N_EMBD, DEFAULTS["mlp_embd"], key="mlp_embd", **BOUND,
                   help="Numbers per character in the table C. With 2 the table itself is drawn below.")
n_hidden = c3.slider("Hidden width", 16, limits.MAX_N_HIDDEN, DEFAULTS["mlp_hidden"], 8, key="mlp_hidden",
                     **BOUND, help="tanh units in the hidden layer.")
init = c4.radio("Initialisation", INITS, key="mlp_init", **BOUND, index=INITS.index(DEFAULTS["mlp_init"]),
                help="**naive**: every weight from randn, the lecture's first try; it starts with confident, "
                "wrong predictions and saturated tanh units. **scaled**: Kaiming-scaled hidden layer and a "
                "small output layer; it starts near the uniform guess.")

st.subheader("Training", divider="gray")
train_config = training_controls("mlp", FAST_TRAINING, lr_help="The finder below suggests one.")
steps, batch_size, seed = train_config.max_steps, train_config.batch_size, train_config.seed

model_config = MLPConfig(block_size=block_size, n_embd=n_embd, n_hidden=n_hidden, init=init)
params = mlp_param_count(V, model_config)
estimate = estimate_seconds(V, model_config, steps, batch_size, evaluated_examples(train_config, dataset))
too_long = estimate > limits.MAX_TRAIN_SECONDS
st.caption(f"**{params:,} parameters** · {steps * batch_size:,} training examples seen "
           f"({steps * batch_size / len(dataset.examples('train', block_size)[0]):.1f} passes over the "
           f"training set) · about **{estimate:.0f} s** on 2 CPU cores · address bar: these settings, "
           "ready to share.")
if too_long:
    st.warning(f"This run would take about {estimate / 60:.0f} minutes; the playground allows "
               f"{limits.MAX_TRAIN_SECONDS / 60:.0f} so that the server stays quick for everyone. "
               "Lower the steps, the batch size or the hidden width.", icon=":material/timer_off:")

# --- learning-rate finder ------------------------------------------------------------------------
with st.expander("Find a good learning rate (the lecture's sweep)", icon=":material/search:"):
    st.markdown(
        "One short run of 1,000 steps with this model, optimizer and batch size, where the learning "
        "rate grows from 10⁻³ to 10⁰, one step at each rate. The loss falls faster as the rate grows, "
        "until the steps overshoot and it shoots up. A good rate sits in the valley, a little before "
        "its lowest point."
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
        st.altair_chart(charts.lr_sweep(df, sweep.suggested_exponent), width="stretch")
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
bigram = trained(dataset, "bigram", BigramCountsConfig(), TrainConfig(**MODELS["bigram"].train_defaults)).result
job = trained_live(board, dataset, "mlp", model_config, train_config, estimate, allowed=not too_long, key="mlp_train")

# --- results -------------------------------------------------------------------------------------
model, r = job.model, job.result
runs = st.session_state.setdefault("mlp_runs", {})
runs[job.key] = dict(
    settings=f"block {block_size} · emb {n_embd} · hidden {n_hidden} · {init}",
    training=training_summary(train_config),
    steps=r.steps, seconds=round(r.seconds, 1), val=round(r.val_loss, 4))

c1, c2, c3, c4 = st.columns(4)
c1.metric("val loss", f"{r.val_loss:.4f}", f"{r.val_loss - bigram.val_loss:+.4f} vs bigram", delta_color="inverse")
c2.metric("train loss", f"{r.train_loss:.4f}", help="A train loss far below val means overfitting.")
c3.metric("trained in", f"{r.seconds:.1f} s",
          help=f"{r.steps:,} steps at {r.steps_per_sec:,.0f} steps/s"
          + (" (loaded from the cache: nothing was trained now)" if job.from_disk else ""))
c4.metric("parameters", f"{r.params:,}")

left, right = st.columns([3, 2])
frame = smoothed_history(r.step_history, r.loss_history, r.val_history)
left.altair_chart(charts.loss_curve(frame, reference=bigram.val_loss, reference_label="bigram val", log_y=True,
                                    title="Loss during training (train averaged, log scale)"), width="stretch")
with right:
    st.markdown("**Loss on each split**")
    show_table(pd.DataFrame({
        "model": ["this MLP", "bigram (counts)"],
        "train": [r.train_loss, bigram.train_loss],
        "val": [r.val_loss, bigram.val_loss],
        "test": [r.test_loss, bigram.test_loss],
    }).round(4))
    st.markdown("**Your runs in this session**, best first")
    show_table(pd.DataFrame(runs.values()).sort_values("val"), max_height=240)
    st.caption(f"For comparison, lecture 2's recipe: val ≈ {LECTURE_VAL_LOSS} after 200,000 steps, "
               f"≈ {LECTURE_SECONDS} s.")

st.subheader("Samples")
options = sample_controls("mlp_samples", top_k=True)
show_samples(generate(model, vocab, train_words=dataset.splits["train"], **options))

st.subheader("The embedding table")
coords, method, share = project_2d(model.C)
distances, neighbours = nearest(model.C, k=3)
itos = vocab.itos
points = pd.DataFrame({
    "char": itos,
    "x": coords[:, 0].numpy(),
    "y": coords[:, 1].numpy(),
    "nearest": [", ".join(itos[j] for j in row) for row in neighbours.tolist()],
})
axis = ("dimension 1", "dimension 2") if method.startswith("the two") else ("component 1", "component 2")
left, right = st.columns([3, 2])
left.altair_chart(charts.embedding_scatter(points, *axis), width="stretch")
with right:
    st.markdown(
        f"Each character is a point: {method}"
        + (f", which show {share:.0%} of the spread of the {n_embd}-dimensional table." if n_embd > 2 else ".")
        + f" `{vocab.boundary}` marks the start and end of a word. Characters that can follow the same "
        "contexts drift together (the vowels often form a group); rare ones stay apart."
    )
    show_table(pd.DataFrame({
        "character": itos,
        "nearest (distance)": [", ".join(f"{itos[j]} ({d:.2f})" for j, d in zip(js, ds))
                               for js, ds in zip(neighbours.tolist(), distances.tolist())],
    }), max_height=360)

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
