"""`cpaudit sample`: the options SampleRequest declares (pipelines/sample_request.py), resolved and drawn by the
library; this module wires them to the command line and prints."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer

from cpaudit.cli.common import info, print_json, progress_bar, state, user_errors
from cpaudit.cli.options import Quiet
from cpaudit.options import command, resolve
from cpaudit.pipelines.sample import SampleResult, sample
from cpaudit.pipelines.sample_request import SAMPLE_DOC, SampleRequest, sample_options


def samples_progress(advance: Callable[..., None], n: int, batch_size: int, steps: int) -> Callable[[], None]:
    """on_step for `sample`: the count a person expects, samples finished of n, with the batch and step under way
    (the sampler reports one call per step of a batch)."""
    calls = [0]

    def on_step() -> None:
        calls[0] += 1
        batch, step = divmod(calls[0] - 1, steps)
        advance(step=min(n, (calls[0] // steps) * batch_size), total_=n, metrics={"batch": batch + 1, "step": step + 1})

    return on_step


def _sample(given: dict[str, Any], json_out: bool, quiet: bool) -> None:
    state.quiet = state.quiet or quiet
    with user_errors():
        opts = sample_options(resolve(SampleRequest, given))
        with progress_bar("sample", opts.n) as advance:
            result = sample(opts, on_step=samples_progress(advance, opts.n, opts.batch_size, opts.sampler.steps))
    if json_out:
        print_json(result.run)
    _summary(result, opts.n, opts.protection is not None)


def _summary(result: SampleResult, n: int, protected: bool) -> None:
    info(f"{len(result.seeds)} samples in {result.seconds:.1f} s -> {result.out}")
    if protected:
        info(
            f"guidance fired on {result.fired_fraction:.1%} of sample-steps "
            f"({result.run['samples_with_guidance']} of {n} samples at least once)"
        )
    if result.nonfinite_seeds:
        info(
            f"warning: {len(result.nonfinite_seeds)} samples diverged (NaN/inf) and were not written: seeds "
            f"{result.nonfinite_seeds[:10]}{' ...' if len(result.nonfinite_seeds) > 10 else ''}"
        )


_EXTRA = [
    inspect.Parameter(
        "json_out",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(False, "--json", help="Print run.json to stdout."),
        annotation=bool,
    ),
    inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=Quiet, annotation=bool),
]
sample_cmd = command(SampleRequest, _sample, extra=_EXTRA, doc=SAMPLE_DOC, after={"json_out": "lora"})
