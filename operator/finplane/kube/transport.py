"""The HTTP connection pool to one API server: aiohttp, the kubeconfig's TLS and credentials, nothing else.

Used by `finplane.kube.client.KubeClient` (one request at a time) and `finplane.kube.informer.Informer`
(lists and watch streams), which share one `Transport` and so one pool.

- The session never reads the environment per request (`trust_env=False`: with it every request opened
  ~/.netrc and rebuilt proxy settings in an executor thread, ~37 % of the operator's CPU; issue 19). A
  proxy is still used when configured: the kubeconfig's `proxy-url`, else the proxy the environment
  names for the server's URL (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), resolved once.
- Bodies are encoded once, with orjson (server-side apply accepts JSON, which is YAML).
- A 401 drops the credential and, when it can give another (a rotated token file, an exec plugin), the
  request is sent once more with the new one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass

import aiohttp
import orjson

from finplane.kube.kubeconfig import Connection

__all__ = ["Transport", "env_proxy"]

#: Requests other than watches: the whole exchange within this many seconds.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
#: A watch stream is read line by line, and aiohttp refuses a line longer than twice its read buffer
#: (64 KiB by default): one event carries a whole object, and etcd stores objects up to 1.5 MiB.
STREAM_READ_BUFFER = 2 * 1024 * 1024


class Transport:
    """Sends requests to `connection.server`; create it inside the event loop that uses it."""

    def __init__(self, connection: Connection, *, user_agent: str, pool_size: int = 100) -> None:
        self.connection = connection
        self.user_agent = user_agent
        self.proxy = connection.proxy or env_proxy(connection.server)
        self._pool_size = pool_size
        self._ssl = connection.ssl_context()
        self._session: aiohttp.ClientSession | None = None

    @property
    def server(self) -> str:
        return self.connection.server

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=self._ssl if self._ssl is not None else True)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, method: str, path: str, *, body: Any = None, content_type: str = "application/json",
                   timeout: aiohttp.ClientTimeout = REQUEST_TIMEOUT, stream: bool = False) -> aiohttp.ClientResponse:
        """Send one request (`path` with its query); the caller reads and releases the response.

        `stream`: the response is read line by line (a watch), so lines as long as any object are accepted.
        """
        data = orjson.dumps(body) if body is not None else None
        credential = self.connection.credential
        for attempt in (1, 2):
            headers = {"Accept": "application/json", "User-Agent": self.user_agent}
            if data is not None:
                headers["Content-Type"] = content_type
            if (auth := await credential.authorization()) is not None:
                headers["Authorization"] = auth
            kwargs: dict[str, Any] = {"read_bufsize": STREAM_READ_BUFFER} if stream else {}
            if self.connection.tls_server_name:
                kwargs["server_hostname"] = self.connection.tls_server_name
            resp = await self._open().request(method, self.server + path, data=data, headers=headers,
                                              proxy=self.proxy, timeout=timeout, **kwargs)
            if resp.status == 401 and attempt == 1 and credential.invalidate():
                resp.release()
                continue
            return resp
        raise AssertionError("unreachable")

    async def call(self, method: str, path: str, *, body: Any = None,
                   content_type: str = "application/json") -> tuple[int, bytes, str | None]:
        """One whole exchange: (status, body bytes, Retry-After header)."""
        resp = await self.send(method, path, body=body, content_type=content_type)
        try:
            return resp.status, await resp.read(), resp.headers.get("Retry-After")
        finally:
            resp.release()

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (the standard variables), or None."""
    parts = urlsplit(url)
    if not parts.hostname or proxy_bypass(parts.hostname):
        return None
    proxies = getproxies_environment()
    return proxies.get(parts.scheme or "https") or None

