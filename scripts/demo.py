"""The demo behind ``scripts/demo``: two accounts on a simulated WeChat, and a webhook.

    scripts/demo            # interactive: prints commands to try, shows every event
    scripts/demo --check    # non-interactive: sends, receives, checks, exits 0 or 1

Starts two processes, each in its own session so that a Ctrl-C reaches only this
script, which then stops them in order (the supervisor first: it stops its workers
gracefully, and its workers also exit by themselves if it dies, through the parent
pipe):

* ``scripts/demo_webhook.py``, the ``post_api`` that prints every report;
* ``openwx-supervisor start --accounts alice,bob --sim``: the controller API, an
  embedded wechat_sim that confirms every QR login by itself, and one worker
  process per account.

Everything lives in a fresh temporary folder (state files, event databases, logs),
removed at the end unless ``--keep``. Nothing listens on a fixed port: the
addresses are read from the supervisor's log and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ACCOUNTS = ("alice", "bob")


class DemoError(Exception):
    pass


class Demo:
    """The demo's processes and addresses; ``stop()`` always leaves nothing behind."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: list[subprocess.Popen] = []
        self.http = httpx.Client(timeout=30, trust_env=False)
        self.events_file = work / "events.jsonl"
        self.supervisor_log = work / "supervisor.log"
        self.webhook_out = work / "webhook.out"
        self.hook_url = self.sup_url = self.sim_url = ""
        self.wxid: dict[str, str] = {}  # client name -> the simulated phone's wxid
        self.nickname: dict[str, str] = {}
        self.friend: dict[str, dict] = {}  # client name -> one friend in the sim
        self.port: dict[str, int] = {}  # client name -> its worker's port
        self.pid: dict[str, int] = {}  # client name -> its worker's pid (at start)

    # -- processes ---------------------------------------------------------------------

    def _spawn(self, argv: list[str], **kw) -> subprocess.Popen:
        proc = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(proc)
        return proc

    def start_webhook(self) -> subprocess.Popen:
        with open(self.webhook_out, "wb") as out:
            hook = self._spawn([sys.executable, "-u", str(HERE / "demo_webhook.py"), "0",
                                "--log", str(self.events_file)],
                               stdout=out, stderr=subprocess.STDOUT)

        def listening() -> str | None:
            match = re.search(r"listening on (http://\S+)", self.webhook_out.read_text())
            return match.group(1) if match else None

        self.hook_url = self._wait(listening, 10, "the webhook to listen")
        return hook

    def follow_webhook(self) -> None:
        """Print the webhook's lines as they come (tail -f), until interrupted."""
        with open(self.webhook_out, encoding="utf-8", errors="replace") as f:
            f.readline()  # "listening on", already shown
            while True:
                line = f.readline()
                if line:
                    print(line, end="", flush=True)
                elif self.procs[0].poll() is not None:
                    raise DemoError("the webhook exited")
                else:
                    time.sleep(0.1)

    def start_supervisor(self) -> None:
        config = self.work / "supervisor.toml"
        config.write_text(
            f'data_root = "{self.work / "data"}"\n'
            "[worker]\n"
            "qrcode_terminal = false  # the simulator scans by itself\n"
            "send_interval = 1.0\n", encoding="utf-8")
        argv = [str(BIN / "openwx-supervisor"), "start", "--accounts", ",".join(ACCOUNTS),
                "--sim", "--listen", "127.0.0.1:0", "--tmpdir", str(self.work / "tmp"),
                "--config", str(config), "--post-api", self.hook_url]
        log = open(self.supervisor_log, "wb")  # noqa: SIM115 (closed when the process ends)
        self._spawn(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        found = self._wait(self._addresses, 60, "the supervisor to listen")
        self.sup_url, self.sim_url = found

    def _addresses(self) -> tuple[str, str] | None:
        text = self.supervisor_log.read_text(encoding="utf-8", errors="replace")
        sup = re.search(r"supervisor listening on (http://\S+)", text)
        sim = re.search(r"embedded wechat_sim at (http://\S+)", text)
        return (sup.group(1), sim.group(1)) if sup and sim else None

    def _wait(self, probe, seconds: float, what: str):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise DemoError(f"{proc.args[0]} exited ({proc.returncode}) while waiting "
                                    f"for {what}\n{self.log_tail()}")
            result = probe()
            if result:
                return result
            time.sleep(0.2)
        raise DemoError(f"timed out after {seconds:g} s waiting for {what}\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.supervisor_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "--- supervisor log (last lines) ---\n" + "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM every process (supervisor first), wait, SIGKILL what is left."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.http.close()

    # -- the API ---------------------------------------------------------------------------

    def api(self, endpoint: str, **params) -> dict:
        return self.http.get(f"{self.sup_url}/openwx/{endpoint}", params=params).json()

    def _all_running(self) -> list[dict] | None:
        try:
            reply = self.api("check_client")
        except httpx.HTTPError:
            return None
        entries = reply.get("client") or []
        states = {e.get("client"): e.get("state") for e in entries}
        return entries if all(states.get(a) == "running" for a in ACCOUNTS) else None

    def wait_running(self) -> list[dict]:
        return self._wait(self._all_running, 90, "both accounts to be running")

    def discover(self) -> None:
        """Which simulated phone each account logged in as, and one friend of each."""
        phones = self.http.get(f"{self.sim_url}/sim/accounts").json()
        by_nickname = {p["nickname"]: p["wxid"] for p in phones}
        for entry in self.api("check_client")["client"]:
            self.port[entry["client"]] = entry["port"]
            self.pid[entry["client"]] = entry["pid"]
        for name in ACCOUNTS:
            user = self.api("get_user_info", client=name)
            self.nickname[name] = user["name"]
            self.wxid[name] = by_nickname[user["name"]]
            account = self.http.get(f"{self.sim_url}/sim/accounts/{self.wxid[name]}").json()
            people = [f for f in account["friends"]
                      if f["wxid"].startswith("wxid_") and not f["remark"]]
            self.friend[name] = people[0]

    # -- what arrived ------------------------------------------------------------------------

    def reports(self) -> list[dict]:
        try:
            lines = self.events_file.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def wait_report(self, what: str, seconds: float = 30, **fields) -> dict:
        def probe():
            for r in self.reports():
                if all(r["body"].get(k) == v for k, v in fields.items()):
                    return r
            return None

        return self._wait(probe, seconds, what)


def commands(d: Demo) -> str:
    alice, friend = d.wxid["alice"], d.friend["alice"]
    sup, sim = d.sup_url, d.sim_url
    to_friend = quote(friend["nickname"])
    msg = json.dumps({"from": friend["wxid"], "type": "text", "content": "hi Alice"})
    ping = json.dumps({"from": friend["wxid"], "type": "text", "content": "ping"})
    return f"""
openwx demo is running (supervisor pid {d.procs[-1].pid}); files in {d.work}

  controller API (supervisor)  {sup}
  simulated WeChat (/sim/)     {sim}
  webhook (post_api)           {d.hook_url}
  accounts                     alice = {d.nickname['alice']} ({alice})
                               bob   = {d.nickname['bob']} ({d.wxid['bob']})
  alice's friend               {friend['nickname']} ({friend['wxid']})

Try these in another terminal; reports arrive below.

  # every account, its state, pid and port
  curl -s '{sup}/openwx/check_client'

  # alice sends a text to her friend (through the supervisor's proxy)
  curl -s '{sup}/openwx/send_friend_message?client=alice&displayname={to_friend}&content=hello'

  # the friend writes to alice: the simulator plays the friend's phone
  curl -s -X POST '{sim}/sim/accounts/{alice}/messages' \\
       -H 'Content-Type: application/json' -d '{msg}'

  # the friend says "ping": the webhook answers {{"reply": "pong"}}, alice sends "pong"
  curl -s -X POST '{sim}/sim/accounts/{alice}/messages' \\
       -H 'Content-Type: application/json' -d '{ping}'

  # what alice has sent, as the simulated WeChat saw it
  curl -s '{sim}/sim/accounts/{alice}/sent'

  # the same reports by long-poll instead of the webhook (cursor = last event_id seen)
  curl -s '{sup}/openwx/check_event?client=alice&cursor=0&timeout=10'

  # kill alice's worker: the supervisor restarts it, and it logs in again from its
  # saved session, without a QR scan (event login [0]); event_ids continue
  kill -9 {d.pid['alice']}; sleep 3; curl -s '{sup}/openwx/check_client?client=alice'

  # alice's worker directly (its own port), e.g. its OpenAPI description
  curl -s 'http://127.0.0.1:{d.port['alice']}/openapi.json' | head -c 300; echo

Press Ctrl-C to stop everything.
"""


def check(d: Demo) -> None:
    """Receive, send and reply through the real processes; raise DemoError on a miss."""
    alice, friend = d.wxid["alice"], d.friend["alice"]
    reply = d.http.post(f"{d.sim_url}/sim/accounts/{alice}/messages",
                        json={"from": friend["wxid"], "type": "text", "content": "hi Alice"})
    reply.raise_for_status()
    got = d.wait_report("the received message at the webhook", post_type="receive_message",
                        content="hi Alice")
    print(f"ok: webhook got receive_message from {got['body'].get('sender')!r} "
          f"(event_id {got['body'].get('event_id')}, client={got['client']})")

    sent = d.api("send_friend_message", client="alice", displayname=friend["nickname"],
                 content="hello from openwx")
    if sent.get("code") != 0:
        raise DemoError(f"send_friend_message failed: {sent}")
    d.wait_report("the sent message's report", post_type="send_message",
                  content="hello from openwx")
    print(f"ok: send_friend_message answered code 0 (id {sent.get('id')}), report arrived")

    d.http.post(f"{d.sim_url}/sim/accounts/{alice}/messages",
                json={"from": friend["wxid"], "type": "text", "content": "ping"}
                ).raise_for_status()

    def pong_sent():
        sent = d.http.get(f"{d.sim_url}/sim/accounts/{alice}/sent").json()
        return [s for s in sent if s["content"] == "pong" and s["to"] == friend["wxid"]]

    d._wait(pong_sent, 30, "the webhook's pong to reach the friend")
    print("ok: the webhook's {\"reply\": \"pong\"} was sent to the friend")

    polled = d.api("check_event", client="alice", cursor=0, timeout=5)
    contents = [item.get("content") for item in polled if isinstance(item, dict)]
    if "hi Alice" not in contents or "pong" not in contents:
        raise DemoError(f"check_event?cursor=0 lacks the messages: {str(polled)[:300]}")
    print(f"ok: check_event?cursor=0 answered the same {len(polled)} reports "
          f"(event_id 1 to {polled[-1].get('event_id')})")


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the openwx demo.")
    parser.add_argument("--check", action="store_true",
                        help="run the demo's steps by itself, print what happened, exit")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (&)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="openwx-demo-"))
    demo = Demo(work)
    status = 0
    try:
        demo.start_webhook()
        print(f"webhook listening on {demo.hook_url}", flush=True)
        print("starting the supervisor with two accounts on a simulated WeChat ...", flush=True)
        demo.start_supervisor()
        started = time.monotonic()
        entries = demo.wait_running()
        took = time.monotonic() - started
        print(f"both accounts running after {took:.1f} s: "
              + ", ".join(f"{e['client']} (pid {e['pid']}, port {e['port']})" for e in entries),
              flush=True)
        demo.discover()
        if args.check:
            try:
                check(demo)
            finally:
                print("--- what the webhook printed ---")
                print(demo.webhook_out.read_text(encoding="utf-8", errors="replace"), end="")
            print("demo check passed")
        else:
            print(commands(demo), flush=True)
            demo.follow_webhook()
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        status = 1 if args.check else 0  # an interrupted check did not pass
    except (DemoError, httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        demo.stop()
        if args.keep or status:
            print(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        print("stopped: supervisor, workers, simulator and webhook", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
