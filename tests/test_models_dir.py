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
    # a user's own models may sit beside them (the README trains one into models/)
    assert set(SHIPPED) <= {p.stem for p in MODELS.glob("*.msgpack")}
    # no clock reading in a shipped model, so that retraining gives the same bytes
    assert "--timestamp" not in re.search(r'"\$NNFUNC" (train [^\n]*)', text).group(1)


def _skip_if_built_elsewhere(name: str) -> None:
    provenance = load_model(MODELS / f"{name}.msgpack").provenance
    versions = (provenance["nnfunc_version"], provenance["numpy_version"])
    if versions != (nnfunc.__version__, np.__version__):
        pytest.skip(f"models/ was built with nnfunc/numpy {versions}; regenerate to compare")


@pytest.mark.parametrize("name", SHIPPED)
def test_retraining_with_the_documented_command_gives_identical_bytes(tmp_path, name):
    text = SCRIPT.read_text()
    command = re.search(r'"\$NNFUNC" (train [^\n]*)', text).group(1)
    args = command.replace('"$name"', name).split()
    assert args[:3] == ["train", "--dataset", name] and "--out" in args
    args[args.index("--out") + 1] = str(tmp_path / f"{name}.msgpack")
    _skip_if_built_elsewhere(name)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rebuilt = (tmp_path / f"{name}.msgpack").read_bytes()
    shipped = (MODELS / f"{name}.msgpack").read_bytes()
    assert rebuilt == shipped, f"models/{name}.msgpack is stale: run `sh models/regenerate.sh`"


def test_the_readme_first_command_rewrites_the_shipped_iris_model_unchanged(tmp_path, monkeypatch):
    """`nnfunc train` in a clone writes models/iris.msgpack: it must leave `git status` clean."""
    _skip_if_built_elsewhere("iris")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train"])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "models" / "iris.msgpack").read_bytes()
    assert written == (MODELS / "iris.msgpack").read_bytes(), "run `sh models/regenerate.sh`"


def _doc_reader():
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[-1]
    namespace = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # the doc's own example, not file content
    return namespace


def test_the_standalone_reader_in_the_format_doc_agrees_with_nnfunc():
    namespace = _doc_reader()
    for name in SHIPPED:
        raw = namespace["read"](MODELS / f"{name}.msgpack")
        model = load_model(MODELS / f"{name}.msgpack")
        X = load_dataset(name).X
        theirs, ours = namespace["predict"](raw, X), predict(model, X)
        if model.task == "classify":
            assert list(theirs) == ours.tolist()
        else:
            np.testing.assert_allclose(theirs, ours, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("name", ["iris", "xor", "sum"])
def test_the_format_docs_reader_gives_nnfuncs_exact_answers_for_float32_models(name, tmp_path):
    # it applied <f8 scalers to float32 rows (values off by 2.6e-7) and thresholded out, not z
    from nnfunc.model import predict_values
    from nnfunc.modelfile import save_model
    from nnfunc.pipeline import TrainConfig, train_model

    data = load_dataset(name)
    model = train_model(data, TrainConfig(hidden=(5,), epochs=5, dtype="float32", seed=1))
    save_model(model, tmp_path / "m.msgpack")
    namespace = _doc_reader()
    theirs = namespace["predict"](namespace["read"](tmp_path / "m.msgpack"), data.X)
    if model.task == "classify":
        assert list(theirs) == predict(model, data.X).tolist()
    else:
        np.testing.assert_array_equal(theirs, predict_values(model, data.X))
