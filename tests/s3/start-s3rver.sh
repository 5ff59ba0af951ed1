#!/bin/sh
# start-s3rver.sh DIR [BUCKET...] - start s3rver (an S3-compatible server
# from the npm registry; path-style, S3 error XML) for the tests.
#
# Listens on 127.0.0.1 on a free port (or $S3RVER_PORT: a test that stops
# the server restarts it on the same one), keeps its objects under DIR/data,
# creates each BUCKET (default: tasqly-test), and once it accepts requests
# prints shell assignments for eval (as `./tq test` does):
#   export TASQLY_TEST_S3_ENDPOINT=http://127.0.0.1:PORT
#   export TASQLY_TEST_S3_BUCKET=<first BUCKET>
#   export TASQLY_TEST_S3_DIR=DIR
#   S3RVER_PID=<pid>
# and writes
#   DIR/s3rver.pid   its process id (stop it with: kill "$(cat DIR/s3rver.pid)")
#   DIR/s3rver.url   the endpoint
#   DIR/s3rver.log   its output
# Credentials: access key S3RVER, secret S3RVER (s3rver rejects any other
# key id with 403 InvalidAccessKeyId; it does not verify SigV4 signatures,
# which tests/unit/aws/botocore_diff.py checks against botocore instead).
# Installs s3rver from package-lock.json on first use (npm ci).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
    echo "usage: $0 DIR [BUCKET...]" >&2
    exit 2
fi
dir=$1
shift
[ $# -gt 0 ] || set -- tasqly-test

if [ ! -f "$here/node_modules/s3rver/bin/s3rver.js" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

mkdir -p "$dir/data"
: >"$dir/s3rver.log"
buckets=""
for b in "$@"; do buckets="$buckets --configure-bucket $b"; done
# shellcheck disable=SC2086 # bucket names are plain words
node "$here/node_modules/s3rver/bin/s3rver.js" -d "$dir/data" \
    -a 127.0.0.1 -p "${S3RVER_PORT:-0}" $buckets >"$dir/s3rver.log" 2>&1 &
pid=$!
echo "$pid" >"$dir/s3rver.pid"

i=0
while :; do
    port=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$dir/s3rver.log")
    [ -n "$port" ] && break
    if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 150 ]; then
        echo "s3rver did not start (see $dir/s3rver.log):" >&2
        cat "$dir/s3rver.log" >&2
        kill "$pid" 2>/dev/null || true
        exit 1
    fi
    i=$((i + 1))
    sleep 0.1
done
echo "http://127.0.0.1:$port" >"$dir/s3rver.url"
absdir=$(cd "$dir" && pwd)
echo "export TASQLY_TEST_S3_ENDPOINT=http://127.0.0.1:$port"
echo "export TASQLY_TEST_S3_BUCKET=$1"
echo "export TASQLY_TEST_S3_DIR='$absdir'"
echo "S3RVER_PID=$pid"
