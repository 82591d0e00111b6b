"""The `nnfunc` command line: one click group whose subcommands are imported only when used.

Each subcommand lives in its own module here, so `nnfunc train` never pays for importing Flask
and `nnfunc serve` never pays for matplotlib.

Besides the commands' own exit codes (0; 1 for a diverged run; 2 for bad input), every command
ends on Ctrl-C with the line `interrupted` and code 130, on SIGTERM with `terminated` and 143
(after the cleanups have run: no temporary file is left; `serve` installs its own handler and
shuts down with 0), and silently with 141 when its reader closes stdout (`| head -1`): 128 plus
the signal's number, what a shell shows for a program that the signal ended.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click

# name -> "module:attribute" of the click command
COMMANDS = {
    "train": "nnfunc.cli.train:train",
    "evaluate": "nnfunc.cli.evaluate:evaluate",
    "predict": "nnfunc.cli.predict:predict",
    "inspect": "nnfunc.cli.inspect:inspect",
    "datasets": "nnfunc.cli.datasets:datasets",
    "serve": "nnfunc.cli.serve:serve",
    "sweep": "nnfunc.cli.sweep:sweep",
}


class Terminated(SystemExit):
    """SIGTERM while a command runs: unwinds the stack like Ctrl-C so that cleanups run."""


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module the first time it is called."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        """Parse the arguments; `--help | head -1` and Ctrl-C end as described above."""
        with _exit_codes():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand with the exit codes above (click's own Ctrl-C handler exits 1)."""
        with _exit_codes(), _sigterm_unwinds():
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
            return result


@contextlib.contextmanager
def _exit_codes() -> Iterator[None]:
    """Ctrl-C exits 130 and SIGTERM 143 with one line on stderr; a closed stdout 141, silently."""
    try:
        yield
    except KeyboardInterrupt:
        _say("interrupted")
        raise click.exceptions.Exit(130) from None
    except Terminated:
        _say("terminated")
        raise click.exceptions.Exit(143) from None
    except BrokenPipeError:
        _silence_stdout()
        raise click.exceptions.Exit(141) from None


def _say(line: str) -> None:
    """One line on stderr, unless stderr is gone too."""
    with contextlib.suppress(OSError, ValueError):
        click.echo(line, err=True)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit reports no BrokenPipeError."""
    with contextlib.suppress(OSError, ValueError):  # not a real file (click's test runner)
        fileno = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fileno)
        os.close(devnull)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While the block runs, SIGTERM raises `Terminated` instead of killing the process outright.

    Only in the main thread and only over the default action (a command that installs its own
    handler, as `nnfunc serve` does, replaces this one). A second SIGTERM kills at once, and a
    child forked meanwhile dies of it as it would have.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    pid = os.getpid()

    def terminate(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if os.getpid() != pid:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nnfunc")
def main() -> None:
    """Train, inspect and serve multilayer perceptrons written in pure numpy."""
