#!/usr/bin/env python3
"""Writes BENCHMARKS.md from one run of scripts/bench-report.

Inputs, all from the same run:
  * criterion's estimates (target/criterion/**/new/{benchmark,estimates}.json), only those
    written after the run started (older ones are ignored, never mixed in);
  * the stdout of each bench binary (RUN_DIR/<crate>-<bench>.out): ratelimit's memory
    lines, tls-resume's handshake summary, fleet resumption rates and Redis latencies;
  * scripts/bench-gateway's output (RUN_DIR/gateway.out);
  * RUN_DIR/meta.env (machine, load, timings), written by scripts/bench-report.

Every ratio is computed from two estimates of this run. Criterion rows use the median
point estimate (robust to the odd sample disturbed by other processes).

Usage: bench-report.py RUN_DIR CRITERION_DIR OUT.md
"""

import json
import os
import re
import sys
from pathlib import Path

# ---------------------------------------------------------------------------------------
# The pairing: which criterion row is the toolkit, which is its peer or bare baseline.
#
# (crate, bench, criterion group, toolkit row, baseline row or None, label, kind, target)
#
# kind "time":    ratio = toolkit time / baseline time (lower is better; 1.20× = 20% slower)
# kind "speedup": ratio = baseline time / toolkit time (higher is better; how many times
#                 faster the toolkit's path is than the baseline)
# target: (op, value) compared with the ratio, or None; "abs<" compares the toolkit's
#         absolute median with a value in ns.
# ---------------------------------------------------------------------------------------
PAIRS = [
    # twiml: Twilio signature validation vs the bare HMAC-SHA1 + base64 of the same bytes.
    ("twiml", "signature", "voice_webhook", "validate", "bare_hmac_sha1_base64",
     "validate a voice webhook (28 params) vs bare HMAC-SHA1+base64", "time", ("<=", 1.5)),
    ("twiml", "signature", "voice_webhook", "validate_sorted_params", "bare_hmac_sha1_base64",
     "validate, params already sorted vs bare HMAC", "time", None),
    ("twiml", "signature", "voice_webhook", "validate_forged_all_variants", "bare_hmac_sha1_base64",
     "reject a forged signature (every URL variant) vs bare HMAC", "time", None),
    ("twiml", "render", "ivr_50_verbs", "build_and_render", None,
     "build + render a 50-verb IVR document (no peer)", "time", None),
    ("twiml", "render", "ivr_50_verbs", "render_prebuilt", None,
     "render a prebuilt 50-verb document (no peer)", "time", None),
    # turn-auth: STUN authentication vs the bare HMAC-SHA1 of the same request.
    ("turn-auth", "auth", "allocate", "parse_nonce_integrity", "bare_hmac_sha1",
     "authenticate an Allocate (parse, nonce, MESSAGE-INTEGRITY) vs bare HMAC-SHA1 incl. keying",
     "time", ("<=", 1.5)),
    ("turn-auth", "auth", "allocate", "layer_allocate", "bare_hmac_sha1",
     "whole TurnAuthLayer on the Allocate vs bare HMAC-SHA1 incl. keying", "time", None),
    ("turn-auth", "stun", "allocate_request", "parse_verify_integrity_with", "bare_hmac_sha1",
     "parse + verify MESSAGE-INTEGRITY vs bare HMAC-SHA1 from a keyed state", "time", ("<=", 1.25)),
    ("turn-auth", "stun", "allocate_request", "parse_verify_integrity_and_fingerprint",
     "bare_hmac_sha1", "parse + integrity + FINGERPRINT vs bare HMAC-SHA1 (keyed)", "time", None),
    ("turn-auth", "stun", "allocate_request", "parse", "bare_hmac_sha1",
     "parse alone vs bare HMAC-SHA1 (keyed)", "time", None),
    ("turn-auth", "auth", "nonce", "nonce_mint", None,
     "mint a nonce (no peer)", "time", ("abs<", 1000.0)),
    ("turn-auth", "auth", "nonce", "nonce_verify", None,
     "verify a nonce (no peer)", "time", ("abs<", 1000.0)),
    # ratelimit vs governor: same clock on both sides (std Instant, or the TSC via quanta).
    *[
        ("ratelimit", "vs_governor", f"{case}/{threads}_threads", ours, theirs,
         f"{what}, {threads} thread{'s' if threads > 1 else ''}, {clock}", "time", ("<=", 1.0))
        for case, what in [("hot_key", "one hot key"), ("zipf_1m", "1 M keys, Zipf s=1.07")]
        for threads in (1, 2)
        for ours, theirs, clock in [
            ("ratelimit", "governor_std_clock", "std Instant on both"),
            ("ratelimit_quanta", "governor", "TSC (quanta) on both"),
        ]
    ],
    *[
        ("ratelimit", "vs_governor", f"flood/{threads}_threads", "ratelimit", "governor",
         f"flood of new keys, {threads} thread{'s' if threads > 1 else ''}, each on its default clock",
         "time", ("<=", 1.0))
        for threads in (1, 2)
    ],
    # tls-resume: resumed vs full handshakes (client + server, in memory).
    ("tls-resume", "handshakes", "handshake", "tls13_ticket_resumed", "tls13_full",
     "TLS 1.3 resumed with a KeyRingTicketer ticket vs full", "speedup", (">=", 3.0)),
    ("tls-resume", "handshakes", "handshake", "tls13_stateful_resumed", "tls13_full",
     "TLS 1.3 resumed from a SessionCache (stateful) vs full", "speedup", (">=", 3.0)),
    ("tls-resume", "handshakes", "handshake", "tls12_session_id_resumed", "tls12_full",
     "TLS 1.2 resumed by session id from a SessionCache vs full", "speedup", (">=", 3.0)),
    # cookie-migrate: the request side vs splitting the same header with cookie's parser.
    ("cookie-migrate", "request_side", "request_side", "cookie_migrate/duplicate",
     "cookie_split_parse", "20-cookie header, legacy duplicate stripped vs cookie::split_parse",
     "time", ("<=", 2.0)),
    ("cookie-migrate", "request_side", "request_side", "cookie_migrate/duplicate", None,
     "20-cookie header, legacy duplicate stripped: absolute", "time", ("abs<", 1000.0)),
    ("cookie-migrate", "request_side", "request_side", "cookie_migrate/current_only",
     "cookie_split_parse", "19 cookies, current only (nothing rewritten) vs split_parse",
     "time", None),
    ("cookie-migrate", "request_side", "request_side", "cookie_migrate/migrate",
     "cookie_split_parse", "19 cookies, legacy value migrated vs split_parse", "time", None),
]

