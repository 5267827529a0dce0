// SPDX-License-Identifier: GPL-2.0
#include "doctor.h"

#include "output.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ramcrypt {
namespace {

namespace fs = std::filesystem;

// The README section every "what to do" that needs more than a line points to.
const char readme_section[] = "README.md, 'On your own server'";

// The tracepoints kmod/procs.c attaches to; without any one the module does not load.
const struct {
	const char *event;	// below tracefs events/
	const char *name;
} tracepoints[] = {
	{ "exceptions/page_fault_user", "page_fault_user" },
	{ "exceptions/page_fault_kernel", "page_fault_kernel" },
	{ "sched/sched_process_fork", "sched_process_fork" },
	{ "sched/sched_process_exec", "sched_process_exec" },
	{ "sched/sched_process_exit", "sched_process_exit" },
};

// efivarfs: 4 bytes of attributes, then the variable's value (1 byte: 1 = on).
const char secure_boot_var[] = "/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

std::optional<std::string> read_file(const std::string &path)
{
	std::ifstream f(path, std::ios::binary);
	if (!f)
		return std::nullopt;
	std::ostringstream s;
	s << f.rdbuf();
	if (f.bad())
		return std::nullopt;
	return s.str();
}

std::optional<std::string> read_trimmed(const std::string &path)
{
	auto text = read_file(path);
	while (text && !text->empty() && std::isspace(static_cast<unsigned char>(text->back())))
		text->pop_back();
	return text;
}

bool exists(const std::string &path)
{
	std::error_code ec;
	return fs::exists(path, ec);
}

std::string gunzip(const std::string &in, std::string &out)
{
	z_stream z = {};
	// 16 + MAX_WBITS: a gzip header, not zlib's.
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return "cannot start decompression";
	z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
	z.avail_in = static_cast<uInt>(in.size());
	int ret;
	char buf[65536];
	do {
		z.next_out = reinterpret_cast<Bytef *>(buf);
		z.avail_out = sizeof(buf);
		ret = inflate(&z, Z_NO_FLUSH);
		out.append(buf, sizeof(buf) - z.avail_out);
	} while (ret == Z_OK);
	inflateEnd(&z);
	return ret == Z_STREAM_END ? "" : "damaged gzip data";
}

std::string value(const KernelConfig &config, std::string_view option)
{
	auto it = config.find(option);
	return it == config.end() ? "n" : it->second;
}

bool set(const KernelConfig &config, std::string_view option)
{
	return value(config, option) == "y";
}

// "CONFIG_X=y" or "CONFIG_X not set", as a person would grep for it.
std::string shown(const KernelConfig &config, std::string_view option)
{
	std::string v = value(config, option);
	return "CONFIG_" + std::string(option) + (v == "n" ? " not set" : "=" + v);
}

// Options of the list that are not =y, joined with ", " (empty: all set).
std::string missing(const KernelConfig &config, const std::vector<std::string> &options)
{
	std::string out;
	for (const auto &o : options) {
		if (!set(config, o))
			out += (out.empty() ? "" : ", ") + o;
	}
	return out;
}

bool has_flag(const HostFacts &host, const char *flag)
{
	return host.cpu_flags && host.cpu_flags->count(flag);
}

// The value of the last PARAM= on the command line (as kstrtobool reads it), if any.
std::optional<bool> cmdline_bool(const std::string &cmdline, const std::string &param)
{
	std::optional<bool> v;
	std::istringstream words(cmdline);
	std::string w;
	while (words >> w) {
		if (!w.starts_with(param + "="))
			continue;
		std::string arg = w.substr(param.size() + 1);
		if (arg == "1" || arg == "y" || arg == "Y" || arg == "on")
			v = true;
		else if (arg == "0" || arg == "n" || arg == "N" || arg == "off")
			v = false;
	}
	return v;
}

Check modules(const KernelConfig &config, const HostFacts *host)
{
	if (!set(config, "MODULES"))
		return { "modules", shown(config, "MODULES"), Result::fail,
			 "ramcrypt cannot run: it is a loadable kernel module",
			 "boot a kernel built with CONFIG_MODULES=y (every distribution kernel has it)" };
	if (host && host->modules_disabled.value_or(false) && !host->module_loaded)
		return { "modules", "loading disabled (kernel.modules_disabled=1)", Result::fail,
			 "ramcrypt cannot run: no module can be loaded until the next boot",
			 "load ramcrypt before kernel.modules_disabled is set (/etc/modules-load.d/)" };
	return { "modules", shown(config, "MODULES"), Result::ok, "", "" };
}

Check kernel_memory(const KernelConfig &config)
{
	// HMM_MIRROR: hmm_range_fault(), how the module reads page tables.
	std::string lack = missing(config, { "DEVICE_PRIVATE", "ZONE_DEVICE", "MIGRATION", "MMU_NOTIFIER",
					     "HMM_MIRROR" });
	if (lack.empty())
		return { "device_private", "DEVICE_PRIVATE, ZONE_DEVICE, MIGRATION, MMU_NOTIFIER, HMM_MIRROR set",
			 Result::ok,
			 "encrypted pages can be HMM device-private pages", "" };
	return { "device_private", "not set: " + lack, Result::fail,
		 "ramcrypt cannot run: an encrypted page is an HMM device-private page "
		 "(memremap_pages, migrate_vma), which this kernel cannot make",
		 "boot a kernel built with CONFIG_DEVICE_PRIVATE=y; Debian's stock 6.1 and 6.12 kernels "
		 "lack it: rebuild Debian's kernel package from linux-source with your "
		 "/boot/config plus CONFIG_DEVICE_PRIVATE=y (make bindeb-pkg), see " +
			 std::string(readme_section) };
}

Check kprobes(const KernelConfig &config)
{
	if (set(config, "KPROBES"))
		return { "kprobes", shown(config, "KPROBES"), Result::ok,
			 "register dumps (__show_regs) cannot print the key", "" };
	return { "kprobes", shown(config, "KPROBES"), Result::fail,
		 "ramcrypt cannot run: the module keeps protected processes non-dumpable across "
		 "credential changes with a kretprobe and wipes the key before register dumps with a "
		 "kprobe",
		 "boot a kernel built with CONFIG_KPROBES=y (Debian's kernels have it)" };
}

Check tracepoint_check(const KernelConfig &config, const HostFacts *host)
{
	const char *meaning_fail = "ramcrypt cannot run: the module sees page faults, fork, exec and "
				   "exit through these tracepoints";
	if (!set(config, "TRACEPOINTS"))
		return { "tracepoints", shown(config, "TRACEPOINTS"), Result::fail, meaning_fail,
			 "boot a kernel built with CONFIG_TRACEPOINTS=y (CONFIG_TRACING selects it; "
			 "Debian's kernels have it)" };
	std::string state = shown(config, "TRACEPOINTS");
	if (host && host->tracepoints) {
		std::string lack;
		for (const auto &tp : tracepoints) {
			auto it = host->tracepoints->find(tp.name);
			if (it == host->tracepoints->end() || !it->second)
				lack += (lack.empty() ? "" : ", ") + std::string(tp.name);
		}
		if (!lack.empty())
			return { "tracepoints", state + "; missing in tracefs: " + lack, Result::fail, meaning_fail,
				 "boot an x86-64 kernel with CONFIG_TRACEPOINTS=y" };
		state += "; fault and sched events present";
	} else if (host) {
		state += "; events not checked (tracefs not readable)";
	}
	return { "tracepoints", state, Result::ok,
		 "the module sees every user page fault, fork, exec and exit of a protected process", "" };
}

Check hw_breakpoint(const KernelConfig &config)
{
	std::string lack = missing(config, { "HAVE_HW_BREAKPOINT", "PERF_EVENTS" });
	if (lack.empty())
		return { "hw_breakpoint", "HAVE_HW_BREAKPOINT, PERF_EVENTS set", Result::ok,
			 "the module reserves all four breakpoint slots: ptrace, perf and kgdb cannot "
			 "overwrite the key",
			 "" };
	return { "hw_breakpoint", "not set: " + lack, Result::fail,
		 "ramcrypt cannot run: the module reserves the breakpoint slots through perf, so that "
		 "nothing else writes DR0-DR3",
		 "boot a kernel built with CONFIG_PERF_EVENTS=y (x86 then has HAVE_HW_BREAKPOINT)" };
}

Check ibt(const KernelConfig &config, const HostFacts *host)
{
	if (!set(config, "X86_KERNEL_IBT"))
		return { "ibt", shown(config, "X86_KERNEL_IBT"), Result::ok,
			 "no indirect branch tracking", "" };
	std::string state = shown(config, "X86_KERNEL_IBT");
	if (host && host->cpu_flags)
		state += has_flag(*host, "ibt") ? "; the CPU enforces it" : "; the CPU lacks IBT";
	return { "ibt", state, Result::ok,
		 "supported: the module calls only exported kernel functions (an indirect call to a "
		 "non-exported one would raise #CP; scripts/lint-kmod keeps that out)",
		 "" };
}

const char sign_action[] = "sign ramcrypt.ko with a key the kernel trusts: a Machine Owner Key "
			   "enrolled with mokutil --import (dkms signs with /var/lib/dkms/mok.key); see ";

Check module_signing(const KernelConfig &config, const HostFacts *host)
{
	if (!set(config, "MODULE_SIG"))
		return { "module_signing", shown(config, "MODULE_SIG"), Result::ok,
			 "the kernel loads modules without checking signatures", "" };
	bool forced = set(config, "MODULE_SIG_FORCE");
	std::string why = forced ? shown(config, "MODULE_SIG_FORCE") : "";
	if (host && !forced && host->lockdown && *host->lockdown != "none") {
		forced = true;
		why = "lockdown " + *host->lockdown;
	}
	if (host && !forced && host->sig_enforce.value_or(false)) {
		forced = true;
		why = "module.sig_enforce=1";
	}
	if (!forced)
		return { "module_signing", "checked, not enforced", Result::ok,
			 "an unsigned ramcrypt.ko loads and taints the kernel (E)", "" };
	return { "module_signing", "enforced (" + why + ")", Result::info,
		 "the kernel loads only signed modules",
		 sign_action + std::string(readme_section) };
}

Check lockdown(const KernelConfig &config, const HostFacts *host)
{
	const char *meaning = "root cannot read kernel memory through /dev/mem, /proc/kcore or "
			      "kprobe events; the kernel loads only signed modules";
	if (host && host->lockdown) {
		if (*host->lockdown == "none")
			return { "lockdown", "none", Result::ok, "no lockdown restrictions", "" };
		return { "lockdown", *host->lockdown, Result::info, meaning,
			 sign_action + std::string(readme_section) };
	}
	if (!set(config, "SECURITY_LOCKDOWN_LSM"))
		return { "lockdown", shown(config, "SECURITY_LOCKDOWN_LSM"), Result::ok,
			 "no lockdown restrictions", "" };
	for (const char *mode : { "INTEGRITY", "CONFIDENTIALITY" }) {
		std::string option = std::string("LOCK_DOWN_KERNEL_FORCE_") + mode;
		if (set(config, option))
			return { "lockdown", shown(config, option), Result::info, meaning,
				 sign_action + std::string(readme_section) };
	}
	std::string state = "LSM built, mode chosen at boot";
	if (host)
		state += " (securityfs not readable)";
	return { "lockdown", state, Result::ok,
		 "Debian locks the kernel down (integrity) when it boots with Secure Boot", "" };
}

Check secure_boot(const HostFacts &host)
{
	if (!host.efi)
		return { "secure_boot", "off (not booted with EFI)", Result::ok, "no Secure Boot", "" };
	if (!host.secure_boot)
		return { "secure_boot", "unknown (EFI variables not readable)", Result::info,
			 "with Secure Boot, Debian's kernel loads only modules signed by Debian or an "
			 "enrolled Machine Owner Key",
			 "check with mokutil --sb-state" };
	if (!*host.secure_boot)
		return { "secure_boot", "off", Result::ok, "no Secure Boot", "" };
	return { "secure_boot", "on", Result::info,
		 "Debian's kernel locks itself down and loads only modules signed by Debian or an "
		 "enrolled Machine Owner Key",
		 sign_action + std::string(readme_section) };
}

Check kvm(const HostFacts &host)
{
	std::string state;
	for (const auto &m : host.kvm_modules)
		state += (state.empty() ? "" : ", ") + m;
	if (!host.kvm_device)
		return { "kvm", state.empty() ? "not loaded" : state + "; no /dev/kvm", Result::ok,
			 "no guest can load its debug registers", "" };
	state = (state.empty() ? "" : state + "; ") + "/dev/kvm present";
	if (host.kvm_host_owns_debugregs.value_or(false))
		return { "kvm", state + "; host_owns_debugregs=Y", Result::ok,
			 "KVM keeps every guest off DR0-DR3 (the KVM patch in ramcrypt's patches/): "
			 "guests' hardware breakpoints do not fire, and SEV-ES guests cannot start",
			 "" };
	if (host.kvm_host_owns_debugregs)
		return { "kvm", state + "; host_owns_debugregs=N", Result::weak,
			 "this KVM can keep guests off DR0-DR3, but it is not asked to: a guest that "
			 "uses its debug registers wipes the key on its CPU",
			 "options kvm host_owns_debugregs=1 in /etc/modprobe.d/, then reload kvm "
			 "(or kvm.host_owns_debugregs=1 on the kernel command line)" };
	return { "kvm", state, Result::weak,
		 "KVM loads a guest's debug registers into DR0-DR3 around guest entry: that wipes "
		 "the key on the CPU; it is healed from another CPU, and when every CPU lost it "
		 "protected processes are killed",
		 "do not run virtual machines on a ramcrypt host: modprobe -r kvm_intel kvm_amd kvm "
		 "(and blacklist them in /etc/modprobe.d/), or run a kernel with the KVM patch in "
		 "ramcrypt's patches/ and kvm.host_owns_debugregs=1" };
}

Check swap(const HostFacts &host)
{
	std::string zswap = !host.zswap ? "" : *host.zswap ? "; zswap on" : "; zswap off";
	if (host.swaps.empty())
		return { "swap", "off" + zswap, Result::ok, "window pages never leave RAM", "" };
	std::string state = "on:";
	for (const auto &s : host.swaps)
		state += " " + s;
	if (host.allow_swap.value_or(false))
		return { "swap", state + zswap + "; allow_swap=1", Result::weak,
			 "processes whose memory cgroup may swap are protected anyway: their plaintext "
			 "pages (window, pinned) can be swapped out (or compressed by zram/zswap) and "
			 "stay readable there",
			 "sysctl ramcrypt.allow_swap=0, and run protected services with MemorySwapMax=0" };
	return { "swap", state + zswap, Result::info,
		 "ramcrypt protects only processes whose memory cgroup cannot swap "
		 "(memory.swap.max=0); it refuses the others",
		 "run protected services with MemorySwapMax=0 (systemd) or in a cgroup with "
		 "memory.swap.max=0; or swapoff -a and remove swap from /etc/fstab" };
}

Check init_on_free(const KernelConfig &config, const HostFacts &host)
{
	bool by_default = set(config, "INIT_ON_FREE_DEFAULT_ON");
	std::optional<bool> param = host.cmdline ? cmdline_bool(*host.cmdline, "init_on_free") : std::nullopt;
	bool on = param.value_or(by_default);
	std::string state = on ? "on" : "off";
	state += param ? (*param ? " (init_on_free=1)" : " (init_on_free=0)")
		       : by_default ? " (CONFIG_INIT_ON_FREE_DEFAULT_ON)" : "";
	if (on)
		return { "init_on_free", state, Result::ok,
			 "pages are wiped when freed: a decrypted page a process frees leaves no "
			 "plaintext behind",
			 "" };
	return { "init_on_free", state, Result::weak,
		 "freed pages are not wiped: plaintext of a window page a process frees (munmap, exit) "
		 "stays in free memory until the page is reused",
		 "add init_on_free=1 to the kernel command line (GRUB_CMDLINE_LINUX in "
		 "/etc/default/grub, update-grub, reboot)" };
}

Check perf_event_paranoid(const HostFacts &host)
{
	if (!host.perf_event_paranoid)
		return { "perf_event_paranoid", "unknown (no /proc/sys/kernel/perf_event_paranoid)", Result::info,
			 "perf is not available or not readable", "" };
	long v = *host.perf_event_paranoid;
	if (v >= 2)
		return { "perf_event_paranoid", std::to_string(v), Result::ok,
			 "unprivileged users cannot sample the kernel", "" };
	return { "perf_event_paranoid", std::to_string(v), Result::weak,
		 "unprivileged users can sample kernel register state, which holds key material "
		 "while a page is encrypted",
		 "sysctl kernel.perf_event_paranoid=2 (and set it in /etc/sysctl.d/)" };
}

Check aes_ni(const HostFacts &host)
{
	if (!host.cpu_flags)
		return { "aes_ni", "unknown (no /proc/cpuinfo)", Result::info,
			 "the cipher needs AES-NI and SSE4.1", "" };
	std::string lack;
	for (const char *f : { "aes", "sse4_1" }) {
		if (!has_flag(host, f))
			lack += (lack.empty() ? "" : ", ") + std::string(f);
	}
	if (lack.empty())
		return { "aes_ni", "aes, sse4_1", Result::ok, "AES runs in registers only", "" };
	return { "aes_ni", "missing: " + lack, Result::fail,
		 "ramcrypt cannot run: AES runs in registers only with AES-NI",
		 "use an x86-64 CPU with AES-NI (Intel since 2010, AMD since 2011); in a VM, pass the "
		 "host CPU's flags through (e.g. QEMU -cpu host)" };
}

Check vaes(const HostFacts &host)
{
	if (!host.cpu_flags)
		return { "vaes", "unknown (no /proc/cpuinfo)", Result::info, "", "" };
	if (has_flag(host, "avx2") && has_flag(host, "vaes") && has_flag(host, "vpclmulqdq"))
		return { "vaes", "avx2, vaes, vpclmulqdq", Result::ok, "the faster VAES cipher path is used", "" };
	return { "vaes", "not all of avx2, vaes, vpclmulqdq", Result::info,
		 "the AES-NI cipher path is used; the VAES path is faster", "" };
}

Check hypervisor(const HostFacts &host)
{
	if (!host.cpu_flags)
		return { "hypervisor", "unknown (no /proc/cpuinfo)", Result::info, "", "" };
	if (!has_flag(host, "hypervisor"))
		return { "hypervisor", "none seen", Result::ok, "on bare metal the debug registers are not in RAM",
			 "" };
	return { "hypervisor", "running in a virtual machine", Result::info,
		 "a hypervisor that traps debug register accesses keeps this guest's DR0-DR3, and so "
		 "the key, in its own RAM: the key is as safe as the host's memory",
		 "" };
}

Check module(const HostFacts &host)
{
	if (host.module_loaded)
		return { "module", "loaded", Result::ok, "", "" };
	return { "module", "not loaded", Result::info, "", "" };
}

const char *result_name(Result r, bool json)
{
	switch (r) {
	case Result::ok: return "ok";
	case Result::info: return "info";
	case Result::weak: return "weak";
	case Result::fail: return json ? "fail" : "FAIL";
	}
	return "?";
}

} // namespace

