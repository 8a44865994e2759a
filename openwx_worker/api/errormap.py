"""Client errors -> API errors, in one place.

Handlers let :class:`~openwx_worker.errors.ClientError` escape when the default
answer fits; the error edge of the app calls :func:`api_error_from`. Endpoints
whose answers Mojo::Weixin shaped differently (sends answer WeChat's ``Ret`` as
``code``) catch the error themselves and use the helpers of their own module.
"""

from __future__ import annotations

from openwx_worker import errors

from . import codes
from .codes import ApiError


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out.extend(_leaves(inner))
        return out
    return [exc]


def api_error_from(exc: BaseException) -> ApiError | None:
    """The answer for an exception, or None for a bug (answered 500 and logged)."""
    for leaf in _leaves(exc):
        if isinstance(leaf, ApiError):
            return leaf
        if isinstance(leaf, errors.ClientError):
            return client_error(leaf)
    return None


def client_error(exc: errors.ClientError) -> ApiError:
    """The default answer for a client error (operations: 201 failure, Mojo A.10)."""
    if isinstance(exc, errors.NotRunning):
        state = str(getattr(exc.state, "value", exc.state))
        return ApiError(codes.NOT_RUNNING, f"client not running (state {state})", state=state)
    if isinstance(exc, errors.Stopped):
        return ApiError(codes.NOT_RUNNING, "client is stopping", state="stop")
    if isinstance(exc, errors.NotFound):
        return ApiError(codes.NOT_FOUND, str(exc) or "object not found")
    if isinstance(exc, errors.InvalidArgument):
        return ApiError(codes.BAD_PARAMETER, str(exc) or "invalid request")
    if isinstance(exc, errors.WeChatError):
        reason = exc.message or f"WeChat error {exc.ret}"
        return ApiError(codes.FAILURE, f"failure: {reason}", ret=exc.ret)
    if isinstance(exc, errors.TransportError):
        return ApiError(codes.WECHAT_UNREACHABLE, f"WeChat unreachable: {exc}")
    return ApiError(codes.FAILURE, f"failure: {exc}")
