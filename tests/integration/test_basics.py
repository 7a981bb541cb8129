"""Basic events: files, directories, symlinks, fifos; path forms; `ready`;
the human output format."""

import os
import time
import unittest

from iwtest import SCALE, WatchTestCase, join, real_events, show_event, to_bytes, write


class Basics(WatchTestCase):

    def window(self, w, start, end):
        return real_events(w.snapshot_events(start, end))

    def assertWindow(self, w, start, end, expected, allow=("modify",), msg=""):
        self.assertEvents(w, start, end, expected, ignore=allow, msg=msg)

    def test_file_lifecycle(self):
        root = self.mkroot()
        w, initial = self.start(root)
        f = os.path.join(root, "f")

        n0 = w.count()
        write(f, b"hello")
        n1 = w.sync()
        self.assertWindow(w, n0, n1, [("create", f, "file")], msg="creating a file: ")

        with open(f, "ab") as fh:
            fh.write(b" world")
        n2 = w.sync()
        self.assertWindow(w, n1, n2, [("modify", f, None)], allow=(), msg="appending: ")

        os.chmod(f, 0o600)
        n3 = w.sync()
        self.assertWindow(w, n2, n3, [("attrib", f, None)], allow=(), msg="chmod: ")

        os.utime(f, (1_000_000_000, 1_000_000_000))
        n4 = w.sync()
        self.assertWindow(w, n3, n4, [("attrib", f, None)], allow=(), msg="utime: ")

        os.truncate(f, 0)
        n5 = w.sync()
        self.assertWindow(w, n4, n5, [("modify", f, None)], allow=(), msg="truncate: ")

        os.unlink(f)
        n6 = w.sync()
        self.assertWindow(w, n5, n6, [("delete", f, "file")], allow=(), msg="unlink: ")
        self.assertConverges(w, initial)
        w.stop()

    def test_create_covers_changes_in_its_batch(self):
        """An entry created, written and stamped within one batch is one
        create (the consumer looks at it after the batch, when all of that
        has happened, as an untar does to every file); changes in a later
        batch are reported."""
        root = self.mkroot()
        w, initial = self.start(root, latency=300)
        f, d = os.path.join(root, "f"), os.path.join(root, "d")
        n0 = w.count()
        write(f, b"hello")
        with open(f, "ab") as fh:
            fh.write(b" world")
        os.chmod(f, 0o600)
        os.utime(f, (1_000_000_000, 1_000_000_000))
        os.mkdir(d)
        os.chmod(d, 0o700)
        n1 = w.sync()
        self.assertWindow(w, n0, n1, [("create", f, "file"), ("create", d, "dir")], allow=(),
                          msg="created and changed at once: ")
        with open(f, "ab") as fh:
            fh.write(b"!")
        os.chmod(d, 0o750)
        n2 = w.sync()
        self.assertWindow(w, n1, n2, [("modify", f, None), ("attrib", d, "dir")], allow=(),
                          msg="changed in a later batch: ")
        self.assertConverges(w, initial)
        w.stop()

    def test_dir_symlink_fifo(self):
        root = self.mkroot()
        w, initial = self.start(root, latency=0)
        d = os.path.join(root, "d")
        n0 = w.count()
        os.mkdir(d)
        write(os.path.join(d, "inside"))
        os.symlink("inside", os.path.join(d, "link"))
        os.symlink("/nonexistent/dangling", os.path.join(root, "dangling"))
        os.mkfifo(os.path.join(root, "fifo"))
        n1 = w.sync()
        evs = self.window(w, n0, n1)
        creates = {to_bytes(e["path"]): e["type"] for e in evs if e["event"] == "create"}
        self.assertEqual(creates, {
            to_bytes(d): "dir",
            join(d, "inside"): "file",
            join(d, "link"): "symlink",
            join(root, "dangling"): "symlink",
            join(root, "fifo"): "other",
        }, "creates seen: %s" % [show_event(e) for e in evs])
        self.assertConverges(w, initial)

        n2 = w.count()
        os.unlink(os.path.join(root, "fifo"))
        os.unlink(os.path.join(d, "link"))
        os.unlink(os.path.join(root, "dangling"))
        n3 = w.sync()
        deletes = {to_bytes(e["path"]): e["type"] for e in self.window(w, n2, n3) if e["event"] == "delete"}
        self.assertEqual(deletes, {join(root, "fifo"): "other", join(d, "link"): "symlink",
                                   join(root, "dangling"): "symlink"})

        n4 = w.count()
        os.unlink(os.path.join(d, "inside"))
        os.rmdir(d)
        n5 = w.sync()
        evs = self.window(w, n4, n5)
        self.assertIn(("delete", to_bytes(d), "dir"),
                      [(e["event"], to_bytes(e["path"]), e.get("type")) for e in evs])
        self.assertConverges(w, initial)
        w.stop()

    def test_types_of_creates_spread_over_many_directories(self):
        """Entries made round-robin over more directories than the watcher
        keeps fds on during a batch (64), all in one batch: each create has
        its entry's own type. One directory is renamed to a longer name
        halfway (its node is reallocated), and the replay still matches."""
        root = self.mkroot()
        dirs = [os.path.join(root, "d%02d" % i) for i in range(80)]
        for d in dirs:
            os.mkdir(d)
        w, initial = self.start(root, latency=1000)
        n0 = w.count()
        makers = [("file", write), ("symlink", lambda p: os.symlink("e0", p)),
                  ("other", os.mkfifo), ("file", write)]
        expected = {}
        for rnd, (kind, make) in enumerate(makers):
            for d in dirs:
                make(os.path.join(d, "e%d" % rnd))
                expected[join(d, "e%d" % rnd)] = kind
            if rnd == 1:
                os.rename(dirs[5], os.path.join(root, "d05-renamed-to-a-longer-name"))
                dirs[5] = os.path.join(root, "d05-renamed-to-a-longer-name")
        n1 = w.sync()
        evs = self.window(w, n0, n1)
        creates = {to_bytes(e["path"]): e["type"] for e in evs if e["event"] == "create"}
        for path, kind in expected.items():
            if b"/d05" not in path:
                self.assertEqual(creates.get(path), kind, "create of %s" % path)
        self.assertConverges(w, initial)
        w.stop()

    def test_hard_link_chown_and_mode(self):
        root = self.mkroot()
        f = os.path.join(root, "f")
        write(f)
        w, initial = self.start(root)
        n0 = w.count()
        # A new name for f. f's link count changes too, but the kernel tells
        # only watches on f itself about that, not its directory's: an
        # attrib for f is allowed, not required.
        os.link(f, os.path.join(root, "g"))
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("create", join(root, "g"), "file")], ignore=("attrib",),
                          msg="hard link: ")
        if os.geteuid() == 0:
            os.chown(f, 1, 1)
            n2 = w.sync()
            self.assertEvents(w, n1, n2, [("attrib", f, None)], ignore=(), msg="chown: ")
        n3 = w.sync()
        os.unlink(os.path.join(root, "g"))
        os.chmod(root, 0o711)  # the root's own metadata
        n4 = w.sync()
        self.assertEvents(w, n3, n4, [("delete", join(root, "g"), "file"), ("attrib", root, None)],
                          ignore=("attrib",), msg="unlink g, chmod of the root: ")
        self.assertConverges(w, initial)
        w.stop()

    def test_latency_bounds(self):
        root = self.mkroot()
        for latency, bound in ((0, 1.0), (300, 1.3)):
            with self.subTest(latency=latency):
                w, initial = self.start(root, latency=latency)
                n0 = w.count()
                p = os.path.join(root, "lat%d" % latency)
                t0 = time.monotonic()
                write(p)
                i = w.wait_event("create", p, start=n0)
                delay = w.times[i] - t0
                self.assertLess(delay, bound * max(1.0, SCALE),
                                "--latency %d: the create took %.3fs to be reported" % (latency, delay))
                w.stop()

    def test_default_latency_merges_writes_20ms_apart(self):
        """`watch` holds a batch 50 ms by default (the library's 10 ms would
        split these): a file written twice, 20 ms apart, is one modify.
        Three files, one after another; a sleep that overshoots by 30 ms
        on a busy machine may split one pair, not all three."""
        root = self.mkroot()
        files = [os.path.join(root, "f%d" % i) for i in range(3)]
        for f in files:
            write(f)
        w, initial = self.start(root)
        n0 = w.count()
        for f in files:
            for _ in range(2):
                with open(f, "a") as fh:
                    fh.write("x")
                time.sleep(0.02)
            time.sleep(0.1)  # the next file's writes start a batch of their own
        n1 = w.sync()
        modifies = [sum(1 for e in self.window(w, n0, n1)
                        if e["event"] == "modify" and to_bytes(e["path"]) == join(root, os.path.basename(f)))
                    for f in files]
        self.assertTrue(all(m >= 1 for m in modifies), "a write went unreported: %s" % modifies)
        self.assertIn(1, modifies, "no pair of writes 20 ms apart was one modify: %s" % modifies)
        self.assertConverges(w, initial)
        w.stop()

    def test_ready_once_and_first(self):
        root = self.mkroot()
        for i in range(20):
            os.mkdir(os.path.join(root, "d%d" % i))
            write(os.path.join(root, "d%d" % i, "f"))
        w, initial = self.start(root)
        self.assertEqual(w.ready_index, 0, "ready is not the first line: %s"
                         % [show_event(e) for e in w.snapshot_events(0, w.ready_index + 1)])
        write(os.path.join(root, "d3", "g"))
        w.sync()
        self.assertConverges(w, initial)
        w.stop()  # checks: exactly one ready, nothing but errors before it

    def test_existing_tree_gives_no_events(self):
        root = self.mkroot()
        for i in range(10):
            os.makedirs(os.path.join(root, "a%d" % i, "b", "c"))
            write(os.path.join(root, "a%d" % i, "b", "c", "f"))
        w, initial = self.start(root)
        n = w.sync()
        extra = real_events(w.snapshot_events(w.ready_index + 1, n))
        self.assertEqual(extra, [], "events for a tree nobody touched")
        w.stop()

    def test_path_forms(self):
        base = self.path("base")
        os.makedirs(os.path.join(base, "w", "sub"))
        cases = [
            # (root as given, cwd, expected prefix)
            (os.path.join(base, "w") + "/", None, os.path.join(base, "w")),
            (os.path.join(base, "w") + "//", None, os.path.join(base, "w")),
            ("w", base, "w"),
            ("./w", base, "./w"),
            ("w/", base, "w"),
            ("./w/sub/../sub", base, "./w/sub/../sub"),
            (".", os.path.join(base, "w"), "."),
        ]
        for i, (given, cwd, prefix) in enumerate(cases):
            with self.subTest(root=given):
                w = self.watch([given], cwd=cwd)
                w.ready()
                fs_dir = os.path.join(cwd, given) if cwd else given
                name = "file%d" % i
                n0 = w.count()
                write(os.path.join(fs_dir, name))
                os.mkdir(os.path.join(fs_dir, "dir%d" % i))
                write(os.path.join(fs_dir, "dir%d" % i, "x"))
                n1 = w.sync(prefix, fs_dir=fs_dir)
                creates = [to_bytes(e["path"]) for e in self.window(w, n0, n1) if e["event"] == "create"]
                want = [to_bytes(prefix + "/" + name), to_bytes(prefix + "/dir%d" % i),
                        to_bytes(prefix + "/dir%d/x" % i)]
                self.assertEqual(sorted(creates), sorted(want))
                w.stop()

    def test_human_output(self):
        root = self.mkroot()
        # Human mode has no `ready` in the contract: wait until a probe file
        # is seen instead.
        w = self.watch([root], json_mode=False)
        deadline = time.monotonic() + 20
        probes = []
        while True:
            probe = os.path.join(root, "probe%d" % len(probes))
            probes.append(probe)
            write(probe)
            try:
                w.wait_for(lambda l: l == "create file " + probe, timeout=0.3, what="probe")
                break
            except AssertionError:
                if time.monotonic() > deadline or w.proc.poll() is not None:
                    raise
        for p in probes:
            os.unlink(p)
        w.wait_for(lambda l: l == "delete file " + probe, what="probe delete")
        n0 = w.count()
        f = os.path.join(root, "f")
        d = os.path.join(root, "d")
        write(f)
        w.sync()
        with open(f, "ab") as fh:
            fh.write(b"more")
        w.sync()
        os.mkdir(d)
        write(os.path.join(d, "g"))
        w.sync()
        os.rename(d, d + "2")
        w.sync()
        os.chmod(f, 0o600)
        w.sync()
        os.symlink("f", os.path.join(root, "l"))
        w.sync()
        os.unlink(f)
        w.sync()
        lines = [l for l in w.snapshot_events(n0) if ".iwsync-" not in l and "probe" not in l
                 and l != "ready"]
        expected = [
            "create file %s" % f,
            "modify %s" % f,
            "create dir %s" % d,
            "create file %s/g" % d,
            "rename dir %s -> %s2" % (d, d),
            "attrib %s" % f,
            "create symlink %s/l" % root,
            "delete file %s" % f,
        ]
        # modify may be repeated (one per write batch)
        dedup = [l for i, l in enumerate(lines) if not (l.startswith("modify") and i and lines[i - 1] == l)]
        # g, written as soon as created in a new directory, is a create
        # alone when a scan of the directory found it written (inotify), or
        # create + modify when its events are read (fanotify)
        dedup = [l for l in dedup if l != "modify %s/g" % d]
        self.assertEqual(dedup, expected)
        w.stop()


if __name__ == "__main__":
    unittest.main()
