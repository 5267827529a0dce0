/* SPDX-License-Identifier: GPL-2.0 */
#ifndef RAMCRYPT_CONTROL_H
#define RAMCRYPT_CONTROL_H

int rc_control_init(void);
void rc_control_uninit(void);

#endif
