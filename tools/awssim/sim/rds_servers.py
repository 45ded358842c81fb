"""RDS: the real PostgreSQL server behind an instance. Start and stop it,
point its stable endpoint (and RDS Proxy endpoints) at it, move the
instance's status, and set the master password as RDS does when it rotates
the managed secret. Secrets Manager's rotation calls apply_master_password
from here, so secrets.py needs no RDS action module (no import circle)."""
import os
import time

from . import rds_mysql
from .mysql import MyError
from .pg import PgError
from .rds_common import (STABLE, arn, cluster_by_rid, cluster_of, find_by_rid, free_port, is_my, members_of,  # noqa: F401
                         real, writer_of)
from .rds_params import member_static, pg_settings


def sync_endpoint(world, store, name):
    """Point identifier `name`'s endpoint at the server that holds it now (and,
    for an Aurora member, its cluster's endpoints)."""
    with world.lock:
        inst = store["instances"].get(name)
        target = None
        if inst and inst.get("pg") and inst["pg"].get("up"):
            target = inst["pg"]["port"]
        ep = world.endpoint(store, name)
        cluster = cluster_of(store, inst) if inst else None
    ep.set_target(target)
    if cluster:
        sync_cluster(world, store, cluster)
    sync_proxies(world, store)


def _up_port(inst):
    if inst and real(inst) and inst.get("pg") and inst["pg"].get("up") and inst["status"] not in ("stopping", "stopped"):
        return inst["pg"]["port"]
    return None


def sync_cluster(world, store, cluster):
    """Aurora: the cluster endpoint reaches the writer's server; the reader
    endpoint one reader's (the first available by identifier), or the writer's
    when there is no reader, as Aurora's reader endpoint does."""
    with world.lock:
        if store["clusters"].get(cluster["id"]) is not cluster:
            return
        writer = writer_of(store, cluster)
        readers = sorted((i for i in members_of(store, cluster) if i is not writer and _up_port(i)),
                         key=lambda i: i["id"])
        w_port = _up_port(writer)
        r_port = _up_port(readers[0]) if readers else w_port
        ep = world.endpoint(store, cluster["id"], "cluster")
        rep = world.reader_endpoint(store, cluster["id"])
    ep.set_target(w_port)
    rep.set_target(r_port)
    sync_proxies(world, store)   # a proxy with the cluster as its target follows its writer


def sync_proxies(world, store):
    with world.lock:
        todo = []
        for px in store["proxies"].values():
            target = None
            for t in px["targets"]:
                inst = find_by_rid(store, t["rid"])
                if t.get("kind") == "cluster":   # the cluster resource's writer, also after a rename
                    c = cluster_by_rid(store, t["rid"])
                    inst = next((i for i in store["instances"].values()
                                 if c and i["resource_id"] == c.get("writer")), None)
                if inst and t.get("state") == "AVAILABLE" and inst.get("pg") and inst["pg"].get("up"):
                    target = inst["pg"]["port"]
                    break
            todo.append((world.endpoint(store, px["name"], "proxy"), target))
    for ep, target in todo:
        ep.set_target(target)


def inst_dir(world, inst):
    return os.path.join(world.home, "instances", inst["resource_id"])


def start_server(world, store, inst):
    """(Re)write the config and start the instance's server; mark it up."""
    pgm = world.pg
    d = inst["pg"]["dir"]
    port = inst["pg"].get("port") or free_port()
    if is_my(inst):
        failed = MyError

        def launch(p):
            return rds_mysql.start(world, store, inst, p)
    else:
        failed = PgError
        with world.lock:
            settings = pg_settings(store, inst)

        def launch(p):
            pgm.configure(d, p, settings)
            return pgm.start(d, os.path.join(os.path.dirname(d), "startup.log"))
    try:
        pid = launch(port)
    except failed:
        # the remembered port may be taken now: one more try on a fresh one
        port = free_port()
        pid = launch(port)
    with world.lock:
        inst["pg"].update({"port": port, "pid": pid, "up": True})
        inst["applied_static"] = member_static(store, inst)
        inst["param_status"] = "in-sync"
    world.mark_dirty()
    sync_endpoint(world, store, inst["id"])


def stop_server(world, store, inst, mode="fast"):
    with world.lock:
        if inst.get("pg"):
            inst["pg"]["up"] = False
    sync_endpoint(world, store, inst["id"])
    if inst.get("pg") and inst["pg"].get("dir") and world.srv(inst):
        world.srv(inst).stop(inst["pg"]["dir"], mode)
    with world.lock:
        if inst.get("pg"):
            inst["pg"]["pid"] = None
    world.mark_dirty()


def set_status(world, store, inst, status, event=None, categories=()):
    with world.lock:
        inst["status"] = status
        if status in STABLE:
            inst["op"] = None
    if event:
        world.event(store, "db-instance", inst["id"], event, categories, arn(store, "db", inst["id"]))
    world.mark_dirty()


def fail_instance(world, store, inst, status="failed"):
    def on_error(e):
        inst["status"] = status
        inst["op"] = None
        inst["failure"] = str(e)[:500]
        store["events"].append({"SourceIdentifier": inst["id"], "SourceType": "db-instance",
                                "Message": f"DB instance failed: {str(e)[:300]}", "EventCategories": ["failure"],
                                "Date": time.time(), "SourceArn": arn(store, "db", inst["id"])})
    return on_error


def apply_master_password(world, store, inst, password):
    """Set the master password as RDS does when it rotates the managed secret:
    at once on a running server, else when the instance next starts."""
    with world.lock:
        up = real(inst) and inst.get("pg", {}).get("up") and inst["status"] not in ("stopped", "stopping")
        if not up and real(inst):
            inst["pending_password"] = password
    if up:
        set_master_password(world, inst, password)
    world.mark_dirty()


def set_master_password(world, inst, password):
    if is_my(inst):
        world.my.set_password(inst["pg"]["dir"], inst["master_username"], password)
    else:
        world.pg.set_password(inst["pg"]["port"], inst["master_username"], password)
