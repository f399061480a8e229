"""Bring a model back: the upload of a .pt file exported by the app or saved by
`python -m makemore train --save`, checked before anything of it is used.

A file is read with torch.load(weights_only=True) only (makemore.serving.checkpoint.read_checkpoint): a
pickle that would run code is refused without being run; so are a truncated or foreign file, a
model the package does not know, weights that do not fit their settings and a file over the limit.
A model is also refused unless its vocabulary is the current word list's, so that it can be
evaluated and compared on it: the message names the list it was trained on. Nothing of a refused
file is kept; an accepted one is kept in this browser session only."""

from __future__ import annotations

import hashlib
import math

import streamlit as st

from makemore import limits
from makemore.serving.checkpoint import CheckpointError, read_checkpoint
from makemore.data import WordDataset
from kit.results import Run

IMPORTED = "imported_models"  # session_state key: {run id: Run}, this session's accepted files
REFUSED = "refused_models"  # session_state key: {file hash: message}, so a refused file is read once
MAX_IMPORTED = 20  # models one session may hold at once (each is at most a few MB)
UPLOAD_MB = math.ceil(limits.MAX_CHECKPOINT_BYTES / 2**20)  # the picker's limit, in its MB (2^20 bytes)


def refusal(dataset: WordDataset, checkpoint) -> str | None:
    """Why an otherwise good model cannot be compared on this dataset, or None."""
    if checkpoint.vocab == dataset.vocab:
        return None
    trained_on = checkpoint.dataset_name or "another word list"
    return (f"it was trained on {trained_on}, whose characters are not those of {dataset.name} "
            f"({len(checkpoint.vocab)} symbols against {len(dataset.vocab)}), so it cannot be evaluated on "
            f"{dataset.name}. Pick {trained_on} in the sidebar's word list, then upload it again.")


def check_upload(raw: bytes, file_name: str, dataset: WordDataset) -> Run:
    """The uploaded file as a Run, or CheckpointError saying in one sentence why it is refused."""
    ident = "file-" + hashlib.sha256(raw).hexdigest()[:24]
    checkpoint = read_checkpoint(raw, file_name)
    why = refusal(dataset, checkpoint)
    if why is not None:
        raise CheckpointError(f"{file_name} cannot be used here: {why}")
    return Run.from_checkpoint(checkpoint, ident, f"imported {file_name}")


def imported_models() -> list[Run]:
    return list(st.session_state.get(IMPORTED, {}).values())


def import_widget(dataset: WordDataset, key: str) -> Run | None:
    """The upload widget and its verdict: the model of a newly accepted file (None otherwise)."""
    upload = st.file_uploader(
        "A model file (.pt) from this app's export or `python -m makemore train --save`", type=["pt"],
        key=key, max_upload_size=UPLOAD_MB,
        help=f"At most {limits.MAX_CHECKPOINT_BYTES / 1e6:.0f} MB. It must have been trained on a list with the "
        f"characters of {dataset.name}. Only weights and plain values are read from it: nothing in it is run.")
    if upload is None:
        return None
    raw = upload.getvalue()
    digest = hashlib.sha256(raw).hexdigest() + dataset.fingerprint
    refused = st.session_state.setdefault(REFUSED, {})
    if digest in refused:
        st.error(refused[digest], icon=":material/block:")
        return None
    imported = st.session_state.setdefault(IMPORTED, {})
    ident = "file-" + hashlib.sha256(raw).hexdigest()[:24]
    if ident in imported:
        run = imported[ident]
        st.success(f"{upload.name}: a **{run.model_name}** trained on {run.dataset_name or 'an unnamed list'} "
                   f"(val {run.result.val_loss:.4f} there), in the comparison below.", icon=":material/check:")
        return None
    try:
        run = check_upload(raw, upload.name, dataset)
    except CheckpointError as e:
        refused[digest] = f"This file was refused and nothing in it was run: {e}"
        for old in list(refused)[: max(0, len(refused) - MAX_IMPORTED)]:
            del refused[old]
        st.error(refused[digest], icon=":material/block:")
        return None
    imported[ident] = run
    for old in list(imported)[: max(0, len(imported) - MAX_IMPORTED)]:
        del imported[old]
    st.success(f"{upload.name}: a **{run.model_name}** trained on {run.dataset_name or 'an unnamed list'} "
               f"(val {run.result.val_loss:.4f} there), added to the comparison below.", icon=":material/check:")
    return run
