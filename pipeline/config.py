"""The project folder and its validated configuration (``recap.toml``).

Like git or MkDocs, recap works on the folder it is run in (or the nearest parent holding a
``recap.toml``). Values come from the file, then from command-line options that were given.
All problems are collected and reported at once.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.content import ContentStore
from pipeline.errors import ConfigError, ProjectNotFound

CONFIG_FILE = "recap.toml"


@dataclass
class SiteConfig:
    title: str = "recap"
    """Site name, shown in the header and feeds."""
    base_url: str = "/"
    """Where the site is served: "/" locally, "https://example.org/podcast/" when published."""
    description: str = ""
    language: str = "en"
    author: str = ""
    """The podcast's author and owner (itunes:author, itunes:owner)."""
    email: str = ""
    """The owner's e-mail address (itunes:owner, podcast:locked owner): podcast directories verify it."""
    image: str | None = None
    """Podcast artwork URL or path relative to the site root (1400-3000 px square); without one,
    recap draws static/artwork.png."""
    category: str = "Technology"
    """Apple Podcasts category, "Top" or "Top > Sub" (e.g. "Science > Natural Sciences")."""
    explicit: bool = False
    """itunes:explicit of the feed."""
    show_report: bool = False
    """List the per-episode quality reports in the public index (they are built either way)."""
    paper_map: bool = True
    """Build the paper map (map/) and the "related papers" lists: sentence embeddings of every paper's
    title and abstract, cached under .cache/recap/viz (the first build of a big catalog takes a while)."""


@dataclass
class PublishConfig:
    to: str | None = None
    """Target: "git:BRANCH", "git:REMOTE:BRANCH", "dir:PATH" or "rsync:[HOST:]PATH"."""
    cname: str | None = None
    """Custom domain written to CNAME on git targets (GitHub/GitLab Pages)."""
    message: str = "Publish site"
    """Commit message on git targets."""
    keep_releases: int = 5
    """dir: targets keep this many release folders (the live one included) for a quick rollback."""


@dataclass
class TranscribeConfig:
    model: str = "auto"
    """faster-whisper model name or CTranslate2 folder; "auto" picks by device."""
    device: str = "auto"
    """auto | cuda | cpu"""
    language: str | None = None
    diarizer: str = "embedded"
    """embedded | resemblyzer | pyannote | none"""
    hf_token_env: str = "HF_TOKEN"
    """Environment variable holding the Hugging Face token for pyannote models."""
    pyannote_model: str = "pyannote/speaker-diarization-community-1"
    """pyannote.audio pipeline: a Hub id or a local pipeline folder (for --diarizer pyannote)."""


@dataclass
class SummaryConfig:
    backend: str = "extractive"
    """extractive (offline) | llm (OpenAI-compatible endpoint)"""
    url: str | None = None
    """Base URL of the OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1"""
    model: str | None = None
    api_key_env: str = "RECAP_LLM_API_KEY"
    max_words: int = 80


@dataclass
class AlignConfig:
    section_length: float = 300.0
    """Seconds: the typical length of a topic section found inside a long talk (a talk's sections are
    2-10 minutes); stretches longer than five of these without a hand-over are split into sections."""


@dataclass
class Config:
    site: SiteConfig = field(default_factory=SiteConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    transcribe: TranscribeConfig = field(default_factory=TranscribeConfig)
    summaries: SummaryConfig = field(default_factory=SummaryConfig)
    align: AlignConfig = field(default_factory=AlignConfig)


# Apple Podcasts' categories (https://podcasters.apple.com/support/1691-apple-podcasts-categories)
APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": ("Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit"),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": ("Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality"),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": ("Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies", "Home & Garden",
                "Video Games"),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": ("Business News", "Daily News", "Entertainment News", "News Commentary", "Politics", "Sports News",
             "Tech News"),
    "Religion & Spirituality": ("Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion",
                                "Spirituality"),
    "Science": ("Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics", "Natural Sciences",
                "Nature", "Physics", "Social Sciences"),
    "Society & Culture": ("Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships"),
    "Sports": ("Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey", "Rugby",
               "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness", "Wrestling"),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}


def split_category(value: str) -> tuple[str, str | None] | None:
    """``"Science > Physics"`` -> ("Science", "Physics"); None when Apple has no such category."""
    top, _, sub = (part.strip() for part in value.partition(">"))
    if top not in APPLE_CATEGORIES or (sub and sub not in APPLE_CATEGORIES[top]):
        return None
    return top, sub or None


_CHOICES = {
    ("transcribe", "device"): {"auto", "cuda", "cpu"},
    ("transcribe", "diarizer"): {"embedded", "resemblyzer", "pyannote", "none"},
    ("summaries", "backend"): {"extractive", "llm"},
}


