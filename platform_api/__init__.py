"""The self-service platform API (FastAPI)."""
