"""Query strings -> the CLI's filters, checked by the CLI's own option types and messages.

A web parameter is the CLI flag with underscores (`--max-km` is `max_km`, `--country` is
`country`, repeatable). Each value is converted by the click type of the matching option of
`twin with` / `twin pair` (one definition of every range), and the filters are built by
`Matcher.make_filters(..., cli_names=True)`, so a bad value gets the message the CLI prints.
An unknown parameter is an error too, as an unknown flag is on the command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import click

from matcher.errors import InputError
from matcher.ranking import rank

BOOLEAN_WORDS = "true/false, 1/0, yes/no or on/off"


def _options(command: click.Command) -> dict[str, click.Option]:
    return {p.name: p for p in command.params if isinstance(p, click.Option)}


def _convert(option: click.Option, name: str, raw: str):
    """One value through the CLI option's click type; InputError naming both spellings."""
    if option.is_flag:
        try:
            return click.BOOL.convert(raw, option, None)
        except click.BadParameter:
            raise InputError(f"{name} ({option.opts[-1]}): {raw!r} is not a yes/no value; "
                             f"give {BOOLEAN_WORDS}") from None
    if raw.strip() == "":
        return None  # an empty form field: the CLI's default
    try:
        return option.type.convert(raw, option, None)
    except click.BadParameter as error:
        raise InputError(f"{name} ({option.opts[-1]}): {error.message}") from None


def _parse(items: Iterable[tuple[str, str]], names: dict[str, str], command: click.Command,
           allowed: Iterable[str] = ()) -> dict:
    """{CLI option name: value} for the known web names; InputError on an unknown name."""
    options = _options(command)
    out: dict = {}
    extra = set(allowed)
    for name, raw in items:
        if name in extra:
            continue
        if name not in names:
            known = ", ".join(sorted({*names, *extra}))
            raise InputError(f"unknown parameter {name!r}; known: {known}")
        option = options[names[name]]
        value = _convert(option, name, raw)
        if option.multiple:
            text = raw.strip()
            if text:
                out.setdefault(option.name, []).extend(
                    part.strip() for part in text.split(",") if part.strip())
        elif value is not None:
            out[option.name] = value
    return out


# web name -> option name of `twin with`
RECOMMEND_NAMES = {"k": "k", "country": "countries", "exclude_country": "exclude_countries",
                   "include_domestic": "include_domestic", "min_population": "min_population",
                   "max_population": "max_population", "max_km": "max_km",
                   "per_country": "per_country", "mutual": "mutual", "theme": "themes",
                   "weigh": "weigh"}
# web name -> option name of `twin explain`
EXPLAIN_NAMES = {"theme": "themes"}
# web name -> option name of `twin pair` (no --cities-a/--cities-b: no request reaches a file)
PAIR_NAMES = {"min_population": "min_population", "capacity": "capacity", "stable": "proposing",
              "include_existing": "include_existing"}


@dataclass(frozen=True)
class RecommendQuery:
    """The filters of `twin with` as the user gave them (countries as typed, None for "the
    default"), before Matcher.make_filters resolves and checks them into rank.Filters."""

    k: int = rank.TOP_K_DEFAULT
    countries: tuple[str, ...] = ()
    exclude_countries: tuple[str, ...] = ()
    include_domestic: bool = False
    min_population: int | None = None
    max_population: int | None = None
    max_km: float | None = None
    per_country: int | None = None  # None: the default cap; 0: no cap
    mutual: bool | None = None  # None: the default (mutual)
    themes: tuple[str, ...] = ()  # the query's stated ambitions (--theme), as typed
    weigh: str | None = None  # 'performance=1,synergies=2' (--weigh), checked by make_filters

    @classmethod
    def parse(cls, items: Iterable[tuple[str, str]], allowed: Iterable[str] = ()
              ) -> RecommendQuery:
        """From (name, value) pairs; `allowed` names are skipped (the route reads them)."""
        from matcher.cli import with_command

        values = _parse(items, RECOMMEND_NAMES, with_command, allowed)
        for many in ("countries", "exclude_countries", "themes"):
            if many in values:
                values[many] = tuple(values[many])
        return cls(**values)

    def filters(self, matcher) -> rank.Filters:
        """rank.Filters as `twin with` builds them (the same checks and messages)."""
        extra = {} if self.per_country is None else {"per_country": self.per_country or None}
        return matcher.make_filters(
            self.k, countries=self.countries, exclude_countries=self.exclude_countries,
            include_domestic=self.include_domestic, min_population=self.min_population,
            max_population=self.max_population, max_km=self.max_km, mutual=self.mutual,
            themes=self.themes, weigh=self.weigh, cli_names=True, **extra)

    def items(self) -> list[tuple[str, str]]:
        """The non-default filters as query-string pairs (a link reproduces the view)."""
        web = {option: name for name, option in RECOMMEND_NAMES.items()}
        out: list[tuple[str, str]] = []
        default = RecommendQuery()
        for field in fields(self):
            value = getattr(self, field.name)
            if value == getattr(default, field.name):
                continue
            if isinstance(value, tuple):
                out.extend((web[field.name], v) for v in value)
            elif isinstance(value, bool):
                out.append((web[field.name], "true" if value else "false"))
            else:
                out.append((web[field.name], str(value)))  # a float's shortest round trip
        return out


@dataclass(frozen=True)
class ExplainQuery:
    """The options of `twin explain` a request may set: the query's themes (--theme)."""

    themes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, items: Iterable[tuple[str, str]], allowed: Iterable[str] = ()
              ) -> ExplainQuery:
        """From (name, value) pairs; `allowed` names are skipped (the route reads them)."""
        from matcher.cli import explain_command

        values = _parse(items, EXPLAIN_NAMES, explain_command, allowed)
        return cls(themes=tuple(values.get("themes", ())))

    def explain(self, matcher, city: str, partner: str):
        """Matcher.explain with these options (the JSON of `twin explain --json`)."""
        return matcher.explain(city, partner, themes=self.themes)

    def items(self) -> list[tuple[str, str]]:
        """The themes as query-string pairs."""
        return [("theme", theme) for theme in self.themes]


def _pair_default(name: str):
    from matcher.cli import pair_command

    return _options(pair_command)[name].default


@dataclass(frozen=True)
class PairQuery:
    """The options of `twin pair` a request may set (defaults: the CLI's)."""

    min_population: int = _pair_default("min_population")
    capacity: int = _pair_default("capacity")
    proposing: str = _pair_default("proposing")
    include_existing: bool = False

    @classmethod
    def parse(cls, items: Iterable[tuple[str, str]], allowed: Iterable[str] = ()) -> PairQuery:
        from matcher.cli import pair_command

        return cls(**_parse(items, PAIR_NAMES, pair_command, allowed))

    def programme(self, matcher, country_a: str, country_b: str):
        """matcher.programme.pairing.pair_countries with these options."""
        from matcher.programme.pairing import pair_countries

        return pair_countries(matcher, country_a, country_b, min_population=self.min_population,
                              stable=self.proposing, capacity=self.capacity,
                              include_existing=self.include_existing)
