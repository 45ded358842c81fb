"""RDS DB instances: rendering, the background operations that move an
instance through its states (create, restore, read replica, rename, modify,
reboot, stop, start, delete, promote), and the actions CreateDBInstance,
DescribeDBInstances, ModifyDBInstance, RebootDBInstance, StopDBInstance,
StartDBInstance, DeleteDBInstance, CreateDBInstanceReadReplica,
PromoteReadReplica, RestoreDBInstanceFromDBSnapshot."""
import os
import re
import shutil
import time

from . import kms, secrets as sm
from .errors import AwsError, combination, invalid, missing
from .world import rand_alnum, rand_upper
from . import rds_mysql
from .rds_common import (
    MY_ENGINES, engine_of, is_my, AURORA_MY, CLUSTER_ENGINES, cluster_engine, DEFAULT_AURORA_PG, DEFAULT_OG, DEFAULT_PG, cluster_of, get_cluster, writer_of, ENGINE_VERSION, SEVEN_DAYS, STABLE, arn, busy, check_id, check_instance_quota,
    check_snapshot_quota, dur, filters, find_by_rid, get_inst, is_meta, note_conflict, paged, real,
    ref_id, replicas_of, require_status, tags_in)
from .rds_params import member_static, static_params
from .rds_servers import (
    fail_instance, free_port, inst_dir, set_master_password, set_status, start_server, stop_server, sync_endpoint)
from .rds_snapshots import new_snapshot_record, snapshot_data
from . import rds_sharing, rds_subnet_groups as subnets
from .rds_cluster_servers import member_deleted, op_create_member


def render_instance(ctx_or_world, store, inst):
    w = getattr(ctx_or_world, "world", ctx_or_world)
    st = store
    d = {
        "DBInstanceIdentifier": inst["id"], "DBInstanceClass": inst["class"], "Engine": "postgres",
        "DBInstanceStatus": inst["status"], "MasterUsername": inst["master_username"],
        "AllocatedStorage": inst["allocated_storage"], "PreferredBackupWindow": "03:00-03:30",
        "BackupRetentionPeriod": inst["backup_retention"], "DBSecurityGroups": [],
        "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"} for g in inst["sg_ids"]],
        "DBParameterGroups": [{"DBParameterGroupName": inst["param_group"],
                               "ParameterApplyStatus": inst.get("param_status", "in-sync")}],
        "AvailabilityZone": inst["az"], "DBSubnetGroup": subnet_group(st, inst["subnet_group"]),
        "PreferredMaintenanceWindow": "sun:05:00-sun:05:30", "PendingModifiedValues": dict(inst.get("pending") or {}),
        "MultiAZ": inst["multi_az"], "EngineVersion": ENGINE_VERSION, "AutoMinorVersionUpgrade": True,
        "ReadReplicaDBInstanceIdentifiers": [r["id"] for r in replicas_of(st, inst)],
        "LicenseModel": "postgresql-license",
        "OptionGroupMemberships": [{"OptionGroupName": inst["option_group"], "Status": "in-sync"}],
        "PubliclyAccessible": inst.get("public", False), "StorageType": inst.get("storage_type", "gp2"),
        "DbInstancePort": 0, "StorageEncrypted": inst["encrypted"], "DbiResourceId": inst["resource_id"],
        "CACertificateIdentifier": "rds-ca-rsa2048-g1", "DomainMemberships": [],
        "CopyTagsToSnapshot": inst.get("copy_tags", False), "MonitoringInterval": 0,
        "DBInstanceArn": arn(st, "db", inst["id"]), "IAMDatabaseAuthenticationEnabled": False,
        "PerformanceInsightsEnabled": False, "DeletionProtection": inst.get("deletion_protection", False),
        "AssociatedRoles": [], "TagList": list(inst["tags"]), "CustomerOwnedIpEnabled": False,
        "ActivityStreamStatus": "stopped", "BackupTarget": "region", "NetworkType": "IPV4",
        "CertificateDetails": {"CAIdentifier": "rds-ca-rsa2048-g1", "ValidTill": 1893456000.0},
    }
    if inst.get("engine") in MY_ENGINES:
        d.update({"Engine": inst["engine"], "EngineVersion": MY_ENGINES[inst["engine"]][0],
                  "LicenseModel": MY_ENGINES[inst["engine"]][4]})
    if inst.get("db_name"):
        d["DBName"] = inst["db_name"]
    if inst["status"] != "creating" or inst.get("endpoint_ready"):
        d["InstanceCreateTime"] = inst["created"]
        d["Endpoint"] = {"Address": w.endpoint_address(st, inst["id"]), "Port": w.endpoint_port(st, inst["id"]),
                         "HostedZoneId": "Z2R2ITUGPM61AM"}
        if inst["backup_retention"]:
            d["LatestRestorableTime"] = time.time() - 300
    if inst["encrypted"]:
        d["KmsKeyId"] = inst["kms_key_id"]
    src = inst.get("replica_of")
    if src:
        s = find_by_rid(st, src)
        if s:
            d["ReadReplicaSourceDBInstanceIdentifier"] = s["id"]
            d["ReplicaMode"] = "open-read-only"
    if inst.get("secret_arn"):
        d["MasterUserSecret"] = {"SecretArn": inst["secret_arn"], "SecretStatus": "active",
                                 "KmsKeyId": inst.get("secret_kms")}
    if inst["status"] == "stopped" and inst.get("auto_start_wall"):
        d["AutomaticRestartTime"] = inst["auto_start_wall"]
    d["StorageEncryptionType"] = "sse-kms" if inst["encrypted"] else "none"
    c = cluster_of(st, inst)
    if c is not None:
        # an Aurora member: storage and encryption are the cluster's
        d.update({"Engine": cluster_engine(c), "EngineVersion": CLUSTER_ENGINES[cluster_engine(c)][0],
                  "LicenseModel": CLUSTER_ENGINES[cluster_engine(c)][5], "DBClusterIdentifier": c["id"], "PromotionTier": inst.get("promotion_tier", 1),
                  "AllocatedStorage": 1, "StorageType": "aurora", "StorageEncrypted": c["encrypted"],
                  "StorageEncryptionType": c.get("enc_type") or "none", "MultiAZ": False,
                  "BackupRetentionPeriod": c["backup_retention"]})
        d.pop("KmsKeyId", None)
        d.pop("ReadReplicaSourceDBInstanceIdentifier", None)
        if c.get("kms_key_id"):
            d["KmsKeyId"] = c["kms_key_id"]
    return d


