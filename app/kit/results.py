"""What a page that trains shows once a training is done: the metrics, the loss curve, the runs of
the session side by side (the lecture's result to compare with: references.py). Also "my runs", the record of
every training this browser session finished on any page (the Compare page lists them, compares
them and downloads them as CSV), and the export controls that take a trained model home: its .pt
file, its samples as CSV and the command that trains it again."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import pandas as pd
import streamlit as st
import torch.nn as nn

import charts
from makemore.serving.cache import DiskCache
from makemore.serving.checkpoint import Checkpoint, checkpoint_bytes, cache_key
from makemore.cli import train_command_line
from makemore.data import Vocab, WordDataset
from makemore.serving.jobs import TrainingJob
from makemore.models import MODELS
from makemore.overfitting import Memorising, memorising
from makemore.sample import Sample, generate
from makemore.train import TrainConfig, TrainResult
from kit.datasets_ui import DATA_DIR, builtin_files, load_builtin
from kit.model_controls import PAGE_MODEL
from kit.rooms_ui import note_post, post_to_room, seat, show_post_note
from kit.training_ui import PAGE_TRAINING, STEPS, WEIGHT_DECAYS, apply, training_summary
from kit.widgets import difference, sample_controls, show_samples, show_table, smoothed_history
from registry import STAGES
from training.shared import is_mine, trained

MY_RUNS = "my_runs"  # session_state key: this browser session's runs, {run id: Run}, in the order trained
MAX_MY_RUNS = 100  # a session keeps its newest runs; each holds a reference to its (small) model


def result_metrics(job: TrainingJob, compare_to: tuple[str, float] | None = None, first_loss: bool = False,
                   params: bool = False) -> None:
    """One row: val loss (its difference from `compare_to`, a (name, val loss) pair), train loss,
    the loss at step 1 against the uniform guess (first_loss), the training time, the parameters."""
    r = job.result
    metrics = [
        dict(label="val loss", value=f"{r.val_loss:.4f}", delta_color="inverse",
             **(difference(r.val_loss, compare_to[1], compare_to[0]) if compare_to else {})),
        dict(label="train loss", value=f"{r.train_loss:.4f}", help="A train loss far below val means overfitting."),
    ]
    if first_loss:
        ideal = uniform_loss(job)
        metrics.append(dict(label="loss at step 1", value=f"{r.loss_history[0]:.3f}",
                            **first_loss_delta(r.loss_history[0] - ideal),
                            help=f"The uniform guess, −log(1/{len(job.dataset.vocab)}) = {ideal:.3f}, is what a "
                            "network that knows nothing yet should score."))
    metrics.append(dict(label="trained in", value=f"{r.seconds:.1f} s",
                        help=f"{r.steps:,} steps at {r.steps_per_sec:,.0f} steps/s"
                        + (" (loaded from the cache: nothing was trained now)" if job.from_disk else "")))
    if params:
        metrics.append(dict(label="parameters", value=f"{r.params:,}"))
    for column, metric in zip(st.columns(len(metrics)), metrics):
        column.metric(**metric)
    verdict = memorising_verdict(job)
    if verdict is not None:
        memorising_notice(job, verdict)


UNIFORM_TOLERANCE = 0.05  # a first loss this close to the uniform guess is the goal (a good init), not a miss


def first_loss_delta(excess: float) -> dict:
    """The step-1 metric's delta, for a first loss `excess` above the uniform guess: green and without
    an arrow when it is the guess (within UNIFORM_TOLERANCE), red and up when clearly above it."""
    if abs(excess) <= UNIFORM_TOLERANCE:
        return dict(delta="≈ uniform guess", delta_color="green", delta_arrow="off")
    return dict(delta=f"{excess:+.3f} vs uniform guess", delta_color="inverse")


def uniform_loss(job: TrainingJob) -> float:
    """−log(1/V): the loss of a model that gives every character the same probability."""
    return math.log(len(job.dataset.vocab))


def loss_chart(job: TrainingJob, reference: float, reference_label: str, container=st) -> None:
    """Train loss (averaged) and val loss over the run, log scale, with a reference line; where val
    began to rise while train fell, a red rule, and the steps after it shaded."""
    r = job.result
    frame = smoothed_history(r.step_history, r.loss_history, r.val_history)
    verdict = memorising_verdict(job)
    marks = {}
    if verdict is not None and verdict.rising:
        kept = " (its weights kept)" if r.kept_step == verdict.best_step else ""
        marks = dict(mark_step=verdict.best_step, mark_label=f"val lowest: step {verdict.best_step:,}{kept}",
                     shade_label="val rising while train falls: memorising")
    container.altair_chart(charts.loss_curve(frame, reference=reference, reference_label=reference_label, log_y=True,
                                             title="Loss during training (train averaged, log scale)", **marks),
                           width="stretch")


# --- memorising: overfitting met as a lesson ------------------------------------------------------

VERDICT_SAMPLES = dict(num=20, seed=0, temperature=1.0, top_k=None)  # the samples a page shows first


def memorising_verdict(job: TrainingJob) -> Memorising | None:
    """makemore.overfitting's verdict on a finished training, against the bigram on the same list,
    counting the copied words among the samples the page shows (until their settings change)."""
    counts = trained(job.dataset, MODELS["bigram"].default_run())
    verdict = memorising(job.result, uniform_loss(job), counts.result.val_loss)
    if verdict is None:
        return None
    run = Run.of_job(job)
    samples = run_samples(run.ident, job.dataset.fingerprint, **VERDICT_SAMPLES, _run=run,
                          _train_words=job.dataset.splits["train"])
    return memorising(job.result, uniform_loss(job), counts.result.val_loss, samples)


def memorising_notice(job: TrainingJob, verdict: Memorising) -> None:
    """Say, with the numbers, that the model learned its training words by heart, and offer what
    helps as buttons that set the page's widgets."""
    r = job.result
    signs = []
    if verdict.rising:
        signs.append(f"Val was lowest at step {verdict.best_step:,} ({verdict.best_val:.3f}), then rose "
                     f"{verdict.rise:.0%} to {verdict.last_val:.3f} while the train loss kept falling: the shaded "
                     "part of the chart.")
    if verdict.above_bigram:
        signs.append(f"Val is above the bigram's {verdict.bigram:.3f}: counting pairs of characters guesses new "
                     "words better.")
    if verdict.above_uniform:
        signs.append(f"Val is above a uniform guess, −log(1/{len(job.dataset.vocab)}) = {verdict.uniform:.3f}: "
                     "giving every character the same chance would do better on new words.")
    if verdict.copied:
        signs.append(f"{verdict.copied} of the first {verdict.sampled} samples below are training words, copied.")
    kept = (f" These are the weights of step {r.kept_step:,}, where val was lowest: they too have learned the "
            "training words more than how words go." if r.kept_step and r.kept_step < r.steps else "")
    words = len(job.dataset.splits["train"])
    st.warning(f"**This model is memorising its training words** instead of learning how words are made: train "
               f"loss **{verdict.train_loss:.3f}** on the words it trained on, val **{verdict.val_loss:.3f}** on "
               f"words it has never seen.{kept}\n\n" + "\n".join(f"- {sign}" for sign in signs)
               + f"\n\n{r.params:,} parameters for {words:,} training words are enough to learn each one by heart. "
               "What helps:", icon=":material/psychology_alt:")
    fixes = memorising_fixes(job, verdict)
    if not fixes:
        return
    for column, (key, label, values, tip) in zip(st.columns(len(fixes)), fixes):
        column.button(label, key=key, on_click=apply, args=(values,), help=tip, width="stretch")
    st.caption("Each button changes one setting above; then press **Train** and compare your runs. On a very small "
               "list one fix is rarely enough (a smaller net alone can still learn every word by heart): combine "
               "them, or give the model more words.")


