"""Fixtures of core's tests."""

import os
import shutil

import pytest
import redis as redis_client

from payments.tests.broker_support import RedisServer


class _SharedRedis:
    """The Redis at REDIS_URL, for when no redis-server can be started here (the test cleans its own keys)."""

    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture
def wire_redis():
    """A Redis for the wire's tests: a redis-server of the test's own when there is the binary (nothing else
    writes to its queues), else the one at REDIS_URL. Never skipped in CI, which has both."""
    if shutil.which("redis-server"):
        server = RedisServer()
        server.start()
        try:
            yield server
        finally:
            server.stop()
        return
    url = os.environ.get("REDIS_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must have redis-server or REDIS_URL for the Redis wire's tests")
        pytest.skip("needs redis-server or REDIS_URL")
    redis_client.Redis.from_url(url).ping()
    yield _SharedRedis(url)
