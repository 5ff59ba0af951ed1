#!/usr/bin/python3
"""botocore_diff.py - our SigV4 signer against AWS's own SDK, byte for byte.

s3rver (the S3 stand-in of the integration tests) never checks signatures,
so this is where signing is proven: thousands of generated requests are
signed by botocore (Debian's python3-botocore) and by our signer (through
sigv4_cli, one JSON line per request), and everything that reaches the wire
must match: canonical request, signature, Authorization header, URL path
and query, the X-Amz-* headers.

Two kinds of case:
  * client cases: botocore's real S3 client (put/get/head/delete object,
    list objects, pre-signed GET URLs) with odd keys, path- and
    virtual-host addressing, with and without session tokens; the request
    is captured just before it would be sent.
  * signer cases: botocore's SigV4Auth, S3SigV4Auth, SigV4QueryAuth and
    S3SigV4QueryAuth on generated requests: any method, non-S3 services
    (path normalisation, double encoding), unicode and reserved characters
    in paths, query names and values, repeated and value-less parameters,
    headers with runs of blanks and repeated names, bodies, tokens,
    expiries, dates.

Usage: botocore_diff.py SIGV4_CLI [N_CASES] [SEED]
Exit status 0 when every case matched; prints "N passed, 0 failed".
"""

import base64
import datetime
import hashlib
import json
import random
import subprocess
import sys
import types
from urllib.parse import quote, unquote, urlsplit

import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

# --------------------------------------------------------- a fixed clock

_NOW = [datetime.datetime(2013, 5, 24, 0, 0, 0)]


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return _NOW[0]

    @classmethod
    def now(cls, tz=None):
        return _NOW[0] if tz is None else _NOW[0].replace(tzinfo=tz)


# botocore.auth reads the clock through "datetime.datetime.utcnow()".
botocore.auth.datetime = types.SimpleNamespace(
    datetime=_FrozenDatetime, timedelta=datetime.timedelta
)


def set_now(rng):
    start = datetime.datetime(2000, 1, 1)
    _NOW[0] = start + datetime.timedelta(seconds=rng.randrange(38 * 365 * 86400))
    return _NOW[0].strftime("%Y%m%dT%H%M%SZ")


# ------------------------------------------------------------ generators

ODD = [" ", "+", "~", "%", "=", "&", "?", "#", "!", "'", "(", ")", "*", ",",
       ";", ":", "@", "$", "[", "]", "{", "}", "^", "`", "|", "\\", '"', "<",
       ">", "é", "ß", "ሴ", "日本", "😀", "ключ", "-", "_", ".", "\t"]
PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def word(rng, lo=1, hi=12, odd=0.3):
    out = []
    for _ in range(rng.randint(lo, hi)):
        out.append(rng.choice(ODD) if rng.random() < odd else rng.choice(PLAIN))
    return "".join(out)


def s3_key(rng):
    segs = []
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.05:
            segs.append("")
        elif r < 0.1:
            segs.append(rng.choice([".", ".."]))
        else:
            segs.append(word(rng).replace("\t", "x"))
    key = "/".join(segs)
    return key or "k"


def token(rng):
    if rng.random() < 0.5:
        return None
    alphabet = PLAIN + "/+="
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(16, 700)))


def header_name(rng):
    chars = PLAIN + "-_!#$%&'*+.^`|~"
    name = "x-" + "".join(rng.choice(chars) for _ in range(rng.randint(1, 10)))
    return "".join(c.upper() if rng.random() < 0.3 else c for c in name)


def header_value(rng):
    parts = []
    for _ in range(rng.randint(1, 4)):
        parts.append("".join(rng.choice(PLAIN + "-_./:;=,") for _ in range(rng.randint(0, 8))))
    seps = [" ", "  ", "\t", " \t "]
    v = rng.choice(seps).join(parts)
    if rng.random() < 0.4:
        v = rng.choice(seps) + v + rng.choice(seps)
    return v


# ----------------------------------------------------------------- C side