KernelConfig parse_kernel_config(std::string_view text)
{
	KernelConfig config;

	while (!text.empty()) {
		std::size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);

		if (line.starts_with("# CONFIG_") && line.ends_with(" is not set")) {
			line.remove_prefix(9);
			line.remove_suffix(11);
			config[std::string(line)] = "n";
		} else if (line.starts_with("CONFIG_")) {
			std::size_t eq = line.find('=');
			if (eq == std::string_view::npos)
				continue;
			config[std::string(line.substr(7, eq - 7))] = std::string(line.substr(eq + 1));
		}
	}
	return config;
}

std::string read_kernel_config(const std::string &path, std::string &text)
{
	auto data = read_file(path);
	if (!data)
		return path + ": " + std::strerror(errno);
	if (data->size() >= 2 && static_cast<unsigned char>((*data)[0]) == 0x1f &&
	    static_cast<unsigned char>((*data)[1]) == 0x8b) {
		text.clear();
		if (std::string e = gunzip(*data, text); !e.empty())
			return path + ": " + e;
		return {};
	}
	text = std::move(*data);
	return {};
}

HostFacts read_host_facts(const Env &env)
{
	HostFacts h;

	// "none [integrity] confidentiality": the active mode is in brackets.
	if (auto s = read_trimmed(env.sysfs + "/kernel/security/lockdown")) {
		std::size_t open = s->find('['), close = s->find(']');
		if (open != std::string::npos && close > open)
			h.lockdown = s->substr(open + 1, close - open - 1);
	}
	h.efi = exists(env.sysfs + "/firmware/efi");
	if (auto s = read_file(env.sysfs + secure_boot_var); s && s->size() > 4)
		h.secure_boot = s->back() != 0;
	if (auto s = read_trimmed(env.sysfs + "/module/module/parameters/sig_enforce"))
		h.sig_enforce = *s == "Y";
	if (auto s = read_trimmed(env.procfs + "/sys/kernel/modules_disabled"))
		h.modules_disabled = *s == "1";
	// Only a loadable module has an initstate.
	for (const char *m : { "kvm", "kvm_intel", "kvm_amd" }) {
		std::string dir = env.sysfs + "/module/" + m;
		if (exists(dir))
			h.kvm_modules.push_back(m + std::string(exists(dir + "/initstate") ? "" : " (built in)"));
	}
	h.kvm_device = exists(env.sysfs + "/class/misc/kvm");
	if (auto s = read_trimmed(env.sysfs + "/module/kvm/parameters/host_owns_debugregs"))
		h.kvm_host_owns_debugregs = *s == "Y";
	if (auto s = read_file(env.procfs + "/swaps")) {
		std::istringstream lines(*s);
		std::string line;
		std::getline(lines, line); // header
		while (std::getline(lines, line)) {
			std::istringstream words(line);
			std::string name;
			if (words >> name)
				h.swaps.push_back(name);
		}
	}
	if (auto s = read_trimmed(env.sysfs + "/module/zswap/parameters/enabled"))
		h.zswap = *s == "Y";
	if (auto s = read_trimmed(env.procfs + "/sys/ramcrypt/allow_swap"))
		h.allow_swap = *s == "1";
	h.cmdline = read_trimmed(env.procfs + "/cmdline");
	if (auto s = read_trimmed(env.procfs + "/sys/kernel/perf_event_paranoid")) {
		try {
			h.perf_event_paranoid = std::stol(*s);
		} catch (const std::exception &) {
		}
	}
	if (auto s = read_file(env.procfs + "/cpuinfo")) {
		std::istringstream lines(*s);
		std::string line;
		while (std::getline(lines, line)) {
			if (!line.starts_with("flags"))
				continue;
			std::istringstream words(line.substr(line.find(':') + 1));
			std::set<std::string> flags;
			std::string f;
			while (words >> f)
				flags.insert(f);
			h.cpu_flags = std::move(flags);
			break;
		}
	}
	for (const char *dir : { "/kernel/tracing/events", "/kernel/debug/tracing/events" }) {
		std::string events = env.sysfs + dir;
		if (!exists(events + "/sched"))
			continue;
		h.tracepoints.emplace();
		for (const auto &tp : tracepoints)
			(*h.tracepoints)[tp.name] = exists(events + "/" + tp.event);
		break;
	}
	h.module_loaded = exists(env.sysfs + "/module/ramcrypt");
	return h;
}

