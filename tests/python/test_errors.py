"""Every failure raises the right exception class with errno and filename."""

import errno
import json
import os
import pathlib
import pwd
import signal
import subprocess
import threading
import time
import unittest

from pyhelpers import TempDirTestCase, child_json, inowatch

LIMIT = 20
SET_LIMIT = 'echo "$0" > /proc/sys/user/max_inotify_watches && exec "$@"'


def userns_prefix(limit):
    return ["unshare", "--user", "--map-root-user", "sh", "-c", SET_LIMIT, str(limit)]


def userns_usable():
    """None if a user namespace with a lowered watch limit can be had, else
    why not."""
    try:
        p = subprocess.run(userns_prefix(LIMIT) + ["cat", "/proc/sys/user/max_inotify_watches"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot run unshare: %s" % e
    if p.returncode != 0 or p.stdout.strip() != str(LIMIT).encode():
        return "cannot lower user.max_inotify_watches: %r" % (p.stdout + p.stderr)
    return None


def as_nobody(fn):
    """Runs fn() in a forked child with nobody's credentials (we are root:
    permissions would not apply) and returns what it returned (JSON)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            nobody = pwd.getpwnam("nobody")
            os.setgroups([])
            os.setresgid(nobody.pw_gid, nobody.pw_gid, nobody.pw_gid)
            os.setresuid(nobody.pw_uid, nobody.pw_uid, nobody.pw_uid)
            out = json.dumps(fn()).encode()
        except BaseException as e:  # report anything to the parent
            out = json.dumps({"child_error": repr(e)}).encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def describe(fn):
    """What calling fn raised, as JSON-able facts."""
    try:
        fn()
    except OSError as e:
        return {"class": type(e).__name__, "errno": e.errno, "filename": e.filename,
                "message": str(e)}
    except Exception as e:
        return {"class": type(e).__name__, "message": str(e)}
    return {"class": None}


class WatcherErrors(TempDirTestCase):

    def test_nonexistent(self):
        path = os.path.join(self.tmp, "nope")
        for given in (path, os.fsencode(path), pathlib.Path(path)):
            with self.assertRaises(FileNotFoundError) as cm:
                inowatch.Watcher(given)
            self.assertEqual(cm.exception.errno, errno.ENOENT)
            self.assertEqual(cm.exception.filename, given)

    def test_nonexistent_among_several(self):
        root = self.mkroot()
        bad = os.path.join(self.tmp, "nope")
        with self.assertRaises(FileNotFoundError) as cm:
            inowatch.Watcher([root, bad])
        self.assertEqual(cm.exception.filename, bad)

    def test_not_a_directory(self):
        f = os.path.join(self.tmp, "file")
        open(f, "w").close()
        with self.assertRaises(NotADirectoryError) as cm:
            inowatch.Watcher(os.path.join(f, "x"))
        self.assertEqual(cm.exception.errno, errno.ENOTDIR)

    def test_bad_arguments(self):
        root = self.mkroot()
        with self.assertRaises(ValueError):
            inowatch.Watcher(root, exclude=["[abc"])
        with self.assertRaises(ValueError):
            inowatch.Watcher(root, exclude=[""])
        with self.assertRaises(ValueError):
            inowatch.Watcher(root, events=["create", "explode"])
        with self.assertRaises(TypeError):
            inowatch.Watcher([root, os.fsencode(root)])
        with self.assertRaises(ValueError):
            inowatch.Watcher([])
        with self.assertRaises(ValueError):
            inowatch.Watcher(root + "\0x")
        with self.assertRaises(TypeError):
            inowatch.Watcher(42)
        with self.assertRaises(ValueError):
            inowatch.Watcher(root, latency=-1)
        with inowatch.Watcher(root) as w:
            with self.assertRaises(ValueError):
                w.read(-1)
            with self.assertRaises(ValueError):
                w.read(float("nan"))

    def test_backends(self):
        """backend= picks inotify (the default), fanotify (root only: as
        nobody it raises PermissionError with EPERM) or auto (fanotify
        when permitted, inotify otherwise); .backend says which."""
        root = self.mkroot()
        with self.assertRaises(ValueError):
            inowatch.Watcher(root, backend="kqueue")
        with inowatch.Watcher(root) as w:
            self.assertEqual(w.backend, "inotify")

        def probe():
            with inowatch.Watcher(root, backend="auto") as w:
                chose = w.backend
            return {"fanotify": describe(lambda: inowatch.Watcher(root, backend="fanotify")),
                    "auto": chose}

        if os.geteuid() != 0:
            self.skipTest("fanotify needs root; the refusal is checked from root as nobody")
        os.chmod(self.tmp, 0o755)
        os.chmod(root, 0o755)
        got = as_nobody(probe)
        self.assertNotIn("child_error", got, got)
        self.assertEqual(got["fanotify"]["class"], "PermissionError", got)
        self.assertEqual(got["fanotify"]["errno"], errno.EPERM, got)
        self.assertEqual(got["auto"], "inotify", got)
        with inowatch.Watcher(root, backend="fanotify", latency=0) as w:
            self.assertEqual(w.backend, "fanotify")
            path = os.path.join(root, "new")
            open(path, "w").close()
            seen = []
            for _ in range(50):
                seen += [(e.kind, e.path) for e in w.read(0.1)]
                if ("create", path) in seen:
                    break
            self.assertIn(("create", path), seen)

    def test_use_after_close(self):
        root = self.mkroot()
        w = inowatch.Watcher(root)
        w.close()
        w.close()  # twice is fine
        self.assertTrue(w.closed)
        for call in (w.read, w.fileno, w.stats, w.has_backlog, w.queued, lambda: w.read(0)):
            with self.assertRaises(ValueError):
                call()
        with self.assertRaises(ValueError):
            iter(w)
        with self.assertRaises(ValueError):
            with w:
                pass

    def test_close_from_another_thread_ends_iteration(self):
        root = self.mkroot()
        w = inowatch.Watcher(root)
        threading.Timer(0.2, w.close).start()
        batches = list(w)  # blocks until closed
        self.assertEqual(batches, [])
        self.assertTrue(w.closed)

    def test_keyboard_interrupt_while_blocked(self):
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals go to the main thread")
        root = self.mkroot()
        with inowatch.Watcher(root) as w:
            t = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
            t.start()
            with self.assertRaises(KeyboardInterrupt):
                w.read()
            t.join()
            # The watcher still works after the interruption.
            open(os.path.join(root, "after"), "w").close()
            self.assertEqual([e.kind for e in w.read(10)], ["create"])

    def test_signal_handler_runs_and_read_goes_on(self):
        root = self.mkroot()
        seen = []
        old = signal.signal(signal.SIGUSR1, lambda *a: seen.append(1))
        self.addCleanup(signal.signal, signal.SIGUSR1, old)
        with inowatch.Watcher(root) as w:
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            t0 = time.monotonic()
            self.assertEqual(w.read(0.5), [])
            self.assertGreaterEqual(time.monotonic() - t0, 0.45)
            self.assertEqual(seen, [1])

    def test_unreadable_as_nobody(self):
        root = self.mkroot()
        os.chmod(self.tmp, 0o755)
        os.chmod(root, 0o755)
        secret = os.path.join(self.tmp, "secret")
        os.mkdir(secret, 0o700)
        inner = os.path.join(root, "inner")
        os.mkdir(inner, 0o700)
        open(os.path.join(root, "ok"), "w").close()

        def probe():
            w = inowatch.Watcher(root)  # inner is unreadable: an error event, not a failure
            first = [list(e) + [e.errno, e.error, e.fatal] for e in w.read(0)]
            w.close()
            return {
                "watcher": describe(lambda: inowatch.Watcher(secret)),
                "inotify": describe(lambda: inowatch.Inotify().add_watch(secret, inowatch.IN_CREATE)),
                "first": first,
            }

        if os.geteuid() == 0:
            got = as_nobody(probe)
        else:
            os.chmod(secret, 0)
            os.chmod(inner, 0)
            got = probe()
        self.assertNotIn("child_error", got, got)
        for layer in ("watcher", "inotify"):
            self.assertEqual(got[layer]["class"], "PermissionError", got)
            self.assertEqual(got[layer]["errno"], errno.EACCES, got)
            self.assertEqual(got[layer]["filename"], secret, got)
        self.assertEqual(got["first"], [["error", inner, None, None, errno.EACCES, "EACCES", False]])


LIMIT_CHILD = r"""
import errno, json, os, sys
import inowatch

root, limit = sys.argv[1], int(sys.argv[2])

def report(what, fn):
    try:
        r = fn()
        print(json.dumps({"what": what, "class": None, "result": repr(r)}))
    except OSError as e:
        print(json.dumps({"what": what, "class": type(e).__name__, "errno": e.errno,
                          "filename": e.filename, "message": str(e)}))

# 1. At start: a tree of 2 * limit + 10 directories.
big = os.path.join(root, "big")
for i in range(2 * limit + 9):
    os.makedirs(os.path.join(big, "d%03d" % i))
report("watcher_start", lambda: inowatch.Watcher(big))

# 2. The raw layer: add_watch until the limit.
ino = inowatch.Inotify()
def fill():
    for i in range(2 * limit + 9):
        ino.add_watch(os.path.join(big, "d%03d" % i), inowatch.IN_CREATE)
report("add_watch", fill)
ino.close()

# 3. At run time: a small tree, then more directories than the limit allows.
small = os.path.join(root, "small")
os.makedirs(small)
w = inowatch.Watcher(small)
for i in range(limit + 5):
    os.makedirs(os.path.join(small, "n%03d" % i))
fatal = []
for _ in range(50):
    try:
        batch = w.read(5)
    except OSError as e:
        print(json.dumps({"what": "runtime", "class": type(e).__name__, "errno": e.errno,
                          "filename": e.filename, "message": str(e), "fatal_events": fatal}))
        break
    fatal += [[e.kind, e.errno, e.error, e.fatal] for e in batch if e.kind == "error"]
else:
    print(json.dumps({"what": "runtime", "class": None, "fatal_events": fatal}))
"""


class WatchLimit(TempDirTestCase):

    def setUp(self):
        super().setUp()
        why = userns_usable()
        if why:
            self.skipTest(why)

    def test_enospc(self):
        p = self.run_child(LIMIT_CHILD, self.tmp, LIMIT, prefix=userns_prefix(LIMIT))
        got = {o["what"]: o for o in child_json(p)}
        start = got["watcher_start"]
        self.assertEqual(start["class"], "OSError", start)
        self.assertEqual(start["errno"], errno.ENOSPC, start)
        self.assertEqual(start["filename"], os.path.join(self.tmp, "big"))
        self.assertIn("user.max_inotify_watches", start["message"])
        self.assertNotIn("No space left", start["message"])
        self.assertRegex(start["message"], r"\b%d\b" % LIMIT)
        # 2 * LIMIT + 10 directories, LIMIT watches: LIMIT + 10 more needed.
        self.assertRegex(start["message"], r"needs %d more" % (LIMIT + 10))

        raw = got["add_watch"]
        self.assertEqual((raw["class"], raw["errno"]), ("OSError", errno.ENOSPC), raw)
        self.assertIn("user.max_inotify_watches", raw["message"])
        self.assertTrue(raw["filename"].startswith(os.path.join(self.tmp, "big", "d")), raw)

        run = got["runtime"]
        self.assertIn(["error", errno.ENOSPC, "ENOSPC", True], run["fatal_events"], run)
        self.assertEqual((run["class"], run["errno"]), ("OSError", errno.ENOSPC), run)
        self.assertIn("user.max_inotify_watches", run["message"])


class InotifyErrors(TempDirTestCase):

    def test_nonexistent(self):
        path = os.path.join(self.tmp, "nope")
        with inowatch.Inotify() as ino:
            with self.assertRaises(FileNotFoundError) as cm:
                ino.add_watch(path, inowatch.IN_CREATE)
            self.assertEqual(cm.exception.errno, errno.ENOENT)
            self.assertEqual(cm.exception.filename, path)
            with self.assertRaises(FileNotFoundError) as cm:
                ino.add_watch(os.fsencode(path), inowatch.IN_CREATE)
            self.assertEqual(cm.exception.filename, os.fsencode(path))

    def test_onlydir(self):
        f = os.path.join(self.tmp, "file")
        open(f, "w").close()
        with inowatch.Inotify() as ino:
            with self.assertRaises(NotADirectoryError):
                ino.add_watch(f, inowatch.IN_CREATE | inowatch.IN_ONLYDIR)

    def test_bad_mask(self):
        with inowatch.Inotify() as ino:
            with self.assertRaises(OSError) as cm:
                ino.add_watch(self.tmp, 0)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            with self.assertRaises(OverflowError):
                ino.add_watch(self.tmp, 1 << 40)

    def test_rm_watch_bad_wd(self):
        with inowatch.Inotify() as ino:
            with self.assertRaises(OSError) as cm:
                ino.rm_watch(12345)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            wd = ino.add_watch(self.tmp, inowatch.IN_CREATE)
            ino.rm_watch(wd)
            with self.assertRaises(OSError) as cm:
                ino.rm_watch(wd)
            self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_use_after_close(self):
        ino = inowatch.Inotify()
        ino.close()
        ino.close()
        self.assertTrue(ino.closed)
        for call in (ino.fileno, ino.read, ino.queued, lambda: ino.read(0),
                     lambda: ino.add_watch(self.tmp, inowatch.IN_CREATE), lambda: ino.rm_watch(1)):
            with self.assertRaises(ValueError):
                call()

    def test_close_from_another_thread_wakes_read(self):
        ino = inowatch.Inotify()
        ino.add_watch(self.tmp, inowatch.IN_CREATE)
        threading.Timer(0.2, ino.close).start()
        self.assertEqual(ino.read(), [])
        self.assertTrue(ino.closed)

    def test_keyboard_interrupt_while_blocked(self):
        with inowatch.Inotify() as ino:
            ino.add_watch(self.tmp, inowatch.IN_CREATE)
            t = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
            t.start()
            with self.assertRaises(KeyboardInterrupt):
                ino.read()
            t.join()


if __name__ == "__main__":
    unittest.main()
