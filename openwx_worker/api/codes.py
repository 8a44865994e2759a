"""Reply codes and the one exception type handlers raise to answer with an error.

The catalogue itself (every ``code`` a client can see, with its HTTP status) is
documented in the package docstring (:mod:`openwx_worker.api`); the constants here
are its names. Handlers never build error JSON by hand: they raise :class:`ApiError`
(or let a :class:`~openwx_worker.errors.ClientError` escape), and the app's one
error edge turns it into ``{"code": ..., "status": ...}``.
"""

from __future__ import annotations

from typing import Any

# Mojo::Weixin's codes (openwx-reference.md A.15), kept for compatibility.
OK = 0
NOT_FOUND = 100  # object not found / group not found / friend id X not found
REFUSED_TARGET = 101  # can not be yourself / already a friend
EMPTY_LIST = 200  # friend id empty / member id empty
FAILURE = 201  # WeChat refused the operation
SEND_FAILED = -1  # send failed without a WeChat Ret, msg id not found, accept failure
TTL_EXPIRED = -5
AUTH_FAILURE = -6  # access token missing (HTTP 401) or wrong (HTTP 403)

# Additions (codes Mojo::Weixin never produced, so no client depends on them).
NOT_RUNNING = 300  # the client is in a blocking state; status names it
BAD_PARAMETER = 400  # a parameter is missing or has an invalid value
API_NOT_FOUND = 404  # unknown path (HTTP 404)
MEDIA_REFUSED = 410  # media_path outside the allowed folders, or an unsupported scheme
MEDIA_UNAVAILABLE = 411  # file missing, download failed or too slow, too large
BODY_TOO_LARGE = 413  # request body over the limit (HTTP 413)
INTERNAL_ERROR = 500  # a bug: logged with its traceback (HTTP 500)
WECHAT_UNREACHABLE = 502  # no usable answer from WeChat (transport error, timeout)


class ApiError(Exception):
    """An error answer: ``{"code": code, "status": status, **extra}``.

    ``http_status`` is 200 for almost everything (Mojo::Weixin answers errors with
    200 and puts the error in ``code``); only the edges (auth, unknown path, body
    too large, bugs) use another status.
    """

    def __init__(self, code: int, status: str, *, http_status: int = 200, **extra: Any):
        super().__init__(f"{code}: {status}")
        self.code = code
        self.status = status
        self.http_status = http_status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "status": self.status, **self.extra}


def not_found(status: str = "object not found", **extra: Any) -> ApiError:
    return ApiError(NOT_FOUND, status, **extra)


def bad_parameter(status: str) -> ApiError:
    return ApiError(BAD_PARAMETER, status)
