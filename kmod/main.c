// SPDX-License-Identifier: GPL-2.0
/*
 * ramcrypt: keep a process's private anonymous memory encrypted in RAM, with the key
 * held in the x86 debug registers. This file holds module init and exit only; each
 * subsystem is brought up in order and torn down in reverse.
 */
#include <linux/module.h>

#include "control.h"
#include "keystore.h"
#include "pages.h"
#include "procs.h"
#include "ramcrypt.h"

static int __init rc_init(void)
{
	int ret;

	/* First: the KATs and the key, before anything could encrypt a page. */
	ret = rc_keystore_init();
	if (ret)
		return ret;
	ret = rc_pages_init();
	if (ret)
		goto err_keystore;
	ret = rc_procs_init();
	if (ret)
		goto err_pages;
	/* Last: userspace must not reach a half-initialised module. */
	ret = rc_control_init();
	if (ret)
		goto err_procs;
	rc_keystore_debugfs_init();

	pr_info("version %d.%d.%d loaded\n", RAMCRYPT_VERSION_MAJOR,
		RAMCRYPT_VERSION_MINOR, RAMCRYPT_VERSION_PATCH);
	return 0;

err_procs:
	rc_procs_uninit();
err_pages:
	rc_pages_uninit();
err_keystore:
	rc_keystore_uninit();
	return ret;
}

static void __exit rc_exit(void)
{
	rc_keystore_debugfs_uninit();
	rc_control_uninit();
	rc_procs_uninit();
	rc_pages_uninit();
	rc_keystore_uninit();
	pr_info("unloaded\n");
}

module_init(rc_init);
module_exit(rc_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Keep process memory encrypted in RAM with a key held in debug registers");
MODULE_VERSION(__stringify(RAMCRYPT_VERSION_MAJOR) "." __stringify(RAMCRYPT_VERSION_MINOR) "." __stringify(RAMCRYPT_VERSION_PATCH));
