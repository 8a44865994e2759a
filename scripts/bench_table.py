"""Run the benchmark scripts and gather their figures into one table.

Each `scripts/bench_*.py` prints lines of the form

    name: VALUE [unit] (target OP NUMBER [unit])

where OP is one of < <= > >= (or ≤ ≥); numbers may have thousands separators
(`2,345`). A line `name: VALUE [unit]` without a target (an aside in parentheses is
allowed, also "(target none; ...)") becomes an informative row (met "-").
`name: median 1.2 ms, p95 3.4 ms (target <= 10 ms)` gives one row per labelled value,
the target judging the last one. A line
with "(target OP" in no known form is a row "unparsed line" that counts as missed, so
a figure is never dropped silently. Every line also goes to stderr as commentary.
A script that fails, or prints no figure, is reported as such; the others still run.

    scripts/bench                 # every script
    scripts/bench delivery        # scripts/bench_delivery.py only
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+"
_FIGURE = re.compile(
    rf"^\s*(?P<name>[^:]+?):\s*(?P<value>{_NUMBER})\s*(?P<unit>[^\s(]*)\s*"
    rf"\(target\s*(?P<op><=|>=|<|>|≤|≥)\s*(?P<target>{_NUMBER})\s*(?P<tunit>[^)]*)\)\s*$"
)
_INFO = re.compile(  # no target; an aside such as "(for context)" is allowed
    rf"^\s*(?P<name>[^:]+?):\s*(?P<value>{_NUMBER})\s*(?P<unit>[^\s(]*)\s*"
    r"(?:\((?!\s*target\s*[<>≤≥])[^)]*\))?\s*$"
)
_BUDGET = 290.0  # seconds for the whole suite: it must stay under 5 minutes on 2 cores
_LABELLED = re.compile(rf"^\s*(?P<label>[A-Za-z][\w.]*)\s+(?P<value>{_NUMBER})\s*(?P<unit>\S*)\s*$")
_TARGET = re.compile(
    rf"\(target\s*(?P<op><=|>=|<|>|≤|≥)\s*(?P<target>{_NUMBER})\s*(?P<tunit>[^)]*)\)\s*$")
_OPS = {
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
    "≤": lambda v, t: v <= t,
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "≥": lambda v, t: v >= t,
}


def _width(text: str) -> int:
    """Columns the text takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def parse_figures(text: str) -> list[tuple[str, str, str, bool | None]]:
    """(figure, value, target, met) for each figure line; met is None without a target."""
    rows: list[tuple[str, str, str, bool | None]] = []
    for line in text.splitlines():
        m = _FIGURE.match(line)
        if m:
            met = _OPS[m["op"]](_num(m["value"]), _num(m["target"]))
            unit = m["unit"] or m["tunit"].strip()
            target = f"{m['op']} {m['target']} {m['tunit'].strip()}".strip()
            rows.append((m["name"].strip(), f"{m['value']} {unit}".strip(), target, met))
            continue
        m = _INFO.match(line)
        if m:
            rows.append((m["name"].strip(), f"{m['value']} {m['unit']}".strip(), "", None))
            continue
        labelled = _parse_labelled(line)
        if labelled:
            rows += labelled
        elif re.search(r"\(target\s*[<>≤≥]", line):  # meant as a figure: say so, don't drop it
            rows.append((line.split(":")[0].strip(), "unparsed line", line.strip(), False))
    return rows


def _parse_labelled(line: str) -> list[tuple[str, str, str, bool | None]]:
    """``name: median 0.50 ms, p95 0.55 ms (target <= 10 ms)``: one row per labelled
    value; the target judges the value just before it (the last one), as on a plain line."""
    name, sep, rest = line.partition(":")
    if not sep:
        return []
    target = _TARGET.search(rest)
    if target:
        rest = rest[: target.start()]
    parts = [_LABELLED.match(part) for part in rest.split(",")]
    if not parts or not all(parts):
        return []
    rows: list[tuple[str, str, str, bool | None]] = []
    for i, m in enumerate(parts):
        judged = target is not None and i == len(parts) - 1
        value = f"{m['value']} {m['unit']}".strip()
        if judged:
            met = _OPS[target["op"]](_num(m["value"]), _num(target["target"]))
            goal = f"{target['op']} {target['target']} {target['tunit'].strip()}".strip()
            rows.append((f"{name.strip()} {m['label']}", value, goal, met))
        else:
            rows.append((f"{name.strip()} {m['label']}", value, "", None))
    return rows


def _run(script: Path, limit: float) -> subprocess.CompletedProcess:
    """Run one script in its own process group; on timeout, kill the whole group
    (a benchmark may have started servers or workers of its own)."""
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = child.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        return subprocess.CompletedProcess(child.args, -1, out, err + f"timed out after {limit:.0f} s\n")
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    only = set(argv)
    scripts = sorted(p for p in here.glob("bench_*.py") if p.name != "bench_table.py")
    if only:
        scripts = [p for p in scripts if p.stem.removeprefix("bench_") in only]
    table: list[tuple[str, str, str, str]] = []
    begun = time.monotonic()
    for script in scripts:
        started = time.monotonic()
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        limit = max(10.0, _BUDGET - (started - begun))  # a hung script cannot eat the rest
        proc = _run(script, limit)
        took = time.monotonic() - started
        sys.stderr.write(proc.stdout + proc.stderr)
        rows = parse_figures(proc.stdout)
        if proc.returncode != 0 or not any(met is not None for *_, met in rows):
            table.append((script.stem, f"failed (exit {proc.returncode})", "", "NO"))
        for name, value, target, met in rows:
            table.append((name, value, target, "-" if met is None else "yes" if met else "NO"))
        print(f"  {script.name} took {took:.1f} s", file=sys.stderr, flush=True)
    header = ("figure", "value", "target", "met")
    widths = [max(_width(r[i]) for r in [header, *table]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *table]:
        print("  ".join(cell + " " * (w - _width(cell))
                        for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"\n{sum(r[3] == 'yes' for r in table)} of {sum(r[3] != '-' for r in table)} "
          f"targets met in {time.monotonic() - begun:.0f} s")
    return 0 if all(r[3] != "NO" for r in table) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
