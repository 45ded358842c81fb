"""Admin HTTP API (JSON): time scale, faults, quotas, call log, conflicts,
internal views of instances. See docs/emulator.md for the routes."""
import ipaddress
import json
import logging
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import ec2, iam, rds_common, rds_instances, rds_servers, route53, sso

log = logging.getLogger("awssim.admin")


def make_admin(world, host, port):
    class H(_Admin):
        pass
    H.world = world
    srv = ThreadingHTTPServer((host, port), H)
    srv.daemon_threads = True
    return srv


class _Admin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awssim-admin"
    timeout = 60
    world = None

    def log_message(self, fmt, *args):
        log.debug(fmt, *args)

    def _reply(self, status, obj):
        body = (json.dumps(obj, default=str, indent=1) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            raise ValueError("body too large")
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw.strip() else {}

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_DELETE(self):
        self._route("DELETE")

    def _route(self, method):
        try:
            url = urlsplit(self.path)
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            parts = [p for p in url.path.split("/") if p]
            body = self._body() if method == "POST" else {}
            status, obj = self._dispatch(method, parts, q, body)
        except (ValueError, TypeError, KeyError) as e:
            status, obj = 400, {"error": f"bad request: {e}"}
        except Exception as e:  # noqa: BLE001
            log.exception("admin error")
            status, obj = 500, {"error": str(e)}
        self._reply(status, obj)

    def _dispatch(self, method, parts, q, body):
        w = self.world
        route = "/" + "/".join(parts)
        if route == "/health" and method == "GET":
            with w.lock:
                n = sum(len(s["instances"]) for s in w.stores.values())
            return 200, {"ok": True, "pid": os.getpid(), "uptime_s": round(time.time() - w.started, 1),
                         "time_scale": w.clock.scale, "instances": n, "ops_running": len(w.ops)}
        if route == "/config":
            if method == "POST":
                if "time_scale" in body:
                    w.clock.set_scale(float(body["time_scale"]))
                if "durations" in body:
                    rds_common.set_durations(body["durations"])
                if "route53" in body:
                    route53.configure(body["route53"])
                w.faults.apply(body)
                w.mark_dirty()
            elif method != "GET":
                return 405, {"error": "method not allowed"}
            return 200, dict(time_scale=w.clock.scale, metadata_only=w.cfg.metadata_only,
                             aws_clock_s=round(w.clock.aws_now(), 1), durations=rds_common.durations(),
                             route53=route53.configure({}),
                             **w.faults.config())
        if parts[:1] == ["dns"]:
            return self._dns(method, parts, body)
        if parts[:1] in (["roles"], ["accounts"]):
            return self._accounts(method, parts, q, body)
        if route == "/sso/tokens" and method == "POST":
            return 200, sso.register(w, body)
        if route == "/advance" and method == "POST":
            w.clock.advance(float(body.get("seconds", 0)))
            return 200, {"aws_clock_s": round(w.clock.aws_now(), 1)}
        if route == "/calls":
            if method == "DELETE":
                w.faults.clear_calls()
                return 200, {"ok": True}
            since = float(q["since"]) if "since" in q else None
            calls = w.faults.get_calls(since, q.get("action"), q.get("service"))
            counts = {}
            for c in calls:
                counts[c["action"]] = counts.get(c["action"], 0) + 1
            return 200, {"calls": calls, "count": len(calls), "by_action": counts}
        if route == "/conflicts":
            if method == "DELETE":
                w.faults.clear_conflicts()
                return 200, {"ok": True}
            c = w.faults.get_conflicts()
            return 200, {"conflicts": c, "count": len(c)}
        if parts[:1] == ["instances"]:
            if len(parts) == 1 and method == "GET":
                return 200, {"instances": self._instances()}
            if len(parts) == 2 and method == "GET":
                got = [i for i in self._instances() if i["id"] == parts[1]]
                return (200, got[0]) if got else (404, {"error": "no such instance"})
            if len(parts) == 3 and parts[2] == "metadata-only" and method == "POST":
                return self._set_meta(parts[1], bool(body.get("metadata_only", True)))
            if len(parts) == 3 and parts[2] == "auto-restart" and method == "POST":
                return self._auto_restart(parts[1])
        if route == "/clusters" and method == "GET":
            out = []
            with w.lock:
                for st in w.stores.values():
                    for c in st["clusters"].values():
                        out.append({"id": c["id"], "account": st["account"], "region": st["region"],
                                    "status": c["status"], "resource_id": c["resource_id"],
                                    "metadata_only": bool(c.get("metadata_only")), "writer": c.get("writer"),
                                    "members": [i["id"] for i in st["instances"].values()
                                                if i.get("cluster") == c["resource_id"]],
                                    "endpoint_port": st["endpoints"].get(f"cluster:{c['id']}"),
                                    "volume_dir": (c.get("volume") or {}).get("dir"),
                                    "logical_start_lsn": (c.get("volume") or {}).get("start_lsn"),
                                    "encryption": c.get("enc_type"), "operation": c.get("op"),
                                    "failure": c.get("failure")})
            return 200, {"clusters": out}
        if route == "/snapshots" and method == "GET":
            with w.lock:
                out = [dict(s, account=st["account"], region=st["region"])
                       for st in w.stores.values() for s in st["snapshots"].values()]
            return 200, {"snapshots": out}
        if route == "/proxies" and method == "GET":
            out = []
            with w.lock:
                for st in w.stores.values():
                    for px in st["proxies"].values():
                        port = st["endpoints"].get(f"proxy:{px['name']}")
                        ep = w.hub.get(port)
                        out.append(dict(px, account=st["account"], region=st["region"], endpoint_port=port,
                                        target_port=ep.effective() if ep else None))
            return 200, {"proxies": out}
        if route == "/endpoints" and method == "GET":
            out = []
            with w.lock:
                for st in w.stores.values():
                    for key, port in st["endpoints"].items():
                        ep = w.hub.get(port)
                        out.append({"account": st["account"], "region": st["region"], "name": key, "port": port,
                                    "target_port": ep.effective() if ep else None,
                                    "connections": len(ep.conns) if ep else 0})
            return 200, {"endpoints": out}
        return 404, {"error": f"no route {method} {route}"}

    def _accounts(self, method, parts, q, body):
        """Accounts and roles (iam.py): GET /roles; POST /roles {"role_arn",
        "trusted": [account id | principal ARN | "*"], "external_id"};
        DELETE /roles?arn=ARN; GET /accounts; POST /accounts {"account_id",
        "access_key_id", "secret_access_key"[, "arn"]}; POST
        /accounts/ID/security-groups {"ids": [...]} or {"groups": [{"id",
        "name"}]} (VPC security groups that exist in that account, as EC2's
        CreateSecurityGroup makes them)."""
        w = self.world
        if parts == ["roles"] and method == "GET":
            return 200, {"roles": iam.view(w)}
        if parts == ["roles"] and method == "POST":
            return 200, iam.add_role(w, iam.role_from_json(body))
        if parts == ["roles"] and method == "DELETE":
            with w.lock:
                gone = w.roles.pop(q.get("arn", ""), None)
            w.mark_dirty()
            return (200, {"ok": True}) if gone else (404, {"error": "no such role"})
        if parts == ["accounts"] and method == "GET":
            with w.lock:
                accts = sorted({c["account"] for c in w.creds.values()})
                return 200, {"accounts": [{"account_id": a, "access_key_ids":
                                           sorted(k for k, c in w.creds.items() if c["account"] == a)} for a in accts]}
        if parts == ["accounts"] and method == "POST":
            acct = str(body["account_id"])
            if not iam.ACCOUNT_RE.match(acct):
                raise ValueError("account_id: 12 digits")
            w.add_credentials(str(body["access_key_id"]), str(body["secret_access_key"]), acct, body.get("arn"))
            return 200, {"account_id": acct, "access_key_id": body["access_key_id"]}
        if len(parts) == 3 and parts[0] == "accounts" and parts[2] == "security-groups" and method == "POST":
            if not iam.ACCOUNT_RE.match(parts[1]):
                raise ValueError("account id: 12 digits")
            st = w.store(parts[1], body.get("region") or w.cfg.region)
            with w.lock:
                for g in body.get("ids") or []:
                    ec2.add_group(st, str(g), gid=str(g))
                for g in body.get("groups") or []:
                    if not str(g["id"]).startswith("sg-"):
                        raise ValueError("a security group id starts with sg-")
                    ec2.groups(st)[str(g["id"])] = {"name": str(g.get("name") or g["id"]),
                                                    "description": str(g.get("description") or ""), "vpc": ec2.VPC}
                out = {k: r["name"] for k, r in ec2.groups(st).items()}
            w.mark_dirty()
            return 200, {"account_id": parts[1], "security_groups": out}
        return 404, {"error": f"no route {method} /{'/'.join(parts)}"}

    def _dns(self, method, parts, body):
        """GET /dns: the DNS server's address, zones and RDS names; POST
        /dns/names {"name", "address"} or {"names": {name: address}};
        DELETE /dns/names/NAME."""
        dns = self.world.dns
        if parts == ["dns"] and method == "GET":
            return 200, dns.view()
        if parts == ["dns", "names"] and method == "POST":
            names = body.get("names") or {body["name"]: body["address"]}
            for name, addr in names.items():
                dns.set_name(name, str(ipaddress.IPv4Address(addr)))
            return 200, dns.view()
        if len(parts) == 3 and parts[1] == "names" and method == "DELETE":
            return (200, {"ok": True}) if dns.drop_name(parts[2]) else (404, {"error": "no such name"})
        return 404, {"error": f"no route {method} /{'/'.join(parts)}"}

    def _instances(self):
        w = self.world
        out = []
        with w.lock:
            for st in w.stores.values():
                for inst in st["instances"].values():
                    pgi = inst.get("pg") or {}
                    out.append({"id": inst["id"], "account": st["account"], "region": st["region"],
                                "status": inst["status"], "resource_id": inst["resource_id"],
                                "metadata_only": bool(inst.get("metadata_only")),
                                "endpoint_port": st["endpoints"].get(f"db:{inst['id']}"),
                                "endpoint_address": (st.get("endpoint_addrs", {}).get(f"db:{inst['id']}")
                                                     or ["127.0.0.1"])[0],
                                "real_port": pgi.get("port"), "data_dir": pgi.get("dir"),
                                # the emulator's private socket (rdsadmin, trust): for tests that must
                                # act as the superuser nobody has on RDS (holding catalog locks)
                                "sock_dir": w.pg.sockdir if w.pg else None,
                                "server_pid": pgi.get("pid") if pgi.get("up") else None,
                                "server_up": bool(pgi.get("up")), "operation": inst.get("op"),
                                "param_status": inst.get("param_status"), "failure": inst.get("failure")})
        return out

    def _find_instance(self, ident):
        """(store, instance) of the first store holding instance ident, or (None, None)."""
        w = self.world
        with w.lock:
            for st in w.stores.values():
                if ident in st["instances"]:
                    return st, st["instances"][ident]
        return None, None

    def _auto_restart(self, ident):
        """The stopped instance's 7 days are over now: AWS's automatic start
        follows within a second (housekeeping), with the RDS event."""
        w = self.world
        st, inst = self._find_instance(ident)
        if not inst:
            return 404, {"error": "no such instance"}
        if not rds_instances.force_auto_restart(w, st, inst):
            return 409, {"error": f"instance is {inst['status']}, not stopped"}
        return 200, {"id": ident, "auto_restart": "due"}

    def _set_meta(self, ident, meta):
        w = self.world
        st, inst = self._find_instance(ident)
        if not inst:
            return 404, {"error": "no such instance"}
        if meta and not inst.get("metadata_only"):
            if inst.get("pg", {}).get("up"):
                rds_servers.stop_server(w, st, inst)
            with w.lock:
                inst["metadata_only"] = True
        elif not meta and inst.get("metadata_only"):
            if not inst.get("pg", {}).get("dir"):
                return 409, {"error": "instance has no data directory; it can only be metadata-only"}
            with w.lock:
                inst["metadata_only"] = False
            if inst["status"] == "available":
                rds_servers.start_server(w, st, inst)
        w.mark_dirty()
        return 200, {"id": ident, "metadata_only": inst["metadata_only"]}
