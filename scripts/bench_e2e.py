"""Benchmark (issue 6): inbound WeChat message -> the user's webhook has it, end to end.

    .venv/bin/python scripts/bench_e2e.py [--rounds 400] [--warmup 30] [--gap 0.02]
        [--profile FILE.pyisession]   # the worker under pyinstrument (pip install it first)

What a user sees: the time from a message existing at the WeChat service to the webhook
having the complete POST. Set-up:

* the simulator (wechat_sim.testing.open_sim) runs in this process, so a message is
  injected with the world's own verb, ``World.incoming`` (what ``POST
  /sim/accounts/{wxid}/messages`` calls), without an HTTP control call of our own;
* a real ``openwx-worker run`` subprocess logs in to it (--wechat-base) and posts to
* a webhook served in this process (tests/worker/events_webhook.py: trio + h11).

t0 is ``trio.current_time()`` just before ``World.incoming``; t1 is the webhook's stamp
(same clock) when the request body is complete. One message at a time, then a pause of
GAP s so the worker is idle again (waiting in synccheck) when the next one comes, as in
real life; the first WARMUP messages are not counted. Messages injected directly and
through the control API alternate, so both variants see the same machine load.

Figures: ``worker.inbound_to_webhook_p50_ms`` / ``_p99_ms`` (targets <= 5 / <= 25 ms,
issue 6), then the same through the control API (t0 before the HTTP call, so it includes
that call), for comparison with earlier ad-hoc measurements; the worker's CPU time per
message (/proc); and the medians of a breakdown of the direct path, from the simulator's
request log and a stamp of webwxsync's arrival (all on this process's trio clock):
message -> synccheck answered (sim) -> webwxsync request at the service (worker) ->
webwxsync answered (sim) -> webhook has the POST (worker: convert, publish, delivery).

Caveats: the simulator, the webhook and the measuring code share this process's event
loop, as the real service and the user's webhook do not, and the figures include the
simulator's own work (see the breakdown); against the real service the two internet
round trips (synccheck answer, webwxsync) come on top. The machine's load shows in the
figures: the 1-minute load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import trio

import wechat_sim.server
from wechat_sim import worldgen
from wechat_sim.testing import open_sim

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests" / "worker"))
from events_webhook import open_webhook  # noqa: E402  (test helper, not part of the package)


class Arrivals:
    """Webhook answer callback: stamps receive_message POSTs by their content."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = trio.Event()

    def __call__(self, got) -> tuple:
        if got.method == "POST":
            doc = json.loads(got.body)
            if doc.get("post_type") == "receive_message":
                self.at[doc.get("content", "")] = got.at
                self.changed.set()
                self.changed = trio.Event()
        return 200, "application/json", b"{}"

    async def wait(self, text: str) -> float | None:
        """The arrival stamp of `text`, or None when it has not come within 5 s."""
        with trio.move_on_after(5.0):
            while text not in self.at:
                await self.changed.wait()
        return self.at.get(text)


class StampWebwxsync:
    """ASGI wrapper around the simulator's app: stamps when each webwxsync request reaches
    the service (headers parsed by hypercorn), to split the worker's part from the
    simulator's in the breakdown. Installed by wrapping `wechat_sim.server.create_app`
    for the duration of the run (the simulator has no hook for it)."""

    def __init__(self, app) -> None:
        self.app = app
        self.arrived: list[float] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/webwxsync"):
            self.arrived.append(trio.current_time())
        await self.app(scope, receive, send)


async def wait_running(tmp: str, proc: trio.Process, limit: float = 60.0) -> None:
    state = Path(tmp) / "tmp" / "mojo_weixin_state_bench.json"
    with trio.fail_after(limit):
        while True:
            try:
                if json.loads(state.read_bytes())["state"] == "running":
                    return
            except (OSError, ValueError, KeyError):
                pass
            if proc.returncode is not None or proc.poll() is not None:
                raise RuntimeError(f"worker exited ({proc.returncode}) before running")
            await trio.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (Linux /proc), to show the worker's own cost."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quantiles(ms: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return q[49], q[98]


def first_after(times: list[float], t: float) -> float | None:
    return next((x for x in times if x >= t), None)


async def inject_direct(sim, account: str, friend: str, text: str) -> tuple[float, float]:
    """World.incoming in-process: (t0, t0) - no control call."""
    t0 = trio.current_time()
    sim.world.incoming(account, friend, "text", text)
    return t0, t0


async def inject_control(http: httpx.AsyncClient, account: str, friend: str,
                         text: str) -> tuple[float, float]:
    """POST /sim/accounts/{wxid}/messages: (t0 before the call, when the call returned)."""
    t0 = trio.current_time()
    r = await http.post(f"/sim/accounts/{account}/messages",
                        json={"from": friend, "content": text})
    returned = trio.current_time()
    r.raise_for_status()
    return t0, returned


def stages_of(sim, stamp: StampWebwxsync, t0: float, t1: float) -> tuple | None:
    """(message -> synccheck answered, -> webwxsync request at the service, -> webwxsync
    answered, -> webhook), ms, from the simulator's request log (stamped when each
    handler has its answer) and StampWebwxsync."""
    seen = list(sim.world.requests)[-20:]
    check = first_after([r.time for r in seen if r.path.endswith("synccheck")], t0)
    asked = first_after(stamp.arrived[-20:], t0)
    sync = first_after([r.time for r in seen if r.path.endswith("webwxsync")], t0)
    if check is None or asked is None or sync is None or not check <= asked <= sync <= t1:
        return None
    return tuple((b - a) * 1000 for a, b in ((t0, check), (check, asked), (asked, sync), (sync, t1)))


