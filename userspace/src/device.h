// SPDX-License-Identifier: GPL-2.0
// The control device /dev/ramcrypt. This is the only code that opens it or issues
// ioctls; every call returns 0 or the errno the module answered, so callers can
// report it and tests can substitute a fake device.
#pragma once

#include <linux/ramcrypt.h>

#include <cerrno>
#include <memory>

namespace ramcrypt {

class Device {
public:
	virtual ~Device() = default;
	virtual int version(ramcrypt_version &v) = 0;
	virtual int protect(const ramcrypt_protect &p) = 0;
	virtual int unprotect(const ramcrypt_pid &p) = 0;
	virtual int set_window(const ramcrypt_window &w) = 0;
	virtual int proc_stats(ramcrypt_proc_stats &s) = 0;
	virtual int list(ramcrypt_list &l) = 0;
	virtual int status(ramcrypt_status &s) = 0;
	virtual int key_load(const ramcrypt_key &k) = 0;
	virtual int selftest() = 0;
	// Sealed secrets (ABI 2); a device that predates them answers ENOTTY.
	virtual int seal(struct ramcrypt_seal &) { return ENOTTY; }
	virtual int unseal(ramcrypt_unseal &) { return ENOTTY; }
};

// Reporting commands open the device read-only, so an admin can grant a monitoring
// group read access without letting it change protection.
enum class Access { read, write };

// Open RAMCRYPT_DEVICE (close-on-exec). On failure return nullptr and set error.
std::unique_ptr<Device> open_device(Access access, int &error);

} // namespace ramcrypt
