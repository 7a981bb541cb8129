"""`inowatch run`: CMD runs at start and once per settled burst of changes,
with the changed paths in INOWATCH_PATHS, never through a shell; --restart
stops CMD's whole process group; stopping inowatch stops the group.

Runs are counted through a log that CMD appends one JSON record to per run.
Nothing sleeps to wait for a run: the tests poll that log (or a file CMD
writes) until a generous timeout. To prove that no extra run happened, a
test makes one last change, a uniquely named marker file, and waits for the
run whose INOWATCH_PATHS is exactly that marker: every change made before
the marker was read before it, so a pending run of earlier changes would
have taken the marker along instead.
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

from iwtest import SCALE, TIMEOUT, WatchTestCase, binary, run_cli, run_py, write

# CMD for most tests: appends a record of its run to LOG, then, while the
# file HOLD exists, waits (so that a test can make changes during a run).
RECORDER = r"""
import json, os, sys, time
log, hold = sys.argv[1], sys.argv[2]
rec = {"pid": os.getpid(), "pgid": os.getpgid(0),
       "paths": os.environ.get("INOWATCH_PATHS"),
       "truncated": os.environ.get("INOWATCH_PATHS_TRUNCATED"),
       "stdin": os.readlink("/proc/self/fd/0")}
with open(log, "a") as f:
    f.write(json.dumps(rec) + "\n")
while os.path.exists(hold):
    time.sleep(0.01)
"""

# A process group that ignores SIGTERM: the shell and, since an ignored
# signal stays ignored across fork and exec, every sleep it starts.
STUBBORN = 'trap "" TERM; echo $$ >> "$0"; while :; do sleep 0.1; done'

POLL = 0.02


def group_members(pgid):
    """Pids of the live (not zombie) processes in process group pgid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            out.append(int(name))
    return out


def read_text(path):
    """The content of a file CMD writes, "" while it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return ""


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


class Runner:
    """One `inowatch run` process; stdout and stderr go to files."""

    def __init__(self, tc, args, cmd):
        self.tc = tc
        self.out_path = tc.path("run.stdout")
        self.err_path = tc.path("run.stderr")
        self.argv = [binary(), "run"] + list(args) + ["--"] + list(cmd)
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, start_new_session=True)
        tc.addCleanup(self.cleanup)

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def describe(self):
        rc = self.proc.poll()
        return "command: %r\nprocess: %s\nstderr: %r" % (
            self.argv, "running" if rc is None else "exited with status %s" % rc, self.stderr())

    def wait_until(self, pred, what, timeout=None):
        deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                self.tc.fail("timed out waiting for %s\n%s" % (what, self.describe()))
            time.sleep(POLL)

    def wait_ready(self):
        """With --postpone: waits for the line saying the watches are in place."""
        self.wait_until(lambda: "ready" in self.stderr(), "the ready line on stderr")

    def wait_exit(self, timeout=None):
        try:
            return self.proc.wait(TIMEOUT if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.tc.fail("inowatch run did not exit\n%s" % self.describe())

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.wait_exit()


class RunTestCase(WatchTestCase):

    def setUp(self):
        super().setUp()
        self.root = self.mkroot()
        self.log = self.path("runs.log")
        self.hold = self.path("hold")
        self.markers = 0

    def start(self, *args, cmd=None):
        if cmd is None:
            cmd = [sys.executable, "-c", RECORDER, self.log, self.hold]
        return Runner(self, list(args) + [self.root], cmd)

    def runs(self):
        try:
            with open(self.log) as f:
                text = f.read()
        except FileNotFoundError:
            return []
        # A run may be writing its record right now: only whole lines count.
        return [json.loads(l) for l in text[:text.rfind("\n") + 1].splitlines()]

    def wait_runs(self, r, n):
        """Waits until at least n runs are logged; returns the records."""
        return r.wait_until(lambda: len(self.runs()) >= n and self.runs(),
                            "run #%d (runs so far: %r)" % (n, self.runs()))

    def sync(self, r, expect_before):
        """Makes a marker change and waits for the run that lists it, which
        must be run number expect_before + 1 and list the marker alone. Call
        it once the last expected run has started. Returns the runs before
        the marker's."""
        self.markers += 1
        marker = os.path.join(self.root, "marker-%d" % self.markers)
        write(marker)

        def find():
            runs = self.runs()
            for i, x in enumerate(runs):
                if marker in (x["paths"] or "").split("\n"):
                    return i, runs
            return None
        index, runs = r.wait_until(find, "the run for %s" % marker)
        self.assertEqual(runs[index]["paths"], marker, "the marker's run took other changes along")
        self.assertEqual(index, expect_before,
                         "expected %d runs before the marker's, got: %r" % (expect_before, runs))
        return runs[:index]

    def paths(self, *names):
        return "\n".join(os.path.join(self.root, n) for n in names)


