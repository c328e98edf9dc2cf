"""What a summary run is given and what it returns: options, sentences as said, results."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import SummaryConfig
from pipeline.errors import ConfigError
from pipeline.models import Episode

BACKENDS = ("extractive", "llm")
_CONFIG = SummaryConfig()  # the defaults of what recap.toml's [summaries] sets are written there, once


@dataclass(frozen=True)
class SummaryOptions:
    """How summaries are made. Defaults are the offline extractive backend; ``[summaries]`` in
    ``recap.toml`` sets backend, url, model, api_key_env and max_words (:meth:`from_config`)."""

    backend: str = _CONFIG.backend
    """extractive (offline) | llm (OpenAI-compatible endpoint)"""
    max_words: int = _CONFIG.max_words
    """At most this many words per chapter summary."""
    max_sentences: int = 4
    """At most this many sentences per chapter summary."""
    min_sentence_words: int = 7
    """Shorter sentences (after cleaning) are fragments, not summary material."""
    max_sentence_words: int = 40
    """Longer sentences are run-ons (whisper without punctuation) and are not picked."""
    topic_weight: float = 0.5
    """Extractive: weight of closeness to the paper's title and abstract against chapter centrality."""
    contrast_weight: float = 1.0
    """Extractive: penalty for being closer to another chapter's paper than to this chapter's."""
    context_weight: float = 1.0
    """Extractive: weight of the topic closeness of the sentences around a candidate (within
    ``context_seconds``), so that picks come from the stretch that is about the paper."""
    context_seconds: float = 120.0
    diversity: float = 0.3
    """Extractive (MMR): weight of the redundancy penalty (similarity to sentences already picked)."""
    episode_sentence_words: int = 35
    """Episode summary: one sentence per chapter, at most this long."""
    # -- llm backend --
    url: str | None = _CONFIG.url
    """Base URL of the OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1"""
    model: str | None = _CONFIG.model
    """Model name the endpoint serves."""
    api_key_env: str = _CONFIG.api_key_env
    """Environment variable holding the API key (none needed for a local server)."""
    timeout: float = 120.0
    """Seconds to wait for one LLM response."""
    retries: int = 3
    """Retries of one LLM request after a connection error, timeout, HTTP 429 or 5xx (with backoff)."""
    chunk_words: int = 1500
    """LLM map step: transcript words per request; longer chapters are summarized in parts, then reduced."""
    max_tokens: int = 400
    """LLM: longest answer requested."""
    min_support: float = 0.3
    """LLM: share of a sentence's content words that must occur within ``support_window`` s of its citation."""
    support_window: float = 60.0
    fallback: bool = True
    """LLM: a chapter with no verified sentence gets the extractive summary instead of none."""

    @classmethod
    def from_config(cls, cfg: Any, **overrides: Any) -> SummaryOptions:
        """Options from a :class:`pipeline.config.SummaryConfig`, then the ``overrides`` that are not None."""
        values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name in _FIELDS}
        values.update({k: v for k, v in overrides.items() if v is not None})
        opts = cls(**values)
        opts.check()
        return opts

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"[summaries] backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.max_words < 10:
            raise ConfigError(f"[summaries] max_words must be at least 10, got {self.max_words}")
        if self.backend == "llm" and not (self.url and self.model):
            raise ConfigError("the llm summary backend needs [summaries] url and model in recap.toml "
                              "(or --url and --model), e.g. url = \"http://127.0.0.1:8080/v1\"")


_FIELDS = {f.name for f in dataclasses.fields(SummaryOptions)}


@dataclass
class SpokenSentence:
    """A sentence as said, rebuilt from transcript lines, with the time of its first and last word."""

    text: str
    start: float
    end: float
    speaker: str | None = None


@dataclass
class DroppedSentence:
    """An LLM sentence that failed verification (see :func:`verify_citations`)."""

    text: str
    reason: str
    chapter: int | None = None  # index into Episode.chapters; None for the episode summary


@dataclass
class SummaryResult:
    """What :func:`summarize_episode` did: the episode (with summaries set), dropped LLM sentences,
    chapters that fell back to the extractive backend, and the time it took."""

    episode: Episode
    dropped: list[DroppedSentence] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # person-edited summaries kept by run_summarize
    seconds: float = 0.0

    def describe(self) -> str:
        ep = self.episode
        done = sum(1 for c in ep.chapters if c.summary)
        words = sum(len(c.summary.text.split()) for c in ep.chapters if c.summary)
        lines = [f"Summarized {done}/{len(ep.chapters)} chapters of {ep.slug} ({words} words)"
                 f"{' and the episode' if ep.summary else ''} in {self.seconds:.1f} s"]
        if self.dropped:
            lines.append(f"dropped {len(self.dropped)} unverified LLM sentence(s):")
            for d in self.dropped:
                where = "episode" if d.chapter is None else f"chapter {d.chapter + 1}"
                lines.append(f"  {where}: {d.reason}: {d.text[:80]!r}")
        if self.fallbacks:
            lines.append("extractive fallback for chapter(s) " + ", ".join(str(i + 1) for i in self.fallbacks))
        return "\n".join(lines)
