"""Drawing new words from a trained model, one character at a time."""

from dataclasses import dataclass

import torch

from makemore import limits
from makemore.models import WORDS, layout


@dataclass(frozen=True)
class Sample:
    word: str
    in_train: bool  # True if the word is one of the training words (memorised, not invented)


@torch.no_grad()
def generate(model, vocab, num: int = 20, seed: int = 0, temperature: float = 1.0,
             top_k: int | None = None, train_words=(), max_len: int = limits.MAX_WORD_LEN) -> list[Sample]:
    """Sample `num` words. Each starts from a context of boundary tokens and ends at the first
    boundary token (or at max_len characters). Same model + seed -> same words.

    A windows model sees the last block_size characters; a words model the whole word so far,
    after its start token (and never more than block_size positions)."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    block_size = model.block_size
    whole_words = layout(model) == WORDS
    context = torch.zeros(num, 1 if whole_words else block_size, dtype=torch.long)  # boundary (id 0)
    out = torch.zeros(num, max_len, dtype=torch.long)
    done = torch.zeros(num, dtype=torch.bool)
    lengths = torch.full((num,), max_len)
    for t in range(max_len + 1):
        logits, _ = model(context)
        # (num, V) or (num, T, V): the prediction after the last character, for either layout
        logits = logits.reshape(num, -1, logits.shape[-1])[:, -1] / temperature
        if top_k is not None and 0 < top_k < logits.shape[-1]:
            top = torch.topk(logits, top_k, dim=-1)  # exactly k, even when values tie
            logits = torch.full_like(logits, float("-inf")).scatter(-1, top.indices, top.values)
        probs = torch.softmax(logits, dim=-1)
        ix = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        ended = (ix == 0) & ~done
        lengths[ended] = t
        done |= ended
        if done.all() or t == max_len:
            break
        out[:, t] = ix
        context = torch.cat([context[:, int(not whole_words):], ix[:, None]], dim=1)[:, -block_size:]
    model.train(was_training)
    train_set = set(train_words)
    words = [vocab.decode(out[i, : lengths[i]]) for i in range(num)]
    return [Sample(w, w in train_set) for w in words]