def subnet_group(store, name):
    name = name or "default"
    g = subnets.lookup(store, name)
    if g:
        return dict(subnets.render(store, g), DBSubnetGroupName=name)
    return {"DBSubnetGroupName": name, "DBSubnetGroupDescription": f"awssim subnet group {name}",
            "VpcId": "vpc-0a1b2c3d4e5f60718", "SubnetGroupStatus": "Complete",
            "Subnets": [{"SubnetIdentifier": f"subnet-0sim{z}", "SubnetAvailabilityZone": {"Name": f"{store['region']}{z}"},
                         "SubnetOutpost": {}, "SubnetStatus": "Active"} for z in "ab"],
            "SupportedNetworkTypes": ["IPV4"]}


def op_create(world, store, inst, password, from_snapshot=None, replica_source=None):
    t0 = time.monotonic()
    gb = inst["allocated_storage"]
    kind = "restore" if from_snapshot else "replica" if replica_source else "create"
    if real(inst) and is_my(inst):
        d = os.path.join(inst_dir(world, inst), "data")
        with world.lock:
            inst["pg"] = {"dir": d, "port": inst.get("pg", {}).get("port") or free_port(), "up": False}
        boot = None
        if from_snapshot:
            rds_mysql.restore_copy(world, from_snapshot, inst)
        elif replica_source:
            rds_mysql.replica_copy(world, store, inst, replica_source)
        else:
            boot = rds_mysql.create(world, inst, password)
        start_server(world, store, inst)
        if boot:
            boot()
        if replica_source:
            rds_mysql.follow(world, store, inst)
    elif real(inst):
        d = os.path.join(inst_dir(world, inst), "data")
        with world.lock:
            inst["pg"] = {"dir": d, "port": inst.get("pg", {}).get("port") or free_port(), "up": False}
        if from_snapshot:
            world.pg.copy_tree(from_snapshot, d)
            world.pg.clean_copy(d, keep_logs=True)  # RDS keeps the source's old logs
            for f in ("standby.signal", "recovery.signal"):
                try:
                    os.unlink(os.path.join(d, f))
                except FileNotFoundError:
                    pass
            start_server(world, store, inst)
        elif replica_source:
            src_port = replica_source["pg"]["port"]
            if os.path.exists(d):
                shutil.rmtree(d)
            os.makedirs(os.path.dirname(d), exist_ok=True)
            world.pg.chown(os.path.dirname(d))
            world.pg.run([os.path.join(world.pg.bin, "pg_basebackup"), "-h", world.pg.sockdir, "-p", str(src_port),
                          "-U", world.pg.superuser, "-D", d, "-X", "stream", "-R", "-c", "fast"], timeout=1800)
            world.pg.clean_copy(d)
            os.chmod(d, 0o700)
            open(os.path.join(d, "standby.signal"), "a").close()
            world.pg.chown(d, recursive=True)
            start_server(world, store, inst)
        else:
            world.pg.new_datadir(d)
            start_server(world, store, inst)
            world.pg.bootstrap(inst["pg"]["port"], inst["master_username"], password, inst.get("db_name"))
    with world.lock:
        inst["endpoint_ready"] = True
    world.pace(dur(kind, gb), t0)
    if from_snapshot:
        world.event(store, "db-instance", inst["id"],
                    f"DB instance restored from snapshot {inst.get('restored_from', '')}".strip(),
                    ["restoration"], arn(store, "db", inst["id"]))
    elif not replica_source:
        world.event(store, "db-instance", inst["id"], "DB instance created", ["creation"], arn(store, "db", inst["id"]))
    else:
        world.event(store, "db-instance", inst["id"], "Replication for the Read Replica resumed.",
                    ["read replica"], arn(store, "db", inst["id"]))
    if inst["backup_retention"] and not replica_source:
        set_status(world, store, inst, "backing-up", "Backing up DB instance", ["backup"])
        t1 = time.monotonic()
        world.pace(dur("backup", gb), t1)
        world.event(store, "db-instance", inst["id"], "Finished DB Instance backup", ["backup"],
                    arn(store, "db", inst["id"]))
    set_status(world, store, inst, "available")


