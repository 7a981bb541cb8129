"""Every failure path of `inowatch watch`, forced with the fault shim.

Each test makes one libc call fail (shim.c, INOWATCH_FAULT) and checks the
documented behaviour (docs/design.md "Errors", shared/interface.md exit
statuses): a failure that concerns one path is an `error` event and the
watcher goes on; a limit or memory failure at start is exit 2, at run time
an error event flagged fatal and exit 1; every exit says one line on
stderr; and whatever fails, the watcher never dies of a signal, never
hangs, never trips a sanitizer. Each test also checks that its fault did
fire (the shim's log), so that none passes by missing its target.

FaultCases runs the binary under test ($INOWATCH); AsanFaultCases runs the
same cases against $INOWATCH_ASAN when it is set (a -DINOWATCH_SANITIZE=ON
build; in such a build $INOWATCH is already sanitized and FaultCases is
enough). test_valgrind.py runs them under valgrind.
"""

import os
import re
import shutil
import signal
import unittest

from faultlib import (FaultTestCase, errors, is_sanitized, limit_value)

# Tree at start: 7 directories (root included), 2 files.
TREE = {
    "a/a1/": None,
    "b/": None,
    "bad/inner/": None,
    "c/f.txt": "text",
    "c/g.txt": "text",
}
TREE_DIRS = 7

# New files made while the watcher is stopped, for its rescan to find.
OVERFLOW_FILES = 200
# Files of a directory that appears at once: their creates (some 110 bytes
# of JSON each) overflow the CLI's first 64 KiB output buffer.
BIG_BATCH_FILES = 1000


def queue_limit():
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        return int(f.read())


LIMIT_RE = r"(fs\.inotify\.max_user_watches|user\.max_inotify_watches) is (\d+), and this tree " \
           r"needs (\d+) more watch"


def replay(events, initial):
    """Applies create/delete/rename events to a {path: type} tree."""
    state = dict(initial)
    for e in events:
        kind, path = e.get("event"), e.get("path")
        if kind == "create":
            state[path] = e["type"]
        elif kind == "delete":
            for k in [k for k in state if k == path or k.startswith(path + "/")]:
                del state[k]
        elif kind == "rename":
            src = e["from"]
            moved = {k: v for k, v in state.items() if k == src or k.startswith(src + "/")}
            for k in [k for k in state if k == path or k.startswith(path + "/")]:
                del state[k]
            for k in moved:
                del state[k]
            for k, v in moved.items():
                state[path + k[len(src):]] = v
    return state


def tree_diff(want, got, limit=10):
    """Lines saying how the replayed tree `got` differs from `want`."""
    out = []
    for label, keys in (("on disk, never reported", sorted(set(want) - set(got))),
                        ("reported, not on disk", sorted(set(got) - set(want))),
                        ("wrong type", sorted(k for k in set(want) & set(got)
                                              if want[k] != got[k]))):
        if keys:
            out.append("%d %s:" % (len(keys), label))
            out += ["  " + k for k in keys[:limit]]
    return out


