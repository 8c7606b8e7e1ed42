#!/usr/bin/env bash
# zsh, for the test of `sync-inotify completion zsh` (the script must parse and load in zsh).
set -euo pipefail
source "$(dirname "$0")/apt-setup.sh"
command -v zsh >/dev/null || apt-get install -y -qq --no-install-recommends zsh
