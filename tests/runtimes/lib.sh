# lib.sh - settings shared by up.sh, down.sh and run.sh (sourced, not run).
#
# The runtimes keep their default roots (/var/lib/..., /run/...) because that is
# where ig must find them; everything else (configs, logs, pid files, images,
# the crio/crictl binaries) lives in the state dir $W.

W=${W:-/var/tmp/ig-test-runtimes}
RL_USER=${RL_USER:-igrootless}
case "$W" in *[[:space:]]*) echo "W must not contain spaces: '$W'" >&2; exit 2 ;; esac

DOCKER_SOCK=/var/run/docker.sock
CONTAINERD_SOCK=/run/containerd/containerd.sock
CRIO_SOCK=/run/crio/crio.sock
PODMAN_SOCK=/run/podman/podman.sock
CONTAINERS_CONF=$W/containers.conf   # root podman (runc, cgroupfs, capped ulimits)
CRICTL_CONTAINERD=$W/crictl-containerd.yaml
CRICTL_CRIO=$W/crictl-crio.yaml
CTR_NS=default                        # namespace of plain `ctr` containers (CRI uses k8s.io)
IMG_BOX=localhost/rtbox:latest        # busybox, Cmd /bin/sh
IMG_PAUSE=localhost/pause:latest      # busybox, PID 1 sleeps forever and exits on SIGTERM
# CRI-O's image store, for loading images into it with podman.
CRIO_STORE=(--root /var/lib/crio/storage --runroot /run/crio/storage --storage-driver overlay)

export W RL_USER CONTAINERS_CONF
export PATH="$W/bin:/usr/local/go/bin:$PATH"

# The docker CLI that comes with the daemon (docker.io), not whatever is first in PATH.
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker

# rl_env: RL_UID, RL_HOME, RL_XDG and PODMAN_ROOTLESS_SOCK of the rootless user (who must exist).
rl_env() {
  RL_UID=$(id -u "$RL_USER")
  RL_HOME=$(getent passwd "$RL_USER" | cut -d: -f6)
  RL_XDG=/run/user/$RL_UID
  PODMAN_ROOTLESS_SOCK=$RL_XDG/podman/podman.sock
}

# as_rl CMD ARGS...: run a command as the rootless user, in its home, with a clean environment.
as_rl() {
  runuser -u "$RL_USER" -- env -i -C "$RL_HOME" HOME="$RL_HOME" USER="$RL_USER" LOGNAME="$RL_USER" \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin XDG_RUNTIME_DIR="$RL_XDG" "$@"
}

ctr_() { ctr --address "$CONTAINERD_SOCK" "$@"; }
crictl_containerd() { crictl --config "$CRICTL_CONTAINERD" "$@"; }
crictl_crio() { crictl --config "$CRICTL_CRIO" "$@"; }
