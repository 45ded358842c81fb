"""Route 53's REST XML protocol, driven by the botocore model: the operation
from the method and the path (`/2013-04-01/...`), its input from the URI,
the query string and the XML body, its output as XML (and header members)
with the operation's HTTP status. Errors use querycodec.encode_error's
`<ErrorResponse>`, which is what Route 53 sends too."""
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, unquote

from . import models, querycodec
from .errors import AwsError

SERVICE = "route53"
PREFIX = "/2013-04-01/"
XMLNS = "https://route53.amazonaws.com/doc/2013-04-01/"

_routes = None


def _compile():
    global _routes
    if _routes is None:
        model = models.load(SERVICE)
        out = []
        for name in model.operation_names:
            http = model.operation_model(name).http
            uri = http["requestUri"].split("?")[0]
            pat = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(uri.rstrip("/")))
            out.append((http["method"], re.compile("^" + pat + "/?$"), name))
        _routes = out
    return _routes


def match(method, path):
    """-> (action, {uri member locationName: value}) or (None, None)."""
    for m, rx, name in _compile():
        got = rx.match(path)
        if got and m == method:
            return name, {k: unquote(v) for k, v in got.groupdict().items()}
    return None, None


def _scalar(shape, text, name):
    t = shape.type_name
    text = text or ""
    if t in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise AwsError("InvalidInput", f"Invalid value '{text}' for {name}: not an integer") from None
    if t == "boolean":
        if text.lower() not in ("true", "false"):
            raise AwsError("InvalidInput", f"Invalid value '{text}' for {name}: not a boolean")
        return text.lower() == "true"
    if t == "timestamp":
        return querycodec.parse_timestamp(text, name)
    return text


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _dec(shape, elem, name):
    t = shape.type_name
    if t == "structure":
        out = {}
        kids = {}
        for k in elem:
            kids.setdefault(_local(k.tag), []).append(k)
        for mname, m in shape.members.items():
            tag = m.serialization.get("name", mname)
            if tag in kids:
                out[mname] = _dec(m, kids[tag][0], mname)
        return out
    if t == "list":
        mtag = shape.member.serialization.get("name", "member")
        return [_dec(shape.member, k, name) for k in elem if _local(k.tag) == mtag]
    return _scalar(shape, elem.text, name)


def decode(op, uri, query, body):
    """The operation's input: URI members, query-string members, and the XML
    body's members (rest-xml: the body is the input structure itself)."""
    shape = op.input_shape
    if shape is None:
        return {}
    qs = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        qs[k] = v
    params = {}
    for mname, m in shape.members.items():
        loc = m.serialization.get("location")
        lname = m.serialization.get("name", mname)
        if loc == "uri" and lname in uri:
            params[mname] = _scalar(m, uri[lname], mname)
        elif loc == "querystring" and lname in qs:
            params[mname] = _scalar(m, qs[lname], mname)
    if body and body.strip():
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise AwsError("InvalidInput", f"Could not parse the request body as XML: {e}") from None
        params.update({k: v for k, v in _dec(shape, root, shape.name).items()
                       if not shape.members[k].serialization.get("location")})
    return params


def encode_response(op, result):
    """-> (http status, {header: value}, body bytes)."""
    status = op.http.get("responseCode", 200)
    shape = op.output_shape
    headers = {}
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{op.name}Response xmlns="{XMLNS}">']
    if shape is not None:
        body = {}
        for mname, m in shape.members.items():
            v = (result or {}).get(mname)
            if v is None:
                continue
            if m.serialization.get("location") == "header":
                headers[m.serialization.get("name", mname)] = str(v)
            else:
                body[mname] = v
        out.append(querycodec.encode_value(shape, body))
    out.append(f"</{op.name}Response>\n")
    return status, headers, "".join(out).encode("utf-8")


def encode_error(code, message, request_id, sender=True):
    return querycodec.encode_error(XMLNS, code, message, request_id, sender)
