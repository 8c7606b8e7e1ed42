#!/usr/bin/env bash
# Installs everything the benchmarks need on a fresh Debian machine, from Debian packages:
# the peers (lftp, rclone, rsync, lsyncd, inotify-tools), OpenSSH for SFTP and rsync over ssh,
# and the FTP servers (vsftpd, pure-ftpd unpacked) via the CI install scripts. Run as root.
# The servers are never started as services (policy-rc.d from .ci/apt-setup.sh); the
# benchmarks start their own on 127.0.0.1 high ports.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
if [ "$(id -u)" != 0 ]; then
  echo "bench/install.sh: run as root (apt-get install)" >&2
  exit 2
fi
# shellcheck source=../.ci/apt-setup.sh
. "$root/.ci/apt-setup.sh"

apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
  lftp rclone rsync lsyncd inotify-tools procps coreutils findutils \
  openssh-server openssh-client openssh-sftp-server

# sshd, its privilege-separation dir; the FTP servers (vsftpd + pure-ftpd under /opt).
bash "$root/.ci/install-ssh-server.sh"
if [ -e "$root/.ci/install-ftp-servers.sh" ]; then
  bash "$root/.ci/install-ftp-servers.sh"
fi

# Node dependencies (tsx runs the benchmarks from source).
if [ ! -d "$root/node_modules/tsx" ]; then
  (cd "$root" && npm ci --no-audit --no-fund)
fi

for tool in lftp rclone rsync lsyncd inotifywait ssh /usr/sbin/sshd; do
  command -v "$tool" >/dev/null || { echo "bench/install.sh: $tool still missing" >&2; exit 1; }
done
echo "bench/install.sh: tools ready"