# tls-resume's fleet resumption rates: (toolkit scenario, rustls-defaults scenario), as
# handshakes.rs prints them.
RESUMPTION_PAIRS = [
    # (short label, toolkit scenario, peer scenario)
    ("TLS 1.3 stateful, shared SessionCache",
     "tls-resume SessionCache + MemorySharedStore, TLS 1.3 stateful",
     "rustls defaults, TLS 1.3 stateful (own 256-entry cache)"),
    ("TLS 1.2 session id, shared SessionCache",
     "tls-resume SessionCache + MemorySharedStore, TLS 1.2 session id",
     "rustls defaults, TLS 1.2 session id (own cache)"),
    ("TLS 1.3 tickets, KeyRingTicketer",
     "tls-resume KeyRingTicketer (one fleet secret), TLS 1.3 tickets",
     "rustls defaults + own ticketer, TLS 1.3 tickets"),
]

CRATE_TITLES = {
    "twiml": "twiml — Twilio signature validation vs bare HMAC",
    "turn-auth": "turn-auth — STUN authentication vs bare HMAC",
    "ratelimit": "ratelimit — vs governor (keyed, DashMap)",
    "tls-resume": "tls-resume — resumed vs full handshakes, fleet resumption",
    "cookie-migrate": "cookie-migrate — request side vs cookie::Cookie::split_parse",
    "gateway": "gateway — full toolkit stack vs the same bare axum app (wrk)",
}

