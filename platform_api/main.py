"""Entry point of `finplane api`: serves :func:`platform_api.app.create_app` with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from platform_api.app import create_app

__all__ = ["run"]


def run(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the API until interrupted; prints one line once it accepts requests."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = uvicorn.Config(create_app(), host=host, port=port, log_level="warning", access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)

    # Print the bound port (port 0 picks a free one) so that tests and `finplane dev` can read it.
    original_startup = server.startup

    async def startup(sockets: list | None = None) -> None:  # type: ignore[type-arg]
        await original_startup(sockets)
        for srv in server.servers:
            for sock in srv.sockets:
                bound_host, bound_port = sock.getsockname()[:2]
                print(f"finplane api listening on http://{bound_host}:{bound_port}", flush=True)
                return

    server.startup = startup  # type: ignore[method-assign]
    server.run()
