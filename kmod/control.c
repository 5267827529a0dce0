// SPDX-License-Identifier: GPL-2.0
/*
 * Control plane: the /dev/ramcrypt misc device and its ioctls
 * (include/uapi/linux/ramcrypt.h).
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <uapi/linux/ramcrypt.h>

#include "control.h"
#include "ramcrypt.h"

static long rc_ioctl_version(void __user *arg)
{
	struct ramcrypt_version v = {
		.abi = RAMCRYPT_ABI_VERSION,
		.module = ((u64)RAMCRYPT_VERSION_MAJOR << 32) |
			  (RAMCRYPT_VERSION_MINOR << 16) | RAMCRYPT_VERSION_PATCH,
	};

	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long rc_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case RAMCRYPT_IOC_VERSION:
		return rc_ioctl_version(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations rc_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = rc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Root-only by default (0600); see docs/ADMIN.md to grant a group. */
static struct miscdevice rc_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ramcrypt",
	.fops = &rc_fops,
	.mode = 0600,
};

int rc_control_init(void)
{
	return misc_register(&rc_miscdev);
}

void rc_control_uninit(void)
{
	misc_deregister(&rc_miscdev);
}
