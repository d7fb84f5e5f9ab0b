"""Runs many alembic commands in one Python process and prints their results as JSON.

Input (stdin): {"commands": [["-c", "x/alembic.ini", "heads"], ...]}
Output (stdout): [{"stdout": "...", "code": 0}, ...]
Starting Python once per project instead of once per command keeps the comparison fast.
"""
import contextlib
import io
import json
import sys
import warnings

from alembic.config import Config, main


class CurrentStdout:
    """Config binds `sys.stdout` as a default argument at import time; write to the current one."""

    encoding = "utf-8"

    def write(self, text):
        return sys.stdout.write(text)

    def flush(self):
        sys.stdout.flush()


Config.__init__.__defaults__ = tuple(
    CurrentStdout() if d is sys.stdout else d for d in Config.__init__.__defaults__
)
warnings.simplefilter("ignore")
commands = json.load(sys.stdin)["commands"]
results = []
for argv in commands:
    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv=argv, prog="alembic")
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except Exception as exc:  # alembic lets some errors escape as tracebacks (exit 1)
            out.write("TRACEBACK: %s: %s\n" % (type(exc).__name__, exc))
            code = 1
    results.append({"stdout": out.getvalue(), "code": code})
json.dump(results, sys.__stdout__)
