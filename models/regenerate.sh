#!/bin/sh
# Regenerate the example model files in models/ with `nnfunc train`, from the repository root:
#
#     sh models/regenerate.sh
#
# SOURCE_DATE_EPOCH fixes the creation time written into each file, so the same code, numpy
# version and machine give byte-identical files (tests/test_models_dir.py checks iris).
set -eu
NNFUNC="${NNFUNC:-.venv/bin/nnfunc}"
export SOURCE_DATE_EPOCH=1767225600  # 2026-01-01T00:00:00Z
for name in iris moons xor or sum arithmetic; do
    "$NNFUNC" train --dataset "$name" --out "models/$name.msgpack" --quiet
done
