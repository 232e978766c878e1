"""What every command shares: the console, error handling, progress bars, global flags."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from typer._click.exceptions import ClickException

from cpaudit.errors import CpauditError
from cpaudit.version import __version__

console = Console(stderr=True)
out_console = Console()


@dataclass
class GlobalState:
    quiet: bool = False


state = GlobalState()


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Exit codes CI can trust: bad input (CpauditError, including ConfigError) is one line and exit 2; any
    other exception is a bug, exit 3, with one line naming the file its traceback was saved to. A crash must
    never read as exit 1, which means a privacy gate failed."""
    try:
        yield
    except (typer.Exit, typer.Abort, ClickException):  # usage errors: the command group prints them, exit 2
        raise
    except CpauditError as e:
        fail(str(e))
    except KeyboardInterrupt:
        console.print("interrupted; the last complete checkpoint is kept", highlight=False)
        raise typer.Exit(130) from None
    except MemoryError as e:  # numpy's says what it tried to allocate: the reader sees which array was too big
        what = str(e).splitlines()[0] if str(e) else "MemoryError"
        fail(
            f"out of memory ({what}): use fewer or smaller images (--resize), or a smaller --batch-size where the "
            "command takes one"
        )
    except Exception as e:  # noqa: BLE001 - everything else is ours to fix
        fail(internal_error_line(e), code=3)


def internal_error_line(e: BaseException) -> str:
    """Save the current traceback to a file and return the one line that names it."""
    fd, path = tempfile.mkstemp(prefix="cpaudit-traceback-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write(f"cpaudit {__version__}\n{traceback.format_exc()}")
    return (
        f"internal error ({type(e).__name__}: {e}) - a bug in cpaudit, not a verdict on your model; "
        f"traceback saved to {path}"
    )


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """Yield advance(step=None, total=None, metrics=None); a no-op under --quiet.

    The bar appears at the first advance, so an input error raised before any work prints no bar.
    """
    if state.quiet:
        yield lambda *a, **k: None
        return
    if not console.is_terminal:  # a CI log: plain lines every few seconds instead of a bar nobody sees
        yield plain_progress(description, total)
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    task = progress.add_task(description, total=total, metrics="")

    def advance(
        step: int | None = None,
        total_: int | None = None,
        metrics: dict[str, float] | None = None,
        description: str | None = None,
    ) -> None:
        if not progress.live.is_started:
            progress.start()
        fields: dict[str, Any] = {} if description is None else {"description": description}
        if metrics is not None:
            fields["metrics"] = " ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        if step is None:
            progress.update(task, advance=1, **fields)
        else:
            progress.update(task, completed=step, total=total_ if total_ is not None else total, **fields)

    try:
        yield advance
    finally:
        if progress.live.is_started:  # stopping a bar never shown would print a blank line before an error
            progress.stop()


PLAIN_EVERY_S = 5.0


@dataclass
class _PlainState:
    """What plain_progress's advance() remembers between calls."""

    total: int | None
    stage: str
    last: float  # the clock when the last line was printed
    done: int = 0
    metrics: str = ""


def plain_progress(
    description: str, total: int | None, every_s: float = PLAIN_EVERY_S, clock: Callable[[], float] = time.monotonic
) -> Callable[..., None]:
    """advance() for a log: one line such as 'demo: train memorising model 1200/4000 (30%), 45 s' at most
    every `every_s` seconds, and at once when the stage changes, so a CI log shows the work is alive."""
    t0 = clock()
    state_ = _PlainState(total=total, stage=description, last=-every_s)

    def advance(
        step: int | None = None,
        total_: int | None = None,
        metrics: dict[str, float] | None = None,
        description: str | None = None,
    ) -> None:
        changed = description is not None and description != state_.stage
        if description is not None:
            state_.stage = description
        state_.done = state_.done + 1 if step is None else step
        if total_ is not None:
            state_.total = total_
        if metrics is not None:  # {} clears the previous stage's metrics
            state_.metrics = "".join(f" {k} {v:.4g}" for k, v in metrics.items())
        now = clock()
        if not changed and now - state_.last < every_s:
            return
        state_.last = now
        tot = state_.total
        # A count without a total says nothing ("audit: 5"): a stage alone names where the work is.
        where = f": {state_.done}/{tot} ({state_.done / tot:.0%})" if tot else ""
        console.print(
            f"{state_.stage}{where}{state_.metrics}, {now - t0:.0f} s",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )

    return advance


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    console.print(f"warning: {message}", highlight=False, soft_wrap=True, markup=False)


def info(message: str) -> None:
    if not state.quiet:  # plain text: "[not deployed]" or a user's path in brackets is not rich markup
        console.print(message, highlight=False, soft_wrap=True, markup=False)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")
