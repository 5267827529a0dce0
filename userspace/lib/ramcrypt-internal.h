/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libramcrypt internals the host tests reach: the device calls can be replaced. */
#ifndef RAMCRYPT_LIB_INTERNAL_H
#define RAMCRYPT_LIB_INTERNAL_H

#ifdef __cplusplus
extern "C" {
#endif

struct ramcrypt_lib_ops {
	int (*open)(const char *path, int flags);
	int (*ioctl)(int fd, unsigned long request, void *arg);	/* -1 + errno */
	int (*close)(int fd);
};

/* NULL restores the real system calls. Not thread-safe; tests only. */
void ramcrypt_lib_set_ops(const struct ramcrypt_lib_ops *ops);

#ifdef __cplusplus
}
#endif

#endif
