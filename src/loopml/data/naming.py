"""Naming a project after what its data is and what it predicts (``loopml init``'s default).

A file stem such as ``train`` or ``data_v2`` says how a file is used, not what it holds: two
projects made from ``train.csv`` files would share a name, their dataset versions and models.
"""

from __future__ import annotations

import re
from pathlib import Path

from loopml.data.io import is_sql_url

#: file stems and folder names that say how a file is used, not what it holds
GENERIC_NAMES = frozenset({
    "train", "training", "test", "testing", "valid", "validation", "val", "dev", "data",
    "dataset", "datasets", "sample", "samples", "export", "exports", "input", "inputs", "output",
    "raw", "clean", "cleaned", "full", "all", "df", "final", "file", "table", "query", "tmp",
    "new", "old", "latest", "current", "prod", "production",
})  # fmt: skip


def project_name(source: str, target: str) -> str:
    """A project name from what the data is and what it predicts: ``flights_late`` for
    ``flights/train.csv`` and target ``late``. The file stem's words that only say how the file
    is used (``train``, ``data``, ``v2``, dates) are dropped; when none is left, the folder's
    name stands in, and when that is generic too, the target alone names the project."""
    path = Path(source)
    places = [] if is_sql_url(source) else [path.stem, path.resolve().parent.name]
    named = [w for w in re.split(r"[^A-Za-z0-9]+", target) if w]
    words: list[str] = []
    for place in places:
        words = [
            w
            for w in re.split(r"[^A-Za-z0-9]+", place)
            if w
            and w.lower() not in GENERIC_NAMES | {n.lower() for n in named}
            and not re.fullmatch(r"v?\d+", w.lower())
        ]
        if words:
            break
    slug = "_".join([*words, *named])
    slug = re.sub(r"_+", "_", slug)
    if not slug or not slug[0].isalpha():
        slug = f"project_{slug}".rstrip("_")
    return slug[:64].rstrip("_.-")
