"""Seeded random sequences of 3,000 file system operations from one child
process; the events must replay to the tree on disk, with no duplicate
create. Fixed seeds 1, 2, 3, plus $INOWATCH_SEED when set (to replay a
failure or explore: the seed is in every failure message)."""

import os
import signal
import unittest

from iwtest import WatchTestCase, run_py

OPS = 3000

RANDOM_PY = r"""
import os, random, shutil, stat, sys
root, outside, seed, nops = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
counter = [0]
# $INOWATCH_KEEP: each operation that succeeded, with its time, for a
# failure's post-mortem (iwtest.keep_evidence).
oplog = None
if os.environ.get("INOWATCH_KEEP"):
    import time
    os.makedirs(os.environ["INOWATCH_KEEP"], exist_ok=True)
    oplog = open(os.path.join(os.environ["INOWATCH_KEEP"], "ops-%d.txt" % seed), "w", buffering=1)

    def logged(fn, what):
        def call(*a, **kw):
            try:
                r = fn(*a, **kw)
            except OSError as e:
                oplog.write("%.6f %s %r %s\n" % (time.monotonic(), what, a, e.strerror))
                raise
            oplog.write("%.6f %s %r\n" % (time.monotonic(), what, a))
            return r
        return call
    for f in ("open", "mkdir", "rename", "unlink", "chmod", "symlink", "link", "mkfifo"):
        setattr(os, f, logged(getattr(os, f), f))
    shutil.rmtree = logged(shutil.rmtree, "rmtree")

def name():
    counter[0] += 1
    if rnd.random() < 0.15:
        return "n%d" % rnd.randrange(20)      # reused names: collisions, overwrites
    return "e%d" % counter[0]

def listing(top):
    files, dirs, links = [], [top], []
    for d, ds, fs in os.walk(top):
        for x in ds:
            p = os.path.join(d, x)
            (links if os.path.islink(p) else dirs).append(p)
        for x in fs:
            p = os.path.join(d, x)
            try:
                regular = stat.S_ISREG(os.lstat(p).st_mode)
            except OSError:
                continue
            (files if regular else links).append(p)  # links: symlinks, fifos
    return files, dirs, links

# Writes to p if it is (or becomes) a regular file; never blocks on a fifo
# that took the name of a file since the last listing.
def put(p, flags, data):
    fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK | flags, 0o644)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode) and data:
            os.write(fd, data)
    finally:
        os.close(fd)

files = dirs = links = ofiles = odirs = None
for i in range(nops):
    if i % 8 == 0 or files is None:
        files, dirs, links = listing(root)
        ofiles, odirs, olinks = listing(outside)
        ofiles += olinks
        odirs = odirs[1:]
    big = len(files) + len(dirs) > 400
    op = rnd.choices(
        ["create", "write", "append", "mkdir", "mvfile", "mvover", "mvdir", "unlink", "rmtree",
         "chmod", "symlink", "link", "out", "in", "mvdirover", "fifo", "truncate"],
        [14, 7, 7, 9, 8, 4, 5, 8 + 10 * big, 2 + 4 * big, 4, 4, 3, 3, 3, 1, 1, 2])[0]
    try:
        if op == "create":
            put(os.path.join(rnd.choice(dirs), name()), os.O_CREAT | os.O_TRUNC, b"x" * rnd.randrange(100))
        elif op in ("write", "append", "truncate") and files:
            p = rnd.choice(files)
            put(p, {"write": os.O_TRUNC, "append": os.O_APPEND, "truncate": os.O_TRUNC}[op],
                b"" if op == "truncate" else b"data")
        elif op == "mkdir":
            d = os.path.join(rnd.choice(dirs), name())
            os.mkdir(d)
            if rnd.random() < 0.3:
                put(os.path.join(d, "inner"), os.O_CREAT, b"")
                os.mkdir(os.path.join(d, "sub"))
                put(os.path.join(d, "sub", "deeper"), os.O_CREAT, b"")
        elif op == "mvfile" and (files or links):
            os.rename(rnd.choice(files + links), os.path.join(rnd.choice(dirs), name()))
        elif op == "mvover" and len(files) > 1:
            a, b = rnd.sample(files, 2)
            os.rename(a, b)
        elif op == "mvdir" and len(dirs) > 1:
            src = rnd.choice(dirs[1:])
            os.rename(src, os.path.join(rnd.choice(dirs), name()))
        elif op == "mvdirover" and len(dirs) > 2:
            src, dst = rnd.sample(dirs[1:], 2)
            os.rename(src, dst)  # works only onto an empty directory
        elif op == "unlink" and (files or links):
            os.unlink(rnd.choice(files + links))
        elif op == "rmtree" and len(dirs) > 1:
            shutil.rmtree(rnd.choice(dirs[1:]))
        elif op == "chmod":
            if rnd.random() < 0.7 and files:
                os.chmod(rnd.choice(files), rnd.choice([0o600, 0o644, 0o755, 0o400]))
            elif len(dirs) > 1:
                os.chmod(rnd.choice(dirs[1:]), rnd.choice([0o700, 0o755, 0o750]))
        elif op == "symlink":
            # Dangling targets stay dangling: a create through one fails,
            # as its directory does not exist. (It was "/nonexistent",
            # which a create through the link made, on the real root.)
            target = rnd.choice(files + dirs + [os.path.join(outside, "no-dir", "x"), "dangling"])
            os.symlink(target, os.path.join(rnd.choice(dirs), name()))
        elif op == "link" and files:
            os.link(rnd.choice(files), os.path.join(rnd.choice(dirs), name()))
        elif op == "out" and len(dirs + files) > 1:
            src = rnd.choice(dirs[1:] + files)
            os.rename(src, os.path.join(outside, name()))
        elif op == "in" and (ofiles or odirs):
            src = rnd.choice(ofiles + odirs)
            os.rename(src, os.path.join(rnd.choice(dirs), name()))
        elif op == "fifo":
            os.mkfifo(os.path.join(rnd.choice(dirs), name()))
    except OSError:
        pass  # stale listing, name collision, directory not empty...: skip
    if i % 8 == 7 or op in ("mvdir", "rmtree", "out", "in", "mvdirover"):
        files = None
"""


