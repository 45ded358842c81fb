"""SigV4 verification: recompute the signature with botocore's SigV4Auth.

The signature is recomputed over the request as received (method, Host,
raw path and query, exactly the headers listed in SignedHeaders, body) with
the secret the emulator knows for the access key, and compared in constant
time.
"""
import calendar
import hmac
import re
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from .errors import AwsError

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<sh>[^,\s]+),\s*Signature=(?P<sig>[0-9a-fA-F]+)")

MAX_SKEW = 15 * 60


class _Verifier(SigV4Auth):
    def __init__(self, credentials, service, region, signed):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name in self._signed:
            for v in request.headers.get_all(name) if hasattr(request.headers, "get_all") else []:
                hm[name] = v
            if name not in hm and name in request.headers:
                hm[name] = request.headers[name]
        return hm


def parse_authorization(header):
    """-> dict(access_key, date, region, service, signed_headers, signature) or raise."""
    m = _AUTH_RE.match(header or "")
    if not m:
        raise AwsError("IncompleteSignature",
                       "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                       "parameters (AWS4-HMAC-SHA256).", status=403)
    parts = m.group("cred").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AwsError("IncompleteSignature", f"Credential should be scoped correctly: {m.group('cred')}", status=403)
    return {"access_key": parts[0], "date": parts[1], "region": parts[2], "service": parts[3],
            "signed_headers": [h.strip().lower() for h in m.group("sh").split(";")],
            "signature": m.group("sig").lower()}


def amz_date(headers):
    v = headers.get("X-Amz-Date") or headers.get("x-amz-date")
    if v:
        try:
            return calendar.timegm(time.strptime(v, "%Y%m%dT%H%M%SZ")), v
        except ValueError:
            raise AwsError("IncompleteSignature", f"Date must be in ISO-8601 'basic format'. Got '{v}'",
                           status=403) from None
    d = headers.get("Date")
    if d:
        try:
            import email.utils
            t = email.utils.parsedate_to_datetime(d).timestamp()
            return t, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
        except (TypeError, ValueError):
            pass
    raise AwsError("MissingAuthenticationToken", "Request is missing X-Amz-Date", status=403)


def verify(method, raw_path, headers, body, auth, secret, token, now=None):
    """headers: an http.client.HTTPMessage (case-insensitive). Raises AwsError."""
    ts, stamp = amz_date(headers)
    now = time.time() if now is None else now
    if abs(now - ts) > MAX_SKEW:
        raise AwsError("RequestExpired",
                       f"Request has expired. Timestamp date is {stamp} and the current time is "
                       f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))} (more than 15 minutes apart)",
                       status=400)
    if stamp[:8] != auth["date"]:
        raise AwsError("SignatureDoesNotMatch", "Credential date does not match X-Amz-Date", status=403)
    hdrs = HTTPHeaders()
    for name in auth["signed_headers"]:
        vals = headers.get_all(name) or []
        for v in vals:
            hdrs[name] = v
    if "host" not in hdrs:
        raise AwsError("SignatureDoesNotMatch", "The host header must be signed", status=403)
    req = AWSRequest(method=method, url="http://" + hdrs["host"] + raw_path, headers=hdrs, data=body)
    req.context["timestamp"] = stamp
    signer = _Verifier(Credentials(auth["access_key"], secret, token), auth["service"], auth["region"],
                       auth["signed_headers"])
    cr = signer.canonical_request(req)
    sts = signer.string_to_sign(req, cr)
    sig = signer.signature(sts, req)
    if not hmac.compare_digest(sig, auth["signature"]):
        raise AwsError("SignatureDoesNotMatch",
                       "The request signature we calculated does not match the signature you provided. "
                       "Check your AWS Secret Access Key and signing method. Consult the service "
                       "documentation for details.", status=403)