BENCH_FILES = {
    ("twiml", "signature"): "twiml/benches/signature.rs",
    ("twiml", "render"): "twiml/benches/render.rs",
    ("turn-auth", "auth"): "turn-auth/benches/auth.rs",
    ("turn-auth", "stun"): "turn-auth/benches/stun.rs",
    ("ratelimit", "vs_governor"): "ratelimit/benches/vs_governor.rs",
    ("tls-resume", "handshakes"): "tls-resume/benches/handshakes.rs",
    ("cookie-migrate", "request_side"): "cookie-migrate/benches/request_side.rs",
}


# ---------------------------------------------------------------------------------------
# Reading the run.
# ---------------------------------------------------------------------------------------


def load_criterion(criterion_dir, since):
    """{full_id: estimates} for every criterion row written at or after `since`."""
    rows = {}
    for bench_json in Path(criterion_dir).glob("**/new/benchmark.json"):
        estimates = bench_json.with_name("estimates.json")
        if not estimates.exists() or estimates.stat().st_mtime < since:
            continue
        full_id = json.loads(bench_json.read_text())["full_id"]
        rows[full_id] = json.loads(estimates.read_text())
    return rows


def median_ns(rows, group, function):
    row = rows.get(f"{group}/{function}")
    return None if row is None else row["median"]["point_estimate"]


def median_ci(rows, group, function):
    """The 95% confidence interval of the median, (low, high) in ns."""
    interval = rows[f"{group}/{function}"]["median"]["confidence_interval"]
    return interval["lower_bound"], interval["upper_bound"]


def ratio_range(rows, group, ours, base, kind):
    """The ratio's extremes over both medians' confidence intervals."""
    (o_lo, o_hi), (b_lo, b_hi) = median_ci(rows, group, ours), median_ci(rows, group, base)
    if kind == "time":
        return o_lo / b_hi, o_hi / b_lo
    return b_lo / o_hi, b_hi / o_lo


def read(path):
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return None


def read_meta(run_dir):
    meta = {}
    for line in (read(Path(run_dir) / "meta.env") or "").splitlines():
        key, _, value = line.partition("=")
        if key:
            meta[key] = value
    return meta


# ---------------------------------------------------------------------------------------
# Formatting.
# ---------------------------------------------------------------------------------------


def fmt_time(ns):
    if ns is None:
        return "—"
    if ns < 1_000:
        return f"{ns:.1f} ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns / 1e6:.2f} ms"


def fmt_target(kind, target):
    if target is None:
        return ""
    op, value = target
    if op == "abs<":
        return f"< {fmt_time(value)}"
    sign = {"<=": "≤", ">=": "≥"}[op]
    return f"{sign} {value:g}×"


def verdict(target, ratio, toolkit_ns):
    if target is None:
        return ""
    op, value = target
    if op == "abs<":
        if toolkit_ns is None:
            return "?"
        return "met" if toolkit_ns < value else "**missed**"
    if ratio is None:
        return "?"
    met = ratio <= value if op == "<=" else ratio >= value
    return "met" if met else "**missed**"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Per-crate sections. Each returns (markdown, headline rows).
# ---------------------------------------------------------------------------------------


