"""mysql-binlog with a worker SIGKILLed (crash points, lib/base/crashpoint.c)
during catch-up (the target replicating), inside the cutover (writers
blocked on the source, replication on the target stopped and reset, before
the comparison and the switch) and right after the rename swap (the run's
facts lost: verify reads the comparison's verdict from the target): the
replacement worker finishes the
instance, `done`, every acknowledged row exactly once, nothing left
(test_mysqlbinlog.run_campaign's checks)."""
import pytest

from test_mysqlbinlog import run_campaign


# catch-up and the swap in CI; the kill between replication stopped and the swap in --all
@pytest.mark.parametrize("point", ["mb.catch-up", pytest.param("mb.cutover.stopped", marks=pytest.mark.slow),
                                   "mb.cutover.swapped"])
def test_worker_killed_loses_nothing(point, stack, awssim, world):
    tag = point.split(".")[-1].replace("-", "")
    run_campaign(stack, awssim, world, f"mk{tag}", {f"maria-k-{tag}": "mariadb"}, crash_at=point)
