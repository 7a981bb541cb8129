"""New-directory races: entries created inside a directory before the
watcher has put a watch on it must still be reported."""

import os
import subprocess
import sys
import time
import unittest

from iwtest import WatchTestCase, join, real_events, run_py, show, to_bytes

MKDIR_P_PY = r"""
import os, sys
root = sys.argv[1]
for i in range(int(sys.argv[2])):
    d = os.path.join(root, "p%d" % i, "b", "c", "d", "e")
    os.makedirs(d)
    with open(os.path.join(d, "f"), "w") as f:
        f.write("x")
"""

MANY_PY = r"""
import os, sys
root, ndirs, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(ndirs):
    d = os.path.join(root, "d%03d" % i)
    os.mkdir(d)
    if i % 3 == 0:
        os.mkdir(os.path.join(d, "sub"))
    for j in range(nfiles):
        where = os.path.join(d, "sub") if (i % 3 == 0 and j % 2) else d
        fd = os.open(os.path.join(where, "f%02d" % j), os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)
"""

VANISH_PY = r"""
import os, shutil, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "v%d" % i)
    os.makedirs(os.path.join(d, "x", "y"))
    open(os.path.join(d, "x", "y", "f"), "w").close()
    if i % 2:
        shutil.rmtree(d)
    else:
        os.rename(d, os.path.join(root, "r%d" % i))
        open(os.path.join(root, "r%d" % i, "x", "g"), "w").close()
"""

# Removes and makes again names of a directory for a while: a listing that
# takes several getdents64 calls may meet such a name twice.
CHURN_PY = r"""
import os, sys, time
d, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end, i = time.monotonic() + seconds, 0
while time.monotonic() < end:
    p = os.path.join(d, "a-file-with-a-name-long-enough-%05d" % (i * 7919 % n))
    try:
        os.unlink(p)
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
    except FileNotFoundError:
        pass  # the directory is being moved
    i += 1
"""


class NewDirectoryRace(WatchTestCase):

    def assertAllCreated(self, w, initial, start, msg=""):
        """Every entry that is on disk now and was not at `ready` has a
        create event (possibly followed by renames)."""
        got = self.assertConverges(w, initial, msg=msg)
        new = set(got) - set(initial)
        creates = {to_bytes(e["path"]) for e in real_events(w.snapshot_events(start))
                   if e["event"] in ("create", "rename")}
        missing = sorted(new - creates)
        if missing:
            self.fail("%s%d of %d new entries have no create event (%.1f%% reported), e.g. %s"
                      % (msg, len(missing), len(new), 100.0 * (len(new) - len(missing)) / len(new),
                         [show(m) for m in missing[:10]]))

    def test_mkdir_p_with_file_sh(self):
        root = self.mkroot()
        w, initial = self.start(root, latency=0)
        n0 = w.count()
        script = ('i=0; while [ $i -lt 40 ]; do mkdir -p s$i/b/c/d/e && echo x > s$i/b/c/d/e/f; '
                  'i=$((i+1)); done')
        subprocess.run(["sh", "-c", script], cwd=root, check=True, timeout=60)
        w.sync()
        for i in range(40):
            for rel in ("s%d" % i, "s%d/b" % i, "s%d/b/c" % i, "s%d/b/c/d" % i,
                        "s%d/b/c/d/e" % i, "s%d/b/c/d/e/f" % i):
                w.wait_event("create", join(root, rel), start=n0, timeout=0.01)
        self.assertAllCreated(w, initial, n0)
        w.stop()

    def test_mkdir_p_with_file_python(self):
        root = self.mkroot()
        w, initial = self.start(root)  # default latency
        n0 = w.count()
        run_py(MKDIR_P_PY, root, 40)
        w.sync()
        self.assertAllCreated(w, initial, n0)
        for i in range(40):
            w.wait_event("create", join(root, "p%d/b/c/d/e/f" % i), start=n0, timeout=0.01, type="file")
        w.stop()

    def test_new_directory_changed_at_once(self):
        """A directory whose attributes change while its create is still
        queued: the create covers the attrib (one batch). What happens
        inside it before it is watched, inotify finds by scanning, and
        fanotify through the new directory's own handle, which must be
        known from the create event, before any scan. A change of the
        directory in a later batch is told by both."""
        root = self.mkroot()
        w, initial = self.start(root, latency=300)
        n0 = w.count()
        d = os.path.join(root, "d")
        os.mkdir(d)
        os.chmod(d, 0o700)
        os.mkdir(os.path.join(d, "e"))
        os.chmod(os.path.join(d, "e"), 0o700)
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("create", join(root, "d"), "dir"),
                                      ("create", join(root, "d/e"), "dir")])
        os.chmod(d, 0o750)
        n2 = w.sync()
        self.assertEvents(w, n1, n2, [("attrib", join(root, "d"), "dir")])
        self.assertConverges(w, initial)
        w.stop()

    def test_300_dirs_30_files(self):
        root = self.mkroot()
        w, initial = self.start(root)
        n0 = w.count()
        run_py(MANY_PY, root, 300, 30)
        w.settle()
        self.assertAllCreated(w, initial, n0)
        w.stop()

    def test_many_dirs_latency_0(self):
        root = self.mkroot()
        os.mkdir(os.path.join(root, "existing"))
        w, initial = self.start(root, latency=0)
        n0 = w.count()
        run_py(MANY_PY, os.path.join(root, "existing"), 100, 20)
        w.settle()
        self.assertAllCreated(w, initial, n0)
        w.stop()

    def test_new_dirs_that_vanish_or_move_at_once(self):
        root = self.mkroot()
        w, initial = self.start(root, latency=0)
        n0 = w.count()
        run_py(VANISH_PY, root, 100)
        w.sync()
        self.assertConverges(w, initial)
        w.stop()

    def test_big_directory_moved_in_while_names_come_and_go(self):
        """A directory too big for one getdents64 call, moved in (so read
        whole) while its names are removed and made again: each name must
        still be created once, however the listing meets it."""
        root = self.mkroot()
        outside = self.path("outside")
        os.mkdir(outside)
        big = os.path.join(outside, "big")
        os.mkdir(big)
        n = 3000  # about 200 KiB of directory entries: several reads
        for i in range(n):
            os.close(os.open(os.path.join(big, "a-file-with-a-name-long-enough-%05d" % i),
                             os.O_CREAT | os.O_WRONLY, 0o644))
        w, initial = self.start(root, latency=0)
        n0 = w.count()
        churn = subprocess.Popen([sys.executable, "-c", CHURN_PY, big, str(n), "3"])
        inside = os.path.join(root, "big")
        try:
            for _ in range(6):  # in and out while the names churn
                os.rename(big, inside)
                time.sleep(0.2)
                os.rename(inside, big)
                time.sleep(0.05)
            os.rename(big, inside)
            churn.wait(timeout=60)
        finally:
            churn.kill()
            churn.wait()
        self.assertEqual(churn.returncode, 0)
        w.settle()
        self.assertAllCreated(w, initial, n0)
        w.stop()


if __name__ == "__main__":
    unittest.main()
