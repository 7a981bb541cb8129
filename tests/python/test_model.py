"""What the watcher's model holds, through Watcher.stats().

inotify keeps a node for every entry. fanotify keeps nodes for directories
and for entries that are neither directories nor regular files, and only a
hash of each regular file's name (the directories-only model that lets a
tree of millions of files fit in tens of MiB): the first event that names
such a file makes it a node."""

import os
import unittest

from pyhelpers import Reader, TempDirTestCase, inowatch


def populate(root, dirs=20, files=30):
    for d in range(dirs):
        sub = os.path.join(root, "d%02d" % d)
        os.mkdir(sub)
        for f in range(files):
            open(os.path.join(sub, "f%02d" % f), "w").close()
        os.symlink("f00", os.path.join(sub, "link"))
    return dirs, dirs * files, dirs  # directories, regular files, symlinks


class Model(TempDirTestCase):

    def test_inotify_keeps_every_entry(self):
        root = self.mkroot()
        dirs, files, links = populate(root)
        with inowatch.Watcher(root) as w:
            st = w.stats()
        self.assertEqual(st["dirs"], dirs + 1, st)  # and the root
        self.assertEqual(st["files"], files + links, st)
        self.assertEqual(st["files_hashed"], 0, st)

    def test_fanotify_keeps_regular_files_as_hashes(self):
        if os.geteuid() != 0:
            self.skipTest("fanotify needs root")
        root = self.mkroot()
        dirs, files, links = populate(root)
        with inowatch.Watcher(root, backend="fanotify", latency=0) as w:
            st = w.stats()
            self.assertEqual(st["dirs"], dirs + 1, st)
            self.assertEqual(st["files"], links, st)
            self.assertEqual(st["files_hashed"], files, st)
            # Events naming two of them: a delete, and a rename onto the
            # other (reported with the replaced file's delete first).
            os.unlink(os.path.join(root, "d00", "f00"))
            os.rename(os.path.join(root, "d01", "f00"), os.path.join(root, "d01", "f01"))
            r = Reader(w, root)
            r.sync()
            got = [(e.kind, e.path) for e in r.real_events()]
            self.assertEqual(got, [
                ("delete", os.path.join(root, "d00", "f00")),
                ("delete", os.path.join(root, "d01", "f01")),
                ("rename", os.path.join(root, "d01", "f01"))], got)
            st = w.stats()
            # f00 and f01 of d01 became a node, then f01 was replaced: one
            # node left, and three hashes fewer.
            self.assertEqual(st["files_hashed"], files - 3, st)
            self.assertEqual(st["files"], links + 1, st)


if __name__ == "__main__":
    unittest.main()
