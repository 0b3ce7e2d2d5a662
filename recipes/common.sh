#!/usr/bin/env bash
# Shared by every recipe (ESPnet style): option parsing, stage gating, logged commands.
#
# A recipe sets its defaults, then sources this file:
#   stage=1 stop_stage=100 root= force=false  (and any recipe variables)
#   . "$(dirname "$0")/../common.sh" "$@"
# Options: --stage N --stop-stage N --root DIR --force, --<var> VALUE for any variable the recipe
# defines (dashes become underscores), and everything after `--` is passed to every `vxt train`.

set -euo pipefail

extra_train_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; extra_train_args=("$@"); break ;;
    --help|-h)
      sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
      exit 0 ;;
    --*)
      name="${1#--}"; name="${name//-/_}"
      if ! declare -p "$name" >/dev/null 2>&1; then
        echo "$(basename "$0"): unknown option $1" >&2; exit 2
      fi
      if [ $# -lt 2 ]; then echo "$(basename "$0"): $1 needs a value" >&2; exit 2; fi
      printf -v "$name" '%s' "$2"; shift 2 ;;
    *) echo "$(basename "$0"): unexpected argument $1" >&2; exit 2 ;;
  esac
done

VXT=${VXT:-vxt}

# vxt train refuses to replace a trained model unasked: a rerun continues what a killed run left in its
# experiment dir (from scratch when there is nothing to resume); --force true trains it anew
train_rerun=(--resume)
[ "${force:-false}" = "true" ] && train_rerun=(--overwrite)

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# stage N "description": true when stage N is inside [stage, stop_stage]
stage_on() {
  local n=$1; shift
  if [ "$n" -ge "$stage" ] && [ "$n" -le "$stop_stage" ]; then
    log "stage $n: $*"
    return 0
  fi
  return 1
}

# done_or_run OUTPUT CMD...: run CMD (logged) unless OUTPUT exists (and --force is not given)
done_or_run() {
  local output=$1; shift
  if [ -e "$output" ] && [ "$force" != "true" ]; then
    log "  skip (exists: $output)"
    return 0
  fi
  log "  \$ $*"
  "$@"
}
