"""The low-level layer: an exact view of inotify."""

import os
import select
import unittest

from pyhelpers import TempDirTestCase, inowatch


class Raw(TempDirTestCase):

    def test_records_as_the_kernel_gives_them(self):
        with inowatch.Inotify() as ino:
            wd = ino.add_watch(self.tmp, inowatch.IN_CREATE | inowatch.IN_MOVED_FROM |
                               inowatch.IN_MOVED_TO | inowatch.IN_DELETE)
            self.assertGreater(wd, 0)
            os.mkdir(os.path.join(self.tmp, "d"))
            os.rename(os.path.join(self.tmp, "d"), os.path.join(self.tmp, "e"))
            os.rmdir(os.path.join(self.tmp, "e"))
            events = []
            while len(events) < 4:
                events += ino.read(10)
        isdir = inowatch.IN_ISDIR
        self.assertEqual([(e.wd, e.mask, e.name) for e in events],
                         [(wd, inowatch.IN_CREATE | isdir, "d"),
                          (wd, inowatch.IN_MOVED_FROM | isdir, "d"),
                          (wd, inowatch.IN_MOVED_TO | isdir, "e"),
                          (wd, inowatch.IN_DELETE | isdir, "e")])
        self.assertNotEqual(events[1].cookie, 0)
        self.assertEqual(events[1].cookie, events[2].cookie)
        self.assertEqual(events[0].cookie, 0)
        wd2, mask, cookie, name = events[0]  # a tuple too
        self.assertEqual(name, "d")

    def test_rm_watch_gives_ignored(self):
        with inowatch.Inotify() as ino:
            wd = ino.add_watch(self.tmp, inowatch.IN_CREATE)
            ino.rm_watch(wd)
            self.assertEqual(ino.read(10), [(wd, inowatch.IN_IGNORED, 0, "")])

    def test_timeout_and_nonblocking(self):
        with inowatch.Inotify() as ino:
            ino.add_watch(self.tmp, inowatch.IN_CREATE)
            self.assertEqual(ino.read(0), [])
            self.assertEqual(ino.read(0.05), [])
            self.assertEqual(ino.queued(), 0)
            open(os.path.join(self.tmp, "x"), "w").close()
            self.assertGreater(ino.queued(), 0)
            r, _, _ = select.select([ino], [], [], 10)
            self.assertEqual(r, [ino])
            self.assertEqual([e.name for e in ino.read(0)], ["x"])

    def test_threshold_and_latency_coalesce(self):
        with inowatch.Inotify() as ino:
            ino.add_watch(self.tmp, inowatch.IN_CREATE)
            for i in range(10):
                open(os.path.join(self.tmp, "f%d" % i), "w").close()
            # Ten records are queued; a small threshold reads at once, all of them.
            events = ino.read(10, threshold=1, latency=5)
            self.assertEqual(len(events), 10)

    def test_file_watch_and_constants(self):
        f = os.path.join(self.tmp, "f")
        open(f, "w").close()
        with inowatch.Inotify() as ino:
            wd = ino.add_watch(f, inowatch.IN_MODIFY | inowatch.IN_ATTRIB | inowatch.IN_DELETE_SELF)
            with open(f, "a") as fh:
                fh.write("x")
            os.chmod(f, 0o600)
            os.unlink(f)
            masks = []
            while not masks or not masks[-1] & inowatch.IN_IGNORED:
                masks += [e.mask for e in ino.read(10) if e.wd == wd]
        # inotify(7): an event identical to the last one queued is merged
        # into it (chmod's IN_ATTRIB and unlink's, for the link count).
        self.assertEqual(masks, [inowatch.IN_MODIFY, inowatch.IN_ATTRIB,
                                 inowatch.IN_DELETE_SELF, inowatch.IN_IGNORED])
        self.assertEqual(inowatch.IN_ALL_EVENTS, 0xfff)
        self.assertEqual(inowatch.IN_Q_OVERFLOW, 0x4000)

    def test_repr_and_fileno(self):
        ino = inowatch.Inotify()
        self.assertIsInstance(ino.fileno(), int)
        self.assertIn("fd=", repr(ino))
        ino.close()
        self.assertIn("closed", repr(ino))


if __name__ == "__main__":
    unittest.main()
