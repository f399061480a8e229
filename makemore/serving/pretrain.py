"""The trained models that ship with the repository, so that every page's first view shows a
trained model at once, on a fresh server with an empty cache.

    python -m makemore pretrain              # train what is missing, remove what is no longer listed
    python -m makemore pretrain --dry-run    # only say what it would do

What ships (`shipped_runs`): every model's default (its config and fast recipe) and the lecture's
own recipe on every built-in word list in data/ (a page on any list compares with the lecture's
recipe trained on that list), and on names.txt, the lectures' list, also each preset. The files are
ordinary checkpoints (makemore.serving.checkpoint) named by their cache key, in data/models/, which the
disk cache reads before the user's own folder (makemore.serving.cache). tests/test_shipped.py fails when a
file no longer matches what the current code would produce; this command rebuilds them.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from makemore import limits
from makemore.serving.cache import SHIPPED_DIR, DiskCache, load_or_train
from makemore.data import WordDataset
from makemore.models import MODELS
from makemore.runs import Run

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
LECTURE_LIST = "names.txt"  # the lectures' list: presets ship for this one only
MAX_FILE_BYTES = 5_000_000  # no shipped file over 5 MB ...
MAX_TOTAL_BYTES = 30_000_000  # ... and 30 MB in all (the 200k-step lecture runs keep a loss per step)


@dataclass(frozen=True)
class ShippedRun:
    data: str  # a file name in data/
    run: Run
    why: str  # "default", "preset naive", "lecture recipe"

    def key(self, dataset: WordDataset) -> str:
        return self.run.key(dataset)


def builtin_lists() -> list[str]:
    return sorted(p.name for p in DATA_DIR.glob("*.txt"))


def shipped_runs() -> list[ShippedRun]:
    unique = {}
    for data in builtin_lists():
        for spec in MODELS.values():
            for why, run in spec.runs().items():
                if why.startswith("preset") and data != LECTURE_LIST:
                    continue
                unique.setdefault((data, run), ShippedRun(data, run, why))  # a preset may be the default itself
    return list(unique.values())


def _datasets() -> dict[str, WordDataset]:
    return {name: WordDataset.from_file(DATA_DIR / name) for name in builtin_lists()}


def _train_one(args) -> tuple[str, float]:
    run, folder = args
    torch.set_num_threads(limits.TRAINING_THREADS)  # as the app trains: the same numbers
    dataset = WordDataset.from_file(DATA_DIR / run.data)
    cache = DiskCache(folder, max_files=10**6, shipped=None)
    t0 = time.perf_counter()
    _, result, _ = load_or_train(dataset, run.run, cache=cache)
    return f"{run.data:13} {run.run.model_name:12} {run.why:28} val {result.val_loss:.4f}", time.perf_counter() - t0


def pretrain(folder: Path = SHIPPED_DIR, jobs: int = 2, dry_run: bool = False, echo=print) -> int:
    """Train every shipped run that has no file yet, remove files no run needs; returns how many
    it trained."""
    datasets = _datasets()
    runs = shipped_runs()
    wanted = {run.key(datasets[run.data]): run for run in runs}
    present = {p.stem for p in folder.glob("*.pt")} if folder.is_dir() else set()
    missing = [run for key, run in wanted.items() if key not in present]
    stale = sorted(present - set(wanted))
    echo(f"{len(runs)} shipped models: {len(runs) - len(missing)} present, {len(missing)} to train, "
         f"{len(stale)} to remove")
    if dry_run:
        for run in missing:
            echo(f"  would train {run.data} {run.run.model_name} ({run.why})")
        for key in stale:
            echo(f"  would remove {key}.pt")
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    for key in stale:
        (folder / f"{key}.pt").unlink()
    # the longest first, so that the last ones to finish are short
    missing.sort(key=lambda shipped: -shipped.run.train_config.max_steps
                 * max(1, shipped.run.train_config.batch_size))
    with multiprocessing.get_context("spawn").Pool(max(1, jobs)) as pool:
        for line, seconds in pool.imap_unordered(_train_one, [(run, str(folder)) for run in missing]):
            echo(f"  {line}  ({seconds:.0f} s)")
    sizes = [p.stat().st_size for p in folder.glob("*.pt")]
    echo(f"{len(sizes)} files, {sum(sizes) / 1e6:.1f} MB in all, the largest {max(sizes, default=0) / 1e6:.2f} MB "
         f"(limits: {MAX_FILE_BYTES / 1e6:.0f} MB a file, {MAX_TOTAL_BYTES / 1e6:.0f} MB in all)")
    return len(missing)
