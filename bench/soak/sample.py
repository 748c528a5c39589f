"""Once a second while the soak runs: the server's RSS, the engine's heap bytes, per-second
latency percentiles (from the deltas of the latency histogram in /metrics, all routes), requests
by status, the writer's queue depth, the projection lag, the journal's WAL and the store's files.
Writes samples.csv; on SIGTERM (or when the server is gone) writes summary.json and chart.svg.

    python3 sample.py URL DATA_DIR PID OUT_DIR
"""
import csv, json, os, re, signal, sys, time, urllib.request

url, data, pid, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
stop = False
signal.signal(signal.SIGTERM, lambda *_: globals().__setitem__("stop", True))

LINE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def scrape():
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    gauges, buckets, statuses = {}, {}, {}
    by_route = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        if name == "zengzhi_http_request_duration_seconds_bucket":
            le = re.search(r'le="([^"]+)"', labels).group(1)
            buckets[le] = buckets.get(le, 0) + value
            route = re.search(r'route="([^"]+)"', labels).group(1)
            by_route.setdefault(route, {})[le] = value
        elif name == "zengzhi_http_requests_total":
            status = re.search(r'status="(\d+)"', labels).group(1)
            statuses[status] = statuses.get(status, 0) + value
        elif not labels:
            gauges[name] = value
    global routes_seen
    routes_seen = by_route
    return gauges, buckets, statuses


def rss_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def size_mib(*names):
    return sum(os.path.getsize(os.path.join(data, n)) for n in names if os.path.exists(os.path.join(data, n))) / 2**20


def percentile(deltas, q):
    """The upper bound of the histogram bucket holding the q-quantile (inf: beyond 2.5 s)."""
    total = deltas.get("+Inf", 0)
    if total <= 0:
        return None
    for le, count in sorted(((float(k), v) for k, v in deltas.items()), key=lambda kv: kv[0]):
        if count >= q * total:
            return le * 1000
    return float("inf")


routes_seen = {}
rows, prev, started = [], None, time.time()
fields = ["t_s", "rss_mib", "engine_mib", "requests_per_s", "p50_ms", "p99_ms", "non_2xx_per_s", "status_5xx",
          "queue_depth", "projection_lag", "wal_mib", "db_mib", "query_db_mib", "orders"]
while not stop:
    t = time.time()
    try:
        gauges, buckets, statuses = scrape()
        rss = rss_mib()
    except Exception:
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(1)
        continue
    if prev is not None:
        dt = t - prev[0]
        deltas = {k: v - prev[1].get(k, 0) for k, v in buckets.items()}
        requests = sum(statuses.values()) - sum(prev[2].values())
        bad = sum(v - prev[2].get(k, 0) for k, v in statuses.items() if not k.startswith("2"))
        rows.append({
            "t_s": round(t - started, 1), "rss_mib": round(rss, 1),
            "engine_mib": round(gauges.get("zengzhi_engine_heap_bytes", 0) / 2**20, 1),
            "requests_per_s": round(requests / dt), "p50_ms": percentile(deltas, 0.5), "p99_ms": percentile(deltas, 0.99),
            "non_2xx_per_s": round(bad / dt, 1),
            "status_5xx": int(sum(v for k, v in statuses.items() if k.startswith("5"))),
            "queue_depth": int(gauges.get("zengzhi_writer_queue_depth", 0)),
            "projection_lag": int(gauges["zengzhi_journal_head"] - gauges["zengzhi_projection_watermark"]),
            "wal_mib": round(size_mib("zengzhi.db-wal"), 1), "db_mib": round(size_mib("zengzhi.db"), 1),
            "query_db_mib": round(size_mib("zengzhi.query.db", "zengzhi.query.db-wal"), 1),
            "orders": int(gauges.get("zengzhi_orders_total", 0)),
        })
    prev = (t, buckets, statuses)
    time.sleep(max(0, 1 - (time.time() - t)))

os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "samples.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
if len(rows) < 10:
    print("soak: too few samples for a summary", flush=True)
    sys.exit(0)


