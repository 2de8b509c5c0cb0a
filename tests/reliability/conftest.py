"""The reliability suite: a fault-injecting embedded API server per test, operators started by hand.

Each test here breaks something on purpose (kills, faults, stalls, bad input), so it gets its own
API server (`tests.support.fault_cluster`, started with `--faults`) instead of sharing one: a broken
server never leaks into another test. `tests/support/reliability.py` holds the helpers the test files share.
"""
