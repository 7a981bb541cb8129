"""The Watcher's events, applied in order to the tree as it was at start,
give the tree on disk: the CLI's convergence scenarios, through the Python
layer (races with a child process, subtree renames, moves in and out, an
editor's save, rm -rf)."""

import os
import shutil
import subprocess
import sys
import unittest

from pyhelpers import TempDirTestCase, to_bytes

MKDIR_P = r"""
import os, sys
root = sys.argv[1]
for i in range(int(sys.argv[2])):
    d = os.path.join(root, "p%d" % i, "b", "c")
    os.makedirs(d)
    for j in range(3):
        with open(os.path.join(d, "f%d" % j), "w") as f:
            f.write("x")
"""

MANY = r"""
import os, sys
root, ndirs, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(ndirs):
    d = os.path.join(root, "d%03d" % i)
    os.mkdir(d)
    for j in range(nfiles):
        os.close(os.open(os.path.join(d, "f%02d" % j), os.O_CREAT | os.O_WRONLY, 0o644))
"""

RENAME_THEN_CREATE = r"""
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    a = os.path.join(root, "a%d" % i)
    os.makedirs(os.path.join(a, "b", "c"))
    open(os.path.join(a, "b", "c", "f"), "w").close()
    z = os.path.join(root, "z%d" % i)
    os.rename(a, z)
    open(os.path.join(z, "b", "c", "g"), "w").close()
    os.mkdir(os.path.join(z, "b", "new"))
    open(os.path.join(z, "b", "new", "h"), "w").close()
"""


def sh(cmd, cwd):
    subprocess.run(["sh", "-c", cmd], cwd=cwd, check=True, timeout=120)


def child(code, *args):
    subprocess.run([sys.executable, "-c", code] + [str(a) for a in args], check=True, timeout=120)


