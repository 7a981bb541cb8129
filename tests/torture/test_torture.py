"""Torture: several processes at once run seeded random sequences of file
system operations over two watched roots and a directory outside them
(creates, writes, mkdir, renames of files and subtrees within and across
roots, moves in and out, unlink, rm -rf, chmod, symlinks, hard links,
fifos), with and without a forced queue overflow, and with the watcher
stopped while they run (read late: with fanotify, many events merged). The
events must replay to the trees on disk, with no create repeated without a
delete between.

Seeds: three fixed ones, plus one random (printed) or $INOWATCH_SEED. A
failure message starts with the seed and the command that replays it.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from iwtest import BACKEND, WatchTestCase, have_root, snapshot_all  # noqa: E402
from test_random import RANDOM_PY  # noqa: E402

# Operations per worker process; three workers run at once.
OPS = int(os.environ.get("INOWATCH_TORTURE_OPS", "3000"))
WORKERS = 3
QUEUE_SYSCTL = "/proc/sys/fs/inotify/max_queued_events"


def random_seed():
    seed = os.environ.get("INOWATCH_SEED")
    if seed:
        return int(seed)
    seed = random.SystemRandom().randrange(1, 1 << 31)
    print("torture: random seed %d (replay with INOWATCH_SEED=%d)" % (seed, seed),
          file=sys.stderr, flush=True)
    return seed


class Torture(WatchTestCase):

    def pause_repeatedly(self, pid, done):
        """Stops the watcher for a while, again and again, so that its
        small queue overflows while the workers go on."""
        while not done.is_set():
            os.kill(pid, signal.SIGSTOP)
            time.sleep(0.3)
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.2)

    def stop_throughout(self, pid, done):
        """Stops the watcher for as long as the workers run: it reads it
        all late, in big batches, when the disk is far ahead of the queue
        and most names it reads have moved on (with fanotify, the kernel
        has merged many events into earlier ones meanwhile)."""
        os.kill(pid, signal.SIGSTOP)
        done.wait()
        os.kill(pid, signal.SIGCONT)

    def overflow_once_more(self, w, top):
        """Whatever the timing did, end with one certain overflow: more
        new files than the queue holds while the watcher is stopped."""
        burst = os.path.join(top, "burst")
        os.kill(w.pid, signal.SIGSTOP)
        try:
            os.mkdir(burst)
            for i in range(600):
                with open(os.path.join(burst, "f%d" % i), "wb"):
                    pass
        finally:
            os.kill(w.pid, signal.SIGCONT)

    def spawn_workers(self, roots, outside, seed):
        """Three workers with overlapping territories: each works in one
        root and treats another place as its "outside", so moves between
        the two roots, and in and out of them, all happen concurrently."""
        plans = [(roots[0], roots[1]), (roots[1], outside), (roots[0], outside)]
        procs = []
        for k, (top, other) in enumerate(plans[:WORKERS]):
            procs.append(subprocess.Popen(
                [sys.executable, "-c", RANDOM_PY, top, other, str(seed * 10 + k), str(OPS)],
                stdin=subprocess.DEVNULL))
        for p in procs:
            self.assertEqual(p.wait(timeout=600), 0, "a worker failed")

    def run_seed(self, seed, overflow, pauser=None, replay=None):
        """One run: the starting trees, the watcher, three workers at once
        (with overflow: the queue made small, and the watcher stopped now
        and then by `pauser`, pause_repeatedly by default), then the
        convergence check. `replay` names the random-seed test to replay a
        failure with."""
        if overflow and not replay:
            replay = "overflow"
        roots = [self.mkroot("r1"), self.mkroot("r2")]
        outside = self.path("outside")
        os.mkdir(outside)
        for k, top in enumerate(roots):  # starting trees, random too
            subprocess.run([sys.executable, "-c", RANDOM_PY, top, outside, str(seed * 10 + 7 + k),
                            "300"], check=True)
        saved = None
        if overflow:
            # The queue size is taken when the inotify instance is created:
            # lower it for our watcher only, and restore it at once.
            with open(QUEUE_SYSCTL) as f:
                saved = f.read()
            with open(QUEUE_SYSCTL, "w") as f:
                f.write("256")
        try:
            # Restored only after ready: the watcher may create its inotify
            # instance well after it was started (slower under sanitizers).
            w = self.watch(roots)
            w.ready()
        finally:
            if saved is not None:
                with open(QUEUE_SYSCTL, "w") as f:
                    f.write(saved)
        try:
            initial = snapshot_all(w.roots)
            done = threading.Event()
            pauser = threading.Thread(target=pauser or self.pause_repeatedly, args=(w.pid, done))
            if overflow:
                pauser.start()
            try:
                self.spawn_workers(roots, outside, seed)
            finally:
                done.set()
                if overflow:
                    pauser.join()
            if overflow:
                self.overflow_once_more(w, roots[0])
            w.settle()
            self.assertConverges(w, initial)
            overflowed = any(e.get("event") == "overflow" for e in w.events)
            if overflow and BACKEND == "fanotify":
                # an unbounded queue: the pauses lose nothing
                self.assertFalse(overflowed, "fanotify's queue has no limit")
            elif overflow:
                self.assertTrue(overflowed, "the forced overflow did not happen")
            w.stop()
        except AssertionError as e:
            raise self.failureException(
                "seed %d%s (replay: INOWATCH_SEED=%d python3 -m unittest %s): %s"
                % (seed, {"overflow": " with overflows", "stopped": " with the watcher stopped"}
                   .get(replay, ""), seed,
                   "test_torture.Torture.test_random_seed" + ("_" + replay if replay else ""),
                   e)) from None

    def test_seed_1(self):
        self.run_seed(1, False)

    def test_seed_2_overflow(self):
        if not have_root():
            self.skipTest("forcing an overflow needs root (it lowers %s briefly)" % QUEUE_SYSCTL)
        self.run_seed(2, True)

    def test_seed_3(self):
        self.run_seed(3, False)

    def test_random_seed(self):
        self.run_seed(random_seed(), False)

    def test_random_seed_overflow(self):
        if not have_root():
            self.skipTest("forcing an overflow needs root (it lowers %s briefly)" % QUEUE_SYSCTL)
        self.run_seed(random_seed(), True)

    def test_random_seed_stopped(self):
        if not have_root():
            self.skipTest("forcing an overflow needs root (it lowers %s briefly)" % QUEUE_SYSCTL)
        self.run_seed(random_seed(), True, self.stop_throughout, replay="stopped")


if __name__ == "__main__":
    unittest.main()
