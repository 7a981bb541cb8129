#!/usr/bin/python3
"""Recursive watch with watchdog (its inotify observer), printing each event:
"event_type<TAB>src_path[<TAB>dest_path]".

usage: watchdog_watch.py DIR    (prints "ready" once observer.start() returned:
the inotify emitter adds its watches in start(), before its thread runs)"""
import signal
import sys
import threading

from watchdog.events import FileSystemEventHandler
from watchdog.observers.inotify import InotifyObserver

root = sys.argv[1]
out = sys.stdout
lock = threading.Lock()


class Printer(FileSystemEventHandler):
    def on_any_event(self, event):
        dest = getattr(event, "dest_path", None)
        with lock:
            if dest:
                out.write("%s\t%s\t%s\n" % (event.event_type, event.src_path, dest))
            else:
                out.write("%s\t%s\n" % (event.event_type, event.src_path))


done = threading.Event()
signal.signal(signal.SIGTERM, lambda s, f: done.set())
observer = InotifyObserver()
observer.schedule(Printer(), root, recursive=True)
observer.start()
with lock:
    out.write("ready\n")
    out.flush()
while not done.wait(1):
    pass
observer.stop()
observer.join()
with lock:
    out.flush()
