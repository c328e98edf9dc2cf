"""`recap publish` end to end: a real build (Jinja2 and the search index) checked by check_site, deployed to a
real bare git repository, a directory through real rsync, and a dir: target killed mid-copy.

The content is small and generated (two episodes, four papers) so that each publish (a full build)
takes seconds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config import default_templates, open_project
from pipeline.models import Chapter, Episode, Paper, Person, Transcript, Utterance
from pipeline.publish.deploy import publish
from pipeline.publish.targets import PublishOptions, file_hashes
from tests.conftest import content_snapshot

BASE = "https://talks.example.org/recap/"


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def fill(project) -> None:
    """Two short episodes, four papers, two people: a small but complete site."""
    store = project.content
    store.save_person(Person(id="ada-host", name="Ada Host", host=True))
    store.save_person(Person(id="bo-author", name="Bo Author"))
    for i in range(4):
        store.save_paper(Paper(id=f"paper-{i}", title=f"Scaling study number {i}", authors=["Bo Author"],
                               abstract=f"We measure effect {i} on held-out data.", date=f"2023-12-1{i}"))
    for e in (1, 2):
        utts = [Utterance(start=i * 6.0, end=i * 6 + 5.0, speaker="SPEAKER_00" if i < 5 else "SPEAKER_01",
                          text=f"Episode {e} sentence {i} talks about scaling study number {i % 4}.")
                for i in range(30)]
        store.save_episode(Episode(
            slug=f"day-{e}", title=f"Conference day {e}", date=f"2023-12-1{e}", description=f"Notes of day {e}.",
            speakers={"SPEAKER_00": "ada-host", "SPEAKER_01": "bo-author"}, papers=[f"paper-{e}"],
            chapters=[Chapter(start=0, title="Welcome", kind="intro", speakers=["ada-host"]),
                      Chapter(start=30, title=f"Scaling study number {e}", paper=f"paper-{e}",
                              speakers=["bo-author"])],
            transcript=Transcript(utterances=utts)))


def change(project) -> None:
    """The edit between two publishes: day 1's notes change, paper 3 is removed."""
    store = project.content
    ep = store.load_episode("day-1")
    ep.description = "Notes of day 1, with the corrected room number."
    store.save_episode(ep, parts=("meta",))
    store.delete("papers/paper-3.toml")


@pytest.fixture
def site_project(project):
    # no paper map: deleting a paper legitimately changes every other paper's "related papers" list
    text = (project.root / "recap.toml").read_text().replace('base_url = "/"', f'base_url = "{BASE}"\npaper_map = false')
    (project.root / "recap.toml").write_text(text)
    project = open_project(project.root)
    fill(project)
    return project


def cli(project, *args: str):
    from click.testing import CliRunner

    from pipeline.cli import main

    return CliRunner().invoke(main, ["-C", str(project.root), "-q", "publish", *args])