class Basics(RunTestCase):

    def test_runs_at_start_then_once_per_change(self):
        r = self.start()
        first = self.wait_runs(r, 1)[0]
        self.assertEqual(first["paths"], "", "INOWATCH_PATHS must be empty for the run at start")
        self.assertEqual(first["pgid"], first["pid"], "CMD must lead its own process group")
        self.assertNotEqual(first["pgid"], os.getpgid(r.proc.pid))
        self.assertEqual(first["stdin"], "/dev/null")
        write(os.path.join(self.root, "a"))
        second = self.wait_runs(r, 2)[1]
        self.assertEqual(second["paths"], self.paths("a"))
        self.assertIsNone(second["truncated"])
        self.sync(r, 2)
        self.assertEqual(r.stop(), 0)
        self.assertEqual(r.stderr(), "")

    def test_burst_gives_one_run(self):
        r = self.start("--debounce", str(int(500 * SCALE)))
        self.wait_runs(r, 1)
        run_py("import os, sys\n"
               "for i in range(500):\n"
               "    open(os.path.join(sys.argv[1], 'f%d' % i), 'w').write('x')\n"
               "for i in range(500):\n"
               "    open(os.path.join(sys.argv[1], 'f%d' % i), 'a').write('y')\n", self.root)
        self.wait_runs(r, 2)
        runs = self.sync(r, 2)
        self.assertEqual(runs[1]["paths"], self.paths(*["f%d" % i for i in range(500)]),
                         "one run listing each of the 500 files once, in order")

    def test_change_during_run_gives_exactly_one_more(self):
        write(self.hold)
        r = self.start()
        self.wait_runs(r, 1)  # run 1 now waits for `hold` to go
        for name in ("a", "b", "a"):
            write(os.path.join(self.root, name), mode="ab")
        os.unlink(self.hold)
        self.wait_runs(r, 2)
        runs = self.sync(r, 2)
        self.assertEqual(runs[1]["paths"], self.paths("a", "b"))

    def test_rename_lists_both_names(self):
        write(os.path.join(self.root, "old"))
        r = self.start()
        self.wait_runs(r, 1)
        os.rename(os.path.join(self.root, "old"), os.path.join(self.root, "new"))
        self.assertEqual(self.wait_runs(r, 2)[1]["paths"], self.paths("old", "new"))

    def test_postpone(self):
        r = self.start("--postpone")
        r.wait_ready()
        write(os.path.join(self.root, "a"))
        runs = self.wait_runs(r, 1)
        self.assertEqual(runs[0]["paths"], self.paths("a"), "--postpone ran CMD at start")
        self.sync(r, 1)

    def test_arguments_reach_cmd_unchanged(self):
        out = self.path("argv.json")
        args = ["a b", "it's", '"double"', "$(touch pwned)", "`touch pwned2`", "*", "",
                "--", "-x", "; exit 3", "back\\slash", "new\nline", "\u00fcn\u00efcode", "$HOME"]
        code = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
        r = self.start(cmd=[sys.executable, "-c", code, out] + args)
        got = r.wait_until(lambda: read_text(out), "CMD's argv")
        self.assertEqual(json.loads(got), args)
        self.assertFalse(os.path.exists(self.path("pwned")) or os.path.exists("pwned"))

    def test_clear(self):
        r = self.start("--clear", cmd=["echo", "hello"])
        r.wait_until(lambda: "hello" in read_text(r.out_path), "CMD's output")
        out = read_text(r.out_path)
        self.assertTrue(out.startswith("\x1b[H\x1b[2J"), "no clear sequence before the run: %r" % out)

    def test_failed_run_is_reported_and_watching_goes_on(self):
        r = self.start(cmd=["sh", "-c", 'echo x >> "$0"; exit 3', self.log])
        r.wait_until(lambda: "exited with status 3" in r.stderr(), "the report of status 3")
        write(os.path.join(self.root, "a"))
        r.wait_until(lambda: len(read_text(self.log).split()) == 2, "a second run")
        self.assertEqual(r.stop(), 0)

    def test_truncated_paths(self):
        r = self.start("--debounce", str(int(500 * SCALE)))
        self.wait_runs(r, 1)
        run_py("import os, sys\n"
               "for i in range(1000):\n"
               "    open(os.path.join(sys.argv[1], '%04d' % i + 'n' * 150), 'w').close()\n",
               self.root)
        self.wait_runs(r, 2)
        runs = self.sync(r, 2)
        self.assertEqual(runs[1]["truncated"], "1")
        paths = runs[1]["paths"].split("\n")
        self.assertLessEqual(len(runs[1]["paths"].encode()), 100 * 1024)
        self.assertGreater(len(paths), 500)
        self.assertEqual(paths, [os.path.join(self.root, "%04d" % i + "n" * 150)
                                 for i in range(len(paths))])


