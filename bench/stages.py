"""One benchmark table for every stage: the lecture's recipe against the page's default, side by side.

    .venv/bin/python bench/stages.py                    # every model with a reference recipe (~25 min)
    .venv/bin/python bench/stages.py --only mlp-bn      # one row (bench/wavenet.py etc. call this)
    .venv/bin/python bench/stages.py --quick            # a smoke run on a small list (seconds; the tests run it)
    .venv/bin/python bench/stages.py --markdown table.md

For every registered model with a reference recipe (MODELS[name].lecture: the lecture's own run, or
makemore.py's defaults for the models no lecture trains), on the lecture's names.txt (80/10/10):

- the reference recipe, run as its source runs it: plain PyTorch with torch's default threads;
- the page's default (MODELS[name].train_defaults), run as the app runs it: one torch thread;
- the target: the loss the source reports for its recipe, or, when the reference does not reach it
  on our split, the reference's own final val loss; the time each first reaches it (validation
  every 1/40 of the reference run and 1/20 of ours, as the app evaluates; evaluation time included);
- the ratio of the two times (goal: at least 20), and the ratio of the reference's whole run to
  our time (the lectures report their loss at the end of the run, so that is what a student waits);
- the page's time estimate for our default against its real time (makemore.estimate);
- steps/s of the app's loop (a background job, forked as the app forks it, with a thread redrawing
  the live chart every second) against a plain loop of the same model and batches (goal >= 0.95).

Each run is a fresh child process, so one run's threads and memory never slow another. Nothing here
asserts a speed: the figures are for the README (this machine's speed drifts by tens of percent
from minute to minute, so compare figures from one run only).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "app")]

from makemore import limits  # noqa: E402
from makemore.data import WordDataset  # noqa: E402
from makemore.estimate import training_seconds  # noqa: E402
from makemore.serving.backends import _context  # noqa: E402
from makemore.serving.jobs import JobBoard  # noqa: E402
from makemore.models import MODELS, create_model  # noqa: E402
from makemore.runs import Run as TrainingRun  # noqa: E402  (this file's Run is a measurement)
from makemore.train import TrainConfig, make_optimizer, split_tensors, train, trim  # noqa: E402

NAMES = ROOT / "data" / "names.txt"
REFERENCE_EVALUATIONS = 40


@dataclass
class Run:
    final_val: float
    seconds: float  # the whole run, evaluations included
    curve: list[tuple[float, int, float]]  # (seconds, step, val) at each evaluation
    threads: int

    def time_to(self, target: float) -> tuple[float, int] | None:
        return next(((s, step) for s, step, val in self.curve if val <= target), None)


def _train_child(results, name, words, model_name, model_config, config: TrainConfig, threads: int | None):
    if threads:
        torch.set_num_threads(threads)
    dataset = WordDataset(name, words)
    curve = []

    def record(p):
        if p.val_loss is not None:
            curve.append((p.seconds, p.step, p.val_loss))

    model = create_model(model_name, len(dataset.vocab), model_config, seed=config.seed)
    result = train(model, dataset, config, callback=record)
    results.put(Run(result.val_loss, result.seconds, curve, torch.get_num_threads()))


def in_child(target, *args, fresh: bool = True):
    """target(results, *args) in a child process: a fresh interpreter ("spawn", for the reference,
    with torch's own thread default) or forked as the app forks its trainings ("forkserver")."""
    ctx = multiprocessing.get_context("spawn") if fresh else _context()
    results = ctx.Queue()
    child = ctx.Process(target=target, args=(results, *args))
    child.start()
    value = results.get()
    child.join()
    return value


def train_run(dataset, model_name, model_config, config, threads, quick: bool) -> Run:
    if quick:  # in this process: a smoke run must take seconds, not child start-ups
        queue = _ListQueue()
        _train_child(queue, dataset.name, dataset.words, model_name, model_config, config, None)
        return queue.items[0]
    return in_child(_train_child, dataset.name, dataset.words, model_name, model_config, config, threads,
                    fresh=threads is None)


class _ListQueue:
    def __init__(self):
        self.items = []

    def put(self, item):
        self.items.append(item)


# -----------------------------------------------------------------------------------------------
# loop overhead: the app's loop against a plain one


def plain_steps_per_sec(results, name, words, model_name, model_config, config: TrainConfig):
    """The lecture's loop and nothing else: batch, forward, backward, step."""
    torch.set_num_threads(limits.TRAINING_THREADS)
    dataset = WordDataset(name, words)
    model = create_model(model_name, len(dataset.vocab), model_config, seed=config.seed)
    model.train()
    X, Y = split_tensors(model, dataset, "train")
    opt = make_optimizer(model, config)
    g = torch.Generator().manual_seed(config.seed)
    t0 = time.perf_counter()
    for step in range(config.max_steps):
        for group in opt.param_groups:
            group["lr"] = config.lr_at(step)
        if config.batch_size:
            ix = torch.randint(0, len(X), (config.batch_size,), generator=g)
            _, loss = model(*trim(X[ix], Y[ix]))
        else:  # the whole training split every step
            _, loss = model(X, Y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
    results.put(config.max_steps / (time.perf_counter() - t0))


def app_steps_per_sec(dataset, model_name, model_config, config: TrainConfig) -> float:
    """As the page runs it: a background job (a child forked from the warmed-up server), watched
    by a thread that turns its progress into the live chart every second."""
    import charts
    from kit.widgets import smoothed_history
    from training import live

    job = JobBoard(None).start(dataset, TrainingRun(model_name, model_config, config))

    def watch():
        while not job.ended.wait(live.REFRESH_SECONDS):
            job.seen()
            snap = job.snapshot()
            if snap.steps:
                charts.live_loss(smoothed_history(snap.steps, snap.losses, snap.val)).to_dict()

    watcher = threading.Thread(target=watch)
    watcher.start()
    job.wait()
    watcher.join()
    assert job.result is not None, job.error
    return job.result.steps_per_sec


def loop_ratio(dataset, model_name, model_config, config: TrainConfig, steps: int, pairs: int) -> tuple[float, float, float]:
    """(app steps/s, plain steps/s, median ratio of pairs): in pairs, as the machine's speed drifts."""
    config = replace(config, max_steps=steps, eval_interval=steps + 1)  # one evaluation, at the end
    ours, plain = [], []
    for _ in range(pairs):
        plain.append(in_child(plain_steps_per_sec, dataset.name, dataset.words, model_name, model_config, config,
                              fresh=False))
        ours.append(app_steps_per_sec(dataset, model_name, model_config, config))
    ratios = [o / p for o, p in zip(ours, plain)]
    return statistics.median(ours), statistics.median(plain), statistics.median(ratios)


# -----------------------------------------------------------------------------------------------
# the table


@dataclass
class Row:
    model: str
    source: str
    target: float
    reported: float | None
    reference: Run
    ours: Run
    reference_time: float | None
    our_time: float | None
    loop: tuple[float, float, float] | None
    estimate: float

    @property
    def ratio(self) -> float | None:
        return self.reference_time / self.our_time if self.reference_time and self.our_time else None

    @property
    def ratio_to_whole_run(self) -> float | None:
        # the lectures report their loss at the end of the run: a student following one waits for all of it
        return self.reference.seconds / self.our_time if self.our_time else None


def measure(dataset, model_name: str, quick: bool, pairs: int) -> Row:
    spec = MODELS[model_name]
    lecture = spec.lecture
    reference_config = TrainConfig(**lecture.train)
    our_config = spec.fast_training()
    if quick:
        reference_config = replace(reference_config, max_steps=min(reference_config.max_steps, 40))
        our_config = replace(our_config, max_steps=min(our_config.max_steps, 40))
    reference_config = replace(reference_config,
                               eval_interval=max(1, reference_config.max_steps // REFERENCE_EVALUATIONS))
    reference = train_run(dataset, model_name, spec.config(**lecture.model), reference_config, None, quick)
    ours = train_run(dataset, model_name, spec.config(), our_config, limits.TRAINING_THREADS, quick)
    # the source's number, unless its recipe does not get there on our split: then what it does reach
    target = max(lecture.val_loss or 0.0, round(reference.final_val + 0.0005, 3))
    reached = reference.time_to(target)
    mine = ours.time_to(target)
    loop = None if quick else loop_ratio(dataset, model_name, spec.config(), our_config,
                                        steps=min(our_config.max_steps, 2000), pairs=pairs)
    estimate = training_seconds(model_name, dataset, spec.config(), our_config)
    return Row(model_name, lecture.source, target, lecture.val_loss, reference, ours,
               reached[0] if reached else None, mine[0] if mine else None, loop, estimate)


def fmt(x, spec=".1f", none="never"):
    return none if x is None else format(x, spec)


def table(rows: list[Row], machine: str) -> str:
    lines = [f"Measured on {machine}.", "",
             "| stage model | reference (threads) | target val | reference: time to it (whole run) "
             "| our default: time to it | ratio (to the whole run) | our final val, whole run (estimate) "
             "| app loop / plain loop (steps/s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        reported = f" (reported {r.reported})" if r.reported is not None and r.reported != r.target else ""
        loop = (f"{r.loop[2]:.2f} ({r.loop[0]:,.0f} / {r.loop[1]:,.0f})" if r.loop else "—")
        lines.append(f"| `{r.model}` | {r.source} ({r.reference.threads}) | {r.target:.3f}{reported} "
                     f"| {fmt(r.reference_time)} s ({r.reference.seconds:.1f} s) | {fmt(r.our_time)} s ({r.ours.threads}) "
                     f"| {fmt(r.ratio, '.1f', '—')}× ({fmt(r.ratio_to_whole_run, '.0f', '—')}×) "
                     f"| {r.ours.final_val:.4f}, {r.ours.seconds:.1f} s "
                     f"({r.estimate:.0f} s) | {loop} |")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
        cpu = model
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {platform.python_version()}"


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="these models only (default: every one with a reference)")
    parser.add_argument("--quick", action="store_true", help="40 steps each on 1,000 names, in this process")
    parser.add_argument("--pairs", type=int, default=3, help="pairs for the loop comparison")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--data", default=str(NAMES), help="word list (default: the lecture's names.txt)")
    args = parser.parse_args(argv)
    names = [n for n, spec in MODELS.items() if spec.lecture is not None]
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"no reference recipe for {', '.join(unknown)}; choose from {', '.join(names)}")
        names = [n for n in names if n in args.only]
    if not Path(args.data).is_file():
        sys.exit(f"bench needs the lecture's word list at {args.data}")
    dataset = WordDataset.from_file(args.data)
    if args.quick:
        dataset = WordDataset("names-1000", dataset.words[:1000])
    print(f"{machine()}; {dataset.name}: {len(dataset.words):,} words", flush=True)
    rows = []
    for name in names:
        row = measure(dataset, name, args.quick, args.pairs)
        print(f"  {name}: target {row.target:.3f}, reference {fmt(row.reference_time)} s of "
              f"{row.reference.seconds:.1f} s (val {row.reference.final_val:.4f}), ours {fmt(row.our_time)} s of "
              f"{row.ours.seconds:.1f} s (val {row.ours.final_val:.4f}), ratio {fmt(row.ratio, '.1f', '—')}", flush=True)
        rows.append(row)
    text = table(rows, machine())
    print()
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
