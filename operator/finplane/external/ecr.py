"""ECR GetAuthorizationToken: a registry login (user `AWS`, a 12-hour password) for one account.

Called by `finplane.reconcile.registry.creds` (in a worker thread: boto3 is synchronous).
The token is decoded here (base64 of `AWS:<password>`) so that callers get a username and a
password; `repr` of the result hides the password.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from finplane.external.errors import AwsError
from finplane.external.sts import AwsCredentials, client_config

__all__ = ["EcrToken", "decode_token", "get_authorization_token"]


@dataclass(frozen=True)
class EcrToken:
    username: str
    password: str = field(repr=False)
    proxy_endpoint: str
    expires_at: datetime | None


def decode_token(token: str) -> tuple[str, str]:
    """`base64("AWS:<password>")` -> ("AWS", password); ValueError (without the token) when malformed."""
    try:
        user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("ECR authorization token is not base64 of user:password") from None
    if not sep or not user or not password:
        raise ValueError("ECR authorization token is not of the form user:password")
    return user, password


def get_authorization_token(*, region: str, account_id: str, endpoint_url: str | None = None,
                            credentials: AwsCredentials | None = None) -> EcrToken:
    """A login for `account_id`'s registry, with the operator's identity or `credentials` (an assumed role)."""
    kw = {} if credentials is None else {
        "aws_access_key_id": credentials.access_key_id, "aws_secret_access_key": credentials.secret_access_key,
        "aws_session_token": credentials.session_token}
    ecr = boto3.client("ecr", region_name=region, endpoint_url=endpoint_url, config=client_config(), **kw)
    try:
        out = ecr.get_authorization_token(registryIds=[account_id])
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise AwsError(str(err.get("Code", "ClientError")), f"GetAuthorizationToken: {err.get('Message', '')}") \
            from None
    except BotoCoreError as exc:
        raise AwsError(type(exc).__name__, f"GetAuthorizationToken: {exc}") from None
    data = (out.get("authorizationData") or [None])[0]
    if not data:
        raise AwsError("EmptyResponse", "GetAuthorizationToken returned no authorization data")
    try:
        user, password = decode_token(data["authorizationToken"])
    except ValueError as exc:
        raise AwsError("MalformedToken", str(exc)) from None
    expires = data.get("expiresAt")
    if isinstance(expires, datetime) and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return EcrToken(username=user, password=password, proxy_endpoint=str(data.get("proxyEndpoint", "")),
                    expires_at=expires)
