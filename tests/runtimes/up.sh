#!/bin/bash
# up.sh - bring up the real container runtimes ig's tests use, as root, on Debian 12
# without any container registry: docker, containerd (+ its CRI plugin), CRI-O,
# podman (root) and podman (rootless, user $RL_USER), each with its API socket, and
# two local busybox images ($IMG_BOX, $IMG_PAUSE) in every image store.
#
# Idempotent: a daemon whose API already answers is left alone, cached binaries and
# loaded images are reused, so a second run takes a few seconds. On failure it exits
# non-zero naming the runtime and showing the end of its log.
# At the end it writes $W/env (KEY=value lines) for the tests; run.sh and down.sh use the same
# settings (lib.sh).
#
# What this machine kind needs (PID 1 is not systemd, root lacks CAP_SYS_RESOURCE,
# cgroup v1 hybrid):
#  - podman uses runc (crun refuses hybrid cgroups) and cgroupfs, and its default
#    ulimits (1048576) are capped, since raising them needs CAP_SYS_RESOURCE;
#  - rootless podman runs with netns "none" and gets no cgroup of its own;
#  - containerd's CRI sets oom_score_adj -998 on sandboxes unless restrict_oom_score_adj;
#  - CRI-O pods must use a per-container pid namespace (no infra container, whose
#    oom_score_adj would fail the same way); CRI-O itself is built from its Go module.
set -eEuo pipefail
umask 022
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
CRIO_VERSION=${CRIO_VERSION:-v1.34.0}
CRICTL_VERSION=${CRICTL_VERSION:-v1.37.0}
export GOFLAGS="-modcacherw -buildvcs=false" DEBIAN_FRONTEND=noninteractive
PKGS=(busybox-static podman runc conmon uidmap slirp4netns catatonit containerd docker.io
      containernetworking-plugins curl jq gcc libc6-dev)

[ "$(id -u)" = 0 ] || { echo "up.sh: must run as root" >&2; exit 1; }
mkdir -p "$W/bin" "$W/logs" "$W/img" "$W/run" "$W/cri" "$W/cni"

# ------------------------------------------------------------------ phases and failures
T0=$EPOCHREALTIME PT=$EPOCHREALTIME PHASE= RT= LOG= NOTE= BUILD_PID=
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
end_phase() { [ -z "$PHASE" ] || printf '  %-16s %6s s  %s\n' "$PHASE" "$(secs "$PT" "$EPOCHREALTIME")" "$NOTE"; }
phase() { # phase NAME RUNTIME LOGFILE
  end_phase; PHASE=$1 RT=$2 LOG=$3 NOTE= PT=$EPOCHREALTIME
}
on_err() {
  local rc=$? line=$1
  trap - ERR
  [ "$BASHPID" = "$$" ] || exit "$rc"       # in a subshell: let the main shell report
  echo "up.sh: FAILED: runtime '$RT' (phase '$PHASE', line $line, status $rc)" >&2
  if [ -n "$LOG" ] && [ -s "$LOG" ]; then
    echo "---- last 40 lines of $LOG" >&2; tail -n 40 "$LOG" >&2; echo "----" >&2
  fi
  if [ -n "$BUILD_PID" ] && kill -0 "$BUILD_PID" 2>/dev/null; then
    pkill -P "$BUILD_PID" 2>/dev/null; kill "$BUILD_PID" 2>/dev/null
  fi
  exit 1
}
trap 'on_err $LINENO' ERR
fail() { echo "up.sh: $*" >&2; return 1; }

