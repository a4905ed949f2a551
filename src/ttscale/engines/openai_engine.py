"""LLMEngine on any OpenAI-compatible ``/v1/completions`` endpoint (vLLM, SGLang, llama.cpp).

Why /v1/completions with prompts rendered here, not /v1/chat/completions: the chat prompt is
rendered by the model's own template in this process (engines.chat: Llama date pinned, R1 system
folding, continued assistant turns with their trailing "\\n\\n"), exactly as on the transformers
and vllm engines, and sent as token ids. The server then sees the same tokens (no second BOS, no
server-side template drift), and continuing an assistant turn works on every server, including
those without ``continue_final_message``.

Reliability:
- every sample is its own streamed HTTP request (n=1, seed s + i, as vLLM seeds its children),
  so one failure costs one sample and samples spread over all base URLs;
- bounded concurrency over all base URLs; each attempt goes to the URL with the fewest requests
  in flight (load spreading; a URL that just failed is avoided on the retry);
- an attempt has a deadline (``timeout_s``) and a stall limit between streamed chunks
  (``read_timeout_s``); cancelling it closes the stream's connection, which makes the server
  abort the request, so a client-side timeout does not leave the server generating;
- connection errors, timeouts, 5xx, 408 and 429 are retried with exponential backoff and
  jitter. A failed attempt's partial text and tokens are dropped: only the attempt that
  finishes is counted, so retries never count tokens twice. An unseeded sample gets a seed drawn
  once, before its first attempt, so a retry redraws the same text.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ttscale.engines._model_files import count_parameters, eos_ids
from ttscale.engines._openai_stream import SampleStream, StreamError
from ttscale.engines._sampling import validate_request
from ttscale.engines.chat import ChatFormat, prompt_ids
from ttscale.errors import EngineError
from ttscale.types import Completion, GenerationRequest

if TYPE_CHECKING:
    from ttscale.config import EngineConfig

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 30.0


class RetryableError(Exception):
    """An attempt failed in a way that another attempt may not (network, 5xx, timeout)."""


@dataclass(frozen=True)
class _Sample:
    """One HTTP request's worth of work: sample ``sample`` of request ``request``."""

    request: int
    sample: int
    prompt_ids: tuple[int, ...]
    body: dict[str, Any]


@dataclass
class EngineStats:
    """Counters of the HTTP attempts (what retries cost; load per base URL)."""

    attempts: int = 0
    retries: int = 0
    per_url: dict[str, int] = field(default_factory=dict)


