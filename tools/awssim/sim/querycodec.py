"""AWS Query protocol: form parameters -> dict (by the input shape) and dict -> XML.

Decoding mirrors botocore's QuerySerializer (lists as `Name.member.N` or
`Name.<locationName>.N`, maps as `Name.entry.N.key/value`, empty list as
`Name=`); encoding mirrors what botocore's QueryParser reads
(`<ActionResponse xmlns=...><ActionResult>...</ActionResult>
<ResponseMetadata><RequestId>`).
"""
import base64
import datetime
from xml.sax.saxutils import escape

from .errors import AwsError


def _bad(name, value, what):
    return AwsError("InvalidParameterValue", f"Invalid value '{value}' for {name}: {what}")


def parse_timestamp(v, name="timestamp"):
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip()
    try:
        return float(s)
    except ValueError:
        pass
    s2 = s.replace("Z", "+00:00")
    for fmt in (None,):
        try:
            dt = datetime.datetime.fromisoformat(s2)
        except ValueError:
            raise _bad(name, s, "not an ISO 8601 timestamp") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=datetime.timezone.utc)
        return dt.timestamp()


def iso(ts):
    dt = datetime.datetime.fromtimestamp(float(ts), datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class _Params:
    def __init__(self, params):
        self.params = params
        self.used = set()


def decode(shape, params):
    """params: dict key -> str (already url-decoded). Returns dict by member names."""
    if shape is None:
        return {}
    p = _Params(params)
    return _decode_struct(shape, p, "") or {}


def _sname(shape, default):
    return shape.serialization.get("name", default)


def _has_prefix(p, prefix):
    pre = prefix + "."
    for k in p.params:
        if k == prefix or k.startswith(pre):
            return True
    return False


def _decode_value(shape, p, key):
    t = shape.type_name
    if t == "structure":
        if not _has_prefix(p, key):
            return None
        return _decode_struct(shape, p, key)
    if t == "list":
        return _decode_list(shape, p, key)
    if t == "map":
        return _decode_map(shape, p, key)
    if key not in p.params:
        return None
    raw = p.params[key]
    if t == "string":
        return raw
    if t in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise _bad(key, raw, "not an integer") from None
    if t in ("float", "double"):
        try:
            return float(raw)
        except ValueError:
            raise _bad(key, raw, "not a number") from None
    if t == "boolean":
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise _bad(key, raw, "not a boolean")
    if t == "timestamp":
        return parse_timestamp(raw, key)
    if t == "blob":
        try:
            return base64.b64decode(raw)
        except Exception:
            raise _bad(key, raw, "not base64") from None
    return raw


def _decode_struct(shape, p, prefix):
    out = {}
    for name, m in shape.members.items():
        key = _sname(m, name)
        full = f"{prefix}.{key}" if prefix else key
        v = _decode_value(m, p, full)
        if v is not None:
            out[name] = v
    return out


def _indices(p, list_prefix):
    pre = list_prefix + "."
    idx = set()
    for k in p.params:
        if k.startswith(pre):
            head = k[len(pre):].split(".", 1)[0]
            if head.isdigit():
                idx.add(int(head))
    return sorted(idx)


def _decode_list(shape, p, prefix):
    if shape.serialization.get("flattened"):
        list_prefix = prefix
        if shape.member.serialization.get("name"):
            list_prefix = ".".join(prefix.split(".")[:-1] + [shape.member.serialization["name"]])
    else:
        list_prefix = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
    idx = _indices(p, list_prefix)
    if not idx:
        if prefix in p.params and p.params[prefix] == "":
            return []
        return None
    out = []
    for i in idx:
        v = _decode_value(shape.member, p, f"{list_prefix}.{i}")
        if v is not None:
            out.append(v)
    return out


def _decode_map(shape, p, prefix):
    full = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
    idx = _indices(p, full)
    if not idx:
        return None
    ks = _sname(shape.key, "key")
    vs = _sname(shape.value, "value")
    out = {}
    for i in idx:
        k = _decode_value(shape.key, p, f"{full}.{i}.{ks}")
        v = _decode_value(shape.value, p, f"{full}.{i}.{vs}")
        if k is not None:
            out[k] = v
    return out


# ------------------------------------------------------------------ encoding
def _enc(shape, value, out):
    t = shape.type_name
    if t == "structure":
        for name, m in shape.members.items():
            if name not in value or value[name] is None:
                continue
            v = value[name]
            tag = _sname(m, name)
            if m.type_name == "list" and m.serialization.get("flattened"):
                mtag = _sname(m.member, tag)
                for item in v:
                    out.append(f"<{mtag}>")
                    _enc(m.member, item, out)
                    out.append(f"</{mtag}>")
                continue
            out.append(f"<{tag}>")
            _enc(m, v, out)
            out.append(f"</{tag}>")
    elif t == "list":
        mtag = _sname(shape.member, "member")
        for item in value:
            out.append(f"<{mtag}>")
            _enc(shape.member, item, out)
            out.append(f"</{mtag}>")
    elif t == "map":
        ks, vs = _sname(shape.key, "key"), _sname(shape.value, "value")
        for k, v in value.items():
            out.append(f"<entry><{ks}>")
            _enc(shape.key, k, out)
            out.append(f"</{ks}><{vs}>")
            _enc(shape.value, v, out)
            out.append(f"</{vs}></entry>")
    elif t == "boolean":
        out.append("true" if value else "false")
    elif t == "timestamp":
        out.append(iso(value))
    elif t == "blob":
        out.append(base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode())
    else:
        out.append(escape(str(value)))


def encode_response(op, result, request_id):
    ns = op.service_model.metadata.get("xmlNamespace", "")
    name = op.name
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{name}Response xmlns="{ns}">']
    oshape = op.output_shape
    if oshape is not None:
        wrapper = oshape.serialization.get("resultWrapper") or f"{name}Result"
        out.append(f"<{wrapper}>")
        _enc(oshape, result or {}, out)
        out.append(f"</{wrapper}>")
    out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>\n")
    return "".join(out).encode("utf-8")


def encode_error(ns, code, message, request_id, sender=True):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="{ns}"><Error>'
            f"<Type>{'Sender' if sender else 'Receiver'}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
            f"</ErrorResponse>\n").encode("utf-8")


def encode_value(shape, value):
    """The XML of one value by its shape (the members of a structure, without
    an element of its own): what the rest-xml codec (route53_codec) shares."""
    out = []
    _enc(shape, value, out)
    return "".join(out)
