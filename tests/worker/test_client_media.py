"""media.py: where media to send comes from (local files confined, URLs never hang)."""

from __future__ import annotations

import re

import httpx
import pytest

from openwx_worker.errors import InvalidArgument
from openwx_worker.media import from_data, load_media, media_code_for, parse_media_id
from openwx_worker.testing import worker_config
from wechat_sim.testing import open_sim


class _Sim:
    base_url = "http://127.0.0.1:9"


def test_codes_and_ids():
    assert [media_code_for(m) for m in ("image/gif", "video/mp4", "image/png", "audio/mp3")] == [
        47, 43, 3, 6]
    assert parse_media_id("@crypt_1:3") == ("@crypt_1", 3)
    assert parse_media_id("@crypt_1") == ("@crypt_1", 6)
    m = from_data(b"abc")
    assert m.ext == "dat" and m.name.endswith(".dat") and m.size == 3


async def test_local_file_inside_media_dir(tmp_path):
    config = worker_config(_Sim(), tmp_path)
    (tmp_path / "media").mkdir()
    path = tmp_path / "media" / "pic.jpg"
    path.write_bytes(b"\xff\xd8data")
    m = await load_media(str(path), config)
    assert m.data == b"\xff\xd8data" and m.mime == "image/jpeg" and m.media_code == 3


async def test_local_file_outside_allowed_dirs_is_refused(tmp_path):
    config = worker_config(_Sim(), tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    with pytest.raises(InvalidArgument, match="outside"):
        await load_media(str(secret), config)
    (tmp_path / "media").mkdir()
    with pytest.raises(InvalidArgument, match="invaild media_path"):
        await load_media(str(tmp_path / "media" / "missing.jpg"), config)


async def test_url_download_and_failures(tmp_path, autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    async with open_sim() as sim:
        config = worker_config(sim, tmp_path, media_size_max=10_000_000)
        async with httpx.AsyncClient() as http:
            r = await http.get(sim.base_url + "/jslogin", params={"appid": "wx782c26e4c19acffb"})
        uuid = re.search(r'uuid = "(\S+?)"', r.text).group(1)
        m = await load_media(f"{sim.base_url}/qrcode/{uuid}", config)
        assert m.data[:2] == b"\xff\xd8" and m.mime == "image/jpeg" and m.name == uuid
        with pytest.raises(InvalidArgument, match="HTTP 404"):
            await load_media(f"{sim.base_url}/nothing-here", config)
        small = worker_config(sim, tmp_path, media_size_max=100)
        with pytest.raises(InvalidArgument, match="exceed"):
            await load_media(f"{sim.base_url}/qrcode/{uuid}", small)
    with pytest.raises(InvalidArgument, match="download failed"):
        await load_media("http://127.0.0.1:9/x.jpg", config)
