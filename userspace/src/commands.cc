// SPDX-License-Identifier: GPL-2.0
#include "commands.h"

#include "output.h"
#include "secret.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <elf.h>
#include <sys/prctl.h>

namespace ramcrypt {

const char tool_version[] = RAMCRYPT_TOOL_VERSION;

namespace {

// The threat model (docs/THREAT_MODEL.md), shown by `status` so nobody has to guess.
const std::vector<std::string> protects = {
	"private anonymous memory of protected processes outside the window, against "
	"reads of RAM: cold boot, DMA, /dev/mem, memory and crash dumps",
};
const std::vector<std::string> does_not_protect = {
	"root or kernel code execution (it can read the debug registers or call the decrypt path)",
	"the window: the most recently used pages stay in plaintext",
	"CPU register state saved at context switches",
	"data handed to the kernel: pipes, sockets, files, the page cache",
	"file-backed and shared mappings",
	"a hypervisor that traps debug register accesses (it keeps their values in its RAM)",
};
const std::vector<std::string> notes = {
	"protected processes are non-dumpable: no core dumps, no ptrace by the same user",
	"protection is refused where plaintext pages could be swapped (sysctl ramcrypt.allow_swap)",
};

struct Cause {
	std::uint64_t bit;
	const char *name;	// JSON
	const char *text;	// people
	bool key;		// shown by `key status` too
};

const Cause degraded_causes[] = {
	{ RAMCRYPT_DEGRADED_KEY_LOST, "key_lost", "no CPU holds the key any more", true },
	{ RAMCRYPT_DEGRADED_KEY_HEALED, "key_healed",
	  "a CPU's key was overwritten and restored from a healthy CPU", true },
	{ RAMCRYPT_DEGRADED_NOMEM, "nomem", "pages were left in plaintext for lack of memory", false },
	{ RAMCRYPT_DEGRADED_SLOTS, "slots",
	  "not all breakpoint slots are reserved: a debugger can overwrite the key", true },
	{ RAMCRYPT_DEGRADED_KVM, "kvm",
	  "KVM is present (allow_kvm=1): a VM that uses debug registers wipes the key", true },
	{ RAMCRYPT_DEGRADED_DUMP_GUARD, "dump_guard",
	  "a register dump ran without the guard: the key may be in the kernel log", true },
	{ RAMCRYPT_DEGRADED_PERF, "perf",
	  "perf_event_paranoid is below 2: unprivileged users may sample the cipher's registers", false },
	{ RAMCRYPT_DEGRADED_INHERIT, "inherit",
	  "a child or an exec'ed program of a protected process could not be protected", false },
	{ RAMCRYPT_DEGRADED_SWAP, "swap",
	  "a protected process could swap: its plaintext pages may be on a swap device", false },
};

std::string error_text(int error)
{
	if (error == ENOTTY || error == EOPNOTSUPP)
		return "not supported by this module version";
	return std::strerror(error);
}

void report(Env &env, const std::string &subject, int error)
{
	env.err << "ramcrypt: " << subject << ": " << error_text(error) << '\n';
}

// PROTECT's EBUSY: the module refuses a process whose plaintext could be swapped.
void report_protect(Env &env, Device &dev, const ramcrypt_protect &p, const std::string &subject,
		    int error)
{
	ramcrypt_version v = {};

	// A module older than the request: say which option, not "Invalid argument".
	if (error == EINVAL && (p.flags & RAMCRYPT_PROTECT_SECRET_AGE) && !dev.version(v) && v.abi < 5) {
		env.err << "ramcrypt: " << subject << ": --secret-age needs module ABI 5; the loaded module speaks ABI "
			<< v.abi << '\n';
		return;
	}
	if (error != EBUSY)
		return report(env, subject, error);
	env.err << "ramcrypt: " << subject
		<< ": swap is on and the process's memory cgroup may use it: its plaintext pages could be swapped\n"
		<< "ramcrypt: run it in a cgroup with memory.swap.max=0 (systemd: MemorySwapMax=0), turn swap off,"
		   " or accept the risk with sysctl ramcrypt.allow_swap=1\n";
}

bool module_loaded(const Env &env)
{
	std::error_code ec;
	return std::filesystem::exists(env.sysfs + "/module/ramcrypt", ec);
}

void report_open(Env &env, int error)
{
	env.err << "ramcrypt: " RAMCRYPT_DEVICE ": " << std::strerror(error);
	if (error == ENOENT) {
		env.err << (module_loaded(env) ? " (the module is loaded: is devtmpfs mounted on /dev?)"
					       : " (is the ramcrypt module loaded?)");
	}
	env.err << '\n';
}

std::unique_ptr<Device> open_or_report(Env &env, Access access)
{
	int error = 0;
	auto dev = env.open_device(access, error);

	if (!dev)
		report_open(env, error);
	return dev;
}

// An absent module is a state that status and version report, not an error.
bool module_absent(const Env &env, int open_error)
{
	return open_error == ENOENT && !module_loaded(env);
}

std::string version_text(std::uint64_t v)
{
	return std::to_string(v >> 32) + "." + std::to_string((v >> 16) & 0xffff) + "." +
	       std::to_string(v & 0xffff);
}

const char *key_source_name(std::uint64_t source)
{
	switch (source) {
	case RAMCRYPT_KEY_NONE: return "none";
	case RAMCRYPT_KEY_RANDOM: return "random";
	case RAMCRYPT_KEY_PASSPHRASE: return "passphrase";
	default: return "unknown";
	}
}

const char *key_source_text(std::uint64_t source)
{
	switch (source) {
	case RAMCRYPT_KEY_NONE: return "none loaded";
	case RAMCRYPT_KEY_RANDOM: return "random, made at module load, never stored";
	case RAMCRYPT_KEY_PASSPHRASE: return "derived from a passphrase (ramcrypt key load)";
	default: return "unknown to this tool";
	}
}

// Degraded bits as names (JSON) or sentences; bits this tool does not know are
// shown by value rather than dropped.
std::vector<std::string> degraded_list(std::uint64_t bits, bool key_only, bool names)
{
	std::vector<std::string> out;
	std::uint64_t known = 0;

	for (const auto &c : degraded_causes) {
		known |= c.bit;
		if ((bits & c.bit) && (c.key || !key_only))
			out.push_back(names ? c.name : c.text);
	}
	if (!key_only && (bits & ~known)) {
		std::ostringstream s;
		s << (names ? "unknown_0x" : "unknown degraded bits 0x") << std::hex << (bits & ~known);
		out.push_back(s.str());
	}
	return out;
}

bool key_healthy(const ramcrypt_status &st)
{
	std::uint64_t key_bits = 0;

	for (const auto &c : degraded_causes) {
		if (c.key)
			key_bits |= c.bit;
	}
	return st.key_source != RAMCRYPT_KEY_NONE && st.cpus_online > 0 &&
	       st.cpus_with_key == st.cpus_online && !(st.degraded & key_bits);
}

// Problems with the key that the degraded bits do not already name.
std::vector<std::string> key_problems(const ramcrypt_status &st)
{
	std::vector<std::string> out;

	if (st.key_source == RAMCRYPT_KEY_NONE)
		out.push_back("no key loaded");
	if (st.cpus_with_key != st.cpus_online) {
		out.push_back(std::to_string(st.cpus_with_key) + " of " +
			      std::to_string(st.cpus_online) + " online CPUs hold the key");
	}
	return out;
}

std::string read_line_file(const std::string &path, bool &ok)
{
	std::ifstream f(path);
	std::string value;

	ok = static_cast<bool>(f);
	if (ok) {
		std::ostringstream s;
		s << f.rdbuf();
		value = s.str();
		ok = !f.bad();
	}
	while (!value.empty() && (value.back() == '\n' || value.back() == ' ' || value.back() == '\t'))
		value.pop_back();
	return value;
}

// /proc/sys/ramcrypt/*, sorted by name. Missing directory: none.
std::vector<std::pair<std::string, std::string>> read_sysctls(const Env &env)
{
	std::vector<std::pair<std::string, std::string>> out;
	std::error_code ec;

	for (const auto &entry : std::filesystem::directory_iterator(env.procfs + "/sys/ramcrypt", ec)) {
		bool ok = false;
		std::string value;
		if (entry.is_regular_file(ec))
			value = read_line_file(entry.path(), ok);
		if (ok) // a write-only entry has no value to show
			out.emplace_back(entry.path().filename(), value);
	}
	std::sort(out.begin(), out.end());
	return out;
}

bool is_number(const std::string &s, std::uint64_t &value)
{
	auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
	return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

Json sysctl_json(const std::vector<std::pair<std::string, std::string>> &sysctls)
{
	Json o = Json::object();

	for (const auto &[name, value] : sysctls) {
		std::uint64_t n;
		if (is_number(value, n))
			o[name] = n;
		else
			o[name] = value;
	}
	return o;
}

void print_field(Env &env, const std::string &name, const std::string &value)
{
	std::string label = name + ":";
	label.resize(std::max<std::size_t>(label.size() + 1, 22), ' ');
	env.out << label << value << '\n';
}

void print_list(Env &env, const std::string &title, const std::vector<std::string> &items)
{
	env.out << title << ":\n";
	for (const auto &item : items)
		env.out << "  - " << item << '\n';
}

// LIST with a buffer grown until every protected process fits. The module may
// cap one answer, so give up instead of asking forever.
int list_pids(Device &dev, std::vector<__u64> &pids)
{
	pids.resize(64);
	for (int attempt = 0; attempt < 8; attempt++) {
		ramcrypt_list l = {};
		l.pids = reinterpret_cast<std::uintptr_t>(pids.data());
		l.count = pids.size();
		if (int e = dev.list(l))
			return e;
		if (l.count <= pids.size()) {
			pids.resize(l.count);
			return 0;
		}
		pids.resize(l.count + 64); // room for processes protected meanwhile
	}
	return EAGAIN;
}

std::string ask_passphrase(Env &env, bool verify, Secret &pass)
{
	std::string error = env.read_passphrase("Enter passphrase: ", pass);

	if (error.empty() && verify) {
		Secret again;
		error = env.read_passphrase("Verify passphrase: ", again);
		if (error.empty() && (again.size() != pass.size() ||
				      CRYPTO_memcmp(again.data(), pass.data(), pass.size()) != 0))
			error = "passphrases do not match";
	}
	if (!error.empty())
		pass.clear();
	return error;
}

// The PROTECT request for opt (pid and the inherit flag set by the caller).
ramcrypt_protect protect_request(const ProtectOptions &opt)
{
	ramcrypt_protect p = {};
	p.window = opt.window;
	p.secret_window = opt.secret_window;
	if (opt.plain_age) {
		p.flags |= RAMCRYPT_PROTECT_PLAIN_AGE;
		p.max_plain_age_ms = opt.max_plain_age_ms;
	}
	if (opt.secret_age) {
		p.flags |= RAMCRYPT_PROTECT_SECRET_AGE;
		p.secret_plain_age_ms = opt.secret_plain_age_ms;
	}
	return p;
}

// The file execvp would run for name, or "" when it finds none.
std::string resolve_command(const std::string &name)
{
	if (name.find('/') != std::string::npos)
		return name;
	const char *path = getenv("PATH");
	std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (std::string dir; std::getline(dirs, dir, ':');) {
		std::string f = (dir.empty() ? "." : dir) + "/" + name;
		if (access(f.c_str(), X_OK) == 0)
			return f;
	}
	return "";
}

// True when file is an ELF program without an interpreter: LD_PRELOAD cannot reach
// it. A script or anything else is taken as dynamic (its interpreter runs).
bool statically_linked(const std::string &file)
{
	std::ifstream in(file, std::ios::binary);
	Elf64_Ehdr eh{};
	if (!in.read(reinterpret_cast<char *>(&eh), sizeof(eh)) ||
	    std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph{};
		in.seekg(eh.e_phoff + std::uint64_t(i) * eh.e_phentsize);
		if (!in.read(reinterpret_cast<char *>(&ph), sizeof(ph)))
			return false;
		if (ph.p_type == PT_INTERP)
			return false;
	}
	return true;
}

// run --secure-heap and --secret: ramcrypt-preload.so marks the secure heap and the
// secret variables secret in the new program (userspace/lib/preload.c). False after
// printing the error.
bool setup_preload(Env &env, const ProtectOptions &opt, const std::string &command,
		   const RunSecrets *secrets)
{
	std::string vars;
	for (const auto &spec : secrets ? secrets->specs : std::vector<SecretSpec>{})
		vars += (vars.empty() ? "" : ",") + spec.var;
	if (!opt.secure_heap && vars.empty())
		return true;
	const char *override_path = getenv("RAMCRYPT_PRELOAD");
	std::string preload = override_path ? override_path : RAMCRYPT_PRELOAD_PATH;
	std::string file = resolve_command(command);
	if (!file.empty() && statically_linked(file)) {
		if (opt.secure_heap) {
			env.err << "ramcrypt: run --secure-heap: " << file
				<< " is statically linked: the secure heap cannot be set up in it\n";
			return false;
		}
		env.err << "ramcrypt: run: warning: " << file << " is statically linked: its --secret"
			<< " variables stay in the ordinary tier\n";
		return true;
	}
	if (access(preload.c_str(), R_OK) != 0) {
		env.err << "ramcrypt: run: " << preload << ": " << std::strerror(errno)
			<< " (needed by " << (opt.secure_heap ? "--secure-heap" : "--secret") << ")\n";
		return false;
	}
	const char *old = getenv("LD_PRELOAD");
	std::string ld = preload + (old && *old ? " " + std::string(old) : "");
	// OpenSSL frees its decoders' DER buffers (a whole private key) without cleansing:
	// glibc's malloc perturb fills every freed chunk (255: with 0xff; new ones get
	// 0x00, as fresh memory has). Measured with key-copies (PAGE_ENGINE.md). Left
	// alone when the user's GLIBC_TUNABLES sets a perturb of its own.
	const char *tun = getenv("GLIBC_TUNABLES");
	std::string tunables = tun ? tun : "";
	bool set_tunables = opt.secure_heap && tunables.find("glibc.malloc.perturb=") == std::string::npos;
	if (set_tunables)
		tunables += (tunables.empty() ? "" : ":") + std::string("glibc.malloc.perturb=255");
	if (setenv("LD_PRELOAD", ld.c_str(), 1) ||
	    (opt.secure_heap && setenv("RAMCRYPT_SECURE_HEAP", std::to_string(opt.secure_heap).c_str(), 1)) ||
	    (set_tunables && setenv("GLIBC_TUNABLES", tunables.c_str(), 1)) ||
	    (!vars.empty() && setenv("RAMCRYPT_SECRET_VARS", vars.c_str(), 1))) {
		env.err << "ramcrypt: run: setenv: " << std::strerror(errno) << '\n';
		return false;
	}
	return true;
}

} // namespace

bool parse_secure_heap(const std::string &arg, std::uint64_t &bytes)
{
	std::uint64_t v = 0, mult = 1;
	auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), v);
	std::string suffix(end, arg.data() + arg.size());
	if (ec != std::errc() || end == arg.data())
		return false;
	if (suffix == "K" || suffix == "k")
		mult = 1ULL << 10;
	else if (suffix == "M" || suffix == "m")
		mult = 1ULL << 20;
	else if (suffix == "G" || suffix == "g")
		mult = 1ULL << 30;
	else if (!suffix.empty())
		return false;
	if (v > (1ULL << 30) / mult)
		return false;
	v *= mult;
	if (v < 4096 || (v & (v - 1)))
		return false;
	bytes = v;
	return true;
}

