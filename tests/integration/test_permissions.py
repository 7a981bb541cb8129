"""Permissions: the watcher runs as `nobody` on trees with directories it
cannot read. Needs root (to switch user) and setpriv."""

import errno
import os
import shutil
import unittest

from iwtest import (NOBODY, WatchTestCase, binary, inotify_watch_count, join, real_events,
                    require_root, require_tool, run_cli, show_event, to_bytes, write)


class Permissions(WatchTestCase):

    def setUp(self):
        super().setUp()
        require_root(self)
        require_tool(self, "setpriv")
        # nobody must be able to reach the tree, and the binary (the build
        # directory may be somewhere nobody cannot enter)
        os.chmod(self.tmp, 0o755)
        self.exe = os.path.join(self.tmp, "inowatch")
        shutil.copy(binary(), self.exe)
        os.chmod(self.exe, 0o755)

    def watch_as_nobody(self, root, **kw):
        return self.watch([root], prefix=NOBODY, exe=self.exe, **kw)

    def assertEacces(self, w, path, start=0):
        i = w.wait_for(lambda e: e.get("event") == "error" and to_bytes(e["path"]) == to_bytes(path),
                       start=start, what="an error event for %s" % path)
        e = w.snapshot_events(i, i + 1)[0]
        self.assertEqual(e["errno"], errno.EACCES, show_event(e))
        self.assertEqual(e["error"], "EACCES", show_event(e))
        self.assertTrue(e["message"], "an error event has a message")

    def test_unreadable_subdirectory(self):
        root = self.mkroot()
        os.chmod(root, 0o755)
        for d in ("ok", "ok/deeper", "secret", "other"):
            os.mkdir(os.path.join(root, d))
            os.chmod(os.path.join(root, d), 0o755)
        write(os.path.join(root, "secret", "hidden"))
        os.chmod(os.path.join(root, "secret"), 0o000)
        w = self.watch_as_nobody(root)
        w.ready()
        self.assertEacces(w, os.path.join(root, "secret"))
        # everything else is watched
        n0 = w.count()
        write(os.path.join(root, "ok", "deeper", "f"))
        write(os.path.join(root, "other", "g"))
        write(os.path.join(root, "top"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("create", join(root, "ok/deeper/f"), "file"),
                                      ("create", join(root, "other/g"), "file"),
                                      ("create", join(root, "top"), "file")], ignore=("modify",))
        # the unreadable directory is still an entry of the tree: deleting it is reported
        os.unlink(os.path.join(root, "secret", "hidden"))
        os.rmdir(os.path.join(root, "secret"))
        n2 = w.sync()
        self.assertEvents(w, n1, n2, [("delete", join(root, "secret"), "dir")])
        self.assertIsNone(w.proc.poll(), "the watcher must keep running")
        w.stop()

    def test_unreadable_directory_created_while_watching(self):
        root = self.mkroot()
        os.chmod(root, 0o755)
        w = self.watch_as_nobody(root, latency=0)
        w.ready()
        n0 = w.count()
        locked = os.path.join(root, "locked")
        os.mkdir(locked, 0o000)  # created unreadable: no window for the watcher
        os.chmod(locked, 0o000)
        open_dir = os.path.join(root, "open")
        os.mkdir(open_dir)
        os.chmod(open_dir, 0o755)
        w.wait_event("create", locked, start=n0, type="dir")
        self.assertEacces(w, locked, start=n0)
        write(os.path.join(open_dir, "x"))
        n1 = w.sync()
        creates = [to_bytes(e["path"]) for e in real_events(w.snapshot_events(n0, n1)) if e["event"] == "create"]
        self.assertIn(join(root, "open/x"), creates)
        w.stop()

    def test_unreadable_root(self):
        root = self.mkroot()
        os.chmod(root, 0o000)
        r = run_cli(self, ["watch", "--json", root], prefix=NOBODY, exe=self.exe)
        self.assertEqual(r.returncode, 2, r)
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr: %r" % r.stderr)
        self.assertIn(root, lines[0])
        self.assertTrue("ermission denied" in lines[0] or "EACCES" in lines[0],
                        "the line gives the reason: %r" % lines[0])
        self.assertNotIn(b'"ready"', r.stdout)

    def test_fanotify_refused_to_nobody(self):
        """fanotify's filesystem marks need CAP_SYS_ADMIN: asked for by
        nobody, it is one line naming the reason and exit 2; auto quietly
        takes inotify and works."""
        root = self.mkroot()
        r = run_cli(self, ["watch", "--json", "--backend", "fanotify", root], prefix=NOBODY,
                    exe=self.exe)
        self.assertEqual(r.returncode, 2, r)
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr: %r" % r.stderr)
        self.assertIn("fanotify", lines[0])
        self.assertIn("CAP_SYS_ADMIN", lines[0])
        self.assertNotIn(b'"ready"', r.stdout)
        w = self.watch([root], prefix=NOBODY, exe=self.exe, args=["--backend", "auto"])
        w.ready()
        write(os.path.join(root, "f"))
        w.wait_event("create", os.path.join(root, "f"))
        self.assertIsNotNone(inotify_watch_count(w.pid), "auto fell back to inotify")
        w.stop()

    def test_root_below_unsearchable_directory(self):
        outer = self.mkroot("outer")
        os.mkdir(os.path.join(outer, "inner"))
        os.chmod(outer, 0o700)  # nobody cannot search it
        inner = os.path.join(outer, "inner")
        r = run_cli(self, ["watch", "--json", inner], prefix=NOBODY, exe=self.exe)
        self.assertEqual(r.returncode, 2, r)
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr: %r" % r.stderr)
        self.assertIn(inner, lines[0])


if __name__ == "__main__":
    unittest.main()
