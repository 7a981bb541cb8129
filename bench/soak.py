#!/usr/bin/env python3
"""Soak: ten million events through `inowatch watch --json`, with the
watched tree kept at a steady size (files created, written and deleted in
rounds), sampling the watcher's RSS every second. After warm-up the RSS must
stay flat: no allocation per event that is not given back.

    bench/soak.py [BUILD] [--events N]

Writes bench/results/DATE-soak.md (the curve as a table) and prints whether
the RSS stayed flat: the second half of the run reaching no higher than the
first half did (buffers grow once to the largest batch; a leak keeps
growing)."""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def churn(root, stop):
    """Rounds of 1,000 files: create and write each, then delete them all."""
    names = [os.path.join(root, "d%d" % (i % 10), "f%d" % i) for i in range(1000)]
    for i in range(10):
        os.makedirs(os.path.join(root, "d%d" % i), exist_ok=True)
    while not stop.is_set():
        for n in names:
            fd = os.open(n, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(fd, b"x")
            os.close(fd)
        for n in names:
            os.unlink(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--events", type=int, default=10_000_000)
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="inowatch-soak-")
    w = subprocess.Popen([os.path.join(a.build, "inowatch"), "watch", "--json", root],
                         stdout=subprocess.PIPE, start_new_session=True)
    count = [0]

    def reader():
        for _ in w.stdout:
            count[0] += 1
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    while count[0] == 0:  # ready
        time.sleep(0.05)
    stop = threading.Event()
    writers = [threading.Thread(target=churn, args=(os.path.join(root, "w%d" % k), stop))
               for k in range(2)]
    for x in writers:
        x.start()
    samples = []
    t0 = time.time()
    while count[0] < a.events:
        time.sleep(1)
        samples.append((time.time() - t0, count[0], rss_kib(w.pid)))
        print("%6.0f s %11d events  RSS %6d KiB" % samples[-1], flush=True)
    stop.set()
    for x in writers:
        x.join()
    w.send_signal(signal.SIGTERM)
    w.wait(30)
    shutil.rmtree(root, ignore_errors=True)
    # Buffers grow to the largest batch seen and stay: a step is not a
    # leak. A leak keeps growing, so the second half of the run must not
    # reach higher than the first half did (10% slack for the allocator).
    half = len(samples) // 2
    warm = max(s[2] for s in samples[:max(half, 1)])
    peak = max(s[2] for s in samples[half:])
    flat = peak <= warm * 1.10
    day = time.strftime("%Y-%m-%d-%H%M")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", day + "-soak.md")
    with open(out, "w") as f:
        f.write("# Soak, %s\n\n%d events through `inowatch watch --json` in %.0f s; "
                "peak RSS in the first half %d KiB, in the second half %d KiB: %s.\n\n"
                "| s | events | RSS KiB |\n|---:|---:|---:|\n"
                % (day, samples[-1][1], samples[-1][0], warm, peak,
                   "flat (within 10%)" if flat else "GROWING"))
        for s in samples:
            f.write("| %.0f | %d | %d |\n" % s)
    print("soak: %d events, RSS %d -> %d KiB: %s (%s)" % (samples[-1][1], warm, peak,
          "flat" if flat else "GROWING", out))
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
