"""`python -m finplane` runs the `finplane` command."""
from finplane.cli import main

main()
