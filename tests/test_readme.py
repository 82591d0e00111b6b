"""The README's Python snippets run, its two set-up commands stay at the top and in CI, and the
serving guide's example answers are the shipped model's."""

import pathlib
import re

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_python_snippets_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    snippets = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(snippets) >= 2
    for snippet in snippets:
        exec(compile(snippet, "README.md", "exec"), {})  # noqa: S102 - our own documentation


def test_the_two_setup_commands_come_first_and_ci_runs_the_second():
    commands = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)[:2]
    assert commands[0].endswith("nnfunc train") and "pip install ." in commands[0]
    assert "pip install -e '.[dev]'" in commands[1] and "pytest" in commands[1]
    assert README.index(commands[1]) < README.index("## ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -e '.[dev]'" in ci and "README.md" in ci


def test_the_serving_guide_shows_the_shipped_iris_models_version():
    # the version is a digest of the file: regenerating models/iris.msgpack changes it
    from serve import ServeConfig, create_app

    guide = (ROOT / "docs" / "serving.md").read_text()
    shown = set(re.findall(r'"(?:versions":\["|model_version":")([0-9a-f]{16})"', guide))
    client = create_app(ServeConfig(models_dir=str(ROOT / "models"))).test_client()
    assert shown == set(client.get("/v2/models/iris").get_json()["versions"])


def test_the_library_guide_s_snippets_run(monkeypatch, tmp_path, scratch_activations):
    import nnfunc as nf
    from nnfunc.datasets import load_dataset

    monkeypatch.chdir(tmp_path)  # snippets that save a file write it here
    guide = (ROOT / "docs" / "library.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", guide, flags=re.S)
    assert len(snippets) >= 4
    data = load_dataset("iris")
    spec = nf.mlp_spec([4, 6, 3])
    given = {  # what the guide's fragments take as given: Iris rows and labels, a network
        "nf": nf,
        "X": (data.X - data.X.mean(0)) / data.X.std(0),
        "y": np.unique(data.y, return_inverse=True)[1],
        "spec": spec,
        "params": nf.init_params(spec, 0),
    }
    for snippet in snippets:
        exec(compile(snippet, "docs/library.md", "exec"), dict(given))  # noqa: S102 - our docs
