#!/usr/bin/env bash
# rsync for the rsync target's tests (the suite starts its own `rsync --daemon --no-detach`
# on 127.0.0.1 with a high port and a temp config; Debian's rsync service must never start:
# policy-rc.d from apt-setup.sh), and lsyncd for the benchmarks that compare against it.
# rsync over SSH also needs the OpenSSH server from install-ssh-server.sh.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=apt-setup.sh
. ./apt-setup.sh
apt-get install -y -qq --no-install-recommends rsync lsyncd
