"""`twin models`: list the model versions, check one's files, roll `models/current` back (a thin
click layer over matcher.store.registry; matcher.cli adds the group to `twin`)."""

from __future__ import annotations

import click


def _format_recall(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@click.group("models")
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Model registry directory (default: models/ or $CITYTWIN_MODELS_DIR).",
)
@click.pass_context
def models_group(ctx: click.Context, models_dir: str | None) -> None:
    """List the trained model versions, check one's files, or roll `models/current` back."""
    from pathlib import Path

    from matcher import config

    ctx.obj = {"models_dir": Path(models_dir) if models_dir else config.MODELS_DIR}


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def models_list(ctx: click.Context, as_json: bool) -> None:
    """Every model version, oldest first: created, warm and cold recall@10, current marker (*)."""
    import json

    from matcher.store import registry

    versions = registry.list_versions(ctx.obj["models_dir"])
    if as_json:
        click.echo(json.dumps([info.to_dict() for info in versions], indent=2))
        return
    if not versions:
        click.echo(f"no model versions in {ctx.obj['models_dir']}; run `make train`")
        return
    header = f"  {'version':<22} {'created':<21} {'warm R@10':>9} {'cold R@10':>9}"
    click.echo(header)
    for info in versions:
        marker = "*" if info.is_current else " "
        click.echo(
            f"{marker} {info.version:<22} {info.created:<21} "
            f"{_format_recall(info.warm_recall_at_10):>9} "
            f"{_format_recall(info.cold_recall_at_10):>9}"
        )


@models_group.command("rollback")
@click.argument("version", required=False)
@click.pass_context
def models_rollback(ctx: click.Context, version: str | None) -> None:
    """Point models/current at VERSION, or at the version before the current one."""
    from matcher.store import registry

    models_dir = ctx.obj["models_dir"]
    previous = registry.current_version(models_dir)
    chosen = registry.rollback(models_dir, version)
    click.echo(f"models/current -> {chosen} (was {previous or 'none'})")


@models_group.command("verify")
@click.argument("version", required=False)
@click.pass_context
def models_verify(ctx: click.Context, version: str | None) -> None:
    """Check VERSION's files (default: the current model) against the sha256 in its manifest."""
    from matcher.store import registry
    from matcher.store.model import verify

    models_dir = ctx.obj["models_dir"]
    directory = registry.current_model_dir(models_dir) if version is None else \
        registry.version_dir(models_dir, version)
    count = verify(directory)
    click.echo(f"{directory.resolve().name}: {count} files match manifest.json")
