"""The READMEs stay true to the code as it changes.

* The configuration table in README.md and README.zh.md is exactly what
  ``openwx-worker config --keys --format markdown`` prints now (a key added to
  WorkerConfig fails this test until the table is pasted again).
* Every worker endpoint of the route table and every controller endpoint has a curl
  example in both READMEs.
* Every key of the supervisor's configuration is in both READMEs' supervisor table.
* The two READMEs share their code examples (the Chinese one is a translation of the
  prose, not of the commands), so the same fenced blocks appear in both.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from openwx_supervisor.api import MANAGEMENT
from openwx_supervisor.config import SupervisorConfig
from openwx_worker.api import routes
from openwx_worker.cli import format_keys

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", ROOT / "README.zh.md"]
_TABLE = re.compile(r"<!-- generated: openwx-worker config[^>]*-->\n(.*?)<!-- end generated -->",
                    re.S)


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_config_table_is_the_generated_one(readme: Path) -> None:
    match = _TABLE.search(readme.read_text(encoding="utf-8"))
    assert match, f"{readme.name} lost its generated configuration table"
    assert match.group(1) == format_keys("markdown"), (
        f"paste `openwx-worker config --keys --format markdown` into {readme.name}")


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_every_endpoint_has_a_curl_example(readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    examples = set(re.findall(r"curl [^\n]*?/openwx/(\w+)", text))
    names = {e.name for e in routes.endpoints()} | set(MANAGEMENT)
    assert not names - examples, f"{readme.name}: no curl example for {sorted(names - examples)}"


def test_both_readmes_show_the_same_json_examples() -> None:
    def blocks(path: Path) -> list[str]:
        return re.findall(r"```json\n.*?```", path.read_text(encoding="utf-8"), re.S)

    english, chinese = (blocks(p) for p in READMES)
    assert english and english == chinese


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_every_supervisor_key_is_documented(readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `\[?(\w+)\]?` \|", text, re.M))
    keys = {f.name for f in msgspec.structs.fields(SupervisorConfig)} - {"worker_command"}
    assert not keys - documented, f"{readme.name}: supervisor keys missing: {keys - documented}"
