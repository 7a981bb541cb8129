"""`rm -rf` of deep and wide trees."""

import os
import shutil
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

    def deletes_in(self, w, start, end):
        return sorted(to_bytes(e["path"]) for e in real_events(w.snapshot_events(start, end))
                      if e["event"] == "delete")

    def test_rm_rf_within_one_batch_is_one_delete(self):
        # A directory deleted with everything in it inside one batch is one
        # delete (a gone directory means its whole subtree is gone). A file
        # deleted in a directory that stays is still its own delete.
        root = self.mkroot()
        top = os.path.join(root, "top")
        run_py(DEEP_PY, top, 6)
        keep = os.path.join(root, "keep")
        os.mkdir(keep)
        for i in range(3):
            open(os.path.join(keep, "k%d" % i), "w").close()
        # Events are held 1 s: the three changes below, a few ms apart, are
        # read as one batch.
        w, initial = self.start(root, latency=1000)
        n0 = w.count()
        os.unlink(os.path.join(keep, "k1"))
        shutil.rmtree(top)
        os.unlink(os.path.join(keep, "k2"))
        n1 = w.sync()
        self.assertEqual(self.deletes_in(w, n0, n1),
                         sorted(to_bytes(p) for p in (top, os.path.join(keep, "k1"),
                                                      os.path.join(keep, "k2"))))
        self.assertConverges(w, initial)
        self.assertWatches(w, 2)
        w.stop()

    def test_moved_out_then_directory_deleted(self):
        # What leaves a directory by rename before the directory is deleted
        # is still a rename, in the same batch as the directory's delete.
        root = self.mkroot()
        top = os.path.join(root, "top")
        run_py(DEEP_PY, top, 4)
        w, initial = self.start(root, latency=1000)
        n0 = w.count()
        inner = os.path.join(top, "n0", "n1")
        os.rename(os.path.join(inner, "f1"), os.path.join(root, "saved-file"))
        os.rename(os.path.join(inner, "side"), os.path.join(root, "saved-dir"))
        os.unlink(os.path.join(inner, "f2"))
        shutil.rmtree(top)
        n1 = w.sync()
        evs = real_events(w.snapshot_events(n0, n1))
        renames = sorted((to_bytes(e["from"]), to_bytes(e["path"])) for e in evs
                         if e["event"] == "rename")
        self.assertEqual(renames, sorted([
            (to_bytes(os.path.join(inner, "f1")), to_bytes(os.path.join(root, "saved-file"))),
            (to_bytes(os.path.join(inner, "side")), to_bytes(os.path.join(root, "saved-dir")))]))
        self.assertEqual(self.deletes_in(w, n0, n1), [to_bytes(top)])
        self.assertConverges(w, initial)
        self.assertWatches(w, 2)
        w.stop()


if __name__ == "__main__":
    unittest.main()
