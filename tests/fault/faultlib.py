"""Shared harness of the fault-injection tests.

Runs `inowatch watch --json` with the fault shim preloaded (shim.c: the
INOWATCH_FAULT rules say which libc call fails, when, and with which
errno), collects its output, and checks what every failure path must
give: no crash (no death by a signal, no sanitizer or valgrind report), no
hang (every run is bounded and killed), the documented exit status, and
one clear line on stderr.

Environment: INOWATCH (the binary), INOWATCH_SHIM (the shim module),
INOWATCH_ASAN (optional: a second binary, built with
-DINOWATCH_SANITIZE=ON, to run every case against as well),
INOWATCH_TIMEOUT_SCALE (multiplies every timeout).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCALE = float(os.environ.get("INOWATCH_TIMEOUT_SCALE", "1") or 1)
# Longest a run may take to reach the point a test waits for, or to exit.
WAIT = 5.0 * SCALE
# Exit statuses that mean a checker, not inowatch, ended the process.
ASAN_EXIT = 86
UBSAN_EXIT = 87
VALGRIND_EXIT = 99
SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                              r"SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)")


def binary():
    path = os.environ.get("INOWATCH") or os.path.join(HERE, "..", "..", "build", "inowatch")
    return os.path.abspath(path)


def shim():
    path = os.environ.get("INOWATCH_SHIM") or os.path.join(HERE, "..", "..", "build", "tests",
                                                           "fault", "fault_shim.so")
    return os.path.abspath(path)


_sanitized = {}


def is_sanitized(path):
    """True when the binary was built with AddressSanitizer."""
    if path not in _sanitized:
        try:
            with open(path, "rb") as f:
                _sanitized[path] = b"__asan_init" in f.read()
        except OSError:
            _sanitized[path] = False
    return _sanitized[path]


def sanitizer_env(env):
    """The shim is preloaded ahead of the ASan runtime: tell ASan that this
    is meant, and give sanitizer failures exit statuses of their own."""
    asan = "verify_asan_link_order=0:exitcode=%d:detect_leaks=1" % ASAN_EXIT
    ubsan = "exitcode=%d:print_stacktrace=1:halt_on_error=1" % UBSAN_EXIT
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS"), asan) if x)
    env["UBSAN_OPTIONS"] = ":".join(x for x in (env.get("UBSAN_OPTIONS"), ubsan) if x)


def valgrind_path():
    return shutil.which("valgrind")


class Run:
    """One `inowatch watch --json ROOT...` under a fault rule. stdout is
    parsed line by line as it comes (each line must be JSON), stderr kept
    whole."""

    def __init__(self, case, roots, fault, binary_path, wrapper=(), extra_args=(), cwd=None):
        self.case = case
        self.log_path = os.path.join(case.tmp, "fault-%d.log" % id(self))
        env = dict(os.environ)
        env["LD_PRELOAD"] = shim()
        env["INOWATCH_FAULT"] = fault
        env["INOWATCH_FAULT_LOG"] = self.log_path
        if is_sanitized(binary_path):
            sanitizer_env(env)
        self.fault = fault
        self.argv = list(wrapper) + [binary_path, "watch", "--json"] + list(extra_args) + list(roots)
        self.lines = []
        self.events = []
        self.bad_lines = []
        self.cond = threading.Condition()
        self.stderr_chunks = []
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd,
                                     start_new_session=True)
        self.readers = [threading.Thread(target=self._read_out, daemon=True),
                        threading.Thread(target=self._read_err, daemon=True)]
        for t in self.readers:
            t.start()
        self.returncode = None
        self.hung = False

    def _read_out(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    self.bad_lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _read_err(self):
        for raw in self.proc.stderr:
            self.stderr_chunks.append(raw)

    def wait_for(self, pred, timeout=None):
        """Waits until pred(events) holds or the process has exited and its
        output is read; returns whether pred held."""
        timeout = self.case.wait if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if pred(self.events):
                    return True
                if self.proc.poll() is not None and not self.readers[0].is_alive():
                    return pred(self.events)
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))

    def wait_ready(self):
        return self.wait_for(lambda evs: any(e.get("event") == "ready" for e in evs))

    def wait_path(self, kind, path, timeout=None):
        return self.wait_for(lambda evs: any(e.get("event") == kind and e.get("path") == path
                                             for e in evs), timeout)

    def finish(self, expect_exit, timeout=None):
        """Ends the run: when expect_exit, waits for the process to exit by
        itself (a hang if it does not); else sends SIGTERM. A process still
        there after that is killed and the run marked hung."""
        timeout = self.case.wait if timeout is None else timeout
        try:
            self.proc.wait(timeout=timeout if expect_exit else 0.01)
        except subprocess.TimeoutExpired:
            if expect_exit:
                self.hung = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.hung = True
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for t in self.readers:
            t.join(timeout)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.returncode = self.proc.returncode
        return self.returncode

    @property
    def stderr(self):
        return b"".join(self.stderr_chunks).decode("utf-8", "replace")

    def stderr_lines(self):
        return [l for l in self.stderr.splitlines() if l.strip()]

    def fault_log(self):
        try:
            with open(self.log_path) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def faults_fired(self, fn=None):
        return [l for l in self.fault_log()
                if l.startswith("fault ") and (fn is None or l.split()[1] == fn)]

    def calls(self, fn):
        """Calls the rules on fn counted, from the log written at a normal
        exit (None when the process did not exit normally)."""
        for l in self.fault_log():
            p = l.split()
            if p[0] == "calls" and p[1] == fn:
                return int(p[2])
        return None

    def describe(self):
        out = ["command: INOWATCH_FAULT=%r %s" % (self.fault, " ".join(self.argv)),
               "exit status: %r%s" % (self.returncode, " (hung: killed)" if self.hung else ""),
               "stdout:"]
        out += ["  " + l for l in self.lines[-40:]]
        out.append("stderr:")
        out += ["  " + l for l in self.stderr.splitlines()[-40:]]
        out.append("fault log:")
        out += ["  " + l for l in self.fault_log()[-20:]]
        return "\n".join(out)


def errors(events, path=None):
    return [e for e in events if e.get("event") == "error" and (path is None or e.get("path") == path)]


class FaultTestCase(unittest.TestCase):
    """A temporary directory, and runs of the binary under test."""

    #: the binary every case runs; a subclass may run another one.
    binary_path = None
    #: a command prefix (valgrind) for every run.
    wrapper = ()
    #: how long a run may take to get where a test waits for it.
    wait = WAIT

    def setUp(self):
        if not os.path.exists(shim()):
            self.skipTest("the fault shim is not built: %s" % shim())
        self.binary = self.binary_path or binary()
        self.tmp = tempfile.mkdtemp(prefix="iwfault-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.runs = []

    def tearDown(self):
        for r in self.runs:
            if r.proc.poll() is None:
                os.killpg(r.proc.pid, signal.SIGKILL)
                r.proc.wait()

    def start(self, roots, fault, **kw):
        r = Run(self, roots, fault, self.binary, wrapper=self.wrapper, **kw)
        self.runs.append(r)
        return r

    def mktree(self, spec, base=None):
        """Makes a tree from {"a/": None, "a/f": "text"}: names ending in
        '/' are directories. Returns the root."""
        root = base or os.path.join(self.tmp, "root")
        os.makedirs(root, exist_ok=True)
        for name in sorted(spec):
            p = os.path.join(root, name)
            if name.endswith("/"):
                os.makedirs(p, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w") as f:
                    f.write(spec[name] or "")
        return root

    # ---- what every run must give ----------------------------------------

    def assert_no_crash(self, run):
        """Not killed by a signal, not hung, no sanitizer report."""
        self.assertFalse(run.hung, "the watcher hung (killed after %.0f s)\n%s" % (self.wait, run.describe()))
        self.assertGreaterEqual(run.returncode, 0,
                                "the watcher died of signal %d\n%s" % (-run.returncode, run.describe()))
        self.assertNotIn(run.returncode, (ASAN_EXIT, UBSAN_EXIT),
                         "a sanitizer stopped the watcher\n%s" % run.describe())
        self.assertIsNone(SANITIZER_REPORT.search(run.stderr),
                          "a sanitizer reported an error\n%s" % run.describe())
        self.assertEqual(run.bad_lines, [], "stdout lines that are not JSON\n%s" % run.describe())

    def assert_exit(self, run, status, message_re=None):
        """Exited by itself with `status`, saying one line on stderr that
        starts with 'inowatch: ' and matches message_re."""
        self.assert_no_crash(run)
        self.assertEqual(run.returncode, status, "exit status\n%s" % run.describe())
        lines = [l for l in run.stderr_lines() if not l.startswith("==")]  # valgrind's own
        self.assertEqual(len(lines), 1, "one line on stderr\n%s" % run.describe())
        self.assertTrue(lines[0].startswith("inowatch: "), "stderr line: %r" % lines[0])
        if message_re:
            self.assertRegex(lines[0], message_re, run.describe())
        return lines[0]

    def assert_went_on(self, run):
        """Still running: SIGTERM ends it with status 0 and a silent
        stderr."""
        run.finish(expect_exit=False)
        self.assert_no_crash(run)
        self.assertEqual(run.returncode, 0, "exit status after SIGTERM\n%s" % run.describe())
        self.assertEqual([l for l in run.stderr_lines() if not l.startswith("==")], [],
                         "nothing on stderr\n%s" % run.describe())

    def assert_fired(self, run, fn):
        self.assertTrue(run.faults_fired(fn),
                        "the %s fault never fired: the test proves nothing\n%s" % (fn, run.describe()))


def limit_value(name):
    """The value of an inotify limit by the sysctl name the watcher gives."""
    path = "/proc/sys/" + name.replace(".", "/")
    with open(path) as f:
        return int(f.read().strip())
