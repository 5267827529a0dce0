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

// The result column of check ID in doctor's text table, "" if there is no such row.
std::string result_of(const std::string &out, const std::string &id)
{
	std::istringstream lines(out);
	std::string line;
	while (std::getline(lines, line)) {
		if (!line.starts_with(id + " "))
			continue;
		return line.substr(line.find_last_of(' ') + 1);
	}
	return "";
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
	EXPECT_EQ(find(config_checks(debian_612), "ibt")->result, Result::info);
}

// The project's test kernels (config/*.config) are what ramcrypt needs.
void expect_test_kernel(const std::string &path)
{
	auto checks = config_checks(path);
	for (const auto &c : checks)
		EXPECT_TRUE(c.result == Result::ok || c.result == Result::info) << c.id << ": " << c.state;
	EXPECT_EQ(find(checks, "device_private")->result, Result::ok);
	EXPECT_EQ(find(checks, "ibt")->result, Result::info); // kernel-distro.config turns IBT on
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
		  "not set: DEVICE_PRIVATE, ZONE_DEVICE, MIGRATION, MMU_NOTIFIER");
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
	EXPECT_NE(out.find("{\"id\":\"ibt\",\"state\":\"CONFIG_X86_KERNEL_IBT=y\",\"result\":\"info\""),
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

} // namespace
} // namespace ramcrypt::test