def do_rename(world, store, inst, new, dns_lag):
    old = inst["id"]
    with world.lock:
        old_ep = world.endpoint(store, old)
        old_target = old_ep.effective()
        store["instances"].pop(old, None)
        inst["id"] = new
        store["instances"][new] = inst
        (inst.get("pending") or {}).pop("DBInstanceIdentifier", None)
        new_ep = world.endpoint(store, new)
    if dns_lag > 0:
        # RDS DNS lags both ways: the vacated name keeps reaching this server,
        # and the taken name keeps reaching whatever it reached before (a
        # cached record of the server that had it, even when that server was
        # renamed away moments ago), until the lag passes
        old_ep.pin(old_target, dns_lag)
        new_ep.pin(new_ep.effective() or new_ep.last_real, dns_lag)
    sync_endpoint(world, store, old)
    sync_endpoint(world, store, new)
    world.event(store, "db-instance", new, f"Renamed instance from {old} to {new}", ["notification"],
                arn(store, "db", new))


def op_modify(world, store, inst, changes):
    t0 = time.monotonic()
    scale = world.clock.scale
    if "rename" in changes:
        new = changes["rename"]
        set_status(world, store, inst, "renaming")
        world.pace(dur("rename"), t0)
        lag = dur("dns_lag") * scale
        do_rename(world, store, inst, new, lag)
        if scale > 0 and real(inst):
            set_status(world, store, inst, "rebooting")
            stop_server(world, store, inst)
            start_server(world, store, inst)
            world.event(store, "db-instance", inst["id"], "DB instance restarted", ["availability"],
                        arn(store, "db", inst["id"]))
    if changes.get("rotate"):
        rec = store["secrets"].get(inst.get("secret_arn"))
        if rec:
            sm.rotate_managed(world, store, rec)
            world.event(store, "db-instance", inst["id"], "Reset master credentials", ["configuration change"],
                        arn(store, "db", inst["id"]))
    if "password" in changes and real(inst) and inst["pg"].get("up"):
        set_master_password(world, inst, changes["password"])
        world.event(store, "db-instance", inst["id"], "Reset master credentials", ["configuration change"],
                    arn(store, "db", inst["id"]))
    if changes.get("other"):
        world.pace(dur("modify"), t0)
        world.event(store, "db-instance", inst["id"], "Finished applying modification to DB instance",
                    ["configuration change"], arn(store, "db", inst["id"]))
    set_status(world, store, inst, "available")


def op_reboot(world, store, inst):
    t0 = time.monotonic()
    if real(inst):
        stop_server(world, store, inst)
        start_server(world, store, inst)
    with world.lock:
        inst["param_status"] = "in-sync"
        inst["applied_static"] = member_static(store, inst)
    world.pace(dur("reboot"), t0)
    set_status(world, store, inst, "available", "DB instance restarted", ["availability"])


def op_stop(world, store, inst, snap=None):
    t0 = time.monotonic()
    if snap:
        snapshot_data(world, store, inst, snap)
        with world.lock:
            snap["status"] = "available"
            snap["progress"] = 100
    if real(inst):
        stop_server(world, store, inst)
    world.pace(dur("stop"), t0)
    with world.lock:
        inst["stopped_at_aws"] = world.clock.aws_now()
        inst["auto_start_wall"] = time.time() + SEVEN_DAYS * max(world.clock.scale, 0) if world.clock.scale > 0 else None
    set_status(world, store, inst, "stopped", "DB instance stopped", ["notification"])


def op_start(world, store, inst, auto=False):
    t0 = time.monotonic()
    if auto:
        world.event(store, "db-instance", inst["id"], "DB instance is being started due to it exceeding the "
                    "maximum allowed time being stopped.", ["notification"], arn(store, "db", inst["id"]))
    if real(inst):
        start_server(world, store, inst)
        pw = inst.pop("pending_password", None)
        if pw:   # a managed secret rotated while the instance was stopped
            set_master_password(world, inst, pw)
    world.pace(dur("start"), t0)
    with world.lock:
        inst["stopped_at_aws"] = None
        inst["auto_start_wall"] = None
    set_status(world, store, inst, "available", "DB instance started", ["notification"])


def force_auto_restart(world, store, inst):
    """Admin: the instance counts as stopped for 7 days from now on, so the
    housekeeping loop starts it within a second (as AWS does after 7 days)."""
    with world.lock:
        if inst["status"] != "stopped":
            return False
        inst["stopped_at_aws"] = world.clock.aws_now() - SEVEN_DAYS
    world.mark_dirty()
    return True


