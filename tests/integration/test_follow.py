"""`inowatch follow`: tail -F done with events.

Every test runs the real binary on real files and waits on what it prints
(stdout, or a message on stderr) with a generous timeout; nothing sleeps to
let it catch up. Before changing a file whose initial output is empty, a
test waits until the follower holds its watches (fdinfo): the start offset
is computed before the file's watch lands, so from then on every append is
either printed as existing data or reported by an event.

The rotation test pits a free-running writer against a rotator (separate
processes) under a lock file: the writer appends numbered lines to whatever
file has the name, the rotator renames the file away and creates a new one
between two writes, then waits for the follower to say it switched before
the next rotation (a file that nobody opened cannot be followed by name by
anyone). The output must be 1..N, each exactly once, in order: lines that
went into a file after the follower last looked at it are only printed if
the old file is drained before the switch.

INOWATCH_COMPARE_TAIL=1 runs the same rotation test against GNU `tail -F`
and prints what it lost or repeated (it never fails on tail's account).
"""

import os
import signal
import subprocess
import sys
import threading
import time
import unittest

from iwtest import (SCALE, TIMEOUT, WatchTestCase, _die_with_parent, binary,
                    inotify_watch_count, run_cli, run_py, write)


class Follower:
    """One running `inowatch follow` (or another command line), its stdout
    collected as bytes and its stderr as lines, each by a thread."""

    def __init__(self, tc, args, argv=None, stderr=subprocess.PIPE, cwd=None):
        self.tc = tc
        argv = argv or [binary(), "follow"] + list(args)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=stderr, cwd=cwd, preexec_fn=_die_with_parent)
        self.out = bytearray()
        self.err = []
        self.cond = threading.Condition()
        self.eof = False
        self._threads = [threading.Thread(target=self._read_out, daemon=True)]
        if stderr is subprocess.PIPE:
            self._threads.append(threading.Thread(target=self._read_err, daemon=True))
        for t in self._threads:
            t.start()
        tc.addCleanup(self._cleanup)

    def _read_out(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 1 << 16)
            with self.cond:
                if not chunk:
                    self.eof = True
                else:
                    self.out += chunk
                self.cond.notify_all()
            if not chunk:
                return

    def _read_err(self):
        for line in self.proc.stderr:
            with self.cond:
                self.err.append(line.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()

    def _cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in self._threads:
            t.join(5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()

    def describe(self):
        with self.cond:
            out, err = bytes(self.out), list(self.err)
        if len(out) > 1500:
            out = b"..." + out[-1500:]
        return "stdout: %r\nstderr:\n  %s" % (out, "\n  ".join(err) or "(nothing)")

    def _wait(self, pred, what, timeout=None):
        deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
        with self.cond:
            while not pred():
                rem = deadline - time.monotonic()
                if rem <= 0 or (self.eof and self.proc.poll() is not None):
                    raise self.tc.failureException(
                        "%s waiting for %s\n%s" % ("timed out" if rem <= 0 else "exited", what,
                                                  self.describe()))
                self.cond.wait(min(rem, 0.2))

    def wait_out(self, data, timeout=None):
        """Waits until stdout is exactly `data` so far (bytes or str)."""
        data = data.encode() if isinstance(data, str) else data
        self._wait(lambda: len(self.out) >= len(data), "stdout %r" % data[-200:], timeout)
        with self.cond:
            got = bytes(self.out)
        self.tc.assertEqual(got, data, self.describe())

    def wait_out_endswith(self, data, timeout=None):
        data = data.encode() if isinstance(data, str) else data
        self._wait(lambda: bytes(self.out).endswith(data), "stdout ending %r" % data[-200:],
                   timeout)
        with self.cond:
            return bytes(self.out)

    def wait_err(self, text, count=1, timeout=None):
        """Waits until `count` stderr lines contain `text`."""
        self._wait(lambda: sum(text in l for l in self.err) >= count,
                   "stderr %r (x%d)" % (text, count), timeout)

    def wait_err_line(self, line, timeout=None):
        """Waits until a stderr line is exactly `line`."""
        self._wait(lambda: line in self.err, "stderr line %r" % line, timeout)

    def wait_watches(self, n):
        """Waits until the follower holds n inotify watches (it is set up)."""
        self._wait_poll(lambda: (inotify_watch_count(self.proc.pid) or 0) >= n,
                        "%d inotify watches" % n)

    def _wait_poll(self, pred, what):
        deadline = time.monotonic() + TIMEOUT
        while not pred():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise self.tc.failureException("no %s\n%s" % (what, self.describe()))
            time.sleep(0.005)

    def stop(self, sig=signal.SIGTERM, expect=0):
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise self.tc.failureException("did not exit after %s\n%s" % (sig, self.describe()))
        for t in self._threads:
            t.join(TIMEOUT)
        if expect is not None:
            self.tc.assertEqual(rc, expect, self.describe())
        return rc


def lines(a, b):
    """'a\\n...b\\n' for the numbers a..b."""
    return "".join("%d\n" % i for i in range(a, b + 1))


class FollowTestCase(WatchTestCase):
    def follow(self, *args, **kw):
        return Follower(self, [os.fspath(a) for a in args], **kw)

    def append(self, path, data):
        write(path, data, mode="ab")


class TestStart(FollowTestCase):
    def test_default_last_ten_lines_then_appends(self):
        f = self.path("log")
        write(f, lines(1, 30))
        w = self.follow(f)
        w.wait_out(lines(21, 30))
        self.append(f, "31\n32\n")
        w.wait_out(lines(21, 32))
        self.append(f, "no newline yet")
        w.wait_out(lines(21, 32) + "no newline yet")
        w.stop()
        self.assertEqual(w.err, [])

    def test_last_n_lines_of_a_big_file(self):
        # Far more than one block from the end, so the backwards reader
        # crosses block boundaries.
        f = self.path("big")
        write(f, lines(1, 200000))
        w = self.follow("-n", "25000", f)
        w.wait_out(lines(175001, 200000))
        w.stop()

    def test_last_line_without_newline_counts(self):
        f = self.path("f")
        write(f, "a\nb\nc")
        w = self.follow("-n", "2", f)
        w.wait_out("b\nc")
        w.stop()

    def test_n_zero_prints_only_what_comes(self):
        f = self.path("f")
        write(f, lines(1, 5))
        w = self.follow("-n", "0", f)
        w.wait_watches(2)
        self.append(f, "new\n")
        w.wait_out("new\n")
        w.stop()

    def test_from_line_k_and_bytes(self):
        f = self.path("f")
        write(f, lines(1, 30))
        w = self.follow("-n", "+28", f)
        w.wait_out(lines(28, 30))
        w.stop()
        w = self.follow("-c", "3", f)
        w.wait_out("30\n")
        w.stop()
        w = self.follow("--bytes", "+4", f)
        w.wait_out(lines(1, 30)[3:])
        w.stop()

    def test_usage_errors_exit_2_with_one_line(self):
        f = self.path("f")
        write(f, "x\n")
        for args in (["-n", "ten", f], ["-n", "-3", f], ["-c"], [], ["--bogus", f], [self.tmp]):
            p = run_cli(self, ["follow"] + args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertEqual(len(p.stderr.splitlines()), 1, (args, p.stderr))
            self.assertTrue(p.stderr.startswith(b"inowatch: follow: "), p.stderr)
            self.assertEqual(p.stdout, b"")

    def test_usage_errors_name_the_option_as_written(self):
        f = self.path("f")
        write(f, "x\n")
        try_ = "(try 'inowatch follow --help')"
        for args, line in (
                (["--lines"], "option '--lines' needs a value " + try_),
                (["-n"], "option '-n' needs a value " + try_),
                ([f, "--bytes"], "option '--bytes' needs a value " + try_),
                ([f, "-c"], "option '-c' needs a value " + try_),
                (["--help=1"], "option '--help' takes no value " + try_),
                (["--bogus=1", f], "unknown option '--bogus' " + try_),
                (["-q", f], "unknown option '-q' " + try_),
                (["-n", "ten", f],
                 "-n 'ten': expected a number of lines, or +N to start at the Nth"),
                ([f, "--bytes=x"],
                 "--bytes 'x': expected a number of bytes, or +N to start at the Nth")):
            with self.subTest(args=args):
                p = run_cli(self, ["follow"] + args)
                self.assertEqual((p.returncode, p.stderr.decode()),
                                 (2, "inowatch: follow: %s\n" % line))
                self.assertEqual(p.stdout, b"")

    def test_options_after_file(self):
        # As with tail and watch, options may follow FILE.
        f = self.path("f")
        write(f, lines(1, 30))
        w = self.follow(f, "-n", "3")
        w.wait_out(lines(28, 30))
        self.append(f, "31\n")
        w.wait_out(lines(28, 31))
        w.stop()
        self.assertEqual(w.err, [])
        w = self.follow(f, "--lines=+29", "--bytes", "3")  # the last one counts
        w.wait_out("31\n")
        w.stop()

    def test_double_dash_ends_options(self):
        # After "--", "-n" is a FILE (in the current directory).
        f = self.path("f")
        write(f, lines(1, 3))
        w = self.follow("-n", "1", "--", "f", "-n", cwd=self.tmp)
        w.wait_err_line("inowatch: follow: -n: does not exist yet; waiting for it")
        w.wait_out("==> f <==\n3\n")
        write(self.path("-n"), "dash\n")
        w.wait_out("==> f <==\n3\n\n==> -n <==\ndash\n")
        w.wait_err_line("inowatch: follow: -n: appeared; following it")
        w.stop()

    def test_help_names_the_stop_signals(self):
        p = run_cli(self, ["follow", "--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"0 after SIGINT/SIGTERM/SIGHUP", p.stdout)
        self.assertIn(b"any order", p.stdout)


class TestReplacement(FollowTestCase):
    def start_with(self, name="log", content="old 1\nold 2\n", *args):
        f = self.path(name)
        write(f, content)
        w = self.follow(*args, f)
        w.wait_out(content)
        return f, w

    def test_rename_over_editor_save(self):
        f, w = self.start_with()
        write(f + ".tmp", "new 1\n")
        os.rename(f + ".tmp", f)
        w.wait_out("old 1\nold 2\nnew 1\n")
        w.wait_err_line("inowatch: follow: %s: replaced; following the new file" % f)
        self.append(f, "new 2\n")
        w.wait_out("old 1\nold 2\nnew 1\nnew 2\n")
        w.stop()

    def test_vim_style_save(self):
        f, w = self.start_with()
        os.rename(f, f + "~")
        write(f, "old 1\nold 2\nedited\n")
        w.wait_out("old 1\nold 2\nold 1\nold 2\nedited\n")
        w.wait_err("replaced; following the new file")
        w.stop()

    def test_logrotate_create(self):
        f, w = self.start_with()
        os.rename(f, f + ".1")
        # The writer has not reopened yet: its line goes to the old file and
        # must still be printed, before the new file's.
        self.append(f + ".1", "late old\n")
        write(f, "")
        self.append(f, "fresh\n")
        w.wait_out("old 1\nold 2\nlate old\nfresh\n")
        w.wait_err("replaced; following the new file")
        w.stop()

    def test_logrotate_copytruncate(self):
        f, w = self.start_with("log", "a long old line 1\na long old line 2\n")
        subprocess.run(["cp", f, f + ".1"], check=True)
        os.truncate(f, 0)
        self.append(f, "after\n")  # shorter than what was there: detectable
        w.wait_out("a long old line 1\na long old line 2\nafter\n")
        w.wait_err_line("inowatch: follow: %s: truncated; following it from its start" % f)
        w.stop()

    def test_truncation_then_appends(self):
        f, w = self.start_with()
        os.truncate(f, 0)
        w.wait_err_line("inowatch: follow: %s: truncated; following it from its start" % f)
        self.append(f, "x\n")
        w.wait_out("old 1\nold 2\nx\n")
        w.stop()

    def test_deleted_then_recreated(self):
        f, w = self.start_with()
        os.unlink(f)
        w.wait_err_line("inowatch: follow: %s: deleted; waiting for it to come back" % f)
        write(f, "back\n")
        w.wait_out("old 1\nold 2\nback\n")
        w.wait_err_line("inowatch: follow: %s: appeared; following it" % f)
        w.stop()

    def test_renamed_away_and_back_is_the_same_file(self):
        f, w = self.start_with()
        os.rename(f, f + ".x")
        w.wait_err_line("inowatch: follow: %s: renamed away; waiting for it to come back" % f)
        os.rename(f + ".x", f)
        w.wait_err_line("inowatch: follow: %s: is back; following it again" % f)
        self.append(f, "more\n")
        w.wait_out("old 1\nold 2\nmore\n")
        w.stop()

    def test_parent_directory_replaced(self):
        d = self.path("d")
        os.mkdir(d)
        f = os.path.join(d, "log")
        write(f, "old\n")
        w = self.follow(f)
        w.wait_out("old\n")
        os.rename(d, d + ".old")
        self.append(os.path.join(d + ".old", "log"), "old late\n")
        os.mkdir(d)
        write(f, "new\n")
        w.wait_out("old\nold late\nnew\n")
        w.wait_err("replaced")
        self.append(f, "new 2\n")
        w.wait_out("old\nold late\nnew\nnew 2\n")
        w.stop()

    def test_parent_directory_deleted_then_made_again_deeper(self):
        d = self.path("a", "b")
        os.makedirs(d)
        f = os.path.join(d, "log")
        write(f, "old\n")
        w = self.follow(f)
        w.wait_out("old\n")
        subprocess.run(["rm", "-rf", self.path("a")], check=True)
        w.wait_err("waiting for it to come back")
        os.makedirs(d)
        write(f, "new\n")
        w.wait_out("old\nnew\n")
        w.stop()

    def test_quick_successive_replacements(self):
        f, w = self.start_with("log", "v0\n")
        for i in range(1, 6):
            write(f + ".tmp", "v%d\n" % i)
            os.rename(f + ".tmp", f)
        out = w.wait_out_endswith("v5\n").decode()
        got = out.split()
        # Intermediate files may be skipped (never opened); none is
        # printed twice and the order holds.
        self.assertEqual(got, sorted(set(got), key=lambda s: int(s[1:])), out)
        w.stop()


class TestSeveralFiles(FollowTestCase):
    def test_headers_when_output_switches(self):
        a, b = self.path("a"), self.path("b")
        write(a, "a1\n")
        write(b, "b1\n")
        w = self.follow(a, b)
        head = "==> %s <==\na1\n\n==> %s <==\nb1\n" % (a, b)
        w.wait_out(head)
        self.append(a, "a2\n")
        w.wait_out(head + "\n==> %s <==\na2\n" % a)
        self.append(a, "a3\n")
        w.wait_out(head + "\n==> %s <==\na2\na3\n" % a)
        w.stop()

    def test_missing_file_appears_later(self):
        a, b = self.path("a"), self.path("sub", "dir", "b")
        write(a, "a1\n")
        w = self.follow(a, b)
        w.wait_err_line("inowatch: follow: %s: does not exist yet; waiting for it" % b)
        w.wait_out("==> %s <==\na1\n" % a)
        os.makedirs(os.path.dirname(b))
        write(b, "b1\n")
        w.wait_out("==> %s <==\na1\n\n==> %s <==\nb1\n" % (a, b))
        w.wait_err_line("inowatch: follow: %s: appeared; following it" % b)
        w.stop()

    def test_single_missing_file(self):
        f = self.path("later")
        w = self.follow(f)
        w.wait_err("does not exist yet")
        write(f, "hello\n")
        w.wait_out("hello\n")
        w.stop()


class TestSignals(FollowTestCase):
    def test_sigterm_sigint_and_sighup_exit_0_with_output_flushed(self):
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            f = self.path("f%d" % sig)
            write(f, "1\n")
            w = self.follow(f)
            w.wait_out("1\n")
            # Written just before the signal: printed before the exit.
            self.append(f, "2\n")
            w.stop(sig, expect=0)
            self.assertEqual(bytes(w.out), b"1\n2\n")
            self.assertEqual(w.err, [])


# The writer: appends lines 1.. to the file named PATH, one write(2) each,
# holding LOCK while it checks that its fd is still the file with the name
# (reopening it if not) and writes. Stops at the first line after STOP
# exists and prints how many lines it wrote.
WRITER = r"""
import fcntl, os, sys
path, lock, stop = sys.argv[1:4]
lk = os.open(lock, os.O_RDWR | os.O_CREAT)
fd = -1; n = 0
while True:
    fcntl.flock(lk, fcntl.LOCK_EX)
    try:
        st = os.stat(path)
        if fd < 0 or os.fstat(fd).st_ino != st.st_ino:
            if fd >= 0: os.close(fd)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        for _ in range(3):
            n += 1
            os.write(fd, b"%d\n" % n)
    finally:
        fcntl.flock(lk, fcntl.LOCK_UN)
    if os.path.exists(stop):
        break
print(n)
"""

# The rotator: ROUNDS times, under LOCK, renames PATH to PATH.1 and creates
# an empty PATH; then reads the follower's stderr (its stdin) until a line
# says it switched, echoing everything to stdout. Creates STOP at the end.
ROTATOR = r"""
import fcntl, os, select, sys
path, lock, stop, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lk = os.open(lock, os.O_RDWR | os.O_CREAT)
buf = b""; missed = 0
def wait_ack():
    global buf
    while True:
        i = buf.find(b"\n")
        if i >= 0:
            line, buf = buf[:i], buf[i + 1:]
            sys.stdout.write(line.decode(errors="replace") + "\n")
            if b"replaced" in line or b"appeared" in line:
                return True
            continue
        r, _, _ = select.select([0], [], [], 10)
        if not r:
            return False
        chunk = os.read(0, 4096)
        if not chunk:
            return False
        buf += chunk
for _ in range(rounds):
    fcntl.flock(lk, fcntl.LOCK_EX)
    os.rename(path, path + ".1")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    fcntl.flock(lk, fcntl.LOCK_UN)
    if not wait_ack():
        missed += 1
open(stop, "w").close()
sys.stdout.write("missed acks: %d\n" % missed)
"""


class TestRotationStress(FollowTestCase):
    ROUNDS = 1000

    def rotate_under_writer(self, argv):
        """Runs argv (a follower of PATH, printing all of it) against the
        writer and the rotator. Returns (output lines, lines written,
        rotator's log)."""
        f, lock, stop = self.path("log"), self.path("lock"), self.path("stop")
        write(f, "")
        r_fd, w_fd = os.pipe()
        follower = Follower(self, None, argv=argv + [f], stderr=w_fd)
        os.close(w_fd)
        # The rotator's log goes to a file: nobody reads a pipe until the end.
        with open(self.path("rotator.log"), "w+") as log:
            rot = subprocess.Popen([sys.executable, "-c", ROTATOR, f, lock, stop,
                                    str(self.ROUNDS)],
                                   stdin=r_fd, stdout=log, preexec_fn=_die_with_parent)
            os.close(r_fd)
            try:
                n = int(run_py(WRITER, f, lock, stop, timeout=300 * SCALE))
                rot.wait(300 * SCALE)
            finally:
                if rot.poll() is None:
                    rot.kill()
                    rot.wait()
            log.seek(0)
            rot_log = log.read()
        # The last line is in the file that has the name: it will come.
        try:
            follower.wait_out_endswith(b"\n%d\n" % n, timeout=30 * SCALE)
        except AssertionError:
            pass  # reported by the comparison below
        follower.stop(expect=None)
        return bytes(follower.out).split(), n, rot_log

    def test_1000_rotations_every_line_once_in_order(self):
        got, n, log = self.rotate_under_writer([binary(), "follow", "-n", "+1"])
        self.assertIn("missed acks: 0", log)
        self.assertEqual(log.count("replaced"), self.ROUNDS, log[-2000:])
        want = [b"%d" % i for i in range(1, n + 1)]
        if got != want:
            extra = len(got) - len(set(got))
            missing = sorted(set(want) - set(got), key=int)[:20]
            self.fail("%d lines written, %d printed; %d repeated; missing (first 20): %s"
                      % (n, len(got), extra, [int(x) for x in missing]))

    @unittest.skipUnless(os.environ.get("INOWATCH_COMPARE_TAIL") == "1",
                         "set INOWATCH_COMPARE_TAIL=1 to compare with GNU tail -F")
    def test_compare_gnu_tail_F(self):
        got, n, log = self.rotate_under_writer(["tail", "-F", "-n", "+1"])
        want = [b"%d" % i for i in range(1, n + 1)]
        wanted = set(want)
        missing = len(wanted - set(got))
        repeated = len(got) - len(set(got))
        disorder = sum(1 for a, b in zip(got, got[1:]) if int(a) > int(b))
        sys.stderr.write("\nGNU tail -F, %d rotations: %d lines written, %d printed, %d missing, "
                         "%d repeated, %d out of order, %s\n"
                         % (self.ROUNDS, n, len(got), missing, repeated, disorder,
                            log.strip().splitlines()[-1]))


if __name__ == "__main__":
    unittest.main()
