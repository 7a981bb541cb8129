"""The Watcher's default latency: a batch gathers 50 ms once the queue is
readable (as `inowatch watch` does; the C library's default is 10 ms), so
that writes to one file a few ms apart are one modify."""

import os
import threading
import time
import unittest

from pyhelpers import TempDirTestCase, inowatch


def write_twice(files, gap):
    """Appends to each file twice, `gap` s apart, then waits for the next
    file's writes to start a batch of their own."""
    for f in files:
        for _ in range(2):
            with open(f, "a") as fh:
                fh.write("x")
            time.sleep(gap)
        time.sleep(0.15)


class Latency(TempDirTestCase):

    def test_default_is_50_ms(self):
        root = self.mkroot()
        with inowatch.Watcher(root) as w:
            self.assertEqual(w.latency, 0.05)
        self.assertEqual(inowatch.LATENCY_DEFAULT_MS, 50)

    def modifies_per_file(self, **kw):
        """Three files, each written twice 20 ms apart while a read() gathers
        (the writer is a thread: read() waits without the GIL); the modifies
        of each file."""
        root = self.mkroot()
        files = [os.path.join(root, "f%d" % i) for i in range(3)]
        for f in files:
            open(f, "w").close()
        w, r, initial = self.watch(root, **kw)
        writer = threading.Thread(target=write_twice, args=(files, 0.02))
        writer.start()
        while writer.is_alive():
            r.events.extend(w.read(timeout=0.05))
        writer.join()
        self.assertConverges(r, initial, root)
        return [sum(1 for e in r.events if e.kind == "modify" and e.path == f) for f in files]

    def test_default_merges_writes_20ms_apart(self):
        """A sleep that overshoots by 30 ms on a busy machine may split one
        pair, not all three."""
        modifies = self.modifies_per_file()
        self.assertTrue(all(m >= 1 for m in modifies), "a write went unreported: %s" % modifies)
        self.assertIn(1, modifies, "no pair of writes 20 ms apart was one modify: %s" % modifies)

    def test_latency_zero_reports_writes_apart(self):
        """The counter-check: read at once, the two writes are two modifies
        (a reader late by 20 ms on a busy machine may merge one pair)."""
        modifies = self.modifies_per_file(latency=0)
        self.assertIn(2, modifies, "every pair of writes was merged at latency 0: %s" % modifies)


if __name__ == "__main__":
    unittest.main()