def load_config(path: Path | None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Read ``path`` (may be missing), apply ``overrides`` ({section: {key: value}}), validate."""
    data: dict[str, Any] = {}
    if path is not None and path.exists():
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})
    errors: list[str] = []
    sections = {}
    for f in dataclasses.fields(Config):
        raw = data.pop(f.name, {})
        cls: Any = f.default_factory  # each section's dataclass
        if not isinstance(raw, dict):
            errors.append(f"[{f.name}] must be a table")
            continue
        known = {x.name: x for x in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in raw.items():
            if key not in known:
                errors.append(f"[{f.name}] unknown key {key!r}")
                continue
            default = getattr(cls(), key)
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)  # "section_length = 240"
            if default is not None and not isinstance(value, type(default)):
                errors.append(f"[{f.name}] {key} must be {type(default).__name__}, got {value!r}")
                continue
            allowed = _CHOICES.get((f.name, key))
            if allowed and value not in allowed:
                errors.append(f"[{f.name}] {key} must be one of {', '.join(sorted(allowed))}")
                continue
            if (f.name, key) == ("site", "category") and split_category(value) is None:
                errors.append(f"[site] category {value!r} is not an Apple Podcasts category "
                              '(e.g. "Technology" or "Science > Natural Sciences")')
                continue
            kwargs[key] = value
        sections[f.name] = cls(**kwargs)
    errors += [f"unknown section [{name}]" for name in data]
    if errors:
        where = path if path is not None else CONFIG_FILE
        raise ConfigError(f"{where}: " + "; ".join(errors))
    cfg = Config(**sections)
    if not cfg.site.base_url.endswith("/"):
        cfg.site.base_url += "/"
    return cfg


def is_absolute_url(url: str) -> bool:
    """An http(s) URL with a host: what feeds and canonical links must be built on."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def default_templates() -> Path:
    """The packaged default theme (``templates/`` at the top of the repository): that of the source
    checkout this module runs from when there is one (a second checkout on ``PYTHONPATH`` renders with
    its own theme, not with that of the checkout installed in editable mode), else the installed one."""
    from importlib.resources import files

    checkout = Path(__file__).resolve().parent.parent / "templates"
    if (checkout / "base.html").is_file() and (checkout / "__init__.py").is_file():
        return checkout
    return Path(str(files("pipeline.templates")))


@dataclass
class Project:
    root: Path
    config: Config

    @property
    def content(self) -> ContentStore:
        if not hasattr(self, "_store"):
            self._store = ContentStore(self.root / "content", cache_dir=self.cache_dir / "parsed")
        return self._store

    @property
    def site_dir(self) -> Path:
        return self.root / "site"

    @property
    def cache_dir(self) -> Path:
        return self.root / ".cache" / "recap"

    @property
    def template_dirs(self) -> list[Path]:
        """Project templates first (they override), then the packaged defaults."""
        dirs = [self.root / "templates", default_templates()]
        seen: list[Path] = []
        for d in dirs:
            if d.is_dir() and d.resolve() not in [s.resolve() for s in seen]:
                seen.append(d)
        return seen


def find_root(start: Path) -> Path | None:
    start = start.resolve()
    for d in [start, *start.parents]:
        if (d / CONFIG_FILE).is_file():
            return d
    return None


def open_project(start: Path | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Project:
    start = Path.cwd() if start is None else Path(start)
    root = find_root(start)
    if root is None:
        raise ProjectNotFound(
            f"{start.resolve()} is not a recap project (no {CONFIG_FILE} here or above)",
            hint="run `recap init DIR` to start one",
        )
    return Project(root=root, config=load_config(root / CONFIG_FILE, overrides))


DEFAULT_CONFIG = """\
# recap project configuration. Every key is optional; see README.md for all of them.
[site]
title = "{title}"
base_url = "/"
description = ""

[transcribe]
model = "auto"      # faster-whisper model name or CTranslate2 folder; auto = tiny.en on CPU, large-v3-turbo on CUDA
device = "auto"     # auto | cuda | cpu
diarizer = "embedded"  # embedded | resemblyzer | pyannote | none

[summaries]
backend = "extractive"  # extractive | llm
"""


def init_project(path: Path, title: str | None = None) -> Path:
    path = Path(path)
    if (path / CONFIG_FILE).exists():
        raise ConfigError(f"{path / CONFIG_FILE} already exists: this folder is a recap project")
    for sub in ("content/episodes", "content/papers", "content/posters", "content/people", "templates"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    from pipeline.files import atomic_write

    atomic_write(path / CONFIG_FILE, DEFAULT_CONFIG.format(title=(title or path.resolve().name).replace('"', "'")))
    gitignore = path / ".gitignore"
    if not gitignore.exists():
        atomic_write(gitignore, "site/\n.cache/\ncontent/.recap/locks/\n")
    return path
