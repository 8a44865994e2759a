"""`wechat-sim serve`: run the simulated WeChat on one address (all host roles)."""

from __future__ import annotations

import functools
import logging

import click
import trio

from wechat_sim import worldgen
from wechat_sim.server import serve
from wechat_sim.world import SimConfig


@click.group()
def main() -> None:
    """A local, protocol-faithful simulated web WeChat."""


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--world", "world_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--friends", type=int, help="generate a world: friends per account")
@click.option("--groups", type=int, default=3, show_default=True)
@click.option("--members", type=int, default=10, show_default=True)
@click.option("--accounts", type=int, default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--auto-confirm", is_flag=True, help="scan and confirm every QR login")
@click.option("--auto-delay", type=float, default=0.5, show_default=True)
@click.option("-v", "--verbose", is_flag=True)
def serve_cmd(
    host, port, world_file, friends, groups, members, accounts, seed, auto_confirm, auto_delay,
    verbose,
) -> None:  # fmt: skip
    """Serve the protocol and the /sim/ control API; prints the base URL."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    config = SimConfig(auto_confirm=auto_confirm, auto_delay=auto_delay)
    if world_file:
        world = worldgen.load(world_file, config, seed)
    elif friends is not None:
        world = worldgen.generate(
            friends=friends, groups=groups, members=members, seed=seed, accounts=accounts,
            config=config,
        )  # fmt: skip
    else:
        world = worldgen.default_world(config, seed)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            base_url = await nursery.start(functools.partial(serve, world, host, port))
            click.echo(base_url, nl=True)
            accts = ", ".join(f"{a.wxid} ({a.person.nickname})" for a in world.accounts.values())
            click.echo(f"accounts: {accts}", err=True)

    try:
        trio.run(run)
    except KeyboardInterrupt:
        pass


@main.command("world")
@click.option("--friends", type=int, default=20, show_default=True)
@click.option("--groups", type=int, default=3, show_default=True)
@click.option("--members", type=int, default=10, show_default=True)
@click.option("--accounts", type=int, default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--default", "default_world", is_flag=True, help="the small default world")
def world_cmd(friends, groups, members, accounts, seed, default_world) -> None:
    """Print a world file (JSON) to edit and pass to `serve --world`."""
    import msgspec

    if default_world:
        spec = worldgen.default_spec()
    else:
        spec = worldgen.generate_spec(
            friends=friends, groups=groups, members=members, seed=seed, accounts=accounts
        )
    click.echo(msgspec.json.format(msgspec.json.encode(spec), indent=2).decode())
