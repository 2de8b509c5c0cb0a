"""ECR and STS through moto: the token decodes to `AWS` + password, the proxy endpoint is reported,
an assumed role's credentials are used, and AWS errors become `AwsError` without credentials in them."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from finplane.external.ecr import decode_token, get_authorization_token
from finplane.external.errors import AwsError
from finplane.external.sts import assume_role

ACCOUNT = "123456789012"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield


def test_an_ecr_token_is_decoded_into_the_aws_user_and_a_password(aws: None) -> None:
    token = get_authorization_token(region="eu-west-1", account_id=ACCOUNT)
    assert token.username == "AWS"
    assert token.password
    assert token.proxy_endpoint.startswith("https://")
    assert token.expires_at is not None and token.expires_at.tzinfo is not None


def test_the_password_never_shows_in_the_repr_of_a_token(aws: None) -> None:
    token = get_authorization_token(region="eu-west-1", account_id=ACCOUNT)
    assert token.password not in repr(token)


def test_a_token_that_is_not_base64_of_user_colon_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError) as err:
        decode_token(base64.b64encode(b"no-colon-here").decode())
    assert "no-colon-here" not in str(err.value)
    assert decode_token(base64.b64encode(b"AWS:s3cret").decode()) == ("AWS", "s3cret")


def test_an_assumed_role_yields_temporary_credentials_that_ecr_accepts(aws: None) -> None:
    creds = assume_role(role_arn=f"arn:aws:iam::{ACCOUNT}:role/sandbox-acme-pull", session_name="finplane-t",
                        region="eu-west-1")
    assert creds.access_key_id and creds.session_token
    assert creds.secret_access_key not in repr(creds)
    token = get_authorization_token(region="eu-west-1", account_id=ACCOUNT, credentials=creds)
    assert token.username == "AWS"


def test_an_unreachable_aws_endpoint_raises_an_aws_error(aws: None) -> None:
    with pytest.raises(AwsError) as err:
        get_authorization_token(region="eu-west-1", account_id=ACCOUNT, endpoint_url="http://127.0.0.1:9")
    assert "testing" not in str(err.value)


def test_an_aws_refusal_carries_its_error_code(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    from finplane.external import ecr

    client = boto3.client("ecr", region_name="eu-west-1")
    stub = Stubber(client)
    stub.add_client_error("get_authorization_token", service_error_code="AccessDeniedException",
                          service_message="not allowed to call ecr:GetAuthorizationToken")
    stub.activate()
    monkeypatch.setattr(ecr.boto3, "client", lambda *a, **kw: client)
    with pytest.raises(AwsError) as err:
        get_authorization_token(region="eu-west-1", account_id=ACCOUNT)
    assert err.value.code == "AccessDeniedException"
    assert "ecr:GetAuthorizationToken" in err.value.message
