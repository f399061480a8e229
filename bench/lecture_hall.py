"""How long a student of a lecture hall waits for their training, against the CPUs that train: a
SIMULATION, not a measurement (this machine cannot hold a hall).

    python bench/lecture_hall.py                 # 30 and 300 students against 2, 16 and 64 CPUs
    python bench/lecture_hall.py --spread 120    # the clicks spread over two minutes, not one

What is measured: the CPU seconds of each training, read from the shipped models (data/models
records each run's training seconds, trained one core each on this repository's 2-core machines).
What is assumed: every student clicks Train once within `--spread` seconds (uniformly at random,
seeded), each on one stage's default run drawn at random; each training holds one CPU for its
recorded seconds (the job board trains one a core, and a Ray cluster one per CPU); first come,
first served. Ray's own costs (an actor's start, ~1-3 s) and a busier CPU are not in it.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from makemore.serving.checkpoint import load_checkpoint  # noqa: E402
from makemore.serving.pretrain import DATA_DIR, LECTURE_LIST, shipped_runs  # noqa: E402


def measured_seconds() -> dict[str, float]:
    """Each stage's default run on the lecture's list: model -> its recorded training seconds."""
    from makemore.data import WordDataset
    dataset = WordDataset.from_file(DATA_DIR / LECTURE_LIST)
    seconds = {}
    for shipped in shipped_runs():
        if shipped.data == LECTURE_LIST and shipped.why == "default":
            path = DATA_DIR / "models" / f"{shipped.key(dataset)}.pt"
            seconds[shipped.run.model_name] = load_checkpoint(path).result.seconds
    return seconds


def simulate(students: int, cpus: int, seconds: dict[str, float], spread: float, seed: int = 0):
    """(waits, times to the result) of each student, in seconds."""
    rng = random.Random(seed)
    clicks = sorted((rng.uniform(0, spread), seconds[rng.choice(sorted(seconds))]) for _ in range(students))
    free_at = [0.0] * cpus  # when each CPU is next free
    heapq.heapify(free_at)
    waits, results = [], []
    for click, work in clicks:
        start = max(click, heapq.heappop(free_at))
        heapq.heappush(free_at, start + work)
        waits.append(start - click)
        results.append(start + work - click)
    return waits, results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spread", type=float, default=60.0, help="seconds over which the students click Train")
    parser.add_argument("--seeds", type=int, default=20, help="simulated lectures to average over")
    args = parser.parse_args(argv)
    seconds = measured_seconds()
    print("SIMULATION from measured CPU seconds of each training (not a measured lecture hall)")
    print("measured seconds of each stage's default run (data/models): "
          + ", ".join(f"{name} {s:.1f}" for name, s in sorted(seconds.items(), key=lambda kv: kv[1])))
    print(f"every student clicks Train once within {args.spread:.0f} s, on a stage drawn at random; "
          f"median over {args.seeds} simulated lectures")
    print(f"  {'students':>8} {'CPUs':>5} {'median wait':>12} {'worst wait':>11} {'median result':>14} "
          f"{'worst result':>13}")
    for students in (30, 300):
        for cpus in (2, 16, 64):
            runs = [simulate(students, cpus, seconds, args.spread, seed) for seed in range(args.seeds)]
            figures = [statistics.median(statistics.median(w) for w, _ in runs),
                       statistics.median(max(w) for w, _ in runs),
                       statistics.median(statistics.median(r) for _, r in runs),
                       statistics.median(max(r) for _, r in runs)]
            print(f"  {students:>8} {cpus:>5} " + " ".join(f"{f:>{width}.0f} s"
                                                            for f, width in zip(figures, (10, 9, 12, 11))))


if __name__ == "__main__":
    main()
