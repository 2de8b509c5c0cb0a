"""Fixtures of the reliability suite: a fault-injecting embedded API server per test, operators started by hand.

Each test here breaks something on purpose (kills, faults, stalls, bad input), so it gets its own
API server (started with `--faults`) instead of sharing one: a broken server never leaks into
another test. `reliability_kit` holds the helpers the test files share.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # reliability_kit.py (tests run with --import-mode=importlib)
