#!/usr/bin/python3
"""The routes tasqlyd serves (with every real plugin built) and the
operations openapi.yaml describes are the same set.

usage: test_openapi.py TASQLYD BUILD_ROOT SOURCE_ROOT
"""
import os
import subprocess
import sys
import tempfile

import yaml

tasqlyd, build, source = sys.argv[1:4]
plugins = [p for p in ("groups", "tasks", "expenses", "media", "landlord", "notify")
           if os.path.exists(os.path.join(build, "plugins", p, p + ".so"))]
if not plugins:
    print("FAIL: no plugin built under", build)
    sys.exit(1)
manifest = (
    "database:\n  url: postgresql:///unused\n"
    "auth:\n  token_secret: 0123456789abcdef0123456789abcdef0123\n"
    "paths:\n  var: %s\n  plugins: %s\n"
    "plugins:\n%s" % (tempfile.gettempdir(), os.path.join(build, "plugins"),
                      "".join("  - name: %s\n    enabled: true\n" % p for p in plugins)))
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    f.write(manifest)
out = subprocess.run([tasqlyd, "--config", f.name, "--list-routes"],
                     capture_output=True, text=True)
os.unlink(f.name)
if out.returncode != 0:
    print("FAIL: tasqlyd --list-routes:", out.stderr)
    sys.exit(1)
served = {(l.split()[0], l.split()[1]) for l in out.stdout.splitlines() if l.strip()}

spec = yaml.safe_load(open(os.path.join(source, "openapi.yaml")))
assert str(spec.get("openapi", "")).startswith("3.1"), "openapi.yaml is not OpenAPI 3.1"
described = set()
for path, item in spec["paths"].items():
    for method in item:
        if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            described.add((method.upper(), path))

ok = True
for m, p in sorted(served - described):
    print("FAIL: served but not in openapi.yaml: %s %s" % (m, p))
    ok = False
for m, p in sorted(described - served):
    print("FAIL: in openapi.yaml but not served: %s %s" % (m, p))
    ok = False
print("%d routes served by %s, %d operations described" %
      (len(served), ", ".join(["tasqly"] + plugins), len(described)))
sys.exit(0 if ok else 1)
