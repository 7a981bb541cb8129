"""Renames: files, populated subtrees, across directories, moves in and out
of the watched tree, editor-style saves, renames over existing entries."""

import os
import shutil
import unittest

from iwtest import (BACKEND, WatchTestCase, join, real_events, show, show_event,
                    snapshot, to_bytes, write)


def make_tree(base, depth=3, files=2, dirs=2):
    """A small populated tree under base; returns the relative paths."""
    out = []
    os.makedirs(base, exist_ok=True)

    def rec(d, rel, level):
        for i in range(files):
            write(os.path.join(d, "f%d" % i), b"data")
            out.append(os.path.join(rel, "f%d" % i) if rel else "f%d" % i)
        os.symlink("f0", os.path.join(d, "link"))
        out.append(os.path.join(rel, "link") if rel else "link")
        if level < depth:
            for i in range(dirs):
                name = "d%d" % i
                os.mkdir(os.path.join(d, name))
                r = os.path.join(rel, name) if rel else name
                out.append(r)
                rec(os.path.join(d, name), r, level + 1)
    rec(base, "", 1)
    return out


def churn(d, n):
    """n files made and removed in d: more events than one read of the
    watcher takes (in the tree for inotify, anywhere on the filesystem for
    fanotify), so that what comes before and after is read apart."""
    for i in range(n):
        p = os.path.join(d, "x%d" % i)
        write(p, b"")
        os.unlink(p)


