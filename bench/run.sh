#!/usr/bin/env bash
# bench/run.sh: throughput, overhead, start-up time and memory of
# `ig trace open --host -o json`, and side by side the same for another ig
# (Inspektor Gadget's, say) when IG_REF names its binary.
# Run it with `make bench` (as root; it builds ./ig first):
#   make bench                          this ig alone
#   make bench IG_REF=/path/to/ig       and IG_REF, measured the same way
# Then, for ours only, the gadget lines: the slowdown a gadget of another
# kind puts on the load it watches, and its peak RSS (see measure_gadget).
# IG_REF is not part of the repository, nor is how to build it. Its lost
# count is the sum of its "lost N samples" warnings.
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
# Both binaries run the same N and RUNS, one after the other; the table
# names the machine and the date, which is what a figure quoted elsewhere
# should say too.
#
# Exit status is non-zero only for real failures (ig does not start, a helper
# fails), never because a number misses its target.
set -euo pipefail

N=${N:-200000}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IG=$ROOT/ig

IG_REF=${IG_REF:-}
# Targets for this ig.
TGT_SLOWDOWN=1.3 TGT_FIRST_S=0.100 TGT_RSS_MIB=40 TGT_BIN_MIB=30

die() { echo "bench: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (ig loads eBPF programs)"
[[ -x $IG ]] || die "$IG not found: run 'make bench' (it builds ig first)"
if [[ -n $IG_REF ]]; then
	IG_REF=$(readlink -f "$IG_REF")
	[[ -x $IG_REF ]] || die "IG_REF=$IG_REF is not an executable"
	# Inspektor Gadget's ig refuses to start without debugfs (ours mounts
	# tracefs itself and needs no debugfs); this machine kind mounts neither.
	if ! mountpoint -q /sys/kernel/debug; then
		mount -t debugfs debugfs /sys/kernel/debug && echo "bench: mounted debugfs for IG_REF" >&2
	fi
	if ! mountpoint -q /sys/kernel/tracing; then
		mount -t tracefs tracefs /sys/kernel/tracing && echo "bench: mounted tracefs for IG_REF" >&2
	fi
fi
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
	# Running while one of its threads is: a process that has exited and
	# awaits its wait (a zombie) has none left in /proc/PID/task.
	running() { compgen -G "/proc/$IGPID/task/*" >/dev/null && [[ $(awk '{print $3}' "/proc/$IGPID/stat" 2>/dev/null) != Z ]]; }
	local i task stacks=
	for ((i = 1; i <= 100; i++)); do
		running || break
		if ((i == 20)); then
			# Still there after 1 s (seen a few times in make bench, never
			# outside it): what its threads wait on in the kernel, and,
			# at 2 s, where its goroutines are (SIGQUIT ends it).
			for task in /proc/"$IGPID"/task/*; do
				stacks+="  thread ${task##*/} ($(cat "$task/comm" 2>/dev/null)): state $(awk '{print $3}' "$task/stat" 2>/dev/null), wchan $(cat "$task/wchan" 2>/dev/null)"$'\n'
				stacks+=$(sed 's/^/    /' "$task/stack" 2>/dev/null)$'\n'
			done
		fi
		((i == 40)) && kill -QUIT "$IGPID" 2>/dev/null
		sleep 0.05
	done
	if ((i > 20)); then
		echo "bench: ig (pid $IGPID) took over 1 s to exit after SIGINT; its threads at 1 s, then its goroutines (SIGQUIT at 2 s):" >&2
		printf '%s' "$stacks" >&2
		[[ -z ${IGERR:-} ]] || { grep -A12 -E '^goroutine [0-9]+ ' "$IGERR" | head -300 | sed 's/^/  /' >&2 || true; }
		running && kill -KILL "$IGPID" 2>/dev/null
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

# Warm-up (page cache, CPU frequency), not measured.
pin "$WL_CPU" "$WL" -path "$TMP/warmup" -n "$N" >/dev/null

