"""Generate conference-scale content for the site benchmark: a deterministic fake NeurIPS.

    python bench/gen_conference.py PROJECT_DIR [--papers 3586] [--episodes 50] [--seed 2023]

Writes, through :class:`pipeline.content.ContentStore` and the typed models (so ``recap build``
reads it like any other project):

* 3,586 papers with varied titles (templates over an ML vocabulary), 1 to 14 authors, and
  abstracts whose lengths follow a NeurIPS-like spread (about 90 to 320 words);
* 50 episodes of 1 to 3 hours shaped like the seed recap episode: a host intro, then talks and
  poster-session interviews of 6 to 20 minutes, each linked to a paper; one transcript line per
  ~2.5 s (varying), speaker labels mapped to people, paper mentions at the hand-over and in later
  chapters, a summary per chapter;
* a Poster for each poster-session chapter, and a Person for every host and presenter.

The same seed gives byte-identical content. No text is taken from the seeds: every sentence is
built from the word lists below.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.config import init_project, open_project  # noqa: E402
from pipeline.ids import slugify  # noqa: E402
from pipeline.models import (  # noqa: E402
    Chapter,
    Episode,
    Mention,
    Paper,
    PaperNote,
    Person,
    Poster,
    Summary,
    SummarySentence,
    Transcript,
    Utterance,
)

# -- vocabulary -------------------------------------------------------------------------------
ADJ = ["Scalable", "Efficient", "Robust", "Sparse", "Latent", "Adaptive", "Causal", "Contrastive",
       "Hierarchical", "Implicit", "Provable", "Federated", "Multimodal", "Self-Supervised", "Bayesian",
       "Differentiable", "Equivariant", "Continual", "Offline", "Compositional", "Generalizable",
       "Interpretable", "Private", "Stable", "Structured", "Unsupervised", "Zero-Shot", "Few-Shot",
       "Long-Context", "Low-Rank", "Memory-Efficient", "Neural", "Probabilistic", "Geometric"]
NOUN = ["Transformers", "Diffusion Models", "Language Models", "Graph Networks", "Policies",
        "Representations", "Reward Models", "Optimizers", "Kernels", "Embeddings", "Agents",
        "World Models", "Tokenizers", "Attention", "Autoencoders", "Normalizing Flows", "Mixtures of Experts",
        "State Space Models", "Vision Encoders", "Retrievers", "Value Functions", "Neural Fields",
        "Preference Models", "Score Functions", "Adapters", "Planners", "Classifiers", "Samplers"]
TASK = ["Reasoning", "Code Generation", "Protein Design", "Image Synthesis", "Speech Recognition",
        "Question Answering", "Robot Manipulation", "Molecule Generation", "Time Series Forecasting",
        "Instruction Following", "Theorem Proving", "Video Understanding", "Tabular Learning",
        "Weather Prediction", "Machine Translation", "Semantic Segmentation", "Recommendation",
        "Anomaly Detection", "Causal Discovery", "Exploration", "Alignment", "Data Selection",
        "Program Synthesis", "3D Reconstruction", "Summarization", "Tool Use", "Domain Adaptation"]
METHOD = ["Preference Optimization", "Quantized Finetuning", "Score Matching", "Distillation",
          "Curriculum Learning", "Test-Time Adaptation", "Prompt Tuning", "Model Merging",
          "Gradient Surgery", "Optimal Transport", "Spectral Regularization", "Token Pruning",
          "Retrieval Augmentation", "Chain-of-Thought Prompting", "Reward Shaping", "Weight Decay",
          "Data Augmentation", "Active Learning", "Mirror Descent", "Flow Matching", "Pruning",
          "Speculative Decoding", "Synthetic Data", "Self-Play", "Meta-Learning", "Ensembling"]
PROPERTY = ["Sample Complexity", "Implicit Bias", "Expressivity", "Calibration", "Scaling Behaviour",
            "Robustness", "Convergence", "Memorization", "Emergence", "Generalization", "Sharpness",
            "Identifiability", "Fairness", "Stability", "Privacy"]
VERB = ["Plan", "Reason", "Compress", "Explore", "Forget", "Generalize", "Align", "Search",
        "Imitate", "Calibrate", "Abstain", "Cooperate", "Extrapolate", "Remember"]
DATA = ["Human Feedback", "Unlabeled Video", "Synthetic Proofs", "Web Text", "Simulation",
        "Demonstrations", "Noisy Labels", "Few Examples", "Scientific Papers", "Sensor Streams"]
FIRST = ["Wei", "Yuki", "Amara", "Luca", "Priya", "Mateo", "Sofia", "Kwame", "Elena", "Hiro", "Noor",
         "Jonas", "Ananya", "Diego", "Mei", "Olga", "Tomás", "Fatima", "Kai", "Ingrid", "Ravi", "Leila",
         "Marco", "Chen", "Aisha", "Sven", "Rosa", "Jae-won", "Nadia", "Pablo", "Zara", "Emil", "Ines",
         "Arjun", "Hana", "Felix", "Lucía", "Oren", "Maya", "Bruno", "Yara", "Dmitri", "Keiko", "Samuel",
         "Thandiwe", "Nikolai", "Carmen", "Tariq", "Astrid", "Rohan", "Mina", "Gabriel", "Ewa", "Tobias"]
LAST = ["Zhang", "Tanaka", "Okafor", "Rossi", "Sharma", "García", "Costa", "Mensah", "Petrova", "Sato",
        "Haddad", "Becker", "Iyer", "Fernández", "Liu", "Ivanova", "Silva", "Rahman", "Nguyen", "Larsen",
        "Gupta", "Karimi", "Bianchi", "Wang", "Bello", "Lindqvist", "Moreno", "Park", "Kowalski", "Ruiz",
        "Ahmed", "Fischer", "Dubois", "Patel", "Kim", "Novak", "Alves", "Cohen", "Müller", "Yamamoto",
        "Osei", "Horvat", "Jensen", "Chowdhury", "Schmidt", "Tran", "Ortiz", "Nakamura", "Wójcik", "Li",
        "Abara", "Santos", "Keller", "Mishra", "Ito", "Hughes", "Kaplan", "Eriksen", "Bose", "Reyes"]
ABSTRACT_SENTENCES = [
    "{adj} {noun} have become a standard tool for {task}, yet their {prop} remains poorly understood.",
    "We study {prop} in {adj} {noun} trained with {method}.",
    "Existing approaches to {task} rely on {data}, which is expensive to collect and hard to audit.",
    "We introduce {acr}, a {adj_l} approach that combines {method} with {noun_l}.",
    "Our key insight is that {method} can be cast as a simple objective over {noun_l}, "
    "removing the need for a separate {noun_s}.",
    "Theoretically, we show that {acr} enjoys a bound on {prop_l} that improves on prior work by a logarithmic factor.",
    "Empirically, {acr} matches or outperforms strong baselines on {n} benchmarks for {task}, "
    "while using {k}x less compute.",
    "We further find that {prop_l} emerges only beyond a critical scale, and we characterise when it appears.",
    "Ablations show that both the {method_l} term and the {adj_l} parameterisation are necessary.",
    "On {task}, our models trained from {data_l} reach {pct}% of the performance of models trained on curated data.",
    "We release code, checkpoints and a benchmark of {n}k examples to support further research.",
    "Surprisingly, a small {noun_s} finetuned with {method_l} transfers to {task_l} without additional supervision.",
    "We analyse failure cases and discuss the limitations of {method_l} when {data_l} is scarce.",
    "Our analysis connects {prop_l} to the geometry of the loss landscape of {noun_l}.",
    "Experiments across {n} model sizes reveal a predictable scaling law for {task_l}.",
    "This suggests that {prop_l} is a property of the data rather than of the architecture.",
]
HOST_LINES = [
    "Welcome back to the show, we are coming to you from the conference floor.",
    "Next up we have a paper that a lot of people were talking about this week.",
    "Here's {name} presenting {short}.",
    "Let's check out the poster for {short}.",
    "This one won an award, so we were lucky to catch the authors.",
    "If you want the slides, they are linked in the show notes.",
    "That was a great talk, let's move on to the next one.",
    "We also caught up with {name} at the poster session.",
]
TALK_LINES = [
    "Hi, I'm {name}, and I'm presenting {short}.",
    "So the question we asked is whether {noun_l} really need {method_l} for {task_l}.",
    "The main idea is pretty simple.",
    "We take {noun_l} and we train them with {method_l} instead of the usual pipeline.",
    "And what we found is that {prop_l} improves a lot, especially at larger scale.",
    "Let me show you the main result on this slide.",
    "On the left you can see the baseline, and on the right {short}.",
    "This works across {n} different benchmarks.",
    "One thing that surprised us was how little data you need.",
    "We think this is because {noun_l} already encode most of the structure.",
    "There are of course limitations, for example when {data_l} is noisy.",
    "Yeah, that's a great question.",
    "So the short answer is yes, but it depends on the budget.",
    "We compared against {other}, which is the closest prior work.",
    "And the code is available, so please try it out.",
    "Right, so in the theory part we prove a bound on {prop_l}.",
    "It's basically a drop-in replacement.",
    "Mm-hmm.",
    "Exactly.",
    "And then we scale this up to much larger models.",
    "The training takes about a day on a single node.",
    "We were also curious whether it helps with {task_l}, and it does.",
]
CONFERENCES = ["NeurIPS 2023"]


def _acronym(rng: random.Random) -> str:
    letters = "ABCDEFGHIKLMNOPRSTVWXZ"
    n = rng.choice([3, 4, 4, 5])
    word = "".join(rng.choice(letters) for _ in range(n))
    return word if rng.random() < 0.7 else word[:-1] + rng.choice(["-2", "Net", "former", "LM"])


def _title(rng: random.Random, acr: str) -> str:
    a, n, t, m = rng.choice(ADJ), rng.choice(NOUN), rng.choice(TASK), rng.choice(METHOD)
    templates = [
        f"{acr}: {a} {n} for {t}",
        f"{m} for {a} {t}",
        f"On the {rng.choice(PROPERTY)} of {n} Trained with {m}",
        f"Towards {a} {t} via {m}",
        f"Learning to {rng.choice(VERB)} from {rng.choice(DATA)}",
        f"{acr}: {m} Makes {n} {rng.choice(['Better', 'Faster', 'Safer', 'Smaller'])} {t} Systems",
        f"When Does {m} Help {n}? A Study of {rng.choice(PROPERTY)}",
        f"{a} {n} Are Secretly {rng.choice(NOUN)}",
        f"Beyond {rng.choice(DATA)}: {a} {t} with {n}",
        f"{acr}: {a} {m} at Scale",
        f"Provably {a.split('-')[0]} {t} with {a} {n}",
        f"Rethinking {m} in {a} {n}",
    ]
    return rng.choice(templates)


def _fill(template: str, rng: random.Random, **known: str) -> str:
    values = {
        "adj": rng.choice(ADJ), "adj_l": rng.choice(ADJ).lower(), "noun": rng.choice(NOUN),
        "noun_l": rng.choice(NOUN).lower(), "noun_s": rng.choice(NOUN).lower().rstrip("s"),
        "task": rng.choice(TASK), "task_l": rng.choice(TASK).lower(), "method": rng.choice(METHOD),
        "method_l": rng.choice(METHOD).lower(), "prop": rng.choice(PROPERTY).lower(),
        "prop_l": rng.choice(PROPERTY).lower(), "data": rng.choice(DATA).lower(),
        "data_l": rng.choice(DATA).lower(), "n": str(rng.randint(3, 40)), "k": str(rng.randint(2, 12)),
        "pct": str(rng.randint(80, 99)), "acr": "our method", "name": "our guest", "short": "this work",
        "other": "prior work",
    }
    values.update(known)
    text = template.format(**values)
    return text[0].upper() + text[1:]


def _abstract(rng: random.Random, acr: str) -> str:
    # NeurIPS abstracts: roughly 90 to 320 words, most around 150 to 220.
    target = max(90, min(320, int(rng.gauss(185, 45))))
    words: list[str] = []
    sentences = []
    while len(words) < target:
        s = _fill(rng.choice(ABSTRACT_SENTENCES), rng, acr=acr)
        sentences.append(s)
        words += s.split()
    return " ".join(sentences)


def _person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def make_papers(rng: random.Random, count: int) -> list[Paper]:
    papers: list[Paper] = []
    seen: set[str] = set()
    for i in range(count):
        acr = _acronym(rng)
        title = _title(rng, acr)
        pid = f"2{rng.randint(305, 312):03d}.{rng.randint(1, 29999):05d}"
        while pid in seen:
            pid = f"2{rng.randint(305, 312):03d}.{rng.randint(1, 29999):05d}"
        seen.add(pid)
        n_auth = min(14, max(1, int(rng.expovariate(1 / 4.5)) + 1))
        authors = [_person_name(rng) for _ in range(n_auth)]
        month = int(pid[2:4])
        papers.append(Paper(
            id=pid, title=title, authors=authors, date=f"2023-{month:02d}-{rng.randint(1, 28):02d}",
            abstract=_abstract(rng, acr if ":" in title else "our method"), arxiv=pid,
            url=f"https://arxiv.org/abs/{pid}", venue=CONFERENCES[0],
            aliases=[acr] if title.startswith(acr + ":") else [],
            notes=[PaperNote(source="conference listing", text=f"Poster session {1 + i % 6}.")]
            if rng.random() < 0.3 else [],
            sources=["generated conference listing"],
        ))
    return papers


def make_episode(rng: random.Random, index: int, papers: list[Paper], people: dict[str, Person],
                 hosts: list[Person]) -> tuple[Episode, list[Poster]]:
    duration = rng.uniform(3600, 3 * 3600)
    slug = f"day-{index // 10 + 1}-session-{index % 10 + 1:02d}"
    host = hosts[index % len(hosts)]
    chapters: list[Chapter] = []
    mentions: list[Mention] = []
    posters: list[Poster] = []
    utterances: list[Utterance] = []
    speakers = {"SPEAKER_00": host.id}
    t = 0.0
    intro_end = rng.uniform(60, 240)
    chapters.append(Chapter(start=0.0, end=intro_end, title="Introduction", kind="intro",
                            speakers=[host.id], source="notes"))
    bounds = []
    t = intro_end
    while t < duration - 300:
        length = min(rng.uniform(360, 1200), duration - t)
        bounds.append((t, t + length))
        t += length
    covered: list[Paper] = []
    for ci, (start, end) in enumerate(bounds, start=1):
        paper = rng.choice(papers)
        covered.append(paper)
        presenter_name = paper.authors[0]
        pid = slugify(presenter_name)
        people.setdefault(pid, Person(id=pid, name=presenter_name))
        label = f"SPEAKER_{ci:02d}"
        speakers[label] = pid
        kind = "poster" if rng.random() < 0.45 else "talk"
        short = paper.aliases[0] if paper.aliases else paper.title
        title = f"{short} Poster Session" if kind == "poster" else short
        chapters.append(Chapter(start=round(start, 2), end=round(end, 2), title=title, kind=kind,
                                speakers=[pid] if kind == "talk" else [host.id, pid], paper=paper.id,
                                confidence=round(rng.uniform(0.6, 1.0), 3), source="notes"))
        mentions.append(Mention(paper=paper.id, start=round(start, 2), end=round(start + 4, 2),
                                quote=f"Here's {presenter_name} presenting {short}.", speaker="SPEAKER_00",
                                chapter=ci, kind="chapter"))
        if len(covered) > 2 and rng.random() < 0.5:  # a later chapter cites an earlier paper
            earlier = rng.choice(covered[:-1])
            at = rng.uniform(start + 60, end - 10)
            name = earlier.aliases[0] if earlier.aliases else earlier.title
            mentions.append(Mention(paper=earlier.id, start=round(at, 2), end=round(at + 3, 2),
                                    quote=f"We compared against {name}.", speaker=label, chapter=ci,
                                    kind="name", score=round(rng.uniform(0.5, 1.0), 3)))
        if kind == "poster":
            posters.append(Poster(id=f"{slug}-{ci:02d}", paper=paper.id, episode=slug, start=round(start, 2),
                                  end=round(end, 2), presenters=[pid],
                                  excerpt=f"Hi, I'm {presenter_name}, and I'm presenting {short}."))
    # transcript: one line per ~2.5 s, host at each hand-over, the presenter (with host questions) after
    by_id = {p.id: p for p in covered}
    t = 0.0
    chapter_i = 0
    while t < duration:
        while chapter_i + 1 < len(chapters) and t >= chapters[chapter_i + 1].start:
            chapter_i += 1
        ch = chapters[chapter_i]
        step = max(0.8, rng.gauss(2.5, 0.9))
        into = t - ch.start
        paper = by_id.get(ch.paper) if ch.paper else None
        if ch.kind == "intro" or into < 12 or (ch.kind == "poster" and rng.random() < 0.2):
            label = "SPEAKER_00"
            template = rng.choice(HOST_LINES)
        else:
            label = f"SPEAKER_{chapter_i:02d}"
            template = TALK_LINES[0] if into < 20 else rng.choice(TALK_LINES[1:])
        guest = people[speakers.get(f"SPEAKER_{chapter_i:02d}", host.id)].name if chapter_i else host.name
        short = (paper.aliases[0] if paper and paper.aliases else (paper.title if paper else "our work"))
        text = _fill(template, rng, name=guest, short=short, other=rng.choice(METHOD))
        utterances.append(Utterance(start=round(t, 2), end=round(min(duration, t + step), 2), text=text,
                                    speaker=label))
        t += step
    for ch in chapters[1:]:
        lines = [u for u in utterances if ch.start <= u.start < (ch.end or duration) and u.speaker != "SPEAKER_00"]
        picks = sorted(rng.sample(lines, min(3, len(lines))), key=lambda u: u.start)
        ch.summary = Summary(text=" ".join(u.text for u in picks),
                             sentences=[SummarySentence(text=u.text, start=u.start, end=u.end) for u in picks])
    day = 10 + index // 10
    ep = Episode(slug=slug, title=f"NeurIPS 2023 Day {index // 10 + 1}, Session {index % 10 + 1}",
                 date=f"2023-12-{day:02d}",
                 description=(f"Talks and poster interviews from session {index % 10 + 1} of day "
                              f"{index // 10 + 1}, with {len(bounds)} papers.\n\n"
                              + "\n".join(f"- [{c.start // 3600:.0f}:{c.start % 3600 // 60:02.0f}:"
                                          f"{c.start % 60:02.0f}] {c.title}" for c in chapters[1:])),
                 audio=f"https://media.example.org/neurips-2023/{slug}.mp3", duration=round(duration, 2),
                 speakers=speakers, papers=[c.paper for c in chapters if c.paper],
                 chapters=chapters, mentions=mentions,
                 transcript=Transcript(utterances=utterances, language="en", source="generated"))
    return ep, posters


def generate(root: Path, *, n_papers: int = 3586, n_episodes: int = 50, seed: int = 2023) -> dict[str, int]:
    """Fill the project at ``root`` (created if needed) with a generated conference."""
    if not (root / "recap.toml").exists():
        init_project(root, "NeurIPS 2023 (generated)")
    project = open_project(root)
    store = project.content
    rng = random.Random(seed)
    papers = make_papers(rng, n_papers)
    hosts = [Person(id=slugify(n), name=n, host=True) for n in ("Alex Moreau", "Sam Okonkwo", "Jo Lindgren")]
    people = {h.id: h for h in hosts}
    episodes, posters = [], []
    for i in range(n_episodes):
        ep, eps_posters = make_episode(rng, i, papers, people, hosts)
        episodes.append(ep)
        posters += eps_posters
    for p in papers:
        store.save_paper(p)
    for person in people.values():
        store.save_person(person)
    for poster in posters:
        store.save_poster(poster)
    for ep in episodes:
        store.save_episode(ep)
    return {"papers": len(papers), "episodes": len(episodes), "posters": len(posters), "people": len(people),
            "utterances": sum(len(e.transcript.utterances) for e in episodes),
            "hours": round(sum(e.duration or 0 for e in episodes) / 3600, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--papers", type=int, default=3586)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2023)
    args = ap.parse_args()
    t0 = time.perf_counter()
    stats = generate(args.project, n_papers=args.papers, n_episodes=args.episodes, seed=args.seed)
    print(f"generated in {time.perf_counter() - t0:.1f} s into {args.project}: "
          + ", ".join(f"{v} {k}" for k, v in stats.items()))


if __name__ == "__main__":
    main()
