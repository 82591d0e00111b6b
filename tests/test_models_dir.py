"""The shipped example models load, predict well, and their documented command rebuilds them."""

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import nnfunc
from nnfunc.cli import main
from nnfunc.datasets import load_dataset
from nnfunc.model import predict
from nnfunc.modelfile import load_model

MODELS = Path(__file__).parent.parent / "models"
SCRIPT = MODELS / "regenerate.sh"
DOC = Path(__file__).parent.parent / "docs" / "model-format.md"
SHIPPED = ["iris", "moons", "xor", "or", "sum", "arithmetic"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_load_and_predict_well(name):
    model = load_model(MODELS / f"{name}.msgpack")
    data = load_dataset(name)
    assert model.provenance["dataset"] == name
    assert model.provenance["dataset_sha256"] == data.sha256
    split = "test" if "test" in model.metrics else "train"
    if model.task == "classify":
        assert model.metrics[split]["accuracy"] >= 0.9
        assert np.mean(predict(model, data.X) == data.y) >= 0.9
    else:
        assert model.metrics[split]["r2"] >= 0.99


def test_the_script_trains_every_shipped_model():
    text = SCRIPT.read_text()
    names = re.search(r"for name in ([\w ]+); do", text).group(1).split()
    assert names == SHIPPED
    assert sorted(p.stem for p in MODELS.glob("*.msgpack")) == sorted(SHIPPED)


def test_retraining_iris_with_the_documented_command_gives_identical_bytes(tmp_path):
    text = SCRIPT.read_text()
    epoch = re.search(r"SOURCE_DATE_EPOCH=(\d+)", text).group(1)
    command = re.search(r'"\$NNFUNC" (train [^\n]*)', text).group(1)
    args = command.replace('"$name"', "iris").split()
    assert args[:3] == ["train", "--dataset", "iris"] and "--out" in args
    args[args.index("--out") + 1] = str(tmp_path / "iris.msgpack")
    shipped = (MODELS / "iris.msgpack").read_bytes()
    provenance = load_model(MODELS / "iris.msgpack").provenance
    versions = (provenance["nnfunc_version"], provenance["numpy_version"])
    if versions != (nnfunc.__version__, np.__version__):
        pytest.skip(f"models/ was built with nnfunc/numpy {versions}; regenerate to compare")
    result = CliRunner().invoke(main, args, env={"SOURCE_DATE_EPOCH": epoch})
    assert result.exit_code == 0, result.output
    rebuilt = (tmp_path / "iris.msgpack").read_bytes()
    assert rebuilt == shipped, "models/iris.msgpack is stale: run `sh models/regenerate.sh`"


def test_the_standalone_reader_in_the_format_doc_agrees_with_nnfunc():
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[-1]
    namespace = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # the doc's own example, not file content
    for name in SHIPPED:
        raw = namespace["read"](MODELS / f"{name}.msgpack")
        model = load_model(MODELS / f"{name}.msgpack")
        X = load_dataset(name).X
        theirs, ours = namespace["predict"](raw, X), predict(model, X)
        if model.task == "classify":
            assert list(theirs) == ours.tolist()
        else:
            np.testing.assert_allclose(theirs, ours, rtol=1e-12, atol=1e-9)