# measure NAME BIN: RUNS runs of the benchmark with BIN as the tracer; sets
# RESULT to the medians, KEY=VALUE on one line. (Not run in a subshell, so
# that the EXIT trap still stops a tracer that is running.)
measure() {
	local name=$1 bin=$2 r dir out err fe line target c q c0
	local -a cmd=("$bin" trace open --host -o json)
	[[ $IG_CPU == none ]] || cmd=(taskset -c "$IG_CPU" "${cmd[@]}")
	local -a U_WALL T_WALL RECV LOST FIRST RSS IGCPU DRAIN CHECK OTHER
	for ((r = 1; r <= RUNS; r++)); do
		dir=$TMP/run$r
		mkdir -p "$dir"

		# 1. untraced
		line=$(pin "$WL_CPU" "$WL" -path "$dir/untraced-$$-$r-$RANDOM" -n "$N") || die "workload failed"
		U_WALL[r]=$(kv wall_s "$line")

		# 2. start the tracer, time its first event
		out=$dir/ig.json err=$dir/ig.stderr
		t0=$EPOCHREALTIME
		# A simple command (not the pin function) so that $! is the tracer
		# itself: taskset execs it in place.
		"${cmd[@]}" >"$out" 2>"$err" &
		IGPID=$! IGERR=$err
		if ! fe=$("$BT" firstevent -out "$out" -marker "$dir/marker-$$-$r-$RANDOM" -since "$t0" -pid "$IGPID" -timeout 20s); then
			echo "bench: $bin stderr:" >&2
			sed 's/^/  /' "$err" >&2
			die "$bin did not start"
		fi
		FIRST[r]=$(kv first_event_s "$fe")
		[[ $(readlink "/proc/$IGPID/exe") == "$bin" ]] || die "pid $IGPID is not $bin; RSS/CPU would be wrong"

		# 3. traced workload
		target=$dir/traced-$$-$r-$RANDOM
		c0=$(ticks "$IGPID")
		line=$(pin "$WL_CPU" "$WL" -path "$target" -n "$N") || die "workload failed"
		T_WALL[r]=$(kv wall_s "$line")

		# 4. drain, then stop the tracer
		q=$("$BT" waitquiet -file "$out" -quiet 300ms -max 5s)
		DRAIN[r]=$(kv waited_s "$q")
		[[ $(kv quiet "$q") == true ]] || echo "bench: run $r: $bin's output still growing after 5 s" >&2
		IGCPU[r]=$(awk -v a="$c0" -v b="$(ticks "$IGPID")" -v hz="$HZ" 'BEGIN {printf "%.3f", (b-a)/hz}')
		RSS[r]=$(awk '/^VmHWM:/ {print $2}' "/proc/$IGPID/status")
		stop_ig
		((IG_RC == 0)) || { echo "bench: run $r: $bin exited with status $IG_RC; its stderr:" >&2; sed 's/^/  /' "$err" >&2; }
		# ours: "ig: lost N events in all"; Inspektor Gadget's: "lost N samples" warnings
		LOST[r]=$(cat "$err" "$out" | sed -n 's/.*ig: lost \([0-9]*\) events in all.*/\1/p; s/.*lost \([0-9]*\) samples.*/\1/p' |
			awk '{n += $1} END {print n + 0}')

		# 5. count
		c=$("$BT" count -path "$target" "$out") || die "counting failed"
		RECV[r]=$(kv matched "$c")
		OTHER[r]=$(($(kv total "$c") - RECV[r]))
		if ((RECV[r] + LOST[r] == N)); then CHECK[r]=OK; else CHECK[r]=MISMATCH; fi

		printf 'bench: %s run %d: untraced %.3fs traced %.3fs received %d lost %d (%s) first-event %.3fs drain %.2fs cpu %.2fs VmHWM %d kB, %d other lines\n' \
			"$name" "$r" "${U_WALL[r]}" "${T_WALL[r]}" "${RECV[r]}" "${LOST[r]}" "${CHECK[r]}" "${FIRST[r]}" "${DRAIN[r]}" "${IGCPU[r]}" "${RSS[r]}" "${OTHER[r]}" >&2
		rm -rf "$dir" # up to ~100 MB of JSON per run
	done

	local u t ok=0
	u=$(med "${U_WALL[@]}") t=$(med "${T_WALL[@]}")
	for ((r = 1; r <= RUNS; r++)); do [[ ${CHECK[r]} == OK ]] && ok=$((ok + 1)); done
	local eps cpu
	eps=$(med $(for ((r = 1; r <= RUNS; r++)); do awk -v n="${RECV[r]}" -v t="${T_WALL[r]}" 'BEGIN {printf "%.0f\n", n/t}'; done))
	cpu=$(med $(for ((r = 1; r <= RUNS; r++)); do awk -v c="${IGCPU[r]}" -v t="${T_WALL[r]}" -v d="${DRAIN[r]}" 'BEGIN {printf "%.0f\n", 100*c/(t+d)}'; done))
	RESULT="untraced=$u traced=$t recv=$(med "${RECV[@]}") lost=$(med "${LOST[@]}") first=$(med "${FIRST[@]}")"
	RESULT+=" rss_mib=$(awk -v k="$(med "${RSS[@]}")" 'BEGIN {printf "%.1f", k/1024}')"
	RESULT+=" slow=$(awk -v u="$u" -v t="$t" 'BEGIN {printf "%.2f", t/u}') eps=$eps cpu_pct=$cpu checks=$ok/$RUNS"
	RESULT+=" bin_mib=$(awk -v b="$(stat -c %s "$bin")" 'BEGIN {printf "%.1f", b/1048576}')"
}
med() { printf '%s\n' "$@" | median; }

