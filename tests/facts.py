"""Imports extensions/facts.py the way copier-template-extensions does: by file path."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import jinja2

from tests.paths import ROOT

_spec = importlib.util.spec_from_file_location("template_facts", ROOT / "extensions" / "facts.py")
assert _spec and _spec.loader
facts = importlib.util.module_from_spec(_spec)
sys.modules["template_facts"] = facts
_spec.loader.exec_module(facts)

_env = jinja2.Environment(undefined=jinja2.StrictUndefined)
_env.filters.update(kebab=facts.kebab, snake=facts.snake)


def render_default(default: Any, context: dict[str, Any]) -> Any:
    if isinstance(default, str) and "{{" in default:
        return _env.from_string(default).render(**context)
    return default


def load_extension(name: str) -> Any:
    """Another module of extensions/, loaded by path like copier does."""
    spec = importlib.util.spec_from_file_location(
        f"template_{name}", ROOT / "extensions" / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
