"""The README stays true: every command is documented with an example, and its options exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from pipeline.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
EXAMPLES = [line for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", README, re.S)
            for line in block.splitlines() if line.startswith("recap ")]


def _commands(group: click.Group, prefix: str = "recap") -> dict[str, click.Command]:
    out = {}
    for name, cmd in group.commands.items():
        full = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            out.update(_commands(cmd, full))
        else:
            out[full] = cmd
    return out


def test_every_command_has_an_example_in_the_readme():
    missing = [name for name in _commands(main) if not any(re.match(rf"{re.escape(name)}\b", e) for e in EXAMPLES)]
    assert not missing, f"commands without an example in README.md: {missing}"


def test_every_option_in_a_readme_example_exists():
    commands = _commands(main)
    wrong = []
    for line in EXAMPLES:
        words = shlex.split(line.split("  #")[0])
        name = next((n for n in sorted(commands, key=len, reverse=True) if " ".join(words).startswith(n)), None)
        assert name, f"README example of an unknown command: {line}"
        known = {o for p in commands[name].params for o in getattr(p, "opts", [])} | {"-h", "--help"}
        known |= {"-C", "--project", "-v", "-q", "--quiet", "--verbose"}
        wrong += [f"{name}: {w}" for w in words if w.startswith("-") and w.split("=")[0] not in known]
    assert not wrong, f"README examples use options that do not exist: {wrong}"