def disk_tree(root):
    """{path: type} of everything under root (root itself excluded)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.join(dirpath, d)] = "symlink" if os.path.islink(os.path.join(dirpath, d)) else "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            out[p] = "symlink" if os.path.islink(p) else "file"
    return out


class FaultCases(FaultTestCase):

    # ---- inotify_init1 -----------------------------------------------------

    def test_inotify_init1_emfile(self):
        """No inotify instance: exit 2, naming fs.inotify.max_user_instances."""
        root = self.mktree(TREE)
        r = self.start([root], "inotify_init1:nth=1:EMFILE")
        r.finish(expect_exit=True)
        self.assert_fired(r, "inotify_init1")
        line = self.assert_exit(r, 2, r"inotify instance limit reached")
        self.assertRegex(line, r"(fs\.inotify\.max_user_instances|user\.max_inotify_instances) is \d+")
        self.assertEqual(r.events, [], "nothing on stdout")

    # ---- inotify_add_watch -------------------------------------------------

    def test_add_watch_enospc_at_start(self):
        """The watch limit during the initial scan: exit 2 before ready,
        naming the limit, its value and how many more watches are needed.
        The root is watched once before its scan and once by it (the same
        wd): after=3 lets the root and one subdirectory through."""
        root = self.mktree(TREE)
        for k, missing in ((0, TREE_DIRS), (3, TREE_DIRS - 2)):
            with self.subTest(after=k):
                r = self.start([root], "inotify_add_watch:after=%d:ENOSPC" % k)
                r.finish(expect_exit=True)
                self.assert_fired(r, "inotify_add_watch")
                line = self.assert_exit(r, 2, LIMIT_RE)
                self.assertIn(root, line, "the message names the path")
                m = re.search(LIMIT_RE, line)
                self.assertEqual(int(m.group(2)), limit_value(m.group(1)), "the limit's value")
                self.assertEqual(int(m.group(3)), missing, "how many more watches")
                self.assertNotIn("ready", [e.get("event") for e in r.events])

    def test_add_watch_enospc_after_ready(self):
        """The watch limit hit by a new directory: its create, a fatal
        ENOSPC error event for it, then exit 1 with the limit named."""
        root = self.mktree(TREE)
        r = self.start([root], "inotify_add_watch:after=0:ENOSPC:arm=write")
        self.assertTrue(r.wait_ready(), r.describe())
        new = os.path.join(root, "new")
        os.makedirs(os.path.join(new, "s1", "s2"))
        r.finish(expect_exit=True)
        self.assert_fired(r, "inotify_add_watch")
        line = self.assert_exit(r, 1, LIMIT_RE)
        self.assertIn(new, line)
        m = re.search(LIMIT_RE, line)
        self.assertEqual(int(m.group(2)), limit_value(m.group(1)))
        self.assertTrue(1 <= int(m.group(3)) <= 3, "new, new/s1, new/s2 are missing: %s" % line)
        errs = errors(r.events)
        self.assertEqual(len(errs), 1, r.describe())
        self.assertEqual(errs[0]["path"], new)
        self.assertEqual(errs[0]["error"], "ENOSPC")
        self.assertEqual(errs[0]["errno"], 28)
        self.assertIs(errs[0].get("fatal"), True, "the error event is flagged fatal")
        self.assertIn({"event": "create", "path": new, "type": "dir"}, r.events)

    def test_add_watch_eacces_subdir(self):
        """A subdirectory that cannot be watched: an error event, not
        fatal; everything else is still reported."""
        root = self.mktree(TREE)
        bad = os.path.join(root, "bad")
        r = self.start([root], "inotify_add_watch:after=0:EACCES:path=/bad")
        self.assertTrue(r.wait_ready(), r.describe())
        self.assert_fired(r, "inotify_add_watch")
        errs = errors(r.events, bad)
        self.assertEqual(len(errs), 1, r.describe())
        self.assertEqual(errs[0]["error"], "EACCES")
        self.assertNotIn("fatal", errs[0])
        f = os.path.join(root, "b", "later.txt")
        open(f, "w").close()
        self.assertTrue(r.wait_path("create", f), r.describe())
        self.assert_went_on(r)

    # ---- open / openat -----------------------------------------------------

    def test_openat_eacces_subdir_at_start(self):
        """The initial scan opens subdirectories with openat(): one that
        cannot be opened is an error event; the rest is watched."""
        root = self.mktree(TREE)
        bad = os.path.join(root, "bad")
        r = self.start([root], "openat:after=0:EACCES:path=/bad")
        self.assertTrue(r.wait_ready(), r.describe())
        self.assert_fired(r, "openat")
        self.assertEqual([e["error"] for e in errors(r.events)], ["EACCES"], r.describe())
        self.assertEqual(errors(r.events)[0]["path"], bad)
        f = os.path.join(root, "a", "a1", "later.txt")
        open(f, "w").close()
        self.assertTrue(r.wait_path("create", f), r.describe())
        self.assert_went_on(r)

    def test_open_eacces_new_dir(self):
        """A new directory is opened by path with open(): EACCES there is an
        error event after its create, and the watcher goes on."""
        root = self.mktree(TREE)
        new = os.path.join(root, "newdir")
        r = self.start([root], "open:after=0:EACCES:path=/newdir:arm=write")
        self.assertTrue(r.wait_ready(), r.describe())
        os.mkdir(new)
        self.assertTrue(r.wait_for(lambda evs: errors(evs, new)), r.describe())
        self.assert_fired(r, "open")
        err = errors(r.events, new)[0]
        self.assertEqual(err["error"], "EACCES")
        self.assertNotIn("fatal", err)
        self.assertIn({"event": "create", "path": new, "type": "dir"}, r.events)
        f = os.path.join(root, "b", "later.txt")
        open(f, "w").close()
        self.assertTrue(r.wait_path("create", f), r.describe())
        self.assert_went_on(r)

    def test_open_emfile_new_dir(self):
        """Out of file descriptors while opening a new directory: a fatal
        EMFILE error event, then exit 1 naming the path and the reason."""
        root = self.mktree(TREE)
        new = os.path.join(root, "newdir")
        r = self.start([root], "open:after=0:EMFILE:path=/newdir:arm=write")
        self.assertTrue(r.wait_ready(), r.describe())
        os.mkdir(new)
        r.finish(expect_exit=True)
        self.assert_fired(r, "open")
        line = self.assert_exit(r, 1, r"(?i)too many open files")
        self.assertIn(new, line)
        errs = errors(r.events)
        self.assertEqual([(e["path"], e["error"], e.get("fatal")) for e in errs],
                         [(new, "EMFILE", True)], r.describe())

    # A fatal error during the initial scan (EMFILE opening a
    # subdirectory) means a PATH cannot be watched at start: exit 2.

    def test_openat_emfile_subdir_at_start(self):
        """Out of file descriptors during the initial scan: the run must
        end (status 1 or 2) with one line naming the path and the reason,
        not go on after "ready"."""
        root = self.mktree(TREE)
        r = self.start([root], "openat:after=0:EMFILE:path=/bad")
        r.wait_ready()
        r.finish(expect_exit=True, timeout=self.wait / 5)
        self.assert_fired(r, "openat")
        self.assert_no_crash(r)
        self.assertIn(r.returncode, (1, 2), r.describe())
        self.assert_exit(r, r.returncode, r"(?i)bad.*too many open files")

    # ---- getdents64 --------------------------------------------------------

    def test_getdents64_eio_subdir_at_start(self):
        """A subdirectory whose listing fails: an error event naming it,
        and the rest is watched."""
        root = self.mktree(TREE)
        bad = os.path.join(root, "bad")
        r = self.start([root], "getdents64:after=0:EIO:path=/bad")
        self.assertTrue(r.wait_ready(), r.describe())
        self.assert_fired(r, "getdents64")
        errs = errors(r.events)
        self.assertEqual([(e["path"], e["error"]) for e in errs], [(bad, "EIO")], r.describe())
        self.assertNotIn("fatal", errs[0])
        f = os.path.join(root, "c", "later.txt")
        open(f, "w").close()
        self.assertTrue(r.wait_path("create", f), r.describe())
        self.assert_went_on(r)

    def test_getdents64_eio_new_dir(self):
        """A new directory whose listing fails: its create, an error event
        naming it, and the watcher goes on."""
        root = self.mktree(TREE)
        new = os.path.join(root, "newdir")
        r = self.start([root], "getdents64:after=0:EIO:path=/newdir:arm=write")
        self.assertTrue(r.wait_ready(), r.describe())
        os.mkdir(new)
        self.assertTrue(r.wait_for(lambda evs: errors(evs, new)), r.describe())
        self.assert_fired(r, "getdents64")
        self.assertEqual(errors(r.events, new)[0]["error"], "EIO")
        self.assertIn({"event": "create", "path": new, "type": "dir"}, r.events)
        f = os.path.join(root, "b", "later.txt")
        open(f, "w").close()
        self.assertTrue(r.wait_path("create", f), r.describe())
        self.assert_went_on(r)

    # ---- fstat -------------------------------------------------------------

    def test_fstat_eio_root(self):
        """The root cannot be examined: exit 2, naming it and the reason."""
        root = self.mktree(TREE)
        r = self.start([root], "fstat:after=0:EIO:path=/root")
        r.finish(expect_exit=True)
        self.assert_fired(r, "fstat")
        line = self.assert_exit(r, 2, r"Input/output error")
        self.assertIn(root, line)
        self.assertEqual(r.events, [])

    # ---- read on the inotify fd --------------------------------------------

    def test_read_eio(self):
        """The inotify fd fails: exit 1 with 'reading events: ...'."""
        root = self.mktree(TREE)
        r = self.start([root], "read:nth=1:EIO")
        self.assertTrue(r.wait_ready(), r.describe())
        open(os.path.join(root, "b", "x"), "w").close()
        r.finish(expect_exit=True)
        self.assert_fired(r, "read")
        self.assert_exit(r, 1, r"^inowatch: reading events: Input/output error$")

    def test_read_eintr_is_retried(self):
        """An interrupted read is retried: nothing is lost."""
        root = self.mktree(TREE)
        r = self.start([root], "read:nth=1:EINTR")
        self.assertTrue(r.wait_ready(), r.describe())
        f = os.path.join(root, "b", "x")
        open(f, "w").close()
        self.assertTrue(r.wait_path("create", f), r.describe())
        self.assert_fired(r, "read")
        self.assert_went_on(r)
        self.assertEqual(r.stderr_lines(), [])

    # ---- fstatat -----------------------------------------------------------

    def test_openat_enoent_listed_subdir(self):
        """A directory found by a listing that is gone when it is opened (a
        rename or delete raced the scan; here the shim makes the open say
        ENOENT) must still be read later: its contents are reported, and
        changes inside it after that too. This was an intermittent loss
        under floods: a directory created with a subtree and renamed while
        its parent was being scanned came out empty."""
        root = self.mktree(TREE)
        # A long latency, so that `racy` exists when `new` is listed and is
        # reached by that listing (openat from new's fd), not by its own
        # create event.
        r = self.start([root], "openat:nth=1:ENOENT:path=racy:arm=write",
                       extra_args=["--latency", "300"])
        self.assertTrue(r.wait_ready(), r.describe())
        inner = os.path.join(root, "new", "racy", "inner")
        os.makedirs(inner)
        open(os.path.join(inner, "early"), "w").close()
        self.assertTrue(r.wait_path("create", os.path.join(inner, "early")), r.describe())
        self.assert_fired(r, "openat")
        late = os.path.join(inner, "late")
        open(late, "w").close()
        self.assertTrue(r.wait_path("create", late), r.describe())
        want = {k: v for k, v in disk_tree(root).items() if "/new" in k}
        got = {k: v for k, v in replay(r.events, {}).items() if "/new" in k}
        self.assertEqual(tree_diff(want, got), [], r.describe())
        self.assert_went_on(r)

    def test_fstatat_fails_on_create(self):
        """lstat of a created entry fails once: the create is still
        reported, and the end-of-batch check corrects a wrong guess of its
        type (a symlink first taken for a file)."""
        root = self.mktree(TREE)
        r = self.start([root], "fstatat:nth=1:EIO:path=/sym1")
        self.assertTrue(r.wait_ready(), r.describe())
        link = os.path.join(root, "b", "sym1")
        os.symlink("target", link)
        marker = os.path.join(root, "b", "after")
        open(marker, "w").close()
        self.assertTrue(r.wait_path("create", marker), r.describe())
        self.assert_fired(r, "fstatat")
        final = replay(r.events, {})
        self.assertEqual(final.get(link), "symlink", "the stream converges to a symlink\n%s"
                         % r.describe())
        self.assert_went_on(r)

    def test_fstatat_always_fails_on_create(self):
        """lstat of a created entry always fails: the create is reported
        (type best effort), and the watcher goes on."""
        root = self.mktree(TREE)
        r = self.start([root], "fstatat:after=0:EIO:path=/sym2")
        self.assertTrue(r.wait_ready(), r.describe())
        link = os.path.join(root, "b", "sym2")
        os.symlink("target", link)
        marker = os.path.join(root, "b", "after")
        open(marker, "w").close()
        self.assertTrue(r.wait_path("create", marker), r.describe())
        self.assert_fired(r, "fstatat")
        self.assertIn(link, replay(r.events, {}), "the create is reported\n%s" % r.describe())
        os.unlink(link)
        self.assertTrue(r.wait_path("delete", link), r.describe())
        self.assert_went_on(r)

    # ---- write on stdout ---------------------------------------------------

    def test_write_eio_ready_line(self):
        """stdout fails on the ready line: exit 1, 'writing events: ...'."""
        root = self.mktree(TREE)
        r = self.start([root], "write:nth=1:EIO")
        r.finish(expect_exit=True)
        self.assert_fired(r, "write")
        self.assert_exit(r, 1, r"^inowatch: writing events: Input/output error$")

    def test_write_enospc_after_ready(self):
        """stdout fails on an event batch: exit 1, 'writing events: ...'."""
        root = self.mktree(TREE)
        r = self.start([root], "write:nth=2:ENOSPC")
        self.assertTrue(r.wait_ready(), r.describe())
        open(os.path.join(root, "b", "x"), "w").close()
        r.finish(expect_exit=True)
        self.assert_fired(r, "write")
        self.assert_exit(r, 1, r"^inowatch: writing events: No space left on device$")

    # ---- memory ------------------------------------------------------------

    def skip_malloc_faults(self):
        """Hook: valgrind replaces malloc itself, so the shim's malloc never
        runs under it."""
        return None

    def malloc_scenario(self, root, r):
        """Changes after ready: a new subtree, a rename of it, a delete in
        it, a modify; then a last file whose create says all was seen.
        Returns its path."""
        n = os.path.join(root, "n")
        os.makedirs(os.path.join(n, "x", "y"))
        for p in ("x/y/f1", "x/f2", "g"):
            with open(os.path.join(n, p), "w") as f:
                f.write("data")
        os.rename(n, os.path.join(root, "m"))
        os.unlink(os.path.join(root, "m", "x", "f2"))
        with open(os.path.join(root, "c", "f.txt"), "a") as f:
            f.write("more")
        done = os.path.join(root, "a", "done")
        open(done, "w").close()
        return done

    def overflow_scenario(self, root, r):
        """The watcher stopped (SIGSTOP) while more events than the kernel
        queue holds are made, so that it reads an overflow and rescans:
        new files, then writes to two files in turn (identical events in a
        row would be merged)."""
        os.kill(r.proc.pid, signal.SIGSTOP)
        try:
            d = os.path.join(root, "b")
            for i in range(OVERFLOW_FILES):
                open(os.path.join(d, "f%d" % i), "w").close()
            fds = [os.open(os.path.join(d, "f%d" % i), os.O_WRONLY) for i in range(2)]
            try:
                for i in range(queue_limit() + 1000):
                    os.write(fds[i % 2], b"x")
            finally:
                for fd in fds:
                    os.close(fd)
        finally:
            os.kill(r.proc.pid, signal.SIGCONT)
        r.wait_for(lambda evs: any(e.get("event") == "overflow" for e in evs))
        done = os.path.join(root, "a", "done")
        open(done, "w").close()
        return done

    def big_batch_scenario(self, root, r):
        """One batch whose output is larger than the CLI's first output
        buffer (64 KiB): a directory of BIG_BATCH_FILES files appears
        while the watcher is stopped, so it is scanned and reported at
        once."""
        os.kill(r.proc.pid, signal.SIGSTOP)
        try:
            big = os.path.join(root, "big")
            os.mkdir(big)
            for i in range(BIG_BATCH_FILES):
                open(os.path.join(big, "file-with-a-longish-name-%04d" % i), "w").close()
        finally:
            os.kill(r.proc.pid, signal.SIGCONT)
        done = os.path.join(root, "a", "done")
        open(done, "w").close()
        return done

    def run_malloc_case(self, fault, scenario=None):
        scenario = scenario or self.malloc_scenario
        root = os.path.join(self.tmp, "root")
        shutil.rmtree(root, ignore_errors=True)
        self.mktree(TREE, base=root)
        initial = disk_tree(root)
        r = self.start([root], fault)
        ready = r.wait_ready()
        done = None
        if ready and r.proc.poll() is None:
            done = scenario(root, r)
            r.wait_path("create", done)
        r.finish(expect_exit=False)
        self.assert_no_crash(r)
        self.assertIn(r.returncode, (0, 1, 2), r.describe())
        if r.returncode != 0:
            line = self.assert_exit(r, r.returncode)
            self.assertRegex(line, r"Cannot allocate memory|out of memory", r.describe())
            self.assertEqual(r.returncode, 1 if ready else 2,
                             "status 2 before ready, 1 after\n%s" % r.describe())
        elif done is not None:
            # It went on: then nothing may have been lost.
            got = replay(r.events, initial)
            want = disk_tree(root)
            if got != want:
                self.fail("the watcher went on (exit 0, nothing on stderr) after a failed "
                          "allocation, but its events do not give the tree on disk:\n%s\n%s"
                          % ("\n".join(tree_diff(want, got)), r.describe()))
        return r

    def count_allocs(self, fault, scenario=None, fn="alloc"):
        scenario = scenario or self.malloc_scenario
        root = self.mktree(TREE, base=os.path.join(self.tmp, "count"))
        r = self.start([root], fault)
        self.assertTrue(r.wait_ready(), r.describe())
        done = scenario(root, r)
        self.assertTrue(r.wait_path("create", done), r.describe())
        r.finish(expect_exit=False)
        self.assert_no_crash(r)
        n = r.calls(fn)
        self.assertIsNotNone(n, "the shim counted nothing\n%s" % r.describe())
        shutil.rmtree(root, ignore_errors=True)
        return n

    def test_malloc_after_ready(self):
        """Every allocation after the Kth (counted from ready) fails, for
        each K from 0 to past the last allocation the scenario makes: each
        run exits 1 with a message, or goes on with a complete stream."""
        why = self.skip_malloc_faults()
        if why:
            self.skipTest(why)
        total = self.count_allocs("alloc:after=1000000:ENOMEM:arm=write")
        self.assertGreater(total, 0)
        for k in range(0, total + 2):
            with self.subTest(after=k):
                self.run_malloc_case("alloc:after=%d:ENOMEM:arm=write" % k)

    def test_malloc_once_after_ready(self):
        """Only the Kth allocation after ready fails, then memory is back:
        the watcher must still exit 1 with a message, or go on without
        losing an event."""
        why = self.skip_malloc_faults()
        if why:
            self.skipTest(why)
        total = self.count_allocs("alloc:after=1000000:ENOMEM:arm=write")
        for k in range(1, total + 2):
            with self.subTest(nth=k):
                self.run_malloc_case("alloc:nth=%d:ENOMEM:arm=write" % k)

    def test_malloc_during_overflow_recovery(self):
        """Allocations fail during an overflow and its rescan (a sample of
        K, every run in its own process): exit 1 with a message, or a
        complete stream."""
        why = self.skip_malloc_faults()
        if why:
            self.skipTest(why)
        if queue_limit() > 100000:
            self.skipTest("fs.inotify.max_queued_events is %d: too many events to make"
                          % queue_limit())
        total = self.count_allocs("alloc:after=100000000:ENOMEM:arm=write",
                                  self.overflow_scenario)
        # Nodes come from the pool's blocks (pool.c), a malloc per block
        # rather than per file: few enough to fail each one in turn.
        self.assertGreater(total, 0, "the rescan allocates")
        if total <= 64:
            ks = range(total)
        else:
            ks = sorted({0, 1, 2, 3, 5} | {total * i // 8 for i in range(1, 8)} | {total - 1})
        for k in ks:
            with self.subTest(after=k):
                self.run_malloc_case("alloc:after=%d:ENOMEM:arm=write" % k, self.overflow_scenario)
            with self.subTest(nth=k + 1):
                self.run_malloc_case("alloc:nth=%d:ENOMEM:arm=write" % (k + 1),
                                     self.overflow_scenario)

    # When the output buffer must grow for a large batch and cannot, the
    # event must not be dropped silently: exit 1 with a message.

    def test_realloc_fails_growing_output(self):
        """Each reallocation made while a batch too large for the output
        buffer is handled fails, one per run (the buffer's growth is one
        of them): exit 1 with a message, or a complete stream."""
        why = self.skip_malloc_faults()
        if why:
            self.skipTest(why)
        total = self.count_allocs("realloc:after=100000000:ENOMEM:arm=write",
                                  self.big_batch_scenario, fn="realloc")
        for k in range(1, total + 1):
            with self.subTest(nth=k):
                self.run_malloc_case("realloc:nth=%d:ENOMEM:arm=write" % k,
                                     self.big_batch_scenario)

    def test_malloc_at_start(self):
        """Allocations fail from the Kth on, from process start: exit 2
        with a message before ready, or a working watcher."""
        why = self.skip_malloc_faults()
        if why:
            self.skipTest(why)
        root = self.mktree(TREE, base=os.path.join(self.tmp, "count"))
        r = self.start([root], "alloc:after=1000000:ENOMEM")
        self.assertTrue(r.wait_ready(), r.describe())
        r.finish(expect_exit=False)
        total = r.calls("alloc")
        self.assertTrue(total, r.describe())
        shutil.rmtree(root, ignore_errors=True)
        for k in range(0, total + 1):
            with self.subTest(after=k):
                self.run_malloc_case("alloc:after=%d:ENOMEM" % k)


@unittest.skipUnless(os.environ.get("INOWATCH_ASAN"),
                     "INOWATCH_ASAN (a -DINOWATCH_SANITIZE=ON binary) is not set")
class AsanFaultCases(FaultCases):
    """The same cases against a sanitizer build: AddressSanitizer (with
    LeakSanitizer) and UBSan watch every failure path."""
    binary_path = os.environ.get("INOWATCH_ASAN")

    def setUp(self):
        super().setUp()
        if not is_sanitized(self.binary):
            self.skipTest("%s is not built with -DINOWATCH_SANITIZE=ON" % self.binary)


if __name__ == "__main__":
    unittest.main()
