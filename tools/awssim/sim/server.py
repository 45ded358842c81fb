"""The AWS endpoint: one HTTP server for every service.

Dispatch: the SigV4 credential scope's service (rds, sts, kms,
secretsmanager, dms) and, for JSON services, X-Amz-Target; GET
/federation/credentials is the SSO portal's GetRoleCredentials and POST
/token SSO OIDC's CreateToken (sso.py; a bearer token or a client secret,
not SigV4). Every request is
authenticated (SigV4, session tokens for temporary credentials), rate
limited, optionally faulted, decoded by the service model, handled, encoded
and logged.
"""
import json
import logging
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import dms, ec2, jsoncodec, kms, models, querycodec, rds, secrets, sigv4, sso, sts
from .errors import AwsError

from . import route53, route53_codec  # Route 53 (REST XML), registered in SERVICES below

log = logging.getLogger("awssim.http")

MAX_BODY = 1 << 20

SERVICES = {
    "rds": ("query", rds.ACTIONS, None),
    "sts": ("query", sts.ACTIONS, None),
    "kms": ("json", kms.ACTIONS, "TrentService"),
    "secretsmanager": ("json", secrets.ACTIONS, "secretsmanager"),
    "dms": ("json", dms.ACTIONS, "AmazonDMSv20160101"),
    "ec2": ("ec2", ec2.ACTIONS, None),   # security groups, their inbound rules, subnets (ec2.py)
}
GENERIC_STATUS = {"MissingParameter": 400, "InvalidParameterValue": 400, "InvalidParameterCombination": 400,
                  "InvalidAction": 400, "Throttling": 400, "ThrottlingException": 400,
                  "SignatureDoesNotMatch": 403, "InvalidClientTokenId": 403, "IncompleteSignature": 403,
                  "MissingAuthenticationToken": 403, "RequestExpired": 400, "ExpiredToken": 400,
                  "InternalFailure": 500, "ServiceUnavailable": 503, "ValidationException": 400,
                  "UnknownOperationException": 400, "SerializationException": 400, "AccessDenied": 403,
                  "RequestEntityTooLarge": 413, "MissingAction": 400}
SERVICES["route53"] = ("rest-xml", route53.ACTIONS, None)   # by method and path under route53_codec.PREFIX

RESOURCE_PARAMS = ("DBInstanceIdentifier", "DBSnapshotIdentifier", "TargetDBSnapshotIdentifier",
                   "DBClusterIdentifier", "DBClusterSnapshotIdentifier", "TargetDBClusterSnapshotIdentifier",
                   "SourceDBClusterSnapshotIdentifier", "DBClusterParameterGroupName",
                   "SourceDBSnapshotIdentifier", "DBParameterGroupName", "DBProxyName", "ResourceName",
                   "KeyId", "TargetKeyId", "SecretId", "Name", "RoleArn", "AliasName")


class Ctx:
    def __init__(self, world, store, service, action, caller, access_key, request_id):
        self.world, self.store, self.service, self.action = world, store, service, action
        self.caller, self.access_key, self.request_id = caller, access_key, request_id
        self.account, self.region = store["account"], store["region"]
        self.resource = None


