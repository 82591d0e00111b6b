"""`python -m nnfunc`: the same command line as the `nnfunc` entry point."""

from nnfunc.cli import main

main(prog_name="nnfunc")