def op_delete(world, store, inst, final=None):
    t0 = time.monotonic()
    if final:
        snapshot_data(world, store, inst, final)
        with world.lock:
            final["status"] = "available"
            final["progress"] = 100
        world.event(store, "db-snapshot", final["id"], "Manual snapshot created", ["creation"],
                    arn(store, "snapshot", final["id"]))
    if real(inst):
        stop_server(world, store, inst, "immediate")
    if inst.get("cluster"):
        member_deleted(world, store, inst)
    world.pace(dur("delete"), t0)
    # promote read replicas of a deleted source
    for r in replicas_of(store, inst):
        with world.lock:
            r["replica_of"] = None
        if real(r) and r.get("pg", {}).get("up") and is_my(r):
            rds_mysql.promote(world, r)
        elif real(r) and r.get("pg", {}).get("up"):
            world.pg.pg_ctl("-D", r["pg"]["dir"], "promote", "-w", check=False)
    with world.lock:
        if store["instances"].get(inst["id"]) is inst:
            del store["instances"][inst["id"]]
        inst["deleted"] = True
        if inst.get("secret_arn"):
            store["secrets"].pop(inst["secret_arn"], None)
    sync_endpoint(world, store, inst["id"])
    shutil.rmtree(inst_dir(world, inst), ignore_errors=True)
    world.event(store, "db-instance", inst["id"], "DB instance deleted", ["deletion"], arn(store, "db", inst["id"]))


def op_promote(world, store, inst, retention):
    """PromoteReadReplica: the server leaves recovery (pg_ctl promote) and the
    instance no longer follows its source."""
    t0 = time.monotonic()
    if real(inst) and inst.get("pg", {}).get("up") and is_my(inst):
        rds_mysql.promote(world, inst)
    elif real(inst) and inst.get("pg", {}).get("up"):
        # check=False: after an emulator restart mid-promotion the server may already be promoted
        world.pg.pg_ctl("-D", inst["pg"]["dir"], "promote", "-w", "-t", "120", check=False)
    with world.lock:
        inst["replica_of"] = None
        inst["backup_retention"] = retention
    world.pace(dur("promote"), t0)
    world.event(store, "db-instance", inst["id"], "Read replica promoted to a standalone DB instance",
                ["read replica"], arn(store, "db", inst["id"]))
    set_status(world, store, inst, "available")


def _sg(ctx, p):
    """The VPC security groups asked for (each must exist in the account) or the default one."""
    return subnets.use_security_groups(ctx, list(p.get("VpcSecurityGroupIds") or [])) or [subnets.DEFAULT_SG]


def _check_pg(ctx, name, engine="postgres"):
    defaults = {DEFAULT_PG, DEFAULT_AURORA_PG, CLUSTER_ENGINES[AURORA_MY][3]} | {v[2] for v in MY_ENGINES.values()}
    if name and name not in defaults and name not in ctx.store["param_groups"]:
        raise AwsError("DBParameterGroupNotFound", f"DBParameterGroup not found: {name}")
    if name and engine in MY_ENGINES:
        fam = ctx.store["param_groups"][name]["family"] if name in ctx.store["param_groups"] else name[8:]
        if fam != MY_ENGINES[engine][1]:
            raise combination(f"The parameter group {name} with DBParameterGroupFamily {fam} can't be used for "
                              f"this instance. Use a parameter group with DBParameterGroupFamily "
                              f"{MY_ENGINES[engine][1]}.")
    return name or (MY_ENGINES[engine][2] if engine in MY_ENGINES else DEFAULT_PG)


def new_instance_record(ctx, ident, p, tags, meta):
    st = ctx.store
    engine = (p.get("Engine") or "postgres").lower()
    if engine in MY_ENGINES:
        pg_name = _check_pg(ctx, p.get("DBParameterGroupName"), engine)
        r = _new_record(ctx, ident, dict(p, DBParameterGroupName=pg_name, Port=p.get("Port") or 3306,
                                         OptionGroupName=p.get("OptionGroupName") or MY_ENGINES[engine][3]),
                        tags, meta)
        r["engine"] = engine
        r["applied_static"] = static_params(st, pg_name)
        return r
    return _new_record(ctx, ident, p, tags, meta)


def _new_record(ctx, ident, p, tags, meta):
    st = ctx.store
    return {"id": ident, "resource_id": "db-" + rand_upper(26), "class": p.get("DBInstanceClass") or "db.t3.micro",
            "status": "creating", "master_username": p.get("MasterUsername"), "db_name": p.get("DBName"),
            "allocated_storage": int(p.get("AllocatedStorage") or 20), "created": time.time(),
            "encrypted": False, "kms_key_id": None, "param_group": _check_pg(ctx, p.get("DBParameterGroupName")),
            "param_status": "in-sync", "sg_ids": _sg(ctx, p),
            "subnet_group": subnets.use_subnet_group(ctx, p.get("DBSubnetGroupName")),
            "option_group": p.get("OptionGroupName") or DEFAULT_OG, "multi_az": bool(p.get("MultiAZ", False)),
            "backup_retention": int(p.get("BackupRetentionPeriod", 1) if p.get("BackupRetentionPeriod") is not None else 1),
            "az": p.get("AvailabilityZone") or f"{st['region']}a", "requested_port": p.get("Port") or 5432,
            "deletion_protection": bool(p.get("DeletionProtection", False)), "tags": tags, "metadata_only": meta,
            "copy_tags": bool(p.get("CopyTagsToSnapshot", False)), "public": bool(p.get("PubliclyAccessible", False)),
            "storage_type": p.get("StorageType") or "gp2", "pending": {}, "pg": {}, "op": "create",
            "applied_static": static_params(st, _check_pg(ctx, p.get("DBParameterGroupName")))}


