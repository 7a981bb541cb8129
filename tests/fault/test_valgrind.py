"""inowatch under valgrind: no memory error, no leak.

- Scenario: `inowatch watch --json` through a real session (start, new
  directories and files, renames, deletes, a queue overflow forced by
  stopping the watcher with SIGSTOP while more events than the kernel queue
  holds are made, then SIGTERM), under
  `valgrind --error-exitcode=99 --leak-check=full
  --errors-for-leak-kinds=definite,indirect`.
- Unit tests: every tests/unit program ($INOWATCH_UNIT_TESTS, ':'-separated)
  under the same valgrind.
- ValgrindFaultCases: every case of test_faults.py under valgrind
  (--errors-for-leak-kinds=definite), so that each failure exit path is
  checked for leaks too. The malloc cases are skipped there: valgrind
  replaces malloc itself, so the shim's malloc never runs.

Skipped, with the reason, when valgrind is not installed (Debian package:
valgrind) or when the binary is a sanitizer build (ASan and valgrind do
not mix).
"""

import glob
import os
import shutil
import signal
import subprocess
import unittest

import test_faults
from faultlib import (WAIT, FaultTestCase, binary, is_sanitized, valgrind_path)

VALGRIND_EXIT = 99
VALGRIND_BASE = ["--error-exitcode=%d" % VALGRIND_EXIT, "--leak-check=full",
                 "--track-fds=no", "--num-callers=30"]
# Valgrind runs the program some 20-50 times slower.
VALGRIND_WAIT = 4 * WAIT


def skip_reason(path):
    if not valgrind_path():
        return "valgrind is not installed (apt-get install valgrind)"
    if is_sanitized(path):
        return "%s is a sanitizer build: valgrind cannot run it" % path
    return None


class ValgrindMixin:
    """Runs every process under valgrind, its report in a log file of the
    test's temporary directory, and fails on any error it reports."""

    leak_kinds = "definite"

    def setUp(self):
        super().setUp()
        why = skip_reason(self.binary)
        if why:
            self.skipTest(why)
        self.wrapper = [valgrind_path()] + VALGRIND_BASE + [
            "--errors-for-leak-kinds=" + self.leak_kinds,
            "--log-file=" + os.path.join(self.tmp, "valgrind.%p.log")]

    def valgrind_logs(self):
        out = []
        for p in sorted(glob.glob(os.path.join(self.tmp, "valgrind.*.log"))):
            with open(p, errors="replace") as f:
                out.append(f.read())
        return "\n".join(out)

    def assert_no_crash(self, run):
        self.assertIn("Memcheck", self.valgrind_logs(), "the run was not under valgrind")
        self.assertNotEqual(run.returncode, VALGRIND_EXIT,
                            "valgrind found errors\n%s\nvalgrind:\n%s"
                            % (run.describe(), self.valgrind_logs()))
        super().assert_no_crash(run)


class ValgrindFaultCases(ValgrindMixin, test_faults.FaultCases):
    """The failure paths of test_faults.py, under valgrind."""

    wait = VALGRIND_WAIT

    def skip_malloc_faults(self):
        return "valgrind replaces malloc: the shim's malloc faults cannot run under it"


class ValgrindScenario(ValgrindMixin, FaultTestCase):
    """A real session under valgrind, with no fault injected."""

    wait = VALGRIND_WAIT
    leak_kinds = "definite,indirect"

    @staticmethod
    def change_a_subtree(root):
        """A directory made with a subtree, renamed, then changed inside."""
        new = os.path.join(root, "new")
        os.makedirs(os.path.join(new, "x", "y"))
        for p in ("x/y/f1", "x/f2", "g"):
            with open(os.path.join(new, p), "w") as f:
                f.write("data")
        os.rename(new, os.path.join(root, "moved"))
        os.rename(os.path.join(root, "moved", "g"), os.path.join(root, "a", "g"))
        os.unlink(os.path.join(root, "moved", "x", "f2"))
        os.symlink("nowhere", os.path.join(root, "b", "link"))

    def test_session(self):
        root = self.mktree(test_faults.TREE)
        # A rule that never fires: the shim is there, as in every run.
        r = self.start([root], "inotify_init1:nth=1000:EMFILE")
        self.assertTrue(r.wait_ready(), r.describe() + self.valgrind_logs())
        self.change_a_subtree(root)
        os.rmdir(os.path.join(root, "bad", "inner"))
        with open(os.path.join(root, "c", "f.txt"), "a") as f:
            f.write("more")
        mark = os.path.join(root, "c", "mark1")
        open(mark, "w").close()
        self.assertTrue(r.wait_path("create", mark), r.describe())

        if test_faults.queue_limit() <= 100000:
            done = test_faults.FaultCases.overflow_scenario(self, root, r)
            self.assertTrue(r.wait_path("create", done), r.describe())
            self.assertIn("overflow", [e.get("event") for e in r.events],
                          "the queue overflowed while the watcher was stopped")
        # After the rescan: more renames and deletes, whole subtrees.
        os.rename(os.path.join(root, "moved"), os.path.join(root, "b", "moved2"))
        for name in os.listdir(os.path.join(root, "b")):
            p = os.path.join(root, "b", name)
            if name.startswith("f") and not os.path.isdir(p):
                os.unlink(p)
        mark = os.path.join(root, "c", "mark2")
        open(mark, "w").close()
        self.assertTrue(r.wait_path("create", mark), r.describe())

        self.stop_clean(r)

    def stop_clean(self, r):
        """SIGTERM, then: exit status 0 and no error in valgrind's logs."""
        r.finish(expect_exit=False)
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, 0, "exit status after SIGTERM\n%s\n%s"
                         % (r.describe(), self.valgrind_logs()))
        self.assertIn("ERROR SUMMARY: 0 errors", self.valgrind_logs())

    def test_session_fanotify(self):
        """The same kind of session with the fanotify backend: handles,
        marks, directories registered from their create events, renames
        whole, a subtree removed."""
        if os.geteuid() != 0:
            self.skipTest("fanotify needs root")
        root = self.mktree(test_faults.TREE)
        r = self.start([root], "inotify_init1:nth=1000:EMFILE", extra_args=["--backend", "fanotify"])
        self.assertTrue(r.wait_ready(), r.describe() + self.valgrind_logs())
        self.change_a_subtree(root)
        shutil.rmtree(os.path.join(root, "moved"))
        mark = os.path.join(root, "c", "mark1")
        open(mark, "w").close()
        self.assertTrue(r.wait_path("create", mark), r.describe())
        self.stop_clean(r)


class ValgrindUnitTests(unittest.TestCase):
    """The C unit test programs under valgrind."""

    def test_unit_programs(self):
        progs = [p for p in os.environ.get("INOWATCH_UNIT_TESTS", "").split(":") if p]
        if not progs:
            self.skipTest("INOWATCH_UNIT_TESTS names no unit test program")
        why = skip_reason(progs[0])
        if why:
            self.skipTest(why)
        for prog in progs:
            with self.subTest(program=os.path.basename(prog)):
                p = subprocess.run([valgrind_path(), "-q"] + VALGRIND_BASE +
                                   ["--errors-for-leak-kinds=definite,indirect", prog],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=300)
                out = p.stdout.decode(errors="replace")
                self.assertNotEqual(p.returncode, VALGRIND_EXIT,
                                    "valgrind found errors in %s:\n%s" % (prog, out[-6000:]))
                self.assertEqual(p.returncode, 0, "%s failed:\n%s" % (prog, out[-6000:]))


if __name__ == "__main__":
    unittest.main()
