#!/usr/bin/env bash
# The main job behind `make demo`: the synthetic recipe, from nothing to a score table.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x recipes/synth/run.sh ]; then
  exec bash recipes/synth/run.sh "$@"
fi
echo "recipes/synth/run.sh is missing" >&2
exit 1
