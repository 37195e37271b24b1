"""Fine-tuning MiniLM for the reader: the packaged all-MiniLM-L6-v2, trained a little further so
that its unit vectors separate the reader's sentence labels (a linear multi-label head on top,
dropped afterwards). The reader's classifiers then read these vectors; retrieval keeps the
packaged model.

Deterministic on a given CPU: a fixed seed, fixed batch order and two threads (the thread
count changes the order of floating-point sums)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

EPOCHS = 2
LEARNING_RATE = 3e-5
BATCH = 16
SEED = 0
THREADS = 2
HEAD_SCALE = 10.0  # the head reads unit vectors: scaled so that its logits can reach +-10
MAX_POSITIVE_WEIGHT = 10.0  # a rare label's positives weigh at most ten times its negatives
STAMP = "coach-encoder.json"


def settings() -> dict[str, float | int]:
    return {"epochs": EPOCHS, "learning_rate": LEARNING_RATE, "batch": BATCH, "seed": SEED,
            "threads": THREADS, "head_scale": HEAD_SCALE}


def fine_tune(base: Path, texts: Sequence[str], targets: np.ndarray, out: Path,
              stamp: dict) -> None:
    """Fine-tune the sentence-transformers model at ``base`` on ``texts`` with 0/1 ``targets``
    (one column per label), and save it to ``out`` with ``stamp`` (what it was made from)."""
    import torch
    from sentence_transformers import SentenceTransformer

    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        torch.manual_seed(SEED)
        model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
        tokenizer, bert = model.tokenizer, model[0].auto_model
        y = torch.tensor(np.asarray(targets, dtype=np.float32))
        head = torch.nn.Linear(bert.config.hidden_size, y.shape[1])
        positives = y.sum(0)
        weight = ((len(y) - positives) / positives.clamp(min=1)).clamp(max=MAX_POSITIVE_WEIGHT)
        loss_of = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
        optimiser = torch.optim.AdamW(list(bert.parameters()) + list(head.parameters()),
                                      lr=LEARNING_RATE, weight_decay=0.01)
        order = torch.Generator().manual_seed(SEED)
        texts = list(texts)
        bert.train()
        for _ in range(EPOCHS):
            batches = torch.randperm(len(texts), generator=order).tolist()
            for start in range(0, len(batches), BATCH):
                rows = batches[start:start + BATCH]
                tokens = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                   max_length=128, return_tensors="pt")
                hidden = bert(**tokens).last_hidden_state
                mask = tokens["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1)
                logits = head(torch.nn.functional.normalize(pooled, dim=1) * HEAD_SCALE)
                loss = loss_of(logits, y[rows])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        bert.eval()
        building = out.with_name(out.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        model.save(str(building))
        (building / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True))
        shutil.rmtree(out, ignore_errors=True)
        building.rename(out)  # a half-written model is never where the reader looks
    finally:
        torch.set_num_threads(threads)


def read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / STAMP).read_text())
    except (OSError, ValueError):
        return None
