"""Paths come back as they were given: bytes in, bytes out; str in, str out
with undecodable bytes as surrogate escapes (os.fsdecode), both layers."""

import os
import unittest

from pyhelpers import TempDirTestCase, inowatch

BAD = b"caf\xe9-\xff\xfe"  # Latin-1 bytes: not UTF-8


class Names(TempDirTestCase):

    def test_bytes_in_bytes_out(self):
        root = os.fsencode(self.mkroot())
        with inowatch.Watcher(root) as w:
            os.mkdir(os.path.join(root, b"d"))
            os.rename(os.path.join(root, b"d"), os.path.join(root, BAD))
            events = []
            while len(events) < 2:
                events += w.read(10)
        self.assertEqual([(e.kind, e.path, e.from_path) for e in events],
                         [("create", root + b"/d", None), ("rename", root + b"/" + BAD, root + b"/d")])
        self.assertTrue(all(isinstance(e.path, bytes) for e in events))
        self.assertEqual(w.roots, (root,))

    def test_invalid_utf8_round_trips_as_str(self):
        root = self.mkroot()
        with inowatch.Watcher(root) as w:
            open(os.path.join(os.fsencode(root), BAD), "w").close()
            [ev] = w.read(10)
        self.assertIsInstance(ev.path, str)
        self.assertEqual(ev.path, os.path.join(root, os.fsdecode(BAD)))
        self.assertEqual(os.fsencode(ev.path), os.path.join(os.fsencode(root), BAD))
        self.assertTrue(os.path.exists(ev.path))

    def test_utf8_names(self):
        root = self.mkroot()
        name = "r\u00e9sum\u00e9 \U0001f600 \u65e5\u672c"
        with inowatch.Watcher(root) as w:
            open(os.path.join(root, name), "w").close()
            [ev] = w.read(10)
        self.assertEqual(ev.path, os.path.join(root, name))

    def test_pathlike_root_gives_str(self):
        import pathlib
        root = self.mkroot()
        with inowatch.Watcher(pathlib.Path(root)) as w:
            open(os.path.join(root, "x"), "w").close()
            [ev] = w.read(10)
        self.assertEqual(ev.path, os.path.join(root, "x"))

    def test_trailing_slash_removed(self):
        root = self.mkroot()
        with inowatch.Watcher(root + "/") as w:
            open(os.path.join(root, "x"), "w").close()
            [ev] = w.read(10)
        self.assertEqual(ev.path, os.path.join(root, "x"))

    def test_inotify_names(self):
        root = self.mkroot()
        with inowatch.Inotify() as ino:
            wd_b = ino.add_watch(os.fsencode(root), inowatch.IN_CREATE)
            other = self.mkroot("other")
            wd_s = ino.add_watch(other, inowatch.IN_CREATE)
            open(os.path.join(os.fsencode(root), BAD), "w").close()
            open(os.path.join(os.fsencode(other), BAD), "w").close()
            events = []
            while len(events) < 2:
                events += ino.read(10)
        self.assertEqual(events, [(wd_b, inowatch.IN_CREATE, 0, BAD),
                                  (wd_s, inowatch.IN_CREATE, 0, os.fsdecode(BAD))])


if __name__ == "__main__":
    unittest.main()
