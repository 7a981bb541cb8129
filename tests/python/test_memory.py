"""No reference leaks: 100k+ events through each layer leave Python's
memory (tracemalloc), the total reference count (debug builds) and the
process's RSS flat after a warm-up."""

import gc
import os
import sys
import tracemalloc
import unittest

from pyhelpers import TempDirTestCase, inowatch

ROUNDS = 60
# Each round renames FILES files back and forth: 2 rename events per file
# for the Watcher (120k in all), 4 records (MOVED_FROM, MOVED_TO) for
# Inotify. Renames rather than create + delete: creating files is slow on
# some filesystems (overlayfs), and renames carry two paths per event.
FILES = 1000


# Under AddressSanitizer freed memory sits in a quarantine, so RSS grows
# whatever the module does: only the Python-level checks hold there.
SANITIZED = os.environ.get("INOWATCH_SANITIZED") == "1"


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def refs():
    return sys.gettotalrefcount() if hasattr(sys, "gettotalrefcount") else 0


class Memory(TempDirTestCase):

    def churn(self, root, drain, per_rename):
        count = 0
        for a, b in ((self.names_f, self.names_g), (self.names_g, self.names_f)):
            for x, y in zip(a, b):
                os.rename(x, y)
            count += drain(len(a) * per_rename)
        return count

    def run_rounds(self, root, drain, per_rename):
        self.names_f = [os.path.join(root, "f%04d" % i) for i in range(FILES)]
        self.names_g = [os.path.join(root, "g%04d" % i) for i in range(FILES)]
        for name in self.names_f:
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o644))
        drain(0)
        total = 0
        marks = {}
        for i in range(ROUNDS):
            total += self.churn(root, drain, per_rename)
            if i == 9:  # warmed up: buffers at their size
                gc.collect()
                marks = {"py": tracemalloc.get_traced_memory()[0], "rss": rss_kib(), "refs": refs()}
        gc.collect()
        grown = {"py": tracemalloc.get_traced_memory()[0] - marks["py"],
                 "rss": rss_kib() - marks["rss"], "refs": refs() - marks["refs"]}
        return total, grown

    def setUp(self):
        super().setUp()
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)

    def check(self, total, grown):
        self.assertGreaterEqual(total, 100000)
        # 50 rounds after the warm-up: a leak of one object per event would
        # be 100k objects, megabytes.
        self.assertLess(grown["py"], 64 * 1024, grown)
        if not SANITIZED:
            self.assertLess(grown["rss"], 2048, grown)
        if hasattr(sys, "gettotalrefcount"):
            self.assertLess(abs(grown["refs"]), 1000, grown)

    def test_watcher(self):
        root = self.mkroot()
        with inowatch.Watcher(root, latency=0) as w:
            def drain(n):
                if n == 0:  # the creates before the first round
                    while w.read(0.2):
                        pass
                    return 0
                got = 0
                while got < n:
                    got += len(w.read(10))
                return got
            total, grown = self.run_rounds(root, drain, 1)
        self.check(total, grown)

    def test_inotify(self):
        root = self.mkroot()
        with inowatch.Inotify() as ino:
            ino.add_watch(root, inowatch.IN_MOVE)

            def drain(n):
                got = 0
                while got < n:
                    got += len(ino.read(10))
                return got
            total, grown = self.run_rounds(root, drain, 2)
        self.check(total, grown)

    def test_watchers_made_and_closed(self):
        root = self.mkroot()
        for i in range(20):
            os.makedirs(os.path.join(root, "d%d" % i, "sub"))
        def cycle():
            for _ in range(200):
                # latency=0: each read would gather 50 ms (the default),
                # 30 s of this test's 600 watchers
                with inowatch.Watcher(root, latency=0) as w:
                    open(os.path.join(root, "x"), "w").close()
                    w.read(10)
                    os.unlink(os.path.join(root, "x"))
                try:
                    inowatch.Watcher(os.path.join(root, "nope"))
                except FileNotFoundError:
                    pass
                with inowatch.Inotify() as ino:
                    ino.add_watch(root, inowatch.IN_CREATE)
        cycle()
        gc.collect()
        py0, rss0, fds0 = tracemalloc.get_traced_memory()[0], rss_kib(), len(os.listdir("/proc/self/fd"))
        cycle()
        cycle()
        gc.collect()
        self.assertLess(tracemalloc.get_traced_memory()[0] - py0, 64 * 1024)
        if not SANITIZED:
            self.assertLess(rss_kib() - rss0, 2048)
        self.assertEqual(len(os.listdir("/proc/self/fd")), fds0, "fds leak")


if __name__ == "__main__":
    unittest.main()
