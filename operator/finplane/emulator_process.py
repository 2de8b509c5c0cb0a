"""How Finplane's development commands start the embedded API server: as a subprocess, never an import.

The emulator is its own distribution (`finplane-emulator`, in emulator/), installed by `make dev` and
`make test` but not by `pip install finplane`; the product must not import it. Used by `finplane dev`
and by the `finplane apiserver` development command.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["NOT_INSTALLED", "emulator_command"]

NOT_INSTALLED = ("the embedded API server (the finplane-emulator distribution) is not installed: it is a "
                 "development tool, not part of Finplane; run `make dev`, or `pip install -e emulator` "
                 "from a checkout of the repository")


def emulator_command() -> list[str]:
    """The argv prefix that runs the emulator with this interpreter; SystemExit when it is not installed."""
    if importlib.util.find_spec("finplane_emulator") is None:
        raise SystemExit(NOT_INSTALLED)
    return [sys.executable, "-m", "finplane_emulator"]
