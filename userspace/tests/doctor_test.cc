// SPDX-License-Identifier: GPL-2.0
// `ramcrypt doctor` on real kernel configs (Debian's stock kernels, the project's
// test kernels: tests/configs/README.md) and on made-up host states.
#include "cli.h"
#include "doctor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ramcrypt::test {
namespace {

namespace fs = std::filesystem;

const std::string configs = RAMCRYPT_TEST_CONFIGS;
const std::string debian_61 = configs + "/debian-6.1.0-57-amd64.config.gz";
const std::string debian_612 = configs + "/debian-6.12.117+deb12-amd64.config.gz";
const std::string test_61 = configs + "/testkernel-6.1.config.gz";
const std::string test_612 = configs + "/testkernel-6.12.config.gz";

// A host as a test describes it: files below a temporary root's proc/ and sys/.
class DoctorTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		char dir[] = "/tmp/ramcrypt-doctor.XXXXXX";
		ASSERT_NE(mkdtemp(dir), nullptr);
		root_ = dir;
		fs::create_directories(root_ + "/proc");
		fs::create_directories(root_ + "/sys");
		fs::create_directories(root_ + "/boot");
		env_.procfs = root_ + "/proc";
		env_.sysfs = root_ + "/sys";
		env_.boot = root_ + "/boot";
	}
	void TearDown() override { fs::remove_all(root_); }

	void file(const std::string &name, const std::string &content)
	{
		std::string path = root_ + "/" + name;
		fs::create_directories(fs::path(path).parent_path());
		std::ofstream(path, std::ios::binary) << content;
	}

	int run(const std::vector<std::string> &args)
	{
		std::vector<const char *> argv = { "ramcrypt", "doctor" };
		for (const auto &a : args)
			argv.push_back(a.c_str());
		out_.str("");
		err_.str("");
		return cli_main(env_, static_cast<int>(argv.size()), argv.data());
	}

	std::string root_;
	std::ostringstream out_, err_;
	Env env_{ .open_device = {}, .out = out_, .err = err_, .read_passphrase = {} };
};

// The row of check ID in doctor's text table, "" if there is none.
std::string row_of(const std::string &out, const std::string &id)
{
	std::istringstream lines(out);
	std::string line;
	while (std::getline(lines, line)) {
		if (line.starts_with(id + " "))
			return line;
	}
	return "";
}

// Its result column.
std::string result_of(const std::string &out, const std::string &id)
{
	std::string row = row_of(out, id);
	return row.empty() ? "" : row.substr(row.find_last_of(' ') + 1);
}

// Its state column.
std::string state_of(const std::string &out, const std::string &id)
{
	std::string row = row_of(out, id);
	if (row.empty())
		return "";
	std::size_t begin = row.find_first_not_of(' ', id.size());
	std::size_t end = row.find_last_not_of(' ', row.find_last_of(' '));
	return row.substr(begin, end + 1 - begin);
}

const Check *find(const std::vector<Check> &checks, const std::string &id)
{
	for (const auto &c : checks) {
		if (c.id == id)
			return &c;
	}
	return nullptr;
}

std::vector<Check> config_checks(const std::string &path)
{
	std::string text;
	EXPECT_EQ(read_kernel_config(path, text), "");
	return doctor_checks(parse_kernel_config(text), nullptr);
}

TEST(DoctorConfig, Parse)
{
	auto c = parse_kernel_config("#\n# CONFIG_DEVICE_PRIVATE is not set\nCONFIG_KPROBES=y\n"
				     "CONFIG_KVM=m\nCONFIG_MODULE_SIG_HASH=\"sha256\"\nCONFIG_NR_CPUS=8");
	EXPECT_EQ(c.size(), 5u);
	EXPECT_EQ(c["DEVICE_PRIVATE"], "n");
	EXPECT_EQ(c["KPROBES"], "y");
	EXPECT_EQ(c["KVM"], "m");
	EXPECT_EQ(c["MODULE_SIG_HASH"], "\"sha256\"");
	EXPECT_EQ(c["NR_CPUS"], "8");
}