def criterion_section(crate, rows, headline):
    body = []
    ran = {}
    for (c, bench, group, ours, base, label, kind, target) in PAIRS:
        if c != crate:
            continue
        ran.setdefault(bench, True)
        ours_ns = median_ns(rows, group, ours)
        base_ns = median_ns(rows, group, base) if base else None
        ratio = None
        if ours_ns and base_ns:
            ratio = ours_ns / base_ns if kind == "time" else base_ns / ours_ns
        if base is None:
            ratio_text = "—"
        elif ratio is None:
            ratio_text = "not measured"
        else:
            low, high = ratio_range(rows, group, ours, base, kind)
            ratio_text = (f"**{ratio:.2f}×**" + (" faster" if kind == "speedup" else "")
                          + f" ({low:.2f}–{high:.2f})")
        check = verdict(target, ratio, ours_ns)
        base_cell = f"`{base}` {fmt_time(base_ns)}" if base else "—"
        row = [label, ratio_text, fmt_target(kind, target), check,
               f"`{ours}` {fmt_time(ours_ns)}", base_cell, f"`{group}`"]
        body.append(row)
        if target is not None:
            headline.append((crate, label, ratio_text if base else fmt_time(ours_ns),
                             fmt_target(kind, target), check))
    header = ["measure", "ratio", "target", "", "toolkit (median)", "baseline / peer (median)",
              "criterion group"]
    note = ("Ratio: toolkit time ÷ baseline time (lower is better), except “faster”: "
            "baseline time ÷ toolkit time; in brackets, its range over the 95% confidence "
            "intervals of both medians.")
    sources = ", ".join(f"`{BENCH_FILES[(crate, b)]}`" for b in ran)
    return f"{note} Rows and what they measure: {sources}.\n\n" + table(header, body)


def ratelimit_extra(out, headline):
    """The memory lines printed before the timings, and the flood lengths."""
    if out is None:
        return "_No output captured from vs_governor._"
    lines = []
    ours = re.search(r"^\s*ratelimit \(capacity (\d+), len (\d+)\):([\d. ]+)$", out, re.M)
    theirs = re.search(r"^\s*governor \(len (\d+)\):([\d. ]+?)\s+=\s+(\d+) B/key", out, re.M)
    keys = re.search(r"memory, (\d+) distinct keys", out)
    if ours and theirs:
        ours_mib = [float(x) for x in ours.group(3).split()]
        theirs_mib = [float(x) for x in theirs.group(2).split()]
        n = int(keys.group(1)) if keys else None
        step = n // len(ours_mib) if n and ours_mib else None
        rows = []
        for i, (a, b) in enumerate(zip(ours_mib, theirs_mib)):
            after = f"{(i + 1) * step:,}" if step else f"sample {i + 1}"
            ratio = f"{a / b:.3f}×" if b else "—"
            rows.append([after, f"{a:.1f} MiB", f"{b:.1f} MiB", ratio])
        final_ratio = ours_mib[-1] / theirs_mib[-1] if theirs_mib[-1] else None
        lines.append(
            f"Memory: RSS growth while {n:,} distinct keys arrive (printed by `vs_governor` "
            f"before its timings). ratelimit has a fixed capacity of {int(ours.group(1)):,} "
            f"keys (len {int(ours.group(2)):,} at the end); governor keeps every key "
            f"(len {int(theirs.group(1)):,}, {theirs.group(3)} B/key).\n")
        lines.append(table(["keys seen", "ratelimit", "governor", "ratio"], rows))
        if final_ratio is not None:
            headline.append(("ratelimit", f"memory after {n:,} distinct keys vs governor",
                             f"**{final_ratio:.3f}×**", "", ""))
    else:
        lines.append("_The memory lines were not found in vs_governor's output._")
    floods = re.findall(r"^\s*(ratelimit|governor) len after the flood: (\d+)$", out, re.M)
    if floods:
        lengths = ", ".join(f"{name} {int(n):,}" for name, n in floods)
        lines.append(f"\nKeys held after each flood run (1 then 2 threads): {lengths}.")
    return "\n".join(lines)


