/* SPDX-License-Identifier: GPL-2.0 */
/* Things every ramcrypt subsystem shares. */
#ifndef RAMCRYPT_H
#define RAMCRYPT_H

#define RAMCRYPT_VERSION_MAJOR	0
#define RAMCRYPT_VERSION_MINOR	1
#define RAMCRYPT_VERSION_PATCH	0

#endif
