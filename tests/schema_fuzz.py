"""Schemathesis over an in-process ASGI app: every operation of its OpenAPI schema, bounded.

Each operation gets ``max_examples`` schema-valid cases and as many schema-invalid ones
(hypothesis, derandomized, no example database), sent through schemathesis's ASGI client and
checked for: no 5xx, a documented status code, a documented content type, a body that matches
the documented schema, and a 4xx for invalid input. Failures of all operations are collected,
so one run names every operation that breaks.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import Case as GenericCase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python.asgi import ASGIClient
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

Case = GenericCase[Any]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

# (headers, cookies) for one generated case: how the test authenticates it.
Credentials = Callable[[Case], tuple[dict[str, str], dict[str, str]]]
# Edits a schema-valid case so more of them get past validators the schema cannot express.
Tune = Callable[[Case, random.Random], Case]


@dataclass
class FuzzRun:
    operations: list[str] = field(default_factory=list)
    examples: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    by_operation: dict[str, dict[int, int]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return "\n\n".join(f"{label}:\n{text}" for label, text in self.failures.items())


def fuzz_schema(
    schema: BaseSchema,
    client: ASGIClient,
    credentials: Credentials,
    *,
    max_examples: int,
    order: Callable[[str], int] = lambda label: 0,
    tune: Tune | None = None,
    known_ids: dict[str, str] | None = None,
) -> FuzzRun:
    """Run every operation of ``schema`` (positive and negative cases) against ``client``.

    ``known_ids`` are path parameter values of existing resources: half the valid cases of an
    operation with such a parameter use them, so they get past "not found" to the handler.
    """
    run = FuzzRun()
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result}"
        operations.append(result.ok())
    operations.sort(key=lambda op: order(op.label))
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} ({mode.value})"
            cases: st.SearchStrategy[Case] = operation.as_strategy(generation_mode=mode)
            if mode is GenerationMode.POSITIVE:
                names = {p.name for p in operation.path_parameters}
                fixed = {k: v for k, v in (known_ids or {}).items() if k in names}
                if fixed:
                    cases = st.one_of(
                        cases, operation.as_strategy(generation_mode=mode, path_parameters=fixed)
                    )
                if tune is not None:
                    cases = _tuned(cases, tune)

            @hypothesis.settings(
                max_examples=max_examples,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: the run stays bounded
                suppress_health_check=list(HealthCheck),
                report_multiple_bugs=False,
            )
            @given(case=cases)
            def check(case: Case) -> None:
                headers, cookies = credentials(case)
                response = case.call(session=client, headers=headers, cookies=cookies)
                run.examples += 1
                code = response.status_code
                run.statuses[code] = run.statuses.get(code, 0) + 1
                seen = run.by_operation.setdefault(case.operation.label, {})
                seen[code] = seen.get(code, 0) + 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                check()
            except hypothesis.errors.Unsatisfiable:
                continue  # no invalid input exists for this operation (no parameters, no body)
            except (Exception, BaseExceptionGroup) as exc:
                run.failures[label] = _describe(exc)
        run.operations.append(operation.label)
    return run


def _tuned(cases: st.SearchStrategy[Case], tune: Tune) -> st.SearchStrategy[Case]:
    return st.tuples(cases, st.randoms(use_true_random=False)).map(lambda pair: tune(*pair))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    notes: Any = getattr(exc, "__notes__", [])
    return "\n".join([text, *[str(n) for n in notes]])[:3000]
