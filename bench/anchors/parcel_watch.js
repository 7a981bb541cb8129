// Recursive watch with @parcel/watcher, printing each event: "type<TAB>path".
// usage: node parcel_watch.js DIR   (prints "ready" when subscribe() resolved)
const watcher = require("@parcel/watcher");

const root = process.argv[2];
watcher
  .subscribe(root, (err, events) => {
    if (err) process.stdout.write("error\t" + err.message + "\n");
    let s = "";
    for (const e of events) s += e.type + "\t" + e.path + "\n";
    if (s) process.stdout.write(s);
  })
  .then((sub) => {
    process.stdout.write("ready\n");
    process.on("SIGTERM", () => sub.unsubscribe().then(() => process.exit(0)));
  });
