"""Benchmark the simulator: loading a big world, and how fast a held synccheck answers.

Issue 3 asks for a 5,000-friend / 300-group / 500-member world to load in under 5 s and an
injected message to wake a held synccheck in under 5 ms (p50). The latency is measured end
to end over real loopback HTTP, as a client sees it: from the control API call that injects
a message (`POST /sim/accounts/{wxid}/messages`) to the answer of the synccheck that was
already waiting, with a webwxsync after each round to acknowledge. Written from
web-protocol.md like the tests (no worker code).

    .venv/bin/python scripts/bench_sim.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import msgspec
import trio

from wechat_sim import worldgen
from wechat_sim.testing import open_sim

CGI = "/cgi-bin/mmwebwx-bin/"
SIZE = {"friends": 5000, "groups": 300, "members": 500}


def load_world() -> tuple[object, float, float]:
    """(world, seconds to generate+build, seconds to load the same world from a JSON file)."""
    started = time.perf_counter()
    world = worldgen.generate(**SIZE, seed=1, accounts=1)
    generated = time.perf_counter() - started
    spec = worldgen.generate_spec(**SIZE, seed=1, accounts=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "world.json"
        path.write_bytes(msgspec.json.encode(spec))
        started = time.perf_counter()
        worldgen.load(path, seed=1)
        from_file = time.perf_counter() - started
    return world, generated, from_file


class Client:
    """Just enough of a web client: QR login through the control API, init, sync keys."""

    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http, self.base = http, base

    async def login(self, account: str) -> None:
        r = await self.http.get(self.base + "/jslogin", params={"appid": "wx782c26e4c19acffb"})
        uuid = re.search(r'uuid = "(\S+?)"', r.text).group(1)
        await self.http.post(f"{self.base}/sim/logins/{uuid}/scan", json={"account": account})
        await self.http.post(f"{self.base}/sim/logins/{uuid}/confirm")
        while True:
            r = await self.http.get(self.base + CGI + "login", params={"uuid": uuid, "tip": 0})
            if "window.code=200" in r.text:
                break
        uri = re.search(r'redirect_uri="(\S+?)"', r.text).group(1)
        xml = (await self.http.get(uri + "&fun=new&version=v2")).text
        vals = dict(re.findall(r"<(\w+)>([^<]*)</\1>", xml))
        self.uin, self.sid, self.skey = vals["wxuin"], vals["wxsid"], vals["skey"]
        init = await self.post("webwxinit", {})
        self.sync_key = self.check_key = init["SyncKey"]

    def base_request(self) -> dict:
        return {"Uin": int(self.uin), "Sid": self.sid, "Skey": self.skey, "DeviceID": "e1"}

    async def post(self, name: str, body: dict) -> dict:
        body = {"BaseRequest": self.base_request(), **body}
        r = await self.http.post(self.base + CGI + name, content=json.dumps(body))
        return r.json()

    async def synccheck(self) -> str:
        key = "|".join(f"{kv['Key']}_{kv['Val']}" for kv in self.check_key["List"])
        r = await self.http.get(
            self.base + CGI + "synccheck",
            params={"uin": self.uin, "sid": self.sid, "skey": self.skey, "synckey": key},
        )
        return r.text

    async def sync(self) -> None:
        data = await self.post("webwxsync", {"SyncKey": self.sync_key})
        self.sync_key, self.check_key = data["SyncKey"], data["SyncCheckKey"]


async def inject_latencies(world, rounds: int) -> list[float]:
    account = next(iter(world.accounts))
    sender = next(w for w in world.accounts[account].friends if w.startswith("wxid_"))
    async with open_sim(world) as sim:
        limits = httpx.Limits(max_keepalive_connections=4)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            client = Client(http, sim.base_url)
            await client.login(account)
            await client.sync()
            latencies = []

            async def hold(answers: list[str], answered: trio.Event) -> None:
                answers.append(await client.synccheck())
                answered.set()

            for i in range(rounds):
                answers: list[str] = []
                answered = trio.Event()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(hold, answers, answered)
                    await trio.sleep(0.003)  # let the synccheck reach the server and wait
                    started = time.perf_counter()
                    await http.post(
                        f"{sim.base_url}/sim/accounts/{account}/messages",
                        json={"from": sender, "content": f"ping {i}"},
                    )
                    await answered.wait()
                    latencies.append((time.perf_counter() - started) * 1000)
                assert 'selector:"2"' in answers[0], answers
                await client.sync()
            return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    world, generated, from_file = load_world()
    print(f"sim.load_world_5000x300x500_s: {generated:.2f} (target < 5)")
    print(f"sim.load_world_file_5000x300x500_s: {from_file:.2f} (target < 5)")
    latencies = sorted(trio.run(inject_latencies, world, args.rounds))
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"sim.inject_to_synccheck_p50_ms: {p50:.2f} (target < 5)")
    print(
        f"sim.inject_to_synccheck_p99_ms: {p99:.2f} (target none; context, {len(latencies)} rounds)"
    )


if __name__ == "__main__":
    main()
