"""The results store of a study: immutable Parquet part files, one folder per table.

Layout (``<study>/results/``)::

    points/part-<digest>.parquet   one row per finished design point (the store's content)
    layers/part-<digest>.parquet   per-layer costs of the points whose study asks for them
    runs/<accuracy key>.json       the recorded model runs (``hwsim run --json`` objects) that
                                   later sweeps re-price instead of evaluating again

Why Parquet parts and not SQLite or DuckDB: a study's workers may be Dask workers on other
hosts that share the folder over a network file system, where SQLite's and DuckDB's file locks
are unreliable or absent, and one writer at a time would serialize every worker. A part file
needs no lock: each task writes its own rows to a temporary file in the same folder and renames
it into place (:func:`hwsim.files.atomic_path`: write, ``fsync``, ``rename(2)``), so readers see
a whole part or none, ``kill -9`` at any moment leaves at most a ``.part-*.tmp.parquet`` that
readers ignore, and the folder listing itself is the manifest (a separate manifest file would
be one more thing to keep consistent with the parts and one more write to lose).

Exactly once: a part's name is a digest of the keys it holds, so a task that runs twice (Dask
reschedules the task of a worker that died after writing) replaces its own part instead of
adding a second copy. A key may still appear in two parts after ``--retry-failed`` (the failed
row, then the new one) or a compaction interrupted between its two steps; :meth:`ResultsStore.points`
keeps the newest row of every key (ties: the ``ok`` row), so every point appears once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd

from hwsim.errors import HwsimError
from hwsim.files import atomic_path, write_text

__all__ = ["ResultsStore", "StoreError", "TABLES", "STATUS_OK", "STATUS_FAILED", "part_digest"]

TABLES = ("points", "layers")
STATUS_OK = "ok"
STATUS_FAILED = "failed"
#: the columns every points row has (besides the point's configuration and metrics)
BOOK_COLUMNS = ("key", "status", "error", "hwsim_version", "task_wall_s", "task_points", "finished_at")


class StoreError(HwsimError):
    """A results store that cannot be read (a damaged part file names itself)."""


def part_digest(keys: Iterable[str]) -> str:
    """The name of the part that holds exactly these point keys (order-independent: SHA-256 of
    the sorted keys joined by NUL, sorted with numpy, so a million keys take a fraction of a second)."""
    import numpy as np

    ordered = np.sort(np.asarray(keys if hasattr(keys, "__len__") else list(keys), dtype=str))
    return hashlib.sha256("\0".join(ordered.tolist()).encode()).hexdigest()[:24]


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - installed by `make` ([study] extra)
        raise HwsimError("the results store needs pyarrow: pip install 'pyarrow>=15'") from None
    return pa, pq


@dataclass(frozen=True)
class ResultsStore:
    """The results of one study, in ``root`` (``<study folder>/results``)."""

    root: Path

    @classmethod
    def of(cls, study_dir: str | os.PathLike[str]) -> ResultsStore:
        """The store of the study folder ``study_dir`` (or of the folder of a ``study.toml``)."""
        path = Path(study_dir)
        if path.suffix == ".toml":
            path = path.parent
        return cls(path / "results")

    # ---- writing ---------------------------------------------------------------------------
    def write(self, rows: pd.DataFrame, table: str = "points", *, digest: str | None = None) -> Path:
        """Commit ``rows`` as one immutable part of ``table``; returns the part's path.

        ``digest`` names the part (default: :func:`part_digest` of the rows' keys); writing the
        same digest again replaces the part atomically, never duplicates it."""
        if table not in TABLES:
            raise HwsimError(f"unknown results table {table!r}; known: {', '.join(TABLES)}")
        if "key" not in rows.columns:
            raise HwsimError("results rows need a 'key' column")
        pa, pq = _pyarrow()
        name = digest or part_digest(rows["key"].astype(str))
        path = self.root / table / f"part-{name}.parquet"
        tab = pa.Table.from_pandas(rows.reset_index(drop=True), preserve_index=False)
        with atomic_path(path) as tmp:
            pq.write_table(tab, tmp, compression="zstd")
        return path

    def save_run(self, accuracy_key: str, run: dict[str, Any]) -> Path:
        """Keep a recorded model run (a ``Report.as_dict()``) for later re-pricing."""
        return write_text(self.root / "runs" / f"{accuracy_key}.json", json.dumps(run))

    def load_run(self, accuracy_key: str) -> dict[str, Any] | None:
        """The recorded run of ``accuracy_key``, or None when it was never saved."""
        path = self.root / "runs" / f"{accuracy_key}.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read the recorded run {path}: {exc}") from None

    def clean_temporary(self, older_than_s: float = 3600.0) -> int:
        """Delete temporary files left by killed writers (only ones older than ``older_than_s``,
        so a concurrent sweep's write in progress is never touched); returns how many."""
        removed = 0
        now = time.time()
        for folder in [self.root / t for t in TABLES] + [self.root / "runs"]:
            if not folder.is_dir():
                continue
            for tmp in folder.glob(".*.tmp.*"):
                try:
                    if now - tmp.stat().st_mtime > older_than_s:
                        tmp.unlink()
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed

    # ---- reading ---------------------------------------------------------------------------
    def parts(self, table: str = "points") -> list[Path]:
        """The committed part files of ``table`` (temporary files are not parts)."""
        folder = self.root / table
        return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []

    def _read_arrow(self, table: str, columns: Sequence[str] | None = None) -> Any:
        """Every committed part of ``table`` as one pyarrow Table (only ``columns`` a part has;
        None when there is no part). Each part is opened once."""
        pa, pq = _pyarrow()
        tables = []
        for part in self.parts(table):
            try:
                pf = pq.ParquetFile(part)
                cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
                tables.append(pf.read(columns=cols))
            except FileNotFoundError:  # replaced or compacted between listing and reading
                continue
            except (OSError, pa.ArrowException) as exc:
                raise StoreError(f"damaged results part {part}: {exc}") from None
        return pa.concat_tables(tables, promote_options="permissive") if tables else None

    def _read(self, table: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        merged = self._read_arrow(table, columns)
        if merged is None:
            default = BOOK_COLUMNS if table == "points" else ("key",)
            return pd.DataFrame(columns=list(columns if columns is not None else default))
        return merged.to_pandas()

    def points(self, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every point once: the newest row of each key (an ``ok`` row wins a tie)."""
        need = None if columns is None else list(dict.fromkeys(["key", "status", "finished_at", *columns]))
        df = self._read("points", need)
        if not len(df):
            return df
        ok_first = (df["status"] != STATUS_OK).astype(int)
        order = pd.DataFrame({"t": df["finished_at"].astype(str), "ok": -ok_first})
        df = df.iloc[order.sort_values(["t", "ok"], kind="stable").index]
        df = df.drop_duplicates("key", keep="last").sort_values("key", kind="stable").reset_index(drop=True)
        return df if columns is None else df[list(dict.fromkeys(["key", *columns]))]

    def layers(self) -> pd.DataFrame:
        """Per-layer rows of the points in :meth:`points` (rows of keys without a committed
        point, from a task killed between its two writes, are left out)."""
        df = self._read("layers")
        if not len(df):
            return df
        keys = self.points(columns=["status"])["key"].tolist()
        kept = cast(pd.DataFrame, df[df["key"].isin(keys)])
        return kept.drop_duplicates(subset=["key", "layer", "kind", "m", "k", "n"]).reset_index(drop=True)

    def key_status(self) -> tuple[Any, Any]:
        """``(keys, ok)``: every stored point's key as uint64 (sorted) and whether its newest row is
        ``ok`` (the fast path a sweep plans with: two columns read, no pandas)."""
        import numpy as np

        from hwsim.study.spec import keys_to_u64

        tab = self._read_arrow("points", ["key", "status"])
        if tab is None:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=bool)
        keys = keys_to_u64(tab.column("key").combine_chunks())
        ok = np.asarray(tab.column("status").to_numpy(zero_copy_only=False) == STATUS_OK, dtype=bool)
        order = np.argsort(keys, kind="stable")
        keys, ok = keys[order], ok[order]
        if not np.any(keys[1:] == keys[:-1]):
            return keys, ok
        df = self.points(columns=["status"])  # duplicates (a retry, a compaction): newest row wins
        keys, ok = keys_to_u64(df["key"].to_numpy(dtype=str)), (df["status"] == STATUS_OK).to_numpy()
        order = np.argsort(keys, kind="stable")
        return keys[order], ok[order]

    def status(self) -> dict[str, str]:
        """``key -> status`` of every stored point."""
        df = self.points(columns=["status"])
        return dict(zip(df["key"].astype(str), df["status"].astype(str), strict=True))

    def compact(self) -> Path | None:
        """Rewrite the points as one part (fewer files to list and open); the old parts are
        deleted only after the new one is committed, so a crash in between leaves duplicates the
        reader resolves, never a loss."""
        old = self.parts("points")
        if len(old) <= 1:
            return old[0] if old else None
        df = self.points()
        new = self.write(df, "points")
        for part in old:
            if part != new:
                part.unlink(missing_ok=True)
        return new
