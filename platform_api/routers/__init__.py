"""One router per resource, mounted under /api/v1 by platform_api.app."""
