"""Kernel queue overflow: with a tiny queue the watcher must report
`overflow`, rescan, and still converge to the tree on disk.

The queue size (fs.inotify.max_queued_events) is machine-wide and taken
when an inotify instance is created: it is lowered only while the watcher
starts and restored right after `ready` (and in any case in a finally
block). Needs root."""

import os
import sys
import signal
import unittest

from iwtest import BACKEND, WatchTestCase, require_root, run_py

QUEUE = "/proc/sys/fs/inotify/max_queued_events"

FLOOD_PY = r"""
import os, random, shutil, sys
root, seed, n, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd = random.Random(seed)
dirs = [os.path.join(root, "d%d" % i) for i in range(6)]
for d in dirs:
    os.makedirs(d, exist_ok=True)
files = []
for i in range(n):
    d = rnd.choice(dirs)
    p = os.path.join(d, tag + "f%d" % i)
    with open(p, "w") as f:
        f.write("x")
    files.append(p)
    r = rnd.random()
    if r < 0.25 and files:
        src = files.pop(rnd.randrange(len(files)))
        dst = os.path.join(rnd.choice(dirs), tag + "r%d" % i)
        os.rename(src, dst)
        files.append(dst)
    elif r < 0.4 and files:
        os.unlink(files.pop(rnd.randrange(len(files))))
    elif r < 0.45:
        sub = os.path.join(d, tag + "sub%d" % i)
        os.makedirs(os.path.join(sub, "a", "b"))
        for k in range(5):
            open(os.path.join(sub, "a", "b", "g%d" % k), "w").close()
        if rnd.random() < 0.5:
            os.rename(sub, os.path.join(rnd.choice(dirs), tag + "moved%d" % i))
    elif r < 0.48:
        victims = [e for e in os.listdir(d) if e.startswith((tag + "sub", tag + "moved"))]
        if victims:
            shutil.rmtree(os.path.join(d, rnd.choice(victims)))
"""


class Overflow(WatchTestCase):

    def setUp(self):
        super().setUp()
        require_root(self)

    def start_small_queue(self, root, size=64, **kw):
        with open(QUEUE) as f:
            old = f.read().strip()
        try:
            with open(QUEUE, "w") as f:
                f.write(str(size))
            w, initial = self.start(root, **kw)
        finally:
            with open(QUEUE, "w") as f:
                f.write(old)
        with open(QUEUE) as f:
            self.assertEqual(f.read().strip(), old, "max_queued_events restored")
        return w, initial

    def flood_while_stopped(self, w, root, seed, n, tag):
        """Floods while the watcher is stopped (SIGSTOP), so that the queue
        overflows for certain, however fast the watcher reads."""
        os.kill(w.pid, signal.SIGSTOP)
        try:
            run_py(FLOOD_PY, root, seed, n, tag)
        finally:
            os.kill(w.pid, signal.SIGCONT)

    def assertOverflowed(self, w, start=0):
        kinds = [e["event"] for e in w.snapshot_events(start)]
        if BACKEND == "fanotify":
            # Its queue is unbounded (FAN_UNLIMITED_QUEUE): a stopped watcher
            # loses nothing, so there is nothing to recover from.
            self.assertNotIn("overflow", set(kinds), "fanotify's queue has no limit")
            return
        self.assertIn("overflow", set(kinds), "no overflow event after flooding a 64-event queue "
                      "(%d events seen)" % len(kinds))

    def check_flood(self, seed, latency):
        root = self.mkroot()
        for i in range(3):
            os.makedirs(os.path.join(root, "d%d" % i, "pre"))
            open(os.path.join(root, "d%d" % i, "pre", "old"), "w").close()
        w, initial = self.start_small_queue(root, latency=latency)
        # a flood the watcher may or may not keep up with...
        run_py(FLOOD_PY, root, seed, 3000, "a")
        w.settle()
        self.assertConverges(w, initial, msg="after a flood (seed %d)" % seed)
        # ...and one it cannot
        n0 = w.count()
        self.flood_while_stopped(w, root, seed + 100, 3000, "b")
        w.settle()
        self.assertOverflowed(w, n0)
        self.assertConverges(w, initial, msg="after overflow (seed %d)" % seed)
        # still watching normally afterwards, new directories included
        os.makedirs(os.path.join(root, "after", "x"))
        open(os.path.join(root, "after", "x", "f"), "w").close()
        w.sync()
        self.assertConverges(w, initial, msg="after overflow and more changes (seed %d)" % seed)
        w.stop()

    def test_flood_default_latency(self):
        self.check_flood(1, None)

    def test_flood_latency_0(self):
        self.check_flood(2, 0)

    def test_repeated_floods(self):
        root = self.mkroot()
        for i in range(6):  # watched before the floods, so that their events queue up
            os.mkdir(os.path.join(root, "d%d" % i))
        w, initial = self.start_small_queue(root)
        for rnd in range(3):
            n0 = w.count()
            self.flood_while_stopped(w, root, 10 + rnd, 1500, "round%d-" % rnd)
            w.settle()
            self.assertOverflowed(w, n0)
            self.assertConverges(w, initial, msg="after flood %d" % rnd)
        w.stop()


if __name__ == "__main__":
    unittest.main()
