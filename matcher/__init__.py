"""Serving: load a trained model, rank partner cities, explain the matches."""

from __future__ import annotations

__all__ = ["Match", "Matcher"]


def __getattr__(name: str):
    """Lazy re-export of the API so `import matcher` (and the CLI) stays light."""
    if name in __all__:
        from matcher import api

        return getattr(api, name)
    raise AttributeError(f"module 'matcher' has no attribute {name!r}")
