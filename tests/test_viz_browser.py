"""Timeline, paper map, related papers and the quality report in a real site, built with
``build_site`` and opened in Debian's Chromium (Playwright), served on 127.0.0.1.

The episode is pyannote's real 30 s sample with its reference transcript (STM): Diane is a named
person, Sheila's diarizer label has no name yet."""

from __future__ import annotations

import shutil

import pytest

from pipeline.models import Chapter, Episode, Paper, Person, Transcript, Utterance
from tests.conftest import served, wait_js, watched_page

pytestmark = pytest.mark.slow

SLUG = "sample"
LABELS = {"Diane": "SPEAKER_00", "Sheila": "SPEAKER_01"}
TITLES = [  # a small catalog on three topics; "dpo" is discussed in the episode
    ("dpo", "Direct Preference Optimization", "Fine-tuning language models from human preferences without a reward model."),
    ("rlhf", "Training language models to follow instructions with human feedback", "Reinforcement learning from human preferences."),
    ("qlora", "QLoRA: Efficient Finetuning of Quantized LLMs", "Fine-tuning 4-bit quantized language models with low-rank adapters."),
    ("lora", "LoRA: Low-Rank Adaptation of Large Language Models", "Low-rank adapters for efficient fine-tuning."),
    ("diar", "Speaker diarization with neural embeddings", "Who spoke when, from speaker embeddings and clustering."),
    ("asr", "Robust speech recognition via large-scale weak supervision", "A speech recognition model trained on 680,000 hours."),
    ("vad", "Voice activity detection in noisy recordings", "Detecting speech in audio with background noise."),
    ("seg", "Segment Anything", "A foundation model for image segmentation from prompts."),
    ("vit", "An image is worth 16x16 words", "Transformers for image recognition at scale."),
    ("det", "End-to-end object detection with transformers", "Detecting objects in images with a set loss."),
    ("mol", "Molecular property prediction with graph networks", "Predicting chemistry from molecular graphs."),
    ("fold", "Protein structure prediction from sequence", "Highly accurate protein folding."),
    ("xss", "<script>alert(1)</script> on maps", "A hostile title must show as text."),
]


def _project(root, sample_wav, sample_stm):
    from pipeline.config import init_project, open_project

    init_project(root, title="Viz test")
    project = open_project(root)
    store = project.content
    utts = []
    for line in sample_stm.read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6:
            utts.append(Utterance(start=float(parts[3]), end=float(parts[4]), text=parts[5],
                                  speaker=LABELS.get(parts[2], parts[2])))
    ep = Episode(slug=SLUG, title="Sample call", audio="sample.wav", duration=30.0,
                 speakers={"SPEAKER_00": "diane"}, papers=["dpo"], transcript=Transcript(utterances=utts),
                 chapters=[Chapter(start=0.0, title="Hello", paper="dpo", confidence=0.3, source="auto"),
                           Chapter(start=14.444, title="Chicago", speakers=["diane"])])
    store.save_person(Person(id="diane", name="Diane <i>of</i> New Jersey"))
    for pid, title, abstract in TITLES:
        store.save_paper(Paper(id=pid, title=title, abstract=abstract, aliases=["DPO"] if pid == "dpo" else []))
    store.save_episode(ep)
    shutil.copy(sample_wav, root / "content" / "episodes" / SLUG / "sample.wav")
    return project


@pytest.fixture(scope="module")
def built(tmp_path_factory, sample_wav, sample_stm):
    from pipeline.site.build import build_site

    project = _project(tmp_path_factory.mktemp("viz") / "proj", sample_wav, sample_stm)
    build_site(project, search=False)
    with served(project.site_dir) as base:
        yield base, project


@pytest.fixture
def page(browser, built):
    base, _ = built
    with watched_page(browser, base) as pg:
        yield pg
        assert pg.dialogs == [] and pg.errors == [] and pg.external == []


