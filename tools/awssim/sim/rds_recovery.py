"""RDS in the background and after a restart: the housekeeping loop (AWS
starts an instance stopped for 7 days) and recovery, which brings every
resource back to a consistent state and restarts running instances'
servers before the emulator reports ready."""
import os

from .rds_common import SEVEN_DAYS, real
from .rds_servers import fail_instance, set_status, start_server
from .rds_instances import op_create, op_delete, op_start


def housekeeping(world):
    """Every second: restart instances stopped for 7 emulated days."""
    while not world.clock.stop_event.wait(1.0):
        now_aws = world.clock.aws_now()
        for st in world.all_stores():
            with world.lock:
                due = [i for i in st["instances"].values() if i["status"] == "stopped" and not i.get("op")
                       and i.get("stopped_at_aws") is not None and now_aws - i["stopped_at_aws"] >= SEVEN_DAYS]
                for inst in due:
                    inst["status"] = "starting"
                    inst["op"] = "start"
            for inst in due:
                world.spawn(f"autostart-{inst['id']}", op_start, world, st, inst, True,
                            on_error=fail_instance(world, st, inst))


def recover(world):
    """After a restart: bring every resource back to a consistent state and
    start the servers of running instances at their endpoints."""
    for st in world.all_stores():
        with world.lock:
            for key in list(st["endpoints"]):
                kind, name = key.split(":", 1)
                world.endpoint_port(st, name, kind)
            insts = list(st["instances"].values())
            snaps = list(st["snapshots"].values())
            for px in st["proxies"].values():
                if px["status"] == "creating":
                    px["status"] = "available"
                for t in px["targets"]:
                    t["state"] = "AVAILABLE"
        for s in snaps:
            if s["status"] == "creating":
                ok = s.get("dir") and (os.path.exists(os.path.join(s["dir"], "PG_VERSION"))
                                       or os.path.isdir(os.path.join(s["dir"], "mysql")))
                with world.lock:
                    if ok or s.get("metadata_only"):
                        s["status"], s["progress"] = "available", 100
                    else:
                        s["status"] = "failed"
        starters = []
        for inst in insts:
            t = _recover_instance(world, st, inst)
            if t:
                starters.append(t)
        # servers of running instances are up before the emulator reports ready
        for t in starters:
            t.join(300)


def _recover_instance(world, st, inst):
    status = inst["status"]
    with world.lock:
        if inst.get("pg"):
            inst["pg"]["up"] = False
    if status == "deleting":
        world.spawn(f"delete-{inst['id']}", op_delete, world, st, inst, None, on_error=fail_instance(world, st, inst))
        return
    if status in ("stopped", "stopping"):
        with world.lock:
            inst["status"], inst["op"] = "stopped", None
            if inst.get("stopped_at_aws") is None:
                inst["stopped_at_aws"] = world.clock.aws_now()
        if real(inst) and inst.get("pg", {}).get("dir") and world.srv(inst):
            world.srv(inst).stop(inst["pg"]["dir"], "fast")
        return
    if status in ("failed", "incompatible-restore"):
        return
    if not real(inst):
        set_status(world, st, inst, "available")
        return
    d = inst.get("pg", {}).get("dir")
    if status == "creating" and (not d or not (os.path.exists(os.path.join(d or "", "PG_VERSION"))
                                               or os.path.isdir(os.path.join(d or "", "mysql")))
                                 or not inst.get("endpoint_ready")):
        if inst.get("restored_from") and inst["restored_from"] in st["snapshots"]:
            snap = st["snapshots"][inst["restored_from"]]
            world.spawn(f"restore-{inst['id']}", op_create, world, st, inst, None, snap.get("dir"),
                        on_error=fail_instance(world, st, inst, "incompatible-restore"))
        elif inst.get("secret_arn") or inst.get("replica_of"):
            with world.lock:
                inst["status"] = "failed"
        else:
            with world.lock:
                inst["status"] = "failed"
                inst["failure"] = "emulator restarted while the instance was being created"
        return

    def restart():
        start_server(world, st, inst)
        set_status(world, st, inst, "available")
    return world.spawn(f"recover-{inst['id']}", restart, on_error=fail_instance(world, st, inst))
