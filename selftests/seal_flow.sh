#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The KEK -> DEK -> protected server flow of seed 003 (docs/SEALING.md), end to end in
# the test guest, as TAP: the admin loads the passphrase key (the KEK), seals the DEK
# into a keyring, and a protected server gets the DEK, by libramcrypt or from
# `ramcrypt run --secret`, and proves it holds it by printing HMAC-SHA256(DEK,
# "ramcrypt seal_flow"), compared here with the value computed on the host. A wrong
# passphrase, an unprotected server, a missing name and a module reload each get a
# clear error and nothing on stdout. A sealed-secret file (secret seal --output)
# brings the DEK back after the keyrings are emptied, as after a reboot. Runs as root
# with ramcrypt.ko loaded; leaves the module loaded with the test passphrase key.

server=/selftests/helpers/dek-server
keyring_clear=/selftests/helpers/keyring-clear
dek_hex=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
# python3 -c 'import hmac,hashlib; print(hmac.new(bytes(range(32)), b"ramcrypt seal_flow", hashlib.sha256).hexdigest())'
want=fc4d9952f234163ade596aa6344e821a19dc4925b7ee542def94e03982a73027
# PBKDF2 at its minimum: TCG runs 600000 iterations slowly, and the count is not tested here.
iter=1000

echo "TAP version 13"
if [ ! -e /proc/keys ]; then
	echo "1..0 # SKIP kernel without CONFIG_KEYS (no keyrings)"
	exit 4
fi
if [ ! -x "$server" ]; then
	echo "1..0 # SKIP $server missing"
	exit 4
fi

tmp=$(mktemp -d /tmp/ramcrypt-seal.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
n=0 failed=0

# run CMD...: status in rc, output in $tmp/out and $tmp/err.
run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() {
	n=$((n + 1)); failed=1
	echo "not ok $n - $1"
	echo "# $2 (exit status $rc)"
	sed 's/^/# stdout: /' "$tmp/out"
	sed 's/^/# stderr: /' "$tmp/err"
}
check() { if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi; }
out_is_hmac() { [ "$(sed -n 's/.*hmac=//p' "$tmp/out")" = "$want" ]; }
err_has() { grep -q -- "$1" "$tmp/err"; }

# The DEK as bytes (it starts with a NUL byte), and the KEK passphrases.
printf "$(echo $dek_hex | sed 's/../\\x&/g')" >"$tmp/dek"
printf 'correct horse battery staple' >"$tmp/kek"
printf 'correct horse battery stapler' >"$tmp/wrong"

# 1. At boot the admin types the KEK: here from a file.
run ramcrypt key load --key-file "$tmp/kek" --iterations $iter
check "admin loads the passphrase key (KEK)" "$([ $rc -eq 0 ] || echo 'key load failed')"

# 2. The DEK is sealed into root's user keyring, and into a file that outlives the
#    keyrings; the plaintext file is gone after.
run ramcrypt secret seal db-dek --keyring @u --from-file "$tmp/dek"
check "seal the DEK into @u, no warning with a passphrase key" \
	"$([ $rc -eq 0 ] && [ ! -s "$tmp/err" ] || echo 'seal failed or warned')"
run ramcrypt secret seal db-dek --output "$tmp/db-dek.rcs" --from-file "$tmp/dek"
check "seal the DEK into a file (secret seal --output), root-only" \
	"$([ $rc -eq 0 ] && [ "$(stat -c %a "$tmp/db-dek.rcs")" = 600 ] &&
		[ "$(head -c 4 "$tmp/db-dek.rcs")" = RCSF ] || echo 'want a 0600 RCSF file')"
dd if=/dev/zero of="$tmp/dek" bs=32 count=1 conv=notrunc 2>/dev/null
rm -f "$tmp/dek"
check "the keyring holds the blob as ramcrypt:db-dek" \
	"$(grep -q 'user *ramcrypt:db-dek: 80$' /proc/keys || { echo 'not in /proc/keys:'; cat /proc/keys; })"

# 3. The protected server unseals the DEK itself (libramcrypt).
run ramcrypt run -- "$server" --unseal db-dek --keyring @u
check "protected server unseals the DEK with libramcrypt" \
	"$([ $rc -eq 0 ] && out_is_hmac || echo "want hmac=$want")"

# 4. An unmodified server gets it from ramcrypt run --secret (environment, as hex).
run ramcrypt run --secret db-dek=DEK:hex -- "$server" --env DEK
check "ramcrypt run --secret hands the DEK to an unmodified server" \
	"$([ $rc -eq 0 ] && out_is_hmac || echo "want hmac=$want")"
# The variable's pages go to the secret tier (ramcrypt-preload.so, dynamic programs).
run ramcrypt run --window 256 --secret db-dek=DEK:hex -- /selftests/helpers/secheap-check env DEK
check "run --secret marks the variable's pages a secret region" \
	"$([ $rc -eq 0 ] && grep -q '^var=1 secret_regions=1$' "$tmp/out" || echo 'want var=1 secret_regions=1')"
