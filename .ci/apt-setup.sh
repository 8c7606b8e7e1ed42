# Sourced by the .ci/install-*.sh scripts: one apt-get update per CI run, and Debian must not
# start its own copies of the servers (the tests start theirs on loopback high ports).
if [ ! -e /usr/sbin/policy-rc.d ] || ! grep -q sync-inotify /usr/sbin/policy-rc.d; then
  printf '#!/bin/sh\n# sync-inotify CI: never start services from package installs\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi
if [ ! -e /tmp/.sync-inotify-apt-updated ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  touch /tmp/.sync-inotify-apt-updated
fi
export DEBIAN_FRONTEND=noninteractive
