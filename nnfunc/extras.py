"""The one message for a missing optional extra (matplotlib, gunicorn, dask, prometheus-client).

nnfunc is installed from its source folder (as the README does), so the hint names that command;
`pip install 'nnfunc[plot]'` would look for a package index release that does not exist.
"""


def missing_extra(what: str, extra: str) -> str:
    """'`what` needs the `extra` extra: pip install '.[extra]' in nnfunc's source folder'."""
    return f"{what} needs the {extra} extra: pip install '.[{extra}]' in nnfunc's source folder"
