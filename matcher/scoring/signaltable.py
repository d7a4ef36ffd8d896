"""The table of ranking signals: each signal declared once, with its kind and how it reads reversed.

Every list of signal names that scoring needs (the re-ranker's order, the graph walks, the
symmetric signals, the products a linear re-ranker cannot form, the signals that are zero
without partnerships, how each is read in the reverse direction) is derived from `TABLE`, so
adding a signal starts with one entry here (see docs/SIGNALS.md). Imports only the walk
declarations (matcher.scoring.walks) and the per-cell formulas (matcher.scoring.kinds), no scoring
module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from matcher.scoring import kinds
from matcher.scoring.walks import NEIGHBOURS_PARTNERS, Walk


class Kind(Enum):
    """What a signal is computed from, which decides how every path evaluates it."""

    DOT = "dot"  # a dot product of the two cities' LightFM vectors (standardised per query)
    COLUMN = "column"  # the candidate's own per-city value
    PAIRWISE = "pairwise"  # a function of one per-city value of each of the two cities
    GROUP_PAIR = "group_pair"  # a lookup by the two cities' groups (country, region)
    GROUP_COUNT = "group_count"  # partner counts of one city in the other's country
    GRAPH_WALK = "graph_walk"  # walks over the partnership and neighbour graphs
    PRODUCT = "product"  # the product of two other signals


class Reverse(Enum):
    """How s(j -> q) reads a signal for many askers j from the query q's own side."""

    SAME = "same"  # symmetric: the forward value of (q, j)
    QUERY_ROW = "query_row"  # a row kept for the query, gathered at the askers
    BY_COUNTRY = "by_country"  # a per-country row kept for the query, at the askers' countries
    BY_REGION = "by_region"  # a per-region row kept for the query, at the askers' regions
    QUERY_VALUE = "query_value"  # the query's own value (the asker's candidate is the query)
    OWN = "own"  # from the asker's own numbers (LightFM's user side)
    PRODUCT = "product"  # the product of the factors' reverse values


@dataclass(frozen=True)
class Signal:
    """One signal: its name (rerank.json's), kind, meaning and reverse reading."""

    name: str
    kind: Kind
    doc: str
    reverse: Reverse
    symmetric: bool = False  # s(i, j) == s(j, i) for this signal
    transposed: str | None = None  # GRAPH_WALK: the signal whose row is this one's column
    needs_history: bool = False  # zero for a query without partnerships (cold part omits it)
    factors: tuple[str, str] | None = None  # PRODUCT: the two signals multiplied
    walk: Walk | None = None  # GRAPH_WALK: its path (matcher.scoring.walks)
    inputs: tuple[str, ...] = ()  # PAIRWISE, COLUMN: the per-city inputs read (kinds.INPUTS)
    cell: kinds.Formula | None = None  # PAIRWISE: its formula of both cities' inputs (kinds)
    group: str | None = None  # GROUP_PAIR: "country" or "admin1", the groups its rows span
    rows: Callable[[Any, Any], Any] | None = None  # GROUP_PAIR: (prepared, queries) -> rows
    count: kinds.Count | None = None  # GROUP_COUNT: whose cities, counted in whose country

    def pairwise(self, query: Mapping[str, Any], column: Mapping[str, Any]) -> Any:
        """A PAIRWISE signal's value from each side's inputs (name -> array, broadcast)."""
        return self.cell(tuple(query[name] for name in self.inputs),
                         tuple(column[name] for name in self.inputs))


