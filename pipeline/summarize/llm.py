"""A small client for OpenAI-compatible chat endpoints (vLLM, llama.cpp server, Ollama, hosted APIs).

Only the standard library (``urllib``): ``POST {url}/chat/completions`` with ``model``, ``messages``,
``max_tokens``, ``temperature`` (0, so an answer is reproducible) and ``seed``. The API key, when one is
needed, comes from the environment (``[summaries] api_key_env``), never from the project's files.

* Answers are cached on disk by a hash of the request (model, messages, parameters; not the URL or the
  key), so a re-run costs nothing and is identical.
* Connection errors, timeouts, HTTP 429 and 5xx are retried ``retries`` times with exponential backoff;
  then :class:`pipeline.errors.StageError` says the endpoint is down and what to do. Other HTTP errors
  (a wrong model name, a bad key) fail at once with the server's message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pipeline.errors import StageError

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ChatClient:
    """``ChatClient(url, model).complete(messages) -> str`` against an OpenAI-compatible endpoint.

    ``url`` is the API base, e.g. ``http://127.0.0.1:8080/v1`` (llama.cpp server, vLLM) or
    ``http://127.0.0.1:11434/v1`` (Ollama)."""

    def __init__(self, url: str, model: str, *, api_key: str | None = None, timeout: float = 120.0,
                 retries: int = 3, backoff: float = 1.0, cache_dir: Path | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise StageError(f"LLM endpoint {url!r} is not an http(s) URL",
                             hint="set [summaries] url, e.g. http://127.0.0.1:8080/v1")
        self.url = url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.requests = 0  # requests sent (cache hits are not counted)

    # -- cache ----------------------------------------------------------------------------------
    def _key(self, payload: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        return self.cache_dir / key[:2] / f"{key}.json" if self.cache_dir is not None else None

    def _cached(self, key: str) -> str | None:
        path = self._cache_path(key)
        if path is None or not path.exists():
            return None
        try:
            return str(json.loads(path.read_text("utf-8"))["content"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged cache entry is simply asked again

    def _store(self, key: str, content: str) -> None:
        path = self._cache_path(key)
        if path is not None:
            from pipeline.files import atomic_write

            atomic_write(path, json.dumps({"model": self.model, "content": content}, ensure_ascii=False))

    # -- requests -------------------------------------------------------------------------------
    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 400, temperature: float = 0.0,
                 seed: int = 0) -> str:
        """The assistant's answer to ``messages`` (cached by input hash)."""
        payload = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                   "temperature": temperature, "seed": seed, "stream": False}
        key = self._key(payload)
        hit = self._cached(key)
        if hit is not None:
            log.debug("LLM cache hit %s", key[:12])
            return hit
        data = self._post("/chat/completions", payload)
        try:
            content = data["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise StageError(f"LLM endpoint {self.url} answered without choices[0].message "
                             f"({json.dumps(data)[:200]})", hint="is it an OpenAI-compatible /v1 endpoint?") from None
        self._store(key, content)
        return content

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        attempts = self.retries + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                delay = min(30.0, self.backoff * 2 ** (attempt - 1))
                log.info("LLM endpoint %s: %s; retrying in %.1f s (%d/%d)", self.url, last, delay, attempt,
                         self.retries)
                time.sleep(delay)
            req = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
            self.requests += 1
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as exc:
                detail = _error_text(exc)
                if exc.code in _RETRY_STATUS:
                    last = f"HTTP {exc.code} {detail}"
                    continue
                raise StageError(f"LLM endpoint {self.url} refused the request: HTTP {exc.code} {detail}",
                                 hint=f"check [summaries] model ({self.model!r}) and the API key") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
                continue
            try:
                return json.loads(raw)
            except ValueError:
                raise StageError(f"LLM endpoint {self.url} did not answer JSON ({raw[:120]!r})",
                                 hint="is [summaries] url the /v1 base of an OpenAI-compatible server?") from None
        raise StageError(f"LLM endpoint {self.url} is not reachable after {attempts} attempt(s) ({last})",
                         hint="start the server, fix [summaries] url in recap.toml, or use --backend extractive")


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the status code is what matters; the body is a courtesy
        text = ""
    try:
        data = json.loads(text)
        err = data.get("error", data)
        text = err.get("message", text) if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError):
        pass
    return " ".join(text.split())[:200]
