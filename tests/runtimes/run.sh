#!/bin/bash
# run.sh - one long-running test container on one of the runtimes up.sh brought up.
#
#   run.sh start RUNTIME NAME         start it (removing a leftover of the same name first);
#                                     prints the host pid of its main process, as the
#                                     runtime's API reports it
#   run.sh pid   RUNTIME NAME         print that pid again
#   run.sh sandbox-pid RUNTIME NAME   containerd-cri: the host pid of its pod's sandbox (pause)
#   run.sh exec  RUNTIME NAME CMD...  run CMD in it (CMD's output and exit status)
#   run.sh stop  RUNTIME NAME         kill and remove it at once (no error if absent)
#
# RUNTIME is one of
#   docker            docker run --network none
#   podman            root podman, --network none
#   podman-rootless   podman as $RL_USER (netns none)
#   containerd        plain `ctr run` in containerd namespace "default"
#   containerd-cri    crictl: pod NAME-pod (namespace default) with container NAME
#   cri-o             crictl, same names; pod and container in their own pid namespace
# The image is $IMG_PAUSE: its PID 1 (/bin/sh) sleeps and exits on SIGTERM.
# RUN_OPTS, when set, are more options for docker run and podman run (a seccomp profile).
# RUN_SCRIPT, when set, is what /bin/sh -c runs as PID 1 instead (docker and podman).
# POD_LABELS, when set, is a JSON object: the labels of a CRI pod (its sandbox's config).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

