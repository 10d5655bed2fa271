"""The answer matrix, derived from copier.yml itself: choices, `when` and validators.

A new choice in copier.yml (or a newly supported one in extensions/facts.py) extends every tier
with no edit here.

- `full_matrix()`: every valid combination of the functional answers, the others at their
  defaults, plus every value of each other answer, plus a pairwise covering array of the
  cross-cutting answers (`CROSS_CUTTING`: tracing, error tracking) over the functional ones
  (tier 1, `make test-full`).
- `covering_array(t)`: a t-wise covering array over all the answers (tier 2 with t=3,
  tier 3 with t=2): every combination of t values that some valid answer set has appears in at
  least one chosen set. Greedy (AETG-style) and seeded, so every xdist worker collects the same.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from tests.answers import QUESTIONS
from tests.facts import facts
from tests.paths import ROOT

FUNCTIONAL = ("auth", "rbac", "database", "cache", "rate_limit", "worker", "broker", "websockets")
# Free-text questions keep their defaults; every other question with choices or a bool varies.
VARIED = tuple(
    key for key, spec in QUESTIONS.items() if "choices" in spec or spec.get("type") == "bool"
)
OTHER = tuple(key for key in VARIED if key not in FUNCTIONAL)
# Answers that wire into every functional module (tracing instruments the database, the cache
# and the worker): tier 1 shows each of their values beside each functional answer's value.
CROSS_CUTTING = tuple(key for key in ("tracing", "error_tracking") if key in QUESTIONS)

_env = jinja2.Environment(undefined=jinja2.StrictUndefined, extensions=[facts.FactsExtension])


@cache
def _compiled(template: str) -> jinja2.Template:
    return _env.from_string(template)


@cache
def _variables(template: str) -> tuple[str, ...]:
    """The answers `template` reads (the facts' functions it calls are pure)."""
    names = jinja2.meta.find_undeclared_variables(_env.parse(template))
    return tuple(sorted(name for name in names if name not in _env.globals))


_rendered: dict[tuple[str, tuple[str, ...]], str] = {}


def _render(template: str, context: dict[str, Any]) -> str:
    """`template` rendered with `context`, remembered by the values of the answers it reads:
    the matrix asks the same `when` and validator of hundreds of thousands of answer sets."""
    try:
        key = (template, tuple(repr(context[name]) for name in _variables(template)))
    except KeyError:  # an answer not given yet: StrictUndefined says which
        return _compiled(template).render(**context).strip()
    if (text := _rendered.get(key)) is None:
        text = _rendered[key] = _compiled(template).render(**context).strip()
    return text


def _truthy(text: str) -> bool:
    return text.lower() not in {"", "false", "no", "off", "0", "none"}


def domain(key: str) -> list[Any]:
    """The values of a question (choices given as a mapping are labelled by their values)."""
    spec = QUESTIONS[key]
    if "choices" not in spec:
        return [True, False]
    choices = spec["choices"]
    if isinstance(choices, dict):
        return [v["value"] if isinstance(v, dict) else v for v in choices.values()]
    return list(choices)


def default(key: str, context: dict[str, Any]) -> Any:
    value = QUESTIONS[key].get("default")
    if isinstance(value, str) and "{{" in value:
        return _render(value, context)
    return value


def asked(key: str, context: dict[str, Any]) -> bool:
    when = QUESTIONS[key].get("when")
    if when is None:
        return True
    return _truthy(_render(str(when), context)) if isinstance(when, str) else bool(when)


def error(key: str, context: dict[str, Any]) -> str:
    """The refusal of `context[key]`: its choice's own validator (which disables it in the
    interactive prompt), else the question's validator."""
    choices = QUESTIONS[key].get("choices")
    if isinstance(choices, dict):
        spec = choices.get(context[key])
        if isinstance(spec, dict) and (refused := _render(spec.get("validator", ""), context)):
            return refused
    validator = QUESTIONS[key].get("validator")
    return _render(validator, context) if validator else ""


def _expand(keys: tuple[str, ...], fixed: dict[str, Any]) -> list[dict[str, Any]]:
    """Every answer set varying `keys` (in copier.yml order), the rest from `fixed` or defaults,
    skipping what `when` hides and what a validator refuses."""
    results: list[dict[str, Any]] = [{}]
    for key in QUESTIONS:
        grown = []
        for partial in results:
            if key in keys and asked(key, partial):
                values = domain(key)
            elif key in fixed:
                values = [fixed[key]]
            else:
                values = [default(key, partial)]
            for value in values:
                candidate = {**partial, key: value}
                if not asked(key, partial) or not error(key, candidate):
                    grown.append(candidate)
        results = grown
    return results


def data_of(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers copier is given: without those `when` hides (copier validates every answer
    it is given, and a hidden one such as `broker` with `worker=none` is refused)."""
    return {key: value for key, value in answers.items() if asked(key, answers)}


@cache
def functional_combinations() -> tuple[dict[str, Any], ...]:
    return tuple(_expand(FUNCTIONAL, {}))


@cache
def other_combinations() -> tuple[dict[str, Any], ...]:
    return tuple(_expand(OTHER, {}))


def full_matrix() -> list[dict[str, Any]]:
    """Tier 1: every functional combination, plus every value of each other answer."""
    sets = list(functional_combinations())
    seen = {_key(s) for s in sets}
    for key in OTHER:
        for answers in _expand((key,), {}):
            if _key(answers) not in seen:
                seen.add(_key(answers))
                sets.append(answers)
    for answers in cross_cutting_sets():
        if _key(answers) not in seen:
            seen.add(_key(answers))
            sets.append(answers)
    return sets


@cache
def cross_cutting_sets() -> tuple[dict[str, Any], ...]:
    """A greedy pairwise covering array over FUNCTIONAL + CROSS_CUTTING: every pair of a
    cross-cutting answer's value and another answer's value that a valid set shows, in few
    sets (the pairs with the defaults are already in the functional combinations)."""
    keys = (*FUNCTIONAL, *CROSS_CUTTING)
    candidates = []
    for combination in functional_combinations():
        for values in itertools.product(*(domain(key) for key in CROSS_CUTTING)):
            chosen = dict(zip(CROSS_CUTTING, values, strict=True))
            if all(value == combination[key] for key, value in chosen.items()):
                continue  # the functional combination itself
            answers = shown({**combination, **chosen})
            if is_valid(answers):
                candidates.append(answers)

    def pairs(answers: dict[str, Any]) -> set[tuple[tuple[str, str], ...]]:
        # an answer that `when` hides pairs with nothing
        items = sorted((key, repr(answers[key])) for key in keys if asked(key, answers))
        return {
            pair
            for pair in itertools.combinations(items, 2)
            if any(key in CROSS_CUTTING and value != repr(defaults()[key]) for key, value in pair)
        }

    uncovered = set().union(*(pairs(c) for c in candidates)) if candidates else set()
    result: list[dict[str, Any]] = []
    while uncovered:
        best = max(candidates, key=lambda c: len(pairs(c) & uncovered))
        result.append(best)
        uncovered -= pairs(best)
    return tuple(result)


def _key(answers: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((k, repr(answers[k])) for k in VARIED)


@cache
def _combine(f_index: int, o_index: int) -> dict[str, Any] | None:
    other = other_combinations()[o_index]
    answers = shown({**functional_combinations()[f_index], **{k: other[k] for k in OTHER}})
    return answers if is_valid(answers) else None


def shown(answers: dict[str, Any]) -> dict[str, Any]:
    """`answers` as the project renders them: an answer its `when` hides (email with auth=jwt,
    once the functional and the other answers are put together) is at its default."""
    result: dict[str, Any] = {}
    for key in QUESTIONS:
        result[key] = answers[key] if asked(key, result) else default(key, result)
    return result


@cache
def covering_array(strength: int) -> tuple[dict[str, Any], ...]:
    """A t-wise covering array, cached on disk by the content of its inputs (it takes seconds)."""
    inputs = b"".join(
        (ROOT / name).read_bytes()
        for name in ("copier.yml", "extensions/facts.py", "tests/matrix.py")
    )
    digest = hashlib.sha256(inputs).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"fastapi-template-matrix-{strength}-{digest}.json"
    if path.exists():
        return tuple(json.loads(path.read_text()))
    result = _covering_array(strength)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(result))
    partial.replace(path)
    return result


def _covering_array(strength: int, seed: int = 20261129) -> tuple[dict[str, Any], ...]:
    """A seeded greedy t-wise covering array over VARIED, valid sets only."""
    functional, other = functional_combinations(), other_combinations()
    params = VARIED
    targets: set[tuple[tuple[str, str], ...]] = set()
    f_cross, o_cross = _cross_keys()
    for group in itertools.combinations(params, strength):
        f_keys = [k for k in group if k in FUNCTIONAL]
        o_keys = [k for k in group if k not in FUNCTIONAL]
        # Every t-tuple some valid set shows: one functional set per value of its keys and of
        # the functional answers the other questions read, one other set likewise; the sets
        # between them differ in nothing the pair's validity depends on.
        f_reps = {_project(c, [*f_keys, *f_cross]): i for i, c in enumerate(functional)}
        o_reps = {_project(c, [*o_keys, *o_cross]): j for j, c in enumerate(other)}
        for i, j in itertools.product(f_reps.values(), o_reps.values()):
            combined = _combine(i, j)
            if combined is not None:
                targets.add(tuple(sorted(_project(combined, list(group)))))

    def tuples_of(answers: dict[str, Any]) -> set[tuple[tuple[str, str], ...]]:
        items = sorted((k, repr(answers[k])) for k in params)
        return set(itertools.combinations(items, strength))

    rng = random.Random(seed)
    chosen: list[dict[str, Any]] = []
    uncovered = set(targets)
    while uncovered:
        best: dict[str, Any] | None = None
        best_gain: set[tuple[tuple[str, str], ...]] = set()
        for _ in range(300):
            candidate = _combine(rng.randrange(len(functional)), rng.randrange(len(other)))
            if candidate is None:
                continue
            gain = tuples_of(candidate) & uncovered
            if len(gain) > len(best_gain):
                best, best_gain = candidate, gain
        if best is None:  # the remaining targets are not reachable by sampling: scan them all
            for f, o in itertools.product(range(len(functional)), range(len(other))):
                candidate = _combine(f, o)
                if candidate is not None and tuples_of(candidate) & uncovered:
                    best, best_gain = candidate, tuples_of(candidate) & uncovered
                    break
            if best is None:
                break
        chosen.append(best)
        uncovered -= best_gain
    return tuple(chosen)


def _project(answers: dict[str, Any], keys: list[str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, repr(answers[k])) for k in keys)


@cache
def _cross_keys() -> tuple[list[str], list[str]]:
    """The functional answers that the `when` or validator of another question reads (auth, for
    email), and those other questions."""
    functional: set[str] = set()
    others = []
    for key in OTHER:
        read: set[str] = set()
        for field in ("when", "validator"):
            expression = QUESTIONS[key].get(field)
            if isinstance(expression, str):
                read |= jinja2.meta.find_undeclared_variables(_env.parse(expression))
        if read & set(FUNCTIONAL):
            functional |= read & set(FUNCTIONAL)
            others.append(key)
    return [k for k in FUNCTIONAL if k in functional], others


def defaults() -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for key in QUESTIONS:
        answers[key] = default(key, answers)
    return answers


def is_valid(answers: dict[str, Any]) -> bool:
    return all(not (asked(key, answers) and error(key, answers)) for key in QUESTIONS)


def tier3() -> list[dict[str, Any]]:
    """Pairwise, plus the defaults and everything-on (when they are valid answer sets)."""
    sets = [s for s in (defaults(), everything_on()) if is_valid(s)]
    seen = {_key(s) for s in sets}
    sets += [s for s in covering_array(2) if _key(s) not in seen]
    return sets


def complete(answers: dict[str, Any]) -> dict[str, Any]:
    """A partial answer set (a named set, a preset) with every other question at its default;
    a question that `when` hides keeps its default, as copier does."""
    full: dict[str, Any] = {}
    for key in QUESTIONS:
        given = key in answers and asked(key, full)
        full[key] = answers[key] if given else default(key, full)
    return full


def in_tier3(answers: dict[str, Any]) -> bool:
    """Whether tier 3 already runs the rendered tests of `answers`. `python_version` is left
    out of the comparison: it changes the packaging files, not one test."""

    def suite(full: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple(item for item in _key(full) if item[0] != "python_version")

    return suite(complete(answers)) in {suite(s) for s in tier3()}


def everything_on() -> dict[str, Any]:
    """The richest valid answer set: the last choice of every question (most capable)."""
    answers: dict[str, Any] = {}
    for key in QUESTIONS:
        if key in VARIED and asked(key, answers):
            options = [v for v in domain(key) if v not in (False, "none")]
            valid = [v for v in options if not error(key, {**answers, key: v})]
            answers[key] = valid[-1] if valid else default(key, answers)
        else:
            answers[key] = default(key, answers)
    return answers


def name_of(answers: dict[str, Any]) -> str:
    """A short readable id of an answer set, for test ids."""
    parts = []
    for key in VARIED:
        value = answers.get(key)
        if value in (None, "none", False) or (
            key == "broker" and answers.get("worker") != "celery"
        ):
            continue
        if key == "rbac" and answers.get("auth") == "none":
            continue
        parts.append(key if value is True else f"{key}={value}")
    return ",".join(parts) or "minimal"
