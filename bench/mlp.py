"""Benchmark of the MLP stage (lecture 2). Prints figures; asserts nothing about speed.

    .venv/bin/python bench/mlp.py             # about a minute on 2 CPU cores
    .venv/bin/python bench/mlp.py --lecture   # also the lecture's own 200k-step recipe (~2 more minutes)

1. Loop overhead: steps/s of makemore's training loop, run as the page runs it (a background job
   whose progress a reader thread turns into the live chart every second), against a plain
   hand-written loop of the same model, batch and optimizer, alternating with it. Each runs in a
   fresh child process with one torch thread, as the app trains (jobs.py, limits.py), so both pay
   the same start-up and the difference is our loop's callback, history, messages and chart.
2. Time to quality: wall seconds for the page's default settings to first reach val <= 2.17 on the
   lecture's names.txt, and where the run ends.
"""

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "app")]

from makemore import limits  # noqa: E402
from makemore.data import WordDataset  # noqa: E402
from makemore import jobs  # noqa: E402
from makemore.jobs import JobBoard  # noqa: E402
from makemore.models import MODELS, create_model  # noqa: E402
from makemore.models.mlp import MLPConfig, estimate_seconds  # noqa: E402
from makemore.train import TrainConfig, evaluated_examples, make_optimizer, train  # noqa: E402

NAMES = ROOT.parent / "shared" / "data" / "names.txt"
TARGET = 2.17


def plain_loop(model, X, Y, config: TrainConfig) -> float:
    """The lecture's loop, nothing else: returns steps per second."""
    opt = make_optimizer(model, config)
    g = torch.Generator().manual_seed(config.seed)
    losses = []
    t0 = time.perf_counter()
    for step in range(config.max_steps):
        for group in opt.param_groups:
            group["lr"] = config.lr_at(step)
        ix = torch.randint(0, len(X), (config.batch_size,), generator=g)
        emb = model.C[X[ix]]
        h = torch.tanh(emb.view(len(ix), -1) @ model.W1 + model.b1)
        loss = F.cross_entropy(h @ model.W2 + model.b2, Y[ix])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return config.max_steps / (time.perf_counter() - t0)


def in_child(target, *args):
    """target(results, *args) in a child process started the way the app starts its trainings
    (jobs.py: forked from a warmed-up server with torch loaded); returns what it put in results."""
    ctx = jobs._context()
    results = ctx.Queue()
    child = ctx.Process(target=target, args=(results, *args))
    child.start()
    value = results.get()
    child.join()
    return value


def _plain_child(results, name, words, config):
    torch.set_num_threads(limits.TRAINING_THREADS)
    dataset = WordDataset(name, words)
    X, Y = dataset.examples("train", MLPConfig().block_size)
    model = create_model("mlp", len(dataset.vocab), MLPConfig(), seed=config.seed)
    results.put(plain_loop(model, X, Y, config))


def plain_in_child(dataset, config: TrainConfig) -> float:
    return in_child(_plain_child, dataset.name, dataset.words, config)


def live_loop(dataset, config: TrainConfig) -> float:
    """The page's way: a job (a child process), watched by a thread that draws the live chart."""
    import charts
    import live
    from widgets import smoothed_history

    job = JobBoard(None).start(dataset, "mlp", MLPConfig(), config)

    def watch():
        while not job.finished.wait(live.REFRESH_SECONDS):
            job.seen()
            snap = job.snapshot()
            if snap.steps:
                charts.live_loss(smoothed_history(snap.steps, snap.losses, snap.val)).to_dict()

    watcher = threading.Thread(target=watch)
    watcher.start()
    job.wait()
    watcher.join()
    return job.result.steps_per_sec


def overhead(dataset, repeats: int) -> None:
    defaults = MODELS["mlp"].train_defaults
    config = TrainConfig(**{**defaults, "max_steps": 2000, "eval_interval": 0})
    ours, plain = [], []
    for _ in range(repeats):  # in pairs: this machine's speed drifts by tens of % over a minute
        plain.append(plain_in_child(dataset, config))
        ours.append(live_loop(dataset, config))
    ratios = [o / p for o, p in zip(ours, plain)]
    print(f"1. loop overhead ({config.max_steps} steps, batch {config.batch_size}, {config.optimizer}, "
          f"{repeats} pairs):")
    print(f"   plain hand-written loop   {statistics.median(plain):8.0f} steps/s (median; range "
          f"{min(plain):.0f}-{max(plain):.0f})")
    print(f"   makemore (live job+chart) {statistics.median(ours):8.0f} steps/s (median; range "
          f"{min(ours):.0f}-{max(ours):.0f})")
    print(f"   ratio, median of pairs    {statistics.median(ratios):8.3f}  (goal >= 0.95; pairs: "
          f"{', '.join(f'{r:.2f}' for r in ratios)})")


def _quality_child(results, name, words, model_name, model_config, config: TrainConfig, target: float):
    torch.set_num_threads(limits.TRAINING_THREADS)
    dataset = WordDataset(name, words)
    reached = None

    def watch(p):
        nonlocal reached
        if reached is None and p.val_loss is not None and p.val_loss <= target:
            reached = (p.step, p.seconds)

    model = create_model(model_name, len(dataset.vocab), model_config, seed=config.seed)
    result = train(model, dataset, config, callback=watch)
    results.put((result.to_dict(), reached))


def time_to_quality(dataset, label: str, model_name: str, model_config, config: TrainConfig, target: float,
                    estimate) -> None:
    """Trains in a child process started as the app starts its trainings; `estimate` is the
    page's guess of the time, estimate(vocab_size, model_config, max_steps, batch_size, evaluated)."""
    r, reached = in_child(_quality_child, dataset.name, dataset.words, model_name, model_config, config, target)
    guess = estimate(len(dataset.vocab), model_config, config.max_steps, config.batch_size,
                     evaluated_examples(config, dataset))
    when = f"step {reached[0]:,} after {reached[1]:.1f} s" if reached else "never"
    print(f"   {label}: val <= {target} at {when}; end: {r['steps']:,} steps in {r['seconds']:.1f} s "
          f"(page's estimate {guess:.0f} s), train {r['train_loss']:.4f} val {r['val_loss']:.4f} "
          f"test {r['test_loss']:.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--lecture", action="store_true", help="also run the lecture's 200k-step recipe")
    args = parser.parse_args()
    if not NAMES.is_file():
        sys.exit(f"bench needs the lecture's word list at {NAMES}")
    dataset = WordDataset.from_file(NAMES)
    torch.set_num_threads(limits.TRAINING_THREADS)  # as the app's trainings run
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {dataset.name}: {len(dataset.words):,} words")
    overhead(dataset, args.repeats)
    print("2. time to quality on names.txt (val evaluated every 100 steps, included in the time):")
    defaults = MODELS["mlp"].train_defaults
    time_to_quality(dataset, "page defaults", "mlp", MLPConfig(), TrainConfig(**{**defaults, "eval_interval": 100}),
                    TARGET, estimate_seconds)
    if args.lecture:
        lecture = TrainConfig(max_steps=200_000, batch_size=32, optimizer="sgd", lr=0.1, schedule="step",
                              eval_interval=5000)
        time_to_quality(dataset, "lecture 2's recipe", "mlp", MLPConfig(init="naive"), lecture, TARGET,
                        estimate_seconds)


if __name__ == "__main__":
    main()
