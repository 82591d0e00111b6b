#!/bin/sh
# Regenerate the example model files in models/ with `nnfunc train`, from the repository root:
#
#     sh models/regenerate.sh
#
# `nnfunc train` records no clock reading unless asked (--timestamp), so the same code, numpy
# version and machine give byte-identical files, and models/iris.msgpack is exactly what the
# README's first command (`nnfunc train`) writes (tests/test_models_dir.py checks every model).
set -eu
NNFUNC="${NNFUNC:-.venv/bin/nnfunc}"
for name in iris moons xor or sum arithmetic; do
    "$NNFUNC" train --dataset "$name" --out "models/$name.msgpack" --quiet
done
