"""Output files (permissions, symlinks, read-only files, long names, `-`) and how every command
ends on Ctrl-C, SIGTERM and a closed stdout."""

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnfunc.cli import main
from nnfunc.cli.common import BadInput, check_output, creation_time
from nnfunc.modelfile import load_model, write_atomic

ROOT = Path(__file__).parent.parent
IRIS_MODEL = ROOT / "models" / "iris.msgpack"
IRIS_CSV = ROOT / "nnfunc" / "data" / "iris.csv"
XOR = ["train", "--dataset", "xor", "--epochs", "3", "-q"]


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def assert_fails(result, code, message):
    """Exit `code` with exactly one `Error: ...` line on stderr mentioning `message`."""
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]


def nnfunc(*args, stdout=subprocess.PIPE, cwd=None, prelude=""):
    """`python -c` running the command line in a fresh process, after `prelude` (patches)."""
    script = textwrap.dedent(prelude) + "\nfrom nnfunc.cli import main\nmain(prog_name='nnfunc')\n"
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def never_trains(monkeypatch):
    """Make training fail loudly: the checks under test must refuse before it starts."""

    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("nnfunc.cli.train.train_model", fail)


# --- Ctrl-C, SIGTERM and closed pipes -------------------------------------------------------------


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["datasets"], "nnfunc.cli.datasets.describe"),
        (["inspect", IRIS_MODEL], "nnfunc.cli.inspect.read_model_bytes"),
        (["predict", IRIS_MODEL, "--data", IRIS_CSV], "nnfunc.cli.common.load_model"),
        (["evaluate", IRIS_MODEL, "--data", IRIS_CSV], "nnfunc.cli.common.load_model"),
        ([*XOR, "--out", "m.msgpack"], "nnfunc.cli.train.train_model"),
    ],
)
def test_ctrl_c_exits_130_with_one_line_in_every_command(tmp_path, monkeypatch, args, target):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(target, _interrupt)
    result = run(*args)
    assert result.exit_code == 130, result.output
    assert result.stderr == "interrupted\n"
    assert os.listdir(tmp_path) == []


PATCH_FSYNC = """
    import os, signal, sys
    real_fsync = os.fsync
    def fsync(fd):  # the signal arrives while the model file is being written
        os.kill(os.getpid(), signal.{signal})
        real_fsync(fd)
    os.fsync = fsync
"""


