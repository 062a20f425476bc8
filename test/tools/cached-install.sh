# Sourced by the tools' install scripts, which define `log`. For reuse_or_lock the caller also sets CACHE_ROOT
# and MARKER (written as the very last step of an install; its presence is the only proof that it is complete).

# reuse_or_lock NAME VERSION RESULT TEST: prints RESULT and exits when a complete install is there (`test TEST
# RESULT` holds); otherwise takes the install lock, waiting while another process installs, and returns so
# the caller installs. Two test processes starting at once must not both install.
reuse_or_lock() {
  local name=$1 version=$2 result=$3 check=$4
  if [[ -f "$MARKER" ]] && test "$check" "$result"; then echo "$result"; exit 0; fi
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.$name-$version.lock"
  if ! flock -n 9; then
    log "another process is installing $name $version; waiting for it"
    flock 9
  fi
  if [[ -f "$MARKER" ]] && test "$check" "$result"; then echo "$result"; exit 0; fi
}

# use_apt PACKAGE...: defines `apt_get` (as root, or through sudo; output to stderr) for installing the named
# Debian packages, or exits saying why they cannot be installed here.
use_apt() {
  if ! command -v apt-get >/dev/null 2>&1; then
    log "missing packages ($*) and apt-get is not available; this script supports Debian only"
    exit 1
  fi
  if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    log "installing $* needs root; run as root or install sudo (or: apt-get install $*)"
    exit 1
  fi
  apt_get() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@" >&2; }
}