def _create_member(ctx, p, ident):
    """CreateDBInstance --db-cluster-identifier: an Aurora writer (the first
    instance) or reader. Storage, encryption, the master user and backups
    belong to the cluster and are refused here, as on RDS."""
    w, st = ctx.world, ctx.store
    with w.lock:
        engine = cluster_engine(get_cluster(ctx, p["DBClusterIdentifier"]))
    if (p.get("Engine") or "").lower() != engine:
        raise combination(f"The engine name requested for your DB instance ({p.get('Engine')}) doesn't match the "
                          f"engine name of your DB cluster ({engine}).")
    for k in ("MasterUsername", "MasterUserPassword", "AllocatedStorage", "StorageEncrypted", "KmsKeyId",
              "BackupRetentionPeriod", "ManageMasterUserPassword"):
        if p.get(k) is not None:
            raise combination(f"The requested DB Instance will be a member of a DB Cluster. Set {k} for the DB "
                              "Cluster instead.")
    if not p.get("DBInstanceClass"):
        raise missing("DBInstanceClass")
    tier = p.get("PromotionTier")
    if tier is not None and not 0 <= tier <= 15:
        raise invalid(f"Invalid PromotionTier: {tier}. Must be between 0 and 15.")
    tags = tags_in(p)
    with w.lock:
        c = get_cluster(ctx, p["DBClusterIdentifier"])
        ctx.resource = ident
        if c["status"] != "available" or c.get("op"):
            raise AwsError("InvalidDBClusterStateFault", f"DBCluster {c['id']} is not in the available state.")
        if ident in st["instances"]:
            note_conflict(ctx, "duplicate-create", "db-instance", ident, {"status": st["instances"][ident]["status"]})
            raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
        check_instance_quota(ctx)
        eng = CLUSTER_ENGINES[engine]
        q = dict(p, MasterUsername=c["master_username"], DBName=c.get("db_name"), AllocatedStorage=1,
                 BackupRetentionPeriod=0, DBParameterGroupName=p.get("DBParameterGroupName") or eng[3],
                 OptionGroupName=p.get("OptionGroupName") or eng[4], StorageType="aurora", Port=c.get("port"))
        inst = new_instance_record(ctx, ident, q, tags, c.get("metadata_only") or is_meta(ctx, tags))
        inst["cluster"] = c["resource_id"]
        if engine == AURORA_MY:
            inst["engine"] = AURORA_MY
            inst["applied_static"] = member_static(st, inst)
        inst["promotion_tier"] = 1 if tier is None else tier
        inst["encrypted"], inst["kms_key_id"] = c["encrypted"], c.get("kms_key_id")
        if writer_of(st, c) is None:
            c["writer"] = inst["resource_id"]
        st["instances"][ident] = inst
        w.endpoint_port(st, ident)
        out = render_instance(ctx, st, inst)
    w.spawn(f"create-{ident}", op_create_member, w, st, inst, c, on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def CreateDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    ident = check_id("DBInstanceIdentifier", p.get("DBInstanceIdentifier"))
    ctx.resource = ident
    if p.get("DBClusterIdentifier"):
        return _create_member(ctx, p, ident)
    engine = (p.get("Engine") or "").lower()
    if engine not in ("postgres",) + tuple(MY_ENGINES):
        raise invalid(f"Invalid DB engine: {p.get('Engine')} (awssim emulates RDS for PostgreSQL, MySQL and "
                      "MariaDB instances)")
    if engine in MY_ENGINES and not is_meta(ctx, tags_in(p)) and not ctx.world.my:
        raise invalid(f"Invalid DB engine: {engine} (this emulator has no MariaDB server: run deploy/install-deps)")
    if not p.get("MasterUsername"):
        raise missing("MasterUsername")
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,62}$", p["MasterUsername"]) or p["MasterUsername"].lower() in ("rdsadmin",):
        raise invalid("MasterUsername is not valid for engine postgres")
    manage = bool(p.get("ManageMasterUserPassword"))
    pw = p.get("MasterUserPassword")
    if manage and pw:
        raise combination("You can't specify MasterUserPassword and ManageMasterUserPassword at the same time.")
    if not manage:
        if not pw:
            raise missing("MasterUserPassword")
        if len(pw) < 8 or len(pw) > 128 or any(c in pw for c in '/@" ') or not pw.isprintable():
            raise invalid("The parameter MasterUserPassword is not a valid password. Only printable ASCII "
                          "characters besides '/', '@', '\"', ' ' may be used.")
    gb = p.get("AllocatedStorage")
    if gb is None:
        raise invalid("The AllocatedStorage parameter is required for engine postgres")
    if gb < 20 or gb > 65536:
        raise invalid(f"Invalid storage size for engine name postgres and storage type gp2: {gb}")
    if p.get("KmsKeyId") and not p.get("StorageEncrypted"):
        raise combination("KmsKeyId is only valid with StorageEncrypted=true")
    br = p.get("BackupRetentionPeriod")
    if br is not None and (br < 0 or br > 35):
        raise invalid(f"Invalid backup retention period: {br}")
    tags = tags_in(p)
    with w.lock:
        if ident in st["instances"]:
            note_conflict(ctx, "duplicate-create", "db-instance", ident, {"status": st["instances"][ident]["status"]})
            raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
        check_instance_quota(ctx)
        inst = new_instance_record(ctx, ident, p, tags, is_meta(ctx, tags))
        if p.get("StorageEncrypted"):
            inst["encrypted"] = True
            inst["kms_key_id"] = kms.usable_key_arn(w, st, p.get("KmsKeyId") or "alias/aws/rds")
        if manage:
            pw = rand_alnum(28)
            skms = kms.usable_key_arn(w, st, p.get("MasterUserSecretKmsKeyId") or "alias/aws/secretsmanager")
            rec = sm.create_secret(w, st, f"rds!{inst['resource_id'].lower()}", sm.secret_json(p["MasterUsername"], pw),
                                   skms, f"Secret associated with primary RDS DB instance: {arn(st, 'db', ident)}",
                                   [{"Key": "aws:rds:primaryDBInstanceArn", "Value": arn(st, "db", ident)}],
                                   owning="rds")
            inst["secret_arn"] = rec["ARN"]
            inst["secret_kms"] = skms
        st["instances"][ident] = inst
        w.endpoint_port(st, ident)
        out = render_instance(ctx, st, inst)
    w.spawn(f"create-{ident}", op_create, w, st, inst, pw, on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def DescribeDBInstances(ctx, p):
    st = ctx.store
    f = filters(p, {"db-cluster-id", "db-instance-id", "dbi-resource-id", "domain", "engine"})
    with ctx.world.lock:
        if p.get("DBInstanceIdentifier"):
            items = [get_inst(ctx, p["DBInstanceIdentifier"])]
        else:
            items = list(st["instances"].values())
        if "db-instance-id" in f:
            ids = {ref_id(v, "db") for v in f["db-instance-id"]}
            items = [i for i in items if i["id"] in ids]
        if "dbi-resource-id" in f:
            items = [i for i in items if i["resource_id"] in f["dbi-resource-id"]]
        if "db-cluster-id" in f:
            ids = {ref_id(v, "cluster") for v in f["db-cluster-id"]}
            items = [i for i in items if (cluster_of(st, i) or {}).get("id") in ids]
        if "engine" in f:
            items = [i for i in items if (engine_of(i) if not i.get("cluster")
                                          else cluster_engine(cluster_of(st, i) or {})) in f["engine"]]
        if "domain" in f:
            items = []
        out = paged("DBInstances", items, lambda i: i["id"], p, lambda i: render_instance(ctx, st, i))
    return out


def ModifyDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        b = busy(ctx, inst)
        if inst["status"] != "available" or b:
            raise AwsError("InvalidDBInstanceState", f"Database instance is not in available state.")
        apply_now = bool(p.get("ApplyImmediately", False))
        changes = {}
        new = p.get("NewDBInstanceIdentifier")
        if new:
            new = check_id("NewDBInstanceIdentifier", new)
            if new != inst["id"]:
                if new in st["instances"]:
                    raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
                if apply_now:
                    changes["rename"] = new
                else:
                    inst["pending"]["DBInstanceIdentifier"] = new
        if p.get("DBParameterGroupName"):
            name = _check_pg(ctx, p["DBParameterGroupName"], engine_of(inst))
            if name != inst["param_group"]:
                inst["param_group"] = name
                if static_params(st, name) != inst.get("applied_static") and real(inst):
                    inst["param_status"] = "pending-reboot"
                elif not real(inst):
                    inst["param_status"] = "pending-reboot"
        if p.get("VpcSecurityGroupIds") is not None:
            inst["sg_ids"] = _sg(ctx, p)
        if p.get("BackupRetentionPeriod") is not None:
            br = p["BackupRetentionPeriod"]
            if br < 0 or br > 35:
                raise invalid(f"Invalid backup retention period: {br}")
            inst["backup_retention"] = br
        if p.get("DeletionProtection") is not None:
            inst["deletion_protection"] = bool(p["DeletionProtection"])
        if p.get("CopyTagsToSnapshot") is not None:
            inst["copy_tags"] = bool(p["CopyTagsToSnapshot"])
        if p.get("PubliclyAccessible") is not None:
            inst["public"] = bool(p["PubliclyAccessible"])
        if p.get("RotateMasterUserPassword"):
            if not inst.get("secret_arn"):
                raise combination("RotateMasterUserPassword needs ManageMasterUserPassword turned on.")
            if not apply_now:
                raise combination("RotateMasterUserPassword needs ApplyImmediately.")
            changes["rotate"] = True
        if p.get("MasterUserPassword"):
            if inst.get("secret_arn"):
                raise combination("You can't specify MasterUserPassword for an instance with "
                                  "ManageMasterUserPassword turned on.")
            changes["password"] = p["MasterUserPassword"]
        for key, field in (("DBInstanceClass", "class"), ("AllocatedStorage", "allocated_storage"),
                           ("MultiAZ", "multi_az"), ("StorageType", "storage_type")):
            if p.get(key) is not None and p[key] != inst.get(field):
                if apply_now:
                    inst[field] = p[key]
                    changes["other"] = True
                else:
                    inst["pending"][key] = p[key]
        if p.get("OptionGroupName"):
            inst["option_group"] = p["OptionGroupName"]
        result = render_instance(ctx, st, inst)
        if changes:
            if "rename" in changes and w.clock.scale <= 0:
                # time scale 0: the rename is done before the call returns
                do_rename(w, st, inst, changes.pop("rename"), 0)
                result = render_instance(ctx, st, inst)
            if changes:
                inst["status"] = "renaming" if "rename" in changes else "modifying"
                inst["op"] = "modify"
                result = render_instance(ctx, st, inst)
                if "rename" in changes:
                    result["PendingModifiedValues"]["DBInstanceIdentifier"] = changes["rename"]
                w.spawn(f"modify-{inst['id']}", op_modify, w, st, inst, changes,
                        on_error=fail_instance(w, st, inst))
    w.mark_dirty()
    return {"DBInstance": result}


def RebootDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        require_status(ctx, inst, {"available", "incompatible-parameters"})
        inst["status"] = "rebooting"
        inst["op"] = "reboot"
        out = render_instance(ctx, st, inst)
    w.spawn(f"reboot-{inst['id']}", op_reboot, w, st, inst, on_error=fail_instance(w, st, inst, "incompatible-parameters"))
    return {"DBInstance": out}


def StopDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        if inst.get("cluster"):
            raise AwsError("InvalidDBInstanceState", "The instance is a member of a DB cluster: stop the cluster "
                           "with StopDBCluster.")
        require_status(ctx, inst, {"available"}, f"Instance {inst['id']} is not in available state.")
        if inst.get("replica_of"):
            raise AwsError("InvalidDBInstanceState", "Cannot stop a read replica instance.")
        if replicas_of(st, inst):
            raise AwsError("InvalidDBInstanceState", f"Cannot stop instance {inst['id']} because it has read replicas.")
        snap = None
        if p.get("DBSnapshotIdentifier"):
            sid = check_id("DBSnapshotIdentifier", p["DBSnapshotIdentifier"], 255)
            if sid in st["snapshots"]:
                raise AwsError("DBSnapshotAlreadyExists", f"Cannot create the snapshot because a snapshot with "
                               f"the identifier {sid} already exists.")
            check_snapshot_quota(ctx)
            snap = new_snapshot_record(ctx, sid, inst, [])
            st["snapshots"][sid] = snap
        inst["status"] = "stopping"
        inst["op"] = "stop"
        out = render_instance(ctx, st, inst)
    w.spawn(f"stop-{inst['id']}", op_stop, w, st, inst, snap, on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def StartDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        require_status(ctx, inst, {"stopped"}, f"Instance {inst['id']} is not stopped, it is {inst['status']}.")
        if inst["encrypted"] and kms.key_state(w, st, inst["kms_key_id"]) != "Enabled":
            raise AwsError("KMSKeyNotAccessibleFault", "The KMS key of this instance is not accessible.")
        inst["status"] = "starting"
        inst["op"] = "start"
        out = render_instance(ctx, st, inst)
    w.spawn(f"start-{inst['id']}", op_start, w, st, inst, on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def DeleteDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        if busy(ctx, inst) or inst["status"] in ("deleting",):
            if inst["status"] not in STABLE | {"backing-up", "creating"}:
                raise AwsError("InvalidDBInstanceState", f"Instance {inst['id']} is already being deleted."
                               if inst["status"] == "deleting" else
                               f"Instance {inst['id']} is currently {inst['status']}; cannot delete.")
        if inst.get("deletion_protection"):
            raise combination("Cannot delete protected DB Instance, please disable deletion protection and try again.")
        skip = bool(p.get("SkipFinalSnapshot", False))
        fid = p.get("FinalDBSnapshotIdentifier")
        if inst.get("cluster"):
            # an Aurora member's data is the cluster's: no final snapshot of the instance
            if fid:
                raise combination("FinalDBSnapshotIdentifier can not be specified when deleting a cluster instance")
            skip = True
        if skip and fid:
            raise combination("Cannot specify both SkipFinalSnapshot and FinalDBSnapshotIdentifier")
        if not skip and not fid:
            raise combination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
        final = None
        if fid:
            fid = check_id("FinalDBSnapshotIdentifier", fid, 255)
            if fid in st["snapshots"]:
                raise AwsError("DBSnapshotAlreadyExists", f"Cannot create the snapshot because a snapshot with "
                               f"the identifier {fid} already exists.")
            check_snapshot_quota(ctx)
            final = new_snapshot_record(ctx, fid, inst, inst["tags"] if inst.get("copy_tags") else [])
            st["snapshots"][fid] = final
        inst["status"] = "deleting"
        inst["op"] = "delete"
        out = render_instance(ctx, st, inst)
    w.spawn(f"delete-{inst['id']}", op_delete, w, st, inst, final, on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def CreateDBInstanceReadReplica(ctx, p):
    w, st = ctx.world, ctx.store
    ident = check_id("DBInstanceIdentifier", p.get("DBInstanceIdentifier"))
    with w.lock:
        src = get_inst(ctx, p.get("SourceDBInstanceIdentifier"), "SourceDBInstanceIdentifier")
        ctx.resource = ident
        busy(ctx, src)
        if src["status"] != "available":
            raise AwsError("InvalidDBInstanceState", f"Instance {src['id']} is not in available state.")
        if not src["backup_retention"]:
            raise AwsError("InvalidDBInstanceState", "Automated backups are not enabled for this database "
                           "instance. To enable automated backups, use ModifyDBInstance to set the backup "
                           "retention period to a non-zero value.")
        if ident in st["instances"]:
            note_conflict(ctx, "duplicate-create", "db-instance", ident, {})
            raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
        check_instance_quota(ctx)
        tags = tags_in(p)
        q = dict(p, AllocatedStorage=src["allocated_storage"], MasterUsername=src["master_username"],
                 DBParameterGroupName=p.get("DBParameterGroupName") or src["param_group"],
                 BackupRetentionPeriod=0, DBName=src.get("db_name"), Engine=engine_of(src))
        inst = new_instance_record(ctx, ident, q, tags, src.get("metadata_only") or is_meta(ctx, tags))
        inst["encrypted"], inst["kms_key_id"] = src["encrypted"], src["kms_key_id"]
        inst["replica_of"] = src["resource_id"]
        st["instances"][ident] = inst
        w.endpoint_port(st, ident)
        out = render_instance(ctx, st, inst)
    w.spawn(f"replica-{ident}", op_create, w, st, inst, None, None, src if real(inst) else None,
            on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def PromoteReadReplica(ctx, p):
    w, st = ctx.world, ctx.store
    br = p.get("BackupRetentionPeriod")
    if br is not None and (br < 0 or br > 35):
        raise invalid(f"Invalid backup retention period: {br}")
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        if not inst.get("replica_of"):
            raise AwsError("InvalidDBInstanceState", f"DB Instance {inst['id']} is not a read replica.")
        require_status(ctx, inst, {"available"}, f"Instance {inst['id']} is not in available state.")
        if br == 0 and replicas_of(st, inst):
            raise invalid("The backup retention period can't be 0 for a source of read replicas.")
        inst["status"] = "modifying"
        inst["op"] = "promote"
        out = render_instance(ctx, st, inst)
    w.spawn(f"promote-{inst['id']}", op_promote, w, st, inst, 1 if br is None else br,
            on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def RestoreDBInstanceFromDBSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    ident = check_id("DBInstanceIdentifier", p.get("DBInstanceIdentifier"))
    br = p.get("BackupRetentionPeriod")
    if br is not None and (br < 0 or br > 35):
        raise invalid(f"Invalid backup retention period: {br}")
    with w.lock:
        sst, snap = rds_sharing.resolve(ctx, p.get("DBSnapshotIdentifier"), "snapshot", "DBSnapshotIdentifier")
        ctx.resource = ident
        if snap["status"] != "available":
            raise AwsError("InvalidDBSnapshotState", f"Snapshot {snap['id']} is not available.")
        if ident in st["instances"]:
            note_conflict(ctx, "duplicate-create", "db-instance", ident, {"status": st["instances"][ident]["status"]})
            raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
        if snap["encrypted"]:
            kms.usable_key_arn(w, st, snap["kms_key_id"], ctx.caller)
        check_instance_quota(ctx)
        tags = tags_in(p)
        q = dict(p, AllocatedStorage=max(int(p.get("AllocatedStorage") or 0), snap["allocated_storage"]),
                 Port=p.get("Port") or snap.get("port"),
                 MasterUsername=snap["master_username"], BackupRetentionPeriod=1 if br is None else br,
                 DBName=snap.get("db_name"),
                 Engine=snap.get("engine") or "postgres")
        meta = snap.get("metadata_only") or not snap.get("dir") or is_meta(ctx, tags)
        inst = new_instance_record(ctx, ident, q, tags, meta)
        inst["encrypted"], inst["kms_key_id"] = snap["encrypted"], snap["kms_key_id"]
        inst["restored_from"] = snap["id"]
        if p.get("StorageType") is None:
            inst["storage_type"] = snap.get("storage_type", "gp2")
        st["instances"][ident] = inst
        w.endpoint_port(st, ident)
        out = render_instance(ctx, st, inst)
    w.spawn(f"restore-{ident}", op_create, w, st, inst, None, None if meta else snap["dir"],
            on_error=fail_instance(w, st, inst, "incompatible-restore"))
    return {"DBInstance": out}
