"""A tiny AWS stand-in for the C client's integration tests (test_awsclient_*).

One loopback HTTP server that
  - verifies SigV4 with botocore (as the real emulator does) for the keys it knows,
  - answers STS (GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity),
    RDS DescribeDBInstances (paged with Marker) and KMS DescribeKey,
  - serves IMDSv2 (PUT /latest/api/token, GET .../iam/security-credentials/[role]),
  - serves container credentials (GET /container/creds, the ECS / EKS Pod
    Identity agent's answer) to the Authorization token it is given,
  - injects faults (the next N requests throttled or answered 503) and
  - logs every call (action, status, monotonic time) for attempt counting.
Used where the project's emulator (awssim) is not needed or not available.
"""
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from awsclient_util import clean_env

ACCOUNT = "123456789012"
AKID = "AKIASTANDIN000000001"     # the one key pair the stand-in knows
SECRET = "standin/secret/key0000"


@pytest.fixture
def standin():
    """A started stand-in, stopped after the test."""
    s = Standin().start()
    yield s
    s.stop()


def env_for(s, world, **kw):
    """A clean environment (clean_env) pointed at stand-in s."""
    return clean_env(world, AWS_ENDPOINT_URL=s.url, **kw)


class Standin:
    def __init__(self, tls=None):
        """tls: (certificate file, key file) to serve https instead of http."""
        self.keys = {AKID: (SECRET, None)}
        self.calls = []
        self.faults = {"throttle": 0, "http5xx": 0}
        self.imds_tokens = set()
        self.imds_role = "fleetcrypt-node"
        self.container_token = "container-auth-token-1"
        self.lock = threading.Lock()
        self.instances = [f"db{i:02d}" for i in range(7)]
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"
        self.th = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def start(self):
        self.th.start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def issue_temp(self, prefix="ASIA"):
        akid = prefix + uuid.uuid4().hex[:16].upper()
        secret = uuid.uuid4().hex
        token = "FQoG" + uuid.uuid4().hex * 4
        with self.lock:
            self.keys[akid] = (secret, token)
        return akid, secret, token

    # ------------------------------------------------------------------
    def _handler(self):
        st = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, body, ctype="text/xml"):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                if self.path == "/latest/api/token" and self.headers.get(
                        "X-aws-ec2-metadata-token-ttl-seconds"):
                    tok = uuid.uuid4().hex
                    st.imds_tokens.add(tok)
                    st.calls.append({"action": "imds-token", "status": 200, "t": time.monotonic()})
                    return self._send(200, tok, "text/plain")
                self._send(403, "", "text/plain")

            def do_GET(self):
                if self.path == "/container/creds":
                    auth = self.headers.get("Authorization")
                    ok = auth == st.container_token
                    st.calls.append({"action": "container-get", "status": 200 if ok else 401,
                                     "t": time.monotonic()})
                    if not ok:
                        return self._send(401, json.dumps({"message": "bad token"}), "application/json")
                    akid, secret, token = st.issue_temp()
                    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                    return self._send(200, json.dumps({
                        "AccessKeyId": akid, "SecretAccessKey": secret, "Token": token,
                        "AccountId": ACCOUNT, "Expiration": exp}), "application/json")
                tok = self.headers.get("X-aws-ec2-metadata-token")
                if tok not in st.imds_tokens:
                    return self._send(401, "", "text/plain")
                base = "/latest/meta-data/iam/security-credentials/"
                st.calls.append({"action": "imds-get", "status": 200, "t": time.monotonic()})
                if self.path == base:
                    return self._send(200, st.imds_role + "\n", "text/plain")
                if self.path == base + st.imds_role:
                    akid, secret, token = st.issue_temp()
                    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                    return self._send(200, json.dumps({
                        "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": akid,
                        "SecretAccessKey": secret, "Token": token, "Expiration": exp}),
                        "application/json")
                self._send(404, "", "text/plain")

            def _verify(self, body):
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("AWS4-HMAC-SHA256 "):
                    return None, "MissingAuthenticationToken"
                parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
                akid, date, region, service, _ = parts["Credential"].split("/")
                signed = parts["SignedHeaders"].split(";")
                if akid not in st.keys:
                    return None, "InvalidClientTokenId"
                secret, token = st.keys[akid]
                if token and self.headers.get("X-Amz-Security-Token") != token:
                    return None, "InvalidClientTokenId"
                hdrs = {h: self.headers.get(h) for h in signed}
                req = AWSRequest(method="POST", url=f"http://{self.headers['Host']}{self.path}",
                                 data=body, headers=hdrs)
                req.context["timestamp"] = self.headers["X-Amz-Date"]
                signer = SigV4Auth(Credentials(akid, secret, token), service, region)
                creq = signer.canonical_request(req)
                sts = signer.string_to_sign(req, creq)
                if signer.signature(sts, req) != parts["Signature"]:
                    return None, "SignatureDoesNotMatch"
                return akid, None

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                target = self.headers.get("X-Amz-Target")
                if target:
                    action = target.split(".", 1)[1]
                    params = json.loads(body or b"{}")
                else:
                    params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
                    action = params.get("Action", "")
                status, resp = self._dispatch(action, params, body, bool(target))
                with st.lock:
                    st.calls.append({"action": action, "status": status, "t": time.monotonic()})
                self._send(status, resp, "application/x-amz-json-1.1" if target else "text/xml")

            def _err(self, json_proto, status, code, msg=""):
                if json_proto:
                    return status, json.dumps({"__type": code, "message": msg})
                return status, (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                                f"<Message>{msg}</Message></Error><RequestId>{uuid.uuid4()}"
                                f"</RequestId></ErrorResponse>")

            def _dispatch(self, action, p, body, js):
                with st.lock:
                    if st.faults["throttle"] > 0:
                        st.faults["throttle"] -= 1
                        return self._err(js, 400, "ThrottlingException" if js else "Throttling",
                                         "Rate exceeded")
                    if st.faults["http5xx"] > 0:
                        st.faults["http5xx"] -= 1
                        return self._err(js, 503, "ServiceUnavailable", "try later")
                akid = None
                if action != "AssumeRoleWithWebIdentity":
                    akid, e = self._verify(body)
                    if e:
                        return self._err(js, 403, e, "signature check failed")
                meta = f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
                if action == "GetCallerIdentity":
                    arn = (f"arn:aws:sts::{ACCOUNT}:assumed-role/x/s" if akid.startswith("ASIA")
                           else f"arn:aws:iam::{ACCOUNT}:user/standin")
                    return 200, (f"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>{arn}</Arn>"
                                 f"<UserId>{akid}</UserId><Account>{ACCOUNT}</Account>"
                                 f"</GetCallerIdentityResult>{meta}</GetCallerIdentityResponse>")
                if action in ("AssumeRole", "AssumeRoleWithWebIdentity"):
                    if action == "AssumeRoleWithWebIdentity" and p.get("WebIdentityToken") != "oidc-token-123":
                        return self._err(js, 400, "InvalidIdentityToken", "bad token")
                    k, s, t = st.issue_temp()
                    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                    return 200, (f"<{action}Response><{action}Result><Credentials><AccessKeyId>{k}"
                                 f"</AccessKeyId><SecretAccessKey>{s}</SecretAccessKey><SessionToken>{t}"
                                 f"</SessionToken><Expiration>{exp}</Expiration></Credentials>"
                                 f"<AssumedRoleUser><Arn>{p['RoleArn']}/{p['RoleSessionName']}</Arn>"
                                 f"<AssumedRoleId>AROA:{p['RoleSessionName']}</AssumedRoleId></AssumedRoleUser>"
                                 f"</{action}Result>{meta}</{action}Response>")
                if action == "DescribeDBInstances":
                    mx = int(p.get("MaxRecords", "100"))
                    start = int(p.get("Marker", "0") or 0)
                    page = st.instances[start:start + mx]
                    nxt = start + mx
                    items = "".join(
                        f"<DBInstance><DBInstanceIdentifier>{i}</DBInstanceIdentifier>"
                        f"<DBInstanceStatus>available</DBInstanceStatus><Engine>postgres</Engine>"
                        f"<StorageEncrypted>false</StorageEncrypted><Endpoint><Address>{i}.local"
                        f"</Address><Port>5432</Port></Endpoint></DBInstance>" for i in page)
                    marker = f"<Marker>{nxt}</Marker>" if nxt < len(st.instances) else ""
                    return 200, (f"<DescribeDBInstancesResponse><DescribeDBInstancesResult>{marker}"
                                 f"<DBInstances>{items}</DBInstances></DescribeDBInstancesResult>{meta}"
                                 f"</DescribeDBInstancesResponse>")
                if action == "DescribeKey":
                    return 200, json.dumps({"KeyMetadata": {
                        "KeyId": "k-1", "Arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k-1",
                        "Enabled": True, "KeyState": "Enabled", "KeyManager": "CUSTOMER"}})
                return self._err(js, 400, "InvalidAction", action)

        return H
