"""Trained models on disk, so that a restart (or another server process) trains nothing twice.

Each entry is one file named by a hash of everything that determines the result: the dataset's
fingerprint, the model name, its config and the training config. Files are written to a temporary
name and renamed (atomic on POSIX), so a crash never leaves half a file under a real name; a file
that fails to load is deleted and reported as a miss, so the caller retrains.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from makemore import limits
from makemore.models import create_model
from makemore.train import TrainResult, train

FORMAT = 1  # bump when the saved layout changes; older files then count as misses


def default_cache_dir() -> Path:
    root = os.environ.get("MAKEMORE_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "makemore-playground"


def cache_key(fingerprint: str, model_name: str, model_config, train_config) -> str:
    desc = json.dumps([FORMAT, fingerprint, model_name, asdict(model_config), asdict(train_config)],
                      sort_keys=True)
    return hashlib.sha256(desc.encode()).hexdigest()[:24]


class DiskCache:
    def __init__(self, folder=None, max_files: int = limits.DISK_CACHE_FILES):
        self.folder = Path(folder) if folder else default_cache_dir()
        self.max_files = max_files

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.pt"

    def load(self, key: str):
        """(state_dict, TrainResult) for key, or None if absent or unreadable."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            if blob.get("format") != FORMAT or blob.get("key") != key:
                raise ValueError("not one of our cache files")
            result = TrainResult.from_dict(blob["result"])
            path.touch()  # recently used: pruned last
            return blob["state_dict"], result
        except Exception:  # corrupt, truncated or foreign: drop it and let the caller retrain
            path.unlink(missing_ok=True)
            return None

    def save(self, key: str, model, result: TrainResult) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            blob = {"format": FORMAT, "key": key, "state_dict": model.state_dict(),
                    "result": result.to_dict()}
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".pt")
            try:
                with os.fdopen(fd, "wb") as f:
                    torch.save(blob, f)
                os.replace(tmp, self.path(key))
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            self.prune()
        except OSError:
            pass  # a read-only or full disk costs a retrain later, never the result in hand

    def prune(self) -> None:
        # not the ".tmp-" files: another process may be writing one right now
        files = sorted((p for p in self.folder.glob("*.pt") if not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - self.max_files)]:
            old.unlink(missing_ok=True)


def load_trained(dataset, model_name: str, model_config, train_config, cache: DiskCache):
    """(model, result) from the disk cache for these settings, or None; never trains."""
    hit = cache.load(cache_key(dataset.fingerprint, model_name, model_config, train_config))
    if hit is None:
        return None
    state_dict, result = hit
    model = create_model(model_name, len(dataset.vocab), model_config, seed=train_config.seed)
    try:
        model.load_state_dict(state_dict)
    except (RuntimeError, KeyError):  # shapes changed since it was saved: a miss
        return None
    return model.eval(), result


def train_or_load(dataset, model_name: str, model_config, train_config, callback=None,
                  cache: DiskCache | None = None):
    """Return (model, result, from_cache): the trained model for these settings, from the disk
    cache when it is there, else trained now (and saved, unless the run was stopped early)."""
    hit = load_trained(dataset, model_name, model_config, train_config, cache) if cache is not None else None
    if hit is not None:
        return *hit, True
    model = create_model(model_name, len(dataset.vocab), model_config, seed=train_config.seed)
    result = train(model, dataset, train_config, callback=callback)
    if cache is not None and not result.stopped_early:
        cache.save(cache_key(dataset.fingerprint, model_name, model_config, train_config), model, result)
    return model, result, False
