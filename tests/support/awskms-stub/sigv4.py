"""SigV4 (AWS4-HMAC-SHA256) for awskms-stub: the signature AWS expects for a request as received,
and the headers of a signed call for test harnesses. Standard library only."""
import datetime
import hashlib
import hmac
import re
import urllib.parse


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def uri_encode(s, keep_slash):
    return urllib.parse.quote(s, safe="-_.~" + ("/" if keep_slash else ""))


def canonical_query(query):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return "&".join("%s=%s" % (uri_encode(k, False), uri_encode(v, False)) for k, v in sorted(pairs))


def client_headers(host, body, target, access_key, secret, region, now=None):
    """The headers of a SigV4-signed KMS call, for test harnesses that call the stand-in directly."""
    when = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    headers = {"content-type": "application/x-amz-json-1.1", "host": host, "x-amz-date": when,
               "x-amz-target": "TrentService." + target}
    names = ";".join(sorted(headers))
    canonical = "\n".join(["POST", "/", "", "".join("%s:%s\n" % (k, headers[k]) for k in sorted(headers)), names,
                           sha256_hex(body)])
    scope = "%s/%s/kms/aws4_request" % (when[:8], region)
    k = hmac256(("AWS4" + secret).encode(), when[:8])
    for p in (region, "kms", "aws4_request"):
        k = hmac256(k, p)
    sig = hmac.new(k, "\n".join(["AWS4-HMAC-SHA256", when, scope, sha256_hex(canonical.encode())]).encode(),
                   hashlib.sha256).hexdigest()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, names, sig)
    del headers["host"]
    return headers


def expected_signature(method, path, query, get_all, names, body, secret, amz_date, scope):
    """The hex signature of a request: `get_all(name)` gives a header's values as received, `names`
    the SignedHeaders list, `scope` [date, region, service, "aws4_request"]."""
    canonical_headers = ""
    for name in names:
        values = get_all(name) or []
        canonical_headers += "%s:%s\n" % (name, ",".join(re.sub(r"\s+", " ", v.strip()) for v in values))
    canonical = "\n".join([method, uri_encode(urllib.parse.unquote(path) or "/", True), canonical_query(query),
                           canonical_headers, ";".join(names), sha256_hex(body)])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, "/".join(scope), sha256_hex(canonical.encode())])
    k = hmac256(("AWS4" + secret).encode(), scope[0])
    for p in scope[1:]:
        k = hmac256(k, p)
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
