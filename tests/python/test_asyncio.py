"""asyncio without threads: async for over a Watcher receives the events of
files created by another task of the same loop; and a program that never
awaits does not pay for importing asyncio."""

import asyncio
import os
import subprocess
import sys
import threading
import unittest

from pyhelpers import TempDirTestCase, inowatch


class AsyncWatcher(TempDirTestCase):

    def test_async_for_sees_files_made_by_a_task(self):
        root = self.mkroot()
        names = ["f%03d" % i for i in range(50)]

        async def writer():
            for i, name in enumerate(names):
                with open(os.path.join(root, name), "w") as f:
                    f.write("x")
                if i % 10 == 9:
                    await asyncio.sleep(0.01)  # let the reader run between bursts

        async def main():
            with inowatch.Watcher(root) as w:
                task = asyncio.create_task(writer())
                seen = []
                batches = 0
                async for batch in w:
                    batches += 1
                    seen += [os.path.basename(e.path) for e in batch if e.kind == "create"]
                    if len(seen) >= len(names):
                        break
                await task
                return seen, batches, threading.active_count()

        seen, batches, threads = asyncio.run(asyncio.wait_for(main(), 30))
        self.assertEqual(seen, names)
        self.assertGreaterEqual(batches, 1)
        self.assertEqual(threads, 1, "no helper thread")

    def test_aread_can_be_cancelled(self):
        root = self.mkroot()

        async def main():
            with inowatch.Watcher(root) as w:
                with self.assertRaises(asyncio.TimeoutError):
                    await asyncio.wait_for(w.aread(), 0.1)
                # Cancelled cleanly: the fd is not left registered, reading works.
                open(os.path.join(root, "x"), "w").close()
                batch = await asyncio.wait_for(w.aread(), 10)
                return [(e.kind, e.path) for e in batch]

        self.assertEqual(asyncio.run(main()), [("create", os.path.join(root, "x"))])

    def test_close_ends_async_for(self):
        root = self.mkroot()

        async def main():
            w = inowatch.Watcher(root)
            asyncio.get_running_loop().call_later(0.1, w.close)
            return [b async for b in w.aiter()]

        self.assertEqual(asyncio.run(asyncio.wait_for(main(), 10)), [])

    def test_async_rename_and_delete(self):
        root = self.mkroot()

        async def main():
            with inowatch.Watcher(root, latency=0) as w:
                os.makedirs(os.path.join(root, "a", "b"))
                os.rename(os.path.join(root, "a"), os.path.join(root, "z"))
                os.rmdir(os.path.join(root, "z", "b"))
                got = []
                async for batch in w:
                    got += [(e.kind, e.path) for e in batch]
                    if ("rename", os.path.join(root, "z")) in got:
                        return got

        got = asyncio.run(asyncio.wait_for(main(), 10))
        # z/b may have been created and removed before the watcher saw it.
        self.assertEqual(got[:2], [("create", os.path.join(root, "a")),
                                   ("rename", os.path.join(root, "z"))])


class ImportCost(unittest.TestCase):

    def test_import_does_not_load_asyncio(self):
        # asyncio is 30 ms of a program's start-up: only aread() needs it.
        code = ("import sys, inowatch\n"
                "w = inowatch.Watcher(sys.argv[1])\n"
                "w.close()\n"
                "print('asyncio' in sys.modules)\n")
        here = os.path.dirname(os.path.abspath(inowatch.__file__))
        env = dict(os.environ, PYTHONPATH=os.path.dirname(here))
        out = subprocess.run([sys.executable, "-c", code, os.getcwd()], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "False")


if __name__ == "__main__":
    unittest.main()
