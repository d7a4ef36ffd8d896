"""What the `twin` commands share: the --model and --theme options, and loading a Matcher."""

from __future__ import annotations

import click

MODEL_OPTION = click.option(
    "--model", "model_dir", type=click.Path(file_okay=False), default=None,
    help="Model directory to use (default: the promoted model, models/current).")


THEME_OPTION = click.option(
    "--theme", "themes", multiple=True, metavar="THEME",
    help="The city's own ambitions, matched against the candidates' themes (repeatable), e.g. "
         "--theme smart-city --theme maritime.")


def load_matcher(model_dir: str | None, verify: bool = False):
    """Import and load lazily so `twin --help` stays fast."""
    from matcher.api import Matcher

    return Matcher.load(model_dir, verify=verify)
