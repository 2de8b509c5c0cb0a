"""Errors of the AWS seam, so that callers outside `finplane.external` never import botocore.

Raised by `ecr` and `sts`; carries the AWS error code (e.g. AccessDenied, ExpiredToken) and a
message that never contains credentials (AWS error messages name actions and ARNs, not secrets).
"""

from __future__ import annotations

__all__ = ["AwsError"]


class AwsError(Exception):
    """An AWS call failed; `code` is AWS's error code or a connection error class name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