async def measure(sim, stamp: StampWebwxsync, account: str, friend: str, hook: Arrivals,
                  args) -> dict:
    """Direct and control-API messages alternately (so both see the same machine load),
    one at a time, GAP s apart; the first WARMUP of each are not counted."""
    out: dict = {"direct": [], "control": [], "call": [], "stages": [], "lost": 0}
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        for i in range(args.warmup + args.rounds):
            for kind in ("direct", "control"):
                text = f"e2e {kind} {i}"
                if kind == "direct":
                    t0, returned = await inject_direct(sim, account, friend, text)
                else:
                    t0, returned = await inject_control(http, account, friend, text)
                t1 = await hook.wait(text)
                if t1 is None:
                    out["lost"] += 1
                elif i >= args.warmup:
                    out[kind].append((t1 - t0) * 1000)
                    if kind == "control":
                        out["call"].append((returned - t0) * 1000)
                    elif (stage := stages_of(sim, stamp, t0, t1)) is not None:
                        out["stages"].append(stage)
                await trio.sleep(args.gap)
    return out


async def run(args) -> None:
    world = worldgen.generate(friends=50, groups=5, members=10, seed=1, accounts=1)
    world.config.auto_delay = 0.05
    stamps: list[StampWebwxsync] = []
    create_app = wechat_sim.server.create_app

    def stamped_app(w):
        stamps.append(StampWebwxsync(create_app(w)))
        return stamps[-1]

    wechat_sim.server.create_app = stamped_app
    try:
        async with open_sim(world, auto_confirm=True) as sim, open_webhook() as webhook:
            hook = Arrivals()
            webhook.answer = hook
            result, load = await with_worker(sim, stamps[0], webhook.url, hook, args)
    finally:
        wechat_sim.server.create_app = create_app
    report(result, load, args)


async def with_worker(sim, stamp: StampWebwxsync, post_api: str, hook: Arrivals, args):
    """Start a real worker on `sim`, wait until it runs, measure, stop it.
    Returns (the measurements, the 1-minute load average at the start)."""
    account = sim.accounts[0]
    friend = next(w for w in sim.world.account(account).friends if w.startswith("wxid_"))
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(BIN / "openwx-worker"), "run", "--account", "bench", "--port", "0",
               "--tmpdir", f"{tmp}/tmp", "--data-dir", f"{tmp}/data",
               "--wechat-base", sim.base_url, "--no-qrcode-terminal",
               "--log-level", "warn", "--post-api", post_api]
        if args.profile:  # pyinstrument: `pip install pyinstrument`, not a dependency
            cmd = [sys.executable, "-m", "pyinstrument", "-i", "0.0002", "-r", "pyisession",
                   "-o", args.profile, *cmd]
        proc = await trio.lowlevel.open_process(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await wait_running(tmp, proc)
            await trio.sleep(1)  # first syncs (status-notify list, contacts) settle
            load = os.getloadavg()[0]
            cpu = cpu_seconds(proc.pid)
            result = await measure(sim, stamp, account, friend, hook, args)
            result["worker_cpu"] = cpu_seconds(proc.pid) - cpu
        finally:
            proc.terminate()
            with trio.move_on_after(10):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    return result, load


def report(r: dict, load: float, args) -> None:
    print(f"messages: {len(r['direct'])} direct + {len(r['control'])} via the control API "
          f"counted (alternating, {args.gap * 1000:.0f} ms apart, after {args.warmup} "
          f"warm-up each); not arrived within 5 s: {r['lost']}")
    print(f"load average (1 min) at start: {load:.2f} (on {os.cpu_count()} cores)")
    p50, p99 = quantiles(r["direct"])
    print(f"worker.inbound_to_webhook_p50_ms: {p50:.2f} ms (target <= 5 ms)")
    print(f"worker.inbound_to_webhook_p99_ms: {p99:.2f} ms (target <= 25 ms)")
    count = args.warmup + args.rounds
    print(f"worker.cpu_per_message_ms: {r['worker_cpu'] * 1000 / (2 * count):.2f} ms "
          "(user+system of the worker process / messages, both variants)")
    if r["stages"]:
        s = [sorted(x) for x in zip(*r["stages"], strict=True)]
        names = ("message_to_synccheck_answered", "synccheck_answered_to_webwxsync_arrived",
                 "webwxsync_arrived_to_answered", "webwxsync_answered_to_webhook")
        for name, xs in zip(names, s, strict=True):
            print(f"breakdown.{name}_p50_ms: {statistics.median(xs):.2f} ms "
                  f"(of {len(xs)} messages)")
    cp50, cp99 = quantiles(r["control"])
    print(f"via_control_api.inbound_to_webhook_p50_ms: {cp50:.2f} ms (includes the control call)")
    print(f"via_control_api.inbound_to_webhook_p99_ms: {cp99:.2f} ms (includes the control call)")
    print(f"via_control_api.control_call_p50_ms: {statistics.median(r['call']):.2f} ms")
    after = sorted(t - c for t, c in zip(r["control"], r["call"], strict=True))
    print(f"via_control_api.call_returned_to_webhook_p50_ms: {statistics.median(after):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument("--profile", metavar="FILE.pyisession",
                        help="run the worker under pyinstrument (installed separately); "
                             "then `pyinstrument --load FILE.pyisession`")
    trio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
