"""A tiny Llama-3-shaped model built offline (no hub): exercises the real loading and generation paths."""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eot_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>", "<|eom_id|>"]
# Llama-3-style, including tools and tool calls, so both prompt formats render through it.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if tools %}<|start_header_id|>system<|end_header_id|>\n\nTools: {{ tools | tojson }}<|eot_id|>{% endif %}"
    "{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] or '' }}{% if message.get('tool_calls') %}{{ message['tool_calls'] | tojson }}{% endif %}"
    "<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
CORPUS = [
    "User: I need a cheap hotel in the north. System: I found two guesthouses.",
    "Thought: the user wants a train. Action: FindTrain(departure='cambridge', destination='ely', day='monday')",
    "Observation: {'count': 3, 'results': [{'trainid': 'TR7075', 'leaveat': '05:00'}]}",
    "System: Your booking is confirmed, reference K2BO09VQ. Anything else?",
    "BookHotel(name='acorn guest house', day='friday', people=2, stay=3) BookTaxi BookRestaurant FindAttraction",
    "The centre has many colleges and museums; the restaurant serves italian food at a moderate price.",
] * 20


def build_tiny_model(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=600, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|begin_of_text|>",
                                   eos_token="<|eot_id|>", pad_token="<|finetune_right_pad_id|>")
    fast.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
                         bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                         pad_token_id=fast.pad_token_id, tie_word_embeddings=True,
                         initializer_range=0.5)  # wide weights: varied noise rather than one repeated token
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
