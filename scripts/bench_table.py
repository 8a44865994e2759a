"""Run the benchmark scripts and gather their figures into one table.

Each `scripts/bench_*.py` prints lines of the form

    name: VALUE [unit] (target OP NUMBER [unit])

where OP is one of < <= > >= (or ≤ ≥). Lines of any other form are passed through
to stderr as the script's own commentary. A script that fails is reported as such;
the others still run.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

_FIGURE = re.compile(
    r"^\s*(?P<name>[\w.\-/ ]+?):\s*(?P<value>-?[\d.]+)\s*(?P<unit>[^\s(]*)\s*"
    r"\(target\s*(?P<op><=|>=|<|>|≤|≥)\s*(?P<target>-?[\d.]+)\s*(?P<tunit>[^)]*)\)"
)
_OPS = {
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
    "≤": lambda v, t: v <= t,
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "≥": lambda v, t: v >= t,
}


def parse_figures(text: str) -> list[tuple[str, str, str, bool]]:
    rows = []
    for line in text.splitlines():
        m = _FIGURE.match(line)
        if not m:
            continue
        value, target = float(m["value"]), float(m["target"])
        met = _OPS[m["op"]](value, target)
        unit = m["unit"] or m["tunit"].strip()
        rows.append(
            (m["name"].strip(), f"{m['value']} {unit}".strip(), f"{m['op']} {m['target']} {m['tunit'].strip()}".strip(), met)
        )
    return rows


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    only = set(argv)
    scripts = sorted(p for p in here.glob("bench_*.py") if p.name != "bench_table.py")
    if only:
        scripts = [p for p in scripts if p.stem.removeprefix("bench_") in only]
    table: list[tuple[str, str, str, str]] = []
    for script in scripts:
        started = time.monotonic()
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
        took = time.monotonic() - started
        sys.stderr.write(proc.stdout + proc.stderr)
        rows = parse_figures(proc.stdout)
        if proc.returncode != 0 or not rows:
            table.append((script.stem, f"failed (exit {proc.returncode})", "", "no"))
        for name, value, target, met in rows:
            table.append((name, value, target, "yes" if met else "NO"))
        print(f"  {script.name} took {took:.1f} s", file=sys.stderr, flush=True)
    widths = [max(len(r[i]) for r in table + [("figure", "value", "target", "met")]) for i in range(4)]
    header = ("figure", "value", "target", "met")
    for row in [header, tuple("-" * w for w in widths), *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0 if all(r[3] == "yes" for r in table) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
