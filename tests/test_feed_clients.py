"""The built feeds read by the clients podcast apps and feed readers use: Podcast Index's parser
podcast-partytime (npm, installed into .cache/node by `make install`) and feedparser (PyPI).

A project with two episodes, one with a real MP3 and one without audio, built for a base URL."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.config import open_project
from pipeline.models import Chapter, Episode, Person, Transcript, Utterance

REPO = Path(__file__).resolve().parent.parent
PARTYTIME = REPO / ".cache" / "node" / "node_modules" / "podcast-partytime"
BASE = "https://talks.example.org/recap/"


def _mp3(path: Path, seconds: int = 20) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
                    "-t", str(seconds), "-c:a", "libmp3lame", "-b:a", "16k", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    from pipeline.config import init_project
    from pipeline.site.build import build_site

    root = init_project(tmp_path_factory.mktemp("feeds") / "proj", title="Feed test podcast")
    cfg = root / "recap.toml"
    cfg.write_text(cfg.read_text().replace('base_url = "/"', f'base_url = "{BASE}"\npaper_map = false\n'
                                           'author = "Ada Host"\nemail = "ada@example.org"\n'
                                           'category = "Science > Natural Sciences"'))
    project = open_project(root)
    store = project.content
    store.save_person(Person(id="ada", name="Ada Host", host=True))
    store.save_person(Person(id="grace", name="Grace Guest"))
    words = [Utterance(0.0, 4.0, "Welcome to the show, I'm Ada.", "SPEAKER_00"),
             Utterance(4.0, 9.0, "Thanks, I'm Grace and I work on compilers.", "SPEAKER_01"),
             Utterance(9.0, 15.0, "And this speaker was never named.", "SPEAKER_02")]
    with_audio = Episode(slug="ep-1", title="Compilers, with Grace", date="2024-03-01", audio="audio.mp3",
                         duration=20.0, speakers={"SPEAKER_00": "ada", "SPEAKER_01": "grace"},
                         chapters=[Chapter(0.0, "Welcome", 4.0, speakers=["ada"]),
                                   Chapter(4.0, "Compilers", 15.0, speakers=["grace"])],
                         transcript=Transcript(words))
    store.save_episode(with_audio)
    _mp3(store.root / "episodes" / "ep-1" / "audio.mp3")
    silent = Episode(slug="ep-2", title="Notes only, no recording", date="2024-04-01",
                     description="What was said at the meetup, written up.",
                     chapters=[Chapter(0.0, "Opening", speakers=["ada"])])
    store.save_episode(silent)
    store.save_episode(Episode(slug="ep-3", title="Undated", chapters=[Chapter(0.0, "Only", speakers=["grace"])]))
    store.save_episode(Episode(slug="ep-4", title="Hosted elsewhere", date="2024-02-01", duration=3600.0,
                               audio="https://cdn.example.org/shows/ep4.m4a", audio_length=48_000_123,
                               audio_type="audio/x-m4a", chapters=[Chapter(0.0, "Keynote", speakers=["ada"])]))
    build_site(project, search=False)
    return root / "site"


def _partytime(feed: Path) -> dict:
    if not PARTYTIME.is_dir() or shutil.which("node") is None:
        pytest.fail(f"podcast-partytime missing at {PARTYTIME}: run `make install` (tests never download)")
    script = (f"const {{ parseFeed }} = require({json.dumps(str(PARTYTIME))});"
              "const fs = require('fs');"
              f"const feed = parseFeed(fs.readFileSync({json.dumps(str(feed))}, 'utf8'));"
              "process.stdout.write(JSON.stringify(feed));")
    out = subprocess.run(["node", "-e", script], check=True, capture_output=True, text=True)
    assert "skipping" not in out.stderr, out.stderr
    return json.loads(out.stdout)


def test_podcast_index_parser_reads_every_episode_with_audio(built):
    feed = _partytime(built / "feed.xml")
    assert [i["title"] for i in feed["items"]] == ["Compilers, with Grace", "Hosted elsewhere"]  # newest first
    hosted = feed["items"][1]["enclosure"]
    assert hosted == {"url": "https://cdn.example.org/shows/ep4.m4a", "length": 48_000_123, "type": "audio/x-m4a"}
    item = feed["items"][0]
    assert item["enclosure"]["url"] == f"{BASE}episodes/ep-1/audio.mp3"
    assert item["enclosure"]["length"] == (built / "episodes/ep-1/audio.mp3").stat().st_size
    assert item["enclosure"]["type"] == "audio/mpeg"
    assert item["duration"] == 20
    assert {t["type"] for t in item["podcastTranscripts"]} >= {"text/vtt", "application/json"}
    assert item["podcastChapters"]["url"] == f"{BASE}episodes/ep-1/chapters.json"
    assert {p["name"] for p in item["podcastPeople"]} == {"Ada Host", "Grace Guest"}
    support = {tag for tags in feed["pc20support"].values() for tag in tags}
    assert {"transcript", "chapters", "person", "guid", "locked"} <= support, feed["pc20support"]
    assert feed["pc20support"]["1"] and feed["pc20support"]["2"]
    assert feed["itunesCategory"] == ["Science > Natural Sciences"]  # partytime knows Apple's list
    assert feed["explicit"] is False and feed["owner"]["email"] == "ada@example.org"
    assert feed["itunesImage"] == f"{BASE}static/artwork.png"
    assert feed["guid"] and feed["locked"] is False


def test_feedparser_reads_dates_and_absolute_links(built):
    import feedparser

    podcast = feedparser.parse((built / "feed.xml").read_bytes())
    assert not podcast.bozo, podcast.bozo_exception
    entry, hosted = podcast.entries
    assert entry.published_parsed[:3] == (2024, 3, 1) and hosted.published_parsed[:3] == (2024, 2, 1)
    assert entry.link == f"{BASE}episodes/ep-1/" and entry.enclosures[0].href.startswith(BASE)
    assert podcast.feed.image.href == f"{BASE}static/artwork.png"
    site = feedparser.parse((built / "episodes" / "feed.xml").read_bytes())
    assert not site.bozo, site.bozo_exception
    titles = {e.title: e for e in site.entries}
    assert set(titles) == {"Compilers, with Grace", "Notes only, no recording", "Undated", "Hosted elsewhere"}
    assert titles["Undated"].updated_parsed  # dated by its record when it has no date
    assert titles["Notes only, no recording"].link == f"{BASE}episodes/ep-2/"
    assert titles["Notes only, no recording"].updated_parsed[:3] == (2024, 4, 1)
    assert titles["Notes only, no recording"].summary == "What was said at the meetup, written up."


def test_artwork_is_a_square_png_apple_accepts(built):
    data = (built / "static" / "artwork.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == height and 1400 <= width <= 3000


def test_transcript_voices_are_names_or_numbered_speakers(built):
    vtt = (built / "episodes/ep-1/transcript.vtt").read_text("utf-8")
    assert "<v Ada Host>" in vtt and "<v Grace Guest>" in vtt and "<v Speaker 3>" in vtt
    assert "SPEAKER_" not in vtt


def test_episode_without_audio_says_so(built):
    from lxml import html

    doc = html.fromstring((built / "episodes/ep-2/index.html").read_bytes())
    assert not doc.xpath("//audio") and not doc.xpath('//article[contains(@class, "has-player")]')
    assert "No recording is published for this episode" in doc.xpath('string(//p[@class="no-audio"])')
    # "In short" is the notes' own description; with audio and no notes, an overview of the chapters
    assert doc.xpath('string(//p[@class="lead"])') == "What was said at the meetup, written up."
    with_audio = html.fromstring((built / "episodes/ep-1/index.html").read_bytes())
    assert with_audio.xpath('string(//p[@class="lead"])') == "2 talks: Welcome (Ada Host) and Compilers (Grace Guest)."
    assert with_audio.xpath('//article[contains(@class, "has-player")]')
    home = html.fromstring((built / "index.html").read_bytes())
    metas = [" ".join(m.text_content().split()) for m in home.xpath('//article[contains(@class, "episode-card")]'
                                                                       '/p[@class="meta"]')]
    assert "1 chapter · 0 papers" in metas and not [m for m in metas if m.startswith("·")], metas
