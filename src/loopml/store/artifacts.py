"""The artifact folder: immutable files (snapshots, model packages, reports) under one root.

The root is a local folder by default or any fsspec URL (``s3://bucket/loopml``, ``memory://x``).
Two invariants:

- **Keys never escape the root.** A key is a relative, ``/``-separated path; absolute paths,
  ``..``/``.`` segments, empty segments, backslashes, ``:`` and control characters are rejected,
  so a user-supplied name can never become an arbitrary path.
- **Writes are atomic.** Locally, bytes go to a hidden temporary file in the destination folder
  and are renamed into place (``os.replace``), so a reader sees the old file, the whole new file,
  or nothing — never a partial one. Object stores publish an object only when its upload
  completes, which gives the same guarantee.

Thread-safe: no state beyond the root; concurrent writers of one key leave one complete file.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import IO, Any, cast

import fsspec
from fsspec.implementations.local import LocalFileSystem

from loopml.errors import NotFoundError, StoreError

_BAD_CHARS = re.compile(r"[\\:\x00-\x1f\x7f]")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative artifact key, else raise :class:`StoreError`."""
    if not isinstance(key, str) or not key:
        raise StoreError(
            f"artifact key must be a non-empty string like 'datasets/x/1.parquet', got {key!r}"
        )
    problem = None
    if key.startswith("/") or key.startswith("~"):
        problem = "it is absolute"
    elif _BAD_CHARS.search(key):
        problem = "it contains a backslash, ':' or a control character"
    elif any(part in ("", ".", "..") for part in key.split("/")):
        problem = "it has an empty, '.' or '..' segment"
    if problem:
        raise StoreError(
            f"invalid artifact key {key!r}: {problem}; expected a relative path of names separated "
            "by '/', e.g. 'datasets/flights/3/data.parquet'"
        )
    return key


class Artifacts:
    """Read and write artifacts by key under ``root`` (a folder or fsspec URL)."""

    def __init__(self, root: str | Path) -> None:
        try:
            fs, path = fsspec.core.url_to_fs(str(root))
        except (ImportError, ValueError) as exc:
            raise StoreError(
                f"cannot use artifact root {str(root)!r}: {exc}; check LOOPML_ARTIFACTS "
                "(a folder, or an fsspec URL whose filesystem package is installed)"
            ) from exc
        self.fs = fs
        self.is_local = isinstance(fs, LocalFileSystem)
        self._root = os.path.abspath(path) if self.is_local else path.rstrip("/")
        self.root = self._root if self.is_local else fs.unstrip_protocol(self._root)

    def __repr__(self) -> str:
        return f"Artifacts({self.root!r})"

    def _path(self, key: str) -> str:
        return f"{self._root}/{check_key(key)}"

    def uri(self, key: str) -> str:
        """Where ``key`` lives: an absolute path for a local root, else a full fsspec URL."""
        path = self._path(key)
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def local_path(self, key: str) -> Path:
        """The local file path of ``key`` (it may not exist yet); only for local roots."""
        if not self.is_local:
            raise StoreError(
                f"artifact root {self.root!r} is not a local folder, so '{key}' has no local path; "
                "use get_bytes() or open() instead"
            )
        return Path(self._path(key))

    def exists(self, key: str) -> bool:
        """Whether an artifact is stored under ``key``."""
        return bool(self.fs.exists(self._path(key)))

    def put_bytes(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key`` atomically (replacing any old value); return its URI."""
        with self.open(key, "wb") as fh:
            fh.write(data)
        return self.uri(key)

    def put_file(self, key: str, local_path: str | Path) -> str:
        """Copy the local file ``local_path`` to ``key`` atomically; return its URI."""
        source = Path(local_path)
        if not source.is_file():
            raise StoreError(f"cannot store artifact '{key}': {str(source)!r} is not a file")
        path = self._path(key)
        if self.is_local:
            with open(source, "rb") as src, _AtomicFile(path, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
        else:
            self.fs.put_file(str(source), path)
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        """The bytes stored under ``key``; :class:`NotFoundError` when there are none."""
        with self.open(key, "rb") as fh:
            data: bytes = fh.read()
        return data

    def open(self, key: str, mode: str = "rb") -> IO[Any]:
        """Open ``key`` for reading (``rb``/``r``) or atomic writing (``wb``/``w``).

        A local write lands under its key only when the file is closed without an exception.
        """
        if mode not in ("rb", "r", "wb", "w"):
            raise StoreError(f"artifact mode must be 'rb', 'r', 'wb' or 'w', got {mode!r}")
        path = self._path(key)
        if mode.startswith("r"):
            try:
                return self.fs.open(path, mode)
            except FileNotFoundError as exc:
                raise NotFoundError(f"no artifact '{key}' under {self.root!r}") from exc
        if not self.is_local:
            return self.fs.open(path, mode)
        return cast(IO[Any], _AtomicFile(path, mode))


class _AtomicFile:
    """A local file written under a hidden temporary name and renamed into place on a clean close.

    Leaving a ``with`` block by an exception (or calling :meth:`discard`) deletes the temporary
    file instead, so the key keeps its previous content or stays absent.
    """

    def __init__(self, path: str, mode: str) -> None:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        self._path = path
        self._tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex}")
        encoding = None if "b" in mode else "utf-8"
        self._fh: IO[Any] = open(self._tmp, mode.replace("w", "x"), encoding=encoding)  # noqa: SIM115

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _AtomicFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def write(self, data: Any) -> int:
        """Write to the temporary file."""
        return self._fh.write(data)

    def close(self) -> None:
        """Flush, close and publish the file under its key."""
        if self._fh.closed:
            return
        try:
            self._fh.close()
            os.replace(self._tmp, self._path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Close and delete the temporary file; the key is left untouched."""
        self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)
