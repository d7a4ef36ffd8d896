"""Every error citytwin raises on purpose; the CLI turns them into `Error: ...` and an exit code."""

from __future__ import annotations


class CitytwinError(Exception):
    """Base class: the message says what went wrong and what to do about it."""

    exit_code = 1


class InputError(CitytwinError):
    """A user-supplied file or argument is unusable (names the file, row or argument)."""

    exit_code = 2


class DataError(CitytwinError):
    """Built data is missing or inconsistent (e.g. `make data` has not run)."""


class ModelNotFoundError(CitytwinError):
    """No trained model where one was expected."""


class ModelLoadError(CitytwinError):
    """A model directory is damaged or incomplete (names the file)."""


class CityNotFoundError(CitytwinError):
    """A city name matched nothing; carries suggestions."""

    exit_code = 2

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.suggestions = suggestions or []


class CityOutsideIndexError(CityNotFoundError):
    """The gazetteer knows the place but the model's city index does not; carries the place
    (a matcher.places.lookup.GazetteerPlace)."""

    def __init__(self, message: str, place=None) -> None:
        super().__init__(message)
        self.place = place


class AmbiguousCityError(CitytwinError):
    """A city name matched several cities; carries the candidates."""

    exit_code = 2

    def __init__(self, message: str, candidates: list[dict] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


class ValidationError(CitytwinError):
    """New data failed the nightly validation; the current model is kept."""

    exit_code = 3


class LockError(CitytwinError):
    """Another nightly run holds the lock."""

    exit_code = 4