def tls_extra(out, headline):
    if out is None:
        return "_No output captured from handshakes._"
    parts = []
    # 1. The printed summary: client+server and server-only handshake rates.
    summary = re.findall(
        r"^(\w+)\s+client\+server\s+([\d.]+) hs/s \(\s*([\d.]+) µs\)\s+server only\s+"
        r"([\d.]+) hs/s \(\s*([\d.]+) µs\)", out, re.M)
    ratios = re.findall(
        r"^ratio (\w+) / (\w+): client\+server ([\d.]+)x, server only ([\d.]+)x", out, re.M)
    if summary:
        parts.append("Handshake rates from the bench's own summary (2 000 handshakes each, "
                     "one core; the server's share timed separately):\n")
        parts.append(table(["case", "client+server", "server only"],
                           [[f"`{n}`", f"{float(a):,.0f} hs/s ({b} µs)",
                             f"{float(c):,.0f} hs/s ({d} µs)"] for n, a, b, c, d in summary]))
    if ratios:
        parts.append("\nThe ≥ 3× target is issue 5's. rustls 0.23 resumes TLS 1.3 only with "
                     "psk_dhe_ke: a resumed TLS 1.3 handshake still does the X25519 exchange and "
                     "issues new tickets, saving only the signature and certificate, so the TLS 1.3 "
                     "rows cannot reach it; TLS 1.2 resumption can.")
        parts.append("\n" + table(["resumed ÷ full (rate)", "client+server", "server only",
                                   "target"],
                                  [[f"`{r}` / `{f}`", f"**{a}×**", f"**{s}×**", "≥ 3×"]
                                   for r, f, a, s in ratios]))
        for r, f, a, s in ratios:
            headline.append(("tls-resume", f"server-only handshake rate, `{r}` vs `{f}`",
                             f"**{s}×** faster", "≥ 3×",
                             "met" if float(s) >= 3.0 else "**missed**"))
    # 2. Cross-instance resumption rates.
    rates = {}
    for name, nxt, hashed in re.findall(r"^(\S.*?)\s+([\d.]+)%\s+([\d.]+)%\s*$", out, re.M):
        rates[name.strip()] = (float(nxt), float(hashed))
    if rates:
        clients = re.search(r"Resumption rate: (\d[\d ]*) clients.*?(\d+) instances", out)
        who = (f"{clients.group(1).replace(' ', '')} clients, {clients.group(2)} instances"
               if clients else "")
        parts.append(f"\nCross-instance resumption rate ({who}; a full handshake on one "
                     "instance, then a reconnect routed to the *next* instance, or by a hash "
                     "— a quarter land where they were):\n")
        rows = []
        for label, ours, peer in RESUMPTION_PAIRS:
            if ours not in rates or peer not in rates:
                rows.append([label, "not measured", "", "", "", ours, peer])
                continue
            (on, oh), (pn, ph) = rates[ours], rates[peer]
            rows.append([label, f"**{on:.1f}%**", f"{pn:.1f}%", f"**{oh:.1f}%**", f"{ph:.1f}%",
                         ours, peer])
            headline.append(("tls-resume", f"resumption on another instance, {label} vs rustls "
                             "defaults", f"**{on:.1f}%** vs {pn:.1f}%", "≥ 99%",
                             "met" if on >= 99.0 else "**missed**"))
        parts.append(table(["measure", "tls-resume, next instance", "rustls defaults, next",
                            "tls-resume, hashed LB", "rustls defaults, hashed",
                            "toolkit scenario", "peer scenario"], rows))
    # 3. Redis tier latency.
    added = re.findall(r"^resumed (.+?), TCP connect to handshake done, p([\d.]+): in-process "
                       r"([\d.]+) µs, Redis ([\d.]+) µs, added (-?[\d.]+) µs", out, re.M)
    if added:
        parts.append("\nLatency the Redis shared tier adds to a resumed handshake over loopback "
                     "TCP (`ResumingAcceptor`, redis-server on loopback; 1 000 connections):\n")
        parts.append(table(["resumed handshake", "percentile", "in-process shared tier",
                            "Redis shared tier", "added"],
                           [[w, f"p{float(p):g}", f"{m} µs", f"{r} µs", f"**{a} µs**"]
                            for w, p, m, r, a in added]))
    prefetch = re.findall(r"^(prefetch_into, .+?)\s+p50\s+([\d.]+) µs\s+p99\s+([\d.]+) µs\s+"
                          r"max\s+([\d.]+) µs", out, re.M)
    if prefetch:
        parts.append("\n" + table(["RedisStore::prefetch_into", "p50", "p99", "max"],
                                  [[w, f"{a} µs", f"{b} µs", f"{c} µs"]
                                   for w, a, b, c in prefetch]))
    for skipped in re.findall(r"^SKIPPED: .*$", out, re.M):
        parts.append(f"\n{skipped}")
    return "\n".join(parts)


