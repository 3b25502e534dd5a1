"""File inputs given as ``http(s)://`` URLs (``--allow-url-inputs``), fetched by the worker.

A URL comes from whoever holds a token and is fetched from inside the deployment, so it
goes through the webhooks' address policy (:mod:`inferq.webhooks.policy`): its host is
resolved, non-public addresses are refused unless ``--webhook-allow`` lists them, and the
connection goes to the very address checked (no DNS rebinding); every redirect is checked
again. The body is bounded by ``--max-upload`` and the whole fetch by a time limit. Any
failure is the caller's: :class:`InvalidInput` naming the input and what went wrong.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from inferq.errors import InvalidInput
from inferq.webhooks.policy import AddressPolicy, Refused

if TYPE_CHECKING:
    from pathlib import Path

#: The longest a fetch may take, from the first connection to the last byte.
FETCH_TIMEOUT_S = 300.0
#: Redirects followed (each to a checked address) before giving up.
MAX_REDIRECTS = 3
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class URLFetcher:
    policy: AddressPolicy
    max_bytes: int

    async def fetch(self, name: str, url: str, path: Path) -> Path:
        """The body of ``url`` written to ``path``."""
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                return await self._fetch(name, url, path)
        except TimeoutError:
            raise _failed(name, url, f"it took longer than {FETCH_TIMEOUT_S:g} s") from None
        except Refused as exc:
            raise _failed(name, url, str(exc)) from None
        except (httpx.HTTPError, OSError) as exc:
            raise _failed(name, url, str(exc) or type(exc).__name__) from None

    async def _fetch(self, name: str, url: str, path: Path) -> Path:
        transport = httpx.AsyncHTTPTransport(retries=0)
        async with httpx.AsyncClient(transport=transport, timeout=60, trust_env=False) as http:
            for _ in range(MAX_REDIRECTS + 1):
                target = await self.policy.target(url)
                request = http.build_request(
                    "GET", target.url, headers=target.headers, extensions=target.extensions
                )
                response = await http.send(request, stream=True)
                try:
                    if response.is_redirect:
                        url = str(httpx.URL(url).join(response.headers["location"]))
                        continue
                    if response.status_code != 200:
                        raise _failed(
                            name, url, f"it answered {response.status_code} {response.reason_phrase}"
                        )
                    await self._save(name, url, response, path)
                    return path
                finally:
                    await response.aclose()
        raise _failed(name, url, f"more than {MAX_REDIRECTS} redirects")

    async def _save(self, name: str, url: str, response: httpx.Response, path: Path) -> None:
        size = 0
        with path.open("wb") as file:
            async for chunk in response.aiter_bytes(CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise _failed(name, url, f"it is over the limit of {self.max_bytes} bytes")
                await asyncio.to_thread(file.write, chunk)


def _failed(name: str, url: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{name}: could not fetch {url[:300]}: {reason}", field=name)