def make_server(world, host, port):
    class Handler(_Handler):
        pass
    Handler.world = world
    srv = ThreadingHTTPServer((host, port), Handler)
    srv.daemon_threads = True
    return srv


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awssim"
    sys_version = ""
    timeout = 120
    world = None

    def log_message(self, fmt, *args):  # quiet: the call log has everything
        log.debug("%s " + fmt, self.address_string(), *args)

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    # ------------------------------------------------------------------
    def _send(self, status, body, ctype, request_id, headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("x-amz-request-id", request_id)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, proto, service, code, message, request_id, status=None, sender=True):
        if status is None:
            status = GENERIC_STATUS.get(code)
            if status is None and service in SERVICES:
                status = models.load(service).awssim_error_status.get(code, 400)
            status = status or 400
        if proto == "json":
            body = jsoncodec.encode_error(code, message)
            self._send(status, body, "application/x-amz-json-1.1", request_id)
        elif proto == "rest-xml":
            self._send(status, route53_codec.encode_error(code, message, request_id, sender and status < 500),
                       "text/xml", request_id)
        elif proto == "ec2":
            self._send(status, ec2.encode_error(code, message, request_id), "text/xml", request_id)
        else:
            ns = models.load(service).metadata.get("xmlNamespace", "") if service in SERVICES else ""
            if service == "sts":
                ns = "https://sts.amazonaws.com/doc/2011-06-15/"
            body = querycodec.encode_error(ns, code, message, request_id, sender and status < 500)
            self._send(status, body, "text/xml", request_id)
        return status

    def _handle(self):
        w = self.world
        rid = str(uuid.uuid4())
        t0 = time.time()
        entry = {"ts": t0, "service": None, "action": None, "access_key": None, "account": None, "region": None,
                 "resource": None, "status": None, "error": None, "request_id": rid}
        proto, service = "query", "rds"
        try:
            status = self._dispatch(w, rid, entry)
        except AwsError as e:
            proto = entry.get("_proto") or "query"
            service = entry.get("service") or "rds"
            entry["error"] = e.code
            status = self._error(proto, service, e.code, e.message, rid, e.status, e.sender)
        except (BrokenPipeError, ConnectionResetError):
            status = 0
        except Exception as e:  # noqa: BLE001 - never a stack trace to the client
            log.error("internal error: %s\n%s", e, traceback.format_exc())
            proto = entry.get("_proto") or "query"
            service = entry.get("service") or "rds"
            entry["error"] = "InternalFailure"
            try:
                status = self._error(proto, service, "InternalFailure",
                                     "The request processing has failed because of an unknown error.", rid, 500, False)
            except OSError:
                status = 500
        entry.pop("_proto", None)
        entry["status"] = status
        entry["duration_ms"] = round((time.time() - t0) * 1000, 1)
        if entry.get("action") or entry.get("error"):
            w.faults.log_call(entry)

    def _sso(self, w, rid, entry, url):
        if url.path == sso.TOKEN_PATH:
            entry.update(service="sso-oidc", action="CreateToken")
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if 0 < n <= MAX_BODY else b""
            try:
                req = json.loads(raw or b"null")
            except ValueError:
                req = None
            status, etype, body = sso.create_token(w, req)
        else:
            entry.update(service="sso", action="GetRoleCredentials")
            status, etype, body = sso.get_role_credentials(w, url.query, self.headers)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", rid)
        if etype:
            self.send_header("x-amzn-ErrorType", etype)
            entry["error"] = etype
        self.end_headers()
        self.wfile.write(data)
        return status

    def _dispatch(self, w, rid, entry):
        url = urlsplit(self.path)
        if (url.path == sso.PATH and self.command == "GET") or (url.path == sso.TOKEN_PATH and self.command == "POST"):
            return self._sso(w, rid, entry, url)
        rest = url.path.startswith(route53_codec.PREFIX)   # Route 53's REST XML
        if rest:
            entry["_proto"] = "rest-xml"
        elif url.path not in ("/", ""):
            body = json.dumps({"message": f"Not Found: {url.path}"}).encode()
            self._send(404, body, "application/json", rid)
            entry["error"] = "NotFound"
            return 404
        length = self.headers.get("Content-Length")
        if self.command in ("POST", "PUT") and length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
            raise AwsError("MissingParameter", "Content-Length is required", status=411)
        n = int(length or 0)
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            raise AwsError("RequestEntityTooLarge", f"Request body larger than {MAX_BODY} bytes", status=413)
        body = self.rfile.read(n) if n else b""
        auth_header = self.headers.get("Authorization")
        target = self.headers.get("X-Amz-Target")
        ctype = (self.headers.get("Content-Type") or "").lower()
        form = {}
        if target is None and not rest:
            try:
                pairs = parse_qsl(url.query, keep_blank_values=True)
                if body and "json" not in ctype:
                    pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise AwsError("InvalidParameterValue", "Request body is not valid UTF-8") from None
            form = dict(pairs)
        elif target is not None:
            entry["_proto"] = "json"

        # ---- authentication
        if auth_header:
            auth = sigv4.parse_authorization(auth_header)
            service = auth["service"]
        else:
            action = form.get("Action")
            if target is None and action in sts.UNSIGNED:
                auth = None
                service = "sts"
            else:
                raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token", status=403)
        if service not in SERVICES:
            raise AwsError("InvalidAction", f"awssim does not emulate the service '{service}'", status=400)
        proto, actions, prefix = SERVICES[service]
        if rest != (proto == "rest-xml"):
            raise AwsError("InvalidAction", f"awssim does not emulate {self.command} {url.path} for '{service}'")
        entry["service"] = service
        entry["_proto"] = proto
        model = models.load(service)
        caller = None
        if auth:
            entry["access_key"] = auth["access_key"]
            caller = w.lookup_key(auth["access_key"])
            if caller is None:
                raise AwsError("InvalidClientTokenId", "The security token included in the request is invalid.",
                               status=403)
            token = self.headers.get("X-Amz-Security-Token")
            if caller["temp"]:
                if token != caller["token"]:
                    raise AwsError("InvalidClientTokenId", "The security token included in the request is invalid.",
                                   status=403)
                if caller["expiration"] < time.time():
                    raise AwsError("ExpiredToken", "The security token included in the request is expired", status=400)
            elif token:
                raise AwsError("InvalidClientTokenId", "The security token included in the request is invalid.",
                               status=403)
            sigv4.verify(self.command, self.path, self.headers, body, auth, caller["secret"], token)
            account, region = caller["account"], auth["region"]
        else:
            ra = form.get("RoleArn", "")
            parts = ra.split(":")
            account = parts[4] if len(parts) > 4 and parts[4].isdigit() else w.cfg.account_id
            region = w.cfg.region
            caller = {"account": account, "arn": "anonymous", "temp": False}
        entry["account"], entry["region"] = account, region

        # ---- operation
        if proto == "json":
            if not target or "." not in target:
                raise AwsError("UnknownOperationException", "Missing or malformed X-Amz-Target")
            pfx, action = target.split(".", 1)
            if pfx != prefix or action not in actions:
                entry["action"] = action
                raise AwsError("UnknownOperationException", f"Unknown operation {target}")
        elif proto == "rest-xml":
            action, uri = route53_codec.match(self.command, url.path)
            if action is None or action not in actions:
                entry["action"] = action
                raise AwsError("InvalidAction", f"awssim does not emulate {action or self.command + ' ' + url.path}")
        else:
            action = form.get("Action")
            if not action:
                raise AwsError("MissingAction", "The request must contain the parameter Action")
            if action not in actions:
                entry["action"] = action
                raise AwsError("InvalidAction", f"The action {action} is not valid for this web service.")
        entry["action"] = action
        op = model.operation_model(action)

        # ---- faults and throttling
        lat = w.faults.latency()
        if lat:
            time.sleep(lat)
        verdict, by = w.faults.admit(account, region, service, action, form)
        if verdict:   # the call log tells an injected fault (a lost answer) apart, and the alternate key
            entry["fault"] = verdict
            if by:
                entry["fault_by"] = by
        if verdict == "throttle":
            code = {"json": "ThrottlingException", "ec2": "RequestLimitExceeded"}.get(proto, "Throttling")
            raise AwsError(code, "Rate exceeded", status=400)
        if verdict == "5xx":
            if w.faults.rng.random() < 0.5:
                raise AwsError("InternalFailure", "The request processing has failed because of an unknown "
                               "error, exception or failure.", status=500, sender=False)
            raise AwsError("ServiceUnavailable", "Service is unavailable. Please try again later.",
                           status=503, sender=False)

        # ---- decode, validate, handle, encode
        if proto == "json":
            params = jsoncodec.decode(op.input_shape, body)
        elif proto == "rest-xml":
            params = route53_codec.decode(op, uri, url.query, body)
        elif proto == "ec2":
            params = ec2.decode(op.input_shape, {k: v for k, v in form.items() if k not in ("Action", "Version")})
        else:
            params = querycodec.decode(op.input_shape, {k: v for k, v in form.items() if k not in ("Action", "Version")})
        for k, v in params.items():
            if k in RESOURCE_PARAMS and isinstance(v, str):
                entry["resource"] = v
                break
        if op.input_shape is not None:
            for req in op.input_shape.required_members:
                if req not in params or params[req] in (None, ""):
                    if proto == "json":
                        raise AwsError("ValidationException", f"1 validation error detected: Value null at "
                                       f"'{req[0].lower() + req[1:]}' failed to satisfy constraint: Member must not be null")
                    if proto == "rest-xml":
                        raise AwsError("InvalidInput", f"The request must contain the parameter {req}")
                    raise AwsError("MissingParameter", f"The request must contain the parameter {req}")
        store = w.store(account, region)
        if service == "kms":
            kms.ensure_defaults(store)
        ctx = Ctx(w, store, service, action, caller, entry["access_key"], rid)
        try:
            result = actions[action](ctx, params)
        finally:
            if ctx.resource:
                entry["resource"] = ctx.resource
        w.mark_dirty()
        if verdict == "lost":   # done, but the answer lost: what a client sees is a 500
            raise AwsError("InternalFailure", "The request processing has failed because of an unknown "
                           "error, exception or failure.", status=500, sender=False)
        if proto == "json":
            self._send(200, jsoncodec.encode_response(op, result), "application/x-amz-json-1.1", rid)
        elif proto == "rest-xml":
            status, headers, out = route53_codec.encode_response(op, result)
            self._send(status, out, "text/xml", rid, headers)
            return status
        elif proto == "ec2":
            self._send(200, ec2.encode_response(op, result, rid), "text/xml", rid)
        else:
            self._send(200, querycodec.encode_response(op, result, rid), "text/xml", rid)
        return 200
