"""Benchmark of the BatchNorm stage (lecture 3). Prints figures; asserts nothing about speed.

    .venv/bin/python bench/batchnorm.py             # about 2 minutes on 2 CPU cores
    .venv/bin/python bench/batchnorm.py --lecture   # also its row of the one table (bench/stages.py)

1. What recording the diagnostics costs: steps/s of the same training with and without them, in
   pairs (each in a child process forked as the app forks its trainings, one torch thread), for the
   page's default net and for the deep 5-layer net with BatchNorm. Goal: at most 10 % slower.
2. The page's time estimate next to the real time, for nets of other shapes and batch sizes.
3. With --lecture: the stage's row of bench/stages.py (lecture 3's recipe against the fast default).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import stages  # noqa: E402  (bench/stages.py)
from makemore import limits  # noqa: E402
from makemore.data import WordDataset  # noqa: E402
from makemore.models import MODELS, create_model  # noqa: E402
from makemore.estimate.mlp_bn import estimate_seconds  # noqa: E402
from makemore.models.mlp_bn import PRESETS, MLPBNConfig  # noqa: E402
from makemore.train import TrainConfig, evaluated_examples, train  # noqa: E402

NAMES = stages.NAMES


def _train_child(results, name, words, model_config, config: TrainConfig, diagnostics: bool):
    torch.set_num_threads(limits.TRAINING_THREADS)
    dataset = WordDataset(name, words)
    model = create_model("mlp-bn", len(dataset.vocab), model_config, seed=config.seed)
    t0 = time.perf_counter()
    result = train(model, dataset, config, diagnostics=diagnostics)
    results.put((result.steps_per_sec, time.perf_counter() - t0))  # the loop alone; and with the evaluation


def in_child(*args):
    return stages.in_child(_train_child, *args, fresh=False)


def steps_per_sec(dataset, model_config, config, diagnostics: bool) -> float:
    return in_child(dataset.name, dataset.words, model_config, config, diagnostics)[0]


def diagnostics_cost(dataset, repeats: int) -> None:
    print("1. the cost of recording the diagnostics (50 recorded steps a run, as on the page):")
    for label, model_config, steps in (("page default (1 x 200, BatchNorm)", PRESETS["batchnorm"], 1000),
                                       ("deep (5 x 100, BatchNorm)", PRESETS["deep-batchnorm"], 500)):
        config = TrainConfig(**{**MODELS["mlp-bn"].train_defaults, "max_steps": steps, "eval_interval": 0})
        on, off = [], []
        for _ in range(repeats):  # in pairs: this machine's speed drifts by tens of % over a minute
            off.append(steps_per_sec(dataset, model_config, config, diagnostics=False))
            on.append(steps_per_sec(dataset, model_config, config, diagnostics=True))
        ratios = [a / b for a, b in zip(on, off)]
        print(f"   {label}, {steps} steps of batch {config.batch_size}, {repeats} pairs:")
        print(f"      without {statistics.median(off):7.1f} steps/s · with {statistics.median(on):7.1f} steps/s "
              f"(medians) · slowdown {1 - statistics.median(ratios):+.1%} (goal <= 10 %; pairs: "
              f"{', '.join(f'{1 - r:+.1%}' for r in ratios)})")


def estimates(dataset) -> None:
    print("2. the page's estimate against the real time (one thread, diagnostics on, the final evaluation of "
          "every split included):")
    cases = [("1 x 200 + BN, batch 1024", PRESETS["batchnorm"], 1000, 1024),
             ("1 x 200, batch 1024", PRESETS["kaiming"], 1000, 1024),
             ("1 x 200 + BN, batch 32", PRESETS["batchnorm"], 4000, 32),
             ("5 x 100 + BN, batch 1024", PRESETS["deep-batchnorm"], 500, 1024),
             ("5 x 100, batch 32", PRESETS["deep"], 4000, 32),
             ("8 x 512 + BN, batch 256", MLPBNConfig(n_layers=8, n_hidden=512), 200, 256)]
    for label, model_config, steps, batch in cases:
        config = TrainConfig(**{**MODELS["mlp-bn"].train_defaults, "max_steps": steps, "batch_size": batch,
                                "eval_interval": 0})
        _, seconds = in_child(dataset.name, dataset.words, model_config, config, True)
        guess = estimate_seconds(len(dataset.vocab), model_config, steps, batch, evaluated_examples(config, dataset))
        print(f"   {label:26} {steps:5} steps: real {seconds:6.2f} s, estimate {guess:6.2f} s "
              f"({guess / seconds:.2f}x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lecture", action="store_true", help="also the stage's row of bench/stages.py")
    args = parser.parse_args()
    if not NAMES.is_file():
        sys.exit(f"bench needs the lecture's word list at {NAMES}")
    dataset = WordDataset.from_file(NAMES)
    print(f"torch {torch.__version__}, {limits.TRAINING_THREADS} thread(s) per training, {dataset.name}: "
          f"{len(dataset.words):,} words")
    diagnostics_cost(dataset, args.repeats)
    estimates(dataset)
    if args.lecture:
        stages.main(["--only", "mlp-bn"])


if __name__ == "__main__":
    main()
