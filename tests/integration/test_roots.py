"""Roots: a single file, several roots, roots deleted or moved away,
--no-recursive, paths that cannot be watched, usage errors."""

import os
import shutil
import subprocess
import unittest

from iwtest import (BACKEND, WatchTestCase, fanotify_mark_count, fanotify_refusal, join,
                    real_events, require_root, run_cli, show_event, to_bytes, write)


class Roots(WatchTestCase):

    def test_single_file_root(self):
        f = self.path("file.txt")
        write(f, b"one\n")
        w, initial = self.start(f, latency=0)
        n0 = w.count()
        with open(f, "ab") as fh:
            fh.write(b"two\n")
        os.chmod(f, 0o600)
        # no sync marker possible in a file root: wait for the attrib
        n1 = w.wait_event("attrib", f, start=n0) + 1
        self.assertEvents(w, n0, n1, [("modify", f, None), ("attrib", f, None)])
        # a sibling of the file is not watched
        write(self.path("sibling"))
        os.unlink(f)
        i = w.wait_event("delete", f, start=n1, type="file")
        rc = w.wait_exit()
        self.assertEqual(rc, 0, "exit status after the only root was deleted\n" + w.describe())
        self.assertEvents(w, n1, None, [("delete", f, "file")], ignore=("modify", "attrib"),
                          msg="after deleting the only root: ")
        w.check_stream()

    def test_several_roots(self):
        a = self.mkroot("a")
        b = self.mkroot("b")
        f = self.path("f")
        write(f)
        os.mkdir(os.path.join(b, "sub"))
        w, initial = self.start([a, b + "/", f])
        n0 = w.count()
        write(os.path.join(a, "x"))
        write(os.path.join(b, "sub", "y"))
        with open(f, "ab") as fh:
            fh.write(b"z")
        w.sync(a)
        n1 = w.sync(b)
        self.assertEvents(w, n0, n1, [("create", join(a, "x"), "file"),
                                      ("create", join(b, "sub/y"), "file"),
                                      ("modify", f, None)], ignore=("modify",))
        self.assertConverges(w, initial)
        # deleting one root leaves the others watched
        shutil.rmtree(a)
        write(os.path.join(b, "after"))
        n2 = w.sync(b)
        evs = real_events(w.snapshot_events(n1, n2))
        self.assertIn(("delete", to_bytes(a), "dir"), [(e["event"], to_bytes(e["path"]), e.get("type")) for e in evs])
        self.assertIn(("create", join(b, "after"), "file"), [(e["event"], to_bytes(e["path"]), e.get("type")) for e in evs])
        self.assertIsNone(w.proc.poll(), "exited while roots remain")
        self.assertConverges(w, initial)
        # the rest gone too: exit 0 after their deletes
        n3 = w.count()
        shutil.rmtree(b)
        os.unlink(f)
        rc = w.wait_exit()
        self.assertEqual(rc, 0, w.describe())
        evs = real_events(w.snapshot_events(n3))
        deletes = [(to_bytes(e["path"]), e["type"]) for e in evs if e["event"] == "delete"]
        self.assertIn((to_bytes(b), "dir"), deletes)
        self.assertIn((to_bytes(f), "file"), deletes)
        w.check_stream()

    def test_rename_between_roots(self):
        a = self.mkroot("a")
        b = self.mkroot("b")
        os.makedirs(os.path.join(a, "sub", "deep"))
        write(os.path.join(a, "sub", "deep", "f"))
        write(os.path.join(a, "file"))
        w, initial = self.start([a, b])
        n0 = w.count()
        os.rename(os.path.join(a, "sub"), os.path.join(b, "sub"))
        os.rename(os.path.join(a, "file"), os.path.join(b, "file"))
        write(os.path.join(b, "sub", "deep", "g"))
        w.sync(a)
        n1 = w.sync(b)
        self.assertEvents(w, n0, n1, [("rename", join(a, "sub"), join(b, "sub"), "dir"),
                                      ("rename", join(a, "file"), join(b, "file"), "file"),
                                      ("create", join(b, "sub/deep/g"), "file")], ignore=("modify",),
                          msg="a move from one root to another stays a rename: ")
        self.assertConverges(w, initial)
        w.stop()

    def test_root_dir_deleted(self):
        root = self.mkroot()
        os.makedirs(os.path.join(root, "a", "b"))
        write(os.path.join(root, "a", "b", "f"))
        w, initial = self.start(root)
        n0 = w.count()
        shutil.rmtree(root)
        w.wait_event("delete", root, start=n0, type="dir")
        rc = w.wait_exit()
        self.assertEqual(rc, 0, "exit status once the only root is gone\n" + w.describe())
        evs = real_events(w.snapshot_events(n0))
        self.assertEqual(evs[-1], {"event": "delete", "path": root, "type": "dir"},
                         "the root's delete is the last event")
        self.assertFalse([e for e in evs if e["event"] != "delete"], [show_event(e) for e in evs])
        w.check_stream()

    def test_root_dir_moved_away(self):
        root = self.mkroot()
        os.makedirs(os.path.join(root, "a"))
        w, initial = self.start(root)
        n0 = w.count()
        os.rename(root, self.path("elsewhere"))
        w.wait_event("delete", root, start=n0, type="dir")
        rc = w.wait_exit()
        self.assertEqual(rc, 0, w.describe())
        self.assertEvents(w, n0, None, [("delete", root, "dir")])
        w.check_stream()

    def test_root_moved_away_with_other_root_left(self):
        a = self.mkroot("a")
        b = self.mkroot("b")
        w, initial = self.start([a, b])
        n0 = w.count()
        os.rename(a, self.path("gone"))
        write(self.path("gone", "after-move"))  # not watched any more
        write(os.path.join(b, "x"))
        n1 = w.sync(b)
        self.assertEvents(w, n0, n1, [("delete", a, "dir"), ("create", join(b, "x"), "file")],
                          ignore=("modify",))
        self.assertWatches(w, 1, "watches after a root moved away")
        w.stop()

    def test_no_recursive(self):
        root = self.mkroot()
        os.makedirs(os.path.join(root, "sub", "deeper"))
        w, initial = self.start(root, args=["--no-recursive"])
        self.assertWatches(w, 1, "--no-recursive: one watch")
        n0 = w.count()
        write(os.path.join(root, "top"))
        write(os.path.join(root, "sub", "nested"))
        os.mkdir(os.path.join(root, "newdir"))
        write(os.path.join(root, "newdir", "inside"))
        os.rename(os.path.join(root, "top"), os.path.join(root, "top2"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [
            ("create", join(root, "top"), "file"),
            ("create", join(root, "newdir"), "dir"),
            ("rename", join(root, "top"), join(root, "top2"), "file"),
        ], ignore=("modify", "attrib"))
        self.assertWatches(w, 1, "--no-recursive: still one watch")
        w.stop()

    def test_nonexistent_root(self):
        missing = self.path("does-not-exist")
        r = run_cli(self, ["watch", "--json", missing])
        self.assertEqual(r.returncode, 2, r)
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr: %r" % r.stderr)
        self.assertIn(missing, lines[0])
        self.assertNotIn(b'"ready"', r.stdout)

    def test_nonexistent_root_among_good_ones(self):
        good = self.mkroot()
        missing = self.path("nope")
        r = run_cli(self, ["watch", "--json", good, missing])
        self.assertEqual(r.returncode, 2, r)
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr: %r" % r.stderr)
        self.assertIn(missing, lines[0])
        self.assertNotIn(b'"ready"', r.stdout)

    def test_root_below_a_file(self):
        f = self.path("plain")
        write(f)
        r = run_cli(self, ["watch", f + "/sub"])
        self.assertEqual(r.returncode, 2, r)
        self.assertIn(f + "/sub", r.stderr.decode(errors="replace"))

    def test_mount_inside_the_tree(self):
        """A filesystem mounted inside the tree before start is watched too:
        inotify puts watches in it like anywhere else; fanotify marks that
        filesystem as well (two marks in all)."""
        require_root(self)
        root = self.mkroot()
        mnt = os.path.join(root, "mnt")
        os.mkdir(mnt)
        if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]) != 0:
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.call, ["umount", "-l", mnt])
        os.mkdir(os.path.join(mnt, "old"))
        w, initial = self.start(root)
        write(os.path.join(mnt, "old", "f"))
        os.makedirs(os.path.join(mnt, "new", "deep"))
        write(os.path.join(mnt, "new", "deep", "g"))
        write(os.path.join(root, "outside-the-mount"))
        w.sync()
        w.sync(root=mnt)
        self.assertConverges(w, initial)
        if BACKEND == "fanotify":
            self.assertEqual(fanotify_mark_count(w.pid), 2, "one mark per filesystem")
        w.stop()

    def test_usage_errors(self):
        root = self.mkroot()
        for args in (["watch", "--definitely-not-an-option", root],
                     ["watch"],
                     ["watch", "--json"],
                     ["watch", "--latency", "abc", root],
                     ["watch", "--latency"],
                     ["watch", "-x"],
                     ["watch", "--backend", "kqueue", root],
                     ["watch", "--backend"],
                     ["no-such-command"]):
            with self.subTest(args=args):
                r = run_cli(self, args)
                self.assertEqual(r.returncode, 2, r)
                self.assertTrue(r.stderr.strip(), "a usage error says something on stderr")
                self.assertNotIn(b'"ready"', r.stdout)

    def test_usage_errors_name_the_option_as_written(self):
        # A long option is named long, a short one short: "--exclude" is
        # not "-x" although it is 'x' to getopt.
        root = self.mkroot()
        for args, line in (
                (["watch", "--exclude"], "watch: option '--exclude' needs a value"),
                (["watch", root, "-x"], "watch: option '-x' needs a value"),
                (["watch", "--latency"], "watch: option '--latency' needs a value"),
                (["watch", "--json=1", root], "watch: option '--json' takes no value"),
                (["watch", "--e", "x", root], "watch: ambiguous option '--e'"),
                (["watch", "--bogus=1", root], "watch: unknown option '--bogus'"),
                (["watch", "--json", "-qx", "y", root], "watch: unknown option '-q'"),
                (["run", root, "--exclude", "--", "true"], "run: option '--exclude' needs a value"),
                (["run", "-x"], "run: option '-x' needs a value"),
                (["limits", "--json=1"], "limits: option '--json' takes no value"),
                (["limits", "-j"], "limits: unknown option '-j'")):
            with self.subTest(args=args):
                r = run_cli(self, args)
                self.assertEqual((r.returncode, r.stderr.decode()),
                                 (2, "inowatch: %s (try 'inowatch %s --help')\n"
                                  % (line, args[0])))
                self.assertEqual(r.stdout, b"")

    def test_fanotify_on_a_filesystem_it_cannot_mark(self):
        """An overlay reports no file handles fanotify can use: asked for
        fanotify, one line naming the path, why, and the backend that works,
        and status 2; left to choose, inotify."""
        if fanotify_refusal():
            self.skipTest("fanotify unavailable here: " + fanotify_refusal())
        dirs = [self.path(n) for n in ("lower", "upper", "work", "merged")]
        for d in dirs:
            os.mkdir(d)
        opts = "lowerdir=%s,upperdir=%s,workdir=%s" % tuple(dirs[:3])
        if subprocess.call(["mount", "-t", "overlay", "overlay", "-o", opts, dirs[3]]) != 0:
            self.skipTest("cannot mount an overlay here")
        self.addCleanup(subprocess.call, ["umount", "-l", dirs[3]])
        r = run_cli(self, ["watch", "--backend", "fanotify", dirs[3]])
        self.assertEqual(r.returncode, 2)
        lines = r.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(dirs[3], lines[0])
        self.assertIn("fanotify cannot watch this filesystem", lines[0])
        self.assertIn("--backend inotify", lines[0])
        # What it suggests works.
        w, initial = self.start(dirs[3], args=["--backend", "inotify"])
        write(os.path.join(dirs[3], "f"))
        w.sync()
        self.assertConverges(w, initial)
        w.stop()
        # Left to choose (--backend auto), it watches the overlay with
        # inotify and says so in one line, with a plain filesystem beside.
        plain = self.mkroot("plain")
        w, initial = self.start([plain, dirs[3]], args=["--backend", "auto"])
        write(os.path.join(dirs[3], "g"))
        write(os.path.join(plain, "h"))
        w.sync()
        self.assertConverges(w, initial)
        w.stop()
        self.assertEqual(w.stderr.splitlines(),
                         ["inowatch: %s: fanotify cannot watch this filesystem; watching with "
                          "inotify" % dirs[3]])


if __name__ == "__main__":
    unittest.main()
