"""`fleetcrypt report` (issue 7) after a small `offline` campaign of three
metadata-only emulator instances: JSON, CSV and HTML carry every instance
with its key before (unencrypted) and after (the campaign's key, confirmed by
DescribeDBInstances), cutover time, downtime, retired source and
retain-until; the HTML page is parsed with html.parser and every instance row
and summary figure is checked; DMS's per-table statistics (planted facts)
appear in all three, the capped remainder counted; bad --format and an
unknown campaign exit 2.
A second campaign checks key before from the preflight facts: a source
already encrypted with another key is skipped by offline and reported with
that key as its key before.
`report --select` (the selector of `submit --select`) reports every instance
in scope: the migrated ones as their campaign shows them, their retired
sources as such, and instances no campaign ever held (one unencrypted, one
encrypted with another key) with their state now and "not migrated by
fleetcrypt"; JSON, CSV and the parsed HTML page agree with what
DescribeDBInstances lists for the same selector.
"""
import csv
import datetime
import io
import json
import os
from html.parser import HTMLParser

from fixtures_stack import META_TAG

IDS = ["rep-a", "rep-b", "rep-c"]


def small_campaign(stack, campaign, ids):
    """Offline campaign of metadata-only instances (20 GiB: copies take ~1 s at this scale)."""
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(ids, storage=20)
    key = stack.make_key()
    stack.sim.admin("POST", "/config", {"time_scale": 1 / 300.0})
    stack.start()
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", len(ids), "--yes", *ids)
    assert r.returncode == 0, r.stderr
    st = stack.wait_campaign(campaign, 120)
    assert st["counts"]["done"] == len(ids), st
    return key


class Page(HTMLParser):
    """Rows of table#instances (cells by class) and the summary <b id=...> figures."""

    def __init__(self):
        super().__init__()
        self.rows, self.figures = {}, {}
        self._row = self._cell = self._fig = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-instance" in a:
            self._row = a["data-instance"]
            self.rows[self._row] = {}
        elif tag == "td" and self._row:
            self._cell = a.get("class", "").split()[-1]
            self.rows[self._row][self._cell] = ""
        elif tag == "b" and a.get("id", "").startswith("n-"):
            self._fig = a["id"]
            self.figures[self._fig] = ""
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "b":
            self._fig = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._row and self._cell:
            self.rows[self._row][self._cell] += data
        if self._fig:
            self.figures[self._fig] += data
        if self._in_title:
            self.title += data


