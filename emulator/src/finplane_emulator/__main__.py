"""`python -m finplane_emulator`: the same as the `finplane-emulator` command."""

from finplane_emulator.cli import main

main()
