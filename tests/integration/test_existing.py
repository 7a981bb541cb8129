"""Changes to entries that were there before the watcher started.

With inotify every entry found by the initial scan is a node of the model.
With fanotify, regular files are kept only as a hash of their name per
directory (the directories-only model, src/lib/unlisted.c) until an event
names them: these tests are the events that must then be told exactly as
if the model had always held them (a rename onto one reports its delete, a
delete reports it with its type, a name reused gets a new create) and the
ones that must not be told at all (a delete of a name that never was)."""

import os
import shutil
import unittest

from iwtest import WatchTestCase, join, write


class Existing(WatchTestCase):

    def test_delete_each_kind(self):
        root = self.mkroot()
        write(os.path.join(root, "file"), b"x")
        os.symlink("file", os.path.join(root, "link"))
        os.mkfifo(os.path.join(root, "fifo"))
        os.mkdir(os.path.join(root, "dir"))
        w, initial = self.start(root)
        n0 = w.count()
        for name in ("file", "link", "fifo"):
            os.unlink(os.path.join(root, name))
        os.rmdir(os.path.join(root, "dir"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("delete", join(root, "file"), "file"),
                                      ("delete", join(root, "link"), "symlink"),
                                      ("delete", join(root, "fifo"), "other"),
                                      ("delete", join(root, "dir"), "dir")])
        self.assertConverges(w, initial)
        w.stop()

    def test_change_untouched_files(self):
        root = self.mkroot()
        os.makedirs(os.path.join(root, "a", "b"))
        write(os.path.join(root, "a", "b", "log"), b"line\n")
        write(os.path.join(root, "a", "conf"), b"k=v\n")
        w, initial = self.start(root)
        n0 = w.count()
        with open(os.path.join(root, "a", "b", "log"), "ab") as f:
            f.write(b"another line\n")
        os.chmod(os.path.join(root, "a", "conf"), 0o600)
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("modify", join(root, "a/b/log"), None),
                                      ("attrib", join(root, "a/conf"), None)],
                          ignore=("attrib",))
        # and the files are still known: renaming one reports it whole
        os.rename(os.path.join(root, "a", "b", "log"), os.path.join(root, "a", "log"))
        n2 = w.sync()
        self.assertEvents(w, n1, n2, [("rename", join(root, "a/b/log"), join(root, "a/log"),
                                       "file")])
        self.assertConverges(w, initial)
        w.stop()

    def test_rename_onto_untouched_file_elsewhere(self):
        root = self.mkroot()
        for d in ("src", "dst"):
            os.mkdir(os.path.join(root, d))
            for i in range(3):
                write(os.path.join(root, d, "f%d" % i), d.encode())
        w, initial = self.start(root)
        n0 = w.count()
        os.rename(os.path.join(root, "src", "f0"), os.path.join(root, "dst", "f1"))
        os.rename(os.path.join(root, "src", "f1"), os.path.join(root, "dst", "new"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [
            ("delete", join(root, "dst/f1"), "file"),
            ("rename", join(root, "src/f0"), join(root, "dst/f1"), "file"),
            ("rename", join(root, "src/f1"), join(root, "dst/new"), "file")])
        self.assertConverges(w, initial)
        w.stop()

    def test_name_reused(self):
        """A deleted name created again is a new create; that new file
        renamed over another untouched one replaces it."""
        root = self.mkroot()
        write(os.path.join(root, "f"), b"old")
        write(os.path.join(root, "g"), b"g")
        w, initial = self.start(root, latency=0)
        n0 = w.count()
        os.unlink(os.path.join(root, "f"))
        n1 = w.sync()
        write(os.path.join(root, "f"), b"new")
        n2 = w.sync()
        os.rename(os.path.join(root, "f"), os.path.join(root, "g"))
        n3 = w.sync()
        self.assertEvents(w, n0, n1, [("delete", join(root, "f"), "file")])
        self.assertEvents(w, n1, n2, [("create", join(root, "f"), "file")], ignore=("modify",))
        self.assertEvents(w, n2, n3, [("delete", join(root, "g"), "file"),
                                      ("rename", join(root, "f"), join(root, "g"), "file")])
        self.assertConverges(w, initial)
        w.stop()

    def test_move_out_and_back(self):
        root = self.mkroot()
        outside = self.path("outside")
        os.mkdir(outside)
        os.mkdir(os.path.join(root, "d"))
        write(os.path.join(root, "d", "f"), b"f")
        w, initial = self.start(root)
        n0 = w.count()
        os.rename(os.path.join(root, "d", "f"), os.path.join(outside, "f"))
        n1 = w.sync()
        os.rename(os.path.join(outside, "f"), os.path.join(root, "d", "g"))
        n2 = w.sync()
        self.assertEvents(w, n0, n1, [("delete", join(root, "d/f"), "file")])
        self.assertEvents(w, n1, n2, [("create", join(root, "d/g"), "file")])
        self.assertConverges(w, initial)
        w.stop()

    def test_many_files_in_one_directory(self):
        """Thousands of untouched names in one directory: deletes, renames
        onto each other and onto new names, and names reused, all at once."""
        root = self.mkroot()
        big = os.path.join(root, "big")
        os.mkdir(big)
        n = 3000
        for i in range(n):
            write(os.path.join(big, "file-%05d.c" % i), b"")
        w, initial = self.start(root)
        for i in range(0, n, 3):
            os.unlink(os.path.join(big, "file-%05d.c" % i))
        for i in range(1, n, 3):  # onto the next one, which exists
            os.rename(os.path.join(big, "file-%05d.c" % i), os.path.join(big, "file-%05d.c" % (i + 1)))
        for i in range(0, n, 30):  # a deleted name comes back
            write(os.path.join(big, "file-%05d.c" % i), b"again")
        w.sync()
        self.assertConverges(w, initial)
        w.stop()

    def test_remove_untouched_tree(self):
        root = self.mkroot()
        for d in range(5):
            for s in range(4):
                sub = os.path.join(root, "t", "d%d" % d, "s%d" % s)
                os.makedirs(sub)
                for f in range(10):
                    write(os.path.join(sub, "f%d" % f), b"")
        w, initial = self.start(root)
        shutil.rmtree(os.path.join(root, "t", "d1"))
        os.rename(os.path.join(root, "t", "d2"), os.path.join(root, "t", "d1"))
        os.unlink(os.path.join(root, "t", "d1", "s0", "f0"))
        shutil.rmtree(os.path.join(root, "t", "d3", "s3"))
        w.sync()
        self.assertConverges(w, initial)
        w.stop()


if __name__ == "__main__":
    unittest.main()
