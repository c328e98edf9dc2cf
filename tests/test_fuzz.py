"""Fuzzing the importers: real inputs cut, spliced, re-encoded and garbled must never crash recap.

Every importer is driven end to end through the CLI (``import-transcript``, ``import-notes``,
``papers import``) on a fresh project. Seeds are the real files in ``../shared/seeds`` (sliced so an
example stays fast) plus the other formats written by recap's own exporters. Mutations: cuts,
splices of two seeds, deleted/duplicated ranges, odd Unicode (bidi overrides, BOMs, zero-width,
combining marks, U+2028, lone surrogates in JSON escapes), CR and CRLF line ends, NULs and random
bytes, huge lines and regex traps, changed digits; then the text is re-encoded (UTF-8, UTF-8 with
BOM, UTF-16, latin-1, cp1252).

The property: the command either succeeds and leaves only valid files in content/ (every TOML and
JSON parses, the episode loads), or fails with exit code 1 and one ``Error: <file>: <problem>`` line
naming the file, with content/ unchanged. Never a traceback.

Budget: the ``ci`` hypothesis profile (tests/conftest.py) keeps this file well under a minute;
``make fuzz`` runs the ``long`` profile.
"""

from __future__ import annotations

import json
import tempfile
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.config import init_project
from pipeline.export import to_json, to_srt, to_vtt
from pipeline.models import Episode
from pipeline.sources.transcripts import read_transcript
from tests.conftest import content_snapshot

# -- seeds ------------------------------------------------------------------------------------------


def _lines(path: Path, start: int, stop: int) -> str:
    return "\n".join(path.read_text("utf-8").split("\n")[start:stop]) + "\n"


MARKDOWN_NOTES = """# Episode 7: Hallway track

Our favourite posters of the day, with the authors.

## Chapters
- 00:00 Intro
- 02:30 Voyager poster session (Guanzhi Wang)
- 12:30 [QLoRA](https://arxiv.org/abs/2305.14314): a chat with the authors (Tim Dettmers)
- 1:02:03 Wrap-up

## Papers covered
* **Voyager: An Open-Ended Embodied Agent with Large Language Models** (Guanzhi Wang et al.)
* **QLoRA: Efficient Finetuning of Quantized LLMs** (Tim Dettmers et al.)

Thanks for listening. See [our site](https://example.org/) for more.
"""

BIBTEX = r"""@article{dettmers2023qlora,
  title={{QLoRA}: Efficient Finetuning of Quantized {LLMs}},
  author={Dettmers, Tim and Pagnoni, Artidoro and Holtzman, Ari and Zettlemoyer, Luke},
  journal={arXiv preprint arXiv:2305.14314},
  year={2023}, month=may
}
@inproceedings{rafailov2023dpo,
  title = {Direct Preference Optimization: Your Language Model is Secretly a Reward Model},
  author = {Rafael Rafailov and Archit Sharma},
  booktitle = {NeurIPS}, year = 2023, eprint = {2305.18290}
}
"""

PAPERS_JSON = json.dumps({"papers": [
    {"title": "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", "arxiv": "2312.00752",
     "authors": ["Albert Gu", "Tri Dao"], "aliases": ["Mamba"], "notes": ["state space models"]},
    {"title": "Visual Instruction Tuning", "url": "https://arxiv.org/abs/2304.08485", "aliases": ["LLaVA"]},
]}, indent=1)

PAPERS_YAML = """- title: Voyager
  authors: Guanzhi Wang, Yuqi Xie
  url: https://arxiv.org/abs/2305.16291
- title: "Toolformer: Language Models Can Teach Themselves to Use Tools"
  arxiv: "2302.04761"
  date: 2023-02-09
"""


