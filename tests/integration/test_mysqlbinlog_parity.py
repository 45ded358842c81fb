"""mysql-binlog parity, checked independently of the product's own verify:
a `mysql` instance with two application schemas holding utf8mb4 text,
1 MB blobs, JSON, DECIMAL(30,10), DATETIME(6), STORED and VIRTUAL generated
columns, a trigger that writes an audit table, a table without a key and
AUTO_INCREMENT keys; an application account inserts, updates and deletes in
them throughout the campaign. Afterwards the retired source (started again
for the check) and the encrypted instance hold the same rows in every table
(read by this test, ordered, value by value; the application stops at the
cutover's block), the trigger's audit rows are not doubled, and an insert
on the encrypted instance continues the AUTO_INCREMENT sequence without
collision."""
import os
import random
import threading
import time

from fclib import wait_until
from test_mysqlbinlog import GROUPS, MASTER, PW, _conn, _group, _make, _q, _secret_file, _tags, _until_terminal

APP, APP_PW = "shop", "shop-Passw0rd-9"
SCHEMAS = ("shop_a", "shop_b")
BLOB = 1024 * 1024


def _schema(c, s):
    _q(c, f"CREATE DATABASE {s} CHARACTER SET utf8mb4")
    _q(c, f"""CREATE TABLE {s}.item (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL,
        price DECIMAL(30,10) NOT NULL,
        qty INT NOT NULL,
        total DECIMAL(40,10) AS (price * qty) STORED,
        label VARCHAR(220) AS (CONCAT(name, '#', qty)) VIRTUAL,
        doc JSON,
        at DATETIME(6) NOT NULL,
        body LONGBLOB) ENGINE=InnoDB""")
    _q(c, f"CREATE TABLE {s}.audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, item BIGINT NOT NULL, "
          f"what VARCHAR(10) NOT NULL) ENGINE=InnoDB")
    _q(c, f"CREATE TRIGGER {s}.item_ai AFTER INSERT ON {s}.item FOR EACH ROW "
          f"INSERT INTO {s}.audit (item, what) VALUES (NEW.id, 'ins')")
    _q(c, f"CREATE TABLE {s}.notes (who VARCHAR(50), txt TEXT CHARACTER SET utf8mb4, n DECIMAL(12,4)) ENGINE=InnoDB")


def _row(rng, k):
    name = rng.choice(["çafé ☕", "Grüße 👋", "東京", "plain", "emoji 🧪🚀"]) + f" {k}"
    if k % 7 == 0:
        body = bytes(rng.getrandbits(8) for _ in range(64)) * (BLOB // 64)   # 1 MB
    else:
        body = os.urandom(rng.randint(0, 300))
    doc = '{"k": %d, "tags": ["a", "b"], "nested": {"x": 1.5, "s": "\\u00e9"}}' % k
    return (name, f"{rng.randint(0, 10**8)}.{rng.randint(0, 10**10 - 1):010d}", rng.randint(1, 50), doc,
            f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)} 12:34:56.{rng.randint(0, 999999):06d}", body)


class Mutator:
    """Inserts, updates and deletes as the application account until the
    cutover ends its session (the block): then it stops for good, so the
    source it leaves behind is exactly what the switch must carry over."""

    def __init__(self, sim, ident):
        self.sim, self.ident = sim, ident
        self.stop_flag = threading.Event()
        self.ok = 0
        self.cut = False
        self.t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t.start()
        return self

    def _run(self):
        rng = random.Random(7)
        k = 1000
        c = _conn(self.sim, self.ident, APP, APP_PW)
        try:
            while not self.stop_flag.is_set():
                s = rng.choice(SCHEMAS)
                op = rng.random()
                k += 1
                if op < 0.6:
                    _q(c, f"INSERT INTO {s}.item (name, price, qty, doc, at, body) VALUES (%s,%s,%s,%s,%s,%s)",
                       _row(rng, k))
                elif op < 0.8:
                    _q(c, f"UPDATE {s}.item SET qty = qty + 1, doc = JSON_SET(doc, '$.k', %s) "
                          f"ORDER BY id DESC LIMIT 1", (k,))
                elif op < 0.9:
                    _q(c, f"DELETE FROM {s}.item ORDER BY id LIMIT 1")
                else:
                    _q(c, f"INSERT INTO {s}.notes VALUES (%s, %s, %s)", (f"u{k % 5}", "ñote ✓", k / 7))
                self.ok += 1
                time.sleep(0.03)
        except Exception:  # noqa: BLE001 - the cutover ended the session
            self.cut = True
        finally:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass

    def stop(self):
        self.stop_flag.set()
        self.t.join(timeout=30)


