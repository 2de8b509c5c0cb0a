"""Authentication of the platform API: who is asking (identity), verified from a bearer JWT.

Public surface: :class:`Identity`, :class:`Role`, :class:`TokenVerifier`, :class:`AuthError`.
``devkey`` mints development tokens for `finplane token`.
"""

from platform_api.auth.identity import Identity, Role
from platform_api.auth.tokens import AuthError, TokenVerifier

__all__ = ["AuthError", "Identity", "Role", "TokenVerifier"]
