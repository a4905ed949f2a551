"""The miniature world's tokenizer: byte-level BPE with a chat template.

Digits are split one per token before BPE (as Llama-3 and Qwen2.5 do) so the tiny models can
learn column arithmetic; ``Yes`` and ``No`` are single tokens because GenPRM's reward is read
from them (reference/genprm.md §3.5); ``<|step|>`` is the classifier PRM's step marker.
"""

from __future__ import annotations

from pathlib import Path

from ttscale.mini import task

PAD, EOS, IM_START, STEP = "<|endoftext|>", "<|im_end|>", "<|im_start|>", "<|step|>"
SPECIAL_TOKENS = (PAD, IM_START, EOS, STEP)
VOCAB_SIZE = 640

# Qwen2.5-style ChatML; the mini models are trained on exactly this rendering.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Text the later miniature verifiers write (GenPRM rationales with Python checks), so the
# shared vocabulary covers it too; exact prefixes from reference/genprm.md §3.3.
_VERIFIER_TEXT = """user
assistant
system
user
assistant
system
You are a math teacher. Your task is to review and critique the paragraphs in solution step by step.
Question: <analyze>
Let's analyze the Paragraph 1 step by step: the paragraph computes the value. It is correct.
It is incorrect. The previous result is used. The operation matches the problem.
</analyze>
<verify>
Let's use python code to find any potential error:
```python
result = 23 + 15
print(result == 38)
print(result)
```
[Code Output]

```
True
False
Code format error: No code found.
Code execute time out: Code execution timed out
Code execute Error: NameError: name 'x' is not defined
```
The code confirms the calculation.
</verify>
<output>
**Judgement**: $\\boxed{Yes}$
</output>
<output>
**Judgement**: $\\boxed{No}$
</output>
Yes No Yes No + - Please reason step by step, and put your final answer within \\boxed{}.
"""


# The level specs and seed order the shipped vocabulary was trained on (task v1). Pinned here so
# rebuilding gives the shipped tokenizer even as the task's levels are tuned: the vocabulary only
# has to cover the words and digits, and every shipped model depends on its ids.
_CORPUS_LEVELS: dict[int, task.LevelSpec] = {
    1: task.LevelSpec(2, (2, 30), (1, 9), (2, 2), ("+", "-")),
    2: task.LevelSpec(3, (10, 99), (2, 30), (2, 3), ("+", "-", "*")),
    3: task.LevelSpec(4, (10, 199), (2, 99), (2, 5), ("+", "-", "*", "/")),
    4: task.LevelSpec(5, (20, 499), (10, 199), (2, 9), ("+", "-", "*", "/")),
    5: task.LevelSpec(6, (100, 999), (10, 499), (2, 9), ("+", "-", "*", "/")),
}


def _corpus_problems(count: int) -> list[task.MiniProblem]:
    levels = _CORPUS_LEVELS
    test = {
        task.generate(lv, s, split="test", levels=levels).text for lv in levels for s in range(100)
    }
    out: list[task.MiniProblem] = []
    seed = 0
    while len(out) < count:
        p = task.generate(seed % 5 + 1, seed // 5, split="train", levels=levels)
        if p.text not in test:
            out.append(p)
        seed += 1
    return out


def _corpus(num_problems: int) -> list[str]:
    texts = [_VERIFIER_TEXT] * 50
    for p in _corpus_problems(num_problems):
        texts.append(p.text)
        texts.append(p.solution())
    return texts


def build_tokenizer(out_dir: Path | None = None, *, num_problems: int = 4000):  # type: ignore[no-untyped-def]
    """Train the byte-level BPE on generated problems and verifier text; save it if asked."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(num_problems), trainer=trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START, STEP],
    )
    hf.chat_template = CHAT_TEMPLATE
    for word in ("Yes", "No"):
        if len(hf.encode(word, add_special_tokens=False)) != 1:
            raise RuntimeError(f"mini tokenizer: {word!r} is not a single token")
    if out_dir is not None:
        hf.save_pretrained(str(out_dir))
    return hf