def _dump(c, s, t):
    key = "id" if t in ("item", "audit") else "who, txt, n"
    return _q(c, f"SELECT * FROM {s}.{t} ORDER BY {key}")


def test_parity_types_triggers_auto_increment(stack, awssim, world):
    sim = awssim
    ident = "my-parity"
    g = _group(sim, *GROUPS["mysql"])
    # as on RDS: a user without SUPER creates triggers with binary logging on only with this
    sim.client("rds").modify_db_parameter_group(DBParameterGroupName=g, Parameters=[
        {"ParameterName": "log_bin_trust_function_creators", "ParameterValue": "1", "ApplyMethod": "immediate"}])
    _make(sim, ident, "mysql", g)
    sim.wait_instance(ident, "available", timeout=120)
    c = _conn(sim, ident)
    rng = random.Random(1)
    for s in SCHEMAS:
        _schema(c, s)
        for k in range(40):
            _q(c, f"INSERT INTO {s}.item (name, price, qty, doc, at, body) VALUES (%s,%s,%s,%s,%s,%s)", _row(rng, k))
        _q(c, f"INSERT INTO {s}.notes VALUES ('seed', NULL, 1.5), ('seed', 'x', NULL)")
    _q(c, f"CREATE USER '{APP}'@'%' IDENTIFIED BY '{APP_PW}'")
    for s in SCHEMAS:
        _q(c, f"GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.* TO '{APP}'@'%'")
    c.close()
    key = stack.make_key()["Arn"]
    stack.start()
    m = Mutator(sim, ident).start()
    wait_until(lambda: m.ok > 20, 60, 0.1, "mutations before submit")
    r = stack.cli("submit", "--campaign", "mypar", "--kms-key", key, "--strategy", "mysql-binlog",
                  "--db-secret", "file:" + _secret_file(world), "--yes", ident)
    assert r.returncode == 0, (r.stdout, r.stderr)
    st = _until_terminal(stack, "mypar", 600)
    m.stop()
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    assert m.cut and m.ok > 40, f"the mutator was not cut off by the cutover ({m.ok} changes)"
    rds = sim.client("rds")
    retired = [x for x in rds.describe_db_instances()["DBInstances"]
               if _tags(rds, x["DBInstanceArn"]).get("fleetcrypt:original-id") == ident
               and _tags(rds, x["DBInstanceArn"]).get("fleetcrypt:role") == "retired-source"]
    assert len(retired) == 1, retired
    rid = retired[0]["DBInstanceIdentifier"]
    sim.wait_instance(rid, "stopped", timeout=120)
    rds.start_db_instance(DBInstanceIdentifier=rid)   # the frozen source, read by this test
    sim.wait_instance(rid, "available", timeout=120)
    src = _conn(sim, rid, MASTER, PW)
    dst = _conn(sim, ident, MASTER, PW)
    for s in SCHEMAS:
        for t in ("item", "audit", "notes"):
            a, b = _dump(src, s, t), _dump(dst, s, t)
            assert len(a) > 1, f"{s}.{t} is nearly empty on the source"
            assert a == b, f"{s}.{t} differs: {len(a)} rows on the source, {len(b)} on the encrypted instance"
        big = _q(dst, f"SELECT COUNT(*) FROM {s}.item WHERE LENGTH(body) >= {BLOB}")[0][0]
        assert big > 0, f"{s}: no 1 MB blob survived to compare"
        # the trigger's audit rows were not doubled by replication
        aud = _dump(dst, s, "audit")
        assert len({r[1] for r in aud}) == len(aud), f"{s}.audit has doubled trigger rows"
        # AUTO_INCREMENT continues without collision on the encrypted instance
        last = _q(src, f"SELECT MAX(id) FROM {s}.item")[0][0]
        _q(dst, f"INSERT INTO {s}.item (name, price, qty, doc, at, body) VALUES ('after', 1, 1, NULL, NOW(6), NULL)")
        new_id = _q(dst, "SELECT LAST_INSERT_ID()")[0][0]
        assert new_id > last, (new_id, last)
    src.close()
    dst.close()
