"""Trained models on disk, so that a restart (or another server process, or the CLI) trains nothing
twice; and the one way to get a trained model: load it, or train it and keep it.

    model, result, from_cache = load_or_train(dataset, Run("mlp", MLPConfig(), TrainConfig()), cache=DiskCache())

Each entry is one checkpoint file (makemore.serving.checkpoint) named by its run's key: a hash of everything
that determines the result (the dataset's fingerprint, the model name, its config, the training
config). Two folders are searched: the models shipped with the repository (data/models, read-only,
made by `python -m makemore pretrain`) and then the user's own cache folder, where new ones are
written. Files are written atomically; a file in the user's folder that fails to load is deleted and
reported as a miss, so the caller retrains.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch.nn as nn

from makemore import limits
from makemore.serving.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from makemore.serving.checkpoint import cache_key  # noqa: F401  (makemore.serving.cache.cache_key, as before)
from makemore.data import WordDataset
from makemore.models import create_model
from makemore.runs import Run
from makemore.train import TrainResult, train

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "data" / "models"


def default_cache_dir() -> Path:
    root = os.environ.get("MAKEMORE_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "makemore-playground"


def default_shipped_dir() -> Path | None:
    """data/models, or $MAKEMORE_SHIPPED_DIR; "" (set but empty) turns the shipped models off."""
    folder = os.environ.get("MAKEMORE_SHIPPED_DIR")
    if folder is None:
        return SHIPPED_DIR
    return Path(folder) if folder else None


class DiskCache:
    def __init__(self, folder=None, max_files: int = limits.DISK_CACHE_FILES, shipped="default"):
        self.folder = Path(folder) if folder else default_cache_dir()
        self.max_files = max_files
        self.shipped = default_shipped_dir() if shipped == "default" else (Path(shipped) if shipped else None)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.pt"

    def load(self, key: str) -> Checkpoint | None:
        """The checkpoint saved for key, or None if absent or unreadable."""
        if self.shipped is not None and (self.shipped / f"{key}.pt").is_file():
            try:
                checkpoint = load_checkpoint(self.shipped / f"{key}.pt")
                if checkpoint.key == key:
                    return checkpoint
            except CheckpointError:
                pass  # read-only: never deleted; the user's folder may still hold a good copy
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            checkpoint = load_checkpoint(path)
            if checkpoint.key != key:
                raise CheckpointError("saved for another run")
            path.touch()  # recently used: pruned last
            return checkpoint
        except (CheckpointError, OSError):  # corrupt, truncated or foreign: drop it, the caller retrains
            path.unlink(missing_ok=True)
            return None

    def save(self, checkpoint: Checkpoint) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            save_checkpoint(self.path(checkpoint.key), checkpoint)
            self.prune()
        except OSError:
            pass  # a read-only or full disk costs a retrain later, never the result in hand

    def prune(self) -> None:
        # not the ".tmp-" files: another process may be writing one right now
        files = sorted((p for p in self.folder.glob("*.pt") if not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - self.max_files)]:
            old.unlink(missing_ok=True)


@dataclass
class Trained:
    model: nn.Module
    result: TrainResult
    from_cache: bool

    def __iter__(self):  # model, result, from_cache = load_or_train(...)
        return iter((self.model, self.result, self.from_cache))


def train_here(dataset: WordDataset, run: Run, callback=None):
    """Train in this process: (model, result)."""
    model = create_model(run.model_name, len(dataset.vocab), run.model_config, seed=run.train_config.seed)
    return model, train(model, dataset, run.train_config, callback=callback)


def load_or_train(dataset: WordDataset, run: Run, callback=None, cache: DiskCache | None = None,
                  trainer=train_here) -> Trained:
    """The trained model for these settings: from the cache when it is there, else trained now by
    `trainer` (this process, or a child process for the app's background jobs) and saved, unless
    the run was stopped early."""
    if cache is not None:
        hit = cache.load(run.key(dataset))
        if hit is not None:
            return Trained(hit.build(), hit.result, True)
    model, result = trainer(dataset, run, callback)
    if cache is not None and not result.stopped_early:
        cache.save(Checkpoint.of(run.model_name, model, run.model_config, run.train_config, result, dataset))
    return Trained(model, result, False)
