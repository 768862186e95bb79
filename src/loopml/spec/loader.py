"""Loading a spec: YAML (1.2 booleans) to a validated :class:`~loopml.spec.models.Spec`, with
line-level messages.

Errors name the file, the line, the field path, what was expected and what was got, with a
close-match suggestion for misspelled keys and values; every problem is listed at once. Checks
across fields (the metric fits the task, a feature is not the target) run here, once, after the
models validated each field.

The YAML itself is held to what a spec needs, so that a hostile or careless file fails fast
(:func:`read_yaml`):

- **No anchors or aliases.** ``&a`` / ``*a`` let a few lines expand to gigabytes (the "billion
  laughs"); the composer refuses the first one it meets, before anything is expanded.
- **No duplicate keys**, at any depth: both lines are named, instead of the last one silently
  winning. ``<<`` is a plain key, as in YAML 1.2 (without aliases a merge key only hides a
  duplicate).
- **Bounded nesting** (:data:`MAX_DEPTH` levels) and length (:data:`MAX_CHARS`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from loopml.errors import SpecError, did_you_mean
from loopml.spec.models import METRICS, Expectation, Path_, Spec, _bullet, _format


def _consistency(spec: Spec) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field checks that single fields cannot express."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if spec.metric.name not in METRICS:
        problems.append(
            (
                ("metric", "name"),
                f"expected one of {', '.join(METRICS)}, got {spec.metric.name!r}"
                + did_you_mean(spec.metric.name, METRICS),
            )
        )
    elif spec.task not in METRICS[spec.metric.name][0]:
        fitting = [m for m, (tasks, _) in METRICS.items() if spec.task in tasks]
        problems.append(
            (
                ("metric", "name"),
                f"metric {spec.metric.name!r} does not apply to a {spec.task} task; "
                f"expected one of {', '.join(fitting)}",
            )
        )
    bounded = {"roc_auc", "pr_auc", "accuracy", "balanced_accuracy", "f1", "precision", "recall"}
    targets: list[tuple[tuple[str | int, ...], str, float | None]] = [
        (("metric", "target"), spec.metric.name, spec.metric.target)
    ]
    targets += [(("targets", "metrics", n), n, v) for n, v in spec.targets.metrics.items()]
    for path, name, value in targets:
        if name in bounded and value is not None and not 0 <= value <= 1:
            problems.append((path, f"{name} lies between 0 and 1, got a target of {value}"))
    for name in spec.targets.metrics:
        if name not in METRICS:
            problems.append(
                (
                    ("targets", "metrics", name),
                    f"unknown metric {name!r}{did_you_mean(name, METRICS)}",
                )
            )
    seen: dict[str, str] = {}
    for kind, names in spec.features.by_kind().items():
        for i, column in enumerate(names):
            if column == spec.target:
                problems.append(
                    (("features", kind, i), f"the target '{column}' cannot also be a feature")
                )
            elif column in seen:
                problems.append(
                    (
                        ("features", kind, i),
                        f"column '{column}' is listed as both {seen[column]} and {kind}",
                    )
                )
            seen.setdefault(column, kind)
    if not spec.features.all:
        problems.append((("features",), "expected at least one feature, got none"))
    return problems


def _positions(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    """Map each field path in a composed YAML document to its 1-based line."""
    lines: dict[Path_, int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            lines[child] = key.start_mark.line + 1
            lines.update({k: v for k, v in _positions(value, child).items() if k != child})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_positions(item, (*path, i)))
    return lines


def _model_at(path: Path_) -> type[BaseModel] | None:
    """The pydantic model class reached by following ``path`` from :class:`Spec`."""
    model: Any = Spec
    for part in path:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None and part in ("expectations",):
            return Expectation
    return model if isinstance(model, type) else None


def _describe(error: Any) -> str:
    kind, got = error["type"], error.get("input")
    path = tuple(error["loc"])
    if kind == "extra_forbidden":
        model = _model_at(path[:-1])
        known = list(model.model_fields) if model else []
        hint = did_you_mean(str(path[-1]), known)
        return f"unknown key{hint or ''}" + (
            "" if hint else f" (expected one of: {', '.join(known)})"
        )
    if kind == "missing":
        return "required, but missing"
    if kind == "literal_error":
        expected = error["ctx"]["expected"]
        options = re.findall(r"'([^']*)'", expected)
        return f"expected {expected}, got {got!r}" + did_you_mean(str(got), options)
    message = error["msg"].removeprefix("Value error, ")
    return f"{message}, got {got!r}" if "got" not in message else message


#: the deepest nesting of mappings and lists a spec may use (a real one needs four or five)
MAX_DEPTH = 32
#: the largest spec file read (a real one is a few kilobytes)
MAX_CHARS = 1 << 20


class _Loader(yaml.SafeLoader):
    """YAML 1.2's booleans, ``true`` and ``false`` only. YAML 1.1 (PyYAML's default) also reads
    yes/no/on/off as booleans, which turns the key ``on:`` (``retrain.on``) into ``true`` and a
    class named ``yes`` into ``True``. No anchors, no aliases, no merge keys (``<<`` and ``=`` are
    plain strings, as in YAML 1.2), bounded depth."""

    _depth = 0
    source_name = "loopml.yaml"  # named in the refusals below

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            raise self._no_anchors(line, f"the alias '*{event.anchor}'")
        if getattr(event, "anchor", None) is not None:
            raise self._no_anchors(line, f"the anchor '&{event.anchor}'")
        if self._depth >= MAX_DEPTH:
            raise SpecError(
                f"{self.source_name}: line {line}: lists and mappings nest deeper than "
                f"{MAX_DEPTH} levels; a spec needs a few"
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _no_anchors(self, line: int, what: str) -> SpecError:
        return SpecError(
            f"anchors and aliases are not allowed in {self.source_name}: line {line} ({what}); "
            "write the value out in full where it is used"
        )


_VALUE = "tag:yaml.org,2002:value"  # YAML 1.1's "=" key, which SafeLoader cannot construct
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, pattern)
        for tag, pattern in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:merge", _VALUE)
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _duplicates(loader: _Loader, node: yaml.Node, path: Path_ = ()) -> list[tuple[Path_, int, int]]:
    """Every key given twice in one mapping, as it loads (``1`` and ``0x1`` are one key): its
    path, the line of its first appearance and the line it appears again."""
    found: list[tuple[Path_, int, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value in node.value:
            child = path
            if isinstance(key_node, yaml.ScalarNode):  # other keys are refused when constructed
                child, line = (*path, str(key_node.value)), key_node.start_mark.line + 1
                key = loader.construct_object(key_node)
                if key in seen:
                    found.append((child, seen[key], line))
                seen.setdefault(key, line)
            found += _duplicates(loader, value, child)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicates(loader, item, (*path, i))
    return found


def _where(first: int, again: int) -> str:
    return f"twice on line {first}" if first == again else f"at lines {first} and {again}"


def read_yaml(text: str, *, source: str | None = None) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document the way a spec is read: the data and its composed node (for
    lines). Raise :class:`SpecError` for YAML that is not valid, or that uses an anchor, an
    alias, a duplicate key or deeper nesting than :data:`MAX_DEPTH` (see the module doc)."""
    name = source or "the spec"
    if len(text) > MAX_CHARS:
        raise SpecError(
            f"{name} is {len(text):,} characters long; a spec may have at most {MAX_CHARS:,}: "
            "is this the right file?"
        )
    loader = _Loader(text)
    loader.source_name = name
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        duplicates = _duplicates(loader, node)
        if duplicates:
            problems = [
                _format(
                    source,
                    {path: line},
                    path,
                    f"duplicate key, {_where(first, line)}: a key may appear once in a mapping "
                    "(else the last one silently wins); keep one of them",
                )
                for path, first, line in duplicates
            ]
            raise SpecError(_bullet(problems, f"{len(problems)} duplicate key(s) in the spec"))
        return loader.construct_document(node), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source or 'spec'}:{mark.line + 1}" if mark else (source or "spec")
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{where}: not valid YAML: {problem}") from exc
    finally:
        loader.dispose()