@pytest.mark.parametrize(
    ("name", "code", "line"), [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")]
)
def test_a_signal_while_writing_leaves_the_old_file_and_no_temporary_file(
    tmp_path, name, code, line
):
    (tmp_path / "m.msgpack").write_bytes(b"previous model")
    prelude = PATCH_FSYNC.format(signal=name)
    result = nnfunc(*XOR, "--out", "m.msgpack", cwd=tmp_path, prelude=prelude)
    assert result.returncode == code, result.stderr
    assert result.stderr.decode().splitlines() == [line]
    assert os.listdir(tmp_path) == ["m.msgpack"]
    assert (tmp_path / "m.msgpack").read_bytes() == b"previous model"


def _closed_pipe():
    """The write end of a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


@pytest.mark.parametrize(
    "args",
    [
        ["datasets"],
        ["--help"],
        ["train", "--help"],
        ["inspect", IRIS_MODEL],
        ["predict", IRIS_MODEL, "--data", IRIS_CSV],
        ["evaluate", IRIS_MODEL, "--data", IRIS_CSV],
        [*XOR[:-1], "--out", "m.msgpack"],  # the summary is printed after the file is written
    ],
)
def test_a_closed_stdout_exits_141_silently(tmp_path, args):
    stdout = _closed_pipe()
    try:
        result = nnfunc(*args, stdout=stdout, cwd=tmp_path)
    finally:
        os.close(stdout)
    assert result.returncode == 141
    assert result.stderr == b""  # no traceback, no "Exception ignored ... BrokenPipeError"
    if args[0] == "train" and "--help" not in args:
        assert load_model(tmp_path / "m.msgpack").task == "classify"


# --- write_atomic ---------------------------------------------------------------------------------


def test_a_replaced_file_keeps_its_permission_bits(tmp_path, monkeypatch):
    path = tmp_path / "private.msgpack"
    path.write_bytes(b"old")
    path.chmod(0o600)
    previous = os.umask(0o022)
    try:
        write_atomic(path, b"new")
        assert run(*XOR, "--out", path).exit_code == 0
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_model(path).task == "classify"


def test_a_symlink_is_written_through_and_kept(tmp_path):
    real = tmp_path / "store" / "model.msgpack"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.msgpack"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert run(*XOR, "--out", link).exit_code == 0
    assert link.is_symlink() and load_model(real).task == "classify"
    assert sorted(os.listdir(real.parent)) == ["model.msgpack"]


def test_an_interrupt_right_after_the_temporary_file_is_created_removes_it(tmp_path, monkeypatch):
    path = tmp_path / "m.msgpack"
    path.write_bytes(b"old")
    real_open, opened = os.open, []

    def open_then_interrupt(name, *args, **kwargs):
        fd = real_open(name, *args, **kwargs)
        opened.append(fd)
        raise KeyboardInterrupt  # as if Ctrl-C landed as os.open returned

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, b"new")
    monkeypatch.undo()
    os.close(opened[0])  # this one is lost to write_atomic: the exception came before it
    assert os.listdir(tmp_path) == ["m.msgpack"] and path.read_bytes() == b"old"


def test_an_interrupt_before_the_file_object_exists_closes_the_descriptor(tmp_path, monkeypatch):
    path = tmp_path / "m.msgpack"
    path.write_bytes(b"old")
    given = []

    def interrupted_fdopen(fd, *args, **kwargs):
        given.append(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fdopen", interrupted_fdopen)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, b"new")
    monkeypatch.undo()
    with pytest.raises(OSError) as info:
        os.fstat(given[0])
    assert info.value.errno == errno.EBADF
    assert os.listdir(tmp_path) == ["m.msgpack"] and path.read_bytes() == b"old"


def test_a_failure_after_the_rename_is_not_a_failed_write(tmp_path, monkeypatch):
    path = tmp_path / "m.msgpack"
    real_close = os.close

    def close_fails(fd):  # only syncing the folder closes a descriptor with os.close
        real_close(fd)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "close", close_fails)
    write_atomic(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"new"


# --- output paths checked before training ---------------------------------------------------------


def test_a_read_only_model_file_is_refused_before_training(tmp_path, monkeypatch):
    path = tmp_path / "m.msgpack"
    path.write_bytes(b"previous model")
    real_access = os.access

    def access(name, mode, **kwargs):  # read-only for anyone, root included
        if mode & os.W_OK and os.path.samefile(name, path):
            return False
        return real_access(name, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    never_trains(monkeypatch)
    assert_fails(run(*XOR, "--out", path), 2, f"{path}: is read-only")
    assert path.read_bytes() == b"previous model"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file")
def test_a_chmod_444_model_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "m.msgpack"
    path.write_bytes(b"previous model")
    path.chmod(0o444)
    never_trains(monkeypatch)
    assert_fails(run(*XOR, "--out", path), 2, "is read-only")
    assert path.read_bytes() == b"previous model"


def test_the_longest_name_the_folder_takes_can_be_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    longest = "m" * (os.pathconf(tmp_path, "PC_NAME_MAX") - len(".msgpack")) + ".msgpack"
    result = run(*XOR, "--out", longest)
    assert result.exit_code == 0, result.output
    assert os.listdir(tmp_path) == [longest]


def test_a_name_too_long_for_the_folder_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    never_trains(monkeypatch)
    too_long = "m" * (os.pathconf(tmp_path, "PC_NAME_MAX") + 1 - len(".msgpack")) + ".msgpack"
    assert_fails(run(*XOR, "--out", too_long), 2, "file name too long")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--out", "-"],
        ["train", "--plot", "-"],
        ["sweep", "--dataset", "xor", "--hidden", "2", "--out", "-"],
        ["sweep", "--dataset", "xor", "--hidden", "2", "--save-best", "-"],
    ],
)
def test_dash_is_not_an_output_file(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    assert_fails(run(*args), 2, "'-' is not stdout here; give a file name")
    assert os.listdir(tmp_path) == []
    with pytest.raises(BadInput, match="not stdout"):
        check_output("-")


# --- SOURCE_DATE_EPOCH ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["-1", "+5", " 1700000000", "1700000000 ", "1_700_000_000", "١٧٠٠٠٠٠٠٠٠", "1.5", "x"]
)
def test_source_date_epoch_takes_ascii_digits_only(monkeypatch, value):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(BadInput, match="is not a Unix time in seconds"):
        creation_time()


def test_source_date_epoch_in_digits_or_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert creation_time() == "2023-11-14T22:13:20Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")  # empty counts as unset: the time now
    assert creation_time() > "2024"
    out = tmp_path / "m.msgpack"
    result = run(*XOR, "--timestamp", "--out", out, env={"SOURCE_DATE_EPOCH": ""})
    assert result.exit_code == 0, result.output
    assert load_model(out).provenance["created"] > "2024"


def sticky_folder_with_file(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)  # as /tmp: anyone may create, only owners may replace or delete
    path = folder / "m.msgpack"
    path.write_bytes(b"another user's model")
    path.chmod(0o666)
    return path


def test_a_file_of_another_user_in_a_sticky_folder_is_refused_before_training(
    tmp_path, monkeypatch
):
    path = sticky_folder_with_file(tmp_path)
    stranger = os.stat(path).st_uid + 1000  # owns neither the file nor the folder
    monkeypatch.setattr(os, "geteuid", lambda: stranger)
    never_trains(monkeypatch)
    assert_fails(run(*XOR, "--out", path), 2, "belongs to another user")
    assert path.read_bytes() == b"another user's model"


def test_a_file_of_ones_own_in_a_sticky_folder_is_replaced(tmp_path, monkeypatch):
    path = sticky_folder_with_file(tmp_path)
    if os.geteuid() == 0:  # act as an ordinary user who owns the file (root skips the check)
        os.chown(path, 4242, -1)
        monkeypatch.setattr(os, "geteuid", lambda: 4242)
    assert run(*XOR, "--out", path).exit_code == 0
    assert load_model(path).spec.sizes[0] == 2
