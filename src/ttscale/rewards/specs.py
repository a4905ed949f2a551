"""Classifier PRMs as data: one frozen :class:`PRMSpec` per model (DESIGN.md "Reward models").

A spec says how a (question, steps) pair becomes the model's input and where and how each step's
reward is read. The recipes are those of compute-optimal-tts (reference/tts-frameworks.md §2.6);
:mod:`ttscale.rewards.rendering` turns a spec into text and token ids, and
:class:`ttscale.rewards.classifier.ClassifierPRM` runs it. Chat templates are embedded (pinned),
so rendering does not depend on a downloaded tokenizer or on today's date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ttscale.errors import ConfigError
from ttscale.mini.tokenizer import CHAT_TEMPLATE as MINI_CHAT_TEMPLATE

Template = Literal["plain", "chat", "chat_multiturn"]
Head = Literal["token_pair", "two_class", "value_head"]
AutoClass = Literal["AutoModelForCausalLM", "AutoModel", "AutoModelForTokenClassification"]
Bos = Literal["none", "in_text", "by_tokenizer"]


@dataclass(frozen=True)
class PRMSpec:
    """How one classifier PRM is prompted and read (see the module docstring)."""

    name: str
    model: str
    """Default weights: a Hub id, or a shipped miniature model name (``mini-prm``)."""
    template: Template
    """"plain": ``question + question_joiner + steps`` as raw text; "chat": system (optional),
    user = question, one assistant turn holding every step; "chat_multiturn": user = step k
    (the first prefixed with the question), assistant = the marker, once per step."""
    marker: str
    """The token inserted after each step; its position locates the step's reward."""
    head: Head
    """"token_pair": softmax over the LM logits of ``compare_tokens``; "two_class": softmax of a
    2-label token-classification head; "value_head": sigmoid(Linear(hidden -> 1))."""
    chat_template: str = ""
    """Jinja chat template for the chat kinds (rendered as transformers does)."""
    system_prompt: str | None = None
    question_joiner: str = " "
    """Between the question and the (first) step, for "plain" and "chat_multiturn"."""
    step_template: str = "{step}{marker}"
    """One step with its marker, for "plain" and "chat"."""
    step_joiner: str = ""
    """Between rendered steps, for "plain" and "chat"."""
    strip_steps: bool = True
    """compute-optimal-tts strips every step before rendering (§2.6)."""
    newlines_to_spaces: bool = False
    """Replace newlines inside a step by spaces (Skywork: a newline is its step separator)."""
    bos: Bos = "none"
    """For "plain": prepend the tokenizer's BOS text ("in_text") or let the tokenizer add its
    special tokens ("by_tokenizer"). Chat templates place ``bos_token`` themselves."""
    marker_replacement: str | None = None
    """The token id written over each marker after tokenisation (RLHFlow: the assistant's "+",
    Skywork: "\\n"), so the model sees its training input while we keep exact positions."""
    read_offset: Literal[0, -1] = 0
    """Read at marker + offset: -1 when the marker is the token to be *predicted* (RLHFlow)."""
    compare_tokens: tuple[str, ...] = ()
    """For "token_pair": the two tokens whose logits are compared."""
    positive_index: int = 0
    """Which of the two (compare tokens or class labels) is the "step is correct" one."""
    pinned_ids: tuple[tuple[str, int], ...] = ()
    """(token, id) pairs the reference code hard-codes; used instead of ``encode(token)[-1]``,
    whose result depends on the tokenizer's prefix-space handling, and checked to decode to the
    token (a different tokenizer is then refused rather than read at the wrong ids)."""
    auto_class: AutoClass = "AutoModelForCausalLM"
    trust_remote_code: bool = False
    surprise: bool = False
    """Add weight x (the step's least token log-probability) + bias to the Yes/No logit
    difference (:mod:`ttscale.rewards.surprise`; the two scalars live in the model folder's
    ``prm_head.json``). Needs a "token_pair" head and each step right before its marker."""

    def __post_init__(self) -> None:
        if self.surprise and (
            self.head != "token_pair"
            or self.template == "chat_multiturn"
            or not self.step_template.endswith("{step}{marker}")
        ):
            raise ConfigError(
                f"prm spec {self.name!r}: surprise needs head 'token_pair', a 'plain' or 'chat' "
                "template and a step_template ending in '{step}{marker}'"
            )
        if self.template != "plain" and not self.chat_template:
            raise ConfigError(
                f"prm spec {self.name!r}: template={self.template!r} needs a chat_template"
            )
        if self.head == "token_pair" and len(self.compare_tokens) != 2:
            raise ConfigError(
                f"prm spec {self.name!r}: head 'token_pair' needs two "
                f"compare_tokens, got {self.compare_tokens!r}"
            )
        if self.head != "value_head" and self.positive_index not in (0, 1):
            raise ConfigError(
                f"prm spec {self.name!r}: positive_index={self.positive_index} must be 0 or 1"
            )
        if self.read_offset not in (0, -1):
            raise ConfigError(
                f"prm spec {self.name!r}: read_offset={self.read_offset} must be 0 or -1"
            )


# Llama-3.1-8B-Instruct's chat_template (tokenizer_config.json, July 2024; RLHFlow's PRMs are
# fine-tuned from it), cut to the branches a PRM input reaches: no tools, no ipython turns.
# The pinned default date is why it is embedded: Llama-3.2-style templates use strftime_now,
# which would change the PRM's input every day. Each message is trimmed (`| trim`).
LLAMA31_CHAT_TEMPLATE = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}

