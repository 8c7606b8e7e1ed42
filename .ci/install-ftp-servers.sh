#!/usr/bin/env bash
# FTP test servers for test/conformance/ftp.test.ts and test/targets/ftp.test.ts.
#   - vsftpd from apt (it needs a system user: the test helper creates `sitest` when missing).
#   - pure-ftpd conflicts with vsftpd in dpkg (both provide ftp-server), so it is not installed
#     as a package: `apt-get download` + `dpkg -x` unpacks it under /opt/sync-inotify-test/pure-ftpd
#     and its runtime libraries are installed from apt. Its binaries never run as a service.
#   - openssl (the tests generate a CA and a server certificate), lftp (manual checks).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=apt-setup.sh
. "$here/apt-setup.sh"

apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends vsftpd openssl lftp ca-certificates passwd

# pure-ftpd's runtime libraries (Debian 12: libc, libcap2, libcrypt1, libssl3, libsodium23,
# libmariadb3/libpq5 are only needed by the -mysql/-postgresql flavours, not by plain pure-ftpd).
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends libcap2 libcrypt1 libssl3 libsodium23

dest=/opt/sync-inotify-test/pure-ftpd
if [ ! -x "$dest/usr/sbin/pure-ftpd" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  chown _apt "$work" 2>/dev/null || true  # apt-get download runs as _apt when it can
  (cd "$work" && apt-get download -qq pure-ftpd pure-ftpd-common)
  mkdir -p "$dest"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$dest"; done
fi
# Fail here, with the missing library named, rather than later in the tests.
if ldd "$dest/usr/sbin/pure-ftpd" | grep -q 'not found'; then
  ldd "$dest/usr/sbin/pure-ftpd" | grep 'not found' >&2
  echo "pure-ftpd: runtime libraries missing" >&2
  exit 1
fi
"$dest/usr/sbin/pure-ftpd" --help >/dev/null 2>&1 || true
echo "vsftpd: $(command -v vsftpd); pure-ftpd: $dest/usr/sbin/pure-ftpd"
