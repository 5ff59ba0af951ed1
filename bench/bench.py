#!/usr/bin/python3
"""bench.py - the parts of the benchmark harness that are easier in Python
than in bash: writing the manifest, logging the bench users in, timing
start-up, measuring a scenario (CPU and RSS from /proc around wrk or
pgbench), capturing the SQL a request runs and turning it into a pgbench
script, and writing the results file.  bench/run calls it; nothing here
starts or stops PostgreSQL or tasqlyd for long (start-up timing starts
and stops its own copies).

Standard library only (plus PyYAML, which Debian's python3 carries, for
the manifest).  Every subcommand writes JSON or text files into the run's
temporary folder; `report` reads them all.
"""
import argparse
import concurrent.futures
import csv
import glob
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def die(msg):
    print("bench.py: " + msg, file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------------ /proc

def proc_stat(pid):
    """(utime+stime, cutime+cstime, ppid) in clock ticks, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): utime is field 14, so rest[11].
    return (int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14]),
            int(rest[1]))


def proc_status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[2] == ppid:
                out.append(int(d))
    return out


def pg_ticks(postmaster):
    """CPU of the whole PostgreSQL server: the postmaster, its reaped
    children (cutime) and the live ones.  Backends that exit between two
    readings move from the live sum to cutime, so deltas stay right."""
    st = proc_stat(postmaster)
    if not st:
        return 0
    total = st[0] + st[1]
    for c in children(postmaster):
        cs = proc_stat(c)
        if cs:
            total += cs[0]
    return total


def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]), idle


def postmaster_pid(pgdata):
    with open(os.path.join(pgdata, "postmaster.pid")) as f:
        return int(f.readline())


# ------------------------------------------------------------------ http

def http(method, url, body=None, token=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def psql(args, sql):
    r = subprocess.run(["psql", "-X", "-q", "-tA", "-F", "\t",
                        "-v", "ON_ERROR_STOP=1"] + args + ["-c", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        die("psql failed: %s\n%s" % (sql[:200], r.stderr))
    return [l.split("\t") for l in r.stdout.splitlines() if l]


# -------------------------------------------------------------- manifest

def cmd_manifest(a):
    """The bench manifest: the repository's tasqly.yaml plugin entries (its
    configs are the ones that work in development) for every plugin that
    was built, enabled; server, database and auth set for the bench."""
    import yaml
    with open(a.template) as f:
        tmpl = yaml.safe_load(f) or {}
    override = {}
    if a.plugin_config:
        with open(a.plugin_config) as f:
            override = yaml.safe_load(f) or {}
    plugins = []
    for p in tmpl.get("plugins") or []:
        name = p.get("name")
        so1 = os.path.join(a.plugin_dir, name + ".so")
        so2 = os.path.join(a.plugin_dir, name, name + ".so")
        if os.path.exists(so1) or os.path.exists(so2):
            q = dict(p)
            q["enabled"] = True
            if name in override:
                q["config"] = override[name] or {}
            plugins.append(q)
    m = {
        "server": {"listen": a.listen, "io_threads": a.io_threads,
                   "workers": a.workers, "log_level": a.log_level,
                   "admin_token": "bench-admin-token-0123456789"},
        "database": {"url": a.db_url, "pool": a.workers},
        "auth": {"token_secret": "bench-secret-" + "x" * 40,
                 "access_ttl": 86400,
                 # Low cost so hundreds of logins take seconds; the
                 # scenarios never hash a password.
                 "scrypt": {"n": 1024, "r": 8, "p": 1}},
        "paths": {"var": a.var, "plugins": a.plugin_dir,
                  "mail_spool": os.path.join(a.var, "mail")},
        "plugins": plugins,
    }
    with open(a.out, "w") as f:
        f.write("# Written by bench/run for one benchmark run.\n")
        yaml.safe_dump(m, f, sort_keys=False)
    print(" ".join(p["name"] for p in plugins))


# ----------------------------------------------------------------- login

def cmd_login(a):
    """Log in the first --max bench users (bench.pairs order, which is
    also what pgbench draws from) and write users.tsv (token, gid, uid)
    and tasks.tsv (gid, tid of open tasks in their groups)."""
    pg = a.psql.split()
    rows = psql(pg, "SELECT n, gid, uid FROM bench.pairs ORDER BY n LIMIT %d"
                % a.max)
    ids = {r[2]: r for r in rows}
    emails = psql(pg, "SELECT u.id, t.email FROM bench.users u JOIN "
                      "tasqly.users t USING (id) WHERE u.n <= %d" % len(rows))
    todo = [(e, ids[uid]) for uid, e in emails if uid in ids]

    def one(item):
        email, (n, gid, uid) = item
        for attempt in range(5):
            st, body = http("POST", a.url + "/v1/auth/login",
                            {"email": email, "password": a.password})
            if st == 200:
                return json.loads(body)["access_token"], gid, uid
            if st not in (429, 503):
                break
            time.sleep(0.5 * (attempt + 1))
        die("login %s: HTTP %d %s" % (email, st, body[:300]))

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(a.parallel) as ex:
        out = list(ex.map(one, todo))
    with open(os.path.join(a.dir, "users.tsv"), "w") as f:
        for tok, gid, uid in out:
            f.write("%s\t%s\t%s\n" % (tok, gid, uid))
    tasks = psql(pg, "SELECT t.group_id, t.id FROM tasks.tasks t WHERE "
                     "t.status = 'open' AND t.group_id IN (SELECT gid FROM "
                     "bench.pairs WHERE n <= %d) ORDER BY t.id" % len(rows))
    with open(os.path.join(a.dir, "tasks.tsv"), "w") as f:
        for gid, tid in tasks:
            f.write("%s\t%s\n" % (gid, tid))
    print("logged in %d users in %.1f s; %d open tasks in their groups"
          % (len(out), time.monotonic() - t0, len(tasks)))


# --------------------------------------------------------------- startup

def get_status(host, port, path, timeout=1.0):
    try:
        s = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                   % (path, host)).encode())
        line = s.recv(64).split(b"\r\n")[0].split()
        return int(line[1]) if len(line) > 1 else None
    except (OSError, ValueError):
        return None
    finally:
        s.close()


def cmd_startup(a):
    """Time from exec to the first /readyz 200 on a migrated database, and
    the RSS right then (every plugin loaded, no request served yet)."""
    host, port = a.listen.rsplit(":", 1)
    port = int(port)
    runs = []
    for i in range(a.runs):
        log = open(os.path.join(a.dir, "startup-%d.log" % i), "w")
        t0 = time.monotonic()
        p = subprocess.Popen([a.bin, "--config", a.config], stdout=log,
                             stderr=subprocess.STDOUT, cwd=a.cwd)
        ready = None
        while time.monotonic() - t0 < 30:
            if p.poll() is not None:
                die("tasqlyd exited with %d during start-up; see %s"
                    % (p.returncode, log.name))
            if get_status(host, port, "/readyz") == 200:
                ready = time.monotonic() - t0
                break
            time.sleep(0.001)
        if ready is None:
            p.kill()
            die("tasqlyd was not ready within 30 s; see " + log.name)
        rss = proc_status_kib(p.pid, "VmRSS")
        time.sleep(0.5)  # settle: threads and connections all up
        rss_settled = proc_status_kib(p.pid, "VmRSS")
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            die("tasqlyd did not stop within 20 s of SIGTERM")
        log.close()
        runs.append({"ready_ms": ready * 1000, "rss_kib": rss,
                     "rss_settled_kib": rss_settled,
                     "exit": p.returncode})
    ms = [r["ready_ms"] for r in runs]
    out = {"runs": runs, "ready_ms_median": statistics.median(ms),
           "ready_ms_min": min(ms), "ready_ms_max": max(ms),
           "rss_kib_median": statistics.median(r["rss_kib"] for r in runs),
           "rss_settled_kib_median":
               statistics.median(r["rss_settled_kib"] for r in runs)}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print("ready in %.1f ms (median of %d; %.1f..%.1f), RSS %d KiB"
          % (out["ready_ms_median"], len(ms), min(ms), max(ms),
             out["rss_kib_median"]))


# -------------------------------------------------------------- scenario

def snapshot(pid, postmaster):
    st = proc_stat(pid)
    tot, idle = machine_ticks()
    return {"tq": st[0] if st else 0, "pg": pg_ticks(postmaster),
            "all": tot, "idle": idle, "t": time.monotonic()}


def parse_pgbench(out, prefix):
    r = {}
    m = re.search(r"^tps = ([\d.]+) \(without initial connection time\)",
                  out, re.M)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    r["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"number of failed transactions: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"latency average = ([\d.]+) ms", out)
    r["lat_mean_us"] = float(m.group(1)) * 1000 if m else 0
    lat = []
    for fn in glob.glob(prefix + ".*"):
        with open(fn) as f:
            for line in f:
                v = line.split()
                if len(v) >= 3 and v[2].isdigit():
                    lat.append(int(v[2]))
        os.unlink(fn)
    lat.sort()
    if lat:
        def pct(p):
            return lat[min(len(lat) - 1, int(len(lat) * p / 100.0))]
        r.update(lat_p50_us=pct(50), lat_p90_us=pct(90), lat_p99_us=pct(99),
                 lat_p999_us=pct(99.9), lat_max_us=lat[-1])
    r["socket_errors"] = {}
    return r


def background_pct(pid, postmaster, seconds=1.0):
    """How busy the machine is with work other than tasqlyd and
    PostgreSQL while we send no load, in % of all CPUs."""
    s0 = snapshot(pid, postmaster)
    time.sleep(seconds)
    s1 = snapshot(pid, postmaster)
    busy = ((s1["all"] - s0["all"]) - (s1["idle"] - s0["idle"])
            - (s1["tq"] - s0["tq"]) - (s1["pg"] - s0["pg"]))
    return max(0.0, 100.0 * busy / max(1, s1["all"] - s0["all"]))


def cmd_scenario(a):
    """Run one load command (after --) and record, around it, the CPU
    seconds of tasqlyd, of PostgreSQL and of the machine, and tasqlyd's
    peak RSS during the run (VmHWM, reset just before).  First wait, up
    to --quiet-wait seconds, for other work on the machine to fall below
    --quiet-pct (a shared machine); what it was is recorded either way."""
    pm = postmaster_pid(a.pgdata)
    t_wait = time.monotonic()
    bg = background_pct(a.pid, pm)
    while bg > a.quiet_pct and time.monotonic() - t_wait < a.quiet_wait:
        time.sleep(2)
        bg = background_pct(a.pid, pm)
    waited = time.monotonic() - t_wait - 1.0
    try:
        with open("/proc/%d/clear_refs" % a.pid, "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        hwm_reset = True
    except OSError:
        hwm_reset = False
    rss0 = proc_status_kib(a.pid, "VmRSS")
    s0 = snapshot(a.pid, pm)
    env = dict(os.environ, BENCH_OUT=a.out + ".load")
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    nkids = len(children(pm))
    r = subprocess.run(a.command, capture_output=True, text=True, env=env)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # pgbench's backends exit as it does: wait until the postmaster has
    # reaped them, so their CPU is in its cutime and not lost between
    # the two reads of pg_ticks().
    t_end = time.monotonic() + 10
    while len(children(pm)) > nkids and time.monotonic() < t_end:
        time.sleep(0.05)
    s1 = snapshot(a.pid, pm)
    with open(a.out + ".txt", "w") as f:
        f.write("$ " + " ".join(a.command) + "\n" + r.stdout + r.stderr)
    if r.returncode != 0:
        die("%s failed (%d):\n%s%s" % (a.command[0], r.returncode, r.stdout,
                                       r.stderr))
    if a.kind == "pgbench":
        res = parse_pgbench(r.stdout, a.log_prefix)
    else:
        try:
            with open(a.out + ".load") as f:
                res = json.load(f)
            os.unlink(a.out + ".load")
        except (OSError, ValueError) as e:
            die("%s wrote no summary (%s):\n%s%s" % (a.command[0], e, r.stdout,
                                                      r.stderr))
    wall = s1["t"] - s0["t"]
    busy = (s1["all"] - s0["all"]) - (s1["idle"] - s0["idle"])
    res.update({
        "name": a.name, "kind": a.kind, "wall_s": wall,
        "tq_cpu_s": (s1["tq"] - s0["tq"]) / CLK_TCK,
        "pg_cpu_s": (s1["pg"] - s0["pg"]) / CLK_TCK,
        "machine_busy_cpu_s": busy / CLK_TCK,
        # The load generator (wrk or pgbench), and whatever else ran on
        # the machine meanwhile (a noisy neighbour shows up here).
        "load_cpu_s": (ru1.ru_utime - ru0.ru_utime) +
                      (ru1.ru_stime - ru0.ru_stime),
        "ncpu": os.cpu_count(),
        "tq_rss_before_kib": rss0,
        "tq_rss_after_kib": proc_status_kib(a.pid, "VmRSS"),
        "tq_peak_rss_kib": proc_status_kib(a.pid, "VmHWM"),
        "tq_peak_is_run_peak": hwm_reset,
        "tq_threads": proc_status_kib(a.pid, "Threads"),
        "background_pct_before": bg,
        "quiet_waited_s": max(0.0, waited),
    })
    if a.extra:
        res.update(json.loads(a.extra))
    res["other_cpu_s"] = max(0.0, res["machine_busy_cpu_s"] - res["tq_cpu_s"]
                             - res["pg_cpu_s"] - res["load_cpu_s"])
    res["tq_cpu_us_per_req"] = (res["tq_cpu_s"] * 1e6 / res["requests"]
                                if res.get("requests") else None)
    res["pg_cpu_us_per_req"] = (res["pg_cpu_s"] * 1e6 / res["requests"]
                                if res.get("requests") else None)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    nerr = res.get("non2xx", 0) + sum(res.get("socket_errors", {}).values())
    print("%-10s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms  "
          "errors %d  CPU-s tasqlyd %.1f (%.0f us/req) pg %.1f load %.1f "
          "other %.1f  peak RSS %.1f MiB"
          % (a.name, res["rps"], res.get("lat_p50_us", 0) / 1000,
             res.get("lat_p99_us", 0) / 1000, res.get("lat_max_us", 0) / 1000,
             nerr, res["tq_cpu_s"], res["tq_cpu_us_per_req"] or 0,
             res["pg_cpu_s"], res["load_cpu_s"], res["other_cpu_s"],
             (res["tq_peak_rss_kib"] or 0) / 1024))


# --------------------------------------------------------------- capture

PARAM_RE = re.compile(r"\$(\d+) = (NULL|'((?:[^']|'')*)')")


def read_csvlogs(pgdata, since_size):
    rows = []
    for fn in sorted(glob.glob(os.path.join(pgdata, "log", "*.csv"))):
        with open(fn, newline="") as f:
            f.seek(since_size.get(fn, 0))
            rows.extend(csv.reader(f))
    return rows


def csv_sizes(pgdata):
    return {fn: os.path.getsize(fn)
            for fn in glob.glob(os.path.join(pgdata, "log", "*.csv"))}


def substitute(sql, names):
    """Replace $n outside quotes with names[n]."""
    out, i, q = [], 0, False
    while i < len(sql):
        ch = sql[i]
        if ch == "'":
            q = not q
        if ch == "$" and not q:
            m = re.match(r"\$(\d+)", sql[i:])
            if m:
                out.append(names[int(m.group(1))])
                i += len(m.group(0))
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def cmd_capture(a):
    """Log every statement (log_statement = all) while one request of
    scenario 1 runs, keep the statements of the backend that served it,
    and write them as a pgbench script in which the group and the user
    come from bench.pairs and every other parameter keeps the value the
    request sent."""
    pg = a.psql.split()
    psql(pg, "ALTER SYSTEM SET log_statement = 'all'")
    psql(pg, "SELECT pg_reload_conf()")
    time.sleep(0.5)
    sizes = csv_sizes(a.pgdata)
    path = "/v1/groups/%s/tasks?limit=20" % a.gid
    st, body = http("GET", a.url + path, token=a.token)
    time.sleep(0.5)  # the collector writes asynchronously
    rows = read_csvlogs(a.pgdata, sizes)
    psql(pg, "ALTER SYSTEM RESET log_statement")
    psql(pg, "SELECT pg_reload_conf()")
    if st != 200:
        die("capture request %s answered %d: %s" % (path, st, body[:300]))

    # csvlog columns: 3 process_id, 13 message, 14 detail.
    stmts = []
    for r in rows:
        if len(r) < 15:
            continue
        msg, detail = r[13], r[14]
        m = re.match(r"(?:execute [^:]*|statement): (.*)", msg, re.S)
        if not m:
            continue
        params = {}
        for pm in PARAM_RE.finditer(detail or ""):
            params[int(pm.group(1))] = (None if pm.group(2) == "NULL"
                                        else pm.group(3).replace("''", "'"))
        stmts.append({"pid": r[3], "sql": m.group(1), "params": params,
                      "named": msg.startswith("execute ") and
                      not msg.startswith("execute <unnamed>")})
    pids = {s["pid"] for s in stmts if a.gid in s["params"].values()}
    if len(pids) != 1:
        die("capture: expected the request's statements on one backend, "
            "found %d backends using group %s (is log_statement honoured? "
            "see %s/log)" % (len(pids), a.gid, a.pgdata))
    mine = [s for s in stmts if s["pid"] in pids]

    consts, lines, shown = {}, [], []
    for k, s in enumerate(mine, 1):
        names = {}
        for n, v in s["params"].items():
            if v is None:
                names[n] = "NULL"
            elif v == a.gid:
                names[n] = ":gid"
            elif v == a.uid:
                names[n] = ":uid"
            else:
                c = "s%dp%d" % (k, n)
                consts[c] = v
                names[n] = ":" + c
        sql = s["sql"].strip().rstrip(";")
        lines.append(substitute(sql, names) + ";")
        shown.append({"sql": sql, "params": s["params"], "named": s["named"]})

    npairs = int(psql(pg, "SELECT count(*) FROM bench.pairs WHERE n <= %d"
                      % a.npairs)[0][0])
    script = [
        "-- Scenario 4: the statements one GET /v1/groups/{gid}/tasks?limit=20",
        "-- ran in tasqlyd, as PostgreSQL logged them (bench/bench.py capture).",
        "-- $n became pgbench variables: the group and the user from",
        "-- bench.pairs (the same pairs wrk uses, re-drawn every 100",
        "-- transactions: a 1 % overhead), the others the values the request",
        "-- sent (-D sNpM=...); a NULL parameter is written as NULL.",
        "\\if :i % 100 = 0",
        "\\set r random(1, %d)" % npairs,
        "SELECT gid, uid FROM bench.pairs WHERE n = :r \\gset",
        "\\endif",
        "\\set i :i + 1",
    ] + lines
    with open(os.path.join(a.dir, "scenario4.sql"), "w") as f:
        f.write("\n".join(script) + "\n")
    with open(os.path.join(a.dir, "scenario4.args"), "w") as f:
        f.write("-D\ni=0\n")
        for c, v in consts.items():
            f.write("-D\n%s=%s\n" % (c, v))
    with open(os.path.join(a.dir, "statements.json"), "w") as f:
        json.dump({"request": "GET " + path, "statements": shown,
                   "pgbench_script": script, "constants": consts}, f,
                  indent=1)

    # The plans, with the request's own values (EXPLAIN of a prepared
    # statement, as the server runs it).
    plans = []
    for k, s in enumerate(mine, 1):
        if not s["params"] or not s["sql"].lstrip().upper().startswith(
                ("SELECT", "WITH")):
            continue
        vals = ", ".join("NULL" if s["params"][n] is None else
                         "'" + s["params"][n].replace("'", "''") + "'"
                         for n in sorted(s["params"]))
        r = subprocess.run(
            ["psql", "-X", "-q", "-tA"] + pg +
            ["-c", "PREPARE q AS " + s["sql"],
             "-c", "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q(%s)" % vals],
            capture_output=True, text=True)
        plans.append({"n": k, "plan": r.stdout + r.stderr})
    with open(os.path.join(a.dir, "plans.json"), "w") as f:
        json.dump(plans, f, indent=1)
    print("captured %d statements (%d constants) of one request"
          % (len(mine), len(consts)))


# ---------------------------------------------------------------- pgstat

def cmd_pgstat(a):
    """pg_stat_statements since the last reset: the statements a scenario
    ran, with calls and mean execution time."""
    pg = a.psql.split()
    rows = psql(pg, "SELECT calls, round(mean_exec_time::numeric * 1000, 1),"
                    " round(total_exec_time::numeric, 1), rows,"
                    " regexp_replace(query, '\\s+', ' ', 'g')"
                    " FROM pg_stat_statements ORDER BY calls DESC LIMIT %d"
                    % a.limit)
    out = [{"calls": int(r[0]), "mean_us": float(r[1]),
            "total_ms": float(r[2]), "rows": int(r[3]), "query": r[4]}
           for r in rows]
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    if a.reset:
        psql(pg, "SELECT pg_stat_statements_reset()")


# ---------------------------------------------------------------- report

def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def ms(us):
    return "%.2f" % (us / 1000.0) if us is not None else "-"


def mib(kib):
    return "%.1f" % (kib / 1024.0) if kib else "-"


def verdict(ok):
    return "met" if ok else "**missed**"


def cmd_report(a):
    d = a.dir
    meta = load(os.path.join(d, "meta.json"), {})
    sc = {n: load(os.path.join(d, n + ".json")) for n in
          ("hot_read", "mixed", "healthz", "db_ceiling")}
    start = load(os.path.join(d, "startup.json"), {})
    idle = load(os.path.join(d, "idle.json"), {})
    sweep = sorted((load(f) for f in glob.glob(os.path.join(d, "sweep-*.json"))),
                   key=lambda r: (r.get("io_threads", 0), r.get("workers", 0),
                                  r.get("scenario", "")))
    stm = load(os.path.join(d, "statements.json"), {})
    plans = load(os.path.join(d, "plans.json"), [])
    pgs = {n: load(os.path.join(d, "pgstat-%s.json" % n), [])
           for n in ("hot_read", "mixed")}

    L = []
    w = L.append
    w("# Benchmark %s (%s)" % (meta.get("date", "?"), meta.get("commit", "?")))
    w("")
    w("Produced by `bench/run %s`." % meta.get("args", ""))
    w("")
    w("## Machine and settings")
    w("")
    for k in ("cpu", "nproc", "memory", "kernel", "postgres", "wrk",
              "compiler", "commit", "size", "duration", "connections",
              "wrk_threads", "workers", "io_threads", "log_level", "plugins",
              "pg_settings"):
        if k in meta:
            w("- %s: %s" % (k.replace("_", " "), meta[k]))
    w("")
    w("Server, PostgreSQL and the load generator share the machine. "
      "CPU seconds are user+system over the run, from /proc; tasqlyd's "
      "peak RSS is VmHWM, reset (clear_refs) before each scenario.")
    w("")
    w("## Results")
    w("")
    w("| scenario | req/s | p50 ms | p99 ms | max ms | non-2xx | socket errors "
      "| tasqlyd CPU s | tasqlyd µs/req | PostgreSQL CPU s | PostgreSQL µs/req "
      "| load generator CPU s | other CPU s | tasqlyd peak RSS MiB |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    titles = {"hot_read": "1. hot read (GET tasks?limit=20)",
              "mixed": "2. mixed (80/15/5)",
              "healthz": "3. HTTP ceiling (GET /healthz)",
              "db_ceiling": "4. database ceiling (pgbench -M prepared)"}
    for n, t in titles.items():
        r = sc.get(n)
        if not r:
            w("| %s | not run | | | | | | | | | | | | |" % t)
            continue
        se = sum((r.get("socket_errors") or {}).values())
        w("| %s | %.0f | %s | %s | %s | %d | %d | %.1f | %s | %.1f | %s | %.1f "
          "| %.1f | %s |"
          % (t, r["rps"], ms(r.get("lat_p50_us")), ms(r.get("lat_p99_us")),
             ms(r.get("lat_max_us")), r.get("non2xx", 0), se, r["tq_cpu_s"],
             "%.0f" % r["tq_cpu_us_per_req"] if r.get("tq_cpu_us_per_req")
             and n != "db_ceiling" else "-",
             r["pg_cpu_s"],
             "%.0f" % r["pg_cpu_us_per_req"] if r.get("pg_cpu_us_per_req")
             else "-",
             r.get("load_cpu_s", 0), r.get("other_cpu_s", 0),
             mib(r["tq_peak_rss_kib"]) if n != "db_ceiling" else "-"))
    w("")
    bgs = ["%s %.0f %%" % (n, r["background_pct_before"]) for n, r in sc.items()
           if r and "background_pct_before" in r]
    if bgs:
        w("Machine busy with work other than tasqlyd and PostgreSQL in the "
          "second before each scenario "
          "(bench/run waits up to %s s for it to fall below %s %%): %s."
          % (meta.get("quiet_wait", "?"), meta.get("quiet_pct", "?"),
             ", ".join(bgs)))
        w("")
    cap = max((r["wall_s"] * r["ncpu"] for r in sc.values() if r), default=0)
    if cap:
        w("\"other CPU\" is what the machine spent outside tasqlyd, PostgreSQL "
          "and the load generator during the run (of %.0f CPU-seconds per "
          "scenario): other work sharing the machine.  A run with a lot of it "
          "understates throughput and overstates latency; the µs/req columns "
          "are the steadier figures." % cap)
        w("")
    h, c = sc.get("hot_read"), sc.get("db_ceiling")
    ratio = h["rps"] / c["rps"] if h and c and c["rps"] else None
    cratio = None
    if h and c and h.get("requests") and c.get("requests"):
        per1 = (h["tq_cpu_s"] + h["pg_cpu_s"] + h["load_cpu_s"]) / h["requests"]
        per4 = (c["pg_cpu_s"] + c["load_cpu_s"]) / c["requests"]
        cratio = per4 / per1 if per1 else None
    if ratio is not None:
        w("Scenario 1 / scenario 4: **%.0f %%** (%.0f / %.0f)."
          % (ratio * 100, h["rps"], c["rps"]))
        if cratio is not None:
            w("From CPU per request instead (what the ratio would be with "
              "the machine to themselves, both CPU-bound; steadier when "
              "other work shares the machine): %.0f %% (%.0f µs of "
              "PostgreSQL and pgbench per transaction, %.0f µs of tasqlyd, "
              "PostgreSQL and wrk per request)."
              % (cratio * 100, per4 * 1e6, per1 * 1e6))
        w("")
    if start:
        w("Start-up, exec to the first `/readyz` 200 on a migrated database: "
          "median **%.1f ms** of %d runs (%.1f to %.1f); RSS at that moment "
          "%s MiB, %s MiB half a second later."
          % (start["ready_ms_median"], len(start["runs"]),
             start["ready_ms_min"], start["ready_ms_max"],
             mib(start["rss_kib_median"]),
             mib(start["rss_settled_kib_median"])))
        w("")
    if idle:
        peak = max((r["tq_peak_rss_kib"] or 0 for n, r in sc.items()
                    if r and n != "db_ceiling"), default=0)
        w("RSS of the bench tasqlyd (all plugins): %s MiB idle before any "
          "load; %s MiB after every scenario; the highest peak during a "
          "scenario %s MiB." % (mib(idle.get("idle_kib")),
                                mib(idle.get("after_kib")), mib(peak)))
        w("")

    w("## Targets")
    w("")
    w("| target | figure | verdict |")
    w("|---|---|---|")
    if h:
        w("| hot read ≥ 80 %% of the database ceiling | %s (%s by CPU) | %s |"
          % ("%.0f %%" % (ratio * 100) if ratio is not None else "-",
             "%.0f %%" % (cratio * 100) if cratio is not None else "-",
             verdict(ratio is not None and ratio >= 0.8)))
        w("| hot read p99 ≤ 20 ms | %s ms | %s |"
          % (ms(h.get("lat_p99_us")), verdict(h.get("lat_p99_us", 1e9) <= 20000)))
        herr = h.get("non2xx", 0) + sum((h.get("socket_errors") or {}).values())
        w("| hot read: zero errors | %d | %s |" % (herr, verdict(herr == 0)))
    m = sc.get("mixed")
    if m:
        merr = m.get("non2xx", 0) + sum((m.get("socket_errors") or {}).values())
        w("| mixed: zero errors | %d | %s |" % (merr, verdict(merr == 0)))
        w("| mixed p99 ≤ 25 ms | %s ms | %s |"
          % (ms(m.get("lat_p99_us")), verdict(m.get("lat_p99_us", 1e9) <= 25000)))
    if idle.get("after_kib"):
        w("| RSS ≤ 32 MiB after the runs, all plugins | %s MiB | %s |"
          % (mib(idle["after_kib"]), verdict(idle["after_kib"] <= 32 * 1024)))
    if start:
        w("| ready ≤ 200 ms | %.1f ms | %s |"
          % (start["ready_ms_median"], verdict(start["ready_ms_median"] <= 200)))
    w("")

    if sweep:
        w("## Worker count (%s per scenario and count)"
          % meta.get("sweep_duration", "?"))
        w("")
        w("The scenarios above ran with %s workers, chosen here: among the "
          "counts that keep both p99 targets (or all, when none does), the "
          "one with the most throughput over both scenarios." % meta.get("workers"))
        w("")
        w("| io_threads | workers (= pool) | scenario | req/s | p50 ms | p99 ms "
          "| max ms | errors | tasqlyd µs/req | PostgreSQL µs/req | other CPU s |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in sweep:
            err = r.get("non2xx", 0) + sum((r.get("socket_errors") or {}).values())
            w("| %s | %s | %s | %.0f | %s | %s | %s | %d | %.0f | %.0f | %.1f |"
              % (r.get("io_threads", "?"), r.get("workers", "?"),
                 r.get("scenario", "hot_read"), r["rps"],
                 ms(r.get("lat_p50_us")), ms(r.get("lat_p99_us")),
                 ms(r.get("lat_max_us")), err, r.get("tq_cpu_us_per_req") or 0,
                 r.get("pg_cpu_us_per_req") or 0, r.get("other_cpu_s", 0)))
        w("")

    for n in ("hot_read", "mixed"):
        r = sc.get(n)
        if r and (r.get("non2xx") or r.get("by_status")):
            w("Non-2xx in %s: %s; first bodies: %s" % (
                n, json.dumps(r.get("by_status")),
                "; ".join("`%s`" % s.replace("`", "'")
                          for s in r.get("samples", [])[:3])))
            w("")
    if m and m.get("kinds"):
        w("Mixed, requests sent by kind: " + ", ".join(
            "%s %d" % kv for kv in sorted(m["kinds"].items())) + ".")
        w("")

    if stm:
        w("## Scenario 4: the statements of one scenario-1 request")
        w("")
        w("Captured from PostgreSQL's log (log_statement = all) while tasqlyd "
          "served `%s`; in order, with the parameters it sent:" % stm["request"])
        w("")
        for i, s in enumerate(stm["statements"], 1):
            w("%d. `%s`" % (i, s["sql"].replace("`", "'")))
            if s["params"]:
                w("   parameters: " + ", ".join(
                    "$%s = %s" % (k, "NULL" if v is None else "'%s'" % v)
                    for k, v in sorted(s["params"].items(),
                                       key=lambda kv: int(kv[0]))))
        w("")
        w("The pgbench script (`pgbench -M prepared -c %s -j %s -T %s`, "
          "constants passed with -D).  Each client keeps a (group, user) "
          "pair for 100 transactions, so the pick costs 1 %%; the price is "
          "a warmer CPU cache than wrk's uniform spread, which makes the "
          "ceiling a few per cent higher (measured on this machine: drawing "
          "a pair every transaction, and subtracting what the draw alone "
          "costs, gave 8 %% less).  The ceiling errs against tasqlyd."
          % (meta.get("connections"), meta.get("wrk_threads"),
             meta.get("duration_s")))
        w("")
        w("```")
        L.extend(stm["pgbench_script"])
        w("```")
        w("")
        if stm.get("constants"):
            w("Constants: " + ", ".join("%s=`%s`" % kv for kv in
                                        stm["constants"].items()))
            w("")
    if plans:
        w("Plans (EXPLAIN ANALYZE of the prepared statements with the "
          "request's values):")
        w("")
        for p in plans:
            w("Statement %d:" % p["n"])
            w("```")
            L.extend(p["plan"].rstrip().splitlines())
            w("```")
        w("")
    for n, rows in pgs.items():
        if rows:
            w("## pg_stat_statements during %s" % n)
            w("")
            w("| calls | mean µs | total ms | query |")
            w("|---|---|---|---|")
            for r in rows:
                q = r["query"].replace("|", "\\|").replace("`", "'")
                if len(q) > 160:
                    q = q[:157] + "..."
                w("| %d | %.1f | %.0f | `%s` |" % (r["calls"], r["mean_us"],
                                                     r["total_ms"], q))
            w("")
    notes = os.path.join(d, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            L.append(f.read().rstrip())
        w("")
    with open(a.out, "w") as f:
        f.write("\n".join(L) + "\n")
    print("wrote " + a.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="sub", required=True)

    p = sub.add_parser("manifest")
    for k in ("template", "plugin_dir", "listen", "log_level", "db_url",
              "var", "out"):
        p.add_argument("--" + k.replace("_", "-"), required=True)
    p.add_argument("--workers", type=int, required=True)
    p.add_argument("--io-threads", type=int, default=1)
    p.add_argument("--plugin-config", default="",
                   help="YAML: plugin name -> config replacing tasqly.yaml's")
    p.set_defaults(fn=cmd_manifest)

    p = sub.add_parser("login")
    p.add_argument("--url", required=True)
    p.add_argument("--psql", required=True, help="psql connection options")
    p.add_argument("--dir", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--max", type=int, default=4000)
    p.add_argument("--parallel", type=int, default=16)
    p.set_defaults(fn=cmd_login)

    p = sub.add_parser("startup")
    for k in ("bin", "config", "listen", "dir", "out", "cwd"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--runs", type=int, default=5)
    p.set_defaults(fn=cmd_startup)

    p = sub.add_parser("scenario")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", choices=("wrk", "pgbench"), default="wrk")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--pgdata", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--log-prefix", default="")
    p.add_argument("--extra", default="", help="JSON merged into the result")
    p.add_argument("--quiet-wait", type=float, default=0,
                   help="seconds to wait for the machine to quieten")
    p.add_argument("--quiet-pct", type=float, default=10,
                   help="busy %% of all CPUs that counts as quiet")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_scenario)

    p = sub.add_parser("capture")
    for k in ("pgdata", "psql", "url", "token", "gid", "uid", "dir"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--npairs", type=int, required=True)
    p.set_defaults(fn=cmd_capture)

    p = sub.add_parser("pgstat")
    p.add_argument("--psql", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--limit", type=int, default=12)
    p.add_argument("--reset", action="store_true")
    p.set_defaults(fn=cmd_pgstat)

    p = sub.add_parser("report")
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_report)

    a = ap.parse_args()
    if getattr(a, "command", None) and a.command[:1] == ["--"]:
        a.command = a.command[1:]
    a.fn(a)


if __name__ == "__main__":
    main()
