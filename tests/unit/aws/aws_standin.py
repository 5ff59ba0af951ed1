#!/usr/bin/python3
"""aws_standin.py - the AWS endpoints no real stand-in exists for here.

s3rver covers S3.  EC2 instance metadata (IMDSv2) and Secrets Manager have
no server in Debian or npm, so test_aws_client talks to this one, which
follows the documented protocols and checks what a lenient stand-in would
not:

  IMDSv2      PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds
              (1..21600); every metadata GET needs a live token (else 401,
              as IMDS does when v1 is disabled).  "hop" mode accepts the
              token PUT and never answers, as a container one hop too far
              sees it.
  Secrets     POST / with X-Amz-Target: secretsmanager.GetSecretValue.  The
  Manager     signature is recomputed with botocore (AWS's SDK) over the
              headers the request says it signed, and must match byte for
              byte; host, x-amz-date, x-amz-target and content-type must be
              among them.  Wrong -> 403 InvalidSignatureException.
  /flaky/...  500 InternalError (S3 XML) for the first N requests, then 200.
  /hang       accepts and never answers.
  /_control   ?key=value sets a knob; /_stats returns the counters (JSON).

Usage: aws_standin.py PORT_FILE   (binds 127.0.0.1:0, writes the port)
"""

import datetime
import json
import sys
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AKID = "AKIDSTANDIN"
SECRET = "standin/secret+key"
SECRETS = {
    "tasqly/app": json.dumps({"db_password": "p@ss w0rd", "port": 5432,
                              "debug": True, "nested": {"a": 1}}),
    "plain": "hunter2",
}

lock = threading.Lock()
stats = {"token_puts": 0, "role_lists": 0, "creds_fetches": 0,
         "secret_calls": 0, "bad_signatures": 0, "flaky": 0,
         "last_region": "", "last_ttl_header": ""}
knobs = {"hop": "0", "expires_in": "3600", "creds_delay_ms": "0",
         "flaky_failures": "2"}
tokens = set()
creds_serial = [0]

_NOW = [None]


class _Frozen(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return _NOW[0]


botocore.auth.datetime = types.SimpleNamespace(datetime=_Frozen,
                                               timedelta=datetime.timedelta)


def bump(k, v=1):
    with lock:
        stats[k] += v


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ----------------------------------------------------------- IMDS
    def do_PUT(self):
        path = urlsplit(self.path).path
        self.body()
        if path == "/latest/api/token":
            bump("token_puts")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            with lock:
                stats["last_ttl_header"] = ttl or ""
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.send(400, "bad ttl", "text/plain")
            if knobs["hop"] == "1":
                time.sleep(5)  # the answer never makes it back
                return
            tok = "TOKEN-%d" % stats["token_puts"]
            with lock:
                tokens.add(tok)
            return self.send(200, tok, "text/plain",
                             {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
        return self.send(404, "not found", "text/plain")

    def do_GET(self):
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/_stats":
            with lock:
                return self.send(200, json.dumps(stats))
        if path == "/_control":
            q = parse_qs(parts.query)
            with lock:
                for k, v in q.items():
                    if k == "reset":
                        for s in stats:
                            stats[s] = 0 if isinstance(stats[s], int) else ""
                        tokens.clear()
                    else:
                        knobs[k] = v[0]
            return self.send(200, "{}")
        if path == "/hang":
            time.sleep(5)
            return
        if path.startswith("/flaky/"):
            bump("flaky")
            if stats["flaky"] <= int(knobs["flaky_failures"]):
                return self.send(500, "<?xml version=\"1.0\"?><Error><Code>"
                                 "InternalError</Code><Message>We encountered"
                                 " an internal error.</Message></Error>",
                                 "application/xml")
            return self.send(200, "ok", "text/plain")
        if path.startswith("/latest/meta-data/"):
            tok = self.headers.get("X-aws-ec2-metadata-token")
            with lock:
                ok = tok in tokens
            if not ok:
                return self.send(401, "", "text/plain")
            base = "/latest/meta-data/iam/security-credentials/"
            if path == base:
                bump("role_lists")
                return self.send(200, "tasqly-role\n", "text/plain")
            if path == base + "tasqly-role":
                bump("creds_fetches")
                time.sleep(int(knobs["creds_delay_ms"]) / 1000.0)
                with lock:
                    creds_serial[0] += 1
                    n = creds_serial[0]
                exp = datetime.datetime.utcnow() + datetime.timedelta(
                    seconds=int(knobs["expires_in"]))
                return self.send(200, json.dumps({
                    "Code": "Success", "Type": "AWS-HMAC",
                    "LastUpdated": "2026-01-01T00:00:00Z",
                    "AccessKeyId": "ASIAIMDS%d" % n,
                    "SecretAccessKey": "imds-secret-%d" % n,
                    "Token": "imds-token-%d/+=" % n,
                    "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}))
            return self.send(404, "", "text/plain")
        return self.send(404, "not found", "text/plain")

    # ------------------------------------------------ Secrets Manager
    def do_POST(self):
        body = self.body()
        if self.headers.get("X-Amz-Target") != "secretsmanager.GetSecretValue":
            return self.send(400, json.dumps({"__type": "UnknownOperation"}))
        bump("secret_calls")
        auth = self.headers.get("Authorization", "")
        try:
            cred = auth.split("Credential=")[1].split(",")[0]
            akid, date, region, service, _ = cred.split("/")
            signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        except (IndexError, ValueError):
            return self.bad_sig("malformed Authorization: %r" % auth)
        with lock:
            stats["last_region"] = region
        for must in ("host", "x-amz-date", "x-amz-target", "content-type"):
            if must not in signed:
                return self.bad_sig("%s is not signed" % must)
        if akid != AKID or service != "secretsmanager":
            return self.bad_sig("unknown key %s or service %s" % (akid, service))
        amz_date = self.headers.get("X-Amz-Date", "")
        _NOW[0] = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        req = AWSRequest(method="POST", url="http://%s%s" % (
            self.headers["Host"], self.path), data=body)
        for name in signed:
            if name in ("x-amz-date", "authorization"):
                continue
            req.headers[name] = self.headers.get(name)
        tok = self.headers.get("X-Amz-Security-Token")
        signer = botocore.auth.SigV4Auth(Credentials(AKID, SECRET, tok),
                                         "secretsmanager", region)
        signer.add_auth(req)
        theirs = req.headers["Authorization"].replace(", ", ",")
        if theirs != auth.replace(", ", ","):
            return self.bad_sig("expected %s" % theirs)
        secret_id = json.loads(body or b"{}").get("SecretId", "")
        name = secret_id.split(":secret:")[-1]
        if name not in SECRETS:
            return self.send(400, json.dumps({
                "__type": "ResourceNotFoundException",
                "Message": "Secrets Manager can't find the specified secret."}),
                "application/x-amz-json-1.1")
        return self.send(200, json.dumps({
            "ARN": "arn:aws:secretsmanager:%s:123456789012:secret:%s" % (region, name),
            "Name": name, "SecretString": SECRETS[name],
            "VersionId": "v1"}), "application/x-amz-json-1.1")

    def bad_sig(self, why):
        bump("bad_signatures")
        sys.stderr.write("aws_standin: bad signature: %s\n" % why)
        return self.send(403, json.dumps({
            "__type": "InvalidSignatureException", "message": why}),
            "application/x-amz-json-1.1")


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
