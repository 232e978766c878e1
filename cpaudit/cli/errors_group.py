"""A Typer group whose usage errors are one line on stderr with exit code 2 (not a boxed panel)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer import _click as click  # Typer vendors its own click; its exceptions live here
from typer._click import exceptions as click_exceptions
from typer.core import TyperGroup


class OneLineErrorGroup(TyperGroup):
    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except click_exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx else str(e), err=True)
            rv = 2
        except click_exceptions.ClickException as e:
            ctx = getattr(e, "ctx", None)  # UsageError and its subclasses carry the command's context
            where = f"{ctx.command_path}: " if ctx is not None else ""
            click.echo(f"error: {where}{e.format_message()}".replace("\n", " "), err=True)
            rv = e.exit_code
        except typer.Abort:
            click.echo("aborted", err=True)
            rv = 130
        except Exception as e:  # noqa: BLE001 - outside a command's own handler: still exit 3, never 1
            from cpaudit.cli.common import internal_error_line

            click.echo(f"error: {internal_error_line(e)}", err=True)
            rv = 3
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code
