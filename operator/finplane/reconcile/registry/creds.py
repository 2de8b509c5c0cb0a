"""Registry logins and their refresh state: when to ask AWS again, and when not to.

Called by `reconcile.registry`. Keeps, per (registry, IAM role), the last good login in memory
only (never logged: `repr` hides the password) and decides the next refresh:

- every `refreshIntervalSeconds`, and earlier when less than `registry_refresh_margin_seconds`
  remains before the token's expiry;
- never sooner than `registry_min_refresh_seconds` after the last refresh, whatever expiry the
  registry claims (moto hands out tokens "expired" in 2015: no hot loop);
- after an AWS error, not before a jittered exponential backoff, while the last good login
  (and the Secrets already written from it) stays in use.

The clock and the AWS calls are injectable so that tests control time without sleeping.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Gauge

from finplane.external.errors import AwsError
from finplane.settings import Settings

__all__ = ["CREDENTIAL_AGE", "CREDENTIAL_EXPIRY", "CredentialSource", "CredentialsUnavailable", "Login",
           "error_backoff", "next_refresh", "static_login"]

CREDENTIAL_AGE = Gauge("finplane_registry_credential_age_seconds",
                       "Age of the newest login of an ImageRegistry.", ["registry"])
CREDENTIAL_EXPIRY = Gauge("finplane_registry_credential_expiry_seconds",
                          "Seconds until the ImageRegistry's login expires (negative: expired).", ["registry"])


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Login:
    username: str
    password: str = field(repr=False)
    obtained_at: datetime
    expires_at: datetime | None = None


class CredentialsUnavailable(Exception):
    """No fresh login now; `last` is the last good one (its Secrets stay in place), if any."""

    def __init__(self, reason: str, message: str, *, last: Login | None, retry_at: datetime | None) -> None:
        super().__init__(message)
        self.reason, self.message, self.last, self.retry_at = reason, message, last, retry_at


@dataclass
class _State:
    login: Login | None = None
    refresh_at: datetime | None = None
    failures: int = 0
    retry_at: datetime | None = None
    error: tuple[str, str] | None = None


def next_refresh(*, obtained_at: datetime, expires_at: datetime | None, interval: float, margin: float,
                 min_refresh: float) -> datetime:
    """When to refresh a login obtained at `obtained_at`; never sooner than `min_refresh` after it."""
    due = obtained_at + timedelta(seconds=interval)
    if expires_at is not None:
        due = min(due, expires_at - timedelta(seconds=margin))
    return max(due, obtained_at + timedelta(seconds=min_refresh))


def error_backoff(failures: int, *, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with ±20 % jitter (so many registries failing together do not retry in step)."""
    return float(min(cap, base * 2 ** max(0, failures - 1)) * (0.8 + 0.4 * rand()))


def static_login(secret: dict[str, Any], server: str) -> tuple[str, str]:
    """(username, password) from a static source Secret: dockerconfigjson, or username/password keys.

    ValueError messages name keys and hosts, never values.
    """
    import base64
    import json

    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    if ".dockerconfigjson" in data:
        try:
            auths = json.loads(data[".dockerconfigjson"]).get("auths") or {}
        except (ValueError, AttributeError):
            raise ValueError(".dockerconfigjson is not JSON with an auths map") from None
        entry = auths.get(server) or auths.get(f"https://{server}") or (
            next(iter(auths.values())) if len(auths) == 1 else None)
        if not isinstance(entry, dict):
            raise ValueError(f".dockerconfigjson has no entry for {server}")
        if entry.get("username") and entry.get("password"):
            return str(entry["username"]), str(entry["password"])
        user, sep, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
        if sep and user:
            return user, password
        raise ValueError(f".dockerconfigjson entry for {server} has neither username/password nor auth")
    if data.get("username") and data.get("password"):
        return data["username"], data["password"]
    raise ValueError("the Secret has neither .dockerconfigjson nor username and password keys")


EcrFetch = Callable[..., Any]


