"""The inotify watch limit, at start and at run time.

The limit is lowered only inside a new user namespace (unshare --user
--map-root-user): there /proc/sys/user/max_inotify_watches is the
namespace's own and writable, and nothing outside is affected. The watcher
must name that limit (user.max_inotify_watches), its value, and how many
more watches the tree needs."""

import errno
import os
import subprocess
import unittest

from iwtest import WatchTestCase, join, run_cli, show_event, to_bytes

LIMIT = 20
SET_LIMIT = 'echo "$0" > /proc/sys/user/max_inotify_watches && exec "$@"'


def userns_prefix(limit):
    return ["unshare", "--user", "--map-root-user", "sh", "-c", SET_LIMIT, str(limit)]


_usable = None


def userns_usable():
    """None if a user namespace with a lowered watch limit can be had, else
    the reason it cannot."""
    global _usable
    if _usable is None:
        try:
            p = subprocess.run(userns_prefix(LIMIT) + ["cat", "/proc/sys/user/max_inotify_watches"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            _usable = "cannot run unshare: %s" % e
        else:
            if p.returncode != 0 or p.stdout.strip() != str(LIMIT).encode():
                _usable = ("cannot lower user.max_inotify_watches in a user namespace: status %s, %r"
                           % (p.returncode, (p.stdout + p.stderr).decode(errors="replace").strip()))
            else:
                _usable = ""
    return _usable or None


class WatchLimit(WatchTestCase):

    def setUp(self):
        super().setUp()
        why = userns_usable()
        if why:
            self.skipTest(why)

    def make_dirs(self, root, n):
        """root plus n-1 subdirectories, every third one nested in the one
        before it: n directories in all."""
        for i in range(n - 1):
            parent = os.path.join(root, "d%d" % (i - 1)) if i % 3 == 2 else root
            os.mkdir(os.path.join(parent, "d%d" % i))

    def count_dirs(self, root):
        return sum(1 for _ in os.walk(root))

    def test_limit_at_start(self):
        root = self.mkroot()
        self.make_dirs(root, 50)
        self.assertEqual(self.count_dirs(root), 50)
        r = run_cli(self, ["watch", "--json", root], prefix=userns_prefix(LIMIT))
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, "status with a tree of 50 directories and a limit of %d\n"
                         "stderr: %s" % (LIMIT, err))
        self.assertNotIn(b'"ready"', r.stdout)
        self.assertIn("user.max_inotify_watches", err, "stderr names the limit to raise")
        self.assertRegex(err, r"\b%d\b" % LIMIT, "stderr gives the limit's value")
        self.assertRegex(err, r"\b%d\b" % (50 - LIMIT),
                         "stderr says how many more watches the tree needs (50 - %d)" % LIMIT)

    def test_limit_at_start_just_enough(self):
        root = self.mkroot()
        self.make_dirs(root, LIMIT)
        w = self.watch([root], prefix=userns_prefix(LIMIT))
        w.ready()
        # exactly at the limit: every directory is watched
        open(os.path.join(root, "d0", "new"), "w").close()
        n = w.sync(os.path.join(root, "d1"))
        self.assertTrue(any(e.get("event") == "create" and to_bytes(e["path"]) == join(root, "d0/new")
                            for e in w.snapshot_events(0, n)))
        w.stop()

    def test_limit_at_run_time(self):
        root = self.mkroot()
        self.make_dirs(root, 10)
        w = self.watch([root], prefix=userns_prefix(LIMIT))
        w.ready()
        n0 = w.count()
        for i in range(30):
            os.makedirs(os.path.join(root, "new%d" % i))
        i = w.wait_for(lambda e: e.get("event") == "error", start=n0,
                       what="an error event once 40 directories need watches with a limit of %d" % LIMIT)
        e = w.snapshot_events(i, i + 1)[0]
        self.assertEqual(e["errno"], errno.ENOSPC, show_event(e))
        self.assertEqual(e["error"], "ENOSPC", show_event(e))
        self.assertTrue(to_bytes(e["path"]).startswith(to_bytes(root) + b"/"), show_event(e))
        rc = w.wait_exit()
        self.assertEqual(rc, 1, "running out of watches at run time is fatal: status 1\n" + w.describe())
        err = w.stderr
        self.assertIn("user.max_inotify_watches", err, "stderr names the limit to raise")
        self.assertRegex(err, r"\b%d\b" % LIMIT, "stderr gives the limit's value")
        w.check_stream()


if __name__ == "__main__":
    unittest.main()
