"""Helpers of the copy-trade tests: accounts with their raw keys, servers, EAs."""

import asyncio

from tenancy.scoping import tenant_context
from trading.copytrade.simulator import FollowerEA, MasterEA
from trading.models import CopySettings, TradingAccount

from .factories import MasterAccountFactory, TradingAccountFactory


def key_of(account: TradingAccount) -> str:
    """The raw `sk_live_` key (the instance the factory made holds it; no query, so async code may call it)."""
    return account.api_key_encrypted


def master_in(tenant, **kwargs) -> TradingAccount:
    with tenant_context(tenant):
        return MasterAccountFactory(**kwargs)


def follower_in(tenant, master=None, *, options: dict | None = None, **kwargs) -> TradingAccount:
    with tenant_context(tenant):
        account = TradingAccountFactory(following=master, **kwargs)
        if options is not None:
            CopySettings.objects.create(account=account, **options)
        return account


def run(coro):
    return asyncio.run(coro)


async def connected_master(port: int, account) -> MasterEA:
    ea = MasterEA("127.0.0.1", port, key_of(account))
    answer = await ea.connect()
    assert answer == f"OK:AUTH:{account.pk}:master", answer
    return ea


async def connected_follower(port: int, account, **kwargs) -> FollowerEA:
    ea = FollowerEA("127.0.0.1", port, key_of(account), **kwargs)
    answer = await ea.connect()
    assert answer == f"OK:AUTH:{account.pk}:follower", answer
    return ea


async def read_until(ea, prefix: str, timeout: float = 5) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        line = await ea.read(timeout=max(0.01, deadline - loop.time()))
        if line.startswith(prefix):
            return line


async def silent(ea, seconds: float = 0.3) -> list[str]:
    """Lines that arrive within `seconds` (to assert nothing came)."""
    got = []
    try:
        while True:
            got.append(await ea.read(timeout=seconds))
    except TimeoutError:
        return got
