// SPDX-License-Identifier: GPL-2.0
/*
 * seal_flow.sh: empty the caller's user and session keyrings, as a reboot does (the
 * guest has no keyctl(1)). Built static below build/selftests/LANE/helpers.
 */
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	static const struct {
		long id;
		const char *name;
	} rings[] = { { KEY_SPEC_USER_KEYRING, "@u" }, { KEY_SPEC_SESSION_KEYRING, "@s" } };

	for (unsigned int i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
		if (syscall(SYS_keyctl, KEYCTL_CLEAR, rings[i].id) < 0 && errno != ENOKEY) {
			fprintf(stderr, "keyring-clear: %s: ", rings[i].name);
			perror("KEYCTL_CLEAR");
			return 1;
		}
	}
	return 0;
}