class OpenAIEngine:
    """LLMEngine on OpenAI-compatible completions servers, async inside, sync ``generate``.

    Args:
        model: the model name sent to the server (``served_model`` overrides it) and, unless
            ``tokenizer`` is given, where the local tokenizer is loaded from.
        base_urls: endpoints ending in ``/v1``; requests are spread over them.
        served_model: the ``model`` field sent; None sends ``model``.
        tokenizer: local tokenizer folder or Hub id (renders chats, counts tokens).
        chat_format: how chat messages are rendered beyond the template (engines.chat).
        api_key: sent as a Bearer token when given.
        max_concurrency: most requests in flight over all URLs.
        timeout_s: deadline of one attempt; read_timeout_s: longest gap between chunks.
        max_retries: retries per sample; backoff_s: first retry delay (doubles, jittered).
        num_parameters: for FLOPs; None reads the local model folder's safetensors (else 0).

    Raises:
        EngineError: a bad argument, no tokenizer, a request the server rejects (4xx), or a
            sample still failing after ``max_retries`` retries.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        base_urls: Sequence[str],
        served_model: str | None = None,
        tokenizer: str | Path | None = None,
        chat_format: ChatFormat | None = None,
        api_key: str | None = None,
        max_concurrency: int = 64,
        timeout_s: float = 600.0,
        read_timeout_s: float = 60.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        num_parameters: int | None = None,
    ) -> None:
        _check_args(base_urls, max_concurrency, timeout_s, read_timeout_s, max_retries)
        self._urls = tuple(u.rstrip("/") for u in base_urls)
        self._served = served_model or str(model)
        self._tokenizer = _load_tokenizer(tokenizer or model)
        self._chat_format = chat_format or ChatFormat()
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._max_concurrency = max_concurrency
        self._timeout_s, self._read_timeout_s = timeout_s, read_timeout_s
        self._max_retries, self._backoff_s = max_retries, backoff_s
        local = tokenizer or model
        self._num_parameters = (
            num_parameters if num_parameters is not None else count_parameters(local) or 0
        )
        self._eos_ids = eos_ids(self._tokenizer, local)
        self._name = Path(model).name if Path(model).is_dir() else str(model)
        self._in_flight = dict.fromkeys(self._urls, 0)
        self.stats = EngineStats()

    @classmethod
    def from_config(cls, model: str, cfg: EngineConfig) -> OpenAIEngine:
        o = cfg.openai
        return cls(
            model, base_urls=o.base_urls, served_model=o.served_model, tokenizer=o.tokenizer,
            chat_format=ChatFormat(cfg.date_string, cfg.system_in_user),
            api_key=os.environ.get(o.api_key_env) or None, max_concurrency=o.max_concurrency,
            timeout_s=o.timeout_s, read_timeout_s=o.read_timeout_s, max_retries=o.max_retries,
            backoff_s=o.backoff_s,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def num_parameters(self) -> int:
        return self._num_parameters

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        """One list of ``request.n`` completions per request, in request order."""
        for index, request in enumerate(requests):
            validate_request(request, index)
        samples = [s for i, r in enumerate(requests) for s in self._samples(r, i)]
        done = _run_coroutine(self.agenerate_samples(samples)) if samples else []
        out: list[list[Completion]] = [[] for _ in requests]
        for sample, completion in zip(samples, done, strict=True):
            out[sample.request].append(completion)
        for i, request in enumerate(requests):  # greedy: one sample stands for all n
            if request.temperature == 0:
                out[i] = out[i] * request.n
        return out

    async def agenerate_samples(self, samples: Sequence[_Sample]) -> list[Completion]:
        """Every sample's completion, at most ``max_concurrency`` requests in flight."""
        limits = httpx.Limits(max_connections=self._max_concurrency)
        timeout = httpx.Timeout(self._read_timeout_s, connect=min(self._read_timeout_s, 30.0))
        gate = asyncio.Semaphore(self._max_concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            tasks = [
                asyncio.ensure_future(self._with_retries(client, gate, sample))
                for sample in samples
            ]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                for task in tasks:  # one sample failed for good: stop the others' requests
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

    def _samples(self, request: GenerationRequest, index: int) -> list[_Sample]:
        ids = tuple(
            prompt_ids(self._tokenizer, request, index=index, chat_format=self._chat_format)
        )
        count = 1 if request.temperature == 0 else request.n
        base = request.seed if request.seed is not None else secrets.randbits(30)
        return [
            _Sample(index, j, ids, self._body(request, ids, seed=base + j)) for j in range(count)
        ]

    def _body(self, request: GenerationRequest, ids: tuple[int, ...], *, seed: int) -> dict:
        body: dict[str, Any] = {
            "model": self._served, "prompt": list(ids), "n": 1, "max_tokens": request.max_tokens,
            "temperature": request.temperature, "top_p": request.top_p, "seed": seed,
            "stop": list(request.stop), "stream": True,
            "stream_options": {"include_usage": True},
            # vLLM extensions (other servers ignore them): the vLLM-like parameters of a
            # GenerationRequest, and token ids rather than re-tokenized text.
            "include_stop_str_in_output": request.include_stop, "skip_special_tokens": True,
            "return_token_ids": True, "return_tokens_as_token_ids": True,
        }
        if request.top_k > 0:
            body["top_k"] = request.top_k
        if request.logprobs > 0:
            body["logprobs"] = request.logprobs
        return body

    async def _with_retries(
        self, client: httpx.AsyncClient, gate: asyncio.Semaphore, sample: _Sample
    ) -> Completion:
        avoid: str | None = None
        for attempt in range(self._max_retries + 1):
            if attempt:
                self.stats.retries += 1
                delay = min(self._backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            async with gate:
                url = self._pick_url(avoid)
                try:
                    return await self._attempt(client, url, sample)
                except RetryableError as e:
                    error, avoid = e, url
        raise EngineError(
            f"request {sample.request} sample {sample.sample}: failed after "
            f"{self._max_retries + 1} attempts; last error: {error}"
        )

    def _pick_url(self, avoid: str | None) -> str:
        """The URL with the fewest requests in flight, avoiding the one that just failed."""
        choices = [u for u in self._urls if u != avoid] or list(self._urls)
        least = min(self._in_flight[u] for u in choices)
        return random.choice([u for u in choices if self._in_flight[u] == least])

    async def _attempt(self, client: httpx.AsyncClient, url: str, sample: _Sample) -> Completion:
        self.stats.attempts += 1
        self.stats.per_url[url] = self.stats.per_url.get(url, 0) + 1
        self._in_flight[url] += 1
        stream = SampleStream(sample.prompt_ids, self._eos_ids, self._tokenizer)
        try:
            # wait_for cancels the stream on the deadline; leaving `client.stream` closes the
            # connection, and vLLM aborts a streamed request whose client went away.
            await asyncio.wait_for(self._stream(client, url, sample, stream), self._timeout_s)
        except (asyncio.TimeoutError, TimeoutError) as e:
            raise RetryableError(f"{url}: no completion within timeout_s={self._timeout_s}") from e
        except (StreamError, httpx.TransportError, json.JSONDecodeError) as e:
            raise RetryableError(f"{url}: {type(e).__name__}: {e}") from e
        finally:
            self._in_flight[url] -= 1
        return stream.completion(sample.request, logprobs=sample.body.get("logprobs", 0))

    async def _stream(
        self, client: httpx.AsyncClient, url: str, sample: _Sample, stream: SampleStream
    ) -> None:
        async with client.stream(
            "POST", f"{url}/completions", json=sample.body, headers=self._headers
        ) as response:
            if response.status_code != 200:
                detail = (await response.aread()).decode("utf-8", "replace")[:300]
                message = f"{url}: HTTP {response.status_code}: {detail}"
                if response.status_code in _RETRY_STATUS:
                    raise RetryableError(message)
                raise EngineError(f"request {sample.request}: the server refused it ({message})")
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    stream.feed(json.loads(payload))
        if not stream.finished:
            raise RetryableError(f"{url}: the stream ended before the sample finished")


def _check_args(
    urls: Sequence[str], concurrency: int, timeout_s: float, read_timeout_s: float, retries: int
) -> None:
    if isinstance(urls, str) or not urls:
        raise EngineError(f"base_urls={urls!r} is invalid; give a list of one or more URLs")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise EngineError(f"base_urls: {url!r} is invalid; URLs start with http(s)://")
    checks = [("max_concurrency", concurrency, concurrency >= 1, ">= 1"),
              ("timeout_s", timeout_s, timeout_s > 0, "> 0"),
              ("read_timeout_s", read_timeout_s, read_timeout_s > 0, "> 0"),
              ("max_retries", retries, retries >= 0, ">= 0")]
    for name, value, ok, allowed in checks:
        if not ok:
            raise EngineError(f"{name}={value!r} is invalid; it must be {allowed}")


def _load_tokenizer(source: str | Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(source))
    except Exception as e:
        raise EngineError(
            f"openai engine: cannot load the tokenizer {str(source)!r} ({type(e).__name__}); "
            "give engine.openai.tokenizer as a local folder or a cached Hub id"
        ) from e


def _run_coroutine(coroutine: Any) -> Any:
    """``asyncio.run``, or in a helper thread when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=target, name="ttscale-openai")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]