int cmd_run(Env &env, const ProtectOptions &opt, const std::vector<std::string> &command,
	    const RunSecrets *secrets)
{
	auto dev = open_or_report(env, Access::write);
	if (!dev)
		return exit_run_failed;

	// Protect this process and keep it across execve, so the command never runs
	// unprotected and its exit status is naturally ours.
	ramcrypt_protect p = protect_request(opt);
	p.pid = 0;
	p.flags |= RAMCRYPT_PROTECT_INHERIT_EXEC;
	if (int e = dev->protect(p)) {
		report_protect(env, *dev, p, "run", e);
		return exit_run_failed;
	}
	// Protected now: the secrets are unsealed into this process's protected memory.
	SecretEnv secret_env;
	if (secrets && !secret_env.unseal(env, *dev, *secrets))
		return exit_run_failed;
	dev.reset();
	if (!setup_preload(env, opt, command.front(), secrets))
		return exit_run_failed;

	std::vector<char *> argv;
	for (const auto &arg : command)
		argv.push_back(const_cast<char *>(arg.c_str()));
	argv.push_back(nullptr);
	env.out.flush();
	env.err.flush();
	execvp(argv[0], argv.data());

	int e = errno;
	env.err << "ramcrypt: failed to execute " << command[0] << ": " << std::strerror(e) << '\n';
	return e == ENOENT ? exit_not_found : exit_cannot_invoke;
}

