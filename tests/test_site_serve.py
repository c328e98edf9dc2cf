"""`recap serve`: serves the site on 127.0.0.1 (with HTTP ranges, for seeking audio) and rebuilds
only what changed when content/ changes."""

from __future__ import annotations

import queue
import threading
import urllib.request

from pipeline.models import Paper


def test_serve_rebuilds_only_what_changed(project):
    from pipeline.config import open_project
    from pipeline.site.serve import serve

    config = project.root / "recap.toml"  # no paper map: its related lists tie every paper page together
    config.write_text(config.read_text().replace("[site]\n", "[site]\npaper_map = false\n", 1))
    project = open_project(project.root)
    store = project.content
    store.save_paper(Paper(id="p-one", title="Paper one", date="2023-01-01"))
    store.save_paper(Paper(id="p-two", title="Paper two", date="2023-02-01"))
    reports: queue.Queue = queue.Queue()
    ready: queue.Queue = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(project, 0),
                              kwargs={"interval": 0.2, "on_build": reports.put, "on_ready": ready.put, "stop": stop})
    thread.start()
    try:
        first = reports.get(timeout=60)
        assert "papers/p-one/index.html" in first.written
        url = ready.get(timeout=10)
        with urllib.request.urlopen(url + "papers/p-two/") as resp:
            assert resp.status == 200 and b"Paper two" in resp.read()
        req = urllib.request.Request(url + "static/site.css", headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 206 and len(resp.read()) == 10
            assert resp.headers["Content-Range"].startswith("bytes 10-19/")
        # compressed like a static host: pages (also by their folder URL), styles, scripts; not audio
        import gzip

        for rel in ("papers/p-two/", "papers/p-two/index.html", "static/site.css"):
            req = urllib.request.Request(url + rel, headers={"Accept-Encoding": "br, gzip"})
            with urllib.request.urlopen(req) as resp:
                assert resp.headers["Content-Encoding"] == "gzip" and resp.headers["Vary"] == "Accept-Encoding"
                body = gzip.decompress(resp.read())
                assert int(resp.headers["Content-Length"]) < len(body) or rel.startswith("papers/")
            assert body.startswith(b"<!doctype html>") or rel.endswith(".css")
        with urllib.request.urlopen(url + "papers/p-two/") as resp:  # no Accept-Encoding: plain
            assert resp.headers["Content-Encoding"] is None and b"Paper two" in resp.read()

        store.save_paper(Paper(id="p-two", title="Paper two, edited", date="2023-02-01"))
        second = reports.get(timeout=60)
        assert sorted(second.written) == ["papers/index.html", "papers/p-two/index.html"]
        with urllib.request.urlopen(url + "papers/p-two/") as resp:
            assert b"Paper two, edited" in resp.read()

        (store.root / "papers" / "p-one.toml").unlink()
        third = reports.get(timeout=60)
        assert third.removed == ["papers/p-one/index.html"]
        assert not (project.site_dir / "papers" / "p-one").exists()
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