def test_publish_to_git_twice_keeps_history_and_only_changes_what_changed(site_project, tmp_path):
    remote = tmp_path / "pages.git"
    git("init", "-q", "--bare", str(remote))
    to = f"git:{remote}:gh-pages"
    r1 = cli(site_project, "--to", to)
    assert r1.exit_code == 0, r1.output
    lines = r1.output.splitlines()
    assert lines[0].startswith(f"Published to {to} (") and lines[0].endswith(" files sent")
    assert lines[1:] == [f"  {BASE}", f"  {BASE}episodes/day-1/", f"  {BASE}episodes/day-2/"]

    change(site_project)
    dry = cli(site_project, "--to", to, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "M episodes/day-1/index.html" in dry.output.splitlines()
    assert "D papers/paper-3/index.html" in dry.output.splitlines()
    assert "M episodes/day-2/index.html" not in dry.output
    assert dry.output.splitlines()[-1].startswith(f"Dry run for {to}: would publish ")
    r2 = cli(site_project, "--to", to, "-m", "Fix the room number")
    assert r2.exit_code == 0, r2.output
    assert r2.output.splitlines()[1:] == [f"  {BASE}", f"  {BASE}episodes/day-1/"]

    clone = tmp_path / "clone"
    git("clone", "-q", "-b", "gh-pages", str(remote), str(clone))
    assert [s for s in git("log", "--format=%s", cwd=clone).splitlines()] == ["Fix the room number", "Publish site"]
    assert (clone / ".nojekyll").exists()
    page = (clone / "episodes/day-1/index.html").read_text()
    assert "corrected room number" in page and f'{BASE}' in (clone / "feed.xml").read_text()
    assert not (clone / "papers/paper-3").exists() and (clone / "papers/paper-2/index.html").exists()
    assert not (clone / ".recap-manifest.json").exists()
    # The second commit changes day 1 and removes paper 3; day 2's page and other papers are untouched.
    diff = dict(line.split("\t")[::-1] for line in git("diff", "--name-status", "HEAD~1", "HEAD", cwd=clone).splitlines())
    assert diff["episodes/day-1/index.html"] == "M" and diff["papers/paper-3/index.html"] == "D"
    for same in ("episodes/day-2/index.html", "papers/paper-0/index.html", "episodes/day-2/transcript.vtt"):
        assert same not in diff


def test_publish_with_rsync_transfers_only_changed_pages(site_project, tmp_path):
    dest = tmp_path / "htdocs"
    opts = PublishOptions(to=f"rsync:{dest}")
    first = publish(site_project, opts)
    assert first.transferred == sorted(file_hashes(dest)) and "episodes/day-2/index.html" in first.transferred
    before = file_hashes(dest)

    change(site_project)
    second = publish(site_project, opts)
    after = file_hashes(dest)
    # Exactly the files whose bytes changed were sent; the deleted paper's page is gone.
    assert set(second.transferred) == {p for p in after if before.get(p) != after[p]}
    pages_removed = [p for p in second.changes.removed if not p.startswith("search-index/")]
    assert pages_removed == ["papers/paper-3/index.html"] and not (dest / "papers/paper-3").exists()
    assert "episodes/day-1/index.html" in second.transferred
    for same in ("episodes/day-2/index.html", "episodes/day-2/transcript.vtt", "episodes/day-1/transcript.vtt",
                 "papers/paper-0/index.html", "static/site.css"):
        assert same not in second.transferred
    assert len(second.transferred) < len(after) / 3
    assert second.urls() == [BASE, f"{BASE}episodes/day-1/"]


def test_failed_check_leaves_the_targets_exactly_as_they_were(site_project, tmp_path):
    live = tmp_path / "srv" / "www"
    live.parent.mkdir()
    assert cli(site_project, "--to", f"dir:{live}").exit_code == 0
    before = content_snapshot(live.parent), os.readlink(live)
    # A theme override with a dead link: the build succeeds, the check must stop the publish.
    base = (default_templates() / "base.html").read_text("utf-8")
    assert "</footer>" in base
    (site_project.root / "templates" / "base.html").write_text(
        base.replace("</footer>", '<a href="{{ base }}no-such-page/">old archive</a></footer>'), "utf-8")
    with open(site_project.root / "recap.toml", "a") as fh:  # the target from the config, relative to it
        fh.write('\n[publish]\nto = "dir:../srv/www"\n')
    result = cli(site_project)
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: the built site failed its checks (") and "nothing was published: " in line
    assert "no-such-page" in line
    assert (content_snapshot(live.parent), os.readlink(live)) == before  # still the first release, intact
    leftovers = list((site_project.cache_dir / "publish").glob("staging-*"))
    assert leftovers == []


def test_sigkill_during_the_copy_leaves_the_old_or_the_new_site(site_project, tmp_path):
    """Kill `recap publish` at random moments once it starts copying a release (a 48 MB recording
    makes the copy take a while): the live folder is always one whole release."""
    live = tmp_path / "www"
    releases = tmp_path / "www.releases"
    ep_dir = site_project.content.root / "episodes" / "day-2"
    rng = random.Random(7)
    (ep_dir / "talk.mp3").write_bytes(rng.randbytes(48 << 20))
    ep = site_project.content.load_episode("day-2")
    ep.audio = "talk.mp3"
    site_project.content.save_episode(ep, parts=("meta",))
    assert cli(site_project, "--to", f"dir:{live}").exit_code == 0
    old = content_snapshot(live)
    assert "episodes/day-2/talk.mp3" in old

    (ep_dir / "talk.mp3").write_bytes(rng.randbytes(48 << 20))  # a re-encoded recording
    change(site_project)
    cmd = [sys.executable, "-c", "from pipeline.cli import main; main()", "-C", str(site_project.root),
           "-q", "publish", "--to", f"dir:{live}"]
    killed_mid_copy, switched = 0, []
    for late in (0.05, 0.3, 1.0):  # early in the copy, later, maybe after the switch
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while proc.poll() is None and time.monotonic() < deadline and not list(releases.glob(".tmp-*")):
            time.sleep(0.002)
        time.sleep(rng.uniform(0, late))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_mid_copy += bool(list(releases.glob(".tmp-*")))
        now = content_snapshot(live)
        if now != old:  # the publish got as far as the switch: it must be the whole new site
            switched.append(now)
            break
    assert killed_mid_copy >= 1, "no kill landed during the copy"
    # The next publish finishes, cleans up the half-made release and serves the new site.
    result = cli(site_project, "--to", f"dir:{live}")
    assert result.exit_code == 0, result.output
    assert not list(releases.glob(".tmp-*"))
    new = content_snapshot(live)
    assert b"corrected room number" in new["episodes/day-1/index.html"] and "papers/paper-3/index.html" not in new
    assert new["episodes/day-2/talk.mp3"] == (ep_dir / "talk.mp3").read_bytes()
    for seen in switched:  # identical to a complete publish, search index included
        assert seen == new


def test_cli_errors(site_project, tmp_path):
    r = cli(site_project, "--to", "ftp://example.org/site")
    assert r.exit_code == 1
    assert r.output == ("Error: unknown publish target 'ftp://example.org/site': use git:BRANCH, "
                        "git:REMOTE:BRANCH, dir:PATH or rsync:[HOST:]PATH\n")
    r = cli(site_project)
    assert r.exit_code == 1
    assert r.output == ('Error: no publish target: set [publish] to = "git:gh-pages" (or dir:PATH, '
                        "rsync:HOST:PATH) in recap.toml, or pass --to\n")
    nowhere = tmp_path / "nowhere.git"
    r = cli(site_project, "--to", f"git:{nowhere}:gh-pages")
    assert r.exit_code == 1
    assert r.output == (f"Error: cannot reach git remote {nowhere}: '{nowhere}' does not appear to be a git "
                        "repository (check the URL and your git/ssh credentials)\n")
    assert not (site_project.cache_dir / "publish").exists()  # failed before building anything
    # a relative base URL would publish a feed of relative links: refused, one line, nothing built
    target = tmp_path / "www"
    r = cli(site_project, "--to", f"dir:{target}", "--base-url", "/recap/")
    assert r.exit_code == 1 and not target.exists()
    assert r.output == (f"Error: {site_project.root / 'recap.toml'}: the base URL '/recap/' is not an absolute "
                        "http(s) URL, so the podcast feed's links would be relative: set [site] base_url = "
                        '"https://example.org/recap/" (or --base-url)\n')


def test_build_warns_once_without_a_base_url(project):
    from click.testing import CliRunner

    from pipeline.cli import main

    r = CliRunner().invoke(main, ["-C", str(project.root), "build"])
    assert r.exit_code == 0
    warnings = [line for line in r.output.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "set [site] base_url" in warnings[0]
    r = CliRunner().invoke(main, ["-C", str(project.root), "build", "--base-url", "https://example.org/"])
    assert "Warning" not in r.output


@pytest.mark.slow
def test_publish_the_seed_site_to_git(seeds, project, tmp_path):
    """The real seed episode, show notes and paper sources, built, checked and pushed to a bare repo."""

    from pipeline.jobs.episode import align_if_ready
    from pipeline.sources.notes import apply_notes, parse_notes
    from pipeline.sources.papers import import_papers
    from pipeline.sources.transcripts import import_transcript

    slug = "neurips-2023-recap"
    import_papers(project, [seeds / "paper-listing.txt", seeds / "research-highlights-blog.txt",
                            seeds / "neurips-2023-day5-notes.txt"])
    import_transcript(project, seeds / "neurips-2023-recap.transcript.txt", slug)
    apply_notes(project, slug, parse_notes(seeds / "neurips-2023-recap.shownotes-dev.txt"))
    align_if_ready(project, slug)
    remote = tmp_path / "pages.git"
    git("init", "-q", "--bare", str(remote))
    report = publish(project, PublishOptions(to=f"git:{remote}:gh-pages", base_url=BASE))
    assert report.urls() == [BASE, f"{BASE}episodes/{slug}/"]

    clone = tmp_path / "clone"
    git("clone", "-q", "-b", "gh-pages", str(remote), str(clone))
    assert git("rev-list", "--count", "HEAD", cwd=clone).strip() == "1"
    assert (clone / ".nojekyll").exists() and (clone / "search-index" / "meta.json").exists()
    page = (clone / "episodes" / slug / "index.html").read_text("utf-8")
    ep = project.content.load_episode(slug)
    assert len([c for c in ep.chapters if c.source == "notes"]) == 6  # and those found after the notes stop
    from markupsafe import escape

    for chapter in ep.chapters:
        assert str(escape(chapter.title)) in page
    papers = project.content.load_papers()
    assert len(papers) > 158
    missing = [pid for pid in papers if not (clone / "papers" / pid / "index.html").exists()]
    assert missing == []
    # no audio: not a podcast item (apps skip those), but in the site's episode feed
    assert "<item>" not in (clone / "feed.xml").read_text("utf-8")
    assert f"<id>{BASE}episodes/{slug}/</id>" in (clone / "episodes" / "feed.xml").read_text("utf-8")
