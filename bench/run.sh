#!/usr/bin/env bash
# bench/run.sh: throughput, overhead, start-up time and memory of
# `ig trace open --host -o json`, compared with Inspektor Gadget's ig v0.26.
# Run it with `make bench` (as root; it builds ./ig first).
#
# What one run does (RUNS runs, every number printed is the median):
#   1. untraced: bench/workload opens and closes one file N times, pinned to
#      CPU $WL_CPU, and prints the wall time of its loop.
#   2. traced: start ig (output to a file in a temp dir) pinned to CPU $IG_CPU,
#      then measure start-to-first-event: benchtool opens a marker file every
#      10 ms and watches ig's output (every 1 ms) until the marker's event is
#      in the file. The clock starts just before ig is spawned, so it covers
#      everything ig does before it can see an event (requirements check, BTF
#      load, eBPF load and attach, first write). It is an upper bound, off by
#      at most one 10 ms probe interval.
#   3. the workload again, same CPU, a new unique path, while ig runs.
#   4. wait until ig's output stops growing (300 ms quiet, max 5 s) so that ig
#      drained its ring buffer, read ig's VmHWM (peak RSS) and CPU time, then
#      stop it with SIGINT and read the lost count it prints on stderr.
#   5. count, by parsing each JSON line (benchtool count), the events whose
#      "path" is exactly the workload's path.
#
# Pinning: the workload runs on one CPU and ig on the other, so the eBPF
# program (which runs in the workload's context, on its CPU) and ig's
# ring-buffer reader/JSON encoder do not fight for one core, and the untraced
# and traced runs see the same CPU. Set IG_CPU=none to leave ig unpinned;
# on a machine with a single CPU nothing is pinned.
#
# The check "received + lost = generated" is exact only if the lost events
# are all the workload's: ig traces the whole host and its lost count covers
# every process, so a loss elsewhere shows up as MISMATCH too.
#
# Exit status is non-zero only for real failures (ig does not start, a helper
# fails), never because a number misses its target.
set -euo pipefail

N=${N:-200000}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IG=$ROOT/ig

# Reference: Inspektor Gadget ig v0.26 on the same benchmark.
REF_SLOWDOWN=5.4 REF_LOSS_PCT=2.8 REF_RSS_MB=134 REF_FIRST_S=0.12 REF_BIN_MB=99
# Targets for this ig.
TGT_SLOWDOWN=2 TGT_FIRST_S=0.150 TGT_RSS_MIB=40 TGT_BIN_MIB=30