class Ignored(RunTestCase):

    def test_git_does_not_trigger(self):
        os.makedirs(os.path.join(self.root, ".git", "objects"))
        r = self.start()
        self.wait_runs(r, 1)
        write(os.path.join(self.root, ".git", "index"))
        write(os.path.join(self.root, ".git", "objects", "ab12"))
        os.mkdir(os.path.join(self.root, ".git", "refs"))
        self.sync(r, 1)

    def test_exclude_option(self):
        os.mkdir(os.path.join(self.root, "build"))
        r = self.start("-x", "*.log", "--exclude", "build")
        self.wait_runs(r, 1)
        write(os.path.join(self.root, "x.log"))
        write(os.path.join(self.root, "build", "out.o"))
        self.sync(r, 1)

    def test_vim_style_save_counts_once(self):
        target = os.path.join(self.root, "file.txt")
        write(target, "v1")
        r = self.start()
        self.wait_runs(r, 1)
        # vim's save with 'writebackup': probe file 4913, swap file, the
        # original renamed to the backup name, a new file, the backup gone;
        # and emacs's lock link.
        run_py("import os, sys\n"
               "d = sys.argv[1]; p = lambda n: os.path.join(d, n)\n"
               "open(p('4913'), 'w').close(); os.unlink(p('4913'))\n"
               "open(p('.file.txt.swp'), 'w').write('swap')\n"
               "os.symlink('user@host.1234', p('.#file.txt'))\n"
               "os.rename(p('file.txt'), p('file.txt~'))\n"
               "open(p('file.txt'), 'w').write('v2')\n"
               "os.unlink(p('file.txt~'))\n"
               "open(p('#file.txt#'), 'w').write('autosave')\n", self.root)
        self.wait_runs(r, 2)
        runs = self.sync(r, 2)
        self.assertEqual(runs[1]["paths"], self.paths("file.txt"))

    def test_temp_and_rename_save_counts_once(self):
        target = os.path.join(self.root, "file.txt")
        write(target, "v1")
        r = self.start()
        self.wait_runs(r, 1)
        run_py("import os, sys\n"
               "t = os.path.join(sys.argv[1], '.file.txt.tmp-1')\n"
               "open(t, 'w').write('v2')\n"
               "os.rename(t, os.path.join(sys.argv[1], 'file.txt'))\n", self.root)
        self.wait_runs(r, 2)
        runs = self.sync(r, 2)
        self.assertIn(target, runs[1]["paths"].split("\n"))

    def test_no_default_excludes(self):
        os.mkdir(os.path.join(self.root, ".git"))
        r = self.start("--no-default-excludes")
        self.wait_runs(r, 1)
        write(os.path.join(self.root, ".git", "index"))
        self.assertEqual(self.wait_runs(r, 2)[1]["paths"], self.paths(".git/index"))


