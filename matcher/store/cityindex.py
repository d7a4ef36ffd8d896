"""The model's city index as numpy columns: serving reads them from `cities_serving.npz` (no
pyarrow import, a tenth of a second on every fresh `twin with`), any other column from
`cities.parquet` when first asked for. Models without the npz read the Parquet file only.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from matcher.errors import ModelLoadError
from matcher.profile import CATALOGUE

CITIES_FILE = "cities.parquet"
SERVING_FILE = "cities_serving.npz"
# What `twin with` reads: the lookup, the scoring arrays, the evidence and the output rows.
_INDEX_COLUMNS = ("geonameid", "name", "asciiname", "country_code", "admin1_code", "lat", "lon",
                  "population", "country_name", "is_capital", "is_candidate",
                  "partner_countries", "admin1_index")
# ... and the three dimensions' values (explained.dimensions, explained.facts, matcher.profile)
SERVING_COLUMNS = _INDEX_COLUMNS + tuple(dict.fromkeys(
    info.name for info in CATALOGUE if info.name not in _INDEX_COLUMNS))
LAZY_COLUMNS = ("alternatenames",)  # long text, read only when a lookup needs it
_TEXT = "text__"  # npz key prefix: a column of text stored as NUL-separated UTF-8 bytes
_CODES = "codes__"  # ... with this key: the text holds the distinct values, these each row's
_ROWS = "rows__"
FEW_DISTINCT = 0.25  # a text column with fewer distinct values than this share of rows is
# stored as its distinct values and codes (decoded in a fraction of the time)


def write_serving_index(table, path: Path) -> None:
    """Write the SERVING_COLUMNS of a city DataFrame as numpy arrays (no pickle): numbers as
    they are, text as one NUL-separated UTF-8 buffer per column (missing text as "")."""
    arrays: dict[str, np.ndarray] = {_ROWS: np.array(len(table), dtype=np.int64)}
    for name in SERVING_COLUMNS:
        if name not in table.columns:
            continue
        column = table[name]
        if column.dtype.kind in "biuf":
            arrays[name] = column.to_numpy()
        else:
            texts = ["" if value is None or value != value else str(value) for value in column]
            distinct, codes = np.unique(np.array(texts, dtype=object), return_inverse=True)
            if len(distinct) < FEW_DISTINCT * len(texts):
                arrays[_CODES + name] = codes.astype(np.int32)
                texts = [str(value) for value in distinct]
            arrays[_TEXT + name] = np.frombuffer("\x00".join(texts).encode("utf-8"),
                                                dtype=np.uint8)
    np.savez(path, **arrays)


def as_numbers(column: np.ndarray) -> np.ndarray:
    """A numeric or flag column as float64, NaN where it is missing (Parquet's nulls come as
    None in an object column)."""
    if column.dtype == object:
        return np.array([np.nan if v is None or v == "" else float(v) for v in column])
    return column.astype(np.float64)


class _Text:
    """A text column's NUL-separated UTF-8 buffer, decoded when the column is first read (a
    fresh `twin with` reads few of them)."""

    def __init__(self, buffer: np.ndarray, rows: int, codes: np.ndarray | None = None) -> None:
        self.buffer, self.rows, self.codes = buffer, rows, codes

    def __len__(self) -> int:
        return self.rows

    def decode(self) -> np.ndarray:
        texts = self.buffer.tobytes().decode("utf-8").split("\x00") if self.rows else []
        values = np.array(texts, dtype=object)
        return values if self.codes is None else values[self.codes]


def _read_serving(path: Path) -> dict[str, np.ndarray | _Text]:
    with np.load(path, allow_pickle=False) as stored:
        rows = int(stored[_ROWS])
        columns: dict[str, np.ndarray | _Text] = {}
        for key in stored.files:
            if key.startswith(_TEXT):
                name, buffer = key[len(_TEXT):], stored[key]
                codes = stored[_CODES + name] if _CODES + name in stored.files else None
                found = int(np.count_nonzero(buffer == 0)) + 1 if rows else 0
                if codes is not None:  # distinct values, and a code per row into them
                    if len(codes) != rows or (rows and not 0 <= codes.min() <= codes.max()
                                              < found):
                        raise ValueError(f"column {name} has {len(codes)} codes for {found} "
                                         f"values, expected {rows} within them")
                elif found != rows:
                    raise ValueError(f"column {name} has {found} values, expected {rows}")
                columns[name] = _Text(buffer, rows, codes)
            elif key != _ROWS and not key.startswith(_CODES):
                columns[key] = stored[key]
    return columns


def _column_array(column) -> np.ndarray:
    """A pyarrow column as numpy without pandas: pyarrow's own conversion imports pandas, a
    quarter of a second on every fresh `twin with`. Text goes through Python lists, numbers and
    booleans are read from the Arrow buffers."""
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) \
            or array.null_count:
        return np.array(array.to_pylist(), dtype=object)
    if pa.types.is_boolean(array.type):
        bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, bitorder="little")[array.offset:array.offset + len(array)] \
            .astype(bool)
    dtype = np.dtype(array.type.to_pandas_dtype())
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset
                         * dtype.itemsize).copy()


def _parquet_columns(path: Path, names: list[str] | None) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    wanted = names if names is not None else [
        name for name in handle.schema_arrow.names if name not in LAZY_COLUMNS]
    table = handle.read(columns=wanted, use_pandas_metadata=False)
    return {name: _column_array(table.column(name)) for name in table.column_names}


class CityIndex:
    """Row i is model city i; `column(name)` gives a numpy array (text as objects)."""

    def __init__(self, directory: Path, columns: dict[str, np.ndarray],
                 from_serving: bool = False) -> None:
        self.directory = Path(directory)
        self._columns = columns
        self._from_serving = from_serving  # the serving file holds every serving column

    @classmethod
    def load(cls, directory: Path) -> CityIndex:
        directory = Path(directory)
        serving, parquet = directory / SERVING_FILE, directory / CITIES_FILE
        source = serving if serving.is_file() else parquet
        try:
            columns = _read_serving(serving) if source == serving else \
                _parquet_columns(parquet, None)
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as error:
            raise ModelLoadError(f"model file {source} is not a readable city index ({error}); "
                                 "retrain with `make train` or roll back with "
                                 "`twin models rollback`") from error
        return cls(directory, columns, from_serving=source == serving)

    @property
    def num_rows(self) -> int:
        return len(next(iter(self._columns.values()))) if self._columns else 0

    @property
    def loaded_names(self) -> list[str]:
        return list(self._columns)

    @cached_property
    def file_names(self) -> list[str]:
        """Every column of cities.parquet (its schema read once)."""
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(self.directory / CITIES_FILE).schema_arrow.names)

    def has(self, name: str) -> bool:
        if name in self._columns:
            return True
        if self._from_serving and name in SERVING_COLUMNS:
            return False  # written with every serving column the table had: no Parquet read
        return name in self.file_names

    def column(self, name: str) -> np.ndarray:
        if name not in self._columns:
            if name not in self.file_names:
                raise KeyError(f"the city index has no column {name!r}")
            self._columns.update(_parquet_columns(self.directory / CITIES_FILE, [name]))
        column = self._columns[name]
        if isinstance(column, _Text):
            column = self._columns[name] = column.decode()
        return column

    def to_pandas(self):
        """Every column of cities.parquet as a DataFrame."""
        import pandas as pd

        return pd.read_parquet(self.directory / CITIES_FILE)
