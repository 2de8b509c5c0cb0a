"""STS AssumeRole: temporary credentials of a (per-tenant) IAM role, for asking ECR for a token.

Called by `finplane.reconcile.registry.creds` (in a worker thread: boto3 is synchronous).
The returned credentials live only in memory and are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from finplane.external.errors import AwsError

__all__ = ["AwsCredentials", "assume_role", "client_config"]


def client_config() -> Config:
    """Short timeouts and few retries: the reconciler has its own jittered backoff."""
    return Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})


@dataclass(frozen=True)
class AwsCredentials:
    """Temporary credentials; `repr` hides the secrets so they cannot leak through logs or tracebacks."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime | None = None


def assume_role(*, role_arn: str, session_name: str, region: str, endpoint_url: str | None = None,
                duration_seconds: int = 900) -> AwsCredentials:
    """Assume `role_arn` with the operator's own identity (the role's trust policy must allow it)."""
    sts = boto3.client("sts", region_name=region, endpoint_url=endpoint_url, config=client_config())
    try:
        out = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64],
                              DurationSeconds=duration_seconds)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise AwsError(str(err.get("Code", "ClientError")),
                       f"AssumeRole {role_arn}: {err.get('Message', '')}") from None
    except BotoCoreError as exc:
        raise AwsError(type(exc).__name__, f"AssumeRole {role_arn}: {exc}") from None
    c = out["Credentials"]
    return AwsCredentials(access_key_id=c["AccessKeyId"], secret_access_key=c["SecretAccessKey"],
                          session_token=c["SessionToken"], expiration=c.get("Expiration"))