TABLE: tuple[Signal, ...] = (
    Signal("lightfm", Kind.DOT, "LightFM hybrid score, standardised within the query's "
           "candidate list", Reverse.OWN),
    Signal("adamic_adar", Kind.GRAPH_WALK, "log(1 + shared partners, each weighted 1 / log(its "
           "degree))", Reverse.QUERY_ROW, symmetric=True, needs_history=True,
           walk=Walk("binary", (("inv_log_degree", "binary"),))),
    Signal("geo_cf", Kind.GRAPH_WALK, "the query's geographic neighbours twin with the "
           "candidate", Reverse.QUERY_ROW, transposed="partner_geo", walk=NEIGHBOURS_PARTNERS),
    Signal("partner_geo", Kind.GRAPH_WALK, "the candidate lies near one of the query's partners",
           Reverse.QUERY_ROW, transposed="geo_cf", needs_history=True,
           walk=Walk("binary", ((None, "geo"),))),
    Signal("three_hop", Kind.GRAPH_WALK, "normalised paths of length 3: partners of partners' "
           "partners, 10 D^-1/2 B D^-1 B D^-1 B D^-1/2", Reverse.QUERY_ROW, symmetric=True,
           needs_history=True,
           walk=Walk("binary", (("inv_degree", "binary"), ("inv_degree", "binary")),
                     start="inv_sqrt_degree", end="inv_sqrt_degree", factor=10.0)),
    # Measured and not kept (0.4.0, 3 seeds): resource_allocation, B D^-1 B, and ra_three_hop,
    # B D^-1 B D^-1 B, moved warm recall@10 0.161 +- 0.005 -> 0.161 +- 0.004 and recall@50
    # 0.242 +- 0.008 -> 0.246 +- 0.006, cold not at all (docs/SIGNALS.md).
    Signal("region_pair", Kind.GRAPH_WALK, "neighbours of the query twin with neighbours of the "
           "candidate", Reverse.QUERY_ROW, symmetric=True,
           walk=Walk("geo", ((None, "binary"), (None, "geo")))),
    Signal("country_affinity", Kind.GROUP_COUNT, "log(1 + the query's partners in the "
           "candidate's country)", Reverse.QUERY_ROW, needs_history=True,
           count=kinds.Count("partners", "query")),
    Signal("region_country", Kind.GROUP_COUNT, "log(1 + partners the query's neighbours have in "
           "the candidate's country)", Reverse.QUERY_ROW,
           count=kinds.Count("neighbours_partners", "query")),
    Signal("candidate_affinity", Kind.GROUP_COUNT, "log(1 + the candidate's partners in the "
           "query's country)", Reverse.BY_COUNTRY,
           count=kinds.Count("partners", "candidate")),
    Signal("country_pair", Kind.GROUP_PAIR, "log(1 + partnerships between the two countries)",
           Reverse.BY_COUNTRY, symmetric=True, group="country", rows=kinds.country_pair_rows),
    Signal("log_distance", Kind.PAIRWISE, "log(1 + great-circle km)", Reverse.SAME,
           symmetric=True, inputs=kinds.HALF_ANGLES, cell=kinds.log_distance),
    Signal("log_degree", Kind.COLUMN, "log(1 + the candidate's partnership count)",
           Reverse.QUERY_VALUE, inputs=("log_degree",)),
    Signal("log_population", Kind.COLUMN, "log10 of the candidate's population",
           Reverse.QUERY_VALUE, inputs=("log_population",)),
    Signal("size_gap", Kind.PAIRWISE, "|log10 population difference|", Reverse.SAME,
           symmetric=True, inputs=("log_population",), cell=kinds.size_gap),
    Signal("both_capital", Kind.PAIRWISE, "1 when both are national capitals", Reverse.SAME,
           symmetric=True, inputs=("is_capital",), cell=kinds.both_capital),
    Signal("same_country", Kind.GROUP_PAIR, "1 for a domestic pair", Reverse.BY_COUNTRY,
           symmetric=True, group="country", rows=kinds.same_country_rows),
    Signal("admin1_pair", Kind.GROUP_PAIR, "log(1 + partnerships between the two cities' "
           "first-level regions)", Reverse.BY_REGION, symmetric=True, group="admin1",
           rows=kinds.admin1_pair_rows),
    # Products of other signals that a linear re-ranker cannot form itself (the cold one uses
    # them: cold recall@10 0.051 -> 0.056 over 3 seeds on the snapshot; the warm one gained
    # nothing).
    Signal("lightfm_distance", Kind.PRODUCT, "lightfm * log_distance", Reverse.PRODUCT,
           factors=("lightfm", "log_distance")),
    Signal("lightfm_country_pair", Kind.PRODUCT, "lightfm * country_pair", Reverse.PRODUCT,
           factors=("lightfm", "country_pair")),
    Signal("size_gap_squared", Kind.PRODUCT, "size_gap ** 2", Reverse.PRODUCT, symmetric=True,
           factors=("size_gap", "size_gap")),
    Signal("log_distance_squared", Kind.PRODUCT, "log_distance ** 2", Reverse.PRODUCT,
           symmetric=True, factors=("log_distance", "log_distance")),
)

BY_NAME: Mapping[str, Signal] = {signal.name: signal for signal in TABLE}


def names(keep: Callable[[Signal], bool] = lambda signal: True) -> tuple[str, ...]:
    """The names of the signals that `keep` accepts, in the table's order."""
    return tuple(signal.name for signal in TABLE if keep(signal))


# The signals the re-ranker combines, in a fixed order (rerank.json names them).
SIGNALS = names()
INTERACTION_SIGNALS = names(lambda signal: signal.kind is Kind.PRODUCT)
GRAPH = names(lambda signal: signal.kind is Kind.GRAPH_WALK)
# Signals that are zero for a query without partnerships (the cold re-ranker leaves them out).
GRAPH_SIGNALS = names(lambda signal: signal.needs_history)
# Signals that do not depend on which side asks (reverse scoring reuses the forward values).
SYMMETRIC_SIGNALS = names(lambda signal: signal.symmetric)
# The query's own numbers in the reverse direction: folded into its constant, not gathered.
QUERY_VALUE_SIGNALS = names(lambda signal: signal.reverse in (Reverse.OWN, Reverse.QUERY_VALUE))
# A graph walk's column is its own row (symmetric) or the row of its transpose.
TRANSPOSED: Mapping[str, str] = {signal.name: signal.transposed or signal.name
                                 for signal in TABLE if signal.kind is Kind.GRAPH_WALK}
