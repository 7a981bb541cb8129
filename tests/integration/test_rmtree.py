"""`rm -rf` of deep and wide trees."""

import os
import subprocess
import unittest

from iwtest import WatchTestCase, real_events, run_py, to_bytes

DEEP_PY = r"""
import os, sys
base, depth = sys.argv[1], int(sys.argv[2])
d = base
os.mkdir(d)
for level in range(depth):
    for i in range(3):
        open(os.path.join(d, "f%d" % i), "w").close()
    side = os.path.join(d, "side")
    os.mkdir(side)
    for i in range(2):
        open(os.path.join(side, "s%d" % i), "w").close()
    os.symlink("f0", os.path.join(d, "l"))
    d = os.path.join(d, "n%d" % level)
    os.mkdir(d)
"""


class RmTree(WatchTestCase):

    def check_rm(self, w, initial, root, top):
        n0 = w.count()
        subprocess.run(["rm", "-rf", "--", top], check=True, timeout=60)
        n1 = w.sync()
        evs = real_events(w.snapshot_events(n0, n1))
        self.assertIn(("delete", to_bytes(top), "dir"),
                      [(e["event"], to_bytes(e["path"]), e.get("type")) for e in evs])
        self.assertFalse([e for e in evs if e["event"] in ("create", "rename")],
                         "creates or renames while only deleting")
        self.assertConverges(w, initial)
        self.assertWatches(w, 1, "watches left after rm -rf of everything")

    def test_rm_rf_existing_deep_tree(self):
        root = self.mkroot()
        run_py(DEEP_PY, os.path.join(root, "top"), 50)
        w, initial = self.start(root)
        self.assertWatches(w, 1 + 50 * 2 + 1)
        self.check_rm(w, initial, root, os.path.join(root, "top"))
        w.stop()

    def test_rm_rf_tree_created_while_watching(self):
        root = self.mkroot()
        w, initial = self.start(root, latency=0)
        run_py(DEEP_PY, os.path.join(root, "top"), 50)
        w.sync()
        self.assertConverges(w, initial)
        self.check_rm(w, initial, root, os.path.join(root, "top"))
        w.stop()

    def test_create_and_remove_repeatedly(self):
        root = self.mkroot()
        w, initial = self.start(root)
        for rnd in range(5):
            run_py(DEEP_PY, os.path.join(root, "top"), 20)
            subprocess.run(["rm", "-rf", "--", os.path.join(root, "top")], check=True, timeout=60)
        run_py(DEEP_PY, os.path.join(root, "top"), 10)
        w.sync()
        self.assertConverges(w, initial)
        w.stop()


if __name__ == "__main__":
    unittest.main()