def memorising_fixes(job: TrainingJob, verdict: Memorising) -> list[tuple[str, str, dict, str]]:
    """(button key, label, widget values, help) of each fix this page's widgets can make: fewer
    steps, a smaller model, more weight decay, the best-val weights."""
    prefix = st.session_state.get(PAGE_TRAINING)
    if prefix is None or f"{prefix}_steps" not in st.session_state:
        return []  # a page without the training controls: the notice alone
    training, fixes = job.train_config, []
    steps = min(STEPS, key=lambda s: abs(math.log(s / verdict.best_step)))
    if steps < training.max_steps:
        fixes.append(("memorising_steps", f"Fewer steps: {steps:,}", {f"{prefix}_steps": steps},
                      f"Stop near step {verdict.best_step:,}, where val was lowest."))
    smaller = smaller_model(job)
    if smaller is not None:
        key, label, value = smaller
        fixes.append(("memorising_model", f"A smaller model: {label.lower()} {value}", {key: value},
                      "Half as wide: fewer weights to store the training words in."))
    decay = next((d for d in WEIGHT_DECAYS[1:] if d >= max(0.1, 3 * training.weight_decay)), None)
    if decay is not None:
        fixes.append(("memorising_decay", f"Weight decay {decay:g}", {f"{prefix}_wd": decay},
                      f"Pull the weights towards 0 at every step (now {training.weight_decay:g})."))
    if not training.keep_best:
        fixes.append(("memorising_keep", "Keep the best-val weights", {f"{prefix}_keep": True},
                      "End with the weights of the validation point with the lowest loss."))
    return fixes