def gateway_section(out, headline):
    if out is None:
        return "_Skipped (BENCH_SKIP_GATEWAY=1) or no output._"
    parts = []
    rounds = re.findall(r"^round (\d+) --layers (all|none): ([\d.]+) requests/s", out, re.M)
    result = re.search(r"^RESULT throughput: all layers (\d+) req/s, no toolkit layers (\d+) "
                       r"req/s \(mean of (\d+) rounds\)", out, re.M)
    setup = re.search(r"^== throughput: (.*)$", out, re.M)
    if result:
        all_rps, none_rps, n = int(result.group(1)), int(result.group(2)), result.group(3)
        ratio = all_rps / none_rps
        check = "met" if ratio >= 0.8 else "**missed**"
        parts.append("Ratio: toolkit requests/s ÷ bare requests/s (higher is better). "
                     "`scripts/bench-gateway`: the same axum app and TLS listener with every "
                     "toolkit HTTP layer (`--layers all`) and without (`--layers none`), "
                     f"alternating rounds; {setup.group(1) if setup else ''}.\n")
        parts.append(table(
            ["measure", "ratio", "target", "", "toolkit (--layers all)", "bare axum (--layers none)"],
            [["GET /shop throughput, mean of " + n + " rounds", f"**{ratio:.3f}×**", "≥ 0.8×",
              check, f"{all_rps:,} req/s", f"{none_rps:,} req/s"]]
            + [[f"round {r}", f"{float(a) / float(b):.3f}×", "", "", f"{float(a):,.0f} req/s",
                f"{float(b):,.0f} req/s"]
               for r, a, b in pair_rounds(rounds)]))
        per_round = [float(a) / float(b) for _, a, b in pair_rounds(rounds)]
        if per_round and max(per_round) - min(per_round) > 0.1:
            parts.append(f"\n> The rounds disagree ({', '.join(f'{r:.3f}×' for r in per_round)}): "
                         "the load on the machine changed between them, so the mean ratio is "
                         "uncertain by about that much in this run.")
        headline.append(("gateway", "full stack vs bare axum, requests/s",
                         f"**{ratio:.3f}×**"
                         + (f" (rounds {min(per_round):.2f}–{max(per_round):.2f})"
                            if len(per_round) > 1 else ""), "≥ 0.8×", check))
    else:
        parts.append("_No throughput result in the gateway's output (see the log)._")
    memory = re.search(r"^RESULT memory: RSS (\d+) kB before, (\d+) kB after (\d+) requests from "
                       r"(\d+) clients \(peak sampled (\d+) kB\)", out, re.M)
    if memory:
        before, after, reqs, clients, peak = (int(x) for x in memory.groups())
        idle = re.search(r"^RSS after: \d+ kB \(5 s later: (\d+) kB\)", out, re.M)
        parts.append(f"\nMemory (`--layers all`, default bounds): {reqs:,} requests from "
                     f"{clients:,} distinct clients (own cookie and X-Forwarded-For each).\n")
        parts.append(table(["RSS before", "RSS after", "5 s later", "peak sampled", "growth"],
                           [[f"{before:,} kB", f"{after:,} kB",
                             f"{int(idle.group(1)):,} kB" if idle else "—", f"{peak:,} kB",
                             f"{after - before:,} kB"]]))
        headline.append(("gateway", f"RSS growth over {reqs:,} requests from {clients:,} clients",
                         f"{(after - before) / 1024:.1f} MiB ({before / 1024:.1f} → "
                         f"{after / 1024:.1f} MiB)", "", ""))
    elif "== memory" in out:
        parts.append("\n_The memory run did not finish (see the log)._")
    return "\n".join(parts)