int cmd_protect(Env &env, const std::vector<pid_t> &pids, const ProtectOptions &opt)
{
	auto dev = open_or_report(env, Access::write);
	if (!dev)
		return exit_failure;

	int status = 0;
	for (pid_t pid : pids) {
		ramcrypt_protect p = protect_request(opt);
		p.pid = pid;
		if (opt.inherit_exec)
			p.flags |= RAMCRYPT_PROTECT_INHERIT_EXEC;
		if (int e = dev->protect(p)) {
			report_protect(env, *dev, p, "protect " + std::to_string(pid), e);
			status = exit_failure;
		}
	}
	return status;
}

int cmd_unprotect(Env &env, const std::vector<pid_t> &pids)
{
	auto dev = open_or_report(env, Access::write);
	if (!dev)
		return exit_failure;

	int status = 0;
	for (pid_t pid : pids) {
		ramcrypt_pid p = {};
		p.pid = pid;
		if (int e = dev->unprotect(p)) {
			report(env, "unprotect " + std::to_string(pid), e);
			status = exit_failure;
		}
	}
	return status;
}

// Every protected process, as the module lists them; one that exited meanwhile is
// not an error.
int cmd_unprotect_all(Env &env)
{
	auto dev = open_or_report(env, Access::write);
	if (!dev)
		return exit_failure;

	std::vector<__u64> pids;
	if (int e = list_pids(*dev, pids)) {
		report(env, "unprotect", e);
		return exit_failure;
	}
	int status = 0;
	for (__u64 pid : pids) {
		ramcrypt_pid p = {};
		p.pid = pid;
		int e = dev->unprotect(p);
		if (e && e != ESRCH) {
			report(env, "unprotect " + std::to_string(pid), e);
			status = exit_failure;
		}
	}
	return status;
}