WALKS: Mapping[str, Walk] = {signal.name: signal.walk for signal in TABLE
                             if signal.walk is not None}
PRODUCTS: Mapping[str, tuple[str, str]] = {signal.name: signal.factors for signal in TABLE
                                           if signal.factors is not None}
# Products with a DOT factor: the rows weighing them need the standardised LightFM block.
DOT_PRODUCTS = names(lambda signal: signal.kind is Kind.PRODUCT and any(
    BY_NAME[factor].kind is Kind.DOT for factor in signal.factors))
PAIRWISE = names(lambda signal: signal.kind is Kind.PAIRWISE)
GROUP_PAIRS = names(lambda signal: signal.kind is Kind.GROUP_PAIR)
COLUMNS = names(lambda signal: signal.kind is Kind.COLUMN)
GROUP_COUNTS = names(lambda signal: signal.kind is Kind.GROUP_COUNT)
# The group counts kept per query (a row over the countries) and per country (a column).
QUERY_COUNTS = names(lambda signal: signal.count is not None and signal.count.by == "query")
CANDIDATE_COUNTS = names(lambda signal: signal.count is not None
                         and signal.count.by == "candidate")
# The per-city inputs the PAIRWISE signals read, each once, in the table's order.
PAIRWISE_INPUTS = tuple(dict.fromkeys(name for signal in TABLE if signal.kind is Kind.PAIRWISE
                                      for name in signal.inputs))


def with_products(values: dict[str, Any]) -> dict[str, Any]:
    """Add the PRODUCT signals not yet in `values`, each from the two signals it joins."""
    for name, (left, right) in PRODUCTS.items():
        if name not in values:
            values[name] = kinds.product(values[left], values[right])
    return values


def problems() -> list[str]:
    """What is inconsistent in the table (empty: nothing); a test keeps it empty."""
    found = []
    for signal in TABLE:
        if (signal.kind is Kind.PRODUCT) != (signal.factors is not None):
            found.append(f"{signal.name}: factors go with kind PRODUCT only")
        if signal.factors and any(f not in BY_NAME or BY_NAME[f].kind is Kind.PRODUCT
                                  for f in signal.factors):
            found.append(f"{signal.name}: factors must be table signals that are not products")
        if signal.transposed is not None and (
                signal.kind is not Kind.GRAPH_WALK
                or BY_NAME.get(signal.transposed, signal).transposed != signal.name):
            found.append(f"{signal.name}: transposed must name a graph walk that names it back")
        if signal.kind is Kind.GRAPH_WALK and not signal.symmetric and not signal.transposed:
            found.append(f"{signal.name}: a graph walk is symmetric or names its transpose")
        if (signal.kind is Kind.GRAPH_WALK) != (signal.walk is not None):
            found.append(f"{signal.name}: a walk goes with kind GRAPH_WALK only")
        if (signal.kind is Kind.PAIRWISE) != (signal.cell is not None):
            found.append(f"{signal.name}: a cell formula goes with kind PAIRWISE only")
        if (signal.kind in (Kind.PAIRWISE, Kind.COLUMN)) != bool(signal.inputs) \
                or not set(signal.inputs) <= set(kinds.INPUTS) \
                or (signal.kind is Kind.COLUMN and len(signal.inputs) != 1):
            found.append(f"{signal.name}: PAIRWISE reads kinds.INPUTS, COLUMN exactly one")
        if (signal.kind is Kind.GROUP_PAIR) != (signal.rows is not None) or (
                signal.rows is not None and (not signal.symmetric or (signal.group, signal.reverse)
                                             not in (("country", Reverse.BY_COUNTRY),
                                                     ("admin1", Reverse.BY_REGION)))):
            found.append(f"{signal.name}: a GROUP_PAIR has rows, is symmetric, and reads "
                         "reversed by its group (country: BY_COUNTRY, admin1: BY_REGION)")
        if (signal.kind is Kind.GROUP_COUNT) != (signal.count is not None) or (
                signal.count is not None and (
                    signal.count.via not in kinds.COUNT_VIAS or signal.symmetric
                    or (signal.count.by, signal.reverse) not in (
                        ("query", Reverse.QUERY_ROW), ("candidate", Reverse.BY_COUNTRY)))):
            found.append(f"{signal.name}: a GROUP_COUNT has a count (via kinds.COUNT_VIAS) and "
                         "reads reversed by its counting side (query: QUERY_ROW, candidate: "
                         "BY_COUNTRY)")
        if signal.symmetric and signal.transposed:
            found.append(f"{signal.name}: symmetric and transposed exclude each other")
    if len(BY_NAME) != len(TABLE):
        found.append("a signal name is declared twice")
    return found
