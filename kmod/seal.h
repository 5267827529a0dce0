/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sealed secrets: small secrets encrypted and authenticated under the register-held
 * key, in tweak domains of their own (docs/SEALING.md). For RAMCRYPT_IOC_SEAL and
 * RAMCRYPT_IOC_UNSEAL; arg is the ioctl's user pointer.
 */
#ifndef RAMCRYPT_SEAL_H
#define RAMCRYPT_SEAL_H

/*
 * Seal a secret into a blob. The caller checked the permission (a descriptor open
 * for writing). 0, -EINVAL (bad arguments, reserved bits), -ENOSPC (blob buffer too
 * small; blob_len says how much is needed), -EKEYREVOKED (no CPU holds the key any
 * more: it was lost, or not reloaded after resume), -EFAULT, -ENOMEM.
 */
long rc_seal_ioctl(void __user *arg);
/*
 * Unseal a blob into the caller's buffer: only for a protected caller (-EPERM) and
 * only into private memory ramcrypt protects (-EINVAL otherwise). -EKEYREJECTED: the
 * blob was sealed under another key; -EBADMSG: not a valid blob, or tampered with;
 * -ENOSPC: the buffer is smaller than the secret (secret_len says its size);
 * -EKEYREVOKED as for seal.
 */
long rc_unseal_ioctl(void __user *arg);

#endif
