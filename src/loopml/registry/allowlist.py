"""What a model package may hold: its file names, and the exact types of its skops estimator.

Loading a package must never run code from it. LightGBM boosters are stored in LightGBM's own
text format, which holds no code. scikit-learn estimators go through skops, which rebuilds
objects by importing the types its ``schema.json`` names; a hand-made file can name any callable
(``builtins.eval``, ``os.system``) and have it called. So before skops sees a file, every node
of its schema is read here as plain JSON and checked against two literal sets:

- :data:`ALLOWED_TYPES`: every type loopml's own candidates (the baselines, the linear model and
  the random forest, for every task) save — exactly those, never a prefix like ``builtins.``;
- :data:`ALLOWED_NODES`: every skops loader those files use. Loaders that call a named
  constructor with arguments from the file (``ConstructorFromReduceNode``), resolve functions
  or methods, or rebuild random generators from a name in the data are not among them.

``tests/security/test_package_allowlist.py`` trains every candidate on flights data for every
task and fails when what they save is not exactly these sets, so a candidate that adds a type
fails there first; writing a package checks the same sets (:func:`untrusted_contents`), so loopml
never writes a package it would refuse to load. Add a type only after checking that loading it
runs no code beyond building the object.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from loopml.errors import PackageError

#: Every type the skops files of loopml's candidates name (``module.qualname``).
ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "numpy.float64",
        "numpy.int64",
        "numpy.ndarray",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.dummy.DummyClassifier",
        "sklearn.dummy.DummyRegressor",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._ridge.Ridge",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._tree.Tree",
    }
)

#: Every skops loader (``__loader__``) those files use.
ALLOWED_NODES: frozenset[str] = frozenset(
    {
        "DictNode",
        "JsonNode",
        "ListNode",
        "NdArrayNode",
        "ObjectNode",
        "SliceNode",
        "TreeNode",
        "TupleNode",
        "TypeNode",
    }
)

#: The files a package holds besides its estimator, and the estimator files it may hold.
DOCUMENTS = ("pipeline.json", "meta.json", "schema.json", "profile.json")
#: Files a package may hold (packages written before them have none).
OPTIONAL_DOCUMENTS = ("reference.json",)
ESTIMATORS = ("estimator.lgb.txt", "estimator.skops")
_PICKLES = (".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth")


def check_file_names(ref: str, names: list[str]) -> str:
    """Check the file names a manifest lists; return the estimator's. A package holds exactly
    :data:`DOCUMENTS` and one of :data:`ESTIMATORS` — no paths, no pickles, nothing else."""
    for name in names:
        problem = None
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or ".." in name:
            problem = "is not a plain file name (a path could reach outside the package)"
        elif name.lower().endswith(_PICKLES):
            problem = "is a pickle-style file, and loopml never loads pickles (they run code)"
        elif name not in DOCUMENTS + OPTIONAL_DOCUMENTS and name not in ESTIMATORS:
            problem = "is not a file of a loopml package"
        if problem:
            raise PackageError(
                f"model {ref}: manifest.json lists {name!r}, which {problem}; a package holds "
                f"only {', '.join(DOCUMENTS + OPTIONAL_DOCUMENTS)} and one of "
                f"{' or '.join(ESTIMATORS)}. Refusing to "
                "load it: it was not written by loopml or was tampered with — re-register the "
                "model from its run"
            )
    missing = [name for name in DOCUMENTS if name not in names]
    estimators = [name for name in names if name in ESTIMATORS]
    if missing or len(estimators) != 1:
        problems = [f"no {name}" for name in missing]
        if not estimators:
            problems.append(f"no estimator file ({' or '.join(ESTIMATORS)})")
        elif len(estimators) > 1:
            problems.append(f"two estimator files ({', '.join(estimators)})")
        raise PackageError(
            f"model {ref}: its manifest lists {'; '.join(problems)} (it lists "
            f"{', '.join(sorted(names)) or 'nothing'}): the package is incomplete — re-register "
            "the model from its run"
        )
    return estimators[0]


def skops_contents(data: bytes, *, filename: str = "estimator.skops") -> set[tuple[str, str]]:
    """Every ``(type, loader)`` the nodes of a skops file name, read from its ``schema.json``
    as plain JSON: nothing is imported or built. :class:`PackageError` (without a model
    reference) when ``data`` is not a skops file."""
    if data[:1] == b"\x80":
        raise PackageError(f"{filename} holds a pickle, not a skops file; loopml never loads one")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except zipfile.BadZipFile as exc:
        raise PackageError(f"{filename} is not a skops file (not a zip archive: {exc})") from exc
    except KeyError as exc:
        raise PackageError(f"{filename} is not a skops file (it has no schema.json)") from exc
    except (ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise PackageError(f"{filename} is not a skops file (bad schema.json: {exc})") from exc
    except Exception as exc:  # a damaged or encrypted member, an unknown compression
        raise PackageError(
            f"{filename} is not a skops file (its zip archive cannot be read: "
            f"{type(exc).__name__}: {exc})"
        ) from exc
    found: set[tuple[str, str]] = set()
    for node in _nodes(schema):
        module, name, loader = (node.get(k) for k in ("__module__", "__class__", "__loader__"))
        if not (isinstance(module, str) and isinstance(name, str) and isinstance(loader, str)):
            raise PackageError(
                f"{filename} is not a skops file: a node of its schema.json has no string "
                f"__module__, __class__ and __loader__ (got {module!r}, {name!r}, {loader!r})"
            )
        found.add((f"{module}.{name}", loader))
    if not found:
        raise PackageError(f"{filename} is not a skops file (its schema.json holds no object)")
    return found


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict with a ``__loader__`` anywhere in ``value``, without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def untrusted_contents(data: bytes) -> list[str]:
    """What a skops file names outside the allow-lists (``type builtins.eval``, ``skops loader
    FunctionNode (for os.system)``), types first; empty when all of it is allowed."""
    found = skops_contents(data)
    untrusted = [f"type {t}" for t in sorted({t for t, _ in found} - ALLOWED_TYPES)]
    return untrusted + [
        f"skops loader {loader} (for {t})"
        for t, loader in sorted(found, key=lambda f: (f[1], f[0]))
        if loader not in ALLOWED_NODES
    ]


def check_estimator(ref: str, data: bytes, *, filename: str = "estimator.skops") -> None:
    """Refuse a skops file that is malformed or names a type or loader outside the allow-lists,
    before any of it is loaded; ``ref`` names the model in the message."""
    try:
        untrusted = untrusted_contents(data)
    except PackageError as exc:
        raise PackageError(
            f"model {ref}: {exc}; refusing to load it — re-register the model from its run"
        ) from exc
    if untrusted:
        others = untrusted[1:]
        more = f" (and {len(others)} more: {', '.join(others[:5])})" if others else ""
        raise PackageError(
            f"model {ref}: untrusted {untrusted[0]} in {filename}{more}. loopml loads only the "
            "types and skops loaders its own candidates save (ALLOWED_TYPES and ALLOWED_NODES in "
            "loopml.registry.allowlist); loading this could run code, so refusing to load it. If "
            "the package came from elsewhere or was edited, re-register the model from its run; "
            "if a loopml candidate saved it, report it as a bug"
        )