def pair_rounds(rounds):
    by_round = {}
    for r, mode, value in rounds:
        by_round.setdefault(r, {})[mode] = value
    return [(r, v["all"], v["none"]) for r, v in by_round.items() if "all" in v and "none" in v]


# ---------------------------------------------------------------------------------------
# Load during the run: which steps other processes competed with.
# ---------------------------------------------------------------------------------------

# Roughly the 1-minute load each step puts on the machine by itself: one benchmark thread,
# two for ratelimit's two-thread rows, the gateway plus wrk for the gateway; rustc for the
# build. Load beyond this, by more than half the cores, counts as competition.
OWN_LOAD = {"build": None, "ratelimit-vs_governor": 2.0, "gateway": 3.0}


def read_steps(run_dir):
    steps = []
    for line in (read(Path(run_dir) / "steps.tsv") or "").splitlines():
        name, start, end, status = line.split("\t")
        steps.append((name, int(start), int(end), status))
    return steps


def read_load(run_dir):
    samples = []
    for line in (read(Path(run_dir) / "load.samples") or "").splitlines():
        epoch, load = line.split()
        samples.append((int(epoch), float(load)))
    return samples


def steps_table(steps, samples, cores):
    """The steps' durations and the 1-minute load sampled while each ran; the names of
    the steps that ran beside other work."""
    rows, competed = [], []
    for name, start, end, status in steps:
        loads = sorted(load for epoch, load in samples if start <= epoch <= end)
        own = OWN_LOAD.get(name, 1.0)
        if loads:
            median = loads[len(loads) // 2]
            load_text = f"{loads[0]:.2f} / {median:.2f} / {loads[-1]:.2f}"
            if own is not None and median > own + cores / 2:
                competed.append(name)
                load_text += " ⚠"
        else:
            load_text = "—"
        rows.append([f"`{name}`", f"{end - start} s", load_text,
                     "ok" if status == "0" else f"**failed ({status})**"])
    text = table(["step", "time", "1-min load min / median / max", "exit"], rows)
    return text, competed


# ---------------------------------------------------------------------------------------
# The document.
# ---------------------------------------------------------------------------------------


def main():
    run_dir, criterion_dir, out_path = sys.argv[1:4]
    meta = read_meta(run_dir)
    rows = load_criterion(criterion_dir, float(meta.get("START_EPOCH", "0")))
    outputs = {key: read(Path(run_dir) / f"{key[0]}-{key[1]}.out") for key in BENCH_FILES}

    headline = []
    sections = []
    for crate in ["twiml", "turn-auth", "ratelimit", "tls-resume", "cookie-migrate"]:
        text = criterion_section(crate, rows, headline)
        if crate == "ratelimit":
            text += "\n\n" + ratelimit_extra(outputs[("ratelimit", "vs_governor")], headline)
        if crate == "tls-resume":
            text += "\n\n" + tls_extra(outputs[("tls-resume", "handshakes")], headline)
        sections.append(f"## {CRATE_TITLES[crate]}\n\n{text}")
    gateway_out = read(Path(run_dir) / "gateway.out") if meta.get("GATEWAY") == "ran" else None
    sections.append(f"## {CRATE_TITLES['gateway']}\n\n{gateway_section(gateway_out, headline)}")

    steps, samples = read_steps(run_dir), read_load(run_dir)
    cores = int(meta.get("CORES", "1") or 1)
    steps_text, competed = steps_table(steps, samples, cores)
    failed = [f"`{name}` (exit {status})" for name, _, _, status in steps if status != "0"]
    loads = sorted(load for _, load in samples)

    doc = []
    doc.append("# Benchmarks\n")
    doc.append("Written by `scripts/bench-report` from one run; every ratio compares two "
               "measurements of that same run on the same machine. **Ratios are the "
               "headline**: absolute times depend on the machine and are secondary.\n")
    doc.append("## Machine and run\n")
    doc.append(table(["", ""], [
        ["CPU", f"{meta.get('CPU', '?')}; {meta.get('CORES', '?')} cores online"],
        ["memory", meta.get("RAM", "?")],
        ["kernel", meta.get("KERNEL", "?")],
        ["toolchain", f"{meta.get('RUSTC', '?')}; criterion {meta.get('CRITERION', '?')}"],
        ["commit", meta.get("COMMIT", "?")],
        ["started", meta.get("STARTED", "?")],
        ["total run time", meta.get("TOTAL", "?")],
        ["criterion settings", f"--warm-up-time {meta.get('WARMUP', '?')} s "
                               f"--measurement-time {meta.get('MEASUREMENT', '?')} s, median "
                               "point estimates (groups that set their own times keep them: "
                               "ratelimit 1 + 3 s, tls-resume 0.5 + 2 s × 30 samples)"],
        ["load average (1/5/15 min)", f"start {meta.get('LOAD_START', '?')}; end "
                                      f"{meta.get('LOAD_END', '?')}"
                                      + (f"; 1-min, every 10 s during the run: min "
                                         f"{loads[0]:.2f}, median {loads[len(loads) // 2]:.2f}, "
                                         f"max {loads[-1]:.2f}" if loads else "")],
        ["busy processes at start (top, ≥ 10% CPU)", meta.get("BUSY_START", "?") or "none"],
        ["busy processes at end (top, ≥ 10% CPU)", meta.get("BUSY_END", "?") or "none"],
    ]))
    doc.append("\nSteps, one at a time (a ⚠ marks a step during which the median 1-minute load "
               "exceeded the step's own — about 1 for a criterion bench, 2 for ratelimit's "
               "two-thread rows, 3 for the gateway and wrk — by more than half the cores: other "
               "processes competed for the CPU):\n")
    doc.append(steps_text)
    if competed:
        busy = "; ".join(f"{when}: {meta[key]}" for when, key in
                         [("at the start", "BUSY_START"), ("at the end", "BUSY_END")]
                         if meta.get(key))
        doc.append(f"\n> **Disturbed run.** Other processes competed for the CPU during "
                   f"{', '.join(f'`{c}`' for c in competed)}"
                   + (f" (busiest {busy})" if busy else "") + ": absolute times there are inflated "
                   "and ratios noisier than on an idle machine (both sides of each ratio ran "
                   "seconds apart, under similar load, so ratios suffer less than times).\n")
    if meta.get("NOTE"):
        doc.append(f"\n> {meta['NOTE']}\n")
    if failed:
        doc.append(f"\n> **Failed steps:** {', '.join(failed)}; their rows say “not measured”.\n")
    doc.append("\n## Reproduce\n")
    doc.append("```sh\nscripts/bench-report            # every crate, then scripts/bench-gateway; "
               "writes BENCHMARKS.md\nBENCH_MEASUREMENT=5 BENCH_WARMUP=2 BENCH_SKIP_GATEWAY=1 "
               "scripts/bench-report\n```\n")
    doc.append("Run it on an otherwise idle machine: the load average above tells how idle this "
               "one was. Raw outputs of the run are kept in `target/bench-report/` "
               "(one `.out`/`.err` per bench, `gateway.out`). The pairing of rows is one table, "
               "`PAIRS` in `scripts/bench-report.py`.\n")
    doc.append("## Headline: toolkit vs peer or bare baseline\n")
    doc.append(table(["crate", "measure", "ratio / result", "target", ""],
                     [[f"`{c}`", m, r, t, v] for c, m, r, t, v in headline]))
    doc.append("")
    for section in sections:
        doc.append(section + "\n")
    Path(out_path).write_text("\n".join(doc).rstrip() + "\n")


if __name__ == "__main__":
    main()
