"""Fixtures of the fault tests: a cluster of real processes that dies with the test."""

from __future__ import annotations

import os

import pytest

from tests.conftest import need_service
from tests.live.conftest import connect, live, live_meeting  # noqa: F401 - live fixtures
from tests.reliability.cluster import Cluster, postgres_available, redis_available


@pytest.fixture
def cluster_factory(tmp_path):
    """Start a cluster (own Redis, own PostgreSQL database, daphne processes); every
    process is killed when the test ends, whatever happens."""
    started: list[Cluster] = []

    def make(
        *,
        db_name: str,
        webs: int = 2,
        env=None,
        max_message: int = 65536,
        server="daphne",
        db_settings=None,
    ) -> Cluster:
        if not redis_available():
            need_service("redis-server", "install it (apt-get install redis-server)")
        if not postgres_available():
            need_service("PostgreSQL", "run it on 127.0.0.1:5432 (user postgres, trust)")
        cluster = Cluster(
            tmp_path,
            db_name=f"{db_name}_{os.getpid()}",
            webs=webs,
            extra_env=env,
            max_message=max_message,
            server=server,
            db_settings=db_settings,
        )
        started.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in started:
        cluster.stop()
