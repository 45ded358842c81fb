"""Health endpoints (issue 18) on the worker's and the coordinator's metrics
server (FLEETCRYPT_METRICS_ADDR): /healthz answers 200 while the main loop
runs (a heartbeat the loop bumps), /readyz answers 200 while the main loop
last found Redis and Kafka reachable, 503 naming what is not once one of
them went away, and 200 again when it is back. The probes never wait for
Redis themselves: /healthz stays 200 while Redis is down.
"""
import urllib.error
import urllib.request

import pytest

from fclib import wait_until
from fixtures_stack import Stack
from test_metrics import port_of


def get(port, path):
    """(status, body) of GET path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def hstack(world, awssim):
    s = Stack(world, awssim, workers=1, env_extra={"FLEETCRYPT_METRICS_ADDR": "127.0.0.1:0"})
    try:
        yield s
    finally:
        s.stop()


def test_healthz_and_readyz_follow_redis_and_kafka(hstack):
    stack = hstack.start()
    ports = {"worker": port_of(stack.workers[0]), "coordinator": port_of(stack.coordinators[0])}
    for name, p in ports.items():
        wait_until(lambda p=p: get(p, "/healthz")[0] == 200, 30, interval=0.2, what=f"{name} /healthz 200")
        wait_until(lambda p=p: get(p, "/readyz")[0] == 200, 30, interval=0.2, what=f"{name} /readyz 200")
        assert get(p, "/metrics")[0] == 200

    # Redis gone: not ready (naming redis), still alive
    stack.redis.stop()
    for name, p in ports.items():
        st = wait_until(lambda p=p: (lambda r: r if r[0] == 503 else None)(get(p, "/readyz")), 30, interval=0.2,
                        what=f"{name} /readyz 503 without redis")
        assert "redis" in st[1], (name, st)
        code, body = get(p, "/healthz")
        assert code == 200, (name, code, body)
    stack.restart_redis()
    for name, p in ports.items():
        wait_until(lambda p=p: get(p, "/readyz")[0] == 200, 60, interval=0.2, what=f"{name} /readyz back to 200")

    # every Kafka broker down: not ready (naming kafka), still alive
    for b in range(1, stack.kafka.brokers + 1):
        stack.kafka.control(f"down {b}")
    for name, p in ports.items():
        st = wait_until(lambda p=p: (lambda r: r if r[0] == 503 else None)(get(p, "/readyz")), 60, interval=0.2,
                        what=f"{name} /readyz 503 without kafka")
        assert "kafka" in st[1], (name, st)
        code, body = get(p, "/healthz")
        assert code == 200, (name, code, body)
    for b in range(1, stack.kafka.brokers + 1):
        stack.kafka.control(f"up {b}")
    for name, p in ports.items():
        wait_until(lambda p=p: get(p, "/readyz")[0] == 200, 60, interval=0.2, what=f"{name} /readyz back to 200")