def slope_per_hour(key, part):
    """Least-squares slope of `key` over the last `part` of the run, per hour."""
    tail = rows[int(len(rows) * (1 - part)):]
    xs, ys = [r["t_s"] for r in tail], [r[key] for r in tail]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var * 3600 if var else 0.0


p99s = [r["p99_ms"] for r in rows if r["p99_ms"] is not None]
third = max(1, len(p99s) // 3)
summary = {
    "seconds": rows[-1]["t_s"], "samples": len(rows),
    "requests_per_s_median": sorted(r["requests_per_s"] for r in rows)[len(rows) // 2],
    "rss_mib_start": rows[0]["rss_mib"], "rss_mib_end": rows[-1]["rss_mib"], "rss_mib_max": max(r["rss_mib"] for r in rows),
    "rss_mib_per_hour": round(slope_per_hour("rss_mib", 2 / 3), 1),
    "engine_mib_per_hour": round(slope_per_hour("engine_mib", 2 / 3), 1),
    "rss_outside_engine_mib_per_hour": round(slope_per_hour("rss_mib", 2 / 3) - slope_per_hour("engine_mib", 2 / 3), 1),
    "p99_ms_first_third_median": sorted(p99s[:third])[len(p99s[:third]) // 2],
    "p99_ms_last_third_median": sorted(p99s[-third:])[len(p99s[-third:]) // 2],
    "p99_ms_worst_second": max(p99s),
    "status_5xx": rows[-1]["status_5xx"],
    "non_2xx_total": round(sum(r["non_2xx_per_s"] for r in rows)),
    "projection_lag_max": max(r["projection_lag"] for r in rows),
    "queue_depth_max": max(r["queue_depth"] for r in rows),
    "wal_mib_max": max(r["wal_mib"] for r in rows),
    # Over the whole run, by route (histogram bucket bounds, ms).
    "routes": {r: {"requests": int(b.get("+Inf", 0)), "p50_ms": percentile(b, 0.5), "p99_ms": percentile(b, 0.99)}
               for r, b in sorted(routes_seen.items())},
    "db_mib_end": rows[-1]["db_mib"], "query_db_mib_end": rows[-1]["query_db_mib"], "orders": rows[-1]["orders"],
}
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)


def chart():
    """Four stacked panels over time, as SVG polylines (no plotting library needed)."""
    panels = [("RSS / engine heap (MiB)", ["rss_mib", "engine_mib"]), ("p99 latency, per second (ms)", ["p99_ms"]),
              ("projection lag (entries)", ["projection_lag"]), ("WAL / journal db (MiB)", ["wal_mib", "db_mib"])]
    colours = ["#1f77b4", "#ff7f0e"]
    width, height, left, top = 900, 170, 70, 25
    t_max = rows[-1]["t_s"] or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{len(panels) * (height + top) + 30}" '
             'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>']
    for i, (title, keys) in enumerate(panels):
        y0 = i * (height + top) + top
        values = [r[k] for r in rows for k in keys if r[k] is not None and r[k] != float("inf")]
        v_max = max(values + [1])
        parts.append(f'<text x="{left}" y="{y0 - 6}">{title}: max {v_max:g}</text>')
        parts.append(f'<rect x="{left}" y="{y0}" width="{width - left - 10}" height="{height}" fill="none" stroke="#999"/>')
        for k, colour in zip(keys, colours):
            pts = " ".join(
                f"{left + r['t_s'] / t_max * (width - left - 10):.1f},{y0 + height - min(r[k], v_max) / v_max * height:.1f}"
                for r in rows if r[k] is not None and r[k] != float("inf"))
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{pts}"/>')
            parts.append(f'<text x="{width - 200 + 90 * keys.index(k)}" y="{y0 - 6}" fill="{colour}">{k}</text>')
    parts.append(f'<text x="{left}" y="{len(panels) * (height + top) + 20}">time: 0 to {t_max:.0f} s</text></svg>')
    return "\n".join(parts)


with open(os.path.join(out, "chart.svg"), "w") as f:
    f.write(chart())
print("soak summary: " + json.dumps(summary), flush=True)
