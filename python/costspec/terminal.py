"""Tables and the progress bar, laid out by rich to fit the terminal.

rich is imported only here, and only when a table or a bar is drawn: ``costspec estimate`` and
``costspec validate`` never pay for it. Every cell is plain text (``rich.text.Text``), never
markup: a catalog name like ``[bold]x`` is shown as written.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Callable, TextIO

# Wide enough that a table written to a file or a pipe is never wrapped (a terminal's width is used
# when the output is a terminal).
UNWRAPPED = 10_000
MIN_WIDTH = 20
MAX_BAR = 120  # the progress bar's widest (it fills a narrower terminal)


def width(stream: TextIO) -> int:
    """The columns a table may take on ``stream``: its terminal's (``COLUMNS`` when set, as for
    any command), else no limit."""
    try:
        if not stream.isatty():
            return UNWRAPPED
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return max(int(columns), MIN_WIDTH)
        return max(os.get_terminal_size(stream.fileno()).columns, MIN_WIDTH)
    except (AttributeError, ValueError, OSError):
        return UNWRAPPED if not _isatty(stream) else 80


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def table(head: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[bool] | None = None,
          indent: int = 0, columns: int | None = None) -> str:
    """``rows`` under ``head`` as aligned text (``right[i]``: column i right-aligned), two spaces
    between columns, lines without trailing blanks; cells wrap only when ``columns`` (default: the
    terminal's width for stdout) is too narrow for them."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    limit = columns if columns is not None else width(sys.stdout)
    t = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0), header_style="",
              show_header=True)
    for i, h in enumerate(head):
        t.add_column(Text(h), justify="right" if right and right[i] else "left", no_wrap=limit >= UNWRAPPED)
    for r in rows:
        t.add_row(*(Text(str(c)) for c in r))
    out = io.StringIO()
    console = Console(file=out, width=limit, color_system=None, force_terminal=False, highlight=False,
                      emoji=False, markup=False, legacy_windows=False, soft_wrap=False)
    console.print(Padding(t, (0, 0, 0, indent)) if indent else t)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").split("\n"))


@contextmanager
def progress_bar(total: int, stream: TextIO | None = None) -> Iterator[Callable[[int, int], None]]:
    """A bar on ``stream`` (stderr) fitted to the terminal's width: percent, points done of the
    total, points/s, rows kept, time left. Yields the callback a run reports to; the bar is removed
    when the run ends (the summary follows)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress as Bar, ProgressColumn, TaskProgressColumn, TimeRemainingColumn
    from rich.table import Column
    from rich.text import Text

    started = time.perf_counter()
    kept = [0]

    class Counts(ProgressColumn):
        def render(self, task: Any) -> Text:
            rate = task.completed / max(time.perf_counter() - started, 1e-9)
            return Text(f"{task.completed:,.0f}/{task.total:,.0f} points · {rate:,.0f} points/s · "
                        f"{kept[0]:,} kept", no_wrap=True, overflow="ellipsis")

    out = stream or sys.stderr
    console = Console(file=out, width=min(width(out), MAX_BAR), highlight=False, markup=False, emoji=False)
    bar = Bar(BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=5)),
              TaskProgressColumn(), Counts(table_column=Column(no_wrap=True, overflow="ellipsis")),
              TimeRemainingColumn(), console=console, transient=True, expand=True)
    task = bar.add_task("points", total=total)
    lock = threading.Lock()

    def advance(points: int, rows: int) -> None:
        with lock:
            kept[0] += rows
            bar.update(task, advance=points)

    with bar:
        yield advance