usage() { sed -n '4,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 3 ] || usage
op=$1 rt=$2 name=$3; shift 3
die() { echo "run.sh: $rt $name: $*" >&2; exit 1; }
# checkpid PID: a live host pid, else fail
checkpid() { [[ "$1" =~ ^[1-9][0-9]*$ ]] && [ -d "/proc/$1" ] || die "no running main process (pid '$1')"; echo "$1"; }
ERRF=
tmp_err() { ERRF=$(mktemp); trap 'rm -f "$ERRF"' EXIT; }
api_pid() { curl -sf --unix-socket "$1" "http://d$2" | jq -r .State.Pid; }

# ---------------------------------------------------------------- CRI (containerd-cri, cri-o)
cri() { if [ "$rt" = cri-o ]; then crictl_crio "$@"; else crictl_containerd "$@"; fi; }
cri_pods() { cri pods -q --name "^$name-pod\$" --namespace default 2>/dev/null; }
cri_ctr() {
  local pod; pod=$(cri_pods | head -1)
  [ -n "$pod" ] || die "no pod $name-pod"
  cri ps -q --pod "$pod" --name "^$name\$" 2>/dev/null | head -1
}
cri_start() {
  local d=$W/cri/$rt linux='{}' pod cid labels=${POD_LABELS:-}
  [ -n "$labels" ] || labels='{}'
  # CRI-O: a pod pid namespace would need an infra container, whose oom_score_adj
  # (-998) fails without CAP_SYS_RESOURCE; with pid namespace CONTAINER (1) there is none.
  [ "$rt" = cri-o ] && linux='{ "security_context": { "namespace_options": { "pid": 1 } } }'
  mkdir -p "$d" "$W/logs/$rt/$name"
  cat >"$d/$name-pod.json" <<EOF
{ "metadata": { "name": "$name-pod", "namespace": "default", "uid": "$name-pod-uid", "attempt": 0 },
  "labels": $labels, "log_directory": "$W/logs/$rt/$name", "linux": $linux }
EOF
  cat >"$d/$name.json" <<EOF
{ "metadata": { "name": "$name" }, "image": { "image": "$IMG_PAUSE" },
  "log_path": "$name.log", "linux": $linux }
EOF
  # crictl's stderr (warnings such as "cgroup_parent is not set") only if a step fails
  tmp_err
  pod=$(cri runp "$d/$name-pod.json" 2>"$ERRF") || { cat "$ERRF" >&2; die "crictl runp failed"; }
  cid=$(cri create "$pod" "$d/$name.json" "$d/$name-pod.json" 2>"$ERRF") || { cat "$ERRF" >&2; die "crictl create failed"; }
  cri start "$cid" >/dev/null 2>"$ERRF" || { cat "$ERRF" >&2; die "crictl start failed"; }
}
cri_pid() { local cid; cid=$(cri_ctr); [ -n "$cid" ] || die "no container"; checkpid "$(cri inspect "$cid" 2>/dev/null | jq -r .info.pid)"; }
cri_stop() {
  local pod cid
  for pod in $(cri_pods 2>/dev/null); do
    for cid in $(cri ps -aq --pod "$pod" 2>/dev/null); do cri stop --timeout 0 "$cid" >/dev/null 2>&1 || true; done
    cri stopp "$pod" >/dev/null 2>&1 || true
    cri rmp -f "$pod" >/dev/null 2>&1 || true
  done
}

# ---------------------------------------------------------------- the others
ctrd() { ctr_ -n "$CTR_NS" "$@"; }
rl() { rl_env; as_rl podman "$@"; }

do_start() {
  local cmd=()
  [ -n "${RUN_SCRIPT:-}" ] && cmd=(/bin/sh -c "$RUN_SCRIPT")
  case $rt in
    docker) $DOCKER run -d --name "$name" --network none ${RUN_OPTS:-} "$IMG_PAUSE" "${cmd[@]}" >/dev/null ;;
    podman) podman run -d --name "$name" --network none ${RUN_OPTS:-} "$IMG_PAUSE" "${cmd[@]}" >/dev/null ;;
    podman-rootless) rl run -d --name "$name" "$IMG_PAUSE" >/dev/null ;;
    containerd) ctrd run -d "$IMG_PAUSE" "$name" >/dev/null ;;
    containerd-cri|cri-o) cri_start ;;
  esac
}
do_pid() {
  case $rt in
    docker) checkpid "$(api_pid "$DOCKER_SOCK" "/containers/$name/json")" ;;
    podman) checkpid "$(api_pid "$PODMAN_SOCK" "/v4.0.0/libpod/containers/$name/json")" ;;
    podman-rootless) rl_env; checkpid "$(api_pid "$PODMAN_ROOTLESS_SOCK" "/v4.0.0/libpod/containers/$name/json")" ;;
    containerd) checkpid "$(ctrd task ls | awk -v n="$name" '$1 == n { print $2 }')" ;;
    containerd-cri|cri-o) cri_pid ;;
  esac
}
do_exec() {
  case $rt in
    docker) exec $DOCKER exec "$name" "$@" ;;
    podman) exec podman exec "$name" "$@" ;;
    podman-rootless) rl_env; exec runuser -u "$RL_USER" -- env -i -C "$RL_HOME" HOME="$RL_HOME" USER="$RL_USER" \
                       PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="$RL_XDG" podman exec "$name" "$@" ;;
    containerd) exec ctr --address "$CONTAINERD_SOCK" -n "$CTR_NS" task exec --exec-id "runsh-$$-$RANDOM" "$name" "$@" ;;
    containerd-cri|cri-o)
      # crictl exec exits 1 whatever CMD's status; it logs "... exit code N": pass N on,
      # and CMD's own stderr, without crictl's log lines.
      local cid rc=0 code=; cid=$(cri_ctr); [ -n "$cid" ] || die "no container"
      tmp_err
      cri exec "$cid" "$@" 2>"$ERRF" || rc=$?
      grep -v '^time="[^"]*" level=' "$ERRF" >&2 || true
      if [ "$rc" != 0 ]; then
        code=$(sed -n 's/.*command terminated with exit code \([0-9]*\).*/\1/p' "$ERRF" | tail -1)
        [ -n "$code" ] || grep '^time=' "$ERRF" >&2 || true
      fi
      exit "${code:-$rc}" ;;
  esac
}
do_stop() {
  case $rt in
    docker) $DOCKER rm -f "$name" >/dev/null 2>&1 || true ;;
    podman) podman rm -f -t 0 "$name" >/dev/null 2>&1 || true ;;
    podman-rootless) rl rm -f -t 0 "$name" >/dev/null 2>&1 || true ;;
    containerd)
      ctrd task kill -s SIGKILL "$name" >/dev/null 2>&1 || true
      ctrd task rm -f "$name" >/dev/null 2>&1 || true
      ctrd containers rm "$name" >/dev/null 2>&1 || true ;;
    containerd-cri|cri-o) cri_stop ;;
  esac
}

case $rt in docker|podman|podman-rootless|containerd|containerd-cri|cri-o) ;; *) usage ;; esac
case $op in
  start) do_stop; do_start || die "start failed"; do_pid ;;
  pid) do_pid ;;
  sandbox-pid) [ "$rt" = containerd-cri ] || die "only containerd-cri pods have a sandbox process here"
    pod=$(cri_pods | head -1); [ -n "$pod" ] || die "no pod $name-pod"
    checkpid "$(cri inspectp "$pod" 2>/dev/null | jq -r .info.pid)" ;;
  exec) [ $# -ge 1 ] || usage; do_exec "$@" ;;
  stop) do_stop ;;
  *) usage ;;
esac
