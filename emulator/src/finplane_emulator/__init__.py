"""finplane-emulator: an HTTP emulation of the Kubernetes API server for local use and tests.

Its own distribution (emulator/pyproject.toml): Finplane's runtime package never imports it; `finplane dev`
and the tests start it as a subprocess (`python -m finplane_emulator`, or `finplane_emulator.testing`,
or the pytest plugin's fixtures in `finplane_emulator.pytest_plugin`).
"""

__version__ = "0.1.0"