run ramcrypt run --secret db-dek=DEK -- sh -c 'echo RAN'
check "a DEK with a NUL byte cannot go raw into the environment; the command is not run" \
	"$([ $rc -eq 125 ] && err_has 'NUL byte' && [ ! -s "$tmp/out" ] || echo 'want 125, NUL byte')"

# 5. The tool checks a secret without ever printing it.
run ramcrypt secret unseal db-dek
check "ramcrypt secret unseal checks the blob, prints no secret" \
	"$([ $rc -eq 0 ] && grep -q '^db-dek: 32 bytes' "$tmp/out" || echo 'want db-dek: 32 bytes')"

# 6. Refusals: an unprotected server, a missing name.
run "$server" --unseal db-dek
check "an unprotected process gets EPERM and nothing" \
	"$([ $rc -eq 1 ] && err_has 'protected by ramcrypt' && [ ! -s "$tmp/out" ] || echo 'want EPERM')"
run ramcrypt run -- "$server" --unseal no-such-dek
check "a missing name is a clear error" \
	"$([ $rc -eq 1 ] && err_has 'no such sealed secret' && [ ! -s "$tmp/out" ] || echo 'want ENOKEY')"

# 7. A wrong KEK: the key loads (nothing is encrypted now), but the DEK will not open.
run ramcrypt key load --key-file "$tmp/wrong" --iterations $iter
[ $rc -eq 0 ] || fail "load the wrong passphrase" "key load failed"
run ramcrypt run -- "$server" --unseal db-dek
check "wrong passphrase: the server gets 'sealed under another key' and nothing" \
	"$([ $rc -eq 1 ] && err_has 'another ramcrypt key' && [ ! -s "$tmp/out" ] || echo 'want EKEYREJECTED')"
run ramcrypt run --secret db-dek=DEK:hex -- sh -c 'echo RAN'
check "wrong passphrase: ramcrypt run fails (125) and does not start the server" \
	"$([ $rc -eq 125 ] && err_has 'another ramcrypt key' && [ ! -s "$tmp/out" ] || echo 'want 125')"

# 8. The right KEK again opens the same blob: what a reboot with the same passphrase does.
run ramcrypt key load --key-file "$tmp/kek" --iterations $iter
run ramcrypt run -- "$server" --unseal db-dek
check "the right passphrase again opens the same blob" \
	"$([ $rc -eq 0 ] && out_is_hmac || echo "want hmac=$want")"

# 9. A module reload: a random key cannot open it, and sealing under one warns; the
#    passphrase brings the DEK back.
. /etc/guest.conf 2>/dev/null
if rmmod ramcrypt && insmod /lib/modules/ramcrypt.ko $MODULE_PARAMS; then
	run ramcrypt run -- "$server" --unseal db-dek
	check "after a module reload (random key) the DEK does not open" \
		"$([ $rc -eq 1 ] && err_has 'another ramcrypt key' || echo 'want EKEYREJECTED')"
	printf 'scratch' >"$tmp/scratch"
	run ramcrypt secret seal scratch --from-file "$tmp/scratch"
	check "sealing under a random key warns that the blob will not survive" \
		"$([ $rc -eq 0 ] && err_has 'cannot be unsealed after a reboot' || echo 'want the warning')"
	run ramcrypt key load --key-file "$tmp/kek" --iterations $iter
	run ramcrypt run -- "$server" --unseal db-dek
	check "the passphrase key after the reload opens the DEK" \
		"$([ $rc -eq 0 ] && out_is_hmac || echo "want hmac=$want")"
else
	rc=1; fail "reload the module" "rmmod/insmod failed"
fi

# 9b. A reboot empties the keyrings; the file sealed before the module reload brings
#     the blob back, and the same passphrase key opens it.
run "$keyring_clear"
run ramcrypt run -- "$server" --unseal db-dek
check "with the keyrings emptied (a reboot), the DEK is gone" \
	"$([ $rc -eq 1 ] && err_has 'no such sealed secret' || echo 'want ENOKEY after KEYCTL_CLEAR')"
run ramcrypt secret load "$tmp/db-dek.rcs"
check "secret load FILE puts the blob back into @u" \
	"$([ $rc -eq 0 ] && grep -q '^db-dek: loaded into keyring @u$' "$tmp/out" || echo 'load failed')"
run ramcrypt run --secret db-dek=DEK:hex "$server" --env DEK
check "the reloaded module's passphrase key opens the blob from the file (run --secret, no --)" \
	"$([ $rc -eq 0 ] && out_is_hmac || echo "want hmac=$want")"

# 10. A persistent keyring (what a service running as another user would use).
printf "$(echo $dek_hex | sed 's/../\\x&/g')" | ramcrypt secret seal db-dek-p --keyring @p >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ]; then
	run ramcrypt run -- "$server" --unseal db-dek-p --keyring @p
	check "seal into and unseal from the persistent keyring @p" \
		"$([ $rc -eq 0 ] && out_is_hmac || echo "want hmac=$want")"
else
	fail "seal into the persistent keyring @p" "seal failed"
fi

echo "1..$n"
exit $failed