class Renames(WatchTestCase):

    def assertStillWatched(self, w, initial, root, rel):
        """After late reads: the events give the tree on disk, and a file
        made in `rel` now is reported there (its directory kept its watch
        at its real place)."""
        w.sync()
        self.assertConverges(w, initial, msg="after the late reads: ")
        n0 = w.count()
        write(os.path.join(root, rel, "later"), b"later")
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("create", join(root, rel + "/later"), "file")],
                          ignore=("modify",))
        self.assertConverges(w, initial)
        w.stop()

    def test_rename_file(self):
        root = self.mkroot()
        write(os.path.join(root, "a"))
        w, initial = self.start(root)
        n0 = w.count()
        os.rename(os.path.join(root, "a"), os.path.join(root, "b"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("rename", join(root, "a"), join(root, "b"), "file")])
        self.assertConverges(w, initial)
        w.stop()

    def test_rename_populated_subtree(self):
        root = self.mkroot()
        make_tree(os.path.join(root, "src"))
        w, initial = self.start(root)
        n0 = w.count()
        os.rename(os.path.join(root, "src"), os.path.join(root, "dst"))
        n1 = w.sync()
        # One event for the whole subtree: its entries are moved with it.
        self.assertEvents(w, n0, n1, [("rename", join(root, "src"), join(root, "dst"), "dir")])
        self.assertConverges(w, initial)

        # The subtree's watches now report paths under the new name.
        n2 = w.count()
        write(os.path.join(root, "dst", "d0", "d1", "new"))
        os.mkdir(os.path.join(root, "dst", "d1", "newdir"))
        write(os.path.join(root, "dst", "d1", "newdir", "g"))
        with open(os.path.join(root, "dst", "d0", "f0"), "ab") as f:
            f.write(b"more")
        os.unlink(os.path.join(root, "dst", "d1", "d0", "f1"))
        n3 = w.sync()
        self.assertEvents(w, n2, n3, [
            ("create", join(root, "dst/d0/d1/new"), "file"),
            ("create", join(root, "dst/d1/newdir"), "dir"),
            ("create", join(root, "dst/d1/newdir/g"), "file"),
            ("modify", join(root, "dst/d0/f0"), None),
            ("delete", join(root, "dst/d1/d0/f1"), "file"),
        ], ignore=("modify",), ordered=False)
        self.assertConverges(w, initial)

        # And again: rename a subdirectory of the renamed tree, then the tree.
        os.rename(os.path.join(root, "dst", "d0"), os.path.join(root, "dst", "e0"))
        os.rename(os.path.join(root, "dst"), os.path.join(root, "dst2"))
        write(os.path.join(root, "dst2", "e0", "d0", "deep"))
        n4 = w.sync()
        evs = real_events(w.snapshot_events(n3, n4))
        self.assertIn(join(root, "dst2/e0/d0/deep"),
                      [to_bytes(e["path"]) for e in evs if e["event"] == "create"],
                      [show_event(e) for e in evs])
        self.assertConverges(w, initial)
        w.stop()

    def test_rename_across_directories(self):
        root = self.mkroot()
        for d in ("one", "two", "three/deep"):
            os.makedirs(os.path.join(root, d))
        write(os.path.join(root, "one", "f"))
        make_tree(os.path.join(root, "one", "sub"), depth=2)
        w, initial = self.start(root, latency=0)
        n0 = w.count()
        os.rename(os.path.join(root, "one", "f"), os.path.join(root, "two", "g"))
        os.rename(os.path.join(root, "one", "sub"), os.path.join(root, "three", "deep", "sub"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [
            ("rename", join(root, "one/f"), join(root, "two/g"), "file"),
            ("rename", join(root, "one/sub"), join(root, "three/deep/sub"), "dir"),
        ])
        write(os.path.join(root, "three", "deep", "sub", "d0", "x"))
        n2 = w.sync()
        self.assertEvents(w, n1, n2, [("create", join(root, "three/deep/sub/d0/x"), "file")],
                          ignore=("modify",))
        self.assertConverges(w, initial)
        w.stop()

    def test_move_in_populated_directory(self):
        root = self.mkroot()
        outside = self.path("outside")
        rels = make_tree(os.path.join(outside, "tree"), depth=4)
        w, initial = self.start(root)
        n0 = w.count()
        os.rename(os.path.join(outside, "tree"), os.path.join(root, "tree"))
        n1 = w.sync()
        evs = real_events(w.snapshot_events(n0, n1))
        creates = {to_bytes(e["path"]): e["type"] for e in evs if e["event"] == "create"}
        want = snapshot(os.path.join(root, "tree"))
        self.assertEqual(len(want), len(rels) + 1)
        missing = sorted(set(want) - set(creates))
        self.assertFalse(missing, "entries of the moved-in directory without a create: %s"
                         % [show(m) for m in missing[:10]])
        self.assertEqual(creates, want)
        self.assertEqual(evs[0]["event"], "create")
        self.assertEqual(to_bytes(evs[0]["path"]), join(root, "tree"),
                         "the directory's create comes before its entries'")
        self.assertConverges(w, initial)
        # and it is watched, at every depth
        n2 = w.count()
        write(os.path.join(root, "tree", "d1", "d0", "d1", "later"))
        n3 = w.sync()
        self.assertEvents(w, n2, n3, [("create", join(root, "tree/d1/d0/d1/later"), "file")],
                          ignore=("modify",))
        w.stop()

    def test_move_out_then_back_in(self):
        root = self.mkroot()
        outside = self.path("outside")
        os.mkdir(outside)
        make_tree(os.path.join(root, "tree"), depth=3)
        write(os.path.join(root, "file"))
        w, initial = self.start(root)
        dirs_in_root = sum(1 for t in snapshot(root).values() if t == "dir")
        self.assertWatches(w, dirs_in_root,
                         "one watch per directory at ready")
        n0 = w.count()
        os.rename(os.path.join(root, "tree"), os.path.join(outside, "tree"))
        os.rename(os.path.join(root, "file"), os.path.join(outside, "file"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("delete", join(root, "tree"), "dir"),
                                      ("delete", join(root, "file"), "file")])
        self.assertConverges(w, initial)
        # Changes in the moved-out tree are not reported any more...
        write(os.path.join(outside, "tree", "d0", "outside-new"))
        os.mkdir(os.path.join(outside, "tree", "d1", "outside-dir"))
        with open(os.path.join(outside, "file"), "ab") as f:
            f.write(b"more")
        n2 = w.sync()
        self.assertEvents(w, n1, n2, [], msg="events from a tree moved out of the root: ")
        # ...and its watches are gone.
        dirs_in_root = sum(1 for t in snapshot(root).values() if t == "dir")
        self.assertWatches(w, dirs_in_root,
                         "watches after moving a tree out")
        # Moving it back in reports it whole again.
        os.rename(os.path.join(outside, "tree"), os.path.join(root, "back"))
        n3 = w.sync()
        creates = {to_bytes(e["path"]) for e in real_events(w.snapshot_events(n2, n3))
                   if e["event"] == "create"}
        self.assertEqual(creates, set(snapshot(os.path.join(root, "back"))))
        self.assertConverges(w, initial)
        w.stop()

    def test_editor_save_sequence(self):
        root = self.mkroot()
        x = os.path.join(root, "x")
        tmp = os.path.join(root, ".x.tmp")
        write(x, b"old content\n")
        w, initial = self.start(root)
        n0 = w.count()
        with open(tmp, "wb") as f:
            f.write(b"new content\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, x)
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [
            ("create", tmp, "file"),
            ("delete", x, "file"),
            ("rename", tmp, x, "file"),
        ], ignore=("modify",), msg="editor-style save (write .x.tmp, rename over x): ")
        # and no modify of .x.tmp after its rename, nor anything after it
        evs = real_events(w.snapshot_events(n0, n1))
        self.assertEqual(evs[-1]["event"], "rename", [show_event(e) for e in evs])
        self.assertConverges(w, initial)
        w.stop()

    def test_vim_style_save(self):
        root = self.mkroot()
        x = os.path.join(root, "x")
        backup = x + "~"
        write(x, b"old\n")
        w, initial = self.start(root, latency=0)
        n0 = w.count()
        os.rename(x, backup)
        with open(x, "wb") as f:
            f.write(b"new\n")
        os.chmod(x, 0o644)
        os.unlink(backup)
        n1 = w.sync()
        # fanotify may queue the unlink of x~ merged into an earlier event
        # about x~ (the kernel merges with any of the last 128 queued), so
        # that it comes before x's create: the same three events, another
        # order (docs/design.md, "Merged events"). inotify keeps the order.
        self.assertEvents(w, n0, n1, [
            ("rename", x, backup, "file"),
            ("create", x, "file"),
            ("delete", backup, "file"),
        ], ignore=("modify", "attrib"), msg="vim-style save: ", ordered=BACKEND != "fanotify")
        self.assertConverges(w, initial)
        w.stop()

    def test_rename_over_existing(self):
        root = self.mkroot()
        os.mkdir(os.path.join(root, "sub"))
        for name in ("a", "b", "sub/c"):
            write(os.path.join(root, name), name.encode())
        os.mkdir(os.path.join(root, "emptydir"))
        make_tree(os.path.join(root, "fulldir"), depth=2)
        w, initial = self.start(root)

        n0 = w.count()
        os.rename(os.path.join(root, "a"), os.path.join(root, "b"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("delete", join(root, "b"), "file"),
                                      ("rename", join(root, "a"), join(root, "b"), "file")],
                          msg="rename a over b: ")

        os.rename(os.path.join(root, "b"), os.path.join(root, "sub", "c"))
        n2 = w.sync()
        self.assertEvents(w, n1, n2, [("delete", join(root, "sub/c"), "file"),
                                      ("rename", join(root, "b"), join(root, "sub/c"), "file")],
                          msg="rename b over sub/c: ")

        os.rename(os.path.join(root, "fulldir"), os.path.join(root, "emptydir"))
        n3 = w.sync()
        self.assertEvents(w, n2, n3, [("delete", join(root, "emptydir"), "dir"),
                                      ("rename", join(root, "fulldir"), join(root, "emptydir"), "dir")],
                          msg="rename a populated dir over an empty one: ")
        write(os.path.join(root, "emptydir", "d1", "later"))
        w.sync()
        self.assertConverges(w, initial)
        w.stop()

    def test_rename_chain_and_swap(self):
        root = self.mkroot()
        for name in ("a", "b"):
            os.mkdir(os.path.join(root, name))
            write(os.path.join(root, name, "in-" + name))
        w, initial = self.start(root, latency=0)
        n0 = w.count()
        # swap a and b through a temporary name, then rename a file back and forth
        os.rename(os.path.join(root, "a"), os.path.join(root, "t"))
        os.rename(os.path.join(root, "b"), os.path.join(root, "a"))
        os.rename(os.path.join(root, "t"), os.path.join(root, "b"))
        for i in range(20):
            os.rename(os.path.join(root, "a", "in-b"), os.path.join(root, "b", "in-b"))
            os.rename(os.path.join(root, "b", "in-b"), os.path.join(root, "a", "in-b"))
        n1 = w.sync()
        swaps = [
            ("rename", join(root, "a"), join(root, "t"), "dir"),
            ("rename", join(root, "b"), join(root, "a"), "dir"),
            ("rename", join(root, "t"), join(root, "b"), "dir"),
        ]
        if BACKEND == "fanotify":
            # fanotify merges a rename into an identical one still queued:
            # the forty file renames come as fewer (and, rarely, a name is
            # settled as delete + create); the stream converges.
            self.assertEvents(w, n0, n0 + 1, swaps[:1])
        else:
            self.assertEvents(w, n0, n1, swaps + [
                ("rename", join(root, src + "/in-b"), join(root, dst + "/in-b"), "file")
                for _ in range(20) for src, dst in (("a", "b"), ("b", "a"))
            ])
        self.assertConverges(w, initial)
        w.stop()


    def test_type_of_entry_renamed_before_the_watcher_looks(self):
        """inotify does not say whether a new entry is a symlink or a fifo:
        the watcher must look, and when the entry has already been renamed
        by then, still end up with the right type."""
        root = self.mkroot()
        w, initial = self.start(root, latency=200)
        n0 = w.count()
        os.symlink("target", os.path.join(root, "l1"))
        os.rename(os.path.join(root, "l1"), os.path.join(root, "l2"))
        os.mkfifo(os.path.join(root, "p1"))
        os.rename(os.path.join(root, "p1"), os.path.join(root, "p2"))
        os.mkdir(os.path.join(root, "d1"))
        os.rename(os.path.join(root, "d1"), os.path.join(root, "d2"))
        write(os.path.join(root, "f1"))
        os.rename(os.path.join(root, "f1"), os.path.join(root, "f2"))
        w.sync()
        self.assertConverges(w, initial)
        w.stop()


    def test_old_name_reused_at_once(self):
        """A directory renamed or deleted and a new one made under its old
        name in the same batch: the two must not be confused."""
        for latency in (0, 200):
            with self.subTest(latency=latency):
                root = self.mkroot("root%d" % latency)
                make_tree(os.path.join(root, "d"), depth=2)
                make_tree(os.path.join(root, "gone"), depth=2)
                w, initial = self.start(root, latency=latency)
                os.rename(os.path.join(root, "d"), os.path.join(root, "e"))
                os.mkdir(os.path.join(root, "d"))
                shutil.rmtree(os.path.join(root, "gone"))
                os.mkdir(os.path.join(root, "gone"))
                write(os.path.join(root, "d", "in-new-d"))
                write(os.path.join(root, "e", "d0", "in-old-d"))
                write(os.path.join(root, "gone", "in-new-gone"))
                n1 = w.sync()
                self.assertConverges(w, initial)
                # and later changes land under the right names
                write(os.path.join(root, "d", "later-d"))
                write(os.path.join(root, "e", "later-e"))
                write(os.path.join(root, "gone", "later-gone"))
                n2 = w.sync()
                self.assertEvents(w, n1, n2, [("create", join(root, "d/later-d"), "file"),
                                              ("create", join(root, "e/later-e"), "file"),
                                              ("create", join(root, "gone/later-gone"), "file")],
                                  ignore=("modify",))
                self.assertConverges(w, initial)
                w.stop()

    def test_rename_exchange(self):
        """renameat2(RENAME_EXCHANGE) swaps two entries atomically; the
        kernel reports two moves, each onto an existing name."""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(libc, "renameat2"):
            self.skipTest("no renameat2 in libc")
        AT_FDCWD, RENAME_EXCHANGE = -100, 2

        def exchange(a, b):
            if libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) != 0:
                e = ctypes.get_errno()
                if e in (22, 38):  # EINVAL, ENOSYS: file system without it
                    self.skipTest("RENAME_EXCHANGE not supported here")
                raise OSError(e, os.strerror(e))

        root = self.mkroot()
        make_tree(os.path.join(root, "a"), depth=2)
        make_tree(os.path.join(root, "b", "deeper"), depth=1)
        write(os.path.join(root, "f"), b"f")
        os.mkdir(os.path.join(root, "sub"))
        os.symlink("somewhere", os.path.join(root, "sub", "l"))
        w, initial = self.start(root)
        exchange(os.path.join(root, "a"), os.path.join(root, "b"))
        exchange(os.path.join(root, "f"), os.path.join(root, "sub", "l"))
        w.sync()
        self.assertConverges(w, initial, msg="after exchanging a<->b and f<->sub/l: ")
        # the swapped directories' watches report their new names
        n0 = w.count()
        write(os.path.join(root, "a", "deeper", "x"))  # was b/deeper
        write(os.path.join(root, "b", "d1", "y"))  # was a/d1
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("create", join(root, "a/deeper/x"), "file"),
                                      ("create", join(root, "b/d1/y"), "file")], ignore=("modify",))
        self.assertConverges(w, initial)
        w.stop()

    def test_exchange_of_directories_made_after_ready(self):
        """Directories known from their create events learn their inodes
        from their own listing (its "." entry): an exchange of two of them
        needs both inodes to be told from a rename over."""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(libc, "renameat2"):
            self.skipTest("no renameat2 in libc")
        root = self.mkroot()
        w, initial = self.start(root)
        for name in ("p", "q"):
            os.makedirs(os.path.join(root, name, "in-" + name))
            write(os.path.join(root, name, "in-" + name, "f"), name.encode())
        n1 = w.sync()
        self.assertConverges(w, initial, msg="after p and q were made: ")
        if libc.renameat2(-100, os.fsencode(os.path.join(root, "p")), -100,
                          os.fsencode(os.path.join(root, "q")), 2) != 0:  # RENAME_EXCHANGE
            e = ctypes.get_errno()
            if e in (22, 38):
                self.skipTest("RENAME_EXCHANGE not supported here")
            raise OSError(e, os.strerror(e))
        n2 = w.sync()
        # Told as a swap: q's old subtree deleted, p renamed onto q, and q's
        # old subtree created again at p, from the model.
        self.assertEvents(w, n1, n2, [("delete", join(root, "q"), "dir"),
                                      ("rename", join(root, "p"), join(root, "q"), "dir"),
                                      ("create", join(root, "p"), "dir"),
                                      ("create", join(root, "p/in-q"), "dir"),
                                      ("create", join(root, "p/in-q/f"), "file")])
        self.assertConverges(w, initial)
        w.stop()

    def test_stale_events_about_a_name_a_moved_directory_took(self):
        """Read long after the fact, events describe names the disk has
        moved on from. A file moved in as n4 and deleted, then a directory
        renamed to n4 with a known directory inside it: when the file's
        move is read, n4 is already the directory (listed then, so the
        known directory is met at a second place); when the file's delete
        is read, in a later read, it must not remove that directory, and
        the known directory's own renames, read after, must leave its
        events reported at its real place."""
        root = self.mkroot()
        outside = self.path("outside")
        os.makedirs(outside)
        write(os.path.join(outside, "f"), b"f")
        os.makedirs(os.path.join(root, "r", "n6", "e1016", "e1060"))
        os.makedirs(os.path.join(root, "e519"))
        write(os.path.join(root, "e519", "old"), b"old")
        os.makedirs(os.path.join(root, "noise"))
        w, initial = self.start(root)
        with w.stopped():
            os.rename(os.path.join(outside, "f"), os.path.join(root, "n4"))
            churn(os.path.join(root, "noise"), 3000)  # the move and the delete: two reads
            os.unlink(os.path.join(root, "n4"))
            e1105 = os.path.join(root, "r", "n6", "e1016", "e1060", "e1105")
            os.rename(os.path.join(root, "e519"), e1105)
            os.rename(os.path.join(root, "r", "n6", "e1016"), os.path.join(root, "n4"))
            moved = os.path.join(root, "n4", "e1060", "e1105")
            write(os.path.join(moved, "new"), b"new")
            os.unlink(os.path.join(moved, "old"))
        self.assertStillWatched(w, initial, root, "n4/e1060/e1105")

    def test_directory_made_deleted_and_its_name_taken_by_a_known_one(self):
        """Read late: a directory made and removed, and a known directory
        moved to its name. Listed when the mkdir is read, the name already
        leads to the known directory: the model meets it at a second place
        and the listing takes its watch. The rmdir, read in a later batch,
        can only name what it removed (inotify cannot tell that directory
        from the one there now); the known directory's own move, read
        after, must still leave its events reported."""
        root = self.mkroot()
        os.makedirs(os.path.join(root, "known"))
        write(os.path.join(root, "known", "old"), b"old")
        os.makedirs(os.path.join(root, "noise"))
        w, initial = self.start(root)
        with w.stopped():
            os.mkdir(os.path.join(root, "n"))
            churn(os.path.join(root, "noise"), 10000)  # the mkdir and the rest: two reads
            os.rmdir(os.path.join(root, "n"))
            os.rename(os.path.join(root, "known"), os.path.join(root, "n"))
            write(os.path.join(root, "n", "new"), b"new")
        self.assertStillWatched(w, initial, root, "n")


if __name__ == "__main__":
    unittest.main()
