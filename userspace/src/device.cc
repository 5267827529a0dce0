// SPDX-License-Identifier: GPL-2.0
#include "device.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace ramcrypt {
namespace {

class KernelDevice final : public Device {
public:
	explicit KernelDevice(int fd) : fd_(fd) {}
	~KernelDevice() override { close(fd_); }
	KernelDevice(const KernelDevice &) = delete;
	KernelDevice &operator=(const KernelDevice &) = delete;

	int version(ramcrypt_version &v) override { return call(RAMCRYPT_IOC_VERSION, &v); }
	int protect(const ramcrypt_protect &p) override
	{
		return call(RAMCRYPT_IOC_PROTECT, const_cast<ramcrypt_protect *>(&p));
	}
	int unprotect(const ramcrypt_pid &p) override
	{
		return call(RAMCRYPT_IOC_UNPROTECT, const_cast<ramcrypt_pid *>(&p));
	}
	int set_window(const ramcrypt_window &w) override
	{
		return call(RAMCRYPT_IOC_SET_WINDOW, const_cast<ramcrypt_window *>(&w));
	}
	int proc_stats(ramcrypt_proc_stats &s) override { return call(RAMCRYPT_IOC_PROC_STATS, &s); }
	int list(ramcrypt_list &l) override { return call(RAMCRYPT_IOC_LIST, &l); }
	int status(ramcrypt_status &s) override { return call(RAMCRYPT_IOC_STATUS, &s); }
	int key_load(const ramcrypt_key &k) override
	{
		return call(RAMCRYPT_IOC_KEY_LOAD, const_cast<ramcrypt_key *>(&k));
	}
	int selftest() override { return call(RAMCRYPT_IOC_SELFTEST, nullptr); }
	int seal(struct ramcrypt_seal &s) override { return call(RAMCRYPT_IOC_SEAL, &s); }
	int unseal(ramcrypt_unseal &u) override { return call(RAMCRYPT_IOC_UNSEAL, &u); }

private:
	int call(unsigned long request, void *arg)
	{
		// Every ramcrypt ioctl may simply be repeated after a signal.
		while (ioctl(fd_, request, arg) < 0) {
			if (errno != EINTR)
				return errno;
		}
		return 0;
	}

	int fd_;
};

} // namespace

std::unique_ptr<Device> open_device(Access access, int &error)
{
	int flags = (access == Access::write ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	int fd = open(RAMCRYPT_DEVICE, flags);

	if (fd < 0) {
		error = errno;
		return nullptr;
	}
	error = 0;
	return std::make_unique<KernelDevice>(fd);
}

} // namespace ramcrypt
