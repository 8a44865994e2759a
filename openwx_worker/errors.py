"""The worker's error types: what can go wrong between the API and WeChat.

Failures are translated into these types once, where they happen
(:mod:`openwx_worker.webwx.errors` turns httpx errors and WeChat ``Ret`` codes into
them, ``from`` the original exception), and callers branch on types, not numbers.
The API layer maps them to reply codes; nothing else needs to know a ``Ret`` value.

::

    ClientError                 anything the client reports to its callers
    +-- NotRunning              the account is not logged in (carries the state)
    +-- NotFound                no such contact / group / message
    +-- InvalidArgument         the request itself cannot be carried out
    +-- Stopped                 the client is shutting down
    +-- WeChatError             WeChat answered with a non-zero Ret (carries ret, message)
    |   +-- SessionEnded        1100 / 1101 / 1102: the web session is over
    |   |   +-- LoggedOut       1100 (logged out on the phone)
    |   |   +-- SessionInvalid  1101 (kicked, logged in elsewhere)
    |   |   +-- CookieInvalid   1102
    |   +-- Refused             1203: WeChat refuses web login for this account
    |   +-- TooFrequent         1205: slow down
    +-- TransportError          the request did not get a usable answer
        +-- Timeout             no answer in time
        +-- ProtocolError       an answer WeChat's protocol does not allow (garbage)
"""

from __future__ import annotations


class ClientError(Exception):
    """Base class of every error the client raises to its callers."""


class NotRunning(ClientError):
    """The account is not in state ``running``."""

    def __init__(self, state: object):
        super().__init__(f"client is not running (state {state})")
        self.state = state


class NotFound(ClientError):
    """No contact, group or message matches."""


class InvalidArgument(ClientError):
    """The request cannot be carried out as given (e.g. empty group name)."""


class Stopped(ClientError):
    """The client stopped before the operation could finish."""


class WeChatError(ClientError):
    """WeChat answered with ``BaseResponse.Ret != 0`` (or a login XML ``ret``)."""

    def __init__(self, ret: int, message: str = ""):
        super().__init__(f"WeChat error {ret}" + (f": {message}" if message else ""))
        self.ret = ret
        self.message = message


class SessionEnded(WeChatError):
    """The web session is over (1100/1101/1102): a new login is needed."""


class LoggedOut(SessionEnded):
    """1100: logged out from the phone."""


class SessionInvalid(SessionEnded):
    """1101: session invalid (kicked from the phone, logged in elsewhere, expired)."""


class CookieInvalid(SessionEnded):
    """1102: the session cookie is no longer valid."""


class Refused(WeChatError):
    """1203: WeChat refuses web login for this account or environment."""


class TooFrequent(WeChatError):
    """1205: operations too frequent; back off before trying again."""


class TransportError(ClientError):
    """The request got no usable answer (connection error, HTTP error status)."""


class Timeout(TransportError):
    """No answer within the timeout."""


class ProtocolError(TransportError):
    """The answer does not follow the web protocol (garbage status line or body)."""


_BY_RET: dict[int, type[WeChatError]] = {
    1100: LoggedOut,
    1101: SessionInvalid,
    1102: CookieInvalid,
    1203: Refused,
    1205: TooFrequent,
}


def wechat_error(ret: int, message: str = "") -> WeChatError:
    """The typed error for a non-zero ``Ret``."""
    return _BY_RET.get(ret, WeChatError)(ret, message)
