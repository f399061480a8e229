"""Compare: every stage's model side by side on the chosen word list, the student's own runs, and
models taken home (.pt, samples, the command line) and brought back (upload)."""

import pandas as pd
import streamlit as st

import charts
from kit.comparison import comparison_frame, defaults as default_runs, positions_frame, samples_of
from kit.datasets_ui import current_dataset
from kit.model_import import import_widget, imported_models
from kit.results import Run, export_controls, my_runs, show_my_runs
from kit.widgets import sample_controls, show_table, shown
from training.missing import train_missing
from training.shared import job_board

ADDED = "compare_added"  # the multiselect's key: the runs and imported models added to the comparison

dataset = current_dataset()
board = job_board()

st.title("Compare: which model is best?")
st.markdown(
    "Each stage added one idea: counting pairs, then embeddings and a hidden layer, BatchNorm, a deeper "
    "context, a state carried through the word. Here every stage's model, with its page's default settings "
    f"and fast recipe, meets the others on **{dataset.name}**: how low its validation loss goes, for how many "
    "parameters and how many seconds of training, what its words look like, and where in a word it is "
    "unsure. Add your own runs from any page, take a model home as a file, or bring one back."
)

# --- 1. every stage's model ----------------------------------------------------------------------
st.header("1 · Every stage's model")
defaults = default_runs()
caption = st.container()  # above the progress, filled in once it is known what is trained
ready = train_missing(
    board, dataset, defaults, key="compare_train_all", each="compare_train", charts=False,
    button="Train all {count} (about {wall:.0f} s)",
    note=lambda names: f"Not trained on {dataset.name} yet: {names}. Each trains in the background, two at a "
    "time, while this page stays usable; the comparison below shows the others meanwhile.")
caption.caption(f"{len(ready)} of {len(defaults)} models are trained on {dataset.name}. Trained models are kept: "
                "on the built-in lists they ship with the playground, and what is trained here is there for everyone "
                "after.")
entries = [(name, Run.of_job(job)) for name, job in ready.items()]

# --- 2. your runs, and models brought back -------------------------------------------------------
st.header("2 · Your runs, and models you bring back")
runs = my_runs()
st.markdown("**Your runs in this session**, on every page, in the order you trained them. Only you see them; "
            "they are gone when you close the tab (download them first).")
show_my_runs(runs)

st.markdown("**Bring a model back**: a file you downloaded below, or one saved by the command line.")
imported = import_widget(dataset, key="compare_import")

shown_ids = {run.ident for _, run in entries}
candidates = {}
for i, run in enumerate(runs, start=1):
    if run.vocab == dataset.vocab and run.ident not in shown_ids:
        candidates[run.ident] = (f"{run.model_name} · your run {i}", run)
for run in imported_models():
    if run.vocab == dataset.vocab:
        candidates[run.ident] = (f"{run.model_name} · {run.page.removeprefix('imported ')}", run)
chosen = [ident for ident in st.session_state.get(ADDED, []) if ident in candidates]
if imported is not None and imported.ident in candidates:
    chosen.append(imported.ident)  # a model just brought back joins the comparison
st.session_state[ADDED] = chosen
added = st.multiselect("Add to the comparison", list(candidates), key=ADDED, persist_state="session",
                       format_func=lambda ident: candidates[ident][0],
                       placeholder="Your runs and the models you brought back",
                       help="Runs with a stage's default settings are in the comparison already.")
elsewhere = sum(run.vocab != dataset.vocab for run in [*runs, *imported_models()])
if elsewhere:
    st.caption(f"{elsewhere} of your models were trained on lists with other characters than {dataset.name}: "
               "pick their list in the sidebar to compare them.")
entries += [candidates[ident] for ident in added]

# --- 3. the comparison ---------------------------------------------------------------------------
st.header("3 · The comparison")
if not entries:
    st.info("No model is trained on this list yet: train them above.", icon=":material/hourglass_empty:")
    st.stop()