class RandomSequences(WatchTestCase):

    def run_seed(self, seed, latency, stopped=False):
        root = self.mkroot()
        outside = self.path("outside")
        os.mkdir(outside)
        # a starting tree, also random
        run_py(RANDOM_PY, root, outside, seed + 1000, 300)
        w, initial = self.start(root, latency=latency)
        try:
            if stopped:
                # The watcher sees everything late, in large batches, when
                # most entries named in the queue have moved or gone again.
                os.kill(w.pid, signal.SIGSTOP)
                try:
                    run_py(RANDOM_PY, root, outside, seed, OPS)
                finally:
                    os.kill(w.pid, signal.SIGCONT)
            else:
                run_py(RANDOM_PY, root, outside, seed, OPS)
            w.settle()
            self.assertConverges(w, initial)
            w.stop()
        except AssertionError as e:
            raise self.failureException("seed %d (replay with INOWATCH_SEED=%d): %s" % (seed, seed, e)) from None

    def test_seed_1(self):
        self.run_seed(1, None)

    def test_seed_2(self):
        self.run_seed(2, 0)

    def test_seed_3(self):
        self.run_seed(3, 50)

    def test_seed_4_watcher_stopped_meanwhile(self):
        self.run_seed(4, None, stopped=True)

    def test_seed_from_environment(self):
        seed = os.environ.get("INOWATCH_SEED")
        if not seed:
            self.skipTest("INOWATCH_SEED not set")
        self.run_seed(int(seed), None)


if __name__ == "__main__":
    unittest.main()
