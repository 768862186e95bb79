"""Loading a spec: YAML (1.2 booleans) to a validated :class:`~loopml.spec.models.Spec`, with
line-level messages.

Errors name the file, the line, the field path, what was expected and what was got, with a
close-match suggestion for misspelled keys and values; every problem is listed at once. Checks
across fields (the metric fits the task, a feature is not the target, rollout steps end at 100)
run here, once, after the models validated each field.
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
    if spec.rollout.steps != sorted(spec.rollout.steps) or spec.rollout.steps[-1] != 100:
        problems.append(
            (
                ("rollout", "steps"),
                f"expected increasing percentages ending at 100, got {spec.rollout.steps}",
            )
        )
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


class _Loader(yaml.SafeLoader):
    """YAML 1.2's booleans, ``true`` and ``false`` only. YAML 1.1 (PyYAML's default) also reads
    yes/no/on/off as booleans, which turns the key ``on:`` (``retrain.on``) into ``true`` and a
    class named ``yes`` into ``True``."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_spec(text: str, *, source: str | None = None) -> Spec:
    """Validate spec text (YAML); raise :class:`SpecError` listing every problem with its line."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source or 'spec'}:{mark.line + 1}" if mark else (source or "spec")
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{where}: not valid YAML: {problem}") from exc
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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError(
            f"no spec at {path}: run 'loopml init DATA --target COLUMN' to write one, "
            "or pass --spec PATH"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read the spec {path}: {exc}") from exc
    return parse_spec(text, source=str(path))
