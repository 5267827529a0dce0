// SPDX-License-Identifier: GPL-2.0
/*
 * The module and its device: /dev/ramcrypt answers VERSION, rejects what it does not
 * know, is root-only, and unloading leaves nothing behind. Runs in the test guest
 * with ramcrypt.ko loaded (scripts/guest-run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ramcrypt.h>

#include "kselftest_harness.h"

#define MODULE_PATH "/lib/modules/ramcrypt.ko"

static int path_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", RAMCRYPT_DEVICE, strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

TEST_F(dev, version)
{
	struct ramcrypt_version v = { 0 };

	ASSERT_EQ(0, ioctl(self->fd, RAMCRYPT_IOC_VERSION, &v));
	EXPECT_EQ(RAMCRYPT_ABI_VERSION, v.abi);
	EXPECT_NE(0, v.module) TH_LOG("module version must not be 0.0.0");
}

TEST_F(dev, version_bad_pointer)
{
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, RAMCRYPT_IOC_VERSION, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(dev, unknown_commands_get_enotty)
{
	const unsigned long bogus[] = {
		_IO(RAMCRYPT_IOC_MAGIC, 0xff),
		_IOR(RAMCRYPT_IOC_MAGIC, 0x00, __u32),		/* VERSION with a wrong size */
		_IOW(RAMCRYPT_IOC_MAGIC, 0x00, struct ramcrypt_version), /* wrong direction */
		_IOR('X', 0x00, struct ramcrypt_version),	/* another driver's magic */
		0,
	};
	struct ramcrypt_version v;

	for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, bogus[i], &v)) TH_LOG("cmd %#lx", bogus[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", bogus[i]);
	}
}

TEST(device_is_root_only)
{
	pid_t pid = fork();
	int status;

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open(RAMCRYPT_DEVICE, O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("nobody could open %s", RAMCRYPT_DEVICE);
}

/* Unload, check that nothing is left, load again: the module must come back whole. */
TEST(unload_leaves_nothing_and_reloads)
{
	struct ramcrypt_version v = { 0 };
	int modfd, fd;

	ASSERT_TRUE(path_exists(MODULE_PATH));
	ASSERT_EQ(0, syscall(SYS_delete_module, "ramcrypt", O_NONBLOCK))
		TH_LOG("rmmod ramcrypt: %s", strerror(errno));
	EXPECT_FALSE(path_exists("/sys/module/ramcrypt"));
	EXPECT_FALSE(path_exists(RAMCRYPT_DEVICE));
	EXPECT_FALSE(path_exists("/proc/sys/ramcrypt"));
	EXPECT_FALSE(path_exists("/sys/kernel/debug/ramcrypt"));

	modfd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(modfd, 0);
	ASSERT_EQ(0, syscall(SYS_finit_module, modfd, "", 0))
		TH_LOG("insmod ramcrypt.ko: %s", strerror(errno));
	close(modfd);

	fd = open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, ioctl(fd, RAMCRYPT_IOC_VERSION, &v));
	EXPECT_EQ(RAMCRYPT_ABI_VERSION, v.abi);
	close(fd);
}

TEST_HARNESS_MAIN
