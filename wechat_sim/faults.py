"""Fault injection, the registry: the next N calls of one endpoint fail like the real service.

Tests of a client's error handling need the failures web-protocol.md reports (6.1, 10.1):
an HTTP 5xx, a connection closed without any answer, a slow answer, the non-HTTP "garbage"
status line the push host sometimes sends instead of a synccheck answer, and `Ret 1205`
(operate too often). `POST /sim/faults` queues them here (`world.faults`), per endpoint;
`wechat_sim.protocol.faults.intercept` applies them, at one place, before any handler.
This module knows no HTTP.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from wechat_sim.errors import BadRequest


class FaultKind(enum.Enum):
    HTTP_500 = "http_500"  # an HTTP 5xx answer (status 500 unless `status` says 502/503/...)
    DROP = "drop"  # the connection is closed without a response
    DELAY = "delay"  # the call is answered normally after `delay` seconds (trio time)
    GARBAGE = "garbage"  # a non-HTTP status line, then the connection is closed
    RET_1205 = "ret_1205"  # BaseResponse.Ret 1205 (synccheck: retcode "1205")


@dataclass
class Fault:
    endpoint: str  # last path segment ("synccheck", "webwxsync", "jslogin") or "*"
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
class Faults:
    """Pending faults, oldest first; each matching call uses up one count of the first match."""

    pending: list[Fault] = field(default_factory=list)
    applied_total: int = 0

    def add(
        self, endpoint: str, kind: str, count: int = 1, *, delay: float = 0.0, status: int = 500
    ) -> Fault:
        try:
            fault_kind = FaultKind(kind)
        except ValueError:
            kinds = ", ".join(k.value for k in FaultKind)
            raise BadRequest(f"unknown fault kind {kind!r}; one of {kinds}") from None
        endpoint = endpoint.rsplit("/", 1)[-1] if endpoint != "*" else endpoint
        if not endpoint:
            raise BadRequest("endpoint must name a protocol endpoint, e.g. 'synccheck', or '*'")
        if count < 1:
            raise BadRequest("count must be at least 1")
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
    """The name a fault is keyed by: the last path segment ("/jslogin" -> "jslogin")."""
    return path.rstrip("/").rsplit("/", 1)[-1]