class CredentialSource:
    """Logins of every ImageRegistry of this operator process, with their refresh schedule."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utcnow,
                 ecr_fetch: EcrFetch | None = None, assume: EcrFetch | None = None,
                 rand: Callable[[], float] = random.random) -> None:
        from finplane.external import ecr, sts

        self.settings, self.clock, self.rand = settings, clock, rand
        self.ecr_fetch = ecr_fetch or ecr.get_authorization_token
        self.assume = assume or sts.assume_role
        self._states: dict[tuple[str, str], _State] = {}
        self.aws_calls = 0

    async def ecr_login(self, *, registry: str, region: str, account_id: str, role_arn: str | None,
                        interval: float) -> Login:
        """The current login for (registry, role); asks AWS only when a refresh is due and allowed."""
        st = self._states.setdefault((registry, role_arn or ""), _State())
        now = self.clock()
        if st.login is not None and st.refresh_at is not None and now < st.refresh_at and st.error is None:
            return st.login
        if st.retry_at is not None and now < st.retry_at and st.error is not None:
            raise CredentialsUnavailable(st.error[0], st.error[1], last=st.login, retry_at=st.retry_at)
        self.aws_calls += 1
        try:
            token = await asyncio.to_thread(self._fetch, region=region, account_id=account_id,
                                            role_arn=role_arn, registry=registry)
        except AwsError as exc:
            st.failures += 1
            st.retry_at = now + timedelta(seconds=error_backoff(
                st.failures, base=self.settings.backoff_seconds, cap=self.settings.backoff_max_seconds,
                rand=self.rand))
            st.error = ("CredentialRefreshFailed", f"AWS refused or failed ({exc.code}): {exc.message}")
            raise CredentialsUnavailable(*st.error, last=st.login, retry_at=st.retry_at) from None
        st.login = Login(token.username, token.password, obtained_at=now, expires_at=token.expires_at)
        st.failures, st.retry_at, st.error = 0, None, None
        st.refresh_at = next_refresh(obtained_at=now, expires_at=token.expires_at, interval=interval,
                                     margin=self.settings.registry_refresh_margin_seconds,
                                     min_refresh=self.settings.registry_min_refresh_seconds)
        return st.login

    def _fetch(self, *, region: str, account_id: str, role_arn: str | None, registry: str) -> Any:
        endpoint = self.settings.aws_endpoint_url
        creds = None
        if role_arn:
            creds = self.assume(role_arn=role_arn, session_name=f"finplane-{registry}", region=region,
                                endpoint_url=endpoint)
        return self.ecr_fetch(region=region, account_id=account_id, endpoint_url=endpoint, credentials=creds)

    def remember_static(self, *, registry: str, username: str, password: str) -> Login:
        """Record a static login; `obtained_at` moves only when the credentials change."""
        st = self._states.setdefault((registry, ""), _State())
        if st.login is None or (st.login.username, st.login.password) != (username, password):
            st.login = Login(username, password, obtained_at=self.clock())
        st.error = None
        return st.login

    def wake_at(self, registry: str) -> datetime | None:
        """The earliest moment a refresh or a retry of `registry` is due (None: nothing scheduled)."""
        times = [t for (reg, _), st in self._states.items() if reg == registry
                 for t in (st.retry_at if st.error else st.refresh_at,) if t is not None]
        return min(times, default=None)

    def forget(self, registry: str, *, keep_roles: set[str] | None = None) -> None:
        """Drop the logins of a deleted registry (or of roles no namespace uses any more)."""
        for key in [k for k in self._states if k[0] == registry and (keep_roles is None or k[1] not in keep_roles)]:
            del self._states[key]
        if keep_roles is None:
            for gauge in (CREDENTIAL_AGE, CREDENTIAL_EXPIRY):
                try:
                    gauge.remove(registry)
                except KeyError:
                    pass

    def export_metrics(self, registry: str, login: Login) -> None:
        """Age and time to expiry, computed at scrape time from the login (never stale)."""
        CREDENTIAL_AGE.labels(registry).set_function(lambda: (self.clock() - login.obtained_at).total_seconds())
        if login.expires_at is not None:
            expires = login.expires_at
            CREDENTIAL_EXPIRY.labels(registry).set_function(lambda: (expires - self.clock()).total_seconds())
