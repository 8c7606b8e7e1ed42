#!/usr/bin/env bash
# WebDAV test servers for test/conformance/webdav.test.ts and test/e2e/webdav-mirror.test.ts.
# The tests start their own copies on 127.0.0.1 high ports with generated configs; Debian's
# services never start (policy-rc.d from apt-setup.sh), and ports 80/443 are never touched.
#   - apache2: `apache2 -X -f CONF` with mod_dav_fs (strict: parents must exist).
#   - nginx + libnginx-mod-http-dav-ext: the dav module (PUT, MKCOL, MOVE, DELETE) plus
#     PROPFIND from dav_ext; `nginx -c CONF` with its own prefix.
#   - rclone: `rclone serve webdav` over a local folder.
#   - openssl: the tests generate a CA and a server certificate for the HTTPS cases.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=apt-setup.sh
. "$here/apt-setup.sh"

apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
  apache2 nginx libnginx-mod-http-dav-ext rclone openssl ca-certificates

# Fail here, naming what is missing, rather than later in the tests.
test -x /usr/sbin/apache2 || { echo "apache2 missing" >&2; exit 1; }
test -e /usr/lib/apache2/modules/mod_dav_fs.so || { echo "mod_dav_fs missing" >&2; exit 1; }
test -x /usr/sbin/nginx || { echo "nginx missing" >&2; exit 1; }
test -e /usr/lib/nginx/modules/ngx_http_dav_ext_module.so || { echo "nginx dav_ext module missing" >&2; exit 1; }
command -v rclone >/dev/null || { echo "rclone missing" >&2; exit 1; }
echo "apache2: $(/usr/sbin/apache2 -v | head -1); nginx: $(/usr/sbin/nginx -v 2>&1); rclone: $(rclone version | head -1)"