int cmd_set_window(Env &env, pid_t pid, std::uint64_t window)
{
	auto dev = open_or_report(env, Access::write);
	if (!dev)
		return exit_failure;

	ramcrypt_window w = {};
	w.pid = pid;
	w.window = window;
	if (int e = dev->set_window(w)) {
		report(env, "set window " + std::to_string(pid), e);
		return exit_failure;
	}
	return 0;
}

int cmd_ps(Env &env, const PsOptions &opt)
{
	auto dev = open_or_report(env, Access::read);
	if (!dev)
		return exit_failure;

	std::vector<__u64> pids;
	if (int e = list_pids(*dev, pids)) {
		report(env, "ps", e);
		return exit_failure;
	}
	std::sort(pids.begin(), pids.end());

	std::vector<PsRow> rows;
	int status = 0;
	for (__u64 pid : pids) {
		PsRow row = {};
		row.stats.pid = pid;
		if (int e = dev->proc_stats(row.stats)) {
			if (e == ESRCH)
				continue; // exited since LIST
			report(env, "ps " + std::to_string(pid), e);
			status = exit_failure;
			continue;
		}
		bool ok;
		std::string comm = read_line_file(env.procfs + "/" + std::to_string(pid) + "/comm", ok);
		if (ok)
			row.command = comm;
		rows.push_back(row);
	}
	print_ps(env.out, opt, rows);
	return status;
}

