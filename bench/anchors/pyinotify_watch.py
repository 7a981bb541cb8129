#!/usr/bin/python3
"""Recursive watch with pyinotify, printing each event: "MASKNAME<TAB>path".

usage: pyinotify_watch.py DIR    (prints "ready" once the watches are in place)
Watches the same kinds as inowatch; new directories are followed (auto_add)."""
import signal
import sys

import pyinotify

root = sys.argv[1]
out = sys.stdout


class Printer(pyinotify.ProcessEvent):
    def process_default(self, event):
        out.write("%s\t%s\n" % (event.maskname, event.pathname))

    def process_IN_Q_OVERFLOW(self, event):
        out.write("overflow\n")
        out.flush()


def stop(signum, frame):
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, stop)
mask = (pyinotify.IN_CREATE | pyinotify.IN_DELETE | pyinotify.IN_MOVED_FROM |
        pyinotify.IN_MOVED_TO | pyinotify.IN_DELETE_SELF | pyinotify.IN_MOVE_SELF |
        pyinotify.IN_ATTRIB | pyinotify.IN_MODIFY)
wm = pyinotify.WatchManager()
notifier = pyinotify.Notifier(wm, Printer())
wm.add_watch(root, mask, rec=True, auto_add=True)
out.write("ready\n")
out.flush()
try:
    notifier.loop()  # returns on KeyboardInterrupt
except KeyboardInterrupt:
    pass
out.flush()
