"""Translate transport failures and WeChat ``Ret`` codes into typed errors, once.

Everything in :mod:`openwx_worker.webwx` sends requests through
:func:`translated`, so callers only ever see :mod:`openwx_worker.errors` types:
httpx timeouts become :class:`Timeout`, a garbage status line or body becomes
:class:`ProtocolError`, any other connection failure or a 5xx becomes
:class:`TransportError`, and a non-zero ``BaseResponse.Ret`` becomes the
:class:`WeChatError` subclass for that code (:func:`check_ret`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from openwx_worker.errors import (
    ProtocolError,
    Timeout,
    TransportError,
    wechat_error,
)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise httpx errors raised inside the block as worker errors."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise Timeout(f"{what}: timed out") from exc
    except (httpx.RemoteProtocolError, httpx.DecodingError) as exc:
        raise ProtocolError(f"{what}: bad answer ({exc})") from exc
    except httpx.HTTPError as exc:
        raise TransportError(f"{what}: {exc.__class__.__name__} {exc}") from exc


def check_status(response: httpx.Response, what: str, allowed: tuple[int, ...] = ()) -> None:
    """Raise :class:`TransportError` unless the status is 2xx or explicitly allowed."""
    if response.is_success or response.status_code in allowed:
        return
    raise TransportError(f"{what}: HTTP {response.status_code}")


def check_ret(ret: int, message: str = "") -> None:
    """Raise the typed :class:`WeChatError` for a non-zero ``Ret``."""
    if ret != 0:
        raise wechat_error(ret, message)
