"""The type of each created entry when many are made at once in one
directory: the watcher answers such a burst from one listing of the
directory instead of an lstat() per entry (src/lib/typecache.c), and the
answer must be the same: file, symlink or other, whatever the mix, also
when names are replaced or the directory moves while the burst is read."""

import os
import socket
import subprocess
import unittest

from iwtest import BACKEND, SCALE, WatchTestCase, real_events, reconstruct, to_bytes, write

# Enough creates in one directory, against what it held, to be listed.
BURST = max(24, int(60 * SCALE))


def make_mixed(d, prefix, count, flip=False):
    """Makes count entries in d cycling through file, symlink, fifo and
    socket (flip: the cycle starts elsewhere, so that a name gets another
    type than in an unflipped burst). Returns {name: type}."""
    kinds = ["file", "symlink", "other-fifo", "other-socket"]
    made = {}
    socks = []
    for i in range(count):
        kind = kinds[(i + (2 if flip else 0)) % len(kinds)]
        name = "%s%03d" % (prefix, i)
        p = os.path.join(d, name)
        if kind == "file":
            write(p, b"data")
        elif kind == "symlink":
            os.symlink("target-%d" % i, p)
        elif kind == "other-fifo":
            os.mkfifo(p)
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(p)
            socks.append(s)
        made[name] = kind.split("-")[0]
    for s in socks:
        s.close()
    return made


class BurstTypes(WatchTestCase):

    def start_on_dir(self, existing=0):
        """A root with a directory d (holding `existing` files), watched with
        a latency long enough to put a whole burst into one batch."""
        root = self.mkroot()
        d = os.path.join(root, "d")
        os.mkdir(d)
        for i in range(existing):
            write(os.path.join(d, "already%d" % i))
        w, initial = self.start(root, latency=200)
        return root, d, w, initial

    def created_types(self, w, start, d):
        """{name: type} of the creates reported directly in d."""
        prefix = to_bytes(d) + b"/"
        out = {}
        for e in real_events(w.snapshot_events(start)):
            p = to_bytes(e.get("path", ""))
            if e["event"] == "create" and p.startswith(prefix) and b"/" not in p[len(prefix):]:
                out[p[len(prefix):].decode()] = e["type"]
        return out

    def test_burst_of_mixed_types(self):
        _, d, w, initial = self.start_on_dir(existing=1)
        n0 = w.count()
        made = make_mixed(d, "e", BURST)
        w.sync()
        self.assertEqual(self.created_types(w, n0, d), made)
        self.assertConverges(w, initial)
        w.stop()

    def test_names_replaced_by_other_types_within_the_burst(self):
        """Each name is made, removed and made again as another type before
        the watcher reads: the listing sees only the second. The stream must
        still replay to the tree on disk, types included."""
        _, d, w, initial = self.start_on_dir()
        n0 = w.count()
        first = make_mixed(d, "r", BURST)
        for name in first:
            os.unlink(os.path.join(d, name))
        second = make_mixed(d, "r", BURST, flip=True)
        w.sync()
        self.assertConverges(w, initial)
        last = {}
        for e in real_events(w.snapshot_events(n0)):
            if e["event"] == "create" and e["path"].startswith(d + "/"):
                last[os.path.basename(e["path"])] = e["type"]
        self.assertEqual(last, second)
        w.stop()

    def test_directory_renamed_and_replaced_during_the_burst(self):
        """The burst's directory is renamed away and a new one with the same
        names, of other types, takes its path, all before the watcher reads:
        a listing by the old path would describe the newcomer. Both trees
        must come out with their own types."""
        root, d, w, initial = self.start_on_dir()
        n0 = w.count()
        made = make_mixed(d, "m", BURST)
        moved = os.path.join(root, "moved")
        os.rename(d, moved)
        os.mkdir(d)
        newcomer = make_mixed(d, "m", BURST, flip=True)
        w.sync()
        self.assertConverges(w, initial)
        # The last create of each name under d is the newcomer's; the first
        # burst's entries, replayed, are under moved with their own types.
        self.assertEqual(self.created_types(w, n0, d), newcomer)
        replayed = reconstruct(initial, w.snapshot_events())
        self.assertEqual({n: replayed.get(to_bytes(os.path.join(moved, n))) for n in made}, made)
        w.stop()

    def test_overlay_of_two_filesystems(self):
        """An overlay whose layers lie on two filesystems lists a directory's
        "." with the upper layer's inode and stats it with its own (and
        changes the first on copy-up): where the watcher compares the two to
        tell whether a path still leads to a directory, a mismatch must fall
        back to asking the disk, not be taken for a rename (each create would
        stay a guessed "file")."""
        if BACKEND == "fanotify":
            self.skipTest("fanotify cannot mark an overlay (EOPNOTSUPP)")
        lower = self.path("lower")
        os.mkdir(lower)
        if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", lower]) != 0:
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.call, ["umount", "-l", lower])
        os.mkdir(os.path.join(lower, "d"))
        upper, work, merged = self.path("upper"), self.path("work"), self.path("merged")
        for p in (upper, work, merged):
            os.mkdir(p)
        opts = "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, upper, work)
        if subprocess.call(["mount", "-t", "overlay", "overlay", "-o", opts, merged]) != 0:
            self.skipTest("cannot mount an overlay here")
        self.addCleanup(subprocess.call, ["umount", "-l", merged])
        w, initial = self.start(merged, latency=200)
        d = os.path.join(merged, "d")
        n0 = w.count()
        made = {}
        for prefix in ("a", "b", "c"):  # a burst, then lone creates
            made.update(make_mixed(d, prefix, BURST if prefix == "a" else 3))
            w.sync()
        self.assertEqual(self.created_types(w, n0, d), made)
        self.assertConverges(w, initial)
        w.stop()


if __name__ == "__main__":
    unittest.main()
