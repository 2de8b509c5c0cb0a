"""Settings of the web portal, read from the environment (prefix ``FINPLANE_PORTAL_``).

Read once by :func:`platform_api.portal.install` (called by :func:`platform_api.app.create_app`). The
portal signs its session cookies with ``session_secret``; without one each process draws its own key at
start, which suits one replica (`finplane dev`); several replicas behind one address need the same secret.
OpenID Connect sign-in is offered when the authorization and token endpoints and the client id are set;
the dev sign-in page only when the platform API runs in dev mode.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PortalSettings"]


class PortalSettings(BaseSettings):
    """Everything the portal reads from its environment; defaults suit `finplane dev`."""

    model_config = SettingsConfigDict(env_prefix="FINPLANE_PORTAL_", extra="ignore")

    session_secret: SecretStr | None = None
    # A signed-in session lasts this long (and never longer than the token it carries).
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    # Secure cookies (and the __Host- prefix): None means "unless the API runs in dev mode" (plain http on loopback).
    cookie_secure: bool | None = None

    # OpenID Connect authorization code flow with PKCE (S256) against the identity provider.
    oidc_authorization_endpoint: str | None = None
    oidc_token_endpoint: str | None = None
    oidc_client_id: str | None = None
    oidc_redirect_uri: str | None = Field(default=None, description="This portal's /portal/oidc/callback URL.")
    oidc_scopes: str = "openid profile groups"
