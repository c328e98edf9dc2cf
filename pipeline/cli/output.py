"""What the command line shows while it works: progress bars, tables, reports (rich, on the terminal only;
library code logs and returns records, it never prints)."""

from __future__ import annotations

from typing import Any

from pipeline.jobs.tasks import BatchReport, ItemReport, Progress
from pipeline.report import Report
from pipeline.timefmt import format_timestamp


class ProgressBars:
    """Rich progress bars on stderr, one per stage, in audio time with an ETA. Use as a context
    manager; the instance is the ``progress(stage, done, total)`` callback."""

    def __init__(self, enabled: bool = True, unit: str = "audio") -> None:
        self.enabled = enabled
        self.unit = unit  # "audio": done/total are seconds of audio; else a count of this unit ("papers")
        self._bars: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> ProgressBars:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            unit = self.unit

            class AudioTime(TextColumn):
                def render(self, task: Any) -> Any:
                    from rich.text import Text

                    if unit != "audio":
                        return Text(f"{int(task.completed)} / {int(task.total or 0)} {unit}")
                    return Text(f"{format_timestamp(task.completed)} / {format_timestamp(task.total or 0)} audio")

            self._bars = Progress(TextColumn("{task.description:<10}"), BarColumn(), AudioTime(""),
                                  TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self._bars.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bars is not None:
            self._bars.__exit__(*exc)

    def __call__(self, stage: str, done: float, total: float) -> None:
        if self._bars is None:
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._bars.add_task(stage, total=max(total, 1e-6))
        self._bars.update(self._tasks[stage], completed=min(done, total), total=max(total, 1e-6))


class BatchBars(Progress):
    """One bar for the whole batch: recordings done/failed, hours of audio done, ETA."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._progress: Any = None
        self._task: Any = None
        self._done_seconds = 0.0

    def start(self, report: BatchReport, total_seconds: float) -> None:
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RProgress

        self._progress = RProgress(
            TextColumn("[bold]batch"), BarColumn(), TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
            transient=False)
        self._progress.start()
        self._task = self._progress.add_task("batch", total=max(total_seconds, 1.0), status=self._status(report))

    def _status(self, report: BatchReport) -> str:
        done, skipped, failed = report.count("done"), report.count("skipped"), report.count("failed")
        return (f"{done + skipped}/{len(report.items)} done ({skipped} skipped), {failed} failed, "
                f"{self._done_seconds / 3600:.2f} h audio")

    def update(self, item: ItemReport, report: BatchReport) -> None:
        if self._progress is None:
            return
        self._done_seconds += item.duration
        self._progress.update(self._task, completed=self._done_seconds, status=self._status(report))

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def summary_table(report: BatchReport) -> Any:
    from rich.table import Table

    from pipeline.timefmt import format_timestamp

    table = Table(title="recap batch")
    for col in ("episode", "audio", "length", "status", "tries", "time", "error"):
        table.add_column(col, overflow="fold")
    for r in report.items:
        style = {"failed": "red", "skipped": "dim"}.get(r.status, "")
        table.add_row(r.item.slug, r.item.audio.name, format_timestamp(r.duration) if r.duration else "-",
                      r.status, str(r.attempts), f"{r.seconds:.1f} s" if r.seconds else "-", r.error, style=style)
    return table


def print_report(report: Report, console: Any = None, limit: int | None = 30) -> None:
    """The ranked list as a rich table (the CLI's ``recap report SLUG``)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    if not report.issues:
        console.print(f"[green]{report.slug}: nothing suspicious found[/green]")
        return
    shown = report.issues if limit is None else report.issues[:limit]
    table = Table(title=f"Quality report: {report.title} ({len(report.issues)} passages, worst first)",
                  title_justify="left", expand=False)
    table.add_column("#", justify="right")
    table.add_column("severity", justify="right")
    table.add_column("at", justify="right")
    table.add_column("kind")
    table.add_column("speaker")
    table.add_column("what", overflow="fold")
    for n, it in enumerate(shown, 1):
        style = "red" if it.severity >= 0.75 else ("yellow" if it.severity >= 0.5 else "")
        what = escape(it.message) + (f"\n[dim]{escape(it.text)}[/dim]" if it.text and it.text not in it.message else "")
        table.add_row(str(n), f"[{style}]{it.severity:.2f}[/{style}]" if style else f"{it.severity:.2f}",
                      it.clock, it.kind, escape(it.speaker or ""), what)
    console.print(table)
    if limit is not None and len(report.issues) > limit:
        console.print(f"… {len(report.issues) - limit} more (use --all)")