measure ours "$IG"
ours=$RESULT ref=
if [[ -n $IG_REF ]]; then
	measure reference "$IG_REF"
	ref=$RESULT
fi

# meets VALUE LIMIT: "yes" if VALUE < LIMIT.
meets() { awk -v v="$1" -v l="$2" 'BEGIN {print (v < l) ? "yes" : "NO"}'; }
# o KEY / f KEY: our median / the reference's ("" without IG_REF).
o() { kv "$1" "$ours"; }
f() { [[ -z $ref ]] || kv "$1" "$ref"; }
# fmtv FORMAT KEY SOURCE: a formatted value, or "" when SOURCE has none.
fmtv() { local v; v=$($3 "$2"); [[ -z $v ]] || printf "$1" "$v"; }
pct() { [[ -z $1 ]] || awk -v l="$1" -v n="$N" 'BEGIN {printf "%.2f %%", 100*l/n}'; }
checkword() { [[ -z $1 ]] || { [[ ${1%/*} == "${1#*/}" ]] && echo "OK ($1 runs)" || echo "MISMATCH (${1%/*}/${1#*/} OK)"; }; }

echo
echo "ig trace open --host -o json: $N open+close on CPU $WL_CPU, the tracer on CPU $IG_CPU, median of $RUNS runs"
echo "measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $ncpu CPUs"
echo "ours: $("$IG" version 2>/dev/null | head -n1 || echo '(version unknown)')"
[[ -z $IG_REF ]] || echo "reference: $IG_REF ($("$IG_REF" version 2>/dev/null | head -n1 || echo 'version unknown'))"
echo
fmt='%-32s %18s %18s %10s %5s\n'
refname=reference
[[ -n $IG_REF ]] || refname="(no IG_REF)"
# shellcheck disable=SC2059
{
	printf "$fmt" "metric" "ours" "$refname" "target" "met"
	printf "$fmt" "--------------------------------" "------------------" "------------------" "----------" "-----"
	printf "$fmt" "events generated" "$N" "$([[ -z $ref ]] || echo "$N")" "" ""
	printf "$fmt" "events received" "$(o recv)" "$(f recv)" "" ""
	printf "$fmt" "events lost (the tracer's count)" "$(o lost)" "$(f lost)" "" ""
	printf "$fmt" "received + lost = generated" "$(checkword "$(o checks)")" "$(checkword "$(f checks)")" "" ""
	printf "$fmt" "loss" "$(pct "$(o lost)")" "$(pct "$(f lost)")" "0 %" "$(awk -v l="$(o lost)" 'BEGIN {print (l == 0) ? "yes" : "NO"}')"
	printf "$fmt" "events/s (received/traced wall)" "$(o eps)" "$(f eps)" "" ""
	printf "$fmt" "workload wall, untraced" "$(fmtv '%.3f s' untraced o)" "$(fmtv '%.3f s' untraced f)" "" ""
	printf "$fmt" "workload wall, traced" "$(fmtv '%.3f s' traced o)" "$(fmtv '%.3f s' traced f)" "" ""
	printf "$fmt" "slowdown (traced/untraced)" "$(fmtv '%sx' slow o)" "$(fmtv '%sx' slow f)" "< ${TGT_SLOWDOWN}x" "$(meets "$(o slow)" "$TGT_SLOWDOWN")"
	printf "$fmt" "start to first event" "$(fmtv '%.3f s' first o)" "$(fmtv '%.3f s' first f)" "< $TGT_FIRST_S s" "$(meets "$(o first)" "$TGT_FIRST_S")"
	printf "$fmt" "peak RSS (VmHWM)" "$(fmtv '%s MiB' rss_mib o)" "$(fmtv '%s MiB' rss_mib f)" "< $TGT_RSS_MIB MiB" "$(meets "$(o rss_mib)" "$TGT_RSS_MIB")"
	printf "$fmt" "binary size" "$(fmtv '%s MiB' bin_mib o)" "$(fmtv '%s MiB' bin_mib f)" "< $TGT_BIN_MIB MiB" "$(meets "$(o bin_mib)" "$TGT_BIN_MIB")"
	printf "$fmt" "tracer CPU while tracing+draining" "$(fmtv '%s %% of a core' cpu_pct o)" "$(fmtv '%s %% of a core' cpu_pct f)" "" ""
}

# --- gadget lines ---------------------------------------------------------
# measure_gadget NAME MODE N CHECK ARGS...: RUNS runs of the workload in
# MODE (N operations) untraced, then under `ig ARGS -v` (ig pinned as
# above; attached when -v says so), then one more second for the last
# table, and SIGINT. Peak RSS is ig's VmHWM, read every 50 ms until it
# exits (a summary gadget does its heaviest work, symbolizing, on stop).
# CHECK OUT TARGET says whether ig's output holds the workload's operations
# ("OK" or what is wrong). Sets GRESULT.
measure_gadget() {
	local name=$1 mode=$2 n=$3 check=$4 r dir out err line target hwm ok=0
	shift 4
	local -a U T RSSG
	for ((r = 1; r <= RUNS; r++)); do
		dir=$TMP/g$r
		mkdir -p "$dir"
		line=$(pin "$WL_CPU" "$WL" -mode "$mode" -path "$dir/untraced" -n "$n") || die "workload failed"
		U[r]=$(kv wall_s "$line")
		out=$dir/ig.out err=$dir/ig.err hwm=$dir/hwm
		if [[ $IG_CPU == none ]]; then "$IG" "$@" -v >"$out" 2>"$err" & else taskset -c "$IG_CPU" "$IG" "$@" -v >"$out" 2>"$err" & fi
		IGPID=$! IGERR=$err
		for _ in $(seq 400); do grep -q 'attached after' "$err" 2>/dev/null && break; sleep 0.05; done
		grep -q 'attached after' "$err" || { sed 's/^/  /' "$err" >&2; die "ig $* did not attach"; }
		(while [[ -r /proc/$IGPID/status ]]; do awk '/^VmHWM:/ {print $2}' "/proc/$IGPID/status" >"$hwm.tmp" 2>/dev/null && [[ -s $hwm.tmp ]] && mv "$hwm.tmp" "$hwm"; sleep 0.05; done) &
		local poller=$!
		target=$dir/traced
		line=$(pin "$WL_CPU" "$WL" -mode "$mode" -path "$target" -n "$n") || die "workload failed"
		T[r]=$(kv wall_s "$line")
		sleep 1.2
		stop_ig
		wait "$poller" 2>/dev/null || true
		RSSG[r]=$(cat "$hwm" 2>/dev/null || echo 0)
		local verdict
		verdict=$($check "$out" "$target" "$n")
		[[ $verdict == OK ]] && ok=$((ok + 1))
		printf 'bench: %s run %d: untraced %.3fs traced %.3fs VmHWM %d kB, check: %s\n' "$name" "$r" "${U[r]}" "${T[r]}" "${RSSG[r]}" "$verdict" >&2
		rm -rf "$dir"
	done
	local u t
	u=$(med "${U[@]}") t=$(med "${T[@]}")
	GRESULT="slow=$(awk -v u="$u" -v t="$t" 'BEGIN {printf "%.2f", t/u}') untraced=$u traced=$t"
	GRESULT+=" rss_mib=$(awk -v k="$(med "${RSSG[@]}")" 'BEGIN {printf "%.1f", k/1024}') checks=$ok/$RUNS"
}

# top file's tables, added up over the intervals, count every write.
check_topfile() {
	local got
	got=$(jq -s --arg p "$2" '[.[][] | select(.filename == $p) | .writes] | add // 0' "$1")
	if [[ $got == "$3" ]]; then echo OK; else echo "counted $got writes of $3"; fi
}

# profile cpu's hottest folded stack is the workload's spin loop.
check_profilecpu() {
	local top
	top=$(awk '{print $NF, $0}' "$1" | sort -nr | head -n1)
	if [[ $top == *main.spin* ]]; then echo OK; else echo "hottest stack is not main.spin: ${top:0:120}"; fi
}

# trace tcpconnect shows each of the workload's connects, to its port.
check_tcpconnect() {
	local got port
	port=$(cat "$2")
	got=$(jq -s --argjson p "$port" '[.[] | select(.dst.port == $p and .error == "")] | length' "$1")
	if [[ $got == "$3" ]]; then echo OK; else echo "showed $got connects of $3"; fi
}

# trace dns shows each query and each response: none lost. (Its peak RSS
# is above trace open's: two programs relocated against the kernel's
# types, the tp_btf one with many.)
check_dns() {
	local q r name
	name=$(basename "$2").bench.test.
	q=$(jq -s --arg n "$name" '[.[] | select(.name == $n and .qr == "Q")] | length' "$1")
	r=$(jq -s --arg n "$name" '[.[] | select(.name == $n and .qr == "R")] | length' "$1")
	if [[ $q == "$3" && $r == "$3" ]]; then echo OK; else echo "showed $q queries and $r responses of $3"; fi
}

# A -F that drops every event shows none of the workload's opens.
check_none() {
	local got
	got=$(jq -s --arg p "$2" '[.[] | select(.path == $p)] | length' "$1")
	if [[ $got == 0 ]]; then echo OK; else echo "showed $got opens, want none"; fi
}

NW=${NW:-200000}
measure_gadget "top file" write "$NW" check_topfile top file -o json --interval 1 --sort -writes -m 1000
topfile=$GRESULT
NS=${NS:-20000}
measure_gadget "profile cpu" spin "$NS" check_profilecpu profile cpu -o folded
profilecpu=$GRESULT
NC=${NC:-20000}
measure_gadget "trace tcpconnect" connect "$NC" check_tcpconnect trace tcpconnect -o json
tcpconnect=$GRESULT
ND=${ND:-50000}
measure_gadget "trace dns" dns "$ND" check_dns trace dns -o json
dns=$GRESULT
# -F comm: an equality is pushed down to the kernel, which drops the
# workload's opens before they are copied to ig; a regular expression is
# checked in user space, after every open went through the ring buffer.
NF=${NF:-200000}
measure_gadget "-F comm (kernel)" open "$NF" check_none trace open --host -o json -F comm:nosuchcomm
fpushed=$GRESULT
measure_gadget "-F comm:~ (user)" open "$NF" check_none trace open --host -o json -F 'comm:~^nosuchcomm$'
fuser=$GRESULT

echo
echo "gadget lines (ours), median of $RUNS runs; workload on CPU $WL_CPU, ig on CPU $IG_CPU"
gfmt='%-18s %-40s %10s %8s %10s %8s %s\n'
# shellcheck disable=SC2059
{
	printf "$gfmt" "gadget" "workload" "slowdown" "target" "peak RSS" "target" "check"
	printf "$gfmt" "------------------" "----------------------------------------" "----------" "--------" "----------" "--------" "-----"
	printf "$gfmt" "top file" "$NW writes of 4 KiB" "$(kv slow "$topfile")x" "< 1.3x" "$(kv rss_mib "$topfile") MiB" "< 40" "$(checkword "$(kv checks "$topfile")")"
	printf "$gfmt" "profile cpu" "$NS x 100 000 rounds of a loop, 49 Hz" "$(kv slow "$profilecpu")x" "< 1.05x" "$(kv rss_mib "$profilecpu") MiB" "< 64" "$(checkword "$(kv checks "$profilecpu")")"
	printf "$gfmt" "trace tcpconnect" "$NC connects over loopback" "$(kv slow "$tcpconnect")x" "< 1.3x" "$(kv rss_mib "$tcpconnect") MiB" "< 40" "$(checkword "$(kv checks "$tcpconnect")")"
	printf "$gfmt" "trace dns" "$ND UDP queries, each answered" "$(kv slow "$dns")x" "< 1.5x" "$(kv rss_mib "$dns") MiB" "< 64" "$(checkword "$(kv checks "$dns")")"
	printf "$gfmt" "-F comm (kernel)" "$NF opens, another comm's filtered" "$(kv slow "$fpushed")x" "" "$(kv rss_mib "$fpushed") MiB" "" "$(checkword "$(kv checks "$fpushed")")"
	printf "$gfmt" "-F comm:~ (user)" "$NF opens, the same by a regex" "$(kv slow "$fuser")x" "" "$(kv rss_mib "$fuser") MiB" "" "$(checkword "$(kv checks "$fuser")")"
}
