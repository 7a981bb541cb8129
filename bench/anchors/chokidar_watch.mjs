// Recursive watch with chokidar, printing each event: "event<TAB>path".
// usage: node chokidar_watch.mjs DIR   (prints "ready" on chokidar's 'ready')
import { watch } from "chokidar";

const root = process.argv[2];
const w = watch(root, { ignoreInitial: true, persistent: true });
w.on("all", (ev, p) => process.stdout.write(ev + "\t" + p + "\n"));
w.on("error", (e) => process.stdout.write("error\t" + e + "\n"));
w.on("ready", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => w.close().then(() => process.exit(0)));
