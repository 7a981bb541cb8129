#!/usr/bin/env python3
"""Floods under random pauses: the stress that found the lost subtree.

Starts K watchers (`inowatch watch --json --latency L`) on a 64-event
kernel queue, then runs test_overflow's FLOOD_PY in each root at once with
a fresh random seed, while a thread stops and resumes the watchers at
random (SIGSTOP for 0-20 ms, then SIGCONT): overflows land at random points
of scans, renames and listings. After each round every watcher's stream
must give the tree on disk. A failing stream is saved whole as JSON lines.

Not part of `make test`: it lowers fs.inotify.max_queued_events (machine
wide, restored as soon as the watchers are ready) and runs for minutes.
Needs root.

usage: INOWATCH=build/inowatch tests/torture/flood_pauses.py [K] [ROUNDS] [LATENCY]
       (defaults 4, 50, 0; exit status 1 if any round failed)
"""
import json
import os
import random
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from iwtest import WatchTestCase, run_py  # noqa: E402
from test_overflow import FLOOD_PY, QUEUE  # noqa: E402


class Round(WatchTestCase):
    def runTest(self):
        pass


def start_watchers(tc, k, latency):
    """K watchers started while the queue limit is 64, restored after."""
    with open(QUEUE) as f:
        old = f.read().strip()
    started = []
    try:
        with open(QUEUE, "w") as f:
            f.write("64")
        for i in range(k):
            root = tc.mkroot("root%d" % i)
            for j in range(3):
                os.makedirs(os.path.join(root, "d%d" % j, "pre"))
            w, initial = tc.start(root, latency=latency)
            started.append((root, w, initial))
    finally:
        with open(QUEUE, "w") as f:
            f.write(old)
    return started


def pause_at_random(watchers, stop):
    rnd = random.Random()
    while not stop.is_set():
        w = rnd.choice(watchers)
        os.kill(w.pid, signal.SIGSTOP)
        time.sleep(rnd.random() * 0.02)
        os.kill(w.pid, signal.SIGCONT)
        time.sleep(rnd.random() * 0.01)


def one_round(n, k, latency):
    tc = Round()
    tc.setUp()
    failures = 0
    try:
        started = start_watchers(tc, k, latency)
        seeds = [random.randrange(1 << 30) for _ in started]
        floods = [threading.Thread(target=run_py, args=(FLOOD_PY, root, seed, 3000, "a"))
                  for (root, _, _), seed in zip(started, seeds)]
        stop = threading.Event()
        pauser = threading.Thread(target=pause_at_random, args=([w for _, w, _ in started], stop))
        pauser.start()
        for t in floods:
            t.start()
        for t in floods:
            t.join()
        stop.set()
        pauser.join()
        for i, ((root, w, initial), seed) in enumerate(zip(started, seeds)):
            w.settle()
            overflows = sum(1 for e in w.snapshot_events(0) if e.get("event") == "overflow")
            try:
                tc.assertConverges(w, initial, msg="round %d, watcher %d, seed %d, %d overflows"
                                   % (n, i, seed, overflows))
            except AssertionError as e:
                failures += 1
                saved = "/tmp/flood-pauses-%d-%d-%d.jsonl" % (os.getpid(), n, i)
                with open(saved, "w") as f:
                    for ev in w.snapshot_events(0):
                        f.write(json.dumps(ev) + "\n")
                print("FAILED (stream saved in %s)\n%s" % (saved, e), flush=True)
            w.stop()
    finally:
        tc.doCleanups()
    return failures


def main():
    k = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    latency = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if os.geteuid() != 0:
        sys.exit("flood_pauses: needs root (it lowers %s)" % QUEUE)
    failed = 0
    for n in range(rounds):
        failed += one_round(n, k, latency)
        print("round %d: %d watcher streams failed so far" % (n + 1, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
