"""AWS JSON 1.1 protocol (KMS `TrentService.*`, Secrets Manager `secretsmanager.*`)."""
import base64
import json

from .errors import AwsError


def decode(shape, body):
    if not body:
        data = {}
    else:
        try:
            data = json.loads(body)
        except ValueError:
            raise AwsError("SerializationException", "Could not parse request body into json") from None
    if not isinstance(data, dict):
        raise AwsError("SerializationException", "Request body must be a JSON object")
    if shape is not None:
        _check(shape, data, "")
    return data


def _check(shape, v, path):
    t = shape.type_name
    bad = None
    if t == "structure":
        if not isinstance(v, dict):
            bad = "structure"
        else:
            for k, sub in v.items():
                if k in shape.members and sub is not None:
                    _check(shape.members[k], sub, f"{path}.{k}" if path else k)
    elif t == "list":
        if not isinstance(v, list):
            bad = "list"
        else:
            for item in v:
                _check(shape.member, item, path)
    elif t == "string" and not isinstance(v, str):
        bad = "string"
    elif t in ("integer", "long") and (not isinstance(v, int) or isinstance(v, bool)):
        bad = "integer"
    elif t == "boolean" and not isinstance(v, bool):
        bad = "boolean"
    if bad:
        raise AwsError("SerializationException", f"Start of {bad} expected for {path}")


def _enc(shape, v):
    if v is None or shape is None:
        return v
    t = shape.type_name
    if t == "structure":
        return {k: _enc(shape.members.get(k), x) for k, x in v.items() if x is not None and k in shape.members}
    if t == "list":
        return [_enc(shape.member, x) for x in v]
    if t == "map":
        return {k: _enc(shape.value, x) for k, x in v.items()}
    if t == "timestamp":
        return round(float(v), 3)
    if t == "blob":
        return base64.b64encode(v if isinstance(v, bytes) else str(v).encode()).decode()
    return v


def encode_response(op, result):
    return json.dumps(_enc(op.output_shape, result or {}) if op.output_shape else {}).encode()


def encode_error(code, message):
    return json.dumps({"__type": code, "message": message, "Message": message}).encode()
