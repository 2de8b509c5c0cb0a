"""Registry login refresh with a controllable clock: a token is reused until its refresh is due,
refreshed before expiry (interval or safety margin), never more often than the minimum period even
when the registry says the token is already expired (moto), and on AWS errors the last good login is
kept while retries back off with jitter. Also the age and time-to-expiry metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from finplane.external.errors import AwsError
from finplane.reconcile.registry.creds import (
    CREDENTIAL_AGE,
    CREDENTIAL_EXPIRY,
    CredentialSource,
    CredentialsUnavailable,
    error_backoff,
    next_refresh,
)
from finplane.settings import Settings

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Token:
    username: str
    password: str
    expires_at: datetime | None


class FakeAws:
    """ECR double at the `finplane.external` seam: counts calls, can fail, hands out numbered passwords."""

    def __init__(self, clock: Clock, *, lifetime: timedelta | None = timedelta(hours=12)) -> None:
        self.clock, self.lifetime, self.calls, self.fail = clock, lifetime, 0, False
        self.roles: list[str | None] = []

    def fetch(self, **kw: Any) -> Token:
        self.calls += 1
        self.roles.append(kw["credentials"])
        if self.fail:
            raise AwsError("ServiceUnavailable", "ECR is down")
        expires = self.clock.now + self.lifetime if self.lifetime is not None else datetime(2015, 1, 1, tzinfo=UTC)
        return Token("AWS", f"pw-{self.calls}", expires)

    def assume(self, **kw: Any) -> str:
        return f"creds-of:{kw['role_arn']}"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def source(aws: FakeAws, clock: Clock, **settings: Any) -> CredentialSource:
    conf = Settings(registry_refresh_margin_seconds=3600, registry_min_refresh_seconds=60,
                    backoff_seconds=5, backoff_max_seconds=300, **settings)
    return CredentialSource(conf, clock=clock, ecr_fetch=aws.fetch, assume=aws.assume, rand=lambda: 0.5)


def login(src: CredentialSource, role: str | None = None, interval: float = 21600) -> Any:
    return asyncio.run(src.ecr_login(registry="ecr", region="eu-west-1", account_id="123456789012",
                                     role_arn=role, interval=interval))


def test_a_login_is_reused_until_its_refresh_is_due() -> None:
    clock = Clock()
    aws = FakeAws(clock)
    src = source(aws, clock)
    first = login(src)
    clock.now += timedelta(hours=5, minutes=59)
    assert login(src) is first
    assert aws.calls == 1


def test_a_login_is_refreshed_after_the_refresh_interval() -> None:
    clock = Clock()
    aws = FakeAws(clock)
    src = source(aws, clock)
    login(src)
    clock.now += timedelta(hours=6)
    assert login(src).password == "pw-2"


def test_a_token_close_to_expiry_is_refreshed_even_before_the_interval() -> None:
    clock = Clock()
    aws = FakeAws(clock, lifetime=timedelta(hours=2))
    src = source(aws, clock)
    login(src, interval=43200)
    assert src.wake_at("ecr") == T0 + timedelta(hours=1)  # expiry minus the one-hour margin
    clock.now += timedelta(hours=1)
    assert login(src, interval=43200).password == "pw-2"


def test_a_token_reported_expired_on_arrival_is_refreshed_at_most_once_per_minimum_period() -> None:
    clock = Clock()
    aws = FakeAws(clock, lifetime=None)  # moto: expiresAt in 2015
    src = source(aws, clock)
    for _ in range(100):  # a burst of reconciles (capabilities changing, namespaces appearing)
        login(src)
        clock.now += timedelta(seconds=1)
    assert aws.calls == 2  # at T0 and at T0+60s, not 100
    assert src.wake_at("ecr") == T0 + timedelta(seconds=120)


def test_an_aws_error_keeps_the_last_good_login_and_backs_off() -> None:
    clock = Clock()
    aws = FakeAws(clock)
    src = source(aws, clock)
    good = login(src)
    clock.now += timedelta(hours=6)
    aws.fail = True
    with pytest.raises(CredentialsUnavailable) as err:
        login(src)
    assert err.value.last is good
    assert err.value.reason == "CredentialRefreshFailed"
    assert "ServiceUnavailable" in err.value.message
    calls = aws.calls
    with pytest.raises(CredentialsUnavailable):
        login(src)  # within the backoff: AWS is not asked again
    assert aws.calls == calls
    clock.now = err.value.retry_at  # type: ignore[assignment]
    aws.fail = False
    assert login(src).password == "pw-3"


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    assert error_backoff(1, base=5, cap=300, rand=lambda: 0.5) == 5
    assert error_backoff(3, base=5, cap=300, rand=lambda: 0.5) == 20
    assert error_backoff(20, base=5, cap=300, rand=lambda: 1.0) == pytest.approx(360)  # cap plus 20 % jitter
    assert error_backoff(2, base=5, cap=300, rand=lambda: 0.0) == 8


def test_the_next_refresh_is_never_sooner_than_the_minimum_period() -> None:
    assert next_refresh(obtained_at=T0, expires_at=T0 - timedelta(days=1), interval=21600, margin=3600,
                        min_refresh=60) == T0 + timedelta(seconds=60)


def test_a_per_tenant_role_gets_its_own_login_through_assume_role() -> None:
    clock = Clock()
    aws = FakeAws(clock)
    src = source(aws, clock)
    own, tenant = login(src), login(src, role="arn:aws:iam::123456789012:role/acme")
    assert own.password != tenant.password
    assert aws.roles == [None, "creds-of:arn:aws:iam::123456789012:role/acme"]


def test_metrics_show_the_credential_age_and_time_to_expiry() -> None:
    clock = Clock()
    aws = FakeAws(clock)
    src = source(aws, clock)
    src.export_metrics("ecr-metrics", login(src))
    clock.now += timedelta(hours=2)
    sample = REGISTRY.get_sample_value
    assert sample(CREDENTIAL_AGE._name, {"registry": "ecr-metrics"}) == 7200
    assert sample(CREDENTIAL_EXPIRY._name, {"registry": "ecr-metrics"}) == 10 * 3600
    src.forget("ecr-metrics")
