"""poll_api: the heartbeat that also lets a remote server call this worker's API.

The API document (心跳请求) and reference C.8: while the client is `running`, the
worker GETs `poll_api`; the server is expected to hold the request. When it ends
(any answer, an error, or the 35 s timeout) the worker waits `poll_interval` seconds
and polls again. To make a worker behind NAT call its own API, the server answers
`302` with `Location: http://127.0.0.1:3000/openwx/send_friend_message?id=...`;
the worker follows it and so calls itself. The result of that call is discarded.

How a Location is followed (up to 7 hops, like Mojo::Weixin's HTTP client):
* a loopback URL (127.x, ::1, localhost) whose path starts with `/openwx/` is the
  tunnel: it is sent to **this** worker's API (`local_api`), whatever port it names,
  with the access token. A server cannot know which port a worker bound (port 0, the
  supervisor's allocation), and a redirect must never reach another account's worker;
* any other Location is followed as an ordinary redirect.
Polling pauses while the client is not running (login, re-login) and resumes with it.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import msgspec
import trio

from openwx_worker.config import is_loopback
from openwx_worker.events import EventLog

log = logging.getLogger(__name__)

_MAX_HOPS = 7
_LOCAL_CALL_TIMEOUT = 130.0  # the longest local API call (consult, media sends) fits


class PollOptions(msgspec.Struct, frozen=True):
    poll_api: str | None = None
    poll_interval: float = 5.0  # seconds between the end of a poll and the next
    timeout: float = 35.0  # reference C.8: the poll request's timeout

    @classmethod
    def from_config(cls, config: Any) -> PollOptions:
        interval = float(getattr(config, "poll_interval", 5.0) or 5.0)  # 0 means 5
        return cls(poll_api=getattr(config, "poll_api", None) or None, poll_interval=interval)


class PollStats(msgspec.Struct):
    polls: int = 0
    tunnel_calls: int = 0
    failures: int = 0
    last_error: str | None = None


def is_running(client: Any) -> bool:
    """True when the client serves (no client at all counts as running: tests, tools)."""
    if client is None:
        return True
    state = getattr(client, "state", None)
    return str(getattr(state, "value", state)) == "running"


def tunnel_target(url: httpx.URL, local_api: str) -> httpx.URL | None:
    """Where a redirect to `url` goes if it is the tunnel to the local API, else None."""
    if not is_loopback(url.host) or not url.path.startswith("/openwx/"):
        return None
    return httpx.URL(local_api).copy_with(path=url.path, query=url.query)


class Poller:
    """Polls poll_api while the client runs. Start with `nursery.start(poller.run)`."""

    def __init__(
        self,
        options: PollOptions,
        events: EventLog | None,
        client: Any,
        local_api: str,
        access_token: str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.options = options
        self.events = events
        self.client = client
        self.local_api = local_api
        self.access_token = access_token
        self._http = http
        self.stats = PollStats()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        own = self._http is None
        http = self._http or httpx.AsyncClient(follow_redirects=False)
        try:
            task_status.started()
            while True:
                await self.wait_running()
                await self.poll_once(http)
                await trio.sleep(self.options.poll_interval)
        finally:
            if own:
                with trio.CancelScope(shield=True):
                    await http.aclose()

    async def wait_running(self) -> None:
        """Return when the client is running: `client.wait_running()` when it has one;
        otherwise wait on the log (state changes are published as state_change events)
        and re-check every few seconds anyway."""
        if is_running(self.client):
            return
        wait = getattr(self.client, "wait_running", None)
        if wait is not None:
            await wait()
            return
        while not is_running(self.client):
            with trio.move_on_after(5.0):
                if self.events is not None:
                    await self.events.wait_after(self.events.last_event_id)
                else:
                    await trio.sleep_forever()

    async def poll_once(self, http: httpx.AsyncClient) -> None:
        """One poll: GET poll_api, follow redirects, run a tunnel call. Never raises
        for network trouble (logged and counted; the loop just polls again later)."""
        self.stats.polls += 1
        url = httpx.URL(self.options.poll_api or "")
        try:
            for _hop in range(_MAX_HOPS + 1):
                response = await http.get(url, timeout=self.options.timeout)
                location = response.headers.get("location")
                if not response.is_redirect or not location:
                    log.debug("poll_api answered %d", response.status_code)
                    return
                url = url.join(location)
                local = tunnel_target(url, self.local_api)
                if local is not None:
                    await self._call_local(http, local)
                    return
            log.warning("poll_api: more than %d redirects, giving up this poll", _MAX_HOPS)
        except httpx.HTTPError as exc:
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.info("poll_api request failed: %s", self.stats.last_error)
        except Exception as exc:  # never let polling stop the worker
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("poll_api failed")

    async def _call_local(self, http: httpx.AsyncClient, url: httpx.URL) -> None:
        headers = {}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        self.stats.tunnel_calls += 1
        response = await http.get(url, headers=headers, timeout=_LOCAL_CALL_TIMEOUT)
        log.info("poll_api tunnel call %s -> %d %s", url.path, response.status_code,
                 response.text[:200])


async def run_polling(
    options: PollOptions,
    events: EventLog | None,
    client: Any,
    local_api: str,
    access_token: str | None = None,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """`nursery.start(run_polling, ...)`: a Poller's whole life in one call."""
    poller = Poller(options, events, client, local_api, access_token)
    await poller.run(task_status=task_status)
