"""Speaker timeline and paper map layouts (the browser tests are in test_viz_browser.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from pipeline.models import Chapter, Episode, Paper, Person, Transcript, Utterance
from pipeline.site.papermap import layout_papers, project_2d
from pipeline.site.related import MapOptions, paper_space, related_papers
from pipeline.site.timeline import UNIDENTIFIED, build_timeline


def _episode() -> Episode:
    utts = []
    t = 0.0
    for i in range(40):  # host and guest alternate; some short turns with per-turn labels nobody named
        label = ["A", "B", f"T{i:03d}"][i % 3]
        utts.append(Utterance(start=t, end=t + 10, text=f"line {i}", speaker=label))
        t += 12
    utts.append(Utterance(start=t, end=t + 5, text="(applause)", speaker=None, flags=["non-speech"]))
    return Episode(slug="e", title="E", transcript=Transcript(utterances=utts),
                   speakers={"A": "host", "B": "guest-speaker"},
                   chapters=[Chapter(start=0, title="Opening"), Chapter(start=240, title="Talk <b>one</b>")])


PEOPLE = {"host": Person(id="host", name="Hosting Person", host=True),
          "guest-speaker": Person(id="guest-speaker", name="<script>alert(1)</script>")}


def test_lanes_follow_names_and_group_the_rest():
    tl = build_timeline(_episode(), PEOPLE)
    assert [lane.name for lane in tl.lanes] == ["Hosting Person", "<script>alert(1)</script>", UNIDENTIFIED]
    host, guest, rest = tl.lanes
    assert host.labels == ["A"] and guest.labels == ["B"] and len(rest.labels) == 13
    assert host.turns == 14 and guest.turns == 13 and rest.turns == 13
    assert [c.title for c in tl.chapters] == ["Opening", "Talk <b>one</b>"]
    assert tl.chapters[0].end == 240 and tl.chapters[1].end == pytest.approx(tl.duration)
    # every segment lies inside the plot, in time order, and the shares add up
    for lane in tl.lanes:
        xs = [s.x for s in lane.segments]
        assert xs == sorted(xs) and all(tl.label_width <= x <= tl.width for x in xs)
    assert sum(lane.share for lane in tl.lanes) == pytest.approx(1.0)


def test_unnamed_diarized_speaker_with_real_share_gets_a_lane():
    ep = _episode()
    ep.speakers = {"A": "host"}
    tl = build_timeline(ep, PEOPLE)
    assert [lane.name for lane in tl.lanes] == ["Hosting Person", "B", UNIDENTIFIED]  # a voice name (VTT)
    ep.speakers = {"A": "host"}
    for u in ep.transcript.utterances:
        u.speaker = "SPEAKER_01" if u.speaker == "B" else u.speaker
    assert [lane.name for lane in build_timeline(ep, PEOPLE).lanes] == ["Hosting Person", "Speaker 2", UNIDENTIFIED]


def _long_episode(n_turns: int = 6000, seconds: float = 12025.0) -> Episode:
    rng = random.Random(0)
    speakers = [f"SPEAKER_{i:02d}" for i in range(18)]
    bounds = sorted(rng.uniform(0, seconds) for _ in range(n_turns))
    utts = [Utterance(start=a, end=b, text="x", speaker=rng.choice(speakers)) for a, b in zip(bounds, bounds[1:])]
    chapters = [Chapter(start=s, title=f"Chapter {i}") for i, s in enumerate(range(0, int(seconds), 750))]
    return Episode(slug="long", title="Long", transcript=Transcript(utterances=utts), chapters=chapters,
                   speakers={s: f"p{i}" for i, s in enumerate(speakers[:12])})


def test_long_episode_svg_stays_small_and_escaped(project):
    from pipeline.site.templating import make_env

    people = {**{f"p{i}": Person(id=f"p{i}", name=f"Person {i}") for i in range(11)},
              "p11": Person(id="p11", name="<img src=x onerror=alert(1)>")}
    tl = build_timeline(_long_episode(), people)
    env = make_env(project.template_dirs)
    html = str(env.get_template("_timeline.html").module.speaker_timeline(tl, lambda t: f"#t-{int(t)}"))
    assert len(html.encode()) < 100_000, len(html)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count('class="tl-chapter"') == len(tl.chapters) == 17
    assert html.count('class="tl-seg"') == tl.segment_count
    # 12 named lanes, then the 6 unnamed diarizer labels (each 1/18 of the speech) as "Speaker N"
    assert len(tl.lanes) == 18 and tl.lanes[-1].name.startswith("Speaker ") and tl.segment_count <= 600


def test_projection_is_deterministic_and_normalised():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(30, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    a, b = project_2d(v), project_2d(v)
    assert np.array_equal(a, b)
    assert a.min() == 0.0 and a.max() == 1.0
    assert project_2d(v[:1]).tolist() == [[0.5, 0.5]]
    # a big catalog: t-SNE on a fixed subset, the rest placed beside their neighbours
    big = project_2d(v, MapOptions(tsne_max_papers=20, perplexity=5))
    assert big.shape == (30, 2) and np.array_equal(big, project_2d(v, MapOptions(tsne_max_papers=20, perplexity=5)))
    assert 0.0 <= big.min() and big.max() <= 1.0 and len({tuple(p) for p in big.round(6)}) == 30


TOPICS = {
    "speech": ["Speaker diarization with neural embeddings", "Automatic speech recognition for podcasts",
               "Voice activity detection in noisy recordings", "End-to-end speech transcription at scale"],
    "vision": ["Image segmentation with vision transformers", "Object detection in aerial photographs",
               "Self-supervised visual representation learning from images",
               "Convolutional networks for image classification"],
    "chem": ["Predicting molecular properties with graph networks", "Protein structure prediction from sequences",
             "Generative models for drug molecule design", "Quantum chemistry calculations with machine learning"],
}


@pytest.fixture(scope="module")
def catalog() -> dict[str, Paper]:
    papers = {}
    for topic, titles in TOPICS.items():
        for i, title in enumerate(titles):
            papers[f"{topic}-{i}"] = Paper(id=f"{topic}-{i}", title=title, abstract=f"A study about {title.lower()}.")
    return papers


def test_related_papers_share_the_topic(catalog, tmp_path):
    related = related_papers(catalog, tmp_path, MapOptions(related_k=3, related_min_score=0.0))
    for pid, items in related.items():
        assert len(items) == 3 and pid not in [r for r, _ in items]
        assert [s for _, s in items] == sorted((s for _, s in items), reverse=True)
        assert items[0][0].split("-")[0] == pid.split("-")[0], (pid, items)


def test_map_is_cached_and_stable_when_a_paper_is_added(catalog, tmp_path):
    o = MapOptions(tsne_min_papers=10, perplexity=3)
    pos = layout_papers(paper_space(catalog, tmp_path, o), tmp_path, o)
    assert set(pos) == set(catalog)
    assert (tmp_path / "viz" / "layout.pickle").exists()
    # papers of one topic are closer to each other than to the others, on average
    def mean_dist(a, b):
        return np.mean([np.hypot(pos[x][0] - pos[y][0], pos[x][1] - pos[y][1]) for x in a for y in b if x != y])
    groups = {t: [k for k in catalog if k.startswith(t)] for t in TOPICS}
    within = np.mean([mean_dist(g, g) for g in groups.values()])
    between = np.mean([mean_dist(groups[a], groups[b]) for a in groups for b in groups if a != b])
    assert within < between
    more = dict(catalog)
    more["speech-new"] = Paper(id="speech-new", title="Speech recognition of conference talks",
                               abstract="Transcribing spoken talks.")
    o2 = MapOptions(tsne_min_papers=10, perplexity=3, max_placed_share=0.1)
    pos2 = layout_papers(paper_space(more, tmp_path, o2), tmp_path, o2)
    assert all(pos2[k] == pytest.approx(pos[k]) for k in catalog)  # nobody moved
    new_x, new_y = pos2["speech-new"]
    nearest = min(catalog, key=lambda k: np.hypot(pos2[k][0] - new_x, pos2[k][1] - new_y))
    assert nearest.startswith("speech")


def test_layout_of_an_older_recap_is_kept(catalog, tmp_path, monkeypatch):
    """A map laid out by a recap that kept it in viz/layout.json keeps every place after the upgrade (the
    layout moves into the cache entry once; nothing is projected again)."""
    import json

    from pipeline.cache import Cache
    from pipeline.site import papermap

    o = MapOptions(tsne_min_papers=10, perplexity=3)
    space = paper_space(catalog, tmp_path, o)
    pos = layout_papers(space, tmp_path, o)
    okey, stored = Cache(tmp_path).entry("viz", "layout").load()
    (tmp_path / "viz" / "layout.pickle").unlink()
    moved = {pid: [round(1 - x, 5), y, h] for pid, (x, y, h) in stored.items()}  # a layout of its own
    (tmp_path / "viz" / "layout.json").write_text(json.dumps({"options": okey, "papers": moved}))

    def no_projection(*args, **kwargs):
        raise AssertionError("projected again")

    monkeypatch.setattr(papermap, "project_2d", no_projection)
    again = layout_papers(space, tmp_path, o)
    assert again == {pid: (x, y) for pid, (x, y, _) in moved.items()} != pos
    assert not (tmp_path / "viz" / "layout.json").exists() and (tmp_path / "viz" / "layout.pickle").exists()
    assert layout_papers(space, tmp_path, o) == again
