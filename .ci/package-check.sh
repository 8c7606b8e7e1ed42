#!/usr/bin/env bash
# Proves the package installs and runs as users get it (README, "Install"): `npm pack` (which
# builds dist/ through `prepack`), a global install of the tarball into a scratch prefix with
# the native addons' install scripts allowed, then `--version` and a one-file `once` to a local
# folder from the installed copy, and the same through `npx` from the tarball. Run from
# .ci/run on every CI run; takes a few minutes (the native addons compile twice).
set -euo pipefail
cd "$(dirname "$0")/.."
node=${NODE:-node}
scratch=$(mktemp -d /tmp/sync-inotify-package.XXXXXX)
npx_before=$(ls "$HOME/.npm/_npx" 2>/dev/null || true)
cleanup() {
  rm -rf "$scratch"
  # npx keeps what it installed under ~/.npm/_npx/<hash>: remove what this check added.
  for d in $(ls "$HOME/.npm/_npx" 2>/dev/null || true); do
    grep -qxF "$d" <<<"$npx_before" || rm -rf "$HOME/.npm/_npx/$d"
  done
}
trap cleanup EXIT
fail() { echo "package-check: $*" >&2; exit 1; }

# The install scripts that must run: the native addons (better-sqlite3, nsfw, ssh2's crypto
# binding) and our own, which builds the inotify binding (native/build.mjs). The README's
# install line names the same list. (npm matches the list against registry names, so for a
# tarball it still warns about sync-inotify's script, and runs it.)
allow=better-sqlite3,nsfw,ssh2,sync-inotify
version=$("$node" -p "require('./package.json').version")

echo "-- npm pack"
npm pack --pack-destination "$scratch" --silent >/dev/null
tarball=$(ls "$scratch"/sync-inotify-*.tgz)
contents=$(tar -tzf "$tarball")
for want in package/bin/sync-inotify.js package/bin/bundle-loader.js package/dist/sync-inotify.cjs package/dist/sync-inotify.cjs.cache \
  package/deploy/sync-inotify@.service package/README.md package/LICENSE package/CHANGELOG.md \
  package/binding.gyp package/native/inotify.cc package/native/build.mjs; do
  grep -qxF "$want" <<<"$contents" || fail "$want is missing from the tarball"
done
if grep -qE '^package/(src|test|bench|demo|\.ci)/' <<<"$contents"; then
  fail "the tarball ships sources or tests: $(grep -E '^package/(src|test|bench|demo|\.ci)/' <<<"$contents" | head -3 | tr '\n' ' ')"
fi

# npx installs the tarball into its own cache, compiling the native addons again: started now,
# beside the global install, so the two compiles share the two cores.
npx_run() { npx --yes --allow-scripts="$allow" --loglevel=error --package "$tarball" -- sync-inotify "$@"; }
(cd "$scratch" && npx_run --version >"$scratch/npx-version.out" 2>"$scratch/npx-version.err"; echo $? >"$scratch/npx-version.rc") &
npx_pid=$!

echo "-- npm install -g --prefix (scratch) the tarball"
npm install -g --prefix "$scratch/prefix" --allow-scripts="$allow" --no-audit --no-fund --loglevel=error "$tarball"
installed="$scratch/prefix/lib/node_modules/sync-inotify"
[ ! -e "$installed/node_modules/tsx" ] || fail "tsx was installed with the package (it is a build tool: devDependencies)"
[ ! -e "$installed/node_modules/esbuild" ] || fail "esbuild was installed with the package (devDependencies)"
# The install script built the inotify binding, for this Node, and the daemon would use it.
[ -f "$installed/build/Release/sync_inotify.node" ] || fail "the inotify binding was not built by the install script (native/build.mjs)"
"$node" -e "const b = require(process.argv[1]); if (typeof b.Inotify !== 'function') process.exit(1)" "$installed/build/Release/sync_inotify.node" \
  || fail "the inotify binding built at install does not load"

# One file to a local folder, from outside the checkout, so nothing resolves from its node_modules.
check_once() { # <label> <command...>
  local label=$1; shift
  local src="$scratch/$label-src" dst="$scratch/$label-dst"
  mkdir -p "$src/sub"
  printf 'from the %s copy\n' "$label" >"$src/sub/hello.txt"
  (cd "$scratch" && "$@" once "$src" "$dst" --state "$scratch/$label.db") || fail "$label: once failed"
  cmp -s "$src/sub/hello.txt" "$dst/sub/hello.txt" || fail "$label: the file did not arrive in $dst"
}

echo "-- installed: --version, once"
got=$(cd "$scratch" && "$scratch/prefix/bin/sync-inotify" --version)
[ "$got" = "$version" ] || fail "installed --version printed '$got', expected '$version'"
check_once installed "$scratch/prefix/bin/sync-inotify"

echo "-- npx from the tarball: --version, once"
wait "$npx_pid" || true
[ "$(cat "$scratch/npx-version.rc")" = 0 ] || fail "npx from the tarball failed: $(cat "$scratch/npx-version.err")"
got=$(cat "$scratch/npx-version.out")
[ "$got" = "$version" ] || fail "npx --version printed '$got', expected '$version'"
check_once npx npx_run

echo "package-check: the packed tarball installs and runs (version $version)"
