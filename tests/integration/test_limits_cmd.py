"""`inowatch limits`: per process inotify instances and watches read from
/proc, totals per user, the limits, and unreadable processes counted.

A helper process holds a known number of inotify instances and watches
(ctypes: inotify_init1 + inotify_add_watch on fresh directories) and says
so by creating a file; the tests then compare inowatch's report with it."""

import json
import os
import pwd
import signal
import subprocess
import sys
import time
import unittest

from iwtest import NOBODY, TIMEOUT, WatchTestCase, have_root, require_tool, run_cli

HOLDER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
ready, counts, base = sys.argv[1], sys.argv[2], sys.argv[3]
fds = []
for i, n in enumerate(int(x) for x in counts.split(",")):
    fd = libc.inotify_init1(0)
    if fd < 0:
        sys.exit("inotify_init1: errno %d" % ctypes.get_errno())
    for j in range(n):
        d = os.path.join(base, "i%d-d%d" % (i, j))
        os.mkdir(d)
        if libc.inotify_add_watch(fd, d.encode(), 0x100) < 0:  # IN_CREATE
            sys.exit("inotify_add_watch: errno %d" % ctypes.get_errno())
    fds.append(fd)
with open(ready + ".tmp", "w") as f:
    f.write("ready")
os.rename(ready + ".tmp", ready)
time.sleep(3600)
"""

LIMIT_FILES = {
    "fs.inotify.max_user_watches": "/proc/sys/fs/inotify/max_user_watches",
    "fs.inotify.max_user_instances": "/proc/sys/fs/inotify/max_user_instances",
    "fs.inotify.max_queued_events": "/proc/sys/fs/inotify/max_queued_events",
    "user.max_inotify_watches": "/proc/sys/user/max_inotify_watches",
    "user.max_inotify_instances": "/proc/sys/user/max_inotify_instances",
}


def read_limit(path):
    try:
        with open(path) as f:
            return int(f.read())
    except OSError:
        return None


class Limits(WatchTestCase):

    def holder(self, counts, extra_args=()):
        """Starts a process holding len(counts) instances with counts[i]
        watches each; returns its pid once they are all in place."""
        base = self.path("holder-%d" % len(os.listdir(self.tmp)))
        os.mkdir(base)
        ready = os.path.join(base, "ready")
        p = subprocess.Popen([sys.executable, "-c", HOLDER, ready, ",".join(map(str, counts)), base]
                             + list(extra_args), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def stop():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait(10)
            p.stderr.close()
        self.addCleanup(stop)
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(ready):
            if p.poll() is not None:
                self.fail("the holder process failed: %s" % p.stderr.read().decode(errors="replace"))
            if time.monotonic() > deadline:
                self.fail("the holder process did not get ready")
            time.sleep(0.02)
        return p.pid

    def limits_json(self, prefix=()):
        p = run_cli(self, ["limits", "--json"], prefix=prefix)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        try:
            doc = json.loads(p.stdout.decode("utf-8"))
        except ValueError as e:
            self.fail("limits --json is not one JSON document (%s): %r" % (e, p.stdout[:500]))
        return doc

    def entry(self, doc, pid):
        mine = [x for x in doc["processes"] if x["pid"] == pid]
        self.assertEqual(len(mine), 1, "pid %d listed %d times: %r" % (pid, len(mine), doc["processes"]))
        return mine[0]

    def test_json_counts_one_instance(self):
        n = 7
        pid = self.holder([n])
        doc = self.limits_json()
        e = self.entry(doc, pid)
        self.assertEqual((e["instances"], e["watches"]), (1, n))
        self.assertEqual(e["uid"], os.geteuid())
        self.assertEqual(e["user"], pwd.getpwuid(os.geteuid()).pw_name)
        self.assertIn(sys.executable + " -c ", e["command"])
        self.assertIsInstance(doc["unreadable"], int)

    def test_json_counts_several_instances(self):
        pid = self.holder([3, 0, 4])
        e = self.entry(self.limits_json(), pid)
        self.assertEqual((e["instances"], e["watches"]), (3, 7))

    def test_json_schema_and_totals(self):
        pid = self.holder([5])
        doc = self.limits_json()
        self.assertEqual(set(doc), {"processes", "users", "limits", "unreadable"})
        for x in doc["processes"]:
            self.assertEqual(set(x), {"pid", "user", "uid", "command", "instances", "watches"})
        watches = [x["watches"] for x in doc["processes"]]
        self.assertEqual(watches, sorted(watches, reverse=True), "not sorted by watches")
        for key, path in LIMIT_FILES.items():
            self.assertEqual(doc["limits"][key], read_limit(path), key)
        uid = os.geteuid()
        mine = [u for u in doc["users"] if u["uid"] == uid]
        self.assertEqual(len(mine), 1)
        u = mine[0]
        listed = [x for x in doc["processes"] if x["uid"] == uid]
        self.assertEqual(u["processes"], len(listed))
        self.assertEqual(u["instances"], sum(x["instances"] for x in listed))
        self.assertEqual(u["watches"], sum(x["watches"] for x in listed))
        self.assertGreaterEqual(u["watches"], 5)
        wlimit = min(v for v in (doc["limits"]["fs.inotify.max_user_watches"],
                                 doc["limits"]["user.max_inotify_watches"]) if v is not None)
        ilimit = min(v for v in (doc["limits"]["fs.inotify.max_user_instances"],
                                 doc["limits"]["user.max_inotify_instances"]) if v is not None)
        self.assertEqual(u["watches_left"], max(0, wlimit - u["watches"]))
        self.assertEqual(u["instances_left"], max(0, ilimit - u["instances"]))

    def test_human_output_has_a_line_for_the_process(self):
        n = 4
        pid = self.holder([n])
        p = run_cli(self, ["limits"])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode("utf-8", "replace")
        lines = [l for l in out.splitlines() if l.split()[:1] == [str(pid)]]
        self.assertEqual(len(lines), 1, out)
        fields = lines[0].split()
        self.assertEqual(fields[1:4], [pwd.getpwuid(os.geteuid()).pw_name, "1", str(n)], lines[0])
        self.assertIn("fs.inotify.max_user_watches", out)
        self.assertIn(str(read_limit(LIMIT_FILES["fs.inotify.max_user_watches"])), out)

    def test_command_line_is_escaped(self):
        pid = self.holder([1], extra_args=["two\nlines", "\x1b[31mred"])
        e = self.entry(self.limits_json(), pid)
        self.assertTrue(e["command"].endswith(" two\nlines \x1b[31mred"), repr(e["command"]))
        out = run_cli(self, ["limits"]).stdout
        self.assertNotIn(b"\x1b", out, "a command line reached the terminal unescaped")
        self.assertEqual(len([l for l in out.splitlines() if l.split()[:1] == [str(pid).encode()]]), 1)

    def test_unreadable_processes_are_counted(self):
        if not have_root():
            self.skipTest("needs root to run as another user")
        require_tool(self, "setpriv")
        pid = self.holder([2])
        doc = self.limits_json(prefix=NOBODY)
        self.assertNotIn(pid, [x["pid"] for x in doc["processes"]])
        self.assertGreaterEqual(doc["unreadable"], 1)
        p = run_cli(self, ["limits"], prefix=NOBODY)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertIn(b"could not be read", p.stdout)

    def test_usage_errors(self):
        for args in (["--bogus"], ["extra"], ["-z"]):
            p = run_cli(self, ["limits"] + args)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)

    def test_help(self):
        p = run_cli(self, ["limits", "--help"])
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"--json", p.stdout)
        self.assertIn(b"Examples", p.stdout)


if __name__ == "__main__":
    unittest.main()
