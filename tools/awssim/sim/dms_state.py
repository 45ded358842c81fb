"""The DMS emulator's state and the parsing both its API (dms.py) and its
engine (dms_cdc.py) use: the per-store state, modelled durations, endpoint
connection parameters, table mappings and start positions. Imports neither
of them (dms.py imports dms_cdc, which would otherwise import dms back)."""
import json
import re

from .errors import AwsError

# modelled AWS durations (seconds of emulated time, see clock.py)
DUR = {"ri_create": 480, "ri_delete": 120, "task_create": 20, "task_modify": 10, "task_start": 15,
       "task_stop": 5, "task_delete": 10}

def _bad(msg):
    return AwsError("InvalidParameterValueException", msg, status=400)


def dms(store):
    """The store's DMS state (created on first use; persisted with the store)."""
    d = store.get("dms")
    if d is None:
        d = store["dms"] = {"instances": {}, "endpoints": {}, "tasks": {}, "connections": {}, "tags": {}}
    return d


def conn_params(e):
    """libpq parameters of endpoint record e (dms_cdc.py connects with them)."""
    return {"host": e.get("ServerName"), "port": e.get("Port"), "dbname": e.get("DatabaseName"),
            "user": e.get("Username"), "password": e.get("_password")}


def parse_mappings(text):
    try:
        m = json.loads(text)
        rules = m["rules"]
    except (ValueError, KeyError, TypeError):
        raise _bad("TableMappings is not valid JSON with a rules list") from None
    sel = [r for r in rules if isinstance(r, dict) and r.get("rule-type") == "selection"]
    if not sel:
        raise _bad("TableMappings needs at least one selection rule")
    for r in sel:
        loc = r.get("object-locator") or {}
        if not loc.get("schema-name") or not loc.get("table-name") \
                or r.get("rule-action") not in ("include", "exclude", "explicit"):
            raise _bad("Invalid selection rule in TableMappings")
    return sel


LSN_RE = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")


def parse_start(pos):
    """CdcStartPosition -> an LSN 'X/Y' (an LSN, or a checkpoint this emulator wrote)."""
    if pos is None or pos == "":
        return None
    if LSN_RE.match(pos):
        return pos.upper()
    m = re.match(r"^checkpoint:V1#\d+#([0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})#", pos)
    if m:
        return m.group(1).upper()
    raise _bad(f"Invalid CdcStartPosition for a PostgreSQL source: {pos}")
