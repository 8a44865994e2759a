"""Errors the world raises; each carries the `ret` code the protocol layer puts on the wire."""

from __future__ import annotations


class SimError(Exception):
    """A refused verb. `ret` is the BaseResponse.Ret / XML `<ret>` / synccheck retcode."""

    def __init__(self, ret: int, message: str = "") -> None:
        super().__init__(f"ret {ret}: {message}")
        self.ret = ret
        self.message = message


class SessionEnded(SimError):
    """The session named by the request is unknown, logged out or superseded."""


class NotFound(SimError):
    """An id named by a control API call does not exist (answered as HTTP 404)."""

    def __init__(self, message: str) -> None:
        super().__init__(1, message)


class BadRequest(SimError):
    """Malformed input (Ret 1 on the protocol side, HTTP 400 on the control API)."""

    def __init__(self, message: str) -> None:
        super().__init__(1, message)


# Ret codes (web-protocol.md section 10.1)
RET_PARAM = 1
RET_SYS = -1
RET_LOGOUT_PHONE = 1100
RET_SESSION_INVALID = 1101
RET_COOKIE_INVALID = 1102
RET_GROUP_GONE = 1201
RET_BARRED = 1203
RET_TOO_OFTEN = 1205
