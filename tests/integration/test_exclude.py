"""Excludes: -x PATTERN without '/' matches any path component, with '/'
the path relative to the root. Nothing under an excluded path is reported
and excluded directories get no watch at all."""

import fnmatch
import os
import shutil
import unittest

from iwtest import (WatchTestCase, join, real_events, show, snapshot,
                    to_bytes, write)

COMPONENT_PATTERNS = [".git", "*.o"]
PATH_PATTERNS = ["build/out", "gen/*"]
ARGS = ["-x", ".git", "--exclude", "*.o", "-x", "build/out", "-x", "gen/*"]


def excluded(rel, name):
    """The contract's rule, for the snapshot side (rel and name are bytes)."""
    n = name.decode("utf-8", "surrogateescape")
    r = rel.decode("utf-8", "surrogateescape")
    if any(fnmatch.fnmatchcase(n, p) for p in COMPONENT_PATTERNS):
        return True
    return any(fnmatch.fnmatchcase(r, p) for p in PATH_PATTERNS)


def event_excluded(root, path):
    rel = to_bytes(path)[len(to_bytes(root)) + 1:]
    parts = rel.split(b"/")
    for k in range(1, len(parts) + 1):
        if excluded(b"/".join(parts[:k]), parts[k - 1]):
            return True
    return False


class Excludes(WatchTestCase):

    def make_tree(self, root):
        for d in (".git/objects/aa", "src/sub", "src/x.o", "build/out/deep", "build/keep",
                  "nested/.git/refs", "lib/build/out", "gen/g1/g2", "src/gen/kept"):
            os.makedirs(os.path.join(root, d))
        for f in (".git/HEAD", ".git/objects/aa/bb", "src/a.c", "src/a.o", "src/sub/b.o",
                  "src/sub/b.c", "src/x.o/inside.c", "build/out/x", "build/out/deep/y",
                  "build/keep/z", "nested/.git/refs/main", "lib/build/out/kept", "README",
                  "gen/generated.c", "gen/g1/g2/x"):
            write(os.path.join(root, f))

    def watched_dirs(self, root):
        return sum(1 for t in snapshot(root, exclude=excluded).values() if t == "dir")

    def test_excluded_paths_not_reported_nor_watched(self):
        root = self.mkroot()
        self.make_tree(root)
        w, initial = self.start(root, args=ARGS, snapshot_exclude=excluded)
        # root, src, src/sub, build, build/keep, nested, lib, lib/build, lib/build/out,
        # gen, src/gen, src/gen/kept
        self.assertEqual(self.watched_dirs(root), 12)
        self.assertWatches(w, 12,
                         "one watch per directory that is not excluded")

        n0 = w.count()
        for f in (".git/HEAD", ".git/objects/aa/cc", "src/c.o", "src/sub/d.o", "build/out/new",
                  "build/out/deep/new", "nested/.git/refs/new", "src/x.o/new.c", "gen/new.c",
                  "gen/g1/g2/new"):
            write(os.path.join(root, f), b"changed")
        for d in (".git/newdir", "build/out/newdir", "new/.git/objects", "new/obj.o/sub", "gen/newdir/x"):
            os.makedirs(os.path.join(root, d))
            write(os.path.join(root, d, "f"))
        shutil.rmtree(os.path.join(root, "build", "out", "deep"))
        for f in ("src/d.c", "build/keep/w", "lib/build/out/k2", "new/kept.c", "src/gen/kept/k"):
            write(os.path.join(root, f))
        n1 = w.sync()
        evs = real_events(w.snapshot_events(n0, n1))
        bad = [e for e in evs if event_excluded(root, e["path"]) or
               ("from" in e and event_excluded(root, e["from"]))]
        self.assertFalse(bad, "events under excluded paths: %s" % [show(to_bytes(e["path"])) for e in bad])
        creates = {to_bytes(e["path"]) for e in evs if e["event"] == "create"}
        for f in ("src/d.c", "build/keep/w", "lib/build/out/k2", "new", "new/kept.c", "src/gen/kept/k"):
            self.assertIn(join(root, f), creates)
        self.assertConverges(w, initial, exclude=excluded)
        self.assertWatches(w, self.watched_dirs(root),
                         "watches after new directories, excluded or not, appeared")
        w.stop()

    def test_renames_across_the_exclusion_boundary(self):
        root = self.mkroot()
        self.make_tree(root)
        w, initial = self.start(root, args=ARGS, snapshot_exclude=excluded)
        n0 = w.count()
        # into an excluded name: for the watched tree, a delete
        os.rename(os.path.join(root, "src", "a.c"), os.path.join(root, "src", "a.o"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("delete", join(root, "src/a.c"), "file")],
                          msg="renaming a.c to the excluded a.o: ")
        # out of an excluded name: a create, of the whole subtree
        os.rename(os.path.join(root, "src", "x.o"), os.path.join(root, "src", "x"))
        n2 = w.sync()
        self.assertEvents(w, n1, n2, [("create", join(root, "src/x"), "dir"),
                                      ("create", join(root, "src/x/inside.c"), "file")],
                          msg="renaming the excluded dir x.o to x: ")
        write(os.path.join(root, "src", "x", "later.c"))
        n3 = w.sync()
        self.assertEvents(w, n2, n3, [("create", join(root, "src/x/later.c"), "file")],
                          ignore=("modify",))
        # a watched directory renamed to an excluded name: delete, and its watches go
        os.rename(os.path.join(root, "build", "keep"), os.path.join(root, "build", "out2.o"))
        write(os.path.join(root, "build", "out2.o", "ignored"))
        n4 = w.sync()
        self.assertEvents(w, n3, n4, [("delete", join(root, "build/keep"), "dir")])
        self.assertConverges(w, initial, exclude=excluded)
        self.assertWatches(w, self.watched_dirs(root))
        w.stop()


if __name__ == "__main__":
    unittest.main()