table = comparison_frame(entries, dataset)
show_table(table, max_height=10_000,  # every row
           column_config={"val loss": st.column_config.NumberColumn(format="%.4f", width="small"),
                          "params": st.column_config.NumberColumn("parameters", format="localized", width="small"),
                          "seconds": st.column_config.NumberColumn("trained in (s)", format="%.2f", width="small")})
best = table.loc[table["val loss"].idxmin()]
st.caption(f"Lowest validation loss on {dataset.name}: **{best['model']}**, {best['val loss']:.4f} with "
           f"{best['params']:,} parameters in {best['seconds']:.1f} s of training. Val loss is the mean −log P of "
           "each next character of the validation words (10 % of the list, never trained on); every model is "
           "measured on the same words, so the numbers compare.")
left, right = st.columns(2)
left.altair_chart(charts.val_loss_against_params(table), width="stretch")
right.altair_chart(charts.val_loss_against_time(table), width="stretch")
st.caption("Down is better. Left: what each parameter buys; right: what each second of training buys, on one "
           "CPU core (a model loaded from a file keeps the time it took when it was trained). Hover a point for "
           "its settings.")

st.subheader("Samples side by side")
options = sample_controls("compare_samples")
samples = {label: samples_of(run, dataset, options) for label, run in entries}
show_table(pd.DataFrame({label: [shown(s.word) for s in words] for label, words in samples.items()}), max_height=560)
st.caption(f"The same seed ({options['seed']}) and temperature for every model. New words, not in the training "
           "split: " + ", ".join(f"{label} {sum(not s.in_train for s in words)}/{len(words)}"
                                 for label, words in samples.items()) + ".")

st.subheader("Where in a word each model is unsure")
positions = positions_frame(entries, dataset)
st.altair_chart(charts.loss_by_position(positions, table["model"]), width="stretch")
st.caption("The mean loss of the 1st character of the validation words, of the 2nd, …, and of the end of the "
           "word, one line per model. At the 1st character every model knows the same thing, that a word starts, "
           "so the lines meet; a bigram does not know how far into the word it is, the others do, and the more "
           "of the word a model reads, the lower its line further on. The chart stops where fewer than 1 % of "
           "the words go on.")

# --- 4. take a model home ------------------------------------------------------------------------
st.header("4 · Take a model home")
labels = [label for label, _ in entries]
label = st.selectbox("Model", labels, key="compare_export_model", help="Any model of the comparison.")
run = dict(entries)[label]
export_controls(run, samples[label], key="compare_export")
st.caption("The .pt file holds the weights (the state_dict), the model's name and settings, the vocabulary, the "
           "training settings and result, and the training words. It opens with "
           "`torch.load(path, weights_only=True)`, which reads tensors and plain values only and never runs code; "
           "upload it above to compare it again.")

# --- how it works --------------------------------------------------------------------------------
st.header("How it works")
st.markdown(r"""
**The same yardstick.** Every model, whatever its layout (a window of characters or the whole word), is
scored by the mean negative log-likelihood per predicted character on the same validation words:

$$\text{val loss} = -\frac{1}{N}\sum_{i=1}^{N} \log P(c_i \mid \text{what the model sees before } c_i)$$

where the $N$ characters include each word's end. A uniform guess scores $\log V$; lower is better.

**The loss at each position.** A word $w_1 \dots w_n$ asks for $n+1$ predictions: $w_1$ after the start
token, then each next character, then the end. Position $p$ averages $-\log P(c_p \mid c_{<p})$ over the
words long enough to have it. Weighted by how many words reach each position, these average to the val
loss. A bigram's curve is flat-ish (it sees one character wherever it is); models with more context
drop after the first few characters.

**Defaults.** Each model here has its page's default settings and fast recipe (`train_defaults` in
`makemore/models/__init__.py`); those trained on the built-in lists ship with the playground, so nothing
trains. A new stage appears here as soon as it is registered.

**Files.** An exported file is one `torch.save` of a dict of tensors and plain values; the app and
`python -m makemore sample --load FILE` read it back with `weights_only=True` and check every part
(model name, settings, vocabulary, the weights' shapes) before building the model.
""")
