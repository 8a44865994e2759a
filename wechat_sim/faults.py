"""Fault injection, the registry: the next N calls of one endpoint fail like the real service.

Tests of a client's error handling need the failures web-protocol.md reports (6.1, 10.1):
an HTTP 5xx, a connection closed without any answer, a slow answer, the non-HTTP "garbage"
status line the push host sometimes sends instead of a synccheck answer, and `Ret 1205`
(operate too often). `POST /sim/faults` queues them here (`world.faults`), per endpoint;
`wechat_sim.protocol.faults.intercept` applies them, at one place, before any handler.
Rate limits (strict 13, switchable: `POST /sim/rate_limits`) answer Ret 1205 to an account
that calls one endpoint more than `max_calls` times within `per` seconds (trio time).
This module knows no HTTP.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from wechat_sim.errors import BadRequest


class FaultKind(enum.Enum):
    HTTP_500 = "http_500"  # an HTTP 5xx answer (status 500 unless `status` says 502/503/...)
    DROP = "drop"  # the connection is closed without a response
    DELAY = "delay"  # the call is answered normally after `delay` seconds (trio time);
    # any other kind with a `delay` fails after that long (a long-poll held, then dropped)
    GARBAGE = "garbage"  # a non-HTTP status line, then the connection is closed
    RET_1205 = "ret_1205"  # BaseResponse.Ret 1205 (synccheck: retcode "1205")


@dataclass
class Fault:
    endpoint: str  # an `endpoint_name` ("synccheck", "webwxsync", "jslogin", "qrcode") or "*"
    kind: FaultKind
    remaining: int
    delay: float = 0.0
    status: int = 500
    applied: int = 0

    def matches(self, name: str) -> bool:
        return self.endpoint in ("*", name)

    def as_json(self) -> dict:
        return {
            "endpoint": self.endpoint, "kind": self.kind.value, "remaining": self.remaining,
            "delay": self.delay, "status": self.status, "applied": self.applied,
        }  # fmt: skip


@dataclass
class RateLimit:
    """At most `max_calls` calls of `endpoint` per account within a sliding `per` seconds."""

    endpoint: str
    max_calls: int
    per: float
    refused: int = 0
    calls: dict[str, deque[float]] = field(default_factory=dict)  # by caller (wxuin)

    def over(self, caller: str, now: float) -> bool:
        """Count a call at `now`; True (and not counted) when it exceeds the limit."""
        recent = self.calls.setdefault(caller, deque())
        while recent and now - recent[0] >= self.per:
            recent.popleft()
        if len(recent) >= self.max_calls:
            self.refused += 1
            return True
        recent.append(now)
        return False

    def as_json(self) -> dict:
        return {
            "endpoint": self.endpoint, "max": self.max_calls, "per": self.per,
            "refused": self.refused,
        }  # fmt: skip


@dataclass
class Faults:
    """Pending faults, oldest first; each matching call uses up one count of the first match.
    Plus the switchable rate limits, by endpoint name."""

    pending: list[Fault] = field(default_factory=list)
    applied_total: int = 0
    limits: dict[str, RateLimit] = field(default_factory=dict)

    def limit(self, endpoint: str, max_calls: int, per: float) -> RateLimit:
        name = endpoint_name(endpoint)
        if not name or max_calls < 0 or per <= 0:
            raise BadRequest("a rate limit needs an endpoint, max >= 0 and per > 0 seconds")
        self.limits[name] = RateLimit(name, max_calls, per)
        return self.limits[name]

    def over_limit(self, name: str, caller: str, now: float) -> bool:
        limit = self.limits.get(name)
        return limit is not None and limit.over(caller, now)

    def add(
        self, endpoint: str, kind: str, count: int = 1, *, delay: float = 0.0, status: int = 500
    ) -> Fault:
        try:
            fault_kind = FaultKind(kind)
        except ValueError:
            kinds = ", ".join(k.value for k in FaultKind)
            raise BadRequest(f"unknown fault kind {kind!r}; one of {kinds}") from None
        endpoint = endpoint_name(endpoint) if endpoint != "*" else endpoint
        if not endpoint:
            raise BadRequest("endpoint must name a protocol endpoint, e.g. 'synccheck', or '*'")
        if count < 1:
            raise BadRequest("count must be at least 1")
        if delay < 0:
            raise BadRequest("delay must not be negative")
        if fault_kind is FaultKind.DELAY and delay <= 0:
            raise BadRequest("a delay fault needs 'delay' > 0 (seconds)")
        if fault_kind is FaultKind.HTTP_500 and not 500 <= status <= 599:
            raise BadRequest("status must be a 5xx code")
        fault = Fault(endpoint, fault_kind, count, delay=delay, status=status)
        self.pending.append(fault)
        return fault

    def take(self, name: str) -> Fault | None:
        """Use up one count of the first pending fault for endpoint `name`."""
        for fault in self.pending:
            if fault.matches(name):
                fault.remaining -= 1
                fault.applied += 1
                self.applied_total += 1
                if fault.remaining <= 0:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> int:
        count = len(self.pending)
        self.pending.clear()
        return count


def endpoint_name(path: str) -> str:
    """The name a fault is keyed by: the CGI name ("webwxsync"), else the first path segment
    ("/jslogin" -> "jslogin", "/qrcode/<uuid>" -> "qrcode")."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["cgi-bin", "mmwebwx-bin"]:
        parts = parts[2:]
    return parts[0] if parts else ""