# alive NAME COMM: the daemon we started (pid file $W/run/NAME.pid) still runs.
# A killed daemon can linger as a zombie with the same comm (when nothing reaps
# it, as after a session's processes are killed): that is not alive.
alive() {
  local f=$W/run/$1.pid p state
  [ -f "$f" ] && p=$(cat "$f") && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && running "$p"
}
# running PID: the process exists and is not a zombie.
running() {
  local state
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
# wait_up NAME CHECK...: poll CHECK for up to 60 s; fail at once if the daemon exits.
wait_up() {
  local name=$1 i; shift
  for i in $(seq 600); do
    "$@" >/dev/null 2>&1 && return 0
    if [ -f "$W/run/$name.pid" ] && ! running "$(cat "$W/run/$name.pid")"; then
      fail "$name exited"
    fi
    sleep 0.1
  done
  fail "$name: no answer to '$*' after 60 s"
}
# daemon NAME COMM CHECK START: make sure the daemon answers CHECK, running START
# (which must write $W/run/NAME.pid) unless it answers already or is still starting.
daemon() {
  local name=$1 comm=$2 check=$3 start=$4
  if $check >/dev/null 2>&1; then NOTE="already up"; return 0; fi
  if alive "$name" "$comm"; then NOTE="was starting"
  else
    echo "=== $(date -Is) start" >>"$LOG"
    $start
    NOTE="started, pid $(cat "$W/run/$name.pid")"
  fi
  wait_up "$name" "$check"
}
# spawn PIDFILE LOG CMD...: run a daemon detached (own session, no tty, no inherited pipes).
spawn() {
  local pidf=$1 log=$2; shift 2
  setsid nohup "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidf"
}

ping_docker() { curl -sf --unix-socket "$DOCKER_SOCK" http://d/_ping; }
ping_podman() { curl -sf --unix-socket "$PODMAN_SOCK" http://d/_ping; }
ping_rootless() { curl -sf --unix-socket "$PODMAN_ROOTLESS_SOCK" http://d/_ping; }
# (ctr and crictl wait up to their timeout for a socket that is not there yet)
ping_containerd() { [ -S "$CONTAINERD_SOCK" ] && ctr_ --connect-timeout 2s version; }
ping_crio() { [ -S "$CRIO_SOCK" ] && crictl --runtime-endpoint "unix://$CRIO_SOCK" --timeout 2s version; }

# ------------------------------------------------------------------ crictl + CRI-O build (background)
# Built from their Go modules into $W/bin (a cache: skipped when present), in the
# background while packages install and the other runtimes start.
build_tools() {
  trap - ERR
  set -e
  cd "$W"   # outside any Go module
  if [ ! -x "$W/bin/crictl" ]; then
    GOBIN=$W/bin go install "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  fi
  if [ ! -x "$W/bin/crio" ] || [ ! -x "$W/bin/pinns" ]; then
    # `go install .../cmd/crio@vX` is refused here (the proxy will not list the module's
    # versions, which go install asks for); downloading one exact version works.
    go mod download "github.com/cri-o/cri-o@$CRIO_VERSION"
    local src tmp=$BASHPID
    src=$(go env GOMODCACHE)/github.com/cri-o/cri-o@$CRIO_VERSION
    (cd "$src" && go build -trimpath \
       -tags "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper" \
       -o "$W/bin/.crio.$tmp" ./cmd/crio)
    gcc -std=c99 -Os -static -o "$W/bin/.pinns.$tmp" "$src"/pinns/src/*.c
    mv "$W/bin/.pinns.$tmp" "$W/bin/pinns"
    mv "$W/bin/.crio.$tmp" "$W/bin/crio"
  fi
}
phase "go build (bg)" cri-o "$W/logs/build.log"
if [ -x "$W/bin/crictl" ] && [ -x "$W/bin/crio" ] && [ -x "$W/bin/pinns" ]; then
  NOTE="cached in $W/bin"
else
  command -v go >/dev/null || fail "go not found (expected in /usr/local/go/bin)"
  : >"$W/logs/build.log"
  build_tools >>"$W/logs/build.log" 2>&1 &
  BUILD_PID=$!
  NOTE="started, log $W/logs/build.log"
fi

# ------------------------------------------------------------------ packages
phase apt apt "$W/logs/apt.log"
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
  NOTE="all installed"
else
  NOTE="installed ${missing[*]}"
  echo "=== $(date -Is) apt-get install ${missing[*]}" >>"$LOG"
  if ! apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >>"$LOG" 2>&1; then
    apt-get update -q >>"$LOG" 2>&1
    apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >>"$LOG" 2>&1
  fi
fi
# The packages start nothing here (no systemd), but make sure of it.
for f in /usr/bin/runc /usr/bin/conmon /usr/lib/cni/bridge /bin/busybox; do
  [ -x "$f" ] || fail "$f missing after apt"
done

# ------------------------------------------------------------------ images (no registry)
# A busybox-static rootfs packed as a one-layer docker-archive, which `docker load`,
# `ctr images import` and `podman load` all take. Reproducible (fixed mtimes/owners).
phase images images ""
tarx() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner "$@"; }
docker_archive() { # docker_archive OUT REF CMD_JSON
  local out=$1 ref=$2 cmd=$3 d layer cfg
  d=$(mktemp -d "$W/img/.build.XXXXXX")
  layer=$(sha256sum <"$W/img/rootfs.tar" | cut -d' ' -f1)
  mkdir "$d/$layer"; cp "$W/img/rootfs.tar" "$d/$layer/layer.tar"
  printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$(dpkg --print-architecture)" "$cmd" "$layer" >"$d/config"
  cfg=$(sha256sum <"$d/config" | cut -d' ' -f1); mv "$d/config" "$d/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$ref" "$layer" >"$d/manifest.json"
  tarx -C "$d" -cf "$out.tmp" manifest.json "$cfg.json" "$layer"
  mv "$out.tmp" "$out"; rm -rf "$d"
}
if [ -s "$W/img/box.tar" ] && [ -s "$W/img/pause.tar" ]; then
  NOTE="cached"
else
  R=$W/img/rootfs; rm -rf "$R"; mkdir -p "$R"/{bin,etc,proc,sys,dev,tmp,root}
  cp /bin/busybox "$R/bin/busybox"
  for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"; echo 'root:x:0:' >"$R/etc/group"
  tarx -C "$R" -cf "$W/img/rootfs.tar" .; rm -rf "$R"
  docker_archive "$W/img/box.tar" "$IMG_BOX" '["/bin/sh"]'
  # busybox sleep as PID 1 ignores SIGTERM; this one exits on it, so stops are quick.
  docker_archive "$W/img/pause.tar" "$IMG_PAUSE" \
    '["/bin/sh","-c","trap '"'"'exit 0'"'"' TERM INT; sleep 2147483647 & wait"]'
  rm -f "$W/img/rootfs.tar"
  NOTE="built $W/img/box.tar, pause.tar"
fi
# load_images STORE-NAME EXISTS-CMD LOAD-CMD: load both archives unless already there.
load_images() {
  local store=$1 exists=$2 load=$3 loaded= i
  for i in "$IMG_BOX=box" "$IMG_PAUSE=pause"; do
    $exists "${i%%=*}" >/dev/null 2>&1 && continue
    $load "$W/img/${i#*=}.tar" >>"$W/logs/images.log" 2>&1 || { LOG=$W/logs/images.log; fail "loading ${i%%=*} into $store"; }
    loaded+=" ${i#*=}"
  done
  NOTE+="${loaded:+; loaded$loaded}"
}

# ------------------------------------------------------------------ podman (root)
phase podman podman "$W/logs/podman.log"
cat >"$CONTAINERS_CONF" <<'EOF'
# root podman for ig's tests (tests/runtimes/up.sh); used through CONTAINERS_CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
start_podman() { mkdir -p "$(dirname "$PODMAN_SOCK")"; spawn "$W/run/podman.pid" "$LOG" podman system service --time=0 "unix://$PODMAN_SOCK"; }
daemon podman podman ping_podman start_podman
podman_exists() { podman image exists "$1"; }
podman_load() { podman load -q -i "$1"; }
load_images podman podman_exists podman_load

# ------------------------------------------------------------------ podman (rootless)
phase podman-rootless podman-rootless "$W/logs/podman-rootless.log"
if ! id "$RL_USER" >/dev/null 2>&1; then
  useradd -m -s /bin/bash "$RL_USER"   # also gives it /etc/subuid and /etc/subgid ranges
  NOTE="user $RL_USER created; "
fi
rl_env
grep -q "^$RL_USER:" /etc/subuid && grep -q "^$RL_USER:" /etc/subgid || fail "$RL_USER has no /etc/subuid or /etc/subgid range"
install -d -o "$RL_USER" -g "$(id -g "$RL_USER")" -m 700 "$RL_XDG"
install -d -o "$RL_USER" -g "$(id -g "$RL_USER")" -m 755 "$RL_HOME/.config" "$RL_HOME/.config/containers"
cat >"$RL_HOME/.config/containers/containers.conf" <<'EOF'
# rootless podman for ig's tests (tests/runtimes/up.sh)
[containers]
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
chown "$RL_USER:" "$RL_HOME/.config/containers/containers.conf"
[ -f "$LOG" ] || install -o "$RL_USER" -m 644 /dev/null "$LOG"
start_rootless() {
  # When every process of a previous run was killed at once (a machine whose processes
  # were reset), podman's state still lists running containers and no pause process is
  # left to join: every podman command then fails with "invalid internal status".
  # `podman system migrate` marks them stopped and starts afresh.
  if ! as_rl podman info >/dev/null 2>&1; then
    as_rl podman system migrate >>"$LOG" 2>&1 || true
  fi
  as_rl sh -c 'mkdir -p "$(dirname "$1")" || exit 1
    setsid nohup podman system service --time=0 "unix://$1" >>"$2" 2>&1 </dev/null & echo $!' \
    sh "$PODMAN_ROOTLESS_SOCK" "$LOG" >"$W/run/podman-rootless.pid"
}
NOTE0=$NOTE
daemon podman-rootless podman ping_rootless start_rootless
NOTE="$NOTE0$NOTE"
rl_exists() { as_rl podman image exists "$1"; }
rl_load() { as_rl podman load -q -i "$1"; }   # $W/img is world-readable
load_images podman-rootless rl_exists rl_load

# ------------------------------------------------------------------ containerd (+CRI)
phase containerd containerd "$W/logs/containerd.log"
cat >"$W/cni/10-igtest.conflist" <<'EOF'
{ "cniVersion": "0.4.0", "name": "igtest",
  "plugins": [ { "type": "bridge", "bridge": "igtest0", "isGateway": true, "ipMasq": false,
                 "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.99.0.0/24" }]] } },
               { "type": "portmap", "capabilities": { "portMappings": true } } ] }
EOF
cat >"$W/containerd.toml" <<EOF
# containerd for ig's tests (tests/runtimes/up.sh)
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$IMG_PAUSE"
  # CRI gives sandboxes oom_score_adj -998, which needs CAP_SYS_RESOURCE.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$W/cni"
EOF
start_containerd() { spawn "$W/run/containerd.pid" "$LOG" containerd --config "$W/containerd.toml"; }
daemon containerd containerd ping_containerd start_containerd
ctr_exists() { ctr_ -n "$NS" images ls -q | grep -xF "$1" >/dev/null; }
ctr_load() { ctr_ -n "$NS" images import "$1"; }
NS=k8s.io; load_images "containerd ($NS)" ctr_exists ctr_load      # for CRI
NS=$CTR_NS; load_images "containerd ($NS)" ctr_exists ctr_load     # for plain ctr
printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "$CONTAINERD_SOCK" "$CONTAINERD_SOCK" >"$CRICTL_CONTAINERD"

# ------------------------------------------------------------------ dockerd
# After containerd: dockerd then uses it (namespace "moby") instead of starting its own.
phase docker docker "$W/logs/dockerd.log"
start_dockerd() { spawn "$W/run/dockerd.pid" "$LOG" dockerd --host "unix://$DOCKER_SOCK"; }
daemon dockerd dockerd ping_docker start_dockerd
docker_exists() { $DOCKER image inspect "$1"; }
docker_load() { $DOCKER load -q -i "$1"; }
load_images docker docker_exists docker_load

# ------------------------------------------------------------------ CRI-O
phase "go build (wait)" cri-o "$W/logs/build.log"
if [ -n "$BUILD_PID" ]; then
  wait "$BUILD_PID" || fail "building crictl/crio failed"
  BUILD_PID=; NOTE="built crictl crio pinns"
else
  NOTE="nothing to wait for"
fi
for f in crictl crio pinns; do [ -x "$W/bin/$f" ] || fail "$W/bin/$f missing"; done

phase cri-o cri-o "$W/logs/crio.log"
echo '{ "default": [ { "type": "insecureAcceptAnything" } ] }' >"$W/crio-policy.json"
mkdir -p "$W/logs/crio-pods"
cat >"$W/crio.conf" <<EOF
# CRI-O for ig's tests (tests/runtimes/up.sh)
[crio]
root = "/var/lib/crio/storage"
runroot = "/run/crio/storage"
storage_driver = "overlay"
log_dir = "$W/logs/crio-pods"
version_file = "/run/crio/version"
version_file_persist = "/var/lib/crio/version"
clean_shutdown_file = "/var/lib/crio/clean.shutdown"
[crio.api]
listen = "$CRIO_SOCK"
[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
conmon = "/usr/bin/conmon"
conmon_cgroup = "pod"
pinns_path = "$W/bin/pinns"
[crio.runtime.runtimes.runc]
runtime_path = "/usr/bin/runc"
runtime_type = "oci"
runtime_root = "/run/runc"
[crio.image]
pause_image = "$IMG_PAUSE"
pause_command = ""
signature_policy = "$W/crio-policy.json"
[crio.network]
network_dir = "$W/cni"
plugin_dirs = ["/usr/lib/cni"]
EOF
# Images go into CRI-O's store with podman (no registry to pull from).
crio_exists() { podman "${CRIO_STORE[@]}" image exists "$1"; }
crio_load() { podman "${CRIO_STORE[@]}" load -q -i "$1"; }
if ! ping_crio >/dev/null 2>&1; then load_images cri-o crio_exists crio_load; fi
start_crio() { spawn "$W/run/crio.pid" "$LOG" "$W/bin/crio" --config "$W/crio.conf"; }
N0=$NOTE
daemon crio crio ping_crio start_crio
NOTE="$NOTE$N0"
printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "$CRIO_SOCK" "$CRIO_SOCK" >"$CRICTL_CRIO"
crictl_crio images -q "$IMG_PAUSE" | grep . >/dev/null || fail "CRI-O does not see $IMG_PAUSE"

# ------------------------------------------------------------------ every API answers
phase verify "" ""
check() { # check RUNTIME LOG CMD...: print a one-line answer of CMD or fail for RUNTIME
  local out; RT=$1 LOG=$2; shift 2
  out=$("$@" 2>&1) || { echo "$out" >&2; fail "'$*' failed"; }
  printf '    %-16s %s\n' "$RT" "$(echo "$out" | tr -s ' \t\n' ' ' | cut -c1-90)"
}
check docker "$W/logs/dockerd.log" curl -sf --unix-socket "$DOCKER_SOCK" http://d/_ping
check podman "$W/logs/podman.log" curl -sf --unix-socket "$PODMAN_SOCK" http://d/_ping
check podman-rootless "$W/logs/podman-rootless.log" curl -sf --unix-socket "$PODMAN_ROOTLESS_SOCK" http://d/_ping
# The client's answer is taken whole first, so its exit status counts (a pipe's is its last
# command's); ctr prints its own version before it dials, so only the server's counts.
check containerd "$W/logs/containerd.log" sh -c 'out=$(ctr --address "$1" version) && echo "$out" | awk "/^Server:/ {s=1} s && /Version/ {print; f=1} END {exit !f}"' sh "$CONTAINERD_SOCK"
check containerd-cri "$W/logs/containerd.log" sh -c 'out=$(crictl --config "$1" version) && echo "$out" | grep Runtime' sh "$CRICTL_CONTAINERD"
check cri-o "$W/logs/crio.log" sh -c 'out=$(crictl --config "$1" version) && echo "$out" | grep Runtime' sh "$CRICTL_CRIO"

# ------------------------------------------------------------------ $W/env
phase env "" ""
cat >"$W/env.tmp" <<EOF
# Written by tests/runtimes/up.sh: KEY=value, no quoting. From sh: set -a; . $W/env; set +a
# then PATH=\$PATH_ADD:\$PATH (crictl, crio).
W=$W
RL_USER=$RL_USER
RL_UID=$RL_UID
RL_HOME=$RL_HOME
DOCKER_SOCK=$DOCKER_SOCK
CONTAINERD_SOCK=$CONTAINERD_SOCK
CTR_NAMESPACE=$CTR_NS
CRIO_SOCK=$CRIO_SOCK
PODMAN_SOCK=$PODMAN_SOCK
PODMAN_ROOTLESS_SOCK=$PODMAN_ROOTLESS_SOCK
CONTAINERS_CONF=$CONTAINERS_CONF
CRICTL_CONTAINERD=$CRICTL_CONTAINERD
CRICTL_CRIO=$CRICTL_CRIO
IMG_BOX=$IMG_BOX
IMG_PAUSE=$IMG_PAUSE
PATH_ADD=$W/bin
EOF
mv "$W/env.tmp" "$W/env"
NOTE="$W/env"
end_phase
echo "up.sh: all runtimes up in $(secs "$T0" "$EPOCHREALTIME") s (state in $W)"