die() { echo "bench: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (ig loads eBPF programs)"
[[ -x $IG ]] || die "$IG not found: run 'make bench' (it builds ig first)"
command -v taskset >/dev/null || die "taskset not found (apt-get install -y util-linux)"

ncpu=$(nproc)
WL_CPU=${WL_CPU:-1}
IG_CPU=${IG_CPU:-0}
if ((ncpu < 2)); then WL_CPU=none IG_CPU=none; fi
pin() { # pin CPU CMD...: run CMD on CPU, or unpinned for "none"
	local cpu=$1; shift
	if [[ $cpu == none ]]; then "$@"; else taskset -c "$cpu" "$@"; fi
}

TMP=$(mktemp -d /tmp/igbench.XXXXXX)
IGPID=
stop_ig() { # stop_ig: SIGINT, up to 5 s to exit, then SIGKILL. Sets IG_RC.
	IG_RC=0
	[[ -n $IGPID ]] || return 0
	kill -INT "$IGPID" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$IGPID" 2>/dev/null || break
		[[ $(awk '{print $3}' "/proc/$IGPID/stat" 2>/dev/null) == Z ]] && break
		sleep 0.05
	done
	if kill -0 "$IGPID" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$IGPID/stat" 2>/dev/null) != Z ]]; then
		echo "bench: ig (pid $IGPID) ignored SIGINT for 5 s, killing it" >&2
		kill -KILL "$IGPID" 2>/dev/null || true
	fi
	wait "$IGPID" 2>/dev/null || IG_RC=$?
	IGPID=
}
cleanup() {
	stop_ig || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench: building workload and helper into $TMP/bin" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$TMP/bin/workload" ./bench/workload &&
	CGO_ENABLED=0 go build -trimpath -o "$TMP/bin/benchtool" ./bench/benchtool) || die "build failed"
WL=$TMP/bin/workload BT=$TMP/bin/benchtool

# kv KEY LINE: the value of KEY=VALUE in LINE.
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
# median: the middle of the numbers on stdin.
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else printf "%.6g\n", (v[NR/2]+v[NR/2+1])/2}'; }
# ticks PID: user+system CPU time of PID in clock ticks.
ticks() { awk '{s=$0; sub(/.*\) /, "", s); split(s, f, " "); print f[12]+f[13]}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

IGCMD=("$IG" trace open --host -o json)
[[ $IG_CPU == none ]] || IGCMD=(taskset -c "$IG_CPU" "${IGCMD[@]}")

# Warm-up (page cache, CPU frequency), not measured.
pin "$WL_CPU" "$WL" -path "$TMP/warmup" -n "$N" >/dev/null

declare -a U_WALL T_WALL RECV LOST FIRST RSS IGCPU DRAIN CHECK OTHER
for ((r = 1; r <= RUNS; r++)); do
	dir=$TMP/run$r
	mkdir -p "$dir"

	# 1. untraced
	line=$(pin "$WL_CPU" "$WL" -path "$dir/untraced-$$-$r-$RANDOM" -n "$N") || die "workload failed"
	U_WALL[r]=$(kv wall_s "$line")

	# 2. start ig, time its first event
	out=$dir/ig.json err=$dir/ig.stderr
	t0=$EPOCHREALTIME
	# A simple command (not the pin function) so that $! is ig itself:
	# taskset execs ig in place.
	"${IGCMD[@]}" >"$out" 2>"$err" &
	IGPID=$!
	if ! fe=$("$BT" firstevent -out "$out" -marker "$dir/marker-$$-$r-$RANDOM" -since "$t0" -pid "$IGPID" -timeout 20s); then
		echo "bench: ig stderr:" >&2
		sed 's/^/  /' "$err" >&2
		die "ig did not start"
	fi
	FIRST[r]=$(kv first_event_s "$fe")
	[[ $(readlink "/proc/$IGPID/exe") == "$IG" ]] || die "pid $IGPID is not ig; RSS/CPU would be wrong"

	# 3. traced workload
	target=$dir/traced-$$-$r-$RANDOM
	c0=$(ticks "$IGPID")
	line=$(pin "$WL_CPU" "$WL" -path "$target" -n "$N") || die "workload failed"
	T_WALL[r]=$(kv wall_s "$line")

	# 4. drain, then stop ig
	q=$("$BT" waitquiet -file "$out" -quiet 300ms -max 5s)
	DRAIN[r]=$(kv waited_s "$q")
	[[ $(kv quiet "$q") == true ]] || echo "bench: run $r: ig's output still growing after 5 s" >&2
	IGCPU[r]=$(awk -v a="$c0" -v b="$(ticks "$IGPID")" -v hz="$HZ" 'BEGIN {printf "%.3f", (b-a)/hz}')
	RSS[r]=$(awk '/^VmHWM:/ {print $2}' "/proc/$IGPID/status")
	stop_ig
	((IG_RC == 0)) || { echo "bench: run $r: ig exited with status $IG_RC; its stderr:" >&2; sed 's/^/  /' "$err" >&2; }
	LOST[r]=$(sed -n 's/.*ig: lost \([0-9]*\) events in all.*/\1/p' "$err" | tail -n1)
	LOST[r]=${LOST[r]:-0}

	# 5. count
	c=$("$BT" count -path "$target" "$out") || die "counting failed"
	RECV[r]=$(kv matched "$c")
	OTHER[r]=$(($(kv total "$c") - RECV[r]))
	(($(kv bad "$c") == 0)) || echo "bench: run $r: $(kv bad "$c") malformed output lines" >&2
	if ((RECV[r] + LOST[r] == N)); then CHECK[r]=OK; else CHECK[r]=MISMATCH; fi

	printf 'bench: run %d: untraced %.3fs traced %.3fs received %d lost %d (%s) first-event %.3fs drain %.2fs ig-cpu %.2fs VmHWM %d kB, %d other events\n' \
		"$r" "${U_WALL[r]}" "${T_WALL[r]}" "${RECV[r]}" "${LOST[r]}" "${CHECK[r]}" "${FIRST[r]}" "${DRAIN[r]}" "${IGCPU[r]}" "${RSS[r]}" "${OTHER[r]}" >&2
	rm -rf "$dir" # up to ~100 MB of JSON per run
done

med() { printf '%s\n' "$@" | median; }
u=$(med "${U_WALL[@]}")
t=$(med "${T_WALL[@]}")
recv=$(med "${RECV[@]}")
lost=$(med "${LOST[@]}")
first=$(med "${FIRST[@]}")
rss_mib=$(awk -v k="$(med "${RSS[@]}")" 'BEGIN {printf "%.1f", k/1024}')
igcpu=$(med "${IGCPU[@]}")
eps=$(med $(for ((r = 1; r <= RUNS; r++)); do awk -v n="${RECV[r]}" -v t="${T_WALL[r]}" 'BEGIN {printf "%.0f\n", n/t}'; done))
slow=$(awk -v u="$u" -v t="$t" 'BEGIN {printf "%.2f", t/u}')
loss_pct=$(awk -v l="$lost" -v n="$N" 'BEGIN {printf "%.2f", 100*l/n}')
bin_mib=$(awk -v b="$(stat -c %s "$IG")" 'BEGIN {printf "%.1f", b/1048576}')
ok=0
for ((r = 1; r <= RUNS; r++)); do [[ ${CHECK[r]} == OK ]] && ok=$((ok + 1)); done
if ((ok == RUNS)); then check="OK ($ok/$RUNS runs)"; else check="MISMATCH ($((RUNS - ok))/$RUNS runs)"; fi
# ig's CPU use while the traced workload ran and ig drained, in % of one core.
igpct=$(med $(for ((r = 1; r <= RUNS; r++)); do awk -v c="${IGCPU[r]}" -v t="${T_WALL[r]}" -v d="${DRAIN[r]}" 'BEGIN {printf "%.0f\n", 100*c/(t+d)}'; done))

# meets VALUE LIMIT: "yes" if VALUE < LIMIT.
meets() { awk -v v="$1" -v l="$2" 'BEGIN {print (v < l) ? "yes" : "NO"}'; }

echo
echo "ig trace open --host -o json: $N open+close on CPU $WL_CPU, ig on CPU $IG_CPU, median of $RUNS runs"
echo "$("$IG" --version 2>/dev/null | head -n1 || echo '(version unknown)'), kernel $(uname -r), $ncpu CPUs"
echo
fmt='%-32s %18s %14s %10s %5s\n'
# shellcheck disable=SC2059
{
	printf "$fmt" "metric" "ours" "IG ig v0.26" "target" "met"
	printf "$fmt" "--------------------------------" "------------------" "--------------" "----------" "-----"
	printf "$fmt" "events generated" "$N" "" "" ""
	printf "$fmt" "events received" "$recv" "" "" ""
	printf "$fmt" "events lost (ig's count)" "$lost" "" "" ""
	printf "$fmt" "received + lost = generated" "$check" "" "" ""
	printf "$fmt" "loss" "$loss_pct %" "$REF_LOSS_PCT %" "0 %" "$(awk -v l="$lost" 'BEGIN {print (l == 0) ? "yes" : "NO"}')"
	printf "$fmt" "events/s (received/traced wall)" "$eps" "" "" ""
	printf "$fmt" "workload wall, untraced" "$(printf '%.3f s' "$u")" "" "" ""
	printf "$fmt" "workload wall, traced" "$(printf '%.3f s' "$t")" "" "" ""
	printf "$fmt" "slowdown (traced/untraced)" "${slow}x" "${REF_SLOWDOWN}x" "< ${TGT_SLOWDOWN}x" "$(meets "$slow" "$TGT_SLOWDOWN")"
	printf "$fmt" "start to first event" "$(printf '%.3f s' "$first")" "$REF_FIRST_S s" "< $TGT_FIRST_S s" "$(meets "$first" "$TGT_FIRST_S")"
	printf "$fmt" "peak RSS (VmHWM)" "$rss_mib MiB" "$REF_RSS_MB MB" "< $TGT_RSS_MIB MiB" "$(meets "$rss_mib" "$TGT_RSS_MIB")"
	printf "$fmt" "binary size ./ig" "$bin_mib MiB" "$REF_BIN_MB MB" "< $TGT_BIN_MIB MiB" "$(meets "$bin_mib" "$TGT_BIN_MIB")"
	printf "$fmt" "ig CPU while tracing+draining" "$igpct % of a core" "" "" ""
}
