// SPDX-License-Identifier: GPL-2.0
// A /dev/ramcrypt stand-in for host tests: records every call and answers with the
// state and errors a test sets.
#pragma once

#include "commands.h"

#include <map>
#include <string>
#include <vector>

namespace ramcrypt::test {

struct FakeModule {
	int open_error = 0;			// nonzero: open fails with it
	std::map<std::string, int> errors;	// ioctl name -> errno it fails with
	std::map<__u64, int> pid_errors;	// pid -> errno of every per-pid ioctl
	std::vector<Access> opens;

	ramcrypt_version version = { RAMCRYPT_ABI_VERSION, (0ULL << 32) | (1 << 16) | 0 };
	ramcrypt_status status = {};
	std::vector<ramcrypt_proc_stats> procs;	// protected processes
	std::vector<ramcrypt_protect> protects;
	std::vector<ramcrypt_pid> unprotects;
	std::vector<ramcrypt_window> windows;
	std::vector<unsigned char> key;		// last key loaded
	int selftests = 0;

	std::function<std::unique_ptr<Device>(Access, int &)> opener();
};

class FakeDevice : public Device {
public:
	explicit FakeDevice(FakeModule &m) : m_(m) {}

	int version(ramcrypt_version &v) override
	{
		return answer("version", [&] { v = m_.version; });
	}
	int protect(const ramcrypt_protect &p) override
	{
		return answer("protect", [&] { m_.protects.push_back(p); }, p.pid);
	}
	int unprotect(const ramcrypt_pid &p) override
	{
		return answer("unprotect", [&] { m_.unprotects.push_back(p); }, p.pid);
	}
	int set_window(const ramcrypt_window &w) override
	{
		return answer("set_window", [&] { m_.windows.push_back(w); }, w.pid);
	}
	int proc_stats(ramcrypt_proc_stats &s) override
	{
		if (int e = error("proc_stats", s.pid))
			return e;
		for (const auto &p : m_.procs) {
			if (p.pid == s.pid) {
				s = p;
				return 0;
			}
		}
		return ESRCH;
	}
	int list(ramcrypt_list &l) override
	{
		if (int e = error("list"))
			return e;
		auto *pids = reinterpret_cast<__u64 *>(static_cast<std::uintptr_t>(l.pids));
		for (std::size_t i = 0; i < m_.procs.size() && i < l.count; i++)
			pids[i] = m_.procs[i].pid;
		l.count = m_.procs.size();
		return 0;
	}
	int status(ramcrypt_status &s) override
	{
		return answer("status", [&] { s = m_.status; });
	}
	int key_load(const ramcrypt_key &k) override
	{
		return answer("key_load", [&] {
			auto *p = reinterpret_cast<const unsigned char *>(static_cast<std::uintptr_t>(k.key));
			m_.key.assign(p, p + k.len);
		});
	}
	int selftest() override
	{
		return answer("selftest", [&] { m_.selftests++; });
	}

private:
	int error(const std::string &op, __u64 pid = 0)
	{
		if (auto it = m_.errors.find(op); it != m_.errors.end())
			return it->second;
		if (auto it = m_.pid_errors.find(pid); pid && it != m_.pid_errors.end())
			return it->second;
		return 0;
	}
	template <typename F> int answer(const std::string &op, F effect, __u64 pid = 0)
	{
		if (int e = error(op, pid))
			return e;
		effect();
		return 0;
	}

	FakeModule &m_;
};

inline std::function<std::unique_ptr<Device>(Access, int &)> FakeModule::opener()
{
	return [this](Access access, int &error) -> std::unique_ptr<Device> {
		opens.push_back(access);
		error = open_error;
		if (open_error)
			return nullptr;
		return std::make_unique<FakeDevice>(*this);
	};
}

} // namespace ramcrypt::test
