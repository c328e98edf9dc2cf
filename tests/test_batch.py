"""recap batch: manifests and the command line's choices (fast, no audio work)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, InputError
from pipeline.jobs.batch import options_key
from pipeline.jobs.manifest import items_from_paths, read_manifest
from pipeline.jobs.tasks import BatchOptions


def test_toml_manifest_rows_and_relative_paths(tmp_path: Path) -> None:
    m = tmp_path / "talks" / "batch.toml"
    m.parent.mkdir()
    m.write_text('[[recording]]\naudio = "day1/Keynote Talk.mp3"\n\n'
                 '[[recording]]\naudio = "/data/b.wav"\nepisode = "dpo-poster"\ntitle = "DPO"\n'
                 'notes = "b.md"\npapers = ["dpo.bib", "more.json"]\n')
    a, b = read_manifest(m)
    assert a.audio == m.parent / "day1" / "Keynote Talk.mp3" and a.slug == "keynote-talk"
    assert a.title is None and a.notes is None and a.papers == ()
    assert b.audio == Path("/data/b.wav") and b.slug == "dpo-poster" and b.title == "DPO"
    assert b.notes == m.parent / "b.md" and b.papers == (m.parent / "dpo.bib", m.parent / "more.json")


def test_json_and_csv_manifests_agree(tmp_path: Path) -> None:
    rows = [{"audio": "a.wav", "episode": "ep-a", "title": "A"}, {"audio": "b.flac", "papers": ["x.bib", "y.bib"]}]
    j = tmp_path / "m.json"
    j.write_text(json.dumps(rows))
    c = tmp_path / "m.csv"
    c.write_text("audio,episode,title,papers\na.wav,ep-a,A,\nb.flac,,,x.bib; y.bib\n")
    assert read_manifest(j) == read_manifest(c)
    assert [i.slug for i in read_manifest(j)] == ["ep-a", "b"]


@pytest.mark.parametrize(("name", "text", "problem"), [
    ("m.toml", "", "no recordings listed"),
    ("m.toml", "[[recording]]\ntitle = 'x'\n", "recording 1: no 'audio'"),
    ("m.json", "[{\"audio\": \"a.wav\", \"speakerz\": 2}]", "recording 1: unknown column(s) speakerz"),
    ("m.json", "{not json", "not a valid JSON manifest"),
    ("m.yaml", "- audio: a.wav", "unknown manifest type"),
    ("m.csv", "audio,episode\na.wav,../escape\n", "recording 1: invalid episode slug '../escape'"),
])
def test_bad_manifests_name_the_file_and_problem(tmp_path: Path, name: str, text: str, problem: str) -> None:
    m = tmp_path / name
    m.write_text(text)
    with pytest.raises(InputError) as err:
        read_manifest(m)
    assert err.value.format_message().startswith(f"{m}: {problem}")
    assert "\n" not in err.value.format_message()


def test_missing_manifest_and_duplicate_slugs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such manifest file"):
        read_manifest(tmp_path / "nope.toml")
    with pytest.raises(InputError, match="episode slug 'talk' is also used by"):
        items_from_paths([tmp_path / "a" / "Talk.wav", tmp_path / "b" / "talk.mp3"])


def test_options_key_is_stable_and_changes_with_options() -> None:
    assert options_key(BatchOptions()) == options_key(BatchOptions())
    assert options_key(BatchOptions(retries=3)) != options_key(BatchOptions())


def test_bad_executor_options(project) -> None:
    from pipeline.jobs.batch import run_batch

    with pytest.raises(ConfigError, match="unknown executor 'dask'"):
        run_batch(project, [], None, BatchOptions(executor="dask"))
    with pytest.raises(ConfigError, match="--retries must be 0 or more"):
        run_batch(project, [], None, BatchOptions(retries=-1))


def test_cli_needs_inputs_or_a_manifest_not_both(run_cli, tmp_path: Path) -> None:
    res = run_cli("batch")
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1] == "Error: nothing to process: give audio files or --manifest FILE"
    m = tmp_path / "m.json"
    m.write_text('[{"audio": "a.wav"}]')
    res = run_cli("batch", tmp_path / "a.wav", "--manifest", m)
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1] == "Error: give either audio files or --manifest, not both"


@pytest.mark.parametrize(("resources", "opts", "device", "items", "expected"), [
    ({"CPU": 32, "GPU": 4}, BatchOptions(), "auto", 100, (4, 1.0, 1.0)),  # one actor per GPU
    ({"CPU": 32, "GPU": 4}, BatchOptions(), "auto", 2, (2, 1.0, 1.0)),  # never more actors than recordings
    ({"CPU": 32, "GPU": 4}, BatchOptions(workers=3), "cuda", 100, (3, 1.0, 1.0)),  # --workers caps
    ({"CPU": 32, "GPU": 4}, BatchOptions(), "cpu", 100, (32, 1.0, 0.0)),  # --device cpu: GPUs unused
    ({"CPU": 32, "GPU": 4}, BatchOptions(gpus_per_worker=0.5), "auto", 100, (8, 1.0, 0.5)),  # 2 per GPU
    ({"CPU": 2}, BatchOptions(), "auto", 4, (2, 1.0, 0.0)),  # CPU-only cluster
    ({"CPU": 8}, BatchOptions(cpus_per_worker=4), "auto", 10, (2, 4, 0.0)),
    ({"CPU": 2}, BatchOptions(workers=6), "auto", 10, (2, 1.0, 0.0)),  # no actors that could never start
])
def test_ray_actor_plan(resources, opts, device, items, expected) -> None:
    from pipeline.jobs.ray import plan_actors

    assert plan_actors(resources, opts, device, items) == expected


def test_a_worker_starts_without_numpy_so_its_thread_counts_apply() -> None:
    """worker_init sets OMP_NUM_THREADS before NumPy/CTranslate2/torch read it; the modules a pool worker or a
    Ray actor imports to start must not import them first (two BLAS threads changed a word of a transcript)."""
    import subprocess
    import sys

    code = ("import sys, pipeline.jobs.tasks, pipeline.jobs.ray; "
            "heavy = [m for m in ('numpy', 'torch', 'ctranslate2') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
