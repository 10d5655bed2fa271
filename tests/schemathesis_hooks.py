"""Loaded by every schemathesis run of tests/test_schemathesis.py (`SCHEMATHESIS_HOOKS`).

On this machine's CPython 3.11.7, `ast.parse` deep in a call stack can raise `SystemError: AST
constructor recursion depth mismatch` (a CPython bug, gh-106905). Hypothesis calls it to
describe a lambda in a strategy's repr, which it builds while validating the recursive
strategies of negative (invalid) data, and schemathesis then reports the operation as errored
although no request was sent. The description is cosmetic: on that error it is the one
Hypothesis gives a lambda whose source it cannot find.
"""

from __future__ import annotations

import sys
from typing import Any

from hypothesis.internal import lambda_sources

if sys.version_info < (3, 12):
    _describe = lambda_sources._lambda_description

    def _lambda_description(f: Any) -> str:
        try:
            return _describe(f)
        except SystemError:
            return "lambda: <unknown>"

    lambda_sources._lambda_description = _lambda_description
