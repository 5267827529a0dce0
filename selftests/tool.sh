#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# End-to-end test of the ramcrypt tool against the real module. Runs as root in the
# test guest (busybox ash) with ramcrypt.ko loaded and ramcrypt on PATH, and prints
# TAP. What this module version does not implement yet ("not supported by this
# module version") is skipped with that reason. Exit status: 0 when nothing failed,
# 1 otherwise.

tmp=$(mktemp -d /tmp/ramcrypt-tool.XXXXXX) || exit 1
victim= bg= dev_mode=
cleanup() {
	[ -n "$victim" ] && kill "$victim" 2>/dev/null
	[ -n "$bg" ] && kill "$bg" 2>/dev/null
	[ -n "$dev_mode" ] && chmod "$dev_mode" /dev/ramcrypt
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
failed=0

pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# fail NAME WHY: report with the last command's exit status and output.
fail() {
	n=$((n + 1))
	failed=1
	echo "not ok $n - $1"
	echo "# $2"
	echo "# exit status: $rc"
	sed 's/^/# stdout: /' "$tmp/out"
	sed 's/^/# stderr: /' "$tmp/err"
}

# check NAME PROBLEM: pass when PROBLEM is empty.
check() {
	if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi
}

# Run ramcrypt; its exit status goes to rc, its output to $tmp/out and $tmp/err.
rc_run() {
	ramcrypt "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

out_has() { grep -q -E -- "$1" "$tmp/out"; }
err_has() { grep -q -E -- "$1" "$tmp/err"; }
unsupported() { err_has "not supported by this module version"; }

# Every line of FILE is one well-formed JSON object (busybox has no jq).
json_lines() {
	awk '
	function ws() { while (p <= n && index(" \t\r\n", substr(s, p, 1))) p++ }
	function lit(w) { if (substr(s, p, length(w)) != w) return 0; p += length(w); return 1 }
	function num() {
		if (!match(substr(s, p), /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) return 0
		p += RLENGTH
		return 1
	}
	function str(   c) {
		if (substr(s, p, 1) != "\"") return 0
		for (p++; p <= n; p++) {
			c = substr(s, p, 1)
			if (c == "\"") { p++; return 1 }
			if (c == "\\") {
				c = substr(s, ++p, 1)
				if (c == "u") {
					if (substr(s, p + 1, 4) !~ /^[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]$/) return 0
					p += 4
				} else if (!index("\"\\/bfnrt", c)) return 0
			} else if (c < " ") return 0
		}
		return 0
	}
	function val(   c) {
		ws()
		c = substr(s, p, 1)
		if (c == "{") return obj()
		if (c == "[") return arr()
		if (c == "\"") return str()
		if (c == "t") return lit("true")
		if (c == "f") return lit("false")
		if (c == "n") return lit("null")
		return num()
	}
	function obj() {
		p++; ws()
		if (lit("}")) return 1
		for (;;) {
			ws(); if (!str()) return 0
			ws(); if (!lit(":")) return 0
			if (!val()) return 0
			ws(); if (lit("}")) return 1
			if (!lit(",")) return 0
		}
	}
	function arr() {
		p++; ws()
		if (lit("]")) return 1
		for (;;) {
			if (!val()) return 0
			ws(); if (lit("]")) return 1
			if (!lit(",")) return 0
		}
	}
	{
		s = $0; n = length(s); p = 1
		ws()
		if (substr(s, p, 1) != "{" || !obj()) bad = 1
		ws()
		if (p <= n) bad = 1
	}
	END { exit bad || NR == 0 }' "$1"
}

# FILE is one JSON object over any number of lines (ps -J). JSON strings hold no
# raw newline, so the lines joined are one object on one line.
json_doc() {
	tr -d '\n' <"$1" >"$1.joined" && echo >>"$1.joined" && json_lines "$1.joined"
}

# --- version and status ---------------------------------------------------------

test_version() {
	rc_run version
	tool_abi=$(sed -n 's/^ramcrypt [0-9.]* (ABI \([0-9]*\))$/\1/p' "$tmp/out")
	module_abi=$(sed -n 's/^module [0-9.]* (ABI \([0-9]*\))$/\1/p' "$tmp/out")
	problem=
	[ "$rc" -eq 0 ] || problem="want exit status 0"
	[ -n "$module_abi" ] || problem="no 'module X.Y.Z (ABI N)' line"
	[ "$module_abi" = "$tool_abi" ] || problem="module ABI $module_abi, tool ABI $tool_abi"
	check "version shows the module's ABI" "$problem"
}

test_version_json() {
	rc_run version --json
	problem=
	json_lines "$tmp/out" || problem="not one JSON object per line"
	out_has '^\{"tool_version":"[0-9]+\.[0-9]+\.[0-9]+","tool_abi":[0-9]+,"loaded":true,"module_version":"[0-9]+\.[0-9]+\.[0-9]+","module_abi":[0-9]+\}$' ||
		problem="keys differ from ramcrypt(8)"
	[ "$(wc -l <"$tmp/out")" -eq 1 ] || problem="want one line"
	check "version --json" "$problem"
}

test_status_json() {
	rc_run status --json
	problem=
	[ "$(wc -l <"$tmp/out")" -eq 1 ] || problem="want one line"
	json_lines "$tmp/out" || problem="not a JSON object"
	for re in '^\{"tool_version":"[0-9.]+","loaded":true,"module_version":"[0-9.]+","module_abi":[0-9]+,' \
		'"sysctl":\{[^}]*\},"protects":\["private anonymous memory' \
		'"does_not_protect":\["root or kernel code execution' '"notes":\["[^"]*non-dumpable'; do
		out_has "$re" || problem="no match for $re"
	done
	if out_has '"key_source"'; then
		out_has '"key_source":"(none|random|passphrase)","key_generation":[0-9]+,"cpus_online":[1-9][0-9]*,"cpus_with_key":[0-9]+,"degraded":\[[^]]*\],"healthy":(true|false),' ||
			problem="key fields differ from ramcrypt(8)"
	fi
	# The exit status must tell the same story as the output.
	if out_has '"healthy":true'; then
		[ "$rc" -eq 0 ] || problem="healthy, but exit status $rc"
	elif out_has '"healthy":false'; then
		[ "$rc" -eq 2 ] || problem="not healthy, but exit status $rc (want 2)"
	elif err_has '^ramcrypt: status: not supported by this module version$'; then
		[ "$rc" -eq 1 ] || problem="status unsupported, but exit status $rc"
	else
		problem="neither a health verdict nor 'not supported'"
	fi
	check "status --json is one JSON object with the documented keys" "$problem"
}

test_status_text() {
	rc_run status
	problem=
	out_has '^module: +loaded, version [0-9.]+, ABI [0-9]+$' || problem="no module line"
	for text in '^protects:$' '^does not protect:$' 'the window: the most recently used pages' \
		'file-backed and shared mappings' 'traps debug register accesses'; do
		out_has "$text" || problem="missing '$text'"
	done
	check "status shows the module and what is and is not protected" "$problem"
}

# --- usage ----------------------------------------------------------------------

test_unknown_command() {
	rc_run frobnicate
	problem=
	[ "$rc" -ne 0 ] || problem="want a non-zero exit status"
	err_has "^ramcrypt: unknown command 'frobnicate'$" || problem="no 'unknown command' message"
	err_has "^Try 'ramcrypt --help' for more information\.$" || problem="no pointer to --help"
	[ "$(wc -l <"$tmp/err")" -eq 2 ] || problem="want two lines"
	check "unknown command fails in two lines" "$problem"
}

test_small_window() {
	rc_run protect --window 1 $$
	problem=
	[ "$rc" -eq 1 ] || problem="want exit status 1"
	err_has "^ramcrypt: invalid window '1': must be a number of pages, at least [0-9]+$" ||
		problem="no 'invalid window' message"
	check "window below the minimum is refused by the tool" "$problem"
}

# --- run ------------------------------------------------------------------------

# run_case NAME WANT_RC [STDERR_RE] -- ARGS...: the exit status of ramcrypt run.
run_case() {
	name=$1 want=$2 re=$3
	shift 4
	rc_run run "$@"
	if [ "$rc" -eq 125 ] && unsupported; then
		skip "$name" "protect is not supported by this module version"
		return
	fi
	problem=
	[ "$rc" -eq "$want" ] || problem="want exit status $want"
	[ -z "$re" ] || err_has "$re" || problem="no match for $re"
	check "$name" "$problem"
}

test_run_not_found() {
	run_case "run of a missing command exits 127" 127 \
		'^ramcrypt: failed to execute /nonexistent/command: No such file or directory$' \
		-- -- /nonexistent/command
}

test_run_not_executable() {
	run_case "run of a non-executable file exits 126" 126 \
		'^ramcrypt: failed to execute /etc: Permission denied$' -- /etc
}

test_run_status() {
	run_case "run exits with the command's status" 3 "" -- --window 8 -- sh -c 'exit 3'
}

# wait_pid FILE: wait (up to 10 s, while $bg lives) for "pid N" in FILE; print N.
wait_pid() {
	i=0
	while [ ! -s "$1" ] && kill -0 "$bg" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sed -n 's/^pid \([0-9]*\)$/\1/p' "$1" 2>/dev/null
}

test_run_protects() {
	name="run protects the command it executes"
	# ps runs unprotected, from here: what is tested is run, not the protected
	# process's own output (see test_protected_tool_output). COMMAND is read after
	# the exec, so it is the command's name.
	ramcrypt run -- sh -c 'echo "pid $$" >"$1/run.pid"; exec sleep 30' sh "$tmp" \
		>/dev/null 2>"$tmp/run.err" &
	bg=$!
	pid=$(wait_pid "$tmp/run.pid")
	i=0
	while [ "$(cat /proc/$pid/comm 2>/dev/null)" != sleep ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	rc_run ps -J -o PID,COMMAND,INHERIT_EXEC
	kill "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
	bg=
	if unsupported || grep -q "not supported by this module version" "$tmp/run.err"; then
		skip "$name" "protect or ps is not supported by this module version"
		return
	fi
	problem=
	[ "$rc" -eq 0 ] || problem="want exit status 0"
	if [ -z "$pid" ]; then
		problem="the command did not start: $(cat "$tmp/run.err")"
	elif ! out_has "^\\{\"pid\":$pid,"; then
		problem="pid $pid not listed by ps -J"
	elif ! out_has "^\\{\"pid\":$pid,\"command\":\"sleep\",\"inherit_exec\":true\\}"; then
		problem="pid $pid listed, but not as command sleep with inherit_exec"
	fi
	check "$name" "$problem"
}

test_run_tier_options() {
	name="run --secret-window and --max-plain-age reach the module (ps -J)"
	rm -f "$tmp/tier.pid"
	ramcrypt run --secret-window 5 --max-plain-age 250 -- \
		sh -c 'echo "pid $$" >"$1/tier.pid"; exec sleep 30' sh "$tmp" >/dev/null 2>"$tmp/tier.err" &
	bg=$!
	pid=$(wait_pid "$tmp/tier.pid")
	rc_run ps -J -o PID,SECRET_WINDOW,SECRET_REGIONS,MAX_PLAIN_AGE_MS
	kill "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
	bg=
	problem=
	if [ -z "$pid" ]; then
		problem="the command did not start: $(cat "$tmp/tier.err")"
	elif ! out_has "^\\{\"pid\":$pid,\"secret_window\":5,\"secret_regions\":0,\"max_plain_age_ms\":250\\}"; then
		problem="pid $pid not listed with secret_window 5, no regions and max_plain_age_ms 250"
	fi
	check "$name" "$problem"
}

# run --secure-heap: ramcrypt-preload.so starts OpenSSL's secure heap in an unmodified
# program before main() and marks it secret; OpenSSL then decodes a private key into
# it, and after a signature no copy of p or q is left in ordinary memory (RSA's
# Montgomery contexts, which the preload keeps in the secure heap too). The control,
# in the same boot, is the same program under plain run: its copies must be found.
test_run_secure_heap() {
	name="run --secure-heap puts a loaded RSA key's private values, p and q's Montgomery copies too, in a marked secure heap"
	probe=/selftests/helpers/secheap-check
	problem=
	# Progress lines: on the debug kernel each step takes minutes, and a silent guest is killed.
	echo "# $name: generating an RSA-2048 key"
	if ! "$probe" genkey "$tmp/rsa.pem" >"$tmp/out" 2>"$tmp/err"; then
		rc=$? problem="generating the key failed"
	else
		# A large ordinary window: OpenSSL's start-up at the default 6 takes minutes under TCG.
		echo "# $name: the control, plain run"
		rc_run run --window 256 -- "$probe" key "$tmp/rsa.pem"
		cp "$tmp/out" "$tmp/control.out"
		if [ "$rc" -ne 0 ] || ! out_has '^secure_heap=0 secure_used=0 secret_regions=0 ordinary_pq=[1-9][0-9]*$'; then
			problem="control (plain run): want no secure heap, no secret region and p, q found in ordinary memory"
		else
			echo "# $name: run --secure-heap=64K"
			rc_run run --window 256 --secure-heap=64K -- "$probe" key "$tmp/rsa.pem"
			used=$(sed -n 's/.*secure_used=\([0-9]*\).*/\1/p' "$tmp/out")
			if [ "$rc" -ne 0 ] || ! out_has '^secure_heap=1 secure_used=[0-9]+ secret_regions=1 ordinary_pq=[0-9]+$'; then
				problem="want the secure heap started and one secret region"
			elif [ "${used:-0}" -lt 1024 ]; then
				problem="want the key's private values (>= 1 KiB) in the secure heap, $used bytes used"
			elif ! out_has 'ordinary_pq=0$'; then
				problem="want no copy of p or q outside the secure heap: $(cat "$tmp/out")"
			fi
		fi
	fi
	check "$name" "$problem"
}

test_protected_tool_output() {
	name="a protected process computes correctly (ramcrypt ps -J under run)"
	# Every store to an encrypted page faults, and CLI11 sets the --json flag with a
	# setg to memory. QEMU 7.2's TCG stored wrong SETcc results after such a fault
	# (selftests/emulator/setcc-fault.c); the harness needs QEMU 10, which does not.
	# At window 6 one run is ~200,000 faults: 25-45 s under TCG, 7-10 minutes on the
	# debug kernel, which runs it once (RAMCRYPT_DEBUG_LANE), with a line per run.
	bad=0 runs=5
	[ -n "${RAMCRYPT_DEBUG_LANE:-}" ] && runs=1
	for i in $(seq $runs); do
		echo "# $name: run $i of $runs"
		rc_run run -- ramcrypt ps -J
		json_doc "$tmp/out" || bad=$((bad + 1))
	done
	check "$name" "$([ $bad -eq 0 ] || echo "$bad of $runs runs printed no JSON")"
}

# --- protect, ps, set window, unprotect -------------------------------------------

test_protect_missing() {
	name="protect of a missing process says No such process"
	rc_run protect 999999
	if unsupported; then
		skip "$name" "protect is not supported by this module version"
		return
	fi
	problem=
	[ "$rc" -eq 1 ] || problem="want exit status 1"
	err_has '^ramcrypt: protect 999999: No such process$' || problem="wrong message"
	check "$name" "$problem"
}

# The victim keeps random data in a shell variable and, once released through the
# fifo, compares it with the copy it wrote to a file: pages damaged by encryption
# or decryption make it fail.
start_victim() {
	mkfifo "$tmp/fifo" || return 1
	sh -c 'v=$(head -c 8192 /dev/urandom | od -An -tx1 | tr -d " \n")
		printf %s "$v" >"$1/expect.tmp" && mv "$1/expect.tmp" "$1/expect"
		read go <"$1/fifo"
		[ "$v" = "$(cat "$1/expect")" ]' sh "$tmp" &
	victim=$!
	i=0
	while [ ! -s "$tmp/expect" ] && [ $i -lt 30 ]; do
		sleep 1
		i=$((i + 1))
	done
	[ -s "$tmp/expect" ]
}

lifecycle=	# why the protect/ps/unprotect tests cannot run, if they cannot

test_protect() {
	name="protect a running process"
	if ! start_victim; then
		rc=- && : >"$tmp/out" && : >"$tmp/err"
		lifecycle="no test process"
		fail "$name" "could not start the test process"
		return
	fi
	rc_run protect "$victim"
	if unsupported; then
		lifecycle="protect is not supported by this module version"
		skip "$name" "$lifecycle"
		return
	fi
	problem=
	[ "$rc" -eq 0 ] || problem="want exit status 0"
	[ ! -s "$tmp/err" ] || problem="want no message"
	[ -z "$problem" ] || lifecycle="protect failed"
	check "$name" "$problem"
}

# ps_lists PID: the last ps -J lists PID.
ps_lists() { out_has "^\\{\"pid\":$1,"; }

test_ps() {
	name="ps lists the protected process"
	[ -z "$lifecycle" ] || { skip "$name" "$lifecycle"; return; }
	rc_run ps -J
	if unsupported; then
		skip "$name" "ps is not supported by this module version"
		return
	fi
	problem=
	[ "$rc" -eq 0 ] || problem="want exit status 0"
	json_doc "$tmp/out" || problem="not one JSON object"
	out_has '^\{"processes":\[$' || problem="not {\"processes\":[...]}"
	ps_lists "$victim" || problem="pid $victim not listed"
	if [ -z "$problem" ]; then
		rc_run ps
		out_has '^ *PID +WINDOW +WINDOW_PAGES +SECRET_WINDOW +SECRET_WINDOW_PAGES +ENCRYPTED_PAGES +FAULTS ' || problem="no table header"
		out_has "^ *$victim +[0-9]+ " || problem="pid $victim not in the table"
	fi
	check "$name" "$problem"
}

# The victim is sh; its window is the module's default, at least RAMCRYPT_MIN_WINDOW.
test_ps_columns() {
	name="ps -o, -n, -r and an unknown column"
	[ -z "$lifecycle" ] || { skip "$name" "$lifecycle"; return; }
	rc_run ps -n -r -o COMMAND,pid,WINDOW
	problem=
	[ "$rc" -eq 0 ] || problem="want exit status 0"
	out_has "^sh $victim [0-9]+\$" || problem="no line 'sh $victim WINDOW'"
	out_has '[A-Z]' && problem="a header line with -n"
	if [ -z "$problem" ]; then
		rc_run ps -o NO_SUCH_COLUMN
		[ "$rc" -eq 1 ] || problem="unknown column: want exit status 1"
		[ ! -s "$tmp/out" ] || problem="unknown column: want no output"
		[ "$(cat "$tmp/err")" = "ramcrypt: unknown column 'NO_SUCH_COLUMN'
Try 'ramcrypt ps --help' for more information." ] || problem="unknown column: wrong message"
	fi
	check "$name" "$problem"
}

test_set_window() {
	name="set window changes the window"
	[ -z "$lifecycle" ] || { skip "$name" "$lifecycle"; return; }
	rc_run set window "$victim" 8
	if unsupported; then
		skip "$name" "set window is not supported by this module version"
		return
	fi
	problem=
	[ "$rc" -eq 0 ] || problem="want exit status 0"
	if [ -z "$problem" ]; then
		rc_run ps -J
		unsupported || out_has "^\\{\"pid\":$victim,\"window\":8," || problem="ps does not show window 8"
	fi
	check "$name" "$problem"
}

test_unprotect() {
	name="unprotect stops protection"
	[ -z "$lifecycle" ] || { skip "$name" "$lifecycle"; return; }
	rc_run unprotect "$victim"
	if unsupported; then
		lifecycle="unprotect is not supported by this module version"
		skip "$name" "$lifecycle"
		return
	fi
	problem=
	[ "$rc" -eq 0 ] || problem="want exit status 0"
	if [ -z "$problem" ]; then
		rc_run ps -J
		unsupported || ! ps_lists "$victim" || problem="pid $victim still listed"
	fi
	check "$name" "$problem"
}

test_data_intact() {
	name="the process's data survived protect and unprotect"
	if [ -n "$lifecycle" ]; then
		skip "$name" "$lifecycle"
		return
	fi
	rc=- && : >"$tmp/out" && : >"$tmp/err"
	kill -0 "$victim" 2>/dev/null && echo go >"$tmp/fifo"
	wait "$victim"
	status=$?
	victim=
	[ "$status" -eq 0 ] && pass "$name" || fail "$name" "test process exited with $status"
}

# --- permissions ----------------------------------------------------------------

# as_nobody ARGS...: ramcrypt as uid 65534; exit status to rc, output to $tmp/{out,err}.
as_nobody() {
	su -s /bin/sh -c "exec ramcrypt $*" nobody >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

test_unprivileged() {
	name="an unprivileged user may not protect another user's process"
	dev_mode=$(stat -c %a /dev/ramcrypt) || { fail "$name" "stat /dev/ramcrypt"; return; }
	sleep 30 &
	target=$!
	problem=
	# Device open to everyone: the module's ptrace rule still refuses.
	chmod 0666 /dev/ramcrypt
	as_nobody protect "$target"
	if unsupported; then
		kill "$target"
		chmod "$dev_mode" /dev/ramcrypt && dev_mode=
		skip "$name" "protect is not supported by this module version"
		return
	fi
	[ "$rc" -eq 1 ] || problem="want exit status 1"
	err_has "^ramcrypt: protect $target: Operation not permitted$" || problem="wrong message for protect"
	if [ -z "$problem" ]; then
		# Read access only: reporting works, changing is refused at open.
		chmod 0644 /dev/ramcrypt
		as_nobody ps -J
		[ "$rc" -eq 0 ] || problem="ps with read access: exit status $rc"
		if [ -z "$problem" ]; then
			as_nobody unprotect "$target"
			[ "$rc" -eq 1 ] || problem="unprotect with read access: want exit status 1"
			err_has '^ramcrypt: /dev/ramcrypt: Permission denied' || problem="wrong message for read access"
		fi
	fi
	chmod "$dev_mode" /dev/ramcrypt && dev_mode=
	rc_keep=$rc
	ramcrypt ps -J >"$tmp/ps" 2>&1
	grep -q "^{\"pid\":$target," "$tmp/ps" && problem="pid $target is protected"
	kill "$target"
	wait "$target" 2>/dev/null
	rc=$rc_keep
	check "$name" "$problem"
}

# --- key and selftest ----------------------------------------------------------

test_key_status() {
	name="key status --json"
	rc_run key status --json
	if unsupported; then
		skip "$name" "status is not supported by this module version"
		return
	fi
	problem=
	json_lines "$tmp/out" || problem="not a JSON object"
	out_has '^\{"key_source":"(none|random|passphrase)","key_generation":[0-9]+,"cpus_online":[0-9]+,"cpus_with_key":[0-9]+,"key_heals":[0-9]+,"degraded":\[[^]]*\],"healthy":(true|false)\}$' ||
		problem="keys differ from ramcrypt(8)"
	if out_has '"healthy":true'; then
		[ "$rc" -eq 0 ] || problem="healthy, but exit status $rc"
	else
		[ "$rc" -eq 2 ] || problem="not healthy, but exit status $rc (want 2)"
	fi
	check "$name" "$problem"
}

test_selftest() {
	name="selftest passes"
	rc_run selftest
	if unsupported; then
		skip "$name" "selftest is not supported by this module version"
		return
	fi
	problem=
	[ "$rc" -eq 0 ] || problem="want exit status 0"
	out_has '^selftest passed$' || problem="no 'selftest passed'"
	check "$name" "$problem"
}

tests="test_version test_version_json test_status_json test_status_text test_unknown_command
	test_small_window test_run_not_found test_run_not_executable test_run_status
	test_run_protects test_run_tier_options test_run_secure_heap test_protected_tool_output test_protect_missing test_protect
	test_ps test_ps_columns test_set_window test_unprotect test_data_intact test_unprivileged
	test_key_status
	test_selftest"

echo "TAP version 13"
if ! command -v ramcrypt >/dev/null; then
	echo "Bail out! ramcrypt is not on PATH"
	exit 1
fi
if ramcrypt version | grep -q '^module not loaded$'; then
	echo "Bail out! the ramcrypt module is not loaded"
	exit 1
fi
set -- $tests
echo "1..$#"
for t in $tests; do
	$t
done
exit $failed
