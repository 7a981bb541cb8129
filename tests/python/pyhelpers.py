"""Shared helpers for the tests of the Python module.

The module under test is imported from PYTHONPATH (ctest sets it to
build/python); when run by hand without it, ../../build/python is tried.
The tree comparison helpers (snapshot, reconstruct, tree_diff) come from
the CLI's integration harness, tests/integration/iwtest.py, imported by
path and only read.

Synchronisation never sleeps: sync() creates a uniquely named marker file
and reads until its create event has come (inotify keeps order within one
instance, so every earlier change has been reported), then removes it and
reads until its delete. Markers are left out of tree comparisons.
"""

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

try:
    import inowatch  # noqa: E402
except ImportError:
    sys.path.insert(0, os.path.join(HERE, "..", "..", "build", "python"))
    import inowatch  # noqa: E402,F401

import iwtest  # noqa: E402

SCALE = float(os.environ.get("INOWATCH_TIMEOUT_SCALE", "1") or 1)
TIMEOUT = 20.0 * SCALE
MARKER_PREFIX = iwtest.MARKER_PREFIX
_counter = itertools.count()

to_bytes = iwtest.to_bytes
snapshot = iwtest.snapshot
tree_diff = iwtest.tree_diff
reconstruct = iwtest.reconstruct
is_marker_path = iwtest.is_marker_path


def as_dict(ev):
    """An Event as the CLI's JSON object, for iwtest.reconstruct()."""
    d = {"event": ev.kind}
    if ev.path is not None:
        d["path"] = ev.path
    if ev.type is not None:
        d["type"] = ev.type
    if ev.from_path is not None:
        d["from"] = ev.from_path
    if ev.kind == "error":
        d.update(errno=ev.errno, error=ev.error, message=ev.message)
    return d


def real(events):
    return [e for e in events if not (is_marker_path(e.path) or is_marker_path(e.from_path))]


def pythonpath_env():
    """The environment for a child Python that imports the module under
    test."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(inowatch.__file__)))
    return env


class Reader:
    """Reads a Watcher's batches into .events and waits for markers."""

    def __init__(self, watcher, root):
        self.w = watcher
        self.root = root
        self.events = []
        self.batches = 0

    def read_until(self, pred, timeout=TIMEOUT, what="an event"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %s; last events: %s"
                                     % (what, self.events[-10:]))
            batch = self.w.read(timeout=left)
            if batch:
                self.batches += 1
            self.events.extend(batch)
            if any(pred(e) for e in batch):
                return

    def sync(self, directory=None):
        """Every change made before the call has been read when it returns."""
        d = directory if directory is not None else self.root
        if isinstance(d, bytes):
            name = os.path.join(d, (MARKER_PREFIX + "%d-%d" % (os.getpid(), next(_counter))).encode())
        else:
            name = os.path.join(d, MARKER_PREFIX + "%d-%d" % (os.getpid(), next(_counter)))
        key = to_bytes(name)
        with open(name, "w"):
            pass
        self.read_until(lambda e: e.kind == "create" and e.path is not None and to_bytes(e.path) == key,
                        what="the create of marker %r" % name)
        os.unlink(name)
        self.read_until(lambda e: e.kind == "delete" and e.path is not None and to_bytes(e.path) == key,
                        what="the delete of marker %r" % name)

    def real_events(self):
        return real(self.events)


class TempDirTestCase(unittest.TestCase):
    """A fresh temporary directory per test (self.tmp), removed after."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="inowatch-py-")
        self.addCleanup(self._rmtree, self.tmp)

    @staticmethod
    def _rmtree(path):
        # Tests chmod things to 000: make everything removable first.
        for dirpath, dirnames, _ in os.walk(path):
            for d in dirnames:
                try:
                    os.chmod(os.path.join(dirpath, d), 0o755, follow_symlinks=False)
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)

    def mkroot(self, name="root"):
        root = os.path.join(self.tmp, name)
        os.mkdir(root)
        return root

    def watch(self, root, **kw):
        """A Watcher on root, closed at cleanup, its Reader and the tree at
        start."""
        w = inowatch.Watcher(root, **kw)
        self.addCleanup(w.close)
        return w, Reader(w, root), snapshot(root)

    def assertConverges(self, reader, initial, root):
        """Applying the events read so far to `initial` gives the tree on disk."""
        reader.sync()
        events = [as_dict(e) for e in reader.real_events()]
        got = reconstruct(initial, events)
        expected = snapshot(root)
        diff = tree_diff(expected, got)
        if diff:
            self.fail("the events do not give the tree on disk (%d events):\n%s"
                      % (len(events), "\n".join(diff)))
        return got

    def run_child(self, code, *args, prefix=(), timeout=None, check=True):
        """Runs a separate Python process that can import inowatch; returns
        the CompletedProcess."""
        argv = list(prefix) + [sys.executable, "-c", code] + [str(a) for a in args]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout or 120 * SCALE, env=pythonpath_env())
        if check and p.returncode != 0:
            self.fail("child failed with status %d:\n%s" % (p.returncode,
                                                            p.stderr.decode(errors="replace")))
        return p


def child_json(p):
    """The JSON objects a child printed, one per line."""
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line.startswith("{")]
