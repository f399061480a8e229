"""The trained models that ship with the repository, so that every page's first view shows a
trained model at once, on a fresh server with an empty cache.

    python -m makemore pretrain              # train what is missing, remove what is no longer listed
    python -m makemore pretrain --dry-run    # only say what it would do
    MAKEMORE_RAY_ADDRESS=host:6379 python -m makemore pretrain   # all at once on a Ray cluster

What ships (`shipped_runs`): every model's default (its config and fast recipe) and the lecture's
own recipe on every built-in word list in data/ (a page on any list compares with the lecture's
recipe trained on that list), and on names.txt, the lectures' list, also each preset. The files are
ordinary checkpoints (makemore.serving.checkpoint) named by their cache key, in data/models/, which the
disk cache reads before the user's own folder (makemore.serving.cache). tests/test_shipped.py fails when a
file no longer matches what the current code would produce; this command rebuilds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from makemore.serving.backends import backend_from_environment
from makemore.serving.cache import SHIPPED_DIR, DiskCache
from makemore.serving.jobs import JobBoard
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
    # on the server's backend, as the app trains: `jobs` child processes, or on a Ray cluster
    # (MAKEMORE_RAY_ADDRESS) as many at once as it has CPUs, so the whole set takes about the longest run
    backend = backend_from_environment()
    cache = DiskCache(folder, max_files=10**6, shipped=None)
    board = JobBoard(cache, max_running=max(1, jobs) if backend.name == "processes" else backend.slots(),
                     abandoned_after=float("inf"), time_limit=float("inf"), backend=backend)
    echo(f"training on {backend.name}, {board.max_running} at once")
    pending = {board.start(datasets[run.data], run.run): run for run in missing}
    failed = 0
    while pending:
        for job in [job for job in pending if job.wait(0.2)]:
            run = pending.pop(job)
            what = f"{run.data:13} {run.run.model_name:12} {run.why:28}"
            if job.finished:
                echo(f"  {what} val {job.result.val_loss:.4f}  ({job.result.seconds:.0f} s)")
            else:
                failed += 1
                echo(f"  {what} FAILED ({job.failure}): {job.error}")
    sizes = [p.stat().st_size for p in folder.glob("*.pt")]
    echo(f"{len(sizes)} files, {sum(sizes) / 1e6:.1f} MB in all, the largest {max(sizes, default=0) / 1e6:.2f} MB "
         f"(limits: {MAX_FILE_BYTES / 1e6:.0f} MB a file, {MAX_TOTAL_BYTES / 1e6:.0f} MB in all)")
    if failed:
        raise RuntimeError(f"{failed} of {len(missing)} trainings failed (above)")
    return len(missing)
