"""What survives a supervisor restart: the clients, their options, their last pid and port.

One JSON file (``mojo_weixin_controller_backend.json`` in tmpdir; the original
kept a Perl Storable ``.dat``), replaced atomically on every change so a crash
never leaves it half written. Also the worker files the supervisor reads: the
per-account state file and QR image (reference D).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import msgspec

from openwx_worker.files import atomic_write

log = logging.getLogger(__name__)


class ClientRecord(msgspec.Struct, kw_only=True):
    options: dict[str, str] = {}  # the start_client options as given (whitelisted)
    wanted: bool = True  # False after the worker exited on purpose or failed
    port: int | None = None
    pid: int | None = None


class ClientsFile(msgspec.Struct, kw_only=True):
    version: int = 1
    clients: dict[str, ClientRecord] = {}


_decoder = msgspec.json.Decoder(ClientsFile)
_encoder = msgspec.json.Encoder()


def load_clients(path: str) -> dict[str, ClientRecord]:
    """The saved clients, or none if the file is missing or unreadable (logged)."""
    try:
        with open(path, "rb") as f:
            return dict(_decoder.decode(f.read()).clients)
    except FileNotFoundError:
        return {}
    except (OSError, msgspec.DecodeError) as exc:
        # keep it for a human to look at: the next save would overwrite it
        log.error("unreadable clients file %s (%s): moved to %s.bad", path, exc, path)
        try:
            os.replace(path, path + ".bad")
        except OSError:
            pass
        return {}


def save_clients(path: str, clients: dict[str, ClientRecord]) -> None:
    atomic_write(path, _encoder.encode(ClientsFile(clients=clients)), mode=0o600, durable=False)


def state_path(tmpdir: str, account: str) -> str:
    return os.path.join(tmpdir, f"mojo_weixin_state_{account}.json")


def qrcode_path(tmpdir: str, account: str) -> str:
    return os.path.join(tmpdir, f"mojo_weixin_qrcode_{account}.jpg")


def read_state_file(tmpdir: str, account: str) -> dict[str, Any] | None:
    """The worker's state JSON object as written (relayed by check_client), or None."""
    try:
        with open(state_path(tmpdir, account), "rb") as f:
            data = msgspec.json.decode(f.read())
    except (OSError, msgspec.DecodeError):
        return None
    return data if isinstance(data, dict) else None