{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""  # noqa: E501

# Qwen2.5-Math's chat_template (tokenizer_config.json of Qwen/Qwen2.5-Math-*-Instruct and the
# PRM), the no-tools branch. The PRM model card always passes the system message, so the default
# system line never renders; message content is not trimmed.
QWEN25_MATH_CHAT_TEMPLATE = """{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
{%- else %}
    {{- '<|im_start|>system\\nPlease reason step by step, and put your final answer within \\\\boxed{}.<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""  # noqa: E501

QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."

# peiyi9979/math-shepherd-mistral-7b-prm: "{question} {answer}", answer = "step ки\n" per step;
# P(+) over {+, -} at each ки. The ids are pinned as the reference code pins them (12902 and
# encode("+ -")[1:] = [648, 387], i.e. "▁+" and "▁-"; §2.6, search-and-learn's STEP_TAG_ID and
# CANDIDATE_TOKENS). The tokenizer adds <s>, as in `tokenizer(x)`.
MATH_SHEPHERD = PRMSpec(
    name="math-shepherd",
    model="peiyi9979/math-shepherd-mistral-7b-prm",
    template="plain",
    marker="ки",
    head="token_pair",
    question_joiner=" ",
    step_template="{step} {marker}\n",
    bos="by_tokenizer",
    compare_tokens=("+", "-"),
    pinned_ids=(("ки", 12902), ("+", 648), ("-", 387)),
)


def _rlhflow(name: str, data: str) -> PRMSpec:
    # RLHFlow/RLHF-Reward-Modeling math/README.md: one user turn per step (the first prefixed
    # with the question and a space), each answered by an assistant "+"; P(+) is read where "+"
    # is predicted. compute-optimal-tts puts <|reserved_special_token_0|> (128002) in the
    # assistant turns and overwrites it with "+", so positions are exact whatever the text holds.
    return PRMSpec(
        name=name,
        model=f"RLHFlow/Llama3.1-8B-PRM-{data}-Data",
        template="chat_multiturn",
        marker="<|reserved_special_token_0|>",
        head="token_pair",
        chat_template=LLAMA31_CHAT_TEMPLATE,
        question_joiner=" ",
        marker_replacement="+",
        read_offset=-1,
        compare_tokens=("+", "-"),
    )


RLHFLOW_MISTRAL = _rlhflow("rlhflow-mistral", "Mistral")
RLHFLOW_DEEPSEEK = _rlhflow("rlhflow-deepseek", "Deepseek")


def _skywork(name: str, size: str) -> PRMSpec:
    # SkyworkAI/skywork-o1-prm-inference prepare_input: bos + question + "\n", then each step
    # tokenised on its own and followed by the "\n" id; reward = sigmoid(v_head(h)) there.
    # compute-optimal-tts renders the separator as <|vision_start|> (151652) and swaps in the
    # "\n" id after tokenising, so BPE cannot merge "\n" with the step's last characters.
    return PRMSpec(
        name=name,
        model=f"Skywork/Skywork-o1-Open-PRM-Qwen-2.5-{size}",
        template="plain",
        marker="<|vision_start|>",
        head="value_head",
        question_joiner="\n",
        newlines_to_spaces=True,
        bos="in_text",
        marker_replacement="\n",
        auto_class="AutoModel",
    )


SKYWORK_1_5B = _skywork("skywork-1.5b", "1.5B")
SKYWORK_7B = _skywork("skywork-7b", "7B")


def _qwen_prm(name: str, size: str) -> PRMSpec:
    # Qwen/Qwen2.5-Math-PRM-7B model card: system = QWEN_MATH_SYSTEM, user = query, assistant =
    # "<extra_0>".join(steps) + "<extra_0>"; softmax(logits)[..., 1] at <extra_0> (151651).
    # Loaded with AutoModel(trust_remote_code=True); its output[0] is the 2-label logits.
    return PRMSpec(
        name=name,
        model=f"Qwen/Qwen2.5-Math-PRM-{size}",
        template="chat",
        marker="<extra_0>",
        head="two_class",
        chat_template=QWEN25_MATH_CHAT_TEMPLATE,
        system_prompt=QWEN_MATH_SYSTEM,
        positive_index=1,
        auto_class="AutoModel",
        trust_remote_code=True,
    )


QWEN_PRM_7B = _qwen_prm("qwen2.5-math-prm-7b", "7B")
QWEN_PRM_72B = _qwen_prm("qwen2.5-math-prm-72b", "72B")

# The miniature PRM (src/ttscale/mini/models/mini-prm, trained by ttscale; this is its training
# contract, shared with the trainer through ttscale.rewards.rendering.render): ChatML, user =
# question, assistant = the steps as the policy writes them ("step1\n\nstep2\n"): the marker
# <|step|> is written over each step's first "\n" (the tokenizer splits "\n\n" into two), so
# the model reads exactly its pre-training text. The reward is sigmoid of the Yes - No LM logits
# at that "\n" plus the surprise term of ttscale.rewards.surprise (the step's least token
# log-probability, weighted, plus a bias): a marker head alone did not learn to verify, and an
# unseen marker token made the policy's log-probabilities of the next step meaningless (README).
MINI_PRM = PRMSpec(
    name="mini-prm",
    model="mini-prm",
    template="chat",
    marker="<|step|>",
    head="token_pair",
    chat_template=MINI_CHAT_TEMPLATE,
    step_joiner="\n",
    strip_steps=False,
    marker_replacement="\n",
    compare_tokens=("Yes", "No"),
    surprise=True,
)

SPECS: dict[str, PRMSpec] = {
    spec.name: spec
    for spec in (
        MINI_PRM,
        MATH_SHEPHERD,
        RLHFLOW_MISTRAL,
        RLHFLOW_DEEPSEEK,
        SKYWORK_1_5B,
        SKYWORK_7B,
        QWEN_PRM_7B,
        QWEN_PRM_72B,
    )
}