// Debian's stock kernels have everything but DEVICE_PRIVATE.
void expect_debian_stock(const std::string &path)
{
	auto checks = config_checks(path);
	const Check *dp = find(checks, "device_private");
	ASSERT_NE(dp, nullptr);
	EXPECT_EQ(dp->result, Result::fail);
	EXPECT_EQ(dp->state, "not set: DEVICE_PRIVATE");
	EXPECT_NE(dp->action.find("CONFIG_DEVICE_PRIVATE=y"), std::string::npos);
	EXPECT_NE(dp->action.find("make bindeb-pkg"), std::string::npos);
	for (const char *id : { "modules", "kprobes", "tracepoints", "hw_breakpoint" }) {
		ASSERT_NE(find(checks, id), nullptr) << id;
		EXPECT_EQ(find(checks, id)->result, Result::ok) << id;
	}
	EXPECT_EQ(doctor_status(checks), exit_failure);
}

TEST(DoctorConfig, DebianStock61)
{
	expect_debian_stock(debian_61);
	EXPECT_EQ(find(config_checks(debian_61), "ibt")->result, Result::ok); // 6.1: IBT off
}

TEST(DoctorConfig, DebianStock612)
{
	expect_debian_stock(debian_612);
	EXPECT_EQ(find(config_checks(debian_612), "ibt")->result, Result::ok); // on, and supported
}

// The project's test kernels (config/*.config) are what ramcrypt needs.
void expect_test_kernel(const std::string &path)
{
	auto checks = config_checks(path);
	for (const auto &c : checks)
		EXPECT_TRUE(c.result == Result::ok || c.result == Result::info) << c.id << ": " << c.state;
	EXPECT_EQ(find(checks, "device_private")->result, Result::ok);
	EXPECT_EQ(find(checks, "ibt")->state, "CONFIG_X86_KERNEL_IBT=y"); // kernel-distro.config
	EXPECT_EQ(doctor_status(checks), 0);
}

TEST(DoctorConfig, TestKernel61) { expect_test_kernel(test_61); }
TEST(DoctorConfig, TestKernel612) { expect_test_kernel(test_612); }

TEST(DoctorConfig, MissingOptions)
{
	auto checks = doctor_checks(parse_kernel_config("CONFIG_MODULES=y\n"), nullptr);
	for (const char *id : { "device_private", "kprobes", "tracepoints", "hw_breakpoint" })
		EXPECT_EQ(find(checks, id)->result, Result::fail) << id;
	EXPECT_EQ(find(checks, "device_private")->state,
		  "not set: DEVICE_PRIVATE, ZONE_DEVICE, MIGRATION, MMU_NOTIFIER, HMM_MIRROR");
	EXPECT_EQ(find(checks, "modules")->result, Result::ok);
	checks = doctor_checks(parse_kernel_config("# CONFIG_MODULES is not set\n"), nullptr);
	EXPECT_EQ(find(checks, "modules")->result, Result::fail);
}

TEST_F(DoctorTest, DebianStockCannotRun)
{
	for (const auto &path : { debian_61, debian_612 }) {
		EXPECT_EQ(run({ "--config", path, "--config-only" }), 1) << path;
		EXPECT_EQ(result_of(out_.str(), "device_private"), "FAIL");
		EXPECT_NE(out_.str().find("device_private (FAIL): ramcrypt cannot run"), std::string::npos);
		EXPECT_NE(out_.str().find("  to do: boot a kernel built with CONFIG_DEVICE_PRIVATE=y; "
					  "Debian's stock 6.1 and 6.12 kernels lack it"),
			  std::string::npos);
		EXPECT_NE(out_.str().find("\nramcrypt cannot run here.\n"), std::string::npos);
		EXPECT_EQ(result_of(out_.str(), "kvm"), ""); // --config-only: no host rows
		EXPECT_EQ(err_.str(), "");
	}
}

TEST_F(DoctorTest, TestKernelsRun)
{
	for (const auto &path : { test_61, test_612 }) {
		EXPECT_EQ(run({ "--config", path, "--config-only" }), 0) << path << out_.str();
		EXPECT_EQ(result_of(out_.str(), "device_private"), "ok");
		EXPECT_NE(out_.str().find("ramcrypt can run here (kernel config checked).\n"), std::string::npos);
	}
}