class Groups(RunTestCase):

    def read_pids(self, r, n):
        pidlog = self.path("pids")
        lines = r.wait_until(lambda: len(read_text(pidlog).split()) >= n and read_text(pidlog).split(),
                             "%d pids in %s" % (n, pidlog))
        return [int(x) for x in lines]

    def wait_group_gone(self, r, pgid):
        r.wait_until(lambda: not group_members(pgid), "process group %d to be gone (left: %r)"
                     % (pgid, group_members(pgid)))

    def test_restart_kills_a_group_that_ignores_sigterm(self):
        grace = 500
        r = self.start("--restart", "--grace", str(grace), cmd=["sh", "-c", STUBBORN, self.path("pids")])
        pgid = self.read_pids(r, 1)[0]
        self.assertGreaterEqual(len(group_members(pgid)), 1)
        t0 = time.monotonic()
        write(os.path.join(self.root, "a"))
        second = self.read_pids(r, 2)[1]
        elapsed = time.monotonic() - t0
        self.assertNotEqual(second, pgid)
        self.assertGreaterEqual(elapsed, grace / 1000.0,
                                "restarted after %.2fs, before the grace period" % elapsed)
        self.assertEqual(group_members(pgid), [], "the old group was not killed entirely")
        self.assertEqual(r.stop(), 0)
        self.wait_group_gone(r, second)

    def test_restart_does_not_wait_for_a_group_that_exits(self):
        r = self.start("--restart", "--grace", str(int(30000 * SCALE)),
                       cmd=["sh", "-c", 'echo $$ >> "$0"; sleep 1000', self.path("pids")])
        pgid = self.read_pids(r, 1)[0]
        write(os.path.join(self.root, "a"))
        second = self.read_pids(r, 2)[1]
        self.assertNotEqual(second, pgid)
        self.assertEqual(group_members(pgid), [])
        self.assertEqual(r.stop(), 0)  # and the second run's group goes with it
        self.wait_group_gone(r, second)

    def test_sigterm_stops_the_group(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                pids = self.path("pids")
                if os.path.exists(pids):
                    os.unlink(pids)
                grace = 300
                r = self.start("--grace", str(grace), cmd=["sh", "-c", STUBBORN, pids])
                pgid = self.read_pids(r, 1)[0]
                t0 = time.monotonic()
                self.assertEqual(r.stop(sig), 0)
                self.assertGreaterEqual(time.monotonic() - t0, grace / 1000.0)
                self.wait_group_gone(r, pgid)
                self.assertEqual(r.stderr(), "")

    def test_second_signal_skips_the_grace(self):
        r = self.start("--grace", str(int(60000 * SCALE)), cmd=["sh", "-c", STUBBORN, self.path("pids")])
        pgid = self.read_pids(r, 1)[0]
        r.proc.send_signal(signal.SIGTERM)
        r.proc.send_signal(signal.SIGINT)
        self.assertEqual(r.wait_exit(timeout=TIMEOUT), 0)
        self.wait_group_gone(r, pgid)

    def test_background_leftovers_are_stopped_when_cmd_exits(self):
        bg = self.path("bg")
        r = self.start(cmd=["sh", "-c", 'sleep 1000 & echo $! > "$0"', bg])
        pid = int(r.wait_until(lambda: read_text(bg).strip(), "the pid"))
        r.wait_until(lambda: not pid_alive(pid), "the background sleep to be stopped")


class Errors(RunTestCase):

    def check_usage(self, args, needle):
        p = run_cli(self, ["run"] + args)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 2, err)
        self.assertEqual(len(err.splitlines()), 1, "expected one line on stderr: %r" % err)
        self.assertIn(needle, err)
        return err

    def test_missing_cmd(self):
        self.check_usage([self.root, "--", "/no/such/dir/cmd"], "/no/such/dir/cmd")
        err = self.check_usage([self.root, "--", "no-such-command-iw"], "no-such-command-iw")
        self.assertIn("No such file", err)

    def test_cmd_not_executable(self):
        f = self.path("script")
        write(f, "#!/bin/sh\necho hi\n")
        err = self.check_usage([self.root, "--", f], f)
        self.assertIn("Permission denied", err)

    def test_missing_cmd_with_postpone(self):
        r = Runner(self, ["--postpone", self.root], ["no-such-command-iw"])
        r.wait_ready()
        write(os.path.join(self.root, "a"))
        self.assertEqual(r.wait_exit(), 2)
        lines = [l for l in r.stderr().splitlines() if "ready" not in l]
        self.assertEqual(len(lines), 1, r.stderr())
        self.assertIn("no-such-command-iw", lines[0])

    def test_usage_errors(self):
        self.check_usage([self.root, "echo"], "'--'")
        self.check_usage(["--", "echo"], "PATH")
        self.check_usage([self.root, "--"], "CMD")
        self.check_usage(["--debounce", "soon", self.root, "--", "echo"], "--debounce")
        self.check_usage(["--grace", "-1", self.root, "--", "echo"], "--grace")
        self.check_usage(["-x", "[oops", self.root, "--", "echo"], "[oops")
        self.check_usage(["--frobnicate", self.root, "--", "echo"], "--frobnicate")
        self.check_usage([self.path("absent"), "--", "echo"], "absent")

    def test_help(self):
        p = run_cli(self, ["run", "--help"])
        self.assertEqual(p.returncode, 0)
        text = p.stdout.decode()
        for word in ("--debounce", "--restart", "--grace", "--postpone", "--clear", "INOWATCH_PATHS",
                     ".git", "4913", "Exit status", "Examples"):
            self.assertIn(word, text)


if __name__ == "__main__":
    unittest.main()