def test_cli_report_formats(stack, tmp_path):
    key = small_campaign(stack, "rep1", IDS)
    arn = key["Arn"]
    rds = stack.sim.client("rds")

    # ---- JSON
    r = stack.cli("report", "rep1", "--format", "json", check=True)
    doc = json.loads(r.stdout)
    assert doc["summary"] == {"instances": 3, "done": 3, "failed": 0, "not_migrated": 0}, doc["summary"]
    rows = {i["instance"]: i for i in doc["instances"]}
    assert sorted(rows) == IDS
    for ident, row in rows.items():
        assert row["campaign"] == "rep1" and row["state"] == "done" and row["strategy"] == "offline", row
        assert row["encrypted_before"] is False and row["key_before"] is None, row
        assert row["encrypted_after"] is True and row["key_after"] == arn, row
        assert row["cutover_at"] and row["cutover_at"].endswith("Z"), row
        assert isinstance(row["downtime_s"], float) and row["downtime_s"] >= 0, row
        assert row["retired_source"] == f"fc-rep1-{ident}-retired", row
        assert row["error"] is None, row
        assert row["engine"] == "postgres" and row["migrated_by_fleetcrypt"] is True, row
        assert row["encrypted_now"] is True and row["key_now"] == arn, row
        retired = rds.describe_db_instances(DBInstanceIdentifier=row["retired_source"])["DBInstances"][0]
        assert retired["StorageEncrypted"] is False
        until = datetime.datetime.strptime(row["retain_until"], "%Y-%m-%dT%H:%M:%S.%fZ")
        days = (until - datetime.datetime.utcnow()).total_seconds() / 86400
        assert 29.9 < days <= 30.01, row["retain_until"]

    # ---- CSV (to a file with --output)
    out = tmp_path / "rep1.csv"
    r = stack.cli("report", "rep1", "--format", "csv", "--output", out, check=True)
    assert r.stdout == ""
    table = list(csv.DictReader(io.StringIO(out.read_text(), newline="")))
    assert [t["instance"] for t in table] == IDS
    for t in table:
        assert t["state"] == "done" and t["encrypted_before"] == "false" and t["encrypted_after"] == "true", t
        assert t["key_after"] == arn and t["key_before"] == "", t
        assert float(t["downtime_s"]) == rows[t["instance"]]["downtime_s"], t
        assert t["retired_source"] == rows[t["instance"]]["retired_source"]
        assert t["retain_until"] == rows[t["instance"]]["retain_until"]

    # ---- HTML, parsed
    r = stack.cli("report", "rep1", "--format", "html", check=True)
    assert r.stdout.startswith("<!DOCTYPE html>")
    assert "<script" not in r.stdout and "http://" not in r.stdout and "https://" not in r.stdout  # self-contained
    page = Page()
    page.feed(r.stdout)
    page.close()
    assert "rep1" in page.title
    assert page.figures == {"n-instances": "3", "n-done": "3", "n-failed": "0", "n-skipped": "0", "n-rows": "0",
                            "n-not-migrated": "0"}, page.figures
    assert sorted(page.rows) == IDS
    for ident, cells in page.rows.items():
        assert cells["instance"] == ident and cells["campaign"] == "rep1" and cells["done"] == "done", cells
        assert cells["before"] == "unencrypted", cells
        assert cells["after"] == f"encrypted {arn}", cells
        assert cells["cutover"] == rows[ident]["cutover_at"]
        assert float(cells["downtime"]) == round(rows[ident]["downtime_s"], 3)
        assert cells["retired"] == rows[ident]["retired_source"]
        assert cells["retain"] == rows[ident]["retain_until"]
        assert cells["now"] == f"encrypted {arn}" and cells["migrated"] == "yes", cells

    # ---- DMS's per-table statistics (facts a DMS strategy's cutover records,
    # docs/dms.md; planted here: the renderers' test): names and counts in
    # JSON, CSV and HTML, the capped remainder counted
    stack.redis.cli("HSET", "fc:{rep1}:i:rep-a", "f.dms_task_arn.1", "arn:aws:dms:us-east-1:1:task:X",
                    "f.apply_exceptions", "0", "f.dms_table_stats",
                    "app/public.a\t5\t2\t1\tValidated\t0\t100\napp/s2.b\t3\t0\t0\t-\t1\t7\n+498\tmore\n")
    dms = {i["instance"]: i["dms"] for i in json.loads(stack.cli("report", "rep1", "--format", "json",
                                                                 check=True).stdout)["instances"]}
    assert dms["rep-b"] is None, dms
    assert dms["rep-a"]["tables"] == [
        {"table": "app/public.a", "inserts": 5, "updates": 2, "deletes": 1, "ddls": 0, "full_load_rows": 100,
         "validation": "Validated"},
        {"table": "app/s2.b", "inserts": 3, "updates": 0, "deletes": 0, "ddls": 1, "full_load_rows": 7,
         "validation": None}], dms["rep-a"]
    assert dms["rep-a"]["tables_omitted"] == 498 and dms["rep-a"]["apply_exceptions"] == 0, dms["rep-a"]
    want = ("app/public.a ins=5 upd=2 del=1 ddl=0 load=100 validation=Validated; "
            "app/s2.b ins=3 upd=0 del=0 ddl=1 load=7 validation=-; +498 more tables")
    table = {t["instance"]: t for t in csv.DictReader(io.StringIO(stack.cli("report", "rep1", "--format", "csv",
                                                                             check=True).stdout, newline=""))}
    assert table["rep-a"]["dms_tables"] == want and table["rep-b"]["dms_tables"] == "", table["rep-a"]
    page = Page()
    page.feed(stack.cli("report", "rep1", "--format", "html", check=True).stdout)
    page.close()
    assert "app/public.a ins=5 upd=2 del=1 ddl=0 load=100 validation=Validated" in page.rows["rep-a"]["dms"]
    assert "+498 more tables" in page.rows["rep-a"]["dms"], page.rows["rep-a"]

    # ---- every campaign, and refusals
    r = stack.cli("report", check=True)
    assert sorted(i["instance"] for i in json.loads(r.stdout)["instances"]) == IDS
    r = stack.cli("report", "rep1", "--format", "xml")
    assert r.returncode == 2 and "format" in r.stderr, r.stderr
    r = stack.cli("report", "nope")
    assert r.returncode == 2 and "nope" in r.stderr, r.stderr
    assert not os.path.exists(tmp_path / "nope.html")
    r = stack.cli("report", "--help", check=True)
    assert "example" in r.stdout


