#!/bin/bash
# down.sh - remove every container on the runtimes up.sh started and stop those
# daemons (only the ones up.sh started: by the pid files in $W/run). Images, the state
# dir and the built binaries stay, so the next up.sh is quick.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# stop NAME COMM: SIGTERM the daemon of $W/run/NAME.pid if it is still COMM, SIGKILL after
# 15 s. up.sh starts each daemon as a session leader; processes of that session with the
# same COMM go too (rootless podman re-executes itself in its user namespace, and the
# outer process does not pass SIGTERM on).
stop() {
  local f=$W/run/$1.pid p i pids
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ]; then
    pids=$( (echo "$p"; pgrep -s "$p" -x "$2") | sort -u)
    kill $pids 2>/dev/null
    for i in $(seq 150); do kill -0 $pids 2>/dev/null || break; sleep 0.1; done
    for i in $pids; do kill -0 "$i" 2>/dev/null && kill -9 "$i"; done
    echo "stopped $1 (pid $(echo $pids))"
  fi
  rm -f "$f"
}
# cri_clear CRICTL-CONFIG: stop and remove all containers and pods of a CRI endpoint.
cri_clear() {
  [ -f "$1" ] && command -v crictl >/dev/null || return 0
  local ids
  ids=$(crictl --config "$1" ps -q 2>/dev/null)
  [ -z "$ids" ] || crictl --config "$1" stop --timeout 0 $ids >/dev/null 2>&1
  crictl --config "$1" rmp -fa >/dev/null 2>&1
}
# ctr_clear NAMESPACE: kill and remove all plain containerd tasks and containers in it.
ctr_clear() {
  local t c
  for t in $(ctr_ -n "$1" tasks ls -q 2>/dev/null); do ctr_ -n "$1" tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  for t in $(ctr_ -n "$1" tasks ls -q 2>/dev/null); do ctr_ -n "$1" tasks rm -f "$t" >/dev/null 2>&1; done
  for c in $(ctr_ -n "$1" containers ls -q 2>/dev/null); do ctr_ -n "$1" containers rm "$c" >/dev/null 2>&1; done
}

cri_clear "$CRICTL_CRIO"
stop crio crio
cri_clear "$CRICTL_CONTAINERD"
ctr_clear "$CTR_NS"
ctr_clear k8s.io
ids=$($DOCKER ps -aq 2>/dev/null)
[ -z "$ids" ] || $DOCKER rm -f $ids >/dev/null 2>&1
stop dockerd dockerd
stop containerd containerd
podman rm -a -f -t 0 >/dev/null 2>&1
stop podman podman
if id "$RL_USER" >/dev/null 2>&1; then
  rl_env
  # `podman system migrate` also ends the user's rootless pause process.
  as_rl sh -c 'podman rm -a -f -t 0; podman system migrate' >/dev/null 2>&1
  stop podman-rootless podman
fi
echo "down"