def smaller_model(job: TrainingJob) -> tuple[str, str, int] | None:
    """(widget key, label, value) that halves the model's width (its hidden layer, else its
    embeddings), within the widget's bounds; None when this page shows no such widget."""
    model_name, fields = st.session_state.get(PAGE_MODEL, (None, ()))
    if model_name != job.model_name:
        return None
    by_name = {f.name: f for f in fields}
    field = by_name.get("n_hidden") or by_name.get("n_embd")
    if field is None:
        return None
    now, meta = getattr(job.model_config, field.name), field.meta
    if "options" in meta:
        value = max((o for o in meta["options"] if o <= now // 2), default=None)
    else:
        step = meta.get("step", 1)
        value = max(meta["min"], meta["min"] + (now // 2 - meta["min"]) // step * step)
    return (field.key, field.label, value) if value is not None and value < now else None


# where a result on a page came from: only the first is the student's own run
TRAINED_BY_YOU = "trained by you"
OPENED_SHIPPED = "opened: shipped with the app"
OPENED_EARLIER = "opened: trained earlier on this server"


def origin(key: str) -> str:
    """Whose training the model with this cache key is, for this browser session: its own (it
    started or watched it: training.shared.is_mine), one of the files shipped with the app, or one
    that someone trained before on this server (the cache on disk or in memory)."""
    if is_mine(key):
        return TRAINED_BY_YOU
    shipped = DiskCache().shipped
    if shipped is not None and (shipped / f"{key}.pt").is_file():
        return OPENED_SHIPPED
    return OPENED_EARLIER


def opened_notice(where: str, how: str = "change a setting and press **Train**") -> None:
    """Tell a student who only opened a model (`where`: OPENED_SHIPPED or OPENED_EARLIER) that it is
    not their run, and `how` to make one on this page: in a class room, in the board's words."""
    source = "shipped with the app" if where == OPENED_SHIPPED else "trained earlier on this server"
    if seat() is not None:
        consequence, goal = "so it is **not posted to the room's board**", "To post a run"
    else:
        consequence, goal = "so it is not in *My runs* on the Compare page", "To make a run of your own"
    st.info(f"**You opened this model; you did not train it.** It was {source}: opening is not training, "
            f"{consequence}. {goal}, train a setting of your own: {how}.", icon=":material/folder_open:")


def remember_run(page: str, job: TrainingJob, **columns) -> pd.DataFrame:
    """Add this run to the page's runs of the session (once per training, however often the page
    reruns; to "my runs" if the session trained it), say so when the student only opened it (a
    shipped or cached model), and return them all, in the order seen. `columns` come first (what the
    page varies), then whose run it is, the losses, the time and the training."""
    r = job.result
    add_my_run(stage_title(job.model_name, page), job.dataset, job.model_name, job.model_config, job.train_config,
               job.model, r)
    whose = origin(job.key)
    if whose != TRAINED_BY_YOU:
        opened_notice(whose)
    runs = st.session_state.setdefault(f"{page}_runs", {})
    runs[job.key] = {**columns, "trained or opened": whose, "val": round(r.val_loss, 4),
                     "train": round(r.train_loss, 4),
                     "first loss": round(r.loss_history[0], 3) if r.loss_history else None,
                     "seconds": round(r.seconds, 1), "steps": r.steps, "training": training_summary(job.train_config)}
    return pd.DataFrame(runs.values())


def show_runs(runs: pd.DataFrame, best_first: bool = False, max_height: int = 600) -> None:
    if best_first:
        st.markdown("**The runs you trained or opened on this page**, best first (*trained or opened* says which)")
        runs = runs.sort_values("val")
    else:
        st.markdown("**The runs you trained or opened on this page**, in the order you saw them (*trained or "
                    "opened* says which)")
    show_table(runs, max_height=max_height)


# --- my runs: every training of this browser session, on any page ---------------------------------

@dataclass(eq=False)
class Run:
    """A trained model as "my runs", the comparison and the export see it."""

    ident: str  # names the trained model: its cache key and steps ("…@4000"); an imported file's hash
    page: str  # the page it was trained on ("MLP"), or where it came from ("imported run.pt")
    model_name: str
    model_config: object
    train_config: TrainConfig
    result: TrainResult
    model: nn.Module
    vocab: Vocab
    dataset_name: str
    fingerprint: str
    train_words: tuple[str, ...] | None = None  # marks samples as new; None when unknown

    @classmethod
    def of(cls, page: str, dataset: WordDataset, model_name: str, model_config, train_config: TrainConfig,
           model: nn.Module, result: TrainResult) -> Run:
        # the steps too: a run stopped early has the key of the full run, and other weights
        ident = f"{cache_key(dataset.fingerprint, model_name, model_config, train_config)}@{result.steps}"
        return cls(ident, page, model_name,
                   model_config, train_config, result, model, dataset.vocab, dataset.name, dataset.fingerprint,
                   tuple(dataset.splits["train"]))

    @classmethod
    def of_job(cls, job: TrainingJob) -> Run:
        """A finished job of the board as a run (for export_controls on a page that trains live)."""
        return cls.of(stage_title(job.model_name), job.dataset, job.model_name, job.model_config, job.train_config,
                      job.model, job.result)

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, ident: str, page: str) -> Run:
        return cls(ident, page, checkpoint.model_name, checkpoint.model_config, checkpoint.train_config,
                   checkpoint.result, checkpoint.build(), checkpoint.vocab, checkpoint.dataset_name,
                   checkpoint.fingerprint, checkpoint.train_words)

    def checkpoint(self) -> Checkpoint:
        """The run as one file's content (makemore.serving.checkpoint), with its training words when known."""
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        return Checkpoint(self.model_name, self.model_config, self.train_config, self.result, self.vocab, state,
                          self.dataset_name, self.fingerprint, self.train_words)

    @property
    def config_text(self) -> str:
        """The model's settings in the CLI's words: "block_size 4 · n_embd 10 · n_hidden 200 · init scaled"."""
        return " · ".join(f"{f.name} {getattr(self.model_config, f.name)}" for f in fields(self.model_config))

    @property
    def status(self) -> str:
        r = self.result
        return f"stopped at step {r.steps:,}" if r.stopped_early else "done"


def stage_title(model_name: str, default: str = "") -> str:
    """The title of the page that trains this model ("MLP"), from the registry."""
    return next((s.title for s in STAGES if model_name in s.models), default or model_name)


def add_my_run(page: str, dataset: WordDataset, model_name: str, model_config, train_config: TrainConfig,
               model: nn.Module, result: TrainResult) -> None:
    """Record a finished training in this browser session's runs if the session trained it (it
    started it, or watched it live: training.shared.is_mine), not if it only looked at a model loaded from
    the shipped files or the cache; once, however often the page reruns (a run trained again with
    the same settings replaces its record). remember_run calls it; a page that trains without the
    job board calls it after its training."""
    key = cache_key(dataset.fingerprint, model_name, model_config, train_config)
    if not is_mine(key):
        return
    runs = st.session_state.setdefault(MY_RUNS, {})
    if key not in runs or runs[key].result is not result:
        runs[key] = Run.of(page, dataset, model_name, model_config, train_config, model, result)
        # once per training, like the record: to the class room's board, if in one
        note_post(key, post_to_room(runs[key]))
        for old in list(runs)[: max(0, len(runs) - MAX_MY_RUNS)]:
            del runs[old]
    show_post_note(key)  # why it is not on the board (stopped, a closed room), on every run that shows it


def my_runs() -> list[Run]:
    """This browser session's runs, in the order trained (another session never sees them)."""
    return list(st.session_state.get(MY_RUNS, {}).values())


def data_argument(name: str, fingerprint: str) -> str:
    """The --data of a command that trains on this list again: data/NAME for a built-in list (the
    same content), else the name of the student's own file."""
    if name in builtin_files() and load_builtin(name).fingerprint == fingerprint:
        return str((DATA_DIR / name).relative_to(DATA_DIR.parent))
    return name


def command_line(run: Run, save: str | None = None) -> str:
    """The `python -m makemore train` command that reproduces the run (run from the repository)."""
    return train_command_line(run.model_name, run.model_config, run.train_config,
                              data_argument(run.dataset_name, run.fingerprint), save=save)


def my_runs_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per run: what the table shows and the CSV holds."""
    return pd.DataFrame([{
        "page": run.page, "model": run.model_name, "config": run.config_text, "dataset": run.dataset_name,
        "val loss": round(run.result.val_loss, 4), "train loss": round(run.result.train_loss, 4),
        "params": run.result.params, "seconds": round(run.result.seconds, 1), "steps": run.result.steps,
        "training": training_summary(run.train_config), "status": run.status, "command": command_line(run),
    } for run in runs], columns=["page", "model", "config", "dataset", "val loss", "train loss", "params", "seconds",
                                 "steps", "training", "status", "command"])


def show_my_runs(runs: list[Run]) -> None:
    """The session's runs as a table, and the download of them all as CSV."""
    if not runs:
        st.info("You have not trained anything in this session yet. Every training you finish on a page "
                "appears here, with its settings and losses. A model you only opened (shipped with the app, or "
                "trained earlier on this server) is not yours: change a setting on a page and press **Train**."
                + (" Only your own runs are posted to the room's board." if seat() is not None else ""),
                icon=":material/history:")
        return
    frame = my_runs_frame(runs)
    show_table(frame.drop(columns=["command"]), max_height=300)
    st.download_button("Download my runs (.csv)", frame.to_csv(index=False), file_name="my-runs.csv",
                       mime="text/csv", on_click="ignore", icon=":material/download:", key="my_runs_csv",
                       help="Every run of this session with its settings, losses, time and the command that "
                       "trains it again.")


# --- export: take a model home -------------------------------------------------------------------

def file_stem(run: Run) -> str:
    """A file name for the run's downloads: "mlp-names", "gru-cities"."""
    name = run.dataset_name.rsplit(".", 1)[0] if "." in run.dataset_name else run.dataset_name
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40].strip("-") or "words"
    return f"{run.model_name}-{safe}"


def samples_csv(samples: list[Sample]) -> str:
    return pd.DataFrame({"sample": [s.word for s in samples],
                         "origin": ["in the training set" if s.in_train else "new" for s in samples]}
                        ).to_csv(index=False)


def export_controls(run: Run, samples: list[Sample], key: str) -> None:
    """Download the model as one .pt file (loadable with torch.load(path, weights_only=True) and by
    `python -m makemore sample --load`), download `samples` as CSV, and show the command that trains
    the run again. The .pt file is written only when the button is pressed."""
    stem = file_stem(run)
    c1, c2 = st.columns(2)
    c1.download_button("Download the model (.pt)", lambda: checkpoint_bytes(run.checkpoint()), file_name=f"{stem}.pt",
                       mime="application/octet-stream", on_click="ignore", icon=":material/download:",
                       key=f"{key}_pt", width="stretch",
                       help="Its weights, settings, vocabulary, training result and training words, in one file.")
    c2.download_button(f"Download these {len(samples)} samples (.csv)", samples_csv(samples),
                       file_name=f"{stem}-samples.csv", mime="text/csv", on_click="ignore",
                       icon=":material/download:", key=f"{key}_csv", width="stretch")
    st.markdown("Train it again from the command line (in a clone of this repository), then sample from the file:")
    st.code(command_line(run, save=f"{stem}.pt") + f"\npython -m makemore sample --load {stem}.pt", language="bash")


@st.cache_data(max_entries=1024, show_spinner=False)
def run_samples(ident: str, fingerprint: str, num: int, seed: int, temperature: float, top_k: int | None,
                _run: Run, _train_words) -> list[Sample]:
    """A trained model's samples: the same model and seed draw the same words, so every visitor
    after the first gets them from here (`ident` names the model, `fingerprint` the word list
    they are checked against)."""
    return generate(_run.model, _run.vocab, num=num, seed=seed, temperature=temperature, top_k=top_k,
                    train_words=_train_words)


def samples_and_export(job: TrainingJob, dataset: WordDataset, key: str, top_k: bool = False) -> list[Sample]:
    """A trained model's samples (with their controls), and the way to take the model home."""
    run = Run.of_job(job)
    controls = {"top_k": None, **sample_controls(f"{key}_samples", top_k=top_k)}
    samples = run_samples(run.ident, dataset.fingerprint, **controls, _run=run, _train_words=dataset.splits["train"])
    show_samples(samples)
    with st.expander("Take this model home: the file, its samples, the command", icon=":material/download:"):
        export_controls(run, samples, key=f"{key}_export")
    return samples
