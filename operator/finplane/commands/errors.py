"""User errors of the `finplane` command: one line with a hint on stderr and a meaningful exit code.

Subcommands raise `UserError` for anything the user can fix (a missing file, a folder where a file was
expected, an invalid spec, an unreachable or refusing platform API); `finplane.cli.main` prints it as
`finplane: error: <message> (hint: <hint>)` and exits with its code, never with a traceback. The codes
are stable, so scripts can branch on them (README "The `finplane` command").
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode", "UserError"]


class ExitCode(IntEnum):
    """What a non-zero exit status of `finplane` means."""

    OK = 0
    FAILED = 1          # the command ran and the answer is "no" (a chain that does not verify, not Ready)
    USAGE = 2           # bad input: an option, a file, a spec (the API's 400 and 422 too)
    NOT_FOUND = 3       # the object does not exist, or the caller may not know it does (404)
    DENIED = 4          # not logged in, token refused or role not allowed (401, 403)
    CONFLICT = 5        # someone else changed it, or it is already decided (409, 412, 428)
    UNAVAILABLE = 6     # the platform API is unreachable, rate-limited or failed (429, 5xx)
    EXPIRED = 7         # a device login's code expired before it was approved (`finplane login --issuer`)


class UserError(ValueError):
    """Something the user can fix: printed as one line, with a hint, exit status `code` (a ValueError: bad input)."""

    def __init__(self, message: str, *, hint: str | None = None, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code

    def line(self) -> str:
        """The one line `finplane` prints for it."""
        text = " ".join(self.message.split())  # one line, whatever the message held
        return f"finplane: error: {text}" + (f" (hint: {self.hint})" if self.hint else "")
