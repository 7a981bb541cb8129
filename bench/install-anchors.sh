#!/bin/bash
# Installs the tools inowatch is compared with, and what the benchmark needs:
#   Debian: inotify-tools (inotifywait), fswatch, python3-pyinotify,
#           python3-watchdog, gnuplot-nox (plots), linux-source-6.1 (W1 tree)
#   npm:    chokidar and @parcel/watcher, into bench/node_modules
# Needs root for apt-get. Anything that fails to install is reported and
# skipped; `bench/run` then leaves that tool out and says so.
# Usage: bench/install-anchors.sh [--no-apt] [--no-npm]
set -u
here=$(cd "$(dirname "$0")" && pwd)
apt=1 npm=1
for a in "$@"; do
    case $a in
    --no-apt) apt=0 ;;
    --no-npm) npm=0 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install-anchors.sh: unknown option $a" >&2; exit 2 ;;
    esac
done

status=0
if [ $apt = 1 ]; then
    pkgs=(inotify-tools fswatch python3-pyinotify python3-watchdog gnuplot-nox linux-source-6.1 xz-utils)
    [ $npm = 1 ] && ! command -v npm >/dev/null && pkgs+=(nodejs npm)
    missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || status=1
        # One at a time, so that one unavailable package does not stop the rest.
        for p in "${missing[@]}"; do
            apt-get install -y -qq --no-install-recommends "$p" >/dev/null || {
                echo "install-anchors.sh: could not install $p" >&2
                status=1
            }
        done
    fi
fi

if [ $npm = 1 ]; then
    if ! command -v npm >/dev/null; then
        echo "install-anchors.sh: npm is not installed (apt-get install npm); skipping chokidar and @parcel/watcher" >&2
        status=1
    elif [ ! -d "$here/node_modules/chokidar" ] || [ ! -d "$here/node_modules/@parcel/watcher" ]; then
        # chokidar 5 needs node >= 20.19; 4 has the same API for older ones.
        chokidar=chokidar
        node -e 'const [a, b] = process.versions.node.split(".").map(Number);
                 process.exit(a > 20 || (a == 20 && b >= 19) ? 0 : 1)' || chokidar=chokidar@4
        echo "npm install $chokidar @parcel/watcher (into $here/node_modules)"
        # --prefix keeps everything under bench/; --no-save leaves no package.json behind.
        (cd "$here" && npm install --prefix "$here" --no-save --no-audit --no-fund \
            --loglevel=error "$chokidar" @parcel/watcher) || status=1
        rm -f "$here/package-lock.json"
    fi
fi

# What is there now.
for t in inotifywait fswatch gnuplot node; do
    printf '%-12s %s\n' "$t" "$(command -v $t || echo missing)"
done
for m in pyinotify watchdog; do
    printf '%-12s %s\n' "$m" "$(/usr/bin/python3 -c "import $m; print($m.__file__)" 2>/dev/null || echo missing)"
done
for m in chokidar @parcel/watcher; do
    printf '%-12s %s\n' "$m" "$([ -d "$here/node_modules/$m" ] && echo "$here/node_modules/$m" || echo missing)"
done
ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || echo "linux-source-6.1: missing (W1 falls back to a generated tree)"
exit $status
