"""ReopeningFileHandler while a thread keeps logging: 1,000 rotations (the
file renamed away) put every record exactly once, in order, into a file
that still has a name; 1,000 deletions never duplicate a record, and a
record logged after the last deletion lands in a re-created file."""

import logging
import os
import threading
import unittest

from pyhelpers import TempDirTestCase

from inowatch.logging import ReopeningFileHandler

ROTATIONS = 1000


class RotationsUnderLoad(TempDirTestCase):

    def logger(self, path):
        h = ReopeningFileHandler(path)
        h.setFormatter(logging.Formatter("%(message)s"))
        log = logging.getLogger("rotations-%d" % id(h))
        log.propagate = False
        log.setLevel(logging.INFO)
        log.addHandler(h)
        self.addCleanup(h.close)
        self.addCleanup(log.removeHandler, h)
        return log

    def run_rotations(self, delete):
        path = os.path.join(self.tmp, "app.log")
        log = self.logger(path)
        stop = threading.Event()
        count = [0]

        def keep_logging():
            while not stop.is_set():
                log.info("%d", count[0])
                count[0] += 1

        t = threading.Thread(target=keep_logging)
        t.start()
        try:
            done = 0
            while done < ROTATIONS:
                try:
                    if delete:
                        os.unlink(path)
                    else:
                        os.rename(path, "%s.%d" % (path, done))
                    done += 1
                except FileNotFoundError:
                    pass  # not re-created yet: the logger has not logged since
        finally:
            stop.set()
            t.join()
        log.info("%d", count[0])  # after the last rotation
        last = count[0]
        seen = []
        for name in sorted(os.listdir(self.tmp)):
            with open(os.path.join(self.tmp, name)) as f:
                records = [int(x) for x in f.read().split()]
            self.assertEqual(records, sorted(records), "records out of order in " + name)
            seen += records
        self.assertEqual(len(seen), len(set(seen)), "a record landed twice")
        with open(path) as f:
            self.assertIn(str(last), f.read().split(), "the last record is not in the new file")
        return seen, last

    def test_rotations(self):
        seen, last = self.run_rotations(delete=False)
        self.assertEqual(sorted(seen), list(range(last + 1)), "records lost across rotations")

    def test_deletions(self):
        seen, last = self.run_rotations(delete=True)
        self.assertIn(last, seen)


if __name__ == "__main__":
    unittest.main()