def parse_spec(text: str, *, source: str | None = None) -> Spec:
    """Validate spec text (YAML); raise :class:`SpecError` listing every problem with its line."""
    raw, node = read_yaml(text, source=source)
    if not isinstance(raw, dict) or node is None:
        raise SpecError(
            f"{source or 'spec'}: expected a mapping of keys (name, task, target, …), "
            f"got {type(raw).__name__}"
        )
    lines = _positions(node)
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        problems = [_format(source, lines, tuple(e["loc"]), _describe(e)) for e in exc.errors()]
        raise SpecError(_bullet(problems, f"{len(problems)} problem(s) in the spec")) from exc
    spec._source, spec._lines = source, lines
    problems = [_format(source, lines, path, message) for path, message in _consistency(spec)]
    if problems:
        raise SpecError(_bullet(problems, f"{len(problems)} problem(s) in the spec"))
    return spec


def load_spec(path: str | Path = "loopml.yaml") -> Spec:
    """Load and validate a spec file."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as file:
            text = file.read(MAX_CHARS + 1)  # one more than allowed: read_yaml refuses it
    except FileNotFoundError as exc:
        raise SpecError(
            f"no spec at {path}: run 'loopml init DATA --target COLUMN' to write one, "
            "or pass --spec PATH"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read the spec {path}: {exc}") from exc
    return parse_spec(text, source=str(path))