def test_timeline_matches_the_episode_and_seeks(page, built):
    base, project = built
    ep = project.content.load_episode(SLUG)
    page.goto(f"{base}/episodes/{SLUG}/")
    lanes = page.eval_on_selector_all("svg.timeline-svg g.tl-lane", "gs => gs.map(g => g.dataset.name)")
    assert lanes == ["Diane <i>of</i> New Jersey", "Speaker 2"]  # named person first, shown as text
    for name, label in (("Diane <i>of</i> New Jersey", "SPEAKER_00"), ("Speaker 2", "SPEAKER_01")):
        starts = page.eval_on_selector_all(f'g.tl-lane[data-name="{name}"] a.tl-seg',
                                           "as => as.map(a => parseFloat(a.dataset.t))")
        turns = [u.start for u in ep.transcript.utterances if u.speaker == label]
        assert starts and starts[0] == pytest.approx(turns[0], abs=0.01)
        assert all(any(abs(s - t) < 0.01 for t in turns) for s in starts)  # each segment starts a real turn
    chapters = page.eval_on_selector_all("svg.timeline-svg a.tl-chapter",
                                         "as => as.map(a => [parseFloat(a.dataset.t), a.querySelector('title').textContent])")
    assert [(t, title.split(" ", 1)[1]) for t, title in chapters] == [(c.start, c.title) for c in ep.chapters]
    # the text alternative lists the same speakers
    rows = page.eval_on_selector_all("details.timeline-text tbody th", "ths => ths.map(t => t.textContent)")
    assert rows == lanes

    wait_js(page, "document.querySelector('audio.player').readyState >= 1")
    seg = page.locator('g.tl-lane[data-name="Speaker 2"] a.tl-seg').nth(2)
    t = float(seg.get_attribute("data-t"))
    seg.click()
    wait_js(page, f"Math.abs(document.querySelector('audio.player').currentTime - {t}) < 0.5")
    assert page.url.endswith("#" + seg.get_attribute("href").split("#")[1])  # and the anchor exists:
    assert page.evaluate(f"!!document.getElementById({seg.get_attribute('href')[1:]!r})")
    page.locator("svg.timeline-svg a.tl-chapter").nth(1).click()
    wait_js(page, f"Math.abs(document.querySelector('audio.player').currentTime - {ep.chapters[1].start}) < 0.5")


def test_paper_map_links_every_paper_and_works_by_keyboard(page, built):
    base, project = built
    papers = project.content.load_papers()
    page.goto(f"{base}/map/")
    hrefs = page.eval_on_selector_all("svg.paper-map a", "as => as.map(a => a.getAttribute('href'))")
    assert sorted(hrefs) == sorted(f"/papers/{pid}/" for pid in papers)
    assert page.eval_on_selector_all("svg.paper-map a.discussed", "as => as.map(a => a.dataset.id)") == ["dpo"]
    names = page.eval_on_selector_all("svg.paper-map a", "as => as.map(a => a.querySelector('title').textContent)")
    assert "<script>alert(1)</script> on maps" in names and "Direct Preference Optimization (discussed)" in names
    # Tab from the top of the page reaches the map, then walks through the papers in order
    order = page.eval_on_selector_all("svg.paper-map a", "as => as.map(a => a.dataset.id)")
    seen = []
    for _ in range(60):
        page.keyboard.press("Tab")
        pid = page.evaluate("document.activeElement.closest('svg.paper-map') ? document.activeElement.dataset.id : null")
        if pid:
            seen.append(pid)
            stroke = page.evaluate("getComputedStyle(document.activeElement.querySelector('circle')).strokeWidth")
            assert stroke == "4px"  # the visible focus ring
        if len(seen) == 4:
            break
    assert seen == order[:4]
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/papers/{seen[-1]}/")


def test_related_papers_on_paper_pages(page, built):
    base, _ = built
    page.goto(f"{base}/papers/qlora/")
    related = page.eval_on_selector_all("section.related a[href^='/papers/']", "as => as.map(a => a.getAttribute('href'))")
    assert related and related[0] == "/papers/lora/" and "/papers/qlora/" not in related
    page.click("section.related a[href='/map/']")
    page.wait_for_url(f"{base}/map/")


def test_report_page_is_hidden_but_complete(built):
    from pipeline.publish.check import check_site

    base, project = built
    site = project.site_dir
    html = (site / "episodes" / SLUG / "report" / "index.html").read_text()
    assert '<meta name="robots" content="noindex">' in html
    assert "chapter-link" in html and "Direct Preference Optimization" in html
    assert "/report/" not in (site / "sitemap.xml").read_text()
    assert "report/" not in (site / "episodes" / SLUG / "index.html").read_text()
    assert check_site(site) == []