TEST_F(DoctorTest, Json)
{
	EXPECT_EQ(run({ "--config", debian_612, "--config-only", "--json" }), 1);
	std::string out = out_.str();
	EXPECT_TRUE(out.starts_with("{\"config\":\"" + debian_612 + "\",\"host\":false,\"verdict\":\"fail\","
				    "\"checks\":[{\"id\":\"modules\",\"state\":\"CONFIG_MODULES=y\",\"result\":\"ok\""))
		<< out;
	EXPECT_NE(out.find("{\"id\":\"device_private\",\"state\":\"not set: DEVICE_PRIVATE\",\"result\":\"fail\""),
		  std::string::npos);
	EXPECT_NE(out.find("{\"id\":\"ibt\",\"state\":\"CONFIG_X86_KERNEL_IBT=y\",\"result\":\"ok\""),
		  std::string::npos);
	EXPECT_TRUE(out.ends_with("}]}\n"));
	EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST_F(DoctorTest, PlainConfigAndErrors)
{
	file("plain.config", "CONFIG_MODULES=y\n# CONFIG_DEVICE_PRIVATE is not set\n");
	EXPECT_EQ(run({ "--config", root_ + "/plain.config", "--config-only" }), 1);
	EXPECT_EQ(result_of(out_.str(), "device_private"), "FAIL");

	EXPECT_EQ(run({ "--config", root_ + "/none", "--config-only" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: doctor: " + root_ + "/none: No such file or directory\n");
	EXPECT_EQ(out_.str(), "");

	file("text", "hello\n");
	EXPECT_EQ(run({ "--config", root_ + "/text", "--config-only" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: doctor: " + root_ + "/text: no CONFIG_ options (not a kernel config?)\n");

	file("bad.gz", std::string("\x1f\x8b\x08\x00garbage", 12));
	EXPECT_EQ(run({ "--config", root_ + "/bad.gz", "--config-only" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: doctor: " + root_ + "/bad.gz: damaged gzip data\n");

	EXPECT_EQ(run({ "--bogus" }), 1);
	EXPECT_NE(err_.str().find("Try 'ramcrypt doctor --help'"), std::string::npos);
}

// A host where ramcrypt runs with full protection: the test kernel's config, AES-NI,
// no swap, no KVM, init_on_free=1, perf_event_paranoid 2, tracefs with every event.
class DoctorHostTest : public DoctorTest {
protected:
	void SetUp() override
	{
		DoctorTest::SetUp();
		file("proc/sys/kernel/osrelease", "6.12.117\n");
		file("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro init_on_free=1 quiet\n");
		file("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
		file("proc/sys/kernel/perf_event_paranoid", "2\n");
		file("proc/sys/kernel/modules_disabled", "0\n");
		cpu_flags("fpu sse2 sse4_1 aes avx2");
		file("sys/kernel/security/lockdown", "[none] integrity confidentiality\n");
		file("sys/module/module/parameters/sig_enforce", "N\n");
		file("sys/module/zswap/parameters/enabled", "N\n");
		for (const char *e : { "exceptions/page_fault_user", "exceptions/page_fault_kernel",
				       "sched/sched_process_fork", "sched/sched_process_exec",
				       "sched/sched_process_exit" })
			file("sys/kernel/tracing/events/" + std::string(e) + "/enable", "0\n");
		gzip_config(test_612);
	}

	void cpu_flags(const std::string &flags)
	{
		file("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: " + flags +
					     "\n\nprocessor\t: 1\nflags\t\t: " + flags + "\n");
	}

	// The running kernel's config as /proc/config.gz.
	void gzip_config(const std::string &path)
	{
		fs::copy_file(path, root_ + "/proc/config.gz", fs::copy_options::overwrite_existing);
	}

	int doctor() { return run({}); }
};

TEST_F(DoctorHostTest, Healthy)
{
	EXPECT_EQ(doctor(), 0) << out_.str();
	EXPECT_TRUE(out_.str().starts_with("kernel config: " + root_ + "/proc/config.gz\n"
					   "running kernel: 6.12.117\n\nCHECK "));
	for (const char *id : { "modules", "device_private", "kprobes", "tracepoints", "hw_breakpoint",
				"module_signing", "lockdown", "secure_boot", "kvm", "swap", "init_on_free",
				"perf_event_paranoid", "aes_ni", "hypervisor" })
		EXPECT_EQ(result_of(out_.str(), id), "ok") << id;
	EXPECT_EQ(result_of(out_.str(), "ibt"), "ok");
	EXPECT_EQ(result_of(out_.str(), "vaes"), "info"); // no vaes, vpclmulqdq
	EXPECT_EQ(result_of(out_.str(), "module"), "info");
	EXPECT_EQ(state_of(out_.str(), "tracepoints"), "CONFIG_TRACEPOINTS=y; fault and sched events present");
	EXPECT_TRUE(out_.str().ends_with("\nramcrypt can run here.\n"));
	EXPECT_EQ(err_.str(), "");
}

TEST_F(DoctorHostTest, DebianStockKernel)
{
	gzip_config(debian_61);
	EXPECT_EQ(doctor(), 1);
	EXPECT_EQ(result_of(out_.str(), "device_private"), "FAIL");
}

// No /proc/config.gz: the config distributions install in /boot.
TEST_F(DoctorHostTest, BootConfig)
{
	fs::remove(root_ + "/proc/config.gz");
	EXPECT_EQ(doctor(), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: doctor: " + root_ + "/boot/config-6.12.117: No such file or directory "
			      "(give --config FILE)\n");
	fs::copy_file(debian_612, root_ + "/boot/config-6.12.117");
	EXPECT_EQ(doctor(), 1);
	EXPECT_TRUE(out_.str().starts_with("kernel config: " + root_ + "/boot/config-6.12.117\n"));
	EXPECT_EQ(result_of(out_.str(), "device_private"), "FAIL");
}

// --config judges that file with this host's state.
TEST_F(DoctorHostTest, ConfigWithHost)
{
	file("proc/swaps", "Filename Type Size Used Priority\n/dev/zram0 partition 1000 0 100\n");
	file("proc/sys/ramcrypt/allow_swap", "1\n");
	EXPECT_EQ(run({ "--config", test_61 }), 2);
	EXPECT_TRUE(out_.str().starts_with("kernel config: " + test_61 + "\n"));
	EXPECT_EQ(result_of(out_.str(), "swap"), "weak");
	EXPECT_EQ(run({ "--config", test_61, "--config-only" }), 0);
}

TEST_F(DoctorHostTest, Kvm)
{
	file("sys/module/kvm/initstate", "live\n");
	file("sys/module/kvm_intel/initstate", "live\n");
	EXPECT_EQ(doctor(), 0); // modules without /dev/kvm: no VMX, no guests
	EXPECT_EQ(result_of(out_.str(), "kvm"), "ok");
	file("sys/class/misc/kvm/dev", "10:232\n");
	EXPECT_EQ(doctor(), 2);
	EXPECT_EQ(state_of(out_.str(), "kvm"), "kvm, kvm_intel; /dev/kvm present");
	EXPECT_NE(out_.str().find("kvm (weak): KVM loads a guest's debug registers into DR0-DR3"), std::string::npos);
	EXPECT_NE(out_.str().find("  to do: do not run virtual machines on a ramcrypt host: modprobe -r kvm_intel"),
		  std::string::npos);
	EXPECT_TRUE(out_.str().ends_with("\nramcrypt can run here, with weaker protection: see the weak checks.\n"));

	// A KVM with patches/'s change, not asked to keep guests off DR0-DR3: still weak.
	file("sys/module/kvm/parameters/host_owns_debugregs", "N\n");
	EXPECT_EQ(doctor(), 2);
	EXPECT_EQ(state_of(out_.str(), "kvm"), "kvm, kvm_intel; /dev/kvm present; host_owns_debugregs=N");
	EXPECT_NE(out_.str().find("  to do: options kvm host_owns_debugregs=1"), std::string::npos);
	// Asked to: VMs and the key share the host.
	file("sys/module/kvm/parameters/host_owns_debugregs", "Y\n");
	EXPECT_EQ(doctor(), 0);
	EXPECT_EQ(result_of(out_.str(), "kvm"), "ok");
	EXPECT_EQ(state_of(out_.str(), "kvm"), "kvm, kvm_intel; /dev/kvm present; host_owns_debugregs=Y");
}

TEST_F(DoctorHostTest, Swap)
{
	file("sys/module/zswap/parameters/enabled", "Y\n");
	EXPECT_EQ(doctor(), 0); // zswap without a swap area keeps nothing
	EXPECT_NE(out_.str().find("off; zswap on"), std::string::npos);
	file("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n"
			   "/dev/zram0 partition 4096 0 100\n");
	// Swap on: protect refuses processes that could swap; information, not weakness.
	EXPECT_EQ(doctor(), 0);
	EXPECT_NE(out_.str().find("on: /swapfile /dev/zram0; zswap on"), std::string::npos);
	EXPECT_EQ(result_of(out_.str(), "swap"), "info");
	EXPECT_NE(out_.str().find("MemorySwapMax=0"), std::string::npos);
	// allow_swap=1: such processes are protected with their plaintext swappable.
	file("proc/sys/ramcrypt/allow_swap", "1\n");
	EXPECT_EQ(doctor(), 2);
	EXPECT_EQ(result_of(out_.str(), "swap"), "weak");
	EXPECT_NE(out_.str().find("to do: sysctl ramcrypt.allow_swap=0"), std::string::npos);
}

TEST_F(DoctorHostTest, InitOnFree)
{
	file("proc/cmdline", "root=/dev/vda1 ro quiet\n");
	EXPECT_EQ(doctor(), 2);
	EXPECT_EQ(result_of(out_.str(), "init_on_free"), "weak");
	EXPECT_NE(out_.str().find("to do: add init_on_free=1 to the kernel command line"), std::string::npos);
	file("proc/cmdline", "init_on_free=1 init_on_free=0\n"); // the last one counts
	EXPECT_EQ(doctor(), 2);
	EXPECT_NE(out_.str().find("off (init_on_free=0)"), std::string::npos);

	// A kernel that wipes by default, unless the command line says otherwise.
	file("plain.config", "CONFIG_MODULES=y\nCONFIG_DEVICE_PRIVATE=y\nCONFIG_ZONE_DEVICE=y\n"
			     "CONFIG_MIGRATION=y\nCONFIG_MMU_NOTIFIER=y\nCONFIG_HMM_MIRROR=y\nCONFIG_KPROBES=y\nCONFIG_TRACEPOINTS=y\n"
			     "CONFIG_HAVE_HW_BREAKPOINT=y\nCONFIG_PERF_EVENTS=y\nCONFIG_INIT_ON_FREE_DEFAULT_ON=y\n");
	file("proc/cmdline", "quiet\n");
	EXPECT_EQ(run({ "--config", root_ + "/plain.config" }), 0) << out_.str();
	EXPECT_NE(out_.str().find("on (CONFIG_INIT_ON_FREE_DEFAULT_ON)"), std::string::npos);
	file("proc/cmdline", "init_on_free=off\n");
	EXPECT_EQ(run({ "--config", root_ + "/plain.config" }), 2);
}

TEST_F(DoctorHostTest, PerfEventParanoid)
{
	file("proc/sys/kernel/perf_event_paranoid", "1\n");
	EXPECT_EQ(doctor(), 2);
	EXPECT_EQ(result_of(out_.str(), "perf_event_paranoid"), "weak");
	EXPECT_NE(out_.str().find("to do: sysctl kernel.perf_event_paranoid=2"), std::string::npos);
	file("proc/sys/kernel/perf_event_paranoid", "3\n"); // Debian's default
	EXPECT_EQ(doctor(), 0);
}

TEST_F(DoctorHostTest, Cpu)
{
	cpu_flags("fpu sse2 sse4_1 aes avx2 vaes vpclmulqdq hypervisor");
	EXPECT_EQ(doctor(), 0);
	EXPECT_EQ(result_of(out_.str(), "vaes"), "ok");
	EXPECT_EQ(result_of(out_.str(), "hypervisor"), "info");
	EXPECT_NE(out_.str().find("keeps this guest's DR0-DR3, and so the key, in its own RAM"), std::string::npos);
	cpu_flags("fpu sse2 sse4_1 avx2");
	EXPECT_EQ(doctor(), 1);
	EXPECT_EQ(state_of(out_.str(), "aes_ni"), "missing: aes");
	EXPECT_EQ(result_of(out_.str(), "aes_ni"), "FAIL");
}

TEST_F(DoctorHostTest, Tracepoints)
{
	fs::remove_all(root_ + "/sys/kernel/tracing/events/exceptions");
	EXPECT_EQ(doctor(), 1);
	EXPECT_NE(out_.str().find("missing in tracefs: page_fault_user, page_fault_kernel"), std::string::npos);
	EXPECT_EQ(result_of(out_.str(), "tracepoints"), "FAIL");
	// The older debugfs mount point counts the same.
	fs::rename(root_ + "/sys/kernel/tracing", root_ + "/sys/kernel/debug-tracing");
	fs::create_directories(root_ + "/sys/kernel/debug");
	fs::rename(root_ + "/sys/kernel/debug-tracing", root_ + "/sys/kernel/debug/tracing");
	EXPECT_EQ(doctor(), 1);
	fs::remove_all(root_ + "/sys/kernel/debug");
	EXPECT_EQ(doctor(), 0); // not readable: judged from the config
	EXPECT_NE(out_.str().find("events not checked (tracefs not readable)"), std::string::npos);
}

TEST_F(DoctorHostTest, SecureBootAndLockdown)
{
	fs::create_directories(root_ + "/sys/firmware/efi");
	EXPECT_EQ(doctor(), 0);
	EXPECT_NE(out_.str().find("unknown (EFI variables not readable)"), std::string::npos);
	file("sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
	     std::string("\x06\x00\x00\x00\x00", 5));
	EXPECT_EQ(doctor(), 0);
	EXPECT_EQ(result_of(out_.str(), "secure_boot"), "ok");
	file("sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
	     std::string("\x06\x00\x00\x00\x01", 5));
	file("sys/kernel/security/lockdown", "none [integrity] confidentiality\n");
	EXPECT_EQ(doctor(), 0); // signing is work to do, not weaker protection
	EXPECT_EQ(result_of(out_.str(), "secure_boot"), "info");
	EXPECT_EQ(state_of(out_.str(), "lockdown"), "integrity");
	EXPECT_EQ(state_of(out_.str(), "module_signing"), "enforced (lockdown integrity)");
	EXPECT_NE(out_.str().find("mokutil --import"), std::string::npos);
}

TEST_F(DoctorHostTest, ModulesDisabled)
{
	file("proc/sys/kernel/modules_disabled", "1\n");
	EXPECT_EQ(doctor(), 1);
	EXPECT_EQ(result_of(out_.str(), "modules"), "FAIL");
	fs::create_directories(root_ + "/sys/module/ramcrypt");
	EXPECT_EQ(doctor(), 0); // loaded before
	EXPECT_EQ(result_of(out_.str(), "module"), "ok");
}

TEST_F(DoctorHostTest, HostJson)
{
	file("proc/sys/kernel/perf_event_paranoid", "-1\n");
	EXPECT_EQ(run({ "--json" }), 2);
	EXPECT_TRUE(out_.str().starts_with("{\"config\":\"" + root_ + "/proc/config.gz\",\"kernel\":\"6.12.117\","
					   "\"host\":true,\"verdict\":\"weak\",\"checks\":["))
		<< out_.str();
	EXPECT_NE(out_.str().find("{\"id\":\"perf_event_paranoid\",\"state\":\"-1\",\"result\":\"weak\""),
		  std::string::npos);
}

} // namespace
} // namespace ramcrypt::test