std::vector<Check> doctor_checks(const KernelConfig &config, const HostFacts *host)
{
	std::vector<Check> checks = {
		modules(config, host),
		kernel_memory(config),
		kprobes(config),
		tracepoint_check(config, host),
		hw_breakpoint(config),
		ibt(config, host),
		module_signing(config, host),
		lockdown(config, host),
	};
	if (!host)
		return checks;
	for (auto &c : { secure_boot(*host), kvm(*host), swap(*host), init_on_free(config, *host),
			 perf_event_paranoid(*host), aes_ni(*host), vaes(*host), hypervisor(*host),
			 module(*host) })
		checks.push_back(c);
	return checks;
}

int doctor_status(const std::vector<Check> &checks)
{
	bool weak = false;

	for (const auto &c : checks) {
		if (c.result == Result::fail)
			return exit_failure;
		weak |= c.result == Result::weak;
	}
	return weak ? exit_doctor_weaker : 0;
}

void print_doctor(std::ostream &out, const DoctorSource &source, const std::vector<Check> &checks,
		  bool json)
{
	int status = doctor_status(checks);
	const char *verdict = status == exit_failure ? "fail" : status == exit_doctor_weaker ? "weak" : "ok";

	if (json) {
		Json rows = Json::array();
		for (const auto &c : checks) {
			rows.push_back({
				{ "id", c.id },
				{ "state", c.state },
				{ "result", result_name(c.result, true) },
				{ "meaning", c.meaning },
				{ "action", c.action },
			});
		}
		Json o = { { "config", source.config_path } };
		if (!source.kernel.empty())
			o["kernel"] = source.kernel;
		o["host"] = !source.kernel.empty();
		o["verdict"] = verdict;
		o["checks"] = rows;
		out << json_text(o) << '\n';
		return;
	}

	out << "kernel config: " << printable(source.config_path) << '\n';
	if (source.kernel.empty())
		out << "host: not checked (--config-only)\n";
	else
		out << "running kernel: " << printable(source.kernel) << "\n";
	out << '\n';
	Table table({ { "CHECK", false }, { "STATE", false }, { "RESULT", false } });
	for (const auto &c : checks)
		table.add_row({ c.id, c.state, result_name(c.result, false) });
	table.print(out);

	bool first = true;
	for (const auto &c : checks) {
		if (c.result == Result::ok || (c.meaning.empty() && c.action.empty()))
			continue;
		out << (first ? "\n" : "") << c.id << " (" << result_name(c.result, false) << "): "
		    << printable(c.meaning) << '\n';
		if (!c.action.empty())
			out << "  to do: " << printable(c.action) << '\n';
		first = false;
	}
	out << '\n';
	if (status == exit_failure)
		out << "ramcrypt cannot run here.\n";
	else if (status == exit_doctor_weaker)
		out << "ramcrypt can run here, with weaker protection: see the weak checks.\n";
	else
		out << "ramcrypt can run here" << (source.kernel.empty() ? " (kernel config checked)" : "")
		    << ".\n";
}