def _seed_sets(seeds_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """(file suffix, text) seeds per importer."""
    whisper = _lines(seeds_dir / "neurips-2023-recap.transcript.txt", 0, 60)
    tmp = Path(tempfile.mkdtemp(prefix="recap-fuzz-seed-"))
    (tmp / "t.txt").write_text(whisper, "utf-8")
    ep = Episode(slug="seed", title="Seed", transcript=read_transcript(tmp / "t.txt"))
    listing = _lines(seeds_dir / "paper-listing.txt", 0, 13)  # six entries
    return {
        "transcript": [(".txt", whisper), (".srt", to_srt(ep)), (".vtt", to_vtt(ep)), (".json", to_json(ep)),
                       (".json", json.dumps({"segments": [
                           {"start": 0.0, "end": 2.5, "text": " Hello there.", "speaker": "SPEAKER_00",
                            "words": [{"word": " Hello", "start": 0.0, "end": 0.9, "probability": 0.9},
                                      {"word": " there.", "start": 1.0, "end": 2.5, "probability": 0.8}]},
                           {"start": 2.5, "end": 4.0, "text": " Hi!", "speaker": "SPEAKER_01"}]}))],
        "notes": [(".txt", (seeds_dir / "neurips-2023-recap.shownotes-dev.txt").read_text("utf-8")),
                  (".md", MARKDOWN_NOTES)],
        "papers": [(".txt", listing),
                   (".txt", (seeds_dir / "research-highlights-blog.txt").read_text("utf-8")),
                   (".txt", (seeds_dir / "neurips-2023-day5-notes.txt").read_text("utf-8")),
                   (".bib", BIBTEX), (".json", PAPERS_JSON), (".yaml", PAPERS_YAML)],
    }


@pytest.fixture(scope="module")
def seed_sets(seeds):
    return _seed_sets(seeds)


# -- mutations --------------------------------------------------------------------------------------

ODD = ["\u202e", "\u202d", "\ufeff", "\u200b", "\u200d", "\u2028", "\u2029", "\x85", "\x0b", "\x0c",
       "e\u0301\u0301\u0301", "\U0001f600", "\uff11\uff12:\uff13\uff14", "\u0663:\u0664\u0665", "\ufffd",
       "\\ud800", "\\u0000", "\t", "\x1b[31m", "\u00a0", "İ", "ß", "ﬀ", "\u0000", "\x7f",
       "[00:00:00.000 --> ", "-->", "WEBVTT", "Summary:", "@article{", "{", "[", "]", "- ", "*", "(", ")",
       "2024-05-02 16:18:21", "99:99:99.999", "-1", "1e309", "NaN", "Infinity", "null", "true"]

HUGE = ["x" * 200_000, "(" * 30_000, "[" * 30_000, "- " * 40_000, "a " * 60_000,
        "[00:00:00.000 --> " * 4_000, "Summary:" * 10_000, "0:" * 30_000, "A. " * 30_000]

ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"]


@st.composite
def mutated(draw, seeds: list[tuple[str, str]]) -> tuple[str, bytes]:
    suffix, text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["cut", "splice", "delete", "dup", "odd", "text", "eol", "huge", "digit"]))
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, n))
        if op == "cut":
            text = text[i:j]
        elif op == "splice":
            other = draw(st.sampled_from(seeds))[1]
            k = draw(st.integers(0, len(other)))
            text = text[:i] + other[k:]
        elif op == "delete":
            text = text[:i] + text[j:]
        elif op == "dup":
            text = text[:j] + text[i:j] * draw(st.integers(1, 50)) + text[j:]
        elif op == "odd":
            text = text[:i] + draw(st.sampled_from(ODD)) + text[i:]
        elif op == "text":
            text = text[:i] + draw(st.text(max_size=40)) + text[j:]
        elif op == "eol":
            text = text.replace("\n", draw(st.sampled_from(["\r\n", "\r", "\n\n", "\u2028", " "])))
        elif op == "huge":
            text = text[:i] + draw(st.sampled_from(HUGE)) + text[i:]
        elif op == "digit":
            digits = [k for k, c in enumerate(text) if c.isdigit()]
            if digits:
                k = draw(st.sampled_from(digits))
                text = text[:k] + draw(st.sampled_from("0123456789")) + text[k + 1:]
    data = text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    if draw(st.integers(0, 9)) == 0:  # raw bytes: NULs, invalid UTF-8, a truncated multi-byte char
        k = draw(st.integers(0, len(data)))
        data = data[:k] + draw(st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x80" * 3]))
        data += text.encode("utf-8", errors="replace")[k:]
    return suffix, data


# -- the property ----------------------------------------------------------------------------------


def check_content_valid(content: Path) -> None:
    """Every TOML/JSON file under content/ parses; no temporary file is left beside them."""
    for p in content.rglob("*"):
        if not p.is_file():
            continue
        assert not p.name.endswith(".tmp"), f"leftover temporary file {p}"
        raw = p.read_bytes()
        if p.suffix == ".toml":
            tomllib.loads(raw.decode("utf-8"))
        elif p.suffix == ".json":
            json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
        elif p.suffix == ".md":
            raw.decode("utf-8")


def _no_constants(name: str):
    raise AssertionError(f"non-standard JSON constant {name} written")


def run_import(command: list[str], suffix: str, data: bytes) -> None:
    """Run one import on a fresh project and check the property (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="recap-fuzz-") as tmp:
        root = Path(tmp) / "proj"
        init_project(root, title="Fuzz")
        src = Path(tmp) / f"input{suffix}"
        src.write_bytes(data)
        before = content_snapshot(root / "content")
        args = [str(src) if a == "{}" else a for a in command]
        result = CliRunner().invoke(main, ["-C", str(root), *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            tb = "".join(traceback.format_exception(result.exception))
            pytest.fail(f"{' '.join(command)} crashed on {data[:200]!r}...:\n{tb}")
        if result.exit_code == 0:
            check_content_valid(root / "content")
            listed = CliRunner().invoke(main, ["-C", str(root), "list"])
            assert listed.exit_code == 0, f"content written by {command} does not load: {listed.output}"
            return
        assert result.exit_code == 1, result.output
        errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1, result.output
        assert "input" in errors[0], f"error does not name the file: {errors[0]}"
        assert content_snapshot(root / "content") == before, f"content/ changed by a failed import: {errors[0]}"


TRANSCRIPT_EXAMPLES = [(".json", b'{"segments": [{"start": NaN, "end": 1, "text": "x"}]}'),
                       (".json", b'{"segments": [{"start": 0, "end": 1, "text": "\\ud800 lone"}]}'),
                       (".json", b'[{"start": 0, "end": 1e309, "text": "x"}]'),
                       (".json", b'[{"start": 0, "end": 100000000000000000000000000000000000000000000000000'
                                 b'00000000000000000000000000000000000000000000000000000000000000000000000000000'
                                 b'00000000000000000000000000000000000000000000000000000000000000000000000000000'
                                 b'000000000000000000000000000000000000000000000000000000000000000000000000000000'
                                 b'0000000000000000000000000000000000000000000000000000000000000000, "text": "x"}]'),
                       (".json", b'{"utterances": [{"start": 0, "end": 1e309, "text": "x"}]}'),
                       (".json", b"[" * 100_000 + b"]" * 100_000),
                       (".vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\n<v \xe2\x80\xae>hi\n"),
                       (".txt", b"[00:00:00.000 --> 00:00:01.000]   " + b"x" * 300_000 + b"\n")]


@given(case=st.data())
def test_fuzz_import_transcript(seed_sets, case):
    suffix, data = case.draw(mutated(seed_sets["transcript"]))
    run_import(["import-transcript", "{}", "--episode", "ep"], suffix, data)


@pytest.mark.parametrize("suffix,data", TRANSCRIPT_EXAMPLES)
def test_transcript_edge_cases(suffix, data):
    run_import(["import-transcript", "{}", "--episode", "ep"], suffix, data)


@given(case=st.data())
def test_fuzz_import_notes(seed_sets, case):
    suffix, data = case.draw(mutated(seed_sets["notes"]))
    run_import(["import-notes", "{}", "--episode", "ep"], suffix, data)


@given(case=st.data())
def test_fuzz_papers_import(seed_sets, case):
    suffix, data = case.draw(mutated(seed_sets["papers"]))
    run_import(["papers", "import", "{}"], suffix, data)


PAPER_EXAMPLES = [(".json", b'[{"title": "\\ud800"}]'), (".json", b'[{"title": "x", "date": NaN}]'),
                  (".json", b'[{"title": "x", "id": "../../etc/passwd"}]'),
                  (".yaml", b"- title: !!python/object/apply:os.system ['true']\n"),
                  (".yaml", b"- title: [1, 2]\n"), (".yaml", b"- title: 2023-01-01\n"),
                  (".bib", b"@article{x, title={" + b"{" * 5000 + b"}\n"),
                  (".json", b'{"papers": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
                  (".yaml", b"- title: " + b"[" * 2_000 + b"]" * 2_000 + b"\n"),
                  (".yaml", b'- title: "\\ud800"\n'), (".yaml", b"- title: x\n  date: .nan\n"),
                  (".yaml", b"- &a [*a]\n"), (".yaml", b"- title: x\n  authors: [1, 2.5, null]\n")]


@pytest.mark.parametrize("suffix,data", PAPER_EXAMPLES)
def test_papers_edge_cases(suffix, data):
    run_import(["papers", "import", "{}"], suffix, data)
