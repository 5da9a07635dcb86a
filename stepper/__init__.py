"""stepper: step through a tiny transformer's forward and backward pass, every number verified.

In Python (a notebook, a script; docs/python.md): `stepper.trace("mini")` is the scenario's verified
trace (stepper/api.py). Importing `stepper` loads nothing else: the command line imports it first
thing, before `run` forks its reader, so numpy, torch and rich load only when `trace` is called
(module `__getattr__`).

`stepper.trace` is that function, not the submodule stepper/trace.py of the same name: every module
imports that one as `from stepper.trace import Trace` (through sys.modules), and the package below
keeps the import system from putting the submodule in the function's place.
"""

import sys
import types

__version__ = "0.1.0"

_API = ("trace", "VerifiedTrace", "StepView")


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        if name == "trace" and isinstance(value, types.ModuleType):  # importing stepper/trace.py
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name in _API:
        from stepper import api

        return getattr(api, name)
    raise AttributeError(f"module 'stepper' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
