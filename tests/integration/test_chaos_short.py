

def test_holder_interval_checker_sees_overlaps():
    """The interval check above can fail: a second holder that began before
    a killed one died, or before a finished one's step_end, is reported;
    back-to-back holders are not."""
    class W:
        seen = {("x", "10"): {"instance": "x", "owner": "worker-1", "run_ms": "1000", "step": "cutover"},
                ("x", "11"): {"instance": "x", "owner": "worker-2", "run_ms": "4000", "step": "cutover"},
                ("y", "12"): {"instance": "y", "owner": "worker-2", "run_ms": "1000", "step": "catch-up"}}
    events = [{"instance": "x", "node": "worker-2", "step": "cutover", "ts": "6000", "duration_ms": "1900"},
              {"instance": "y", "node": "worker-2", "step": "catch-up", "ts": "2000", "duration_ms": "900"},
              {"instance": "y", "node": "worker-1", "step": "cutover", "ts": "3000", "duration_ms": "900"}]
    # worker-1 died at 5000 inside x's cutover while worker-2 had taken it at 4000: overlap
    ivs, unresolved = holder_intervals(events, W, {"worker-1": 5000})
    assert not unresolved
    bad = overlapping_holders(ivs)
    assert [(a["node"], b["node"], a["instance"]) for a, b in bad] == [("worker-1", "worker-2", "x")], bad
    # died at 3900, before the next holder began: nothing to report
    ivs, _ = holder_intervals(events, W, {"worker-1": 3900})
    assert overlapping_holders(ivs) == []