int cmd_doctor(Env &env, const std::string &config_path, bool config_only, bool json)
{
	std::string kernel;
	if (!config_only) {
		if (auto release = read_trimmed(env.procfs + "/sys/kernel/osrelease"))
			kernel = *release;
		else
			kernel = "unknown";
	}

	// The running kernel's config: /proc/config.gz (CONFIG_IKCONFIG_PROC), else the
	// file distributions install next to the kernel image.
	std::string path = config_path;
	if (path.empty()) {
		path = env.procfs + "/config.gz";
		if (!exists(path)) {
			if (kernel.empty() || kernel == "unknown") {
				env.err << "ramcrypt: doctor: no " << path << " and no kernel release in "
					<< env.procfs << "/sys/kernel/osrelease: give --config FILE\n";
				return exit_failure;
			}
			path = env.boot + "/config-" + kernel;
		}
	}
	std::string text;
	if (std::string e = read_kernel_config(path, text); !e.empty()) {
		env.err << "ramcrypt: doctor: " << e << (config_path.empty() ? " (give --config FILE)" : "")
			<< '\n';
		return exit_failure;
	}
	KernelConfig config = parse_kernel_config(text);
	if (config.empty()) {
		env.err << "ramcrypt: doctor: " << path << ": no CONFIG_ options (not a kernel config?)\n";
		return exit_failure;
	}

	HostFacts host;
	if (!config_only)
		host = read_host_facts(env);
	auto checks = doctor_checks(config, config_only ? nullptr : &host);
	print_doctor(env.out, { path, kernel }, checks, json);
	return doctor_status(checks);
}

} // namespace ramcrypt
