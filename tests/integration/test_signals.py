"""Stopping: SIGINT and SIGTERM exit 0 with everything reported so far
flushed; a reader that goes away does not leave the watcher hanging."""

import os
import signal
import subprocess
import sys
import time
import unittest

from iwtest import TIMEOUT, WatchTestCase, _die_with_parent, binary, join, to_bytes, write

FLOOD_PY = r"""
import os, sys, time
root = sys.argv[1]
end = time.monotonic() + 30
i = 0
while time.monotonic() < end and not os.path.exists(os.path.join(root, "..", "stop")):
    p = os.path.join(root, "f%d" % (i % 500))
    with open(p, "w") as f:
        f.write("x")
    if i % 3 == 0:
        os.unlink(p)
    i += 1
"""


class Signals(WatchTestCase):

    def check_flush(self, sig, latency):
        root = self.mkroot()
        w, initial = self.start(root, latency=latency)
        write(os.path.join(root, "before-sync"))
        w.sync()
        # A change whose event we do not wait for: with a pipe as stdout,
        # anything the watcher has written must reach the pipe at exit.
        write(os.path.join(root, "after-sync"))
        time.sleep(0.3)
        w.stop(sig=sig, expect=0)
        paths = [to_bytes(e["path"]) for e in w.snapshot_events() if e["event"] == "create"]
        self.assertIn(join(root, "before-sync"), paths)
        self.assertIn(join(root, "after-sync"), paths,
                      "a change made 300 ms before %s was not reported" % sig.name)
        self.assertTrue(w.raw[-1].endswith(b"\n"))

    def test_sigint(self):
        self.check_flush(signal.SIGINT, 0)

    def test_sigterm(self):
        self.check_flush(signal.SIGTERM, 0)

    def test_sigterm_default_latency(self):
        self.check_flush(signal.SIGTERM, None)

    def test_sigint_while_busy(self):
        root = self.mkroot()
        w, initial = self.start(root)
        child = subprocess.Popen([sys.executable, "-c", FLOOD_PY, root])
        self.addCleanup(lambda: (child.poll() is None and child.kill(), child.wait()))
        w.wait_event("create", start=w.ready_index)
        time.sleep(0.5)
        rc = w.stop(sig=signal.SIGINT, expect=0)
        write(self.path("stop"))
        child.wait(30)
        # stop() already checked that every line is complete, valid JSON
        self.assertGreater(len(w.snapshot_events()), 2)

    def test_reader_goes_away(self):
        """Beyond the contract's letter: like any filter, once nobody reads
        its output (a pipe into `head -1`), the watcher must end (SIGPIPE or
        EPIPE) at its next write, not keep running."""
        root = self.mkroot()
        r, wfd = os.pipe()
        p = subprocess.Popen([binary(), "watch", "--json", "--latency", "0", root],
                             stdout=wfd, stderr=subprocess.DEVNULL, start_new_session=True,
                             preexec_fn=_die_with_parent)
        os.close(wfd)
        self.addCleanup(lambda: (p.poll() is None and os.killpg(p.pid, signal.SIGKILL), p.wait()))
        with os.fdopen(r, "rb") as rf:
            first = rf.readline()
        self.assertIn(b'"ready"', first)
        # the read end is closed now; cause events
        deadline = time.monotonic() + TIMEOUT
        i = 0
        while p.poll() is None and time.monotonic() < deadline:
            write(os.path.join(root, "f%d" % (i % 50)))
            i += 1
            time.sleep(0.01)
        self.assertIsNotNone(p.poll(), "the watcher kept running with nobody reading its output")


if __name__ == "__main__":
    unittest.main()