class Signer:
    def __init__(self, path):
        self.p = subprocess.Popen([path], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True,
                                  encoding="utf-8")

    def __call__(self, req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("sigv4_cli exited")
        return json.loads(line)

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def norm_auth(a):
    # botocore separates the Authorization fields with ", ", AWS's own
    # examples (and we) with ","; both are accepted, the rest must match.
    return a.replace(", ", ",")


def host_of(url):
    return botocore.auth._host_from_url(url)


RESERVED = {"host", "x-amz-date", "x-amz-content-sha256",
            "x-amz-security-token", "authorization"}


TALLY = {}


def tally(case):
    """Count what the generated cases exercised, so a generator that
    stopped producing something is seen in the output."""
    def bump(k):
        TALLY[k] = TALLY.get(k, 0) + 1
    bump(case["mode"] + ("-s3" if case["s3"] else "-generic"))
    if case.get("token"):
        bump("session-token")
    text = case["path"] + "".join(k + v for k, v in case["query"])
    if any(ord(ch) > 127 for ch in text):
        bump("unicode")
    if " " in text or "+" in text or "~" in text:
        bump("space-plus-tilde")
    names = [k for k, _ in case["query"]]
    if len(names) != len(set(names)):
        bump("repeated-query-name")
    if any(v == "" for _, v in case["query"]):
        bump("empty-query-value")
    hn = [k.lower() for k, _ in case["headers"]]
    if len(hn) != len(set(hn)):
        bump("repeated-header")
    if "/./" in case["path"] or "/../" in case["path"] or "//" in case["path"]:
        bump("dot-or-empty-segment")
    if case.get("path_is_encoded"):
        bump("wire-path")


class Failures:
    def __init__(self):
        self.n = 0

    def check(self, what, case, ours, theirs, extra=""):
        if what in ("ok", "sign ok", "presign ok"):
            tally(case)
        if ours == theirs:
            return True
        self.n += 1
        if self.n <= 10:
            print(f"MISMATCH {what} in case {json.dumps(case, ensure_ascii=False)}\n"
                  f"  ours:   {ours!r}\n  botocore: {theirs!r}{extra}",
                  file=sys.stderr)
        return False


# ----------------------------------------------------------- client cases

class Captured(Exception):
    def __init__(self, request):
        self.request = request


def _capture(request, **kwargs):
    raise Captured(request)


_CLIENTS = {}


def make_client(rng, creds, path_style):
    """A botocore S3 client; creating one costs ~0.3 s, so a small pool of
    (credentials, addressing, endpoint, region) combinations is reused."""
    region = rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"])
    if path_style:
        endpoint = rng.choice(["http://127.0.0.1:4569", "http://localhost:9000",
                               "https://s3.%s.amazonaws.com" % region])
    else:
        endpoint = "https://s3.%s.amazonaws.com" % region
    key = (creds.access_key, path_style, endpoint, region)
    if key not in _CLIENTS:
        session = botocore.session.get_session()
        client = session.create_client(
            "s3", region_name=region, endpoint_url=endpoint,
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
            aws_session_token=creds.token,
            config=Config(signature_version="s3v4",
                          s3={"addressing_style": "path" if path_style else "virtual"},
                          retries={"max_attempts": 0}))
        client.meta.events.register("before-send.s3", _capture)
        _CLIENTS[key] = client
    return _CLIENTS[key], region


_CREDS = []


def client_creds(rng):
    """One of a few credential sets: odd secrets, with and without tokens."""
    if not _CREDS:
        r = random.Random(rng.random())
        for i in range(4):
            _CREDS.append(Credentials("AKID" + word(r, 8, 16, 0).upper(),
                                      word(r, 20, 40, 0.1).replace("\t", "x"),
                                      None if i % 2 else token(random.Random(i)) or "tok/+=%d" % i))
    return rng.choice(_CREDS)


def client_case(rng, signer, fails):
    creds = client_creds(rng)
    path_style = rng.random() < 0.6
    client, region = make_client(rng, creds, path_style)
    bucket = rng.choice(["tasqly-media", "examplebucket", "b-1.x"])
    if not path_style:
        bucket = bucket.replace(".", "-")
    key = s3_key(rng)
    date = set_now(rng)
    op = rng.choice(["put", "get", "head", "delete", "list", "presign"])
    base = {"akid": creds.access_key, "secret": creds.secret_key,
            "token": creds.token, "region": region, "service": "s3",
            "s3": True, "date": date}
    raw_path = ("/" + bucket + "/" + key) if path_style else ("/" + key)

    if op == "presign":
        expires = rng.choice([1, 60, 900, 3600, 86400, 604800, rng.randint(1, 604800)])
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
        parts = urlsplit(url)
        case = dict(base, mode="presign", method="GET", host=host_of(url),
                    path=raw_path, query=[], headers=[], expires=expires)
        ours = signer(case)
        if not fails.check("presign ok", case, ours.get("ok"), True):
            return
        fails.check("presign url path", case, ours["url_path"], parts.path)
        fails.check("presign query", case, sorted(ours["url_query"].split("&")),
                    sorted(parts.query.split("&")))
        return

    kwargs = {"Bucket": bucket}
    if op == "list":
        kwargs["Prefix"] = key
        if rng.random() < 0.5:
            kwargs["MaxKeys"] = rng.randint(1, 1000)
        if rng.random() < 0.5:
            kwargs["StartAfter"] = s3_key(rng)
        raw_path = ("/" + bucket) if path_style else "/"
    else:
        kwargs["Key"] = key
    if op == "put":
        kwargs["Body"] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        if rng.random() < 0.7:
            kwargs["ContentType"] = rng.choice(["image/jpeg", "image/png", "image/webp"])
    if op == "get" and rng.random() < 0.5:
        kwargs["Range"] = "bytes=0-%d" % rng.randint(0, 1000)
    fn = {"put": client.put_object, "get": client.get_object,
          "head": client.head_object, "delete": client.delete_object,
          "list": client.list_objects_v2}[op]
    try:
        fn(**kwargs)
        raise RuntimeError("the request was not captured")
    except Captured as c:
        req = c.request
    auth = req.headers["Authorization"]
    auth = auth.decode() if isinstance(auth, bytes) else auth
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = []
    for name in signed:
        if name in RESERVED:
            continue
        v = req.headers.get(name)
        headers.append([name, v.decode() if isinstance(v, bytes) else v])
    parts = urlsplit(req.url)
    query = []
    if parts.query:
        for p in parts.query.split("&"):
            k, _, v = p.partition("=")
            query.append([unquote(k), unquote(v)])
    body = req.body or b""
    if hasattr(body, "read"):
        body = body.read()
    case = dict(base, mode="sign", method=req.method, host=host_of(req.url),
                path=raw_path, query=query, headers=headers,
                body_b64=base64.b64encode(body).decode())
    # Over https with a Content-MD5, botocore chooses not to hash the body;
    # that is a policy, not signing: give our signer the same choice.
    if req.headers.get("X-Amz-Content-SHA256") in ("UNSIGNED-PAYLOAD", b"UNSIGNED-PAYLOAD"):
        del case["body_b64"]
        case["payload_hash"] = "UNSIGNED-PAYLOAD"
    ours = signer(case)
    if not fails.check("sign ok", case, ours.get("ok"), True):
        return
    fails.check("authorization", case, ours["authorization"], norm_auth(auth),
                "\n  canonical request (ours):\n" + ours["canonical_request"])
    fails.check("url path", case, ours["url_path"], parts.path)
    fails.check("url query", case, sorted(filter(None, ours["url_query"].split("&"))),
                sorted(p if "=" in p else p + "=" for p in filter(None, parts.query.split("&"))))
    for name, value in ours["added"]:
        theirs = req.headers.get(name)
        theirs = theirs.decode() if isinstance(theirs, bytes) else theirs
        fails.check("header " + name, case, value, theirs)


# ----------------------------------------------------------- signer cases

def signer_case(rng, signer, fails):
    s3 = rng.random() < 0.4
    presign = rng.random() < 0.35
    service = "s3" if s3 else rng.choice(["secretsmanager", "ses", "execute-api", "email"])
    region = rng.choice(["us-east-1", "eu-central-1", "sa-east-1", "me-south-1"])
    host = rng.choice(["example.amazonaws.com", "127.0.0.1:4569", "[::1]:9000",
                       "secretsmanager.%s.amazonaws.com" % region, "h.example:8443"])
    scheme = "https"
    method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"])
    if presign:
        method = rng.choice(["GET", "PUT", "HEAD", "DELETE"])
    raw_path = "/" + "/".join(
        rng.choice(["", ".", "..", word(rng)]) if rng.random() < 0.15 else word(rng)
        for _ in range(rng.randint(0, 4)))
    raw_path = raw_path.replace("\t", "x")
    wire = rng.random() < 0.15 and not s3  # path given already encoded
    if wire:
        # As sent on the wire, a path cannot hold the query and fragment
        # delimiters; everything else (even '%' and UTF-8) can.
        raw_path = raw_path.replace("?", "Q").replace("#", "H")
    url_path = raw_path if wire else quote(raw_path, safe="/~")
    url = "%s://%s%s" % (scheme, host, url_path)

    params = []
    used = set()
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        k = word(rng, 1, 8).replace("\t", "x")
        if params and not presign and rng.random() < 0.25:
            k = params[0][0]  # a repeated name: sorted by value too
        elif k in used or k.startswith("X-Amz-"):
            continue
        used.add(k)
        v = "" if rng.random() < 0.2 else word(rng, 0, 12).replace("\t", "x")
        params.append((k, v))
    headers = []
    for _ in range(rng.choice([0, 1, 2, 4])):
        headers.append((header_name(rng), header_value(rng)))
    if headers and rng.random() < 0.3:
        headers.append((headers[0][0].upper(), header_value(rng)))
    body = b""
    if not presign and method in ("PUT", "POST", "PATCH") and rng.random() < 0.7:
        body = bytes(rng.randrange(256) for _ in range(rng.randint(1, 500)))
    tok = token(rng)
    creds = Credentials("AKIA" + word(rng, 12, 16, 0).upper(),
                        word(rng, 20, 40, 0.2).replace("\t", "x"), tok)
    date = set_now(rng)
    expires = rng.choice([1, 300, 900, 3600, 604800, rng.randint(1, 604800)])

    req = AWSRequest(method=method, url=url, data=body, params=params)
    for k, v in headers:
        req.headers[k] = v  # appends: repeated names stay repeated
    if presign:
        cls = botocore.auth.S3SigV4QueryAuth if s3 else botocore.auth.SigV4QueryAuth
        auth = cls(creds, service, region, expires=expires)
    else:
        cls = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
        auth = cls(creds, service, region)
    # Keep the canonical request botocore computes while signing (after
    # signing, the request carries an Authorization header that would
    # change it).
    seen = {}
    original = auth.canonical_request

    def record(r):
        seen["cr"] = original(r)
        return seen["cr"]

    auth.canonical_request = record
    auth.add_auth(req)
    theirs_cr = seen.get("cr")

    case = {"mode": "presign" if presign else "sign", "method": method,
            "host": host_of(url), "path": url_path if wire else raw_path,
            "path_is_encoded": wire, "query": [list(p) for p in params],
            "headers": [list(h) for h in headers],
            "body_b64": base64.b64encode(body).decode(), "region": region,
            "service": service, "date": date, "s3": s3,
            "akid": creds.access_key, "secret": creds.secret_key,
            "token": tok, "expires": expires}
    if presign:
        del case["body_b64"]
    ours = signer(case)
    if not fails.check("ok", case, ours.get("ok"), True):
        return
    fails.check("canonical request", case, ours["canonical_request"], theirs_cr)
    if presign:
        parts = urlsplit(req.url)
        sig = [p for p in parts.query.split("&") if p.startswith("X-Amz-Signature=")]
        fails.check("presign signature", case, ours["signature"],
                    sig[0].split("=", 1)[1] if sig else None)
        fails.check("presign query", case, sorted(ours["url_query"].split("&")),
                    sorted(parts.query.split("&")))
        fails.check("presign path", case, ours["url_path"], parts.path)
    else:
        fails.check("authorization", case, ours["authorization"],
                    norm_auth(req.headers["Authorization"]))
        fails.check("url path", case, ours["url_path"], urlsplit(url).path)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20260101
    rng = random.Random(seed)
    signer = Signer(sys.argv[1])
    fails = Failures()
    cases = failed = 0
    kinds = {"client": 0, "signer": 0}
    for i in range(n):
        before = fails.n
        if i % 5 == 0:
            client_case(rng, signer, fails)
            kinds["client"] += 1
        else:
            signer_case(rng, signer, fails)
            kinds["signer"] += 1
        cases += 1
        failed += fails.n > before
        if failed > 50:
            break
    signer.close()
    print("botocore %s, seed %d: %d S3 client cases, %d signer cases"
          % (botocore.__version__, seed, kinds["client"], kinds["signer"]))
    print("exercised: " + ", ".join("%s %d" % kv for kv in sorted(TALLY.items())))
    print("%d passed, %d failed" % (cases - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
