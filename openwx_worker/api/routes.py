"""The route table: every endpoint of every handler module, in documentation order."""

from __future__ import annotations

from . import consult, contact_ops, control, event_api, groups, info, send
from .endpoint import Endpoint


def endpoints() -> list[Endpoint]:
    """All endpoints; names are unique (the path is ``/openwx/<name>``)."""
    table = [
        *info.ENDPOINTS,
        *send.ENDPOINTS,
        consult.ENDPOINT,
        *groups.ENDPOINTS,
        *contact_ops.ENDPOINTS,
        *event_api.ENDPOINTS,
        *control.ENDPOINTS,
    ]
    names = [e.name for e in table]
    assert len(names) == len(set(names)), "duplicate endpoint name"
    return table
