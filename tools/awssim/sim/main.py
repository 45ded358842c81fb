"""awssim entry point: arguments, start-up, ready file, signals, shutdown."""
import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from . import dms, models, mysql, rds_recovery, rdsext
from .admin import make_admin
from .pg import PgManager, PgError
from .server import make_server
from .tls import RdsCa, TlsError
from . import iam
from .world import (DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, TARGET_ACCESS_KEY, TARGET_EXTERNAL_ID, TARGET_ROLE_NAME,
                    TARGET_SECRET_KEY, World)

from . import dns_server  # the DNS server (Route 53 zones, RDS names)

log = logging.getLogger("awssim")


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="awssim", description="fleetcrypt's local AWS emulator")
    ap.add_argument("--home", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--admin-port", type=int, default=0)
    ap.add_argument("--dns-port", type=int, default=0, help="DNS server port, UDP and TCP (0: the last one, or free)")
    ap.add_argument("--ready-file")
    ap.add_argument("--time-scale", type=float, default=None)
    ap.add_argument("--metadata-only", action="store_true")
    ap.add_argument("--endpoint-addresses", choices=("own", "loopback"),
                    default=os.environ.get("FLEETCRYPT_SIM_ENDPOINT_ADDRESSES", "own"),
                    help="own: each instance identifier its own Endpoint.Address in 127.1.0.0/24 (default); "
                         "loopback: every one 127.0.0.1")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--account-id", default="123456789012")
    ap.add_argument("--target-account-id", default="210987654321",
                    help="a second account with its own credentials and the role fleetcrypt-target the first "
                         "account may assume with an external id ('' for none)")
    ap.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin")
    ap.add_argument("--pg-template")
    ap.add_argument("--pg-fsync", choices=("on", "off"), default="off")
    ap.add_argument("--pg-superuser", default="postgres",
                    help="bootstrap superuser of --pg-template (renamed to rdsadmin in every instance)")
    ap.add_argument("--rdsext-dir", help="where the awssim_rds module is built (default HOME/rdsext)")
    ap.add_argument("--credentials")
    ap.add_argument("--log-level", default="INFO")
    a = ap.parse_args(argv)
    a.time_scale_given = a.time_scale
    if a.time_scale is None:
        a.time_scale = 0.0
    if a.time_scale < 0:
        ap.error("--time-scale must be >= 0")
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        ap.error("--host must be a loopback address")
    a.home = os.path.abspath(a.home)
    return a


def write_ready(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def main(argv):
    cfg = parse_args(argv)
    logging.basicConfig(level=getattr(logging, cfg.log_level.upper(), logging.INFO),
                        format="%(asctime)s awssim %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.makedirs(cfg.home, exist_ok=True)
    for sub in ("instances", "snapshots"):
        os.makedirs(os.path.join(cfg.home, sub), exist_ok=True)
    world = World(cfg)
    target = None
    if cfg.target_account_id:
        if not iam.ACCOUNT_RE.match(cfg.target_account_id) or cfg.target_account_id == cfg.account_id:
            print("awssim: --target-account-id must be 12 digits and not --account-id", file=sys.stderr)
            return 2
        world.add_credentials(TARGET_ACCESS_KEY, TARGET_SECRET_KEY, cfg.target_account_id)
        target = iam.add_role(world, iam.role_record(
            f"arn:aws:iam::{cfg.target_account_id}:role/{TARGET_ROLE_NAME}", [cfg.account_id], TARGET_EXTERNAL_ID))
    if cfg.credentials:
        try:
            with open(cfg.credentials) as f:
                doc = json.load(f)
            # a list of credentials, or {"credentials": [...], "roles": [...]}
            creds, roles = (doc, []) if isinstance(doc, list) else (doc.get("credentials", []), doc.get("roles", []))
            for c in creds:
                world.add_credentials(c["access_key_id"], c["secret_access_key"],
                                      str(c.get("account_id", cfg.account_id)), c.get("arn"))
            for r in roles:
                iam.add_role(world, iam.role_from_json(r))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            print(f"awssim: cannot read --credentials {cfg.credentials}: {e}", file=sys.stderr)
            return 2
    for s in ("rds", "sts", "kms", "secretsmanager", "dms"):
        models.load(s)
    if not cfg.metadata_only:
        pgm = PgManager(cfg.home, cfg.pg_bin, cfg.pg_template, cfg.pg_fsync, cfg.pg_superuser)
        if os.geteuid() == 0:
            for sub in ("", "instances", "snapshots"):
                d = os.path.join(cfg.home, sub)
                os.chmod(d, 0o755)
                pgm.chown(d)
        err = pgm.check_access(cfg.home)
        if err:
            print(f"awssim: {err}", file=sys.stderr)
            return 2
        try:
            pgm.ensure_template()
        except (PgError, OSError) as e:
            print(f"awssim: PostgreSQL template: {e}", file=sys.stderr)
            return 2
        try:
            pgm.rds_lib = rdsext.build(cfg.pg_bin, cfg.rdsext_dir or os.path.join(cfg.home, "rdsext"))
        except (rdsext.BuildError, OSError, subprocess.SubprocessError) as e:
            print(f"awssim: RDS permission module: {e}", file=sys.stderr)
            return 2
        world.pg = pgm
        if mysql.available():
            # engines mysql and mariadb: MariaDB servers (deploy/install-deps installs them)
            try:
                # the MariaDB template is built at the first MySQL-family
                # create (MysqlManager.new_datadir), not here: a PostgreSQL-only
                # emulator pays nothing for it
                world.my = mysql.MysqlManager(cfg.home, cfg.pg_fsync)
            except (mysql.MyError, OSError, KeyError) as e:
                print(f"awssim: MariaDB template: {e}", file=sys.stderr)
                return 2
    ca = RdsCa(cfg.home, chown=world.pg.chown if world.pg else None)
    try:
        ca.ensure()
    except (TlsError, OSError) as e:
        print(f"awssim: emulated RDS CA: {e}", file=sys.stderr)
        return 2
    if world.pg:
        world.pg.ca = ca
    if world.my:
        world.my.ca = ca
    try:
        world.load()
    except (OSError, ValueError) as e:
        print(f"awssim: cannot load state {world.state_path}: {e}", file=sys.stderr)
        return 2

    try:
        api = make_server(world, cfg.host, cfg.port)
        admin = make_admin(world, cfg.host, cfg.admin_port)
        world.dns = dns_server.start(world, cfg.host, cfg.dns_port, cfg.home)
    except OSError as e:
        print(f"awssim: cannot listen: {e}", file=sys.stderr)
        return 2
    threads = [threading.Thread(target=api.serve_forever, kwargs={"poll_interval": 0.2}, name="api", daemon=True),
               threading.Thread(target=admin.serve_forever, kwargs={"poll_interval": 0.2}, name="admin", daemon=True),
               threading.Thread(target=world.saver_loop, name="saver", daemon=True),
               threading.Thread(target=rds_recovery.housekeeping, args=(world,), name="housekeeping", daemon=True)]
    for t in threads:
        t.start()
    rds_recovery.recover(world)
    dms.recover(world)
    world.mark_dirty()

    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("signal %s: shutting down", signum)
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    host = "127.0.0.1" if cfg.host == "localhost" else cfg.host
    ready = {"endpoint": f"http://{host}:{api.server_address[1]}", "admin": f"http://{host}:{admin.server_address[1]}",
             "pid": os.getpid(), "region": cfg.region, "account_id": cfg.account_id,
             "access_key_id": DEFAULT_ACCESS_KEY, "secret_access_key": DEFAULT_SECRET_KEY,
             "home": cfg.home, "metadata_only": cfg.metadata_only, "models": models.describe_models(),
             "rds_ca_bundle": ca.bundle, "dns": world.dns.addr}
    if target:
        ready.update(target_account_id=cfg.target_account_id, target_access_key_id=TARGET_ACCESS_KEY,
                     target_secret_access_key=TARGET_SECRET_KEY, target_role_arn=target["arn"],
                     target_external_id=target["external_id"])
    if cfg.ready_file:
        write_ready(cfg.ready_file, ready)
    log.info("listening: %s admin %s", ready["endpoint"], ready["admin"])
    while not stop.wait(1.0):
        pass
    shutdown(world, api, admin)
    if cfg.ready_file:
        try:
            os.unlink(cfg.ready_file)
        except OSError:
            pass
    return 0


def shutdown(world, api, admin):
    api.shutdown()
    admin.shutdown()
    world.dns.stop()
    world.clock.stop_event.set()
    deadline = time.monotonic() + 60
    for t in list(world.ops):
        t.join(max(0.1, deadline - time.monotonic()))
    if world.pg:
        dirs = set()
        with world.lock:
            for st in world.stores.values():
                for inst in st["instances"].values():
                    if inst.get("pg", {}).get("dir"):
                        dirs.add(inst["pg"]["dir"])
        base = os.path.join(world.home, "instances")
        for rid in os.listdir(base) if os.path.isdir(base) else []:
            dirs.add(os.path.join(base, rid, "data"))
        stoppers = [threading.Thread(target=m.stop, args=(d, "fast")) for d in dirs
                    for m in (world.pg, world.my) if m and m.running_pid(d)]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(90)
    world.hub.close_all()
    try:
        world.save()
    except OSError as e:
        log.error("saving state: %s", e)
    log.info("stopped")