def test_cli_report_key_before(stack):
    """Key before comes from the preflight facts (f.source_encrypted /
    f.source_kms): one source already encrypted with another key is skipped by
    offline preflight, and the report shows that key as its key before."""
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(["kb-plain"], storage=20)
    other = stack.make_key()
    rds = stack.sim.client("rds")
    rds.create_db_instance(DBInstanceIdentifier="kb-enc", Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername="app", MasterUserPassword="app-password-1",
                           StorageEncrypted=True, KmsKeyId=other["Arn"],
                           Tags=[{"Key": "fleetcrypt-sim:metadata-only", "Value": "true"}])
    stack.sim.wait_instance("kb-enc", "available", timeout=60)
    enc_key = rds.describe_db_instances(DBInstanceIdentifier="kb-enc")["DBInstances"][0]["KmsKeyId"]
    assert other["KeyId"] in enc_key
    key = stack.make_key()
    stack.sim.admin("POST", "/config", {"time_scale": 1 / 300.0})
    stack.start()
    r = stack.cli("submit", "--campaign", "kb", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", 2, "--yes", "kb-plain", "kb-enc")
    assert r.returncode == 0, r.stderr
    st = stack.wait_campaign("kb", 120)
    assert st["counts"]["done"] == 1 and st["counts"]["skipped"] == 1, st

    def fact(ident, name):
        return stack.redis.cli("HGET", f"fc:{{kb}}:i:{ident}", f"f.{name}").strip()

    assert fact("kb-enc", "source_encrypted") == "1" and fact("kb-enc", "source_kms") == enc_key
    assert fact("kb-plain", "source_encrypted") == "0" and fact("kb-plain", "source_kms") == ""

    doc = json.loads(stack.cli("report", "kb", "--format", "json", check=True).stdout)
    rows = {i["instance"]: i for i in doc["instances"]}
    assert rows["kb-enc"]["state"] == "skipped", rows["kb-enc"]
    assert rows["kb-enc"]["encrypted_before"] is True and rows["kb-enc"]["key_before"] == enc_key, rows["kb-enc"]
    assert rows["kb-plain"]["encrypted_before"] is False and rows["kb-plain"]["key_before"] is None, rows["kb-plain"]
    assert rows["kb-plain"]["key_after"] == key["Arn"], rows["kb-plain"]
    table = list(csv.DictReader(io.StringIO(stack.cli("report", "kb", "--format", "csv", check=True).stdout)))
    assert {t["instance"]: t["key_before"] for t in table} == {"kb-enc": enc_key, "kb-plain": ""}


def described(rds, engine, tags):
    """What DescribeDBInstances says now: id -> instance, for engine and every tag."""
    out = {}
    for page in rds.get_paginator("describe_db_instances").paginate():
        for i in page["DBInstances"]:
            have = {t["Key"]: t["Value"] for t in i.get("TagList", [])}
            if i["Engine"] == engine and all(have.get(k) == v for k, v in tags.items()):
                out[i["DBInstanceIdentifier"]] = i
    return out


def test_cli_report_select(stack, tmp_path):
    """report --select: every instance in scope, including ones never in any campaign."""
    key = small_campaign(stack, "rsel", IDS)
    arn = key["Arn"]
    rds = stack.sim.client("rds")
    other = stack.make_key()
    base = dict(Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="app",
                MasterUserPassword="app-password-1")
    rds.create_db_instance(DBInstanceIdentifier="rep-free", StorageEncrypted=False,
                           Tags=[META_TAG, {"Key": "team", "Value": "orch"}], **base)
    rds.create_db_instance(DBInstanceIdentifier="rep-enc", StorageEncrypted=True, KmsKeyId=other["Arn"],
                           Tags=[META_TAG, {"Key": "team", "Value": "orch"}], **base)
    rds.create_db_instance(DBInstanceIdentifier="rep-out", StorageEncrypted=False,
                           Tags=[META_TAG, {"Key": "team", "Value": "elsewhere"}], **base)
    for i in ("rep-free", "rep-enc", "rep-out"):
        stack.sim.wait_instance(i, "available", timeout=60)
    campaign_doc = {i["instance"]: i for i in
                    json.loads(stack.cli("report", "rsel", check=True).stdout)["instances"]}

    sel = "engine=postgres,tag:team=orch"
    want = described(rds, "postgres", {"team": "orch"})
    retired = {f"fc-rsel-{i}-retired" for i in IDS}
    assert set(IDS) | retired | {"rep-free", "rep-enc"} <= set(want) and "rep-out" not in want, sorted(want)
    never = set(want) - set(IDS) - retired  # in scope, in no campaign
    doc = json.loads(stack.cli("report", "--select", sel, "--format", "json", check=True).stdout)
    rows = {i["instance"]: i for i in doc["instances"]}
    assert sorted(rows) == sorted(want), (sorted(rows), sorted(want))
    assert doc["summary"]["instances"] == len(want) and doc["summary"]["done"] == 3, doc["summary"]
    assert doc["summary"]["not_migrated"] == len(never), (doc["summary"], never)
    assert sel in doc["title"], doc["title"]
    for ident, row in rows.items():
        inst = want[ident]
        assert row["engine"] == inst["Engine"], row
        assert row["encrypted_now"] is inst["StorageEncrypted"], (row, inst)
        assert row["key_now"] == (inst.get("KmsKeyId") if inst["StorageEncrypted"] else None), (row, inst)
    for ident in IDS:  # migrated: exactly as `report rsel` shows them
        row = rows[ident]
        assert row["migrated_by_fleetcrypt"] is True and row["campaign"] == "rsel" and row["state"] == "done", row
        for f in ("key_before", "key_after", "encrypted_before", "encrypted_after", "cutover_at", "downtime_s",
                  "retired_source", "retain_until", "rows_verified", "tables_verified"):
            assert row[f] == campaign_doc[ident][f], (f, row, campaign_doc[ident])
        assert row["key_after"] == arn and row["key_now"] == arn, row
    for ident in retired:
        row = rows[ident]
        assert row["state"] == "retired-source" and row["campaign"] == "rsel", row
        assert row["migrated_by_fleetcrypt"] is False and row["encrypted_now"] is False, row
        assert ident.replace("fc-rsel-", "").replace("-retired", "") in row["error"], row
    for ident in never:
        row = rows[ident]
        assert row["campaign"] is None and row["state"] == "not-migrated", row
        assert row["error"] == "not migrated by fleetcrypt" and row["migrated_by_fleetcrypt"] is False, row
        assert row["encrypted_before"] is None and row["encrypted_after"] is None, row
        assert row["cutover_at"] is None and row["downtime_s"] is None and row["retired_source"] is None, row
    assert rows["rep-enc"]["encrypted_now"] is True and other["KeyId"] in rows["rep-enc"]["key_now"], rows["rep-enc"]
    assert rows["rep-free"]["encrypted_now"] is False and rows["rep-free"]["key_now"] is None, rows["rep-free"]

    # ---- CSV
    table = {t["instance"]: t for t in csv.DictReader(io.StringIO(
        stack.cli("report", "--select", sel, "--format", "csv", check=True).stdout, newline=""))}
    assert sorted(table) == sorted(want)
    for ident, t in table.items():
        assert t["encrypted_now"] == str(want[ident]["StorageEncrypted"]).lower(), t
        assert t["migrated_by_fleetcrypt"] == ("true" if ident in IDS else "false"), t
        # migrated: the campaign's key; otherwise exactly what the JSON report says
        # (the same row), and nothing at all for an instance in no campaign
        assert t["key_after"] == (arn if ident in IDS else (rows[ident]["key_after"] or "")), (t, rows[ident])
        if ident in never:
            assert t["key_after"] == "" and t["campaign"] == "", t
    assert table["rep-free"]["campaign"] == "" and table["rep-free"]["error"] == "not migrated by fleetcrypt"

    # ---- HTML, parsed: every instance and figure
    out = tmp_path / "sel.html"
    stack.cli("report", "--select", sel, "--format", "html", "--output", out, check=True)
    page = Page()
    page.feed(out.read_text())
    page.close()
    assert sorted(page.rows) == sorted(want), sorted(page.rows)
    assert page.figures["n-instances"] == str(len(want)) and page.figures["n-done"] == "3", page.figures
    assert page.figures["n-not-migrated"] == str(len(never)), page.figures
    for ident, cells in page.rows.items():
        inst = want[ident]
        now = f"encrypted {inst['KmsKeyId']}" if inst["StorageEncrypted"] else "unencrypted"
        assert cells["instance"] == ident and cells["engine"] == "postgres" and cells["now"] == now, cells
    for ident in IDS:
        cells = page.rows[ident]
        assert cells["migrated"] == "yes" and cells["campaign"] == "rsel", cells
        assert cells["before"] == "unencrypted" and cells["after"] == f"encrypted {arn}", cells
        assert cells["cutover"] == campaign_doc[ident]["cutover_at"], cells
        assert float(cells["downtime"]) == round(campaign_doc[ident]["downtime_s"], 3), cells
        assert cells["retired"] == f"fc-rsel-{ident}-retired", cells
    for ident in never:
        cells = page.rows[ident]
        assert cells["migrated"] == "not migrated by fleetcrypt" and cells["campaign"] == "", cells
        assert cells["before"] == "" and cells["after"] == "", cells

    # ---- a narrower selector: encrypted=false sees the unencrypted ones only
    doc = json.loads(stack.cli("report", "--select", "encrypted=false,tag:team=orch", check=True).stdout)
    got = sorted(i["instance"] for i in doc["instances"])
    assert got == sorted(i for i, v in want.items() if not v["StorageEncrypted"]), got
    assert "rep-free" in got and "rep-a" not in got and "rep-enc" not in got

    # ---- refusals: malformed selector, with a campaign, empty scope is an empty report
    r = stack.cli("report", "--select", "colour=red")
    assert r.returncode == 2 and "select" in r.stderr and "colour" in r.stderr, r.stderr
    r = stack.cli("report", "rsel", "--select", sel)
    assert r.returncode == 2 and "select" in r.stderr, r.stderr
    doc = json.loads(stack.cli("report", "--select", "tag:team=nobody", check=True).stdout)
    assert doc["instances"] == [] and doc["summary"]["instances"] == 0, doc
