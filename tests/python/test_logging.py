"""ReopeningFileHandler: after the log file is renamed away (logrotate),
replaced or deleted, the next records land in a new file at the original
path."""

import logging
import os
import shutil
import unittest

from pyhelpers import TempDirTestCase

from inowatch.logging import ReopeningFileHandler


class Reopening(TempDirTestCase):

    def make(self, **kw):
        path = os.path.join(self.tmp, "app.log")
        h = ReopeningFileHandler(path, **kw)
        h.setFormatter(logging.Formatter("%(message)s"))
        self.errors = []
        h.handleError = lambda record: self.errors.append(record.getMessage())
        log = logging.getLogger("reopen-test-%d" % id(h))
        log.propagate = False
        log.setLevel(logging.INFO)
        log.addHandler(h)
        self.addCleanup(h.close)
        self.addCleanup(log.removeHandler, h)
        return path, log, h

    def read(self, path):
        with open(path) as f:
            return f.read().splitlines()

    def test_renamed_away_logrotate_style(self):
        path, log, h = self.make()
        log.info("one")
        for n in range(1, 4):
            os.rename(path, "%s.%d" % (path, n))  # rotate...
            log.info("after rotation %d" % n)    # ...and go on logging
            log.info("again %d" % n)
        h.flush()
        self.assertEqual(self.read(path + ".1"), ["one"])
        self.assertEqual(self.read(path + ".2"), ["after rotation 1", "again 1"])
        self.assertEqual(self.read(path + ".3"), ["after rotation 2", "again 2"])
        self.assertEqual(self.read(path), ["after rotation 3", "again 3"])
        self.assertEqual(self.errors, [])

    def test_rotated_with_create(self):
        # logrotate's "create" option: rename, then make an empty file.
        path, log, h = self.make()
        log.info("old")
        os.rename(path, path + ".1")
        open(path, "w").close()
        log.info("new")
        h.flush()
        self.assertEqual(self.read(path + ".1"), ["old"])
        self.assertEqual(self.read(path), ["new"])

    def test_deleted(self):
        path, log, h = self.make()
        log.info("one")
        os.unlink(path)
        log.info("two")
        log.info("three")
        h.flush()
        self.assertEqual(self.read(path), ["two", "three"])
        self.assertEqual(self.errors, [])

    def test_replaced(self):
        path, log, h = self.make()
        log.info("one")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("header\n")
        os.rename(tmp, path)
        log.info("two")
        h.flush()
        self.assertEqual(self.read(path), ["header", "two"])

    def test_unrelated_changes_keep_the_file(self):
        path, log, h = self.make()
        log.info("one")
        stream = h.stream
        os.chmod(path, 0o600)
        open(os.path.join(self.tmp, "other.log"), "w").close()
        os.link(path, path + ".hard")
        log.info("two")
        self.assertIs(h.stream, stream)
        h.flush()
        self.assertEqual(self.read(path), ["one", "two"])

    def test_delay(self):
        path, log, h = self.make(delay=True)
        self.assertFalse(os.path.exists(path))
        log.info("one")
        os.rename(path, path + ".1")
        log.info("two")
        h.flush()
        self.assertEqual(self.read(path), ["two"])

    def test_directory_gone_then_back(self):
        d = os.path.join(self.tmp, "logs")
        os.mkdir(d)
        path = os.path.join(d, "app.log")
        h = ReopeningFileHandler(path)
        self.addCleanup(h.close)
        h.setFormatter(logging.Formatter("%(message)s"))
        errors = []
        h.handleError = lambda record: errors.append(record.getMessage())
        rec = lambda msg: logging.LogRecord("t", logging.INFO, __file__, 1, msg, None, None)
        h.handle(rec("one"))
        shutil.rmtree(d)
        h.handle(rec("lost"))  # cannot reopen: handleError, no exception
        self.assertEqual(errors, ["lost"])
        os.mkdir(d)
        h.handle(rec("back"))
        h.flush()
        self.assertEqual(self.read(path), ["back"])


if __name__ == "__main__":
    unittest.main()
