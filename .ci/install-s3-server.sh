#!/usr/bin/env bash
# OpenStack Swift (one node) with its s3api middleware, for the S3 target tests. The tests
# build their own rings (swift-ring-builder) and start swift-proxy/-object/-container/-account
# and memcached on 127.0.0.1 high ports with temp configs (test/servers/swift.ts); Debian's
# own swift and memcached services must never start (policy-rc.d from apt-setup.sh).
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=apt-setup.sh
. ./apt-setup.sh
apt-get install -y -qq --no-install-recommends \
  swift swift-proxy swift-object swift-container swift-account python3-swift memcached