int cmd_status(Env &env, bool json)
{
	int error = 0;
	auto dev = env.open_device(Access::read, error);
	if (!dev && module_absent(env, error)) {
		if (json)
			env.out << json_text({ { "tool_version", tool_version }, { "loaded", false } }) << '\n';
		else
			print_field(env, "module", "not loaded");
		return exit_not_loaded;
	}
	if (!dev) {
		report_open(env, error);
		return exit_failure;
	}

	ramcrypt_version v = {};
	if (int e = dev->version(v)) {
		report(env, "version", e);
		return exit_failure;
	}
	ramcrypt_status st = {};
	int status_error = dev->status(st);
	auto sysctls = read_sysctls(env);
	bool healthy = !status_error && key_healthy(st) && st.degraded == 0;

	if (json) {
		Json o = {
			{ "tool_version", tool_version },
			{ "loaded", true },
			{ "module_version", version_text(v.module) },
			{ "module_abi", v.abi },
		};
		if (!status_error) {
			o["key_source"] = key_source_name(st.key_source);
			o["key_generation"] = st.key_generation;
			o["cpus_online"] = st.cpus_online;
			o["cpus_with_key"] = st.cpus_with_key;
			o["degraded"] = degraded_list(st.degraded, false, true);
			o["healthy"] = healthy;
			o["protected_procs"] = st.protected_procs;
			o["encrypted_pages"] = st.encrypted_pages;
			o["window_pages"] = st.window_pages;
			o["encryptions"] = st.encryptions;
			o["decryptions"] = st.decryptions;
			o["scanner_passes"] = st.scanner_passes;
			o["skipped_pinned"] = st.skipped_pinned;
			o["degraded_events"] = st.degraded_events;
			o["key_heals"] = st.key_heals;
			if (v.abi >= 3) {
				o["wiped_at_exit"] = st.wiped_at_exit;
				o["init_on_free"] = static_cast<bool>(st.init_on_free);
				o["inherit_failures"] = st.inherit_failures;
			}
			if (v.abi >= 4) {
				o["skipped_shared"] = st.skipped_shared;
				o["skipped_swapcache"] = st.skipped_swapcache;
				o["secret_window_pages"] = st.secret_window_pages;
			}
		}
		o["sysctl"] = sysctl_json(sysctls);
		o["protects"] = protects;
		o["does_not_protect"] = does_not_protect;
		o["notes"] = notes;
		env.out << json_text(o) << '\n';
	} else {
		print_field(env, "module", "loaded, version " + version_text(v.module) + ", ABI " +
						   std::to_string(v.abi));
		if (!status_error) {
			print_field(env, "key", std::string(key_source_text(st.key_source)) +
							", generation " + std::to_string(st.key_generation));
			print_field(env, "cpus holding the key", std::to_string(st.cpus_with_key) + " of " +
									  std::to_string(st.cpus_online) + " online");
			if (healthy) {
				print_field(env, "health", "ok");
			} else {
				print_field(env, "health", "DEGRADED");
				auto causes = key_problems(st);
				auto bits = degraded_list(st.degraded, false, false);
				causes.insert(causes.end(), bits.begin(), bits.end());
				for (const auto &c : causes)
					env.out << "  - " << c << '\n';
			}
			print_field(env, "protected processes", std::to_string(st.protected_procs));
			print_field(env, "pages",
				    std::to_string(st.encrypted_pages) + " encrypted, " +
					    std::to_string(st.window_pages) + " plaintext in windows" +
					    (v.abi >= 4 ? " (" + std::to_string(st.secret_window_pages) +
								  " of them in secret windows)"
							: std::string()));
			print_field(env, "encryptions", std::to_string(st.encryptions));
			print_field(env, "decryptions", std::to_string(st.decryptions));
			print_field(env, "scanner passes", std::to_string(st.scanner_passes));
			print_field(env, "pages skipped",
				    std::to_string(st.skipped_pinned) + " pinned, " +
					    (v.abi >= 4 ? std::to_string(st.skipped_shared) + " shared, " +
								  std::to_string(st.skipped_swapcache) + " in swap cache"
							: std::string("causes not reported by this module")));
			print_field(env, "degraded events", std::to_string(st.degraded_events));
			print_field(env, "key heals", std::to_string(st.key_heals));
			if (v.abi >= 3) {
				print_field(env, "wiped at exit", std::to_string(st.wiped_at_exit) + " pages");
				print_field(env, "freed pages",
					    st.init_on_free ? "zeroed by the kernel (init_on_free)"
							    : "not zeroed: what a protected process frees while it runs "
							      "(munmap, MADV_DONTNEED) stays in RAM until reused; "
							      "boot with init_on_free=1");
			}
		}
		env.out << "sysctl (" << env.procfs << "/sys/ramcrypt):";
		env.out << (sysctls.empty() ? " none\n" : "\n");
		for (const auto &[name, value] : sysctls)
			env.out << "  " << name << " = " << printable(value) << '\n';
		print_list(env, "protects", protects);
		print_list(env, "does not protect", does_not_protect);
		print_list(env, "notes", notes);
	}
	if (status_error) {
		report(env, "status", status_error);
		return exit_failure;
	}
	return healthy ? 0 : exit_degraded;
}