class Convergence(TempDirTestCase):

    def new_entries_created(self, reader, initial):
        """Every entry on disk now that was not at start has a create (or
        rename) event: none was missed in a race."""
        got = self.assertConverges(reader, initial, reader.root)
        new = set(got) - set(initial)
        seen = {to_bytes(e.path) for e in reader.real_events() if e.kind in ("create", "rename")}
        self.assertFalse(new - seen, "new entries without a create event")

    def test_mkdir_p_race(self):
        root = self.mkroot()
        w, r, initial = self.watch(root, latency=0)
        child(MKDIR_P, root, 60)
        self.new_entries_created(r, initial)

    def test_mkdir_p_race_sh(self):
        root = self.mkroot()
        w, r, initial = self.watch(root)
        sh("i=0; while [ $i -lt 30 ]; do mkdir -p s$i/b/c/d && echo x > s$i/b/c/d/f; "
           "i=$((i+1)); done", root)
        self.new_entries_created(r, initial)

    def test_100_dirs_of_20_files(self):
        root = self.mkroot()
        w, r, initial = self.watch(root)
        child(MANY, root, 100, 20)
        self.new_entries_created(r, initial)
        creates = [e for e in r.real_events() if e.kind == "create"]
        self.assertEqual(len(creates), 100 * 21)

    def test_subtree_rename_then_creates_inside(self):
        root = self.mkroot()
        w, r, initial = self.watch(root)
        child(RENAME_THEN_CREATE, root, 30)
        got = self.assertConverges(r, initial, root)
        self.assertIn(to_bytes(os.path.join(root, "z7", "b", "new", "h")), got)
        self.assertNotIn(to_bytes(os.path.join(root, "a7")), got)

    def test_rename_of_watched_subtree(self):
        root = self.mkroot()
        os.makedirs(os.path.join(root, "a", "b", "c"))
        open(os.path.join(root, "a", "b", "c", "f"), "w").close()
        w, r, initial = self.watch(root)
        os.rename(os.path.join(root, "a"), os.path.join(root, "z"))
        open(os.path.join(root, "z", "b", "c", "g"), "w").close()
        self.assertConverges(r, initial, root)
        renames = [(e.from_path, e.path, e.type) for e in r.real_events() if e.kind == "rename"]
        self.assertEqual(renames, [(os.path.join(root, "a"), os.path.join(root, "z"), "dir")])
        self.assertIn(("create", os.path.join(root, "z", "b", "c", "g")),
                      [(e.kind, e.path) for e in r.real_events()])

    def test_move_in_and_out(self):
        root = self.mkroot()
        outside = self.mkroot("outside")
        os.makedirs(os.path.join(outside, "in", "x", "y"))
        for i in range(20):
            open(os.path.join(outside, "in", "x", "y", "f%d" % i), "w").close()
        os.makedirs(os.path.join(root, "out", "deep"))
        open(os.path.join(root, "out", "deep", "g"), "w").close()
        w, r, initial = self.watch(root)
        os.rename(os.path.join(outside, "in"), os.path.join(root, "in"))
        os.rename(os.path.join(root, "out"), os.path.join(outside, "out"))
        # The moved-out subtree is not watched any more.
        open(os.path.join(outside, "out", "deep", "later"), "w").close()
        self.assertConverges(r, initial, root)
        kinds = [(e.kind, e.path) for e in r.real_events()]
        self.assertIn(("create", os.path.join(root, "in", "x", "y", "f7")), kinds)
        self.assertIn(("delete", os.path.join(root, "out")), kinds)
        self.assertFalse([k for k in kinds if "later" in k[1]])

    def test_editor_saves(self):
        root = self.mkroot()
        target = os.path.join(root, "notes.txt")
        with open(target, "w") as f:
            f.write("v1\n")
        w, r, initial = self.watch(root)
        # Write a temporary file and rename it over the target (most editors).
        for i in range(5):
            tmp = os.path.join(root, ".notes.txt.swp%d" % i)
            with open(tmp, "w") as f:
                f.write("v%d\n" % (i + 2))
            os.rename(tmp, target)
        # vim with backup: rename the original away, write anew, drop the backup.
        os.rename(target, target + "~")
        with open(target, "w") as f:
            f.write("vim\n")
        os.unlink(target + "~")
        self.assertConverges(r, initial, root)

    def test_single_file_root_follows_editor_save(self):
        d = self.mkroot()
        target = os.path.join(d, "conf")
        with open(target, "w") as f:
            f.write("a\n")
        w, r, _ = self.watch(target)
        tmp = os.path.join(d, "conf.tmp")
        with open(tmp, "w") as f:
            f.write("b\n")
        os.rename(tmp, target)
        r.read_until(lambda e: e.kind == "create" and e.path == target, what="the new file")
        with open(target, "a") as f:
            f.write("c\n")
        r.read_until(lambda e: e.kind == "modify" and e.path == target, what="a modify")
        self.assertEqual(w.root_count, 1)

    def test_rm_rf(self):
        root = self.mkroot()
        child(MANY, root, 30, 10)
        w, r, initial = self.watch(root)
        self.assertEqual(len(initial), 1 + 30 * 11)
        subprocess.run(["rm", "-rf", os.path.join(root, "d005")], check=True)
        shutil.rmtree(os.path.join(root, "d006"))
        sh("rm -rf d01*", root)
        got = self.assertConverges(r, initial, root)
        self.assertEqual(len(got), 1 + 30 * 11 - 12 * 11)

    def test_root_deleted_ends_iteration(self):
        root = self.mkroot()
        os.makedirs(os.path.join(root, "a"))
        w, r, _ = self.watch(root)
        shutil.rmtree(root)
        batches = list(w)  # ends once the root is gone
        events = [e for b in batches for e in b]
        self.assertEqual(events[-1].kind, "delete")
        self.assertEqual(events[-1].path, root)
        self.assertTrue(events[-1].root)
        self.assertEqual(w.root_count, 0)
        self.assertEqual(w.read(), [])

    def test_exclude_and_events_filter(self):
        root = self.mkroot()
        w, r, initial = self.watch(root, exclude=[".git", "*.o"], events=("create", "delete"))
        os.makedirs(os.path.join(root, ".git", "objects"))
        open(os.path.join(root, ".git", "objects", "x"), "w").close()
        open(os.path.join(root, "a.o"), "w").close()
        with open(os.path.join(root, "a.c"), "w") as f:
            f.write("int x;\n")
        os.chmod(os.path.join(root, "a.c"), 0o600)
        r.sync()
        self.assertEqual([(e.kind, e.path) for e in r.real_events()],
                         [("create", os.path.join(root, "a.c"))])
        self.assertEqual(w.stats()["watches"], 1)

    def test_non_recursive(self):
        root = self.mkroot()
        os.makedirs(os.path.join(root, "sub"))
        w, r, _ = self.watch(root, recursive=False)
        open(os.path.join(root, "sub", "deep"), "w").close()
        open(os.path.join(root, "top"), "w").close()
        r.sync()
        self.assertEqual([(e.kind, e.path) for e in r.real_events()],
                         [("create", os.path.join(root, "top"))])

    def test_initial_errors_come_first(self):
        if os.geteuid() == 0:
            self.skipTest("root reads everything; see test_errors (as nobody)")
        root = self.mkroot()
        os.mkdir(os.path.join(root, "locked"), 0)
        w, r, _ = self.watch(root)
        self.assertTrue(w.has_backlog())
        batch = w.read()
        self.assertEqual([(e.kind, e.error) for e in batch], [("error", "EACCES")])


if __name__ == "__main__":
    unittest.main()
