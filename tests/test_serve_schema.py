"""schemathesis against /openapi.json: generated requests get no 5xx and schema-true answers.

Every operation gets examples, coverage and fuzzed requests (bounded), JSON and msgpack bodies,
checked for server errors, status codes, content types and response schemas, and for accepting
data the schema forbids. Not checked: that every schema-valid request is accepted, since an
OpenAPI document cannot say how many features each model takes.
"""

from __future__ import annotations

import msgpack
import pytest

from nnfunc.datasets import load_dataset
from nnfunc.pipeline import RECIPES, TrainConfig, train_model
from serve import ServeConfig, create_app

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402


def make_app():
    models = {
        "iris": train_model(load_dataset("iris"), RECIPES["iris"]),
        "sum": train_model(load_dataset("sum"), TrainConfig(hidden=(3,), epochs=2)),
    }
    config = ServeConfig(models_dir=None, poll_interval=0, max_rows=100, max_body_bytes=64 * 1024)
    return create_app(config, models=models)


def _packable(value):
    """Integers outside msgpack's 64 bits become floats (JSON would carry them as numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, list, dict)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else float(value)
    if isinstance(value, list):
        return [_packable(v) for v in value]
    return {k: _packable(v) for k, v in value.items()}


@schemathesis.serializer("application/msgpack")
def _to_msgpack(ctx, value):
    return msgpack.packb(_packable(value), use_bin_type=True)


schema = schemathesis.openapi.from_wsgi("/openapi.json", make_app())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case):
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
