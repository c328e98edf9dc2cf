"""The static site, built from the real seeds through the real importers (no browser here; see
test_browser.py). The seed project is built once per session (:func:`seed_site`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree, html

from pipeline.config import open_project
from pipeline.models import Mention, Person, Poster, Summary, SummarySentence
from pipeline.publish.check import check_chapters, check_rss, check_site

SLUG = "neurips-2023-recap"
TOOLFORMER = {"title": "Toolformer: Language Models Can Teach Themselves to Use Tools", "arxiv": "2302.04761",
              "authors": ["Timo Schick", "Jane Dwivedi-Yu", "Roberto Dessì"], "date": "2023-02-09",
              "aliases": ["Toolformer"]}
HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_LINE = "<img src=x onerror=alert(1)>"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"

_CACHE: dict[str, Path] = {}


def long_silent_mp3(path: Path, seconds: int = 12_180) -> Path:
    """A long, tiny, real MP3 (8 kbit/s silence): one minute encoded by ffmpeg, its frames repeated."""
    chunk = path.with_suffix(".chunk.mp3")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "60",
                    "-c:a", "libmp3lame", "-b:a", "8k", "-write_xing", "0", "-id3v2_version", "0", str(chunk)],
                   check=True)
    path.write_bytes(chunk.read_bytes() * (seconds // 60 + 1))
    chunk.unlink()
    return path


def _mentions(ep, terms: dict[str, list[str]]) -> list[Mention]:
    """Timed mentions by plain term search (stands in for the alignment stage in these tests)."""
    chapter_starts = [c.start for c in ep.chapters]
    out = []
    for u in ep.transcript.utterances:
        low = u.text.lower()
        for pid, words in terms.items():
            if any(w.lower() in low for w in words):
                ch = max((i for i, s in enumerate(chapter_starts) if s <= u.start), default=None)
                out.append(Mention(paper=pid, start=u.start, end=u.end, quote=u.text, speaker=u.speaker,
                                   chapter=ch, kind="name"))
    return out


def make_seed_project(root: Path, seeds: Path) -> Path:
    """listing + blog + day notes + a JSON list (Toolformer, a hostile title) + dev show notes +
    transcript, then audio, mentions, a poster, a speaker name, summaries and one hostile line."""
    from pipeline.config import init_project
    from pipeline.jobs.episode import align_if_ready
    from pipeline.sources.notes import apply_notes, parse_notes
    from pipeline.sources.papers import import_papers
    from pipeline.sources.transcripts import import_transcript

    init_project(root, title="NeurIPS recap test site")
    config = root / "recap.toml"  # the paper map embeds every paper (tested in test_viz): off here
    config.write_text(config.read_text().replace("[site]\n", "[site]\npaper_map = false\n", 1))
    project = open_project(root)
    extra = root / "extra-papers.json"
    extra.write_text(json.dumps([TOOLFORMER, {"title": HOSTILE_TITLE, "authors": ["<b>Mallory</b>"],
                                              "abstract": "An abstract with <iframe src=x></iframe> in it."}]))
    import_papers(project, [seeds / "paper-listing.txt", seeds / "research-highlights-blog.txt",
                            seeds / "neurips-2023-day5-notes.txt", extra])
    import_transcript(project, seeds / "neurips-2023-recap.transcript.txt", SLUG)
    apply_notes(project, SLUG, parse_notes(seeds / "neurips-2023-recap.shownotes-dev.txt"))
    align_if_ready(project, SLUG)

    store = project.content
    papers = store.load_papers()
    ep = store.load_episode(SLUG)
    tool_id = next(pid for pid, p in papers.items() if p.arxiv == TOOLFORMER["arxiv"])
    mirage_id = next(pid for pid, p in papers.items() if "mirage" in p.title.lower())
    ep.mentions = _mentions(ep, {tool_id: ["Toolformer"], mirage_id: ["emergent abilities"]})
    long_silent_mp3(store.root / "episodes" / SLUG / "audio.mp3")
    ep.audio = "audio.mp3"
    ep.date = "2023-12-23"
    # name the speaker who says "I'm Jeff" (the alignment stage does this for real)
    jeff = next(u for u in ep.transcript.utterances if "I'm Jeff" in u.text)
    ep.speakers = {jeff.speaker: "jeff-dean"}
    hostile = next(u for u in ep.transcript.utterances if u.start > 200)
    hostile.text += " " + HOSTILE_LINE
    dpo = next(c for c in ep.chapters if c.kind == "poster")
    qlora = next(c for c in ep.chapters if c.title == "QLoRA")
    qlora.summary = Summary(text="QLoRA fine-tunes quantized models.", sentences=[
        SummarySentence("The talk explains 4-bit quantization.", qlora.start + 95.0, qlora.start + 99.0),
        SummarySentence("Fine-tuning fits on one GPU.", qlora.start + 300.0, qlora.start + 304.0)])
    ep.summary = Summary(text="Best papers of NeurIPS 2023.", sentences=[
        SummarySentence("Word2Vec won the test of time award.", 80.0, 84.0)])
    store.save_episode(ep)
    poster = next((p for p in store.load_posters().values() if p.paper == dpo.paper), None)
    if poster is None:  # the alignment stage makes one from the poster-session chapter
        poster = Poster(id="dpo-poster", paper=dpo.paper, episode=SLUG, start=dpo.start, end=dpo.end,
                        presenters=["archit-sharma"], excerpt="A short excerpt from the interview.")
    poster.image = f"{poster.id}.svg"
    store.save_poster(poster)
    (store.root / "posters" / poster.image).write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><rect width="400" height="300" '
        'fill="#eee"/><text x="20" y="150">DPO poster</text></svg>')
    store.save_person(Person(id="swyx", name="swyx", host=True))
    return root


def seed_site(tmp_root: Path, seeds: Path) -> Path:
    """The seed project, built once per session; returns the project root (site in root/site)."""
    if "root" not in _CACHE:
        from pipeline.site.build import build_site

        root = make_seed_project(tmp_root / "seed-project", seeds)
        build_site(open_project(root))
        _CACHE["root"] = root
    return _CACHE["root"]


@pytest.fixture(scope="session")
def seed_root(tmp_path_factory, seeds) -> Path:
    return seed_site(tmp_path_factory.mktemp("site"), seeds)


@pytest.fixture(scope="session")
def site_dir(seed_root) -> Path:
    return seed_root / "site"


def _doc(site_dir: Path, rel: str):
    return html.fromstring((site_dir / rel).read_bytes())


def _paper_id(root: Path, pred) -> str:
    papers = open_project(root).content.load_papers()
    return next(pid for pid, p in papers.items() if pred(p))


# -- structure ---------------------------------------------------------------------------------------
def test_every_kind_of_page_is_built(seed_root, site_dir):
    for rel in ["index.html", "episodes/index.html", "papers/index.html", "posters/index.html", "people/index.html",
                "search/index.html", "feed.xml", "sitemap.xml", f"episodes/{SLUG}/index.html",
                f"episodes/{SLUG}/chapters.json", f"episodes/{SLUG}/transcript.vtt", f"episodes/{SLUG}/transcript.srt",
                f"episodes/{SLUG}/transcript.json", f"episodes/{SLUG}/audio.mp3",
                "people/jeff-dean/index.html", "search-index/meta.json"]:
        assert (site_dir / rel).is_file(), rel
    # the DPO poster session the notes list (later ones are found after the notes' last chapter)
    (poster,) = [p for p in open_project(seed_root).content.load_posters().values() if p.start < 3650]
    assert (site_dir / "posters" / poster.id / "index.html").is_file()
    assert (site_dir / "posters" / poster.id / poster.image).is_file()
    papers = open_project(seed_root).content.load_papers()
    assert len(papers) >= 190
    assert all((site_dir / "papers" / pid / "index.html").is_file() for pid in papers)


def test_episode_page_content(site_dir):
    doc = _doc(site_dir, f"episodes/{SLUG}/index.html")
    assert doc.xpath("//audio[@controls]/@src") == [f"/episodes/{SLUG}/audio.mp3"]
    chapters = doc.xpath('//ol[@class="chapters"]/li')
    # the notes' six chapters, then the ones found after the notes stop
    assert [c.xpath(".//h3/text()")[0].strip() for c in chapters][:6] == [
        "Word2Vec", "Emergence Mirage", "DPO", "DPO Poster Session", "Datablations", "QLoRA"]
    assert [c.xpath("string(.//a[@data-t]/@data-t)") for c in chapters][:6] == [
        "79", "928", "1728", "2496", "3123", "3650"]
    assert len(chapters) > 6
    paras = doc.xpath('//p[@class="para"]')
    assert 300 < len(paras) < 1500  # grouped into paragraphs, not one element per line
    ids = [p.get("id") for p in paras]
    assert len(set(ids)) == len(ids) and all(i.startswith("t-") for i in ids)
    # each paragraph's timestamp link points at itself and carries its start time
    first = paras[0].xpath('./a[@class="ts"]')[0]
    assert first.get("href") == "#" + paras[0].get("id")
    assert "Jeff Dean" in doc.xpath('string(//b[@class="spk"])') or doc.xpath('//b[text()="Jeff Dean"]')
    # "In short" reads as a description: the show notes' own opening (their page's furniture gone),
    # not the extractive episode summary's stitched sentences; the chapters keep their summaries
    short = " ".join(doc.xpath('string(//section[h2[@id="summary-h"]])').split())
    assert short.startswith("In short NeurIPS 2023 took place from Dec 10–16 in New Orleans."), short
    assert "Word2Vec won the test of time award." not in short and "Podcast artwork" not in short
    assert "listener survey" not in short  # an announcement before the description, not about the episode
    assert doc.xpath('//article[contains(@class, "has-player")]') and not doc.xpath('//p[@class="no-audio"]')
    # summaries: each sentence links to the paragraph holding its time
    sentences = doc.xpath('//a[@class="summary-sentence"]')
    assert len(sentences) == 2
    for a in sentences:
        target = a.get("href")[1:]
        para = doc.get_element_by_id(target)
        assert float(para.xpath('./a[@class="ts"]/@data-t')[0]) <= float(a.get("data-t"))
    # search: the page's own document holds no transcript; the transcript is indexed as passages
    # whose sections open paragraphs of this page
    docs = [json.loads(p.read_bytes()) for p in (site_dir / "search-index" / "d").glob("*.json")]
    own = [d for d in docs if d["u"] == f"episodes/{SLUG}/" and d["s"][0][0] is None]
    passages = [d for d in docs if d["u"] == f"episodes/{SLUG}/" and d["s"][0][0]]
    # (chapter titles are in it: found chapters after the notes are titled "Toolformer", ...; speech is not)
    assert len(own) == 1 and "exploring these word embedding ideas" not in own[0]["s"][0][2]
    anchors = [s[0] for d in passages for s in d["s"]]
    assert len(anchors) == len(doc.xpath('//p[contains(@class, "para")]')) and set(anchors) <= set(doc.xpath("//@id"))
    # no per-word markup: the whole page stays small for a 3h20m episode
    assert (site_dir / f"episodes/{SLUG}/index.html").stat().st_size < 1_500_000


def test_paper_page_lists_every_moment(seed_root, site_dir):
    pid = _paper_id(seed_root, lambda p: "mirage" in p.title.lower())
    doc = _doc(site_dir, f"papers/{pid}/index.html")
    moments = doc.xpath('//ol[@class="moments"]/li')
    ep = open_project(seed_root).content.load_episode(SLUG)
    expected = 1 + sum(1 for m in ep.mentions if m.paper == pid)  # the chapter + each mention
    assert len(moments) == expected
    hrefs = [m.xpath('string(.//a[@class="ts-chip"]/@href)') for m in moments]
    assert all(h.startswith(f"/episodes/{SLUG}/#t-") for h in hrefs)
    assert any("Emergence Mirage" in m.text_content() for m in moments)
    assert doc.xpath('//a[starts-with(@href, "https://arxiv.org/abs/")]') or doc.xpath("//p[@class='abstract']")


def test_paper_page_shows_the_summary_of_its_chapter(seed_root, site_dir):
    pid = _paper_id(seed_root, lambda p: p.title.startswith("QLoRA"))
    doc = _doc(site_dir, f"papers/{pid}/index.html")
    links = doc.xpath('//ol[@class="moments"]//a[@class="summary-sentence"]')
    assert [a.text for a in links] == ["The talk explains 4-bit quantization.", "Fine-tuning fits on one GPU."]
    assert all(a.get("href").startswith(f"/episodes/{SLUG}/#t-") for a in links)


def test_site_checker_finds_no_problem(site_dir):
    assert check_site(site_dir) == []


def test_site_checker_catches_broken_links_and_live_markup(site_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(site_dir, bad, ignore=shutil.ignore_patterns("*.mp3", "search-index"))
    page = bad / "papers" / "index.html"
    text = page.read_text("utf-8")
    text = text.replace("</main>", '<a href="/papers/no-such-paper/">x</a><a href="/episodes/'
                        f'{SLUG}/#t-999999">y</a><script>alert(1)</script><img src=x onerror="alert(1)"></main>')
    page.write_text(text, "utf-8")
    (bad / f"episodes/{SLUG}/chapters.json").write_text('{"version": "1.2.0", "chapters": [{"startTime": "0"}]}')
    problems = check_site(bad)
    joined = "\n".join(problems)
    assert "broken link /papers/no-such-paper/" in joined
    assert f"broken anchor /episodes/{SLUG}/#t-999999" in joined
    assert "inline <script>" in joined and "onerror" in joined
    assert "startTime must be a non-negative number" in joined


def test_hostile_text_is_shown_as_text(seed_root, site_dir):
    pid = _paper_id(seed_root, lambda p: p.title == HOSTILE_TITLE)
    raw = (site_dir / "papers" / pid / "index.html").read_text("utf-8")
    assert "<script>alert" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<iframe" not in raw and "<b>Mallory" not in raw
    doc = _doc(site_dir, f"papers/{pid}/index.html")
    assert doc.xpath("string(//h1)") == HOSTILE_TITLE
    episode = (site_dir / f"episodes/{SLUG}/index.html").read_text("utf-8")
    assert "<img src=x" not in episode and "&lt;img src=x onerror=alert(1)&gt;" in episode
    for rel in ["papers/index.html", "feed.xml", "sitemap.xml"]:
        assert "<script>alert" not in (site_dir / rel).read_text("utf-8")


def test_markdown_description_has_no_raw_html_or_script_links():
    from pipeline.site.templating import render_markdown

    out = str(render_markdown("Hi <script>alert(1)</script> [a](javascript:alert(1)) [b](https://ok.example/) "
                              "[c](../papers/) ![i](data:text/html,x)"))
    assert "<script>" not in out and 'href="javascript:' not in out and 'src="data:' not in out
    assert '<a href="https://ok.example/">b</a>' in out and '<a href="../papers/">c</a>' in out


# -- feeds -------------------------------------------------------------------------------------------
def test_rss_feed_is_a_valid_podcast_feed(site_dir):
    data = (site_dir / "feed.xml").read_bytes()
    assert check_rss(data) == []
    # built without a base URL, its links are relative: what a published feed may not be
    relative = check_rss(data, absolute=True)
    assert relative and all("is not an absolute URL" in p for p in relative)
    assert check_rss(b'<rss version="2.0"><channel><title>t</title><link>https://x.org/</link><description>d'
                     b'</description><item><title>no audio</title></item></channel></rss>', absolute=True) == [
        f"item 1: no <{tag}> (podcast apps skip or misplace such an item)" for tag in ("enclosure", "guid", "pubDate")]
    root = etree.fromstring(data)
    assert root.tag == "rss" and root.get("version") == "2.0"
    assert root.nsmap.get("podcast") == PODCAST_NS
    channel = root.find("channel")
    for tag in ("title", "link", "description", "language"):
        assert channel.findtext(tag), tag
    (item,) = channel.findall("item")
    assert item.findtext("title") and item.findtext("guid")
    assert item.findtext("pubDate") == "Sat, 23 Dec 2023 00:00:00 +0000"
    enc = item.find("enclosure")
    assert enc.get("url").endswith(f"/episodes/{SLUG}/audio.mp3") and enc.get("type") == "audio/mpeg"
    assert int(enc.get("length")) == (site_dir / f"episodes/{SLUG}/audio.mp3").stat().st_size
    transcripts = {t.get("type"): t.get("url") for t in item.findall(f"{{{PODCAST_NS}}}transcript")}
    assert transcripts["text/vtt"].endswith(f"/episodes/{SLUG}/transcript.vtt")
    assert transcripts["application/json"].endswith(f"/episodes/{SLUG}/transcript.json")
    chapters = item.find(f"{{{PODCAST_NS}}}chapters")
    assert chapters.get("type") == "application/json+chapters" and chapters.get("url").endswith("chapters.json")
    people = {p.text: p.get("role") for p in item.findall(f"{{{PODCAST_NS}}}person")}
    assert people["Jeff Dean"] == "guest" and "Tim Dettmers" in people
    # every URL the feed names exists in the site
    for url in [enc.get("url"), *transcripts.values(), chapters.get("url")]:
        assert (site_dir / url.lstrip("/")).is_file(), url


def test_json_chapters_follow_the_podcasting_spec(site_dir):
    data = json.loads((site_dir / f"episodes/{SLUG}/chapters.json").read_text("utf-8"))
    assert check_chapters(data) == []
    assert isinstance(data["version"], str) and len(data["chapters"]) > 6  # 6 noted, then found ones
    starts = [c["startTime"] for c in data["chapters"]]
    assert starts == sorted(starts) and starts[5] == 3650
    for k, ch in enumerate(data["chapters"]):
        assert isinstance(ch["title"], str) and isinstance(ch["startTime"], (int, float))
        if k < 6 or "url" in ch:
            assert (site_dir / ch["url"].lstrip("/") / "index.html").is_file()  # url = the paper page
    assert check_chapters({"version": 1, "chapters": [{"startTime": 5}, {"startTime": 2, "toc": "no"}]}) == [
        "version must be a string", "chapter 1: startTime 2 before the previous chapter's",
        "chapter 1: toc must be bool"]


def test_transcript_files_match_the_exporters(seed_root, site_dir):
    from pipeline.export import to_vtt

    store = open_project(seed_root).content
    ep = store.load_episode(SLUG)
    assert (site_dir / f"episodes/{SLUG}/transcript.vtt").read_text("utf-8") == to_vtt(ep, store.load_people())
    assert "<v Jeff Dean>" in (site_dir / f"episodes/{SLUG}/transcript.vtt").read_text("utf-8")


def test_sitemap_lists_public_pages(site_dir):
    root = etree.fromstring((site_dir / "sitemap.xml").read_bytes())
    locs = [e.text for e in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert f"/episodes/{SLUG}/" in locs and "/papers/" in locs and "/404.html" not in locs


# -- base URL, incremental builds --------------------------------------------------------------------
def test_sub_path_base_url(seed_root, tmp_path):
    from pipeline.site.build import build_site

    out = tmp_path / "prod"
    build_site(open_project(seed_root), base_url="https://example.org/podcast/", out=out, search=False)
    doc = _doc(out, f"episodes/{SLUG}/index.html")
    assert doc.xpath('//link[@rel="stylesheet"]/@href') == ["/podcast/static/site.css"]
    assert doc.xpath('//meta[@property="og:url"]/@content') == [f"https://example.org/podcast/episodes/{SLUG}/"]
    assert all(h.startswith(("/podcast/", "#", "https://")) for h in doc.xpath("//a/@href"))
    chapters = json.loads((out / f"episodes/{SLUG}/chapters.json").read_text())
    assert chapters["chapters"][0]["url"].startswith("https://example.org/podcast/papers/")
    assert [p for p in check_site(out, "https://example.org/podcast/") if "search/" not in p] == []


def test_incremental_builds(seed_root, tmp_path):
    from pipeline.site.build import build_site

    root = tmp_path / "copy"
    shutil.copytree(seed_root, root, ignore=shutil.ignore_patterns("search-index"))
    project = open_project(root)
    first = build_site(project, search=False)
    assert first.written == [] and first.removed == [] and first.pages > 200  # nothing changed since the seed build

    # change one paper: its page, the pages that show its title, nothing else
    store = project.content
    papers = store.load_papers()
    pid = next(p for p, x in papers.items() if "mirage" in x.title.lower())
    papers[pid].abstract += " Edited."
    store.save_paper(papers[pid])
    report = build_site(open_project(root), search=False)
    assert report.written == [f"papers/{pid}/index.html"]
    papers[pid].title = "Are Emergent Abilities a Mirage? (edited)"
    store.save_paper(papers[pid])
    report = build_site(open_project(root), search=False)
    assert sorted(report.written) == sorted([f"papers/{pid}/index.html", "papers/index.html",
                                             f"episodes/{SLUG}/index.html", "people/rylan-schaeffer/index.html"])
    before = (root / "site" / "index.html").stat().st_mtime_ns
    assert build_site(open_project(root), search=False).written == []
    assert (root / "site" / "index.html").stat().st_mtime_ns == before

    # delete the episode: its pages and files go, the rest follows
    shutil.rmtree(root / "content" / "episodes" / SLUG)
    report = build_site(open_project(root), search=False)
    assert f"episodes/{SLUG}/index.html" in report.removed and f"episodes/{SLUG}/audio.mp3" in report.removed
    assert not (root / "site" / "episodes" / SLUG).exists()
    assert "index.html" in report.written and f"papers/{pid}/index.html" in report.written
    assert [p for p in check_site(root / "site") if "search/" not in p] == []


def test_two_pages_for_one_path_are_refused(project):
    from pipeline.errors import ContentError
    from pipeline.site.build import build_site
    from pipeline.site.generators import GENERATORS
    from pipeline.site.model import Page

    def clash(site):
        yield Page("papers/index.html", {}, lambda: "x")

    with pytest.raises(ContentError, match="two pages write papers/index.html: index_pages and clash"):
        build_site(project, search=False, generators=(*GENERATORS, clash))


def test_build_cli(run_cli, project):
    result = run_cli("build")
    assert result.exit_code == 0, result.output
    assert f"Site in {project.root / 'site'}" in result.output and "written" in result.output
    again = run_cli("build")
    assert "0 written" in again.output


def test_paper_page_leads_with_the_paper_and_hides_internals(seed_root, site_dir):
    pid = _paper_id(seed_root, lambda p: p.title.startswith("Direct Preference"))
    doc = _doc(site_dir, f"papers/{pid}/index.html")
    headings = [h.get("id") for h in doc.xpath('//div[@class="paper-main"]//h2')]
    assert headings[:2] == ["abstract-h", "discussed-h"]  # the abstract before the moments
    captions = [" ".join(c.text_content().split()) for c in doc.xpath("//figcaption")]
    assert captions and not [c for c in captions if c.endswith(".txt")], captions  # readable sources
    index = _doc(site_dir, "papers/index.html")
    groups = [h.text_content() for h in index.xpath("//h2")]
    assert groups[0].startswith("Discussed in ") and not [g for g in groups if ".txt" in g], groups
    home = _doc(site_dir, "index.html")
    metas = [" ".join(m.text_content().split()) for m in home.xpath('//p[@class="meta"]')]
    assert metas and not [m for m in metas if m.startswith("·") or m.endswith("·") or "· ·" in m], metas
