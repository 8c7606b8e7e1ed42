#!/usr/bin/env bash
# OpenSSH server + client for the SFTP (and rsync-over-ssh) target tests. The tests start their
# own sshd (/usr/sbin/sshd -D -f <temp config>) on 127.0.0.1 with a high port; Debian's own
# sshd service must never start (policy-rc.d from apt-setup.sh), and port 22 is never touched.
# The password-login test creates the system user `sitest-ssh` itself (useradd + chpasswd)
# when it runs as root, so nothing user-related is set up here.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=apt-setup.sh
. ./apt-setup.sh
apt-get install -y -qq --no-install-recommends openssh-server openssh-client openssh-sftp-server rsync passwd
# sshd refuses to start without its privilege-separation directory (normally made by systemd).
mkdir -p /run/sshd
chmod 0755 /run/sshd
