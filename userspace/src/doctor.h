// SPDX-License-Identifier: GPL-2.0
// `ramcrypt doctor`: can ramcrypt run on this host, and how well does it protect here?
// Pure functions from a kernel config and a set of host facts to checks, so tests
// can judge any config and any host state without the machine they run on.
#pragma once

#include "commands.h"

#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ramcrypt {

// Exit statuses of doctor: 0 all good, exit_failure (1) cannot run here.
inline constexpr int exit_doctor_weaker = 2;

// Option name without "CONFIG_" -> value as written ("y", "m", "\"text\"", "42").
// "# CONFIG_X is not set" is stored as "n"; an absent option is absent.
using KernelConfig = std::map<std::string, std::string, std::less<>>;

KernelConfig parse_kernel_config(std::string_view text);

// Read a config file, plain text or gzip (as /proc/config.gz). "" on success, else
// the error text.
std::string read_kernel_config(const std::string &path, std::string &text);

// What doctor reads from the running system. Unset optionals: could not be read.
struct HostFacts {
	std::optional<std::string> lockdown;	// the active mode: "none", "integrity", ...
	bool efi = false;			// booted with EFI
	std::optional<bool> secure_boot;
	std::optional<bool> sig_enforce;	// module.sig_enforce, or MODULE_SIG_FORCE
	std::optional<bool> modules_disabled;	// kernel.modules_disabled
	std::vector<std::string> kvm_modules;	// kvm, kvm_intel, kvm_amd: those present
	bool kvm_device = false;		// /dev/kvm: guests can run
	std::optional<bool> kvm_host_owns_debugregs; // kvm.host_owns_debugregs: KVM has patches/'s change
	std::vector<std::string> swaps;		// active swap areas
	std::optional<bool> zswap;
	std::optional<bool> allow_swap;	// /proc/sys/ramcrypt/allow_swap (module loaded)
	std::optional<std::string> cmdline;
	std::optional<long> perf_event_paranoid;
	std::optional<std::set<std::string>> cpu_flags;
	// Tracepoint name -> present; unset when tracefs is not readable.
	std::optional<std::map<std::string, bool>> tracepoints;
	bool module_loaded = false;
};

// Everything from env.procfs and env.sysfs (tracefs below env.sysfs/kernel).
HostFacts read_host_facts(const Env &env);

enum class Result { ok, info, weak, fail };

struct Check {
	std::string id;		// stable: JSON and scripts
	std::string state;	// what was found
	Result result;
	std::string meaning;	// what it means for protection
	std::string action;	// what to do; empty when nothing is to be done
};

// The checks of a config; with host facts also those of the running system.
std::vector<Check> doctor_checks(const KernelConfig &config, const HostFacts *host);

// 0, exit_failure or exit_doctor_weaker, from the worst result.
int doctor_status(const std::vector<Check> &checks);

struct DoctorSource {
	std::string config_path;
	std::string kernel;	// release of the running kernel; empty with --config-only
};

void print_doctor(std::ostream &out, const DoctorSource &source, const std::vector<Check> &checks,
		  bool json);

// config_path: empty for the running kernel's. config_only: judge the config alone.
int cmd_doctor(Env &env, const std::string &config_path, bool config_only, bool json);

} // namespace ramcrypt
