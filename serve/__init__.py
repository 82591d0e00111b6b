"""The nnfunc prediction service: Open Inference Protocol (v2) and TF Serving REST over Flask.

`create_app(config)` builds the WSGI app; `nnfunc serve` runs it under gunicorn. See
docs/serving.md for the routes, limits and hot reload.
"""

from serve.app import create_app
from serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
