// SPDX-License-Identifier: GPL-2.0
// The installed shape of the tool: the real binary, its main() and the real device
// path. Only the cases that need no module run here.
#include <gtest/gtest.h>
#include <linux/ramcrypt.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

// The ABI version as the tool prints it, whatever the header says.
#define ABI_STR2(x) #x
#define ABI_STR1(x) ABI_STR2(x)
#define ABI_STR ABI_STR1(RAMCRYPT_ABI_VERSION)

namespace {

struct Result {
	int status;
	std::string out, err;
};

std::string slurp(const std::string &path)
{
	std::ifstream f(path);
	std::ostringstream s;
	s << f.rdbuf();
	return s.str();
}

Result tool(const std::string &args, const std::string &stdout_to = "")
{
	char dir[] = "/tmp/ramcrypt-bin-test.XXXXXX";
	EXPECT_NE(mkdtemp(dir), nullptr);
	std::string d = dir;
	std::string out = stdout_to.empty() ? d + "/out" : stdout_to;
	std::string cmd = std::string(RAMCRYPT_TOOL_PATH) + " " + args + " >" + out + " 2>" + d + "/err";
	int status = std::system(cmd.c_str());
	Result r = { WIFEXITED(status) ? WEXITSTATUS(status) : -1, stdout_to.empty() ? slurp(out) : "",
		     slurp(d + "/err") };
	std::filesystem::remove_all(d);
	return r;
}

bool module_present()
{
	return std::filesystem::exists("/dev/ramcrypt") || std::filesystem::exists("/sys/module/ramcrypt");
}

const std::string no_module =
	"ramcrypt: /dev/ramcrypt: No such file or directory (is the ramcrypt module loaded?)\n";

TEST(Binary, Version)
{
	if (module_present())
		GTEST_SKIP() << "a ramcrypt module is loaded on this host";
	Result r = tool("version");
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.out, "ramcrypt " RAMCRYPT_TOOL_VERSION " (ABI " ABI_STR ")\nmodule not loaded\n");
}

TEST(Binary, UnknownCommand)
{
	Result r = tool("frobnicate");
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(r.err, "ramcrypt: unknown command 'frobnicate'\nTry 'ramcrypt --help' for more information.\n");
}

TEST(Binary, VersionOption)
{
	Result r = tool("--version");
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.out, "ramcrypt " RAMCRYPT_TOOL_VERSION "\n");
}

TEST(Binary, MissingModule)
{
	if (module_present())
		GTEST_SKIP() << "a ramcrypt module is loaded on this host";
	Result r = tool("protect 4242");
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(r.err, no_module);
	r = tool("run -- true");
	EXPECT_EQ(r.status, 125);
	EXPECT_EQ(r.err, no_module);
}

TEST(Binary, LostOutputIsAnError)
{
	if (!std::filesystem::exists("/dev/full"))
		GTEST_SKIP() << "no /dev/full";
	Result r = tool("--help", "/dev/full");
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(r.err, "ramcrypt: write error\n");
}

} // namespace