int cmd_key_status(Env &env, bool json)
{
	auto dev = open_or_report(env, Access::read);
	if (!dev)
		return exit_failure;

	ramcrypt_status st = {};
	if (int e = dev->status(st)) {
		report(env, "key status", e);
		return exit_failure;
	}
	bool healthy = key_healthy(st);

	if (json) {
		Json o = {
			{ "key_source", key_source_name(st.key_source) },
			{ "key_generation", st.key_generation },
			{ "cpus_online", st.cpus_online },
			{ "cpus_with_key", st.cpus_with_key },
			{ "key_heals", st.key_heals },
			{ "degraded", degraded_list(st.degraded, true, true) },
			{ "healthy", healthy },
		};
		env.out << json_text(o) << '\n';
	} else {
		print_field(env, "key", key_source_text(st.key_source));
		print_field(env, "generation", std::to_string(st.key_generation));
		print_field(env, "cpus holding the key",
			    std::to_string(st.cpus_with_key) + " of " + std::to_string(st.cpus_online) + " online");
		print_field(env, "key heals", std::to_string(st.key_heals));
		print_field(env, "health", healthy ? "ok" : "DEGRADED");
		if (!healthy) {
			auto causes = key_problems(st);
			auto bits = degraded_list(st.degraded, true, false);
			causes.insert(causes.end(), bits.begin(), bits.end());
			for (const auto &c : causes)
				env.out << "  - " << c << '\n';
		}
	}
	return healthy ? 0 : exit_degraded;
}

