"""Ports for workers: reserved while starting, busy ones skipped (reference F.3's race)."""

from __future__ import annotations

import socket

from openwx_supervisor.ports import PortAllocator

from .helpers import base_port


def test_two_quick_starts_never_get_the_same_port():
    ports = PortAllocator(base_port() + 3000)
    a, b = ports.reserve("a"), ports.reserve("b")  # neither worker has bound yet
    assert a != b
    assert ports.reserve("a") == a  # idempotent per owner
    ports.release("a")
    assert ports.reserve("c") == a


def test_a_port_in_use_is_skipped_and_a_taken_port_is_moved():
    ports = PortAllocator(base_port() + 3100)
    first = ports.reserve("a")
    ports.release("a")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        assert ports.reserve("a") != first
        ports.release("a")
        ports.claim("b", first)  # e.g. b's old port, now taken by someone else
        assert ports.refresh("b") != first