int cmd_key_load(Env &env, const KeyLoadOptions &opt)
{
	// No core dump and no same-uid ptrace may see the passphrase or the key.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	// Open first, so a missing module is reported before anyone types a passphrase.
	auto dev = open_or_report(env, Access::write);
	if (!dev)
		return exit_failure;

	std::vector<unsigned char> salt(kdf_default_salt.begin(), kdf_default_salt.end());
	std::string error;
	if (!opt.salt_file.empty())
		error = read_salt_file(opt.salt_file, salt);

	Secret pass;
	if (error.empty())
		error = opt.passphrase ? ask_passphrase(env, opt.verify, pass)
				       : read_key_file(opt.key_file, env.stdin_fd, pass);
	if (!error.empty()) {
		env.err << "ramcrypt: " << error << '\n';
		return exit_failure;
	}

	Secret key;
	key.resize(RAMCRYPT_KEY_BYTES);
	if (!pbkdf2_sha256(pass.bytes(), salt, opt.iterations, { key.data(), key.size() })) {
		env.err << "ramcrypt: key load: key derivation failed\n";
		return exit_failure;
	}
	pass.clear();

	ramcrypt_key k = {};
	k.key = reinterpret_cast<std::uintptr_t>(key.data());
	k.len = key.size();
	int e = dev->key_load(k);
	key.clear();
	if (e == EBUSY) {
		env.err << "ramcrypt: key load: " << std::strerror(e)
			<< " (pages are encrypted with the current key: unprotect every process first)\n";
		return exit_failure;
	}
	if (e == EKEYREJECTED) {
		// After a resume the module takes back only the key its pages were made with.
		env.err << "ramcrypt: key load: wrong key: encrypted pages or the key in use before "
			   "suspend need the key loaded before (check the passphrase, --salt-file and "
			   "--iterations)\n";
		return exit_failure;
	}
	if (e) {
		report(env, "key load", e);
		return exit_failure;
	}
	return 0;
}

int cmd_selftest(Env &env)
{
	auto dev = open_or_report(env, Access::write);
	if (!dev)
		return exit_failure;

	if (int e = dev->selftest()) {
		report(env, "selftest", e);
		return exit_failure;
	}
	env.out << "selftest passed\n";
	return 0;
}

int cmd_version(Env &env, bool json)
{
	int error = 0;
	auto dev = env.open_device(Access::read, error);
	ramcrypt_version v = {};

	if (!json)
		env.out << "ramcrypt " << tool_version << " (ABI " << RAMCRYPT_ABI_VERSION << ")\n";
	if (!dev && !module_absent(env, error)) {
		report_open(env, error);
		return exit_failure;
	}
	if (dev) {
		if (int e = dev->version(v)) {
			report(env, "version", e);
			return exit_failure;
		}
	}

	if (json) {
		Json o = {
			{ "tool_version", tool_version },
			{ "tool_abi", RAMCRYPT_ABI_VERSION },
			{ "loaded", dev != nullptr },
		};
		if (dev) {
			o["module_version"] = version_text(v.module);
			o["module_abi"] = v.abi;
		}
		env.out << json_text(o) << '\n';
	} else if (dev) {
		env.out << "module " << version_text(v.module) << " (ABI " << v.abi << ")\n";
	} else {
		env.out << "module not loaded\n";
	}
	return 0;
}

} // namespace ramcrypt
