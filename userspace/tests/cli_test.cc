// SPDX-License-Identifier: GPL-2.0
// The whole tool without the module: argument checks, every error path, output
// formats, run's exit statuses, key derivation down to the bytes sent to the module.
#include "cli.h"
#include "fake_device.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>

// The ABI version as the tool prints it, whatever the header says.
#define ABI_STR2(x) #x
#define ABI_STR1(x) ABI_STR2(x)
#define ABI_STR ABI_STR1(RAMCRYPT_ABI_VERSION)

namespace ramcrypt::test {
namespace {

namespace fs = std::filesystem;

// The smallest window the module takes, and the tool's error for anything less.
const std::string min_window = std::to_string(RAMCRYPT_MIN_WINDOW);
const std::string below_min = std::to_string(RAMCRYPT_MIN_WINDOW - 1);

std::string bad_window(const std::string &arg)
{
	return "invalid window '" + arg + "': must be a number of pages, at least " + min_window;
}

const std::string no_module =
	"ramcrypt: /dev/ramcrypt: No such file or directory (is the ramcrypt module loaded?)\n";
const std::string default_salt_key_1000 = // PBKDF2("hunter2\n", default salt, 1000), by Python
	"e589179d6384523de438bbb47f4c26fd0e1e7b61f5be7923b3a1fa5f58822974";

std::string hex(const std::vector<unsigned char> &bytes)
{
	std::string out;
	char buf[3];
	for (unsigned char b : bytes) {
		std::snprintf(buf, sizeof(buf), "%02x", b);
		out += buf;
	}
	return out;
}

class CliTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		char dir[] = "/tmp/ramcrypt-test.XXXXXX";
		ASSERT_NE(mkdtemp(dir), nullptr);
		root_ = dir;
		fs::create_directories(root_ + "/proc");
		fs::create_directories(root_ + "/sys");
		env_.procfs = root_ + "/proc";
		env_.sysfs = root_ + "/sys";
	}
	void TearDown() override { fs::remove_all(root_); }

	int run(const std::vector<std::string> &args)
	{
		std::vector<const char *> argv = { "ramcrypt" };
		for (const auto &a : args)
			argv.push_back(a.c_str());
		out_.str("");
		err_.str("");
		return cli_main(env_, static_cast<int>(argv.size()), argv.data());
	}

	std::string file(const std::string &name, const std::string &content, mode_t mode = 0644)
	{
		std::string path = root_ + "/" + name;
		fs::create_directories(fs::path(path).parent_path());
		std::ofstream(path, std::ios::binary) << content;
		chmod(path.c_str(), mode);
		return path;
	}

	std::string usage(const std::string &message, const std::string &command)
	{
		return "ramcrypt: " + message + "\nTry 'ramcrypt " + command +
		       " --help' for more information.\n";
	}

	void healthy_status()
	{
		mod_.status = {};
		mod_.status.key_source = RAMCRYPT_KEY_RANDOM;
		mod_.status.key_generation = 1;
		mod_.status.cpus_online = 2;
		mod_.status.cpus_with_key = 2;
		mod_.status.protected_procs = 1;
		mod_.status.encrypted_pages = 100;
		mod_.status.window_pages = 4;
	}

	ramcrypt_proc_stats proc(__u64 pid, const std::string &comm)
	{
		file("proc/" + std::to_string(pid) + "/comm", comm + "\n");
		ramcrypt_proc_stats st = {};
		st.pid = pid;
		st.state = RAMCRYPT_PROC_INHERIT_EXEC;
		st.window = 4;
		st.window_pages = 3;		// 2 ordinary + 1 secret
		st.secret_window = 4;
		st.secret_window_pages = 1;
		st.secret_regions = 1;
		st.max_plain_age_ms = 1000;
		st.secret_plain_age_ms = 20;
		st.encrypted_pages = 120;
		st.faults = 5000;
		st.encryptions = 4000;
		st.decryptions = 3900;
		st.scanner_pages = 7;
		st.skipped_pinned = 1;
		st.degraded_events = 0;
		return st;
	}

	std::string root_;
	FakeModule mod_;
	std::ostringstream out_, err_;
	std::vector<std::string> passphrases_ = { "correct horse" };
	std::size_t prompts_ = 0;
	Env env_{
		.open_device = mod_.opener(),
		.out = out_,
		.err = err_,
		.read_passphrase =
			[this](const char *, Secret &s) {
				const std::string &p = passphrases_.at(prompts_++ % passphrases_.size());
				s.append(p.data(), p.size());
				return std::string();
			},
	};
};

// --- usage --------------------------------------------------------------------

TEST_F(CliTest, NoCommandPrintsUsage)
{
	EXPECT_EQ(run({}), 1);
	EXPECT_TRUE(err_.str().starts_with("ramcrypt: missing command\n"));
	EXPECT_NE(err_.str().find("Usage:"), std::string::npos);
	EXPECT_TRUE(mod_.opens.empty());
}

// Two lines, like util-linux: what is wrong, and where to look.
TEST_F(CliTest, UnknownCommandIsTwoLines)
{
	EXPECT_EQ(run({ "frobnicate", "42" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: unknown command 'frobnicate'\n"
			      "Try 'ramcrypt --help' for more information.\n");
	EXPECT_EQ(out_.str(), "");
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(CliTest, UnknownOptionIsTwoLines)
{
	EXPECT_EQ(run({ "--frobnicate" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: unrecognized option '--frobnicate'\n"
			      "Try 'ramcrypt --help' for more information.\n");
}

// The parser's own texts ("1 required N missing", "Could not convert") are not for users.
TEST_F(CliTest, NoRawParserMessages)
{
	EXPECT_EQ(run({ "protect", "--window" }), 1);
	EXPECT_EQ(err_.str(), usage("option '--window' needs a value", "protect"));
	EXPECT_EQ(run({ "ps", "--json=x" }), 1);
	EXPECT_EQ(err_.str(), usage("option '--json' takes no value", "ps"));
	EXPECT_EQ(run({ "ps", "extra" }), 1);
	EXPECT_EQ(err_.str(), usage("unexpected argument 'extra'", "ps"));
	EXPECT_EQ(run({ "ps", "-V" }), 1);
	EXPECT_EQ(err_.str(), usage("unrecognized option '-V'", "ps"));
	EXPECT_EQ(run({ "set", "window", "1", "8", "9" }), 1);
	EXPECT_EQ(err_.str(), usage("unexpected argument '9'", "set window"));
	EXPECT_EQ(run({ "key", "load", "--passphrase", "--key-file", "x" }), 1);
	EXPECT_EQ(err_.str(), usage("--passphrase and --key-file cannot be used together", "key load"));
	EXPECT_EQ(run({ "key", "load", "--key-file", "x", "-y" }), 1);
	EXPECT_EQ(err_.str(), usage("--verify-passphrase needs --passphrase", "key load"));
	EXPECT_EQ(run({ "key" }), 1);
	EXPECT_EQ(err_.str(), usage("missing command", "key"));
	EXPECT_EQ(run({ "key", "frob" }), 1);
	EXPECT_EQ(err_.str(), usage("unknown command 'frob'", "key"));
	EXPECT_EQ(run({ "run", "--secret" }), 125);
	EXPECT_EQ(err_.str(), usage("option '--secret' needs a value", "run"));
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(CliTest, VersionOption)
{
	for (const char *opt : { "-V", "--version" }) {
		EXPECT_EQ(run({ opt }), 0) << opt;
		EXPECT_EQ(out_.str(), "ramcrypt " RAMCRYPT_TOOL_VERSION "\n") << opt;
		EXPECT_EQ(err_.str(), "") << opt;
	}
	EXPECT_TRUE(mod_.opens.empty()); // the tool's version only: works without the module
}

TEST_F(CliTest, UnknownSubcommandOption)
{
	EXPECT_EQ(run({ "ps", "--frobnicate" }), 1);
	EXPECT_NE(err_.str().find("--frobnicate"), std::string::npos);
	EXPECT_NE(err_.str().find("Try 'ramcrypt ps --help'"), std::string::npos);
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(CliTest, HelpNamesEveryCommand)
{
	EXPECT_EQ(run({ "--help" }), 0);
	for (const char *cmd : { "run", "protect", "unprotect", "set", "ps", "status", "key",
				 "selftest", "version" })
		EXPECT_NE(out_.str().find(std::string("\n  ") + cmd), std::string::npos) << cmd;
	EXPECT_TRUE(err_.str().empty());
}

TEST_F(CliTest, CommandHelp)
{
	EXPECT_EQ(run({ "protect", "--help" }), 0);
	EXPECT_NE(out_.str().find("--inherit-exec"), std::string::npos);
	EXPECT_EQ(run({ "key", "load", "--help" }), 0);
	EXPECT_NE(out_.str().find("--salt-file"), std::string::npos);
	EXPECT_NE(out_.str().find("600000"), std::string::npos);
	EXPECT_EQ(run({ "run", "--help" }), 0);
	EXPECT_NE(out_.str().find("127"), std::string::npos);
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(CliTest, ProtectMissingPid)
{
	EXPECT_EQ(run({ "protect" }), 1);
	EXPECT_EQ(err_.str(), usage("missing PID", "protect"));
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(CliTest, InvalidPidsAreRejectedBeforeAnyCall)
{
	for (const char *pid : { "abc", "0", "+5", "5x", " 5", "", "2147483648", "99999999999999999999" }) {
		EXPECT_EQ(run({ "protect", "12", pid }), 1) << pid;
		EXPECT_EQ(err_.str(), usage(std::string("invalid PID '") + pid + "'", "protect")) << pid;
	}
	EXPECT_EQ(run({ "unprotect", "-5" }), 1);
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(CliTest, WindowBelowMinimumIsRejected)
{
	for (const std::string &w : { std::string("0"), std::string("1"), below_min, std::string("abc"),
				      std::string("-1"), min_window + "k" }) {
		EXPECT_EQ(run({ "protect", "--window", w, "42" }), 1) << w;
		EXPECT_EQ(err_.str(), usage(bad_window(w), "protect")) << w;
	}
	EXPECT_TRUE(mod_.opens.empty());
	EXPECT_EQ(run({ "protect", "--window", min_window, "42" }), 0);
	ASSERT_EQ(mod_.protects.size(), 1u);
	EXPECT_EQ(mod_.protects[0].window, std::uint64_t{ RAMCRYPT_MIN_WINDOW });
}

TEST_F(CliTest, ProtectSendsPidsWindowAndFlags)
{
	EXPECT_EQ(run({ "protect", "42", "43", "--window", "16", "--inherit-exec" }), 0);
	ASSERT_EQ(mod_.protects.size(), 2u);
	EXPECT_EQ(mod_.protects[0].pid, 42u);
	EXPECT_EQ(mod_.protects[1].pid, 43u);
	for (const auto &p : mod_.protects) {
		EXPECT_EQ(p.flags, RAMCRYPT_PROTECT_INHERIT_EXEC);
		EXPECT_EQ(p.window, 16u);
	}
	EXPECT_EQ(mod_.opens, std::vector<Access>{ Access::write });
	EXPECT_TRUE(out_.str().empty());
	EXPECT_TRUE(err_.str().empty());
}

// The secret tier's window and the process's own idle expiry (ABI 4).
TEST_F(CliTest, ProtectSendsTierOptions)
{
	EXPECT_EQ(run({ "protect", "--secret-window", "8", "--max-plain-age", "500", "42" }), 0);
	ASSERT_EQ(mod_.protects.size(), 1u);
	EXPECT_EQ(mod_.protects[0].secret_window, 8u);
	EXPECT_EQ(mod_.protects[0].flags, RAMCRYPT_PROTECT_PLAIN_AGE);
	EXPECT_EQ(mod_.protects[0].max_plain_age_ms, 500u);
	EXPECT_EQ(mod_.protects[0].window, 0u);
	// 0: no expiry for this process, which is not the same as no option.
	EXPECT_EQ(run({ "protect", "--max-plain-age", "0", "--inherit-exec", "42" }), 0);
	ASSERT_EQ(mod_.protects.size(), 2u);
	EXPECT_EQ(mod_.protects[1].flags, RAMCRYPT_PROTECT_PLAIN_AGE | RAMCRYPT_PROTECT_INHERIT_EXEC);
	EXPECT_EQ(mod_.protects[1].max_plain_age_ms, 0u);
	EXPECT_EQ(mod_.protects[1].secret_window, 0u);
	// The secret tier's own age (ABI 5): its flag only with the option.
	EXPECT_EQ(mod_.protects[1].secret_plain_age_ms, 0u);
	EXPECT_EQ(run({ "protect", "--secret-age", "5", "42" }), 0);
	ASSERT_EQ(mod_.protects.size(), 3u);
	EXPECT_EQ(mod_.protects[2].flags, RAMCRYPT_PROTECT_SECRET_AGE);
	EXPECT_EQ(mod_.protects[2].secret_plain_age_ms, 5u);
	EXPECT_EQ(mod_.protects[2].max_plain_age_ms, 0u);
	// An ABI 4 module refuses the flag: the tool names the option.
	mod_.version.abi = 4;
	mod_.errors["protect"] = EINVAL;
	EXPECT_EQ(run({ "protect", "--secret-age", "5", "42" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: protect 42: --secret-age needs module ABI 5; the loaded module speaks ABI 4\n");
	EXPECT_EQ(run({ "protect", "--max-plain-age", "5", "42" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: protect 42: Invalid argument\n");
}

TEST_F(CliTest, TierOptionsAreChecked)
{
	const std::string min_secret = std::to_string(RAMCRYPT_MIN_SECRET_WINDOW);
	const std::string below = std::to_string(RAMCRYPT_MIN_SECRET_WINDOW - 1);
	const std::string too_old = std::to_string(RAMCRYPT_PLAIN_AGE_MAX_MS + 1ULL);
	for (const std::string &w : { below, std::string("x"), std::string("-4") }) {
		EXPECT_EQ(run({ "protect", "--secret-window", w, "42" }), 1) << w;
		EXPECT_EQ(err_.str(), usage("invalid secret window '" + w + "': must be a number of pages, at least " +
						    min_secret,
					    "protect"));
	}
	EXPECT_EQ(run({ "run", "--max-plain-age", too_old, "true" }), 125);
	EXPECT_EQ(err_.str(), usage("invalid max plain age '" + too_old + "': must be milliseconds, 0 (never) to " +
					    std::to_string(RAMCRYPT_PLAIN_AGE_MAX_MS),
				    "run"));
	EXPECT_TRUE(mod_.opens.empty());
	for (const std::string &a : { too_old, std::string("x"), std::string("-1") }) {
		EXPECT_EQ(run({ "protect", "--secret-age", a, "42" }), 1) << a;
		EXPECT_EQ(err_.str(), usage("invalid secret age '" + a + "': must be milliseconds, 0 (as "
					    "--max-plain-age) to " + std::to_string(RAMCRYPT_PLAIN_AGE_MAX_MS),
					    "protect"));
	}
	EXPECT_TRUE(mod_.opens.empty());
	EXPECT_EQ(run({ "run", "--secret-window", min_secret, "--max-plain-age", "250", "--",
			"/nonexistent/command" }),
		  127);
	ASSERT_EQ(mod_.protects.size(), 1u);
	EXPECT_EQ(mod_.protects[0].secret_window, std::uint64_t{ RAMCRYPT_MIN_SECRET_WINDOW });
	EXPECT_EQ(mod_.protects[0].flags, RAMCRYPT_PROTECT_INHERIT_EXEC | RAMCRYPT_PROTECT_PLAIN_AGE);
	EXPECT_EQ(mod_.protects[0].max_plain_age_ms, 250u);
}

TEST_F(CliTest, ProtectDefaultsToTheModulesWindow)
{
	EXPECT_EQ(run({ "protect", "42" }), 0);
	ASSERT_EQ(mod_.protects.size(), 1u);
	EXPECT_EQ(mod_.protects[0].window, 0u);
	EXPECT_EQ(mod_.protects[0].flags, 0u);
}

TEST_F(CliTest, ProtectReportsEachFailureAndGoesOn)
{
	mod_.pid_errors[4242] = ESRCH;
	EXPECT_EQ(run({ "protect", "4242", "43" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: protect 4242: No such process\n");
	ASSERT_EQ(mod_.protects.size(), 1u);
	EXPECT_EQ(mod_.protects[0].pid, 43u);
}

// The module refuses (EBUSY) a process whose plaintext could be swapped: say why and
// what to do, for protect and for run.
TEST_F(CliTest, ProtectRefusedForSwapSaysWhatToDo)
{
	mod_.pid_errors[4242] = EBUSY;
	EXPECT_EQ(run({ "protect", "4242" }), 1);
	EXPECT_EQ(err_.str(),
		  "ramcrypt: protect 4242: swap is on and the process's memory cgroup may use it: its plaintext pages could be swapped\n"
		  "ramcrypt: run it in a cgroup with memory.swap.max=0 (systemd: MemorySwapMax=0), turn swap off,"
		  " or accept the risk with sysctl ramcrypt.allow_swap=1\n");
	err_.str("");
	mod_.errors["protect"] = EBUSY;
	EXPECT_EQ(run({ "run", "--", "true" }), 125);
	EXPECT_EQ(err_.str().rfind("ramcrypt: run: swap is on", 0), 0u) << err_.str();
}

TEST_F(CliTest, UnsupportedIoctlIsNamed)
{
	for (int e : { ENOTTY, EOPNOTSUPP }) {
		mod_.errors["protect"] = e;
		EXPECT_EQ(run({ "protect", "42" }), 1);
		EXPECT_EQ(err_.str(), "ramcrypt: protect 42: not supported by this module version\n");
	}
}

TEST_F(CliTest, MissingDevice)
{
	mod_.open_error = ENOENT;
	EXPECT_EQ(run({ "protect", "42" }), 1);
	EXPECT_EQ(err_.str(), no_module);
	EXPECT_EQ(run({ "ps" }), 1);
	EXPECT_EQ(err_.str(), no_module);
	EXPECT_EQ(run({ "key", "status" }), 1);
	EXPECT_EQ(err_.str(), no_module);
	EXPECT_EQ(run({ "selftest" }), 1);
	EXPECT_EQ(err_.str(), no_module);
}

TEST_F(CliTest, MissingDeviceNodeWithModuleLoaded)
{
	fs::create_directories(root_ + "/sys/module/ramcrypt");
	mod_.open_error = ENOENT;
	EXPECT_EQ(run({ "unprotect", "42" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: /dev/ramcrypt: No such file or directory (the module is "
			      "loaded: is devtmpfs mounted on /dev?)\n");
}

TEST_F(CliTest, DeviceNotAccessible)
{
	mod_.open_error = EACCES;
	EXPECT_EQ(run({ "protect", "42" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: /dev/ramcrypt: Permission denied\n");
}

TEST_F(CliTest, Unprotect)
{
	mod_.pid_errors[7] = EPERM;
	EXPECT_EQ(run({ "unprotect", "7", "8" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: unprotect 7: Operation not permitted\n");
	ASSERT_EQ(mod_.unprotects.size(), 1u);
	EXPECT_EQ(mod_.unprotects[0].pid, 8u);
	EXPECT_EQ(mod_.unprotects[0].flags, 0u);
}

// A key change needs every process unprotected: one command for all of them.
TEST_F(CliTest, UnprotectAll)
{
	mod_.procs = { proc(7, "gone"), proc(8, "a"), proc(9, "b") };
	mod_.pid_errors[7] = ESRCH; // exited since LIST: not an error
	EXPECT_EQ(run({ "unprotect", "--all" }), 0);
	EXPECT_EQ(err_.str(), "");
	ASSERT_EQ(mod_.unprotects.size(), 2u);
	EXPECT_EQ(mod_.unprotects[0].pid, 8u);
	EXPECT_EQ(mod_.unprotects[1].pid, 9u);
	EXPECT_EQ(mod_.opens, std::vector<Access>{ Access::write });

	mod_.pid_errors[9] = EPERM;
	EXPECT_EQ(run({ "unprotect", "--all" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: unprotect 9: Operation not permitted\n");

	mod_.procs.clear();
	mod_.unprotects.clear();
	EXPECT_EQ(run({ "unprotect", "--all" }), 0);
	EXPECT_TRUE(mod_.unprotects.empty());
}

TEST_F(CliTest, UnprotectAllTakesNoPid)
{
	EXPECT_EQ(run({ "unprotect", "--all", "42" }), 1);
	EXPECT_EQ(err_.str(), usage("--all takes no PID", "unprotect"));
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(CliTest, SetWindow)
{
	EXPECT_EQ(run({ "set", "window", "42", "8" }), 0);
	ASSERT_EQ(mod_.windows.size(), 1u);
	EXPECT_EQ(mod_.windows[0].pid, 42u);
	EXPECT_EQ(mod_.windows[0].window, 8u);

	mod_.errors["set_window"] = EINVAL;
	EXPECT_EQ(run({ "set", "window", "42", "100000" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: set window 42: Invalid argument\n");
}

TEST_F(CliTest, SetWindowArguments)
{
	EXPECT_EQ(run({ "set", "window", "42", below_min }), 1);
	EXPECT_EQ(err_.str(), usage(bad_window(below_min), "set window"));
	EXPECT_EQ(run({ "set", "window", "42" }), 1);
	EXPECT_EQ(err_.str(), usage("missing window", "set window"));
	EXPECT_EQ(run({ "set", "window" }), 1);
	EXPECT_EQ(err_.str(), usage("missing PID", "set window"));
	EXPECT_EQ(run({ "set", "window", "x", "8" }), 1);
	EXPECT_EQ(err_.str(), usage("invalid PID 'x'", "set window"));
	EXPECT_EQ(run({ "set", "window", "42", "8", "9" }), 1);
	EXPECT_EQ(run({ "set" }), 1);
	EXPECT_TRUE(mod_.opens.empty());
}

// --- run ----------------------------------------------------------------------

TEST_F(CliTest, RunMissingDevice)
{
	mod_.open_error = ENOENT;
	EXPECT_EQ(run({ "run", "--", "true" }), 125);
	EXPECT_EQ(err_.str(), no_module);
}

TEST_F(CliTest, RunWithoutCommand)
{
	for (auto args : std::vector<std::vector<std::string>>{
		     { "run" }, { "run", "--" }, { "run", "--window", "8" } }) {
		EXPECT_EQ(run(args), 125);
		EXPECT_EQ(err_.str(), usage("missing command", "run"));
	}
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(CliTest, RunUsageErrorsAre125)
{
	EXPECT_EQ(run({ "run", "--window", below_min, "true" }), 125);
	EXPECT_EQ(err_.str(), usage(bad_window(below_min), "run"));
	EXPECT_EQ(run({ "run", "--window" }), 125);
	EXPECT_EQ(run({ "run", "--bogus", "true" }), 125);
	EXPECT_EQ(err_.str(), usage("unrecognized option '--bogus'", "run"));
	EXPECT_EQ(run({ "frobnicate", "run", "true" }), 1);
	EXPECT_TRUE(err_.str().starts_with("ramcrypt: unknown command 'frobnicate'\n"));
	EXPECT_TRUE(mod_.opens.empty());
}

// run --secret NAME COMMAND, without "--": the option takes one value per use,
// and COMMAND is the command (it used to be swallowed as a second NAME: "missing command").
TEST_F(CliTest, RunSecretWithoutDoubleDash)
{
	const std::string name = "ramcrypt-test-missing-" + std::to_string(getpid());
	for (auto args : std::vector<std::vector<std::string>>{
		     { "run", "--secret", name, "/bin/false" },
		     { "run", "--secret=" + name, "/bin/false" },
		     { "run", "--secret", name, "--window", "8", "/bin/false", "--secret", "x" },
		     { "run", "--secret", name, "--secret", name + "-2", "/bin/false" } }) {
		mod_.protects.clear();
		EXPECT_EQ(run(args), 125) << args[2];
		// Parsed: protected itself, then failed to find the sealed secret.
		EXPECT_NE(err_.str().find("ramcrypt: secret " + name), std::string::npos) << err_.str();
		ASSERT_EQ(mod_.protects.size(), 1u) << err_.str();
		EXPECT_EQ(mod_.protects[0].flags, RAMCRYPT_PROTECT_INHERIT_EXEC);
	}
	EXPECT_EQ(mod_.protects[0].window, 0u);
	EXPECT_EQ(run({ "run", "--secret", name }), 125);
	EXPECT_EQ(err_.str(), usage("missing command", "run"));
}

TEST_F(CliTest, RunCommandNotFound)
{
	EXPECT_EQ(run({ "run", "--window", "8", "--", "/nonexistent/command" }), 127);
	EXPECT_EQ(err_.str(), "ramcrypt: failed to execute /nonexistent/command: No such file or directory\n");
	ASSERT_EQ(mod_.protects.size(), 1u);
	EXPECT_EQ(mod_.protects[0].pid, 0u); // ourselves, before exec
	EXPECT_EQ(mod_.protects[0].flags, RAMCRYPT_PROTECT_INHERIT_EXEC);
	EXPECT_EQ(mod_.protects[0].window, 8u);

	EXPECT_EQ(run({ "run", "ramcrypt-test-no-such-command" }), 127);
}

TEST_F(CliTest, RunCommandNotExecutable)
{
	std::string script = file("script", "#!/bin/sh\nexit 0\n", 0644);
	EXPECT_EQ(run({ "run", script }), 126);
	EXPECT_EQ(err_.str(), "ramcrypt: failed to execute " + script + ": Permission denied\n");
	EXPECT_EQ(run({ "run", "/etc" }), 126);
}

TEST_F(CliTest, RunDoesNotExecWhenProtectFails)
{
	mod_.errors["protect"] = EPERM;
	EXPECT_EQ(run({ "run", "/nonexistent/command" }), 125);
	EXPECT_EQ(err_.str(), "ramcrypt: run: Operation not permitted\n");
	mod_.errors["protect"] = ENOTTY;
	EXPECT_EQ(run({ "run", "/nonexistent/command" }), 125);
	EXPECT_EQ(err_.str(), "ramcrypt: run: not supported by this module version\n");
}

// run replaces the process, so these run it in a child and look at its status.
class RunExecTest : public CliTest {
protected:
	int status_of(const std::vector<std::string> &args)
	{
		pid_t pid = fork();
		if (pid == 0)
			_exit(run(args));
		int status = 0;
		waitpid(pid, &status, 0);
		return status;
	}
};

TEST_F(RunExecTest, ExitStatusIsTheCommands)
{
	int status = status_of({ "run", "--window", "8", "--", "sh", "-c", "exit 7" });
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST_F(RunExecTest, ArgumentsAfterTheCommandAreTheCommands)
{
	int status = status_of({ "run", "sh", "-c", "test \"$1\" = --window && test \"$2\" = 2",
				 "sh", "--window", "2" });
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(RunExecTest, FatalSignalIsTheCommands)
{
	int status = status_of({ "run", "sh", "-c", "kill -TERM $$" });
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

// run --secure-heap and --secret hand the program the preload (lib/preload.c, tested
// in the guest) and what it is to do. Here the preload is /dev/null, which ld.so
// ignores with a warning, so the command sees the environment and nothing else.
TEST_F(RunExecTest, SecureHeapReachesTheProgram)
{
	setenv("RAMCRYPT_PRELOAD", "/dev/null", 1);
	setenv("LD_PRELOAD", "", 1);
	int status = status_of({ "run", "--secure-heap=64K", "--", "sh", "-c",
				 "test \"$RAMCRYPT_SECURE_HEAP\" = 65536 && test \"$LD_PRELOAD\" = /dev/null"
				 " && test -z \"$RAMCRYPT_SECRET_VARS\"" });
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
	status = status_of({ "run", "--secure-heap", "sh", "-c", "test \"$RAMCRYPT_SECURE_HEAP\" = 262144" });
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
	// Freed chunks are wiped by glibc: added to the user's tunables, unless they set one.
	unsetenv("GLIBC_TUNABLES");
	status = status_of({ "run", "--secure-heap", "sh", "-c", "test \"$GLIBC_TUNABLES\" = glibc.malloc.perturb=255" });
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
	setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2", 1);
	status = status_of({ "run", "--secure-heap", "sh", "-c",
			     "test \"$GLIBC_TUNABLES\" = glibc.malloc.arena_max=2:glibc.malloc.perturb=255" });
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
	setenv("GLIBC_TUNABLES", "glibc.malloc.perturb=7", 1);
	status = status_of({ "run", "--secure-heap", "sh", "-c", "test \"$GLIBC_TUNABLES\" = glibc.malloc.perturb=7" });
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
	unsetenv("GLIBC_TUNABLES");
	// Without the option the program's environment has none of it.
	status = status_of({ "run", "sh", "-c", "test -z \"$RAMCRYPT_SECURE_HEAP$LD_PRELOAD$GLIBC_TUNABLES\"" });
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
	setenv("RAMCRYPT_PRELOAD", "/nonexistent/ramcrypt-preload.so", 1);
	EXPECT_EQ(run({ "run", "--secure-heap", "true" }), 125);
	EXPECT_EQ(err_.str(), "ramcrypt: run: /nonexistent/ramcrypt-preload.so: No such file or directory"
			      " (needed by --secure-heap)\n");
	unsetenv("RAMCRYPT_PRELOAD");
	unsetenv("LD_PRELOAD");
}

#ifdef RAMCRYPT_TEST_STATIC
// LD_PRELOAD cannot reach a static program: --secure-heap refuses to run it.
TEST_F(CliTest, SecureHeapRefusesAStaticProgram)
{
	setenv("RAMCRYPT_PRELOAD", "/dev/null", 1);
	EXPECT_EQ(run({ "run", "--secure-heap", "--", RAMCRYPT_TEST_STATIC }), 125);
	EXPECT_EQ(err_.str(), std::string("ramcrypt: run --secure-heap: ") + RAMCRYPT_TEST_STATIC +
				      " is statically linked: the secure heap cannot be set up in it\n");
	unsetenv("RAMCRYPT_PRELOAD");
}
#endif

TEST_F(CliTest, SecureHeapSizes)
{
	std::uint64_t b = 0;
	EXPECT_TRUE(parse_secure_heap("64K", b));
	EXPECT_EQ(b, 65536u);
	EXPECT_TRUE(parse_secure_heap("1M", b));
	EXPECT_EQ(b, 1u << 20);
	EXPECT_TRUE(parse_secure_heap("4096", b));
	EXPECT_EQ(b, 4096u);
	for (const char *bad : { "3K", "2K", "2G", "", "K", "64KB", "-4K", "1.5M", "true" })
		EXPECT_FALSE(parse_secure_heap(bad, b)) << bad;
	EXPECT_EQ(run({ "run", "--secure-heap=3K", "true" }), 125);
	EXPECT_EQ(err_.str(), usage("--secure-heap: '3K' is not a power of two of 4K to 1G bytes (e.g. 64K, 1M)", "run"));
	EXPECT_TRUE(mod_.opens.empty());
}

// --- ps -----------------------------------------------------------------------

// Every column: its JSON key and the value the module reported.
std::vector<std::pair<std::string, nlohmann::ordered_json>> every_field(const ramcrypt_proc_stats &st, const std::string &comm)
{
	std::vector<std::string> flags;
	if (st.state & RAMCRYPT_PROC_INHERIT_EXEC)
		flags.push_back("inherit-exec");
	if (st.state & RAMCRYPT_PROC_DEGRADED)
		flags.push_back("degraded");
	if (st.state & RAMCRYPT_PROC_SWAP)
		flags.push_back("swap");
	if (st.window_pages - st.secret_window_pages > st.window)
		flags.push_back("over-window");
	if (st.secret_window_pages > st.secret_window)
		flags.push_back("over-secret-window");
	return {
		{ "pid", st.pid },
		{ "window", st.window },
		{ "window_pages", st.window_pages },
		{ "secret_window", st.secret_window },
		{ "secret_window_pages", st.secret_window_pages },
		{ "secret_regions", st.secret_regions },
		{ "max_plain_age_ms", st.max_plain_age_ms },
		{ "secret_plain_age_ms", st.secret_plain_age_ms },
		{ "encrypted_pages", st.encrypted_pages },
		{ "faults", st.faults },
		{ "encryptions", st.encryptions },
		{ "decryptions", st.decryptions },
		{ "scanner_pages", st.scanner_pages },
		{ "skipped_pinned", st.skipped_pinned },
		{ "skipped_shared", st.skipped_shared },
		{ "skipped_swapcache", st.skipped_swapcache },
		{ "degraded_events", st.degraded_events },
		{ "swapped_pages", st.swapped_pages },
		{ "inherit_exec", bool(st.state & RAMCRYPT_PROC_INHERIT_EXEC) },
		{ "degraded", bool(st.state & RAMCRYPT_PROC_DEGRADED) },
		{ "swap", bool(st.state & RAMCRYPT_PROC_SWAP) },
		{ "flags", flags },
		{ "command", comm },
	};
}

// The processes of ps -J, parsed; fails the test unless it is one JSON document.
nlohmann::ordered_json ps_json(const std::string &out)
{
	nlohmann::ordered_json doc = nlohmann::ordered_json::parse(out, nullptr, false);
	EXPECT_FALSE(doc.is_discarded()) << out;
	EXPECT_TRUE(doc.is_object() && doc.size() == 1 && doc.contains("processes")) << out;
	return doc.is_discarded() ? nlohmann::ordered_json::array() : doc.value("processes", nlohmann::ordered_json::array());
}

// The header words of a text table.
std::vector<std::string> header_of(const std::string &out)
{
	std::istringstream line(out.substr(0, out.find('\n')));
	std::vector<std::string> words;
	for (std::string w; line >> w;)
		words.push_back(w);
	return words;
}

const std::vector<std::string> default_columns = { "PID",	"WINDOW",	"WINDOW_PAGES",	"SECRET_WINDOW",
						    "SECRET_WINDOW_PAGES", "ENCRYPTED_PAGES", "FAULTS",
						    "SKIPPED_PINNED",	"SWAPPED_PAGES", "FLAGS",	"COMMAND" };

TEST_F(CliTest, PsTable)
{
	mod_.procs = { proc(1234, "vault"), proc(99, "nginx worker") };
	mod_.procs[1].state |= RAMCRYPT_PROC_DEGRADED;
	mod_.procs[1].swapped_pages = 17;
	EXPECT_EQ(run({ "ps" }), 0);
	EXPECT_EQ(out_.str(),
		  " PID WINDOW WINDOW_PAGES SECRET_WINDOW SECRET_WINDOW_PAGES ENCRYPTED_PAGES FAULTS SKIPPED_PINNED SWAPPED_PAGES FLAGS                 COMMAND\n"
		  "  99      4            3             4                   1             120   5000              1            17 inherit-exec,degraded nginx worker\n"
		  "1234      4            3             4                   1             120   5000              1             0 inherit-exec          vault\n");
	EXPECT_EQ(header_of(out_.str()), default_columns);
	EXPECT_EQ(mod_.opens, std::vector<Access>{ Access::read });
	EXPECT_EQ(err_.str(), "");
}

TEST_F(CliTest, PsNoHeadings)
{
	mod_.procs = { proc(1234, "vault") };
	for (const char *opt : { "-n", "--noheadings" }) {
		EXPECT_EQ(run({ "ps", opt, "-o", "PID,COMMAND" }), 0) << opt;
		EXPECT_EQ(out_.str(), "1234 vault\n") << opt;
	}
	mod_.procs.clear();
	EXPECT_EQ(run({ "ps", "-n" }), 0);
	EXPECT_EQ(out_.str(), "");
}

// Raw: not aligned, and a space in a value cannot split it into two fields.
TEST_F(CliTest, PsRaw)
{
	mod_.procs = { proc(99, "nginx worker"), proc(1234, "vault") };
	for (const char *opt : { "-r", "--raw" }) {
		EXPECT_EQ(run({ "ps", opt }), 0) << opt;
		EXPECT_EQ(out_.str(), "PID WINDOW WINDOW_PAGES SECRET_WINDOW SECRET_WINDOW_PAGES ENCRYPTED_PAGES FAULTS "
				      "SKIPPED_PINNED SWAPPED_PAGES FLAGS COMMAND\n"
				      "99 4 3 4 1 120 5000 1 0 inherit-exec nginx\\x20worker\n"
				      "1234 4 3 4 1 120 5000 1 0 inherit-exec vault\n")
			<< opt;
	}
	EXPECT_EQ(run({ "ps", "-rn", "-o", "COMMAND,PID" }), 0);
	EXPECT_EQ(out_.str(), "nginx\\x20worker 99\nvault 1234\n");
}

TEST_F(CliTest, PsOutputChoosesColumnsAndTheirOrder)
{
	mod_.procs = { proc(1234, "vault") };
	EXPECT_EQ(run({ "ps", "-o", "COMMAND,PID,DECRYPTIONS" }), 0);
	EXPECT_EQ(out_.str(), "COMMAND  PID DECRYPTIONS\nvault   1234        3900\n");
	// Names in any case, as util-linux takes them; -o may be repeated.
	EXPECT_EQ(run({ "ps", "--output", "pid", "--output=Faults" }), 0);
	EXPECT_EQ(out_.str(), " PID FAULTS\n1234   5000\n");
	EXPECT_EQ(run({ "ps", "-oPID,INHERIT_EXEC,DEGRADED,SWAP" }), 0);
	EXPECT_EQ(out_.str(), " PID INHERIT_EXEC DEGRADED SWAP\n1234            1        0    0\n");
}

TEST_F(CliTest, PsOutputPlusAddsToTheDefaults)
{
	mod_.procs = { proc(1234, "vault") };
	EXPECT_EQ(run({ "ps", "-o", "+ENCRYPTIONS,scanner_pages" }), 0);
	auto want = default_columns;
	want.insert(want.end(), { "ENCRYPTIONS", "SCANNER_PAGES" });
	EXPECT_EQ(header_of(out_.str()), want);
	EXPECT_NE(out_.str().find("vault          4000             7\n"), std::string::npos) << out_.str();
	// The defaults once, however many +LIST.
	EXPECT_EQ(run({ "ps", "-o", "+ENCRYPTIONS", "-o", "+DECRYPTIONS" }), 0);
	want = default_columns;
	want.insert(want.end(), { "ENCRYPTIONS", "DECRYPTIONS" });
	EXPECT_EQ(header_of(out_.str()), want);
}

TEST_F(CliTest, PsOutputAll)
{
	mod_.procs = { proc(1234, "vault") };
	EXPECT_EQ(run({ "ps", "--output-all" }), 0);
	std::vector<std::string> want;
	for (const auto &[key, value] : every_field(mod_.procs[0], "vault")) {
		std::string name = key;
		for (char &c : name)
			c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
		want.push_back(name);
	}
	EXPECT_EQ(header_of(out_.str()), want);
	EXPECT_EQ(run({ "ps", "--output-all", "-o", "PID" }), 1);
	EXPECT_EQ(err_.str(), usage("--output and --output-all cannot be used together", "ps"));
}

TEST_F(CliTest, PsUnknownColumnIsAUsageError)
{
	mod_.procs = { proc(1234, "vault") };
	for (const auto &[list, name] : std::vector<std::pair<std::string, std::string>>{
		     { "PID,FOO", "FOO" }, { "+FOO", "FOO" }, { "foo", "foo" }, { "PID,COMMANDS", "COMMANDS" } }) {
		EXPECT_EQ(run({ "ps", "-o", list }), 1) << list;
		EXPECT_EQ(err_.str(), usage("unknown column '" + name + "'", "ps")) << list;
		EXPECT_EQ(out_.str(), "") << list;
	}
	for (const auto &list : { "PID,", "+", ",PID", "" }) {
		EXPECT_EQ(run({ "ps", "-o", list }), 1) << list;
		EXPECT_EQ(err_.str(), usage("missing column name in '" + std::string(list) + "'", "ps")) << list;
	}
	EXPECT_EQ(run({ "ps", "-o" }), 1);
	EXPECT_EQ(err_.str(), usage("option '--output' needs a value", "ps"));
	EXPECT_EQ(run({ "ps", "-r", "-J" }), 1);
	EXPECT_EQ(err_.str(), usage("--raw and --json cannot be used together", "ps"));
	EXPECT_TRUE(mod_.opens.empty()); // refused before the module is asked
}

// -J parsed back: every field is what the module reported, under its documented key.
TEST_F(CliTest, PsJsonHasEveryFieldOfTheModule)
{
	mod_.procs = { proc(1234, "vault"), proc(99, "nginx worker") };
	// Distinct values, so a column showing another field's value is caught.
	auto &st = mod_.procs[1];
	st.state = RAMCRYPT_PROC_DEGRADED | RAMCRYPT_PROC_SWAP;
	st.window = 16, st.window_pages = 17, st.encrypted_pages = 18, st.faults = 19, st.encryptions = 20;
	st.decryptions = 21, st.scanner_pages = 22, st.skipped_pinned = 23, st.degraded_events = 24;
	st.skipped_shared = 25, st.skipped_swapcache = 26;
	st.swapped_pages = 18446744073709551615ULL;
	EXPECT_EQ(run({ "ps", "-J", "--output-all" }), 0);
	auto procs = ps_json(out_.str());
	ASSERT_EQ(procs.size(), 2u) << out_.str();
	const std::vector<std::pair<const ramcrypt_proc_stats *, std::string>> want = {
		{ &mod_.procs[1], "nginx worker" }, { &mod_.procs[0], "vault" } // sorted by PID
	};
	for (std::size_t i = 0; i < want.size(); i++) {
		auto fields = every_field(*want[i].first, want[i].second);
		ASSERT_EQ(procs[i].size(), fields.size()) << procs[i];
		std::size_t k = 0;
		for (const auto &[key, value] : procs[i].items()) { // in column order
			EXPECT_EQ(key, fields[k].first) << i;
			EXPECT_EQ(value, fields[k].second) << key << " of process " << i;
			k++;
		}
	}
	EXPECT_EQ(err_.str(), "");
}

// The same columns in text and JSON: the keys are the header's names in lower case.
TEST_F(CliTest, PsJsonHasTheColumnsOfTheText)
{
	mod_.procs = { proc(1234, "vault") };
	for (std::vector<std::string> o : { std::vector<std::string>{}, { "-o", "COMMAND,FAULTS" },
					    { "-o", "+DEGRADED_EVENTS" }, { "--output-all" } }) {
		std::vector<std::string> args = { "ps" };
		args.insert(args.end(), o.begin(), o.end());
		EXPECT_EQ(run(args), 0);
		auto header = header_of(out_.str());
		args.push_back("--json");
		EXPECT_EQ(run(args), 0);
		auto procs = ps_json(out_.str());
		ASSERT_EQ(procs.size(), 1u);
		std::vector<std::string> keys;
		for (const auto &[key, value] : procs[0].items())
			keys.push_back(key);
		for (auto &h : header)
			for (char &c : h)
				c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
		EXPECT_EQ(keys, header);
	}
}

// One process per line, so that line tools (the guest's busybox) can find one.
TEST_F(CliTest, PsJsonLayout)
{
	mod_.procs = { proc(1234, "vault"), proc(99, "w") };
	EXPECT_EQ(run({ "ps", "-J", "-o", "PID,COMMAND,INHERIT_EXEC,FLAGS" }), 0);
	EXPECT_EQ(out_.str(), "{\"processes\":[\n"
			      "{\"pid\":99,\"command\":\"w\",\"inherit_exec\":true,\"flags\":[\"inherit-exec\"]},\n"
			      "{\"pid\":1234,\"command\":\"vault\",\"inherit_exec\":true,\"flags\":[\"inherit-exec\"]}\n"
			      "]}\n");
}

TEST_F(CliTest, PsShowsSwapAndOverWindow)
{
	mod_.procs = { proc(1234, "vault") };
	mod_.procs[0].state = RAMCRYPT_PROC_SWAP;
	mod_.procs[0].swapped_pages = 17;
	EXPECT_EQ(run({ "ps", "-o", "SWAPPED_PAGES,FLAGS" }), 0);
	EXPECT_EQ(out_.str(), "SWAPPED_PAGES FLAGS\n           17 swap\n");
	// window_pages counts both windows: one page more than the ordinary window is
	// the secret page here, within its own window.
	mod_.procs[0].window_pages = mod_.procs[0].window + 1;
	mod_.procs[0].state = 0;
	EXPECT_EQ(run({ "ps", "-o", "FLAGS" }), 0);
	EXPECT_EQ(out_.str(), "FLAGS\n-\n");
	mod_.procs[0].window_pages = mod_.procs[0].window + mod_.procs[0].secret_window_pages + 1;
	EXPECT_EQ(run({ "ps", "-o", "FLAGS" }), 0);
	EXPECT_EQ(out_.str(), "FLAGS\nover-window\n");
	mod_.procs[0].secret_window_pages = mod_.procs[0].secret_window + 1;
	mod_.procs[0].window_pages = mod_.procs[0].secret_window_pages;
	EXPECT_EQ(run({ "ps", "-o", "FLAGS,SECRET_WINDOW_PAGES" }), 0);
	EXPECT_EQ(out_.str(), "FLAGS              SECRET_WINDOW_PAGES\nover-secret-window                   5\n");
	mod_.procs[0].secret_window_pages = 1;
	mod_.procs[0].window_pages = mod_.procs[0].window;
	EXPECT_EQ(run({ "ps", "-o", "FLAGS" }), 0);
	EXPECT_EQ(out_.str(), "FLAGS\n-\n");
	EXPECT_EQ(run({ "ps", "-J", "-o", "FLAGS" }), 0);
	EXPECT_EQ(ps_json(out_.str())[0]["flags"], nlohmann::ordered_json::array());
}

TEST_F(CliTest, PsNeutralizesProcessNames)
{
	mod_.procs = { proc(5, "evil\x1b[2J\"\\\xff") };
	EXPECT_EQ(run({ "ps", "--json", "-o", "COMMAND" }), 0);
	EXPECT_EQ(out_.str(), "{\"processes\":[\n{\"command\":\"evil\\u001b[2J\\\"\\\\\xef\xbf\xbd\"}\n]}\n");
	EXPECT_EQ(run({ "ps", "-o", "COMMAND" }), 0);
	EXPECT_EQ(out_.str(), "COMMAND\nevil\\x1b[2J\"\\\\xff\n");
}

TEST_F(CliTest, PsUnreadableCommand)
{
	mod_.procs = { proc(5, "x") };
	fs::remove(root_ + "/proc/5/comm");
	EXPECT_EQ(run({ "ps", "-o", "PID,COMMAND" }), 0);
	EXPECT_EQ(out_.str(), "PID COMMAND\n  5 ?\n");
	EXPECT_EQ(run({ "ps", "-J", "-o", "PID,COMMAND" }), 0);
	EXPECT_EQ(ps_json(out_.str())[0]["command"], nullptr);
}

TEST_F(CliTest, PsEmpty)
{
	EXPECT_EQ(run({ "ps", "--json" }), 0);
	EXPECT_EQ(out_.str(), "{\"processes\":[]}\n");
	// Nothing at all, as lsns(8) and findmnt(8) print when nothing matches.
	EXPECT_EQ(run({ "ps" }), 0);
	EXPECT_EQ(out_.str(), "");
}

TEST_F(CliTest, PsSkipsProcessesThatExitedMeanwhile)
{
	mod_.procs = { proc(7, "gone"), proc(8, "here") };
	mod_.pid_errors[7] = ESRCH;
	EXPECT_EQ(run({ "ps", "--json" }), 0);
	auto procs = ps_json(out_.str());
	ASSERT_EQ(procs.size(), 1u);
	EXPECT_EQ(procs[0]["pid"], 8);
	EXPECT_TRUE(err_.str().empty());
}

TEST_F(CliTest, PsListsMoreProcessesThanTheFirstBuffer)
{
	for (__u64 pid = 1; pid <= 300; pid++)
		mod_.procs.push_back(proc(pid, "p"));
	EXPECT_EQ(run({ "ps", "--json" }), 0);
	EXPECT_EQ(ps_json(out_.str()).size(), 300u);
	EXPECT_EQ(run({ "ps", "-n" }), 0);
	const std::string s = out_.str();
	EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 300);
}

// A module that never fits its answer in the buffer must not keep ps asking.
TEST_F(CliTest, PsGivesUpOnAnEndlessList)
{
	class Endless final : public FakeDevice {
	public:
		using FakeDevice::FakeDevice;
		int list(ramcrypt_list &l) override
		{
			l.count += 1000;
			return 0;
		}
	};
	env_.open_device = [this](Access, int &e) -> std::unique_ptr<Device> {
		e = 0;
		return std::make_unique<Endless>(mod_);
	};
	EXPECT_EQ(run({ "ps" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: ps: Resource temporarily unavailable\n");
}

TEST_F(CliTest, PsUnsupported)
{
	mod_.errors["list"] = ENOTTY;
	EXPECT_EQ(run({ "ps" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: ps: not supported by this module version\n");
	EXPECT_EQ(out_.str(), "");
}

TEST_F(CliTest, PsReportsOtherStatsErrors)
{
	mod_.procs = { proc(7, "x") };
	mod_.pid_errors[7] = EPERM;
	EXPECT_EQ(run({ "ps" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: ps 7: Operation not permitted\n");
}

// --- status -------------------------------------------------------------------

TEST_F(CliTest, StatusModuleNotLoaded)
{
	mod_.open_error = ENOENT;
	EXPECT_EQ(run({ "status", "--json" }), 3); // a monitor tells "not loaded" from "degraded"
	EXPECT_EQ(out_.str(), "{\"tool_version\":\"" RAMCRYPT_TOOL_VERSION "\",\"loaded\":false}\n");
	EXPECT_EQ(err_.str(), "");
	EXPECT_EQ(run({ "status" }), 3);
	EXPECT_EQ(out_.str(), "module:               not loaded\n");
}

TEST_F(CliTest, StatusDeviceNodeMissing)
{
	fs::create_directories(root_ + "/sys/module/ramcrypt");
	mod_.open_error = ENOENT;
	EXPECT_EQ(run({ "status", "--json" }), 1);
	EXPECT_EQ(out_.str(), "");
	EXPECT_NE(err_.str().find("is devtmpfs mounted"), std::string::npos);
}

TEST_F(CliTest, StatusHealthyJson)
{
	healthy_status();
	file("proc/sys/ramcrypt/max_window", "256\n");
	file("proc/sys/ramcrypt/default_window", "4\n");
	file("proc/sys/ramcrypt/policy", "strict\n");
	EXPECT_EQ(run({ "status", "--json" }), 0);
	const std::string s = out_.str();
	EXPECT_TRUE(s.starts_with(
		"{\"tool_version\":\"" RAMCRYPT_TOOL_VERSION "\",\"loaded\":true,"
		"\"module_version\":\"0.1.0\",\"module_abi\":" ABI_STR ",\"key_source\":\"random\","
		"\"key_generation\":1,\"cpus_online\":2,\"cpus_with_key\":2,\"degraded\":[],"
		"\"healthy\":true,\"protected_procs\":1,\"encrypted_pages\":100,\"window_pages\":4,"
		"\"encryptions\":0,\"decryptions\":0,\"scanner_passes\":0,\"skipped_pinned\":0,"
		"\"degraded_events\":0,\"key_heals\":0,\"wiped_at_exit\":0,\"init_on_free\":false,\"inherit_failures\":0,"
		"\"skipped_shared\":0,\"skipped_swapcache\":0,\"secret_window_pages\":0,"
		"\"sysctl\":{\"default_window\":4,\"max_window\":256,\"policy\":\"strict\"},"
		"\"protects\":[\"private anonymous memory"))
		<< s;
	EXPECT_NE(s.find("\"does_not_protect\":[\"root or kernel code execution"), std::string::npos);
	EXPECT_NE(s.find("\"notes\":[\"protected processes are non-dumpable"), std::string::npos);
	EXPECT_TRUE(s.ends_with("]}\n"));
	EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1);
	EXPECT_EQ(mod_.opens, std::vector<Access>{ Access::read });
}

TEST_F(CliTest, StatusHumanShowsTheThreatModel)
{
	healthy_status();
	mod_.status.secret_window_pages = 2;
	file("proc/sys/ramcrypt/default_window", "4\n");
	EXPECT_EQ(run({ "status" }), 0);
	const std::string s = out_.str();
	EXPECT_NE(s.find("\npages:                100 encrypted, 4 plaintext in windows (2 of them in secret "
			 "windows)\n"),
		  std::string::npos)
		<< s;
	EXPECT_TRUE(s.starts_with("module:               loaded, version 0.1.0, ABI " ABI_STR "\n"
				  "key:                  random, made at module load, never stored, generation 1\n"
				  "cpus holding the key: 2 of 2 online\n"
				  "health:               ok\n"))
		<< s;
	EXPECT_NE(s.find("\n  default_window = 4\n"), std::string::npos);
	for (const char *text : { "\nprotects:\n", "\ndoes not protect:\n", "cold boot, DMA, /dev/mem",
				  "the window: the most recently used pages stay in plaintext",
				  "CPU register state", "pipes, sockets, files, the page cache",
				  "file-backed and shared mappings", "traps debug register accesses",
				  "root or kernel code execution", "non-dumpable" })
		EXPECT_NE(s.find(text), std::string::npos) << text;
}

TEST_F(CliTest, StatusDegraded)
{
	healthy_status();
	mod_.status.degraded = RAMCRYPT_DEGRADED_KEY_LOST | RAMCRYPT_DEGRADED_NOMEM | (1ULL << 10);
	mod_.status.cpus_with_key = 0;
	EXPECT_EQ(run({ "status", "--json" }), 2);
	EXPECT_NE(out_.str().find("\"degraded\":[\"key_lost\",\"nomem\",\"unknown_0x400\"],\"healthy\":false"),
		  std::string::npos);
	EXPECT_EQ(run({ "status" }), 2);
	EXPECT_NE(out_.str().find("health:               DEGRADED\n"
				  "  - 0 of 2 online CPUs hold the key\n"
				  "  - no CPU holds the key any more\n"
				  "  - pages were left in plaintext for lack of memory\n"
				  "  - unknown degraded bits 0x400\n"),
		  std::string::npos)
		<< out_.str();
}

TEST_F(CliTest, StatusNamesSwap)
{
	healthy_status();
	mod_.status.degraded = RAMCRYPT_DEGRADED_SWAP;
	EXPECT_EQ(run({ "status", "--json" }), 2);
	EXPECT_NE(out_.str().find("\"degraded\":[\"swap\"],\"healthy\":false"), std::string::npos) << out_.str();
	EXPECT_EQ(run({ "status" }), 2);
	EXPECT_NE(out_.str().find("  - a protected process could swap: its plaintext pages may be on a swap device\n"),
		  std::string::npos) << out_.str();
}

TEST_F(CliTest, StatusSaysWhetherFreedPagesAreZeroed)
{
	healthy_status();
	mod_.status.wiped_at_exit = 12;
	EXPECT_EQ(run({ "status" }), 0);
	EXPECT_NE(out_.str().find("wiped at exit:        12 pages\n"), std::string::npos) << out_.str();
	EXPECT_NE(out_.str().find("freed pages:          not zeroed: "), std::string::npos) << out_.str();
	mod_.status.init_on_free = 1;
	EXPECT_EQ(run({ "status", "--json" }), 0);
	EXPECT_NE(out_.str().find("\"wiped_at_exit\":12,\"init_on_free\":true,\"inherit_failures\":0,"), std::string::npos) << out_.str();
}

TEST_F(CliTest, StatusWithoutKeyIsNotHealthy)
{
	healthy_status();
	mod_.status.key_source = RAMCRYPT_KEY_NONE;
	EXPECT_EQ(run({ "status" }), 2);
	EXPECT_NE(out_.str().find("  - no key loaded\n"), std::string::npos);
}

TEST_F(CliTest, StatusUnsupportedStillReportsTheModule)
{
	mod_.errors["status"] = ENOTTY;
	EXPECT_EQ(run({ "status", "--json" }), 1);
	EXPECT_TRUE(out_.str().starts_with("{\"tool_version\":\"" RAMCRYPT_TOOL_VERSION "\",\"loaded\":true,"
					   "\"module_version\":\"0.1.0\",\"module_abi\":" ABI_STR ",\"sysctl\":{},"));
	EXPECT_EQ(out_.str().find("healthy"), std::string::npos);
	EXPECT_EQ(err_.str(), "ramcrypt: status: not supported by this module version\n");
}

// --- key ----------------------------------------------------------------------

TEST_F(CliTest, KeyStatus)
{
	healthy_status();
	mod_.status.degraded = RAMCRYPT_DEGRADED_NOMEM; // not the key's business
	EXPECT_EQ(run({ "key", "status", "--json" }), 0);
	EXPECT_EQ(out_.str(), "{\"key_source\":\"random\",\"key_generation\":1,\"cpus_online\":2,"
			      "\"cpus_with_key\":2,\"key_heals\":0,\"degraded\":[],\"healthy\":true}\n");
	mod_.status.degraded |= RAMCRYPT_DEGRADED_SLOTS;
	EXPECT_EQ(run({ "key", "status" }), 2);
	EXPECT_NE(out_.str().find("health:               DEGRADED\n"
				  "  - not all breakpoint slots are reserved"),
		  std::string::npos)
		<< out_.str();
}

TEST_F(CliTest, KeyLoadFromKeyFile)
{
	std::string path = file("keyfile", "hunter2\n");
	EXPECT_EQ(run({ "key", "load", "--key-file", path, "--iterations", "1000" }), 0);
	EXPECT_EQ(hex(mod_.key), default_salt_key_1000);
	EXPECT_EQ(mod_.opens, std::vector<Access>{ Access::write });
	EXPECT_EQ(prompts_, 0u);
	EXPECT_EQ(out_.str() + err_.str(), "");
}

TEST_F(CliTest, KeyLoadDefaultIterations)
{
	std::string path = file("keyfile", "hunter2\n");
	EXPECT_EQ(run({ "key", "load", "--key-file", path }), 0);
	EXPECT_EQ(hex(mod_.key), "ad590486c38a9c1c461e55d759691c311a94ff7813a454a8fd03a7fbd6181c0d");
}

TEST_F(CliTest, KeyLoadFromStandardInput)
{
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	ASSERT_EQ(write(fds[1], "hunter2\n", 8), 8);
	close(fds[1]);
	env_.stdin_fd = fds[0];
	EXPECT_EQ(run({ "key", "load", "--key-file", "-", "--iterations", "1000" }), 0);
	close(fds[0]);
	EXPECT_EQ(hex(mod_.key), default_salt_key_1000);
}

// ramcrypt-key.service pipes `systemd-ask-password -n` into --key-file -: without a
// newline the bytes are the typed passphrase and the key is the prompt's; with one
// (systemd-ask-password without -n) it is another key (docs/SEALING.md).
TEST_F(CliTest, KeyFileWithoutNewlineIsThePromptsKey)
{
	EXPECT_EQ(run({ "key", "load", "--passphrase", "--iterations", "1000" }), 0);
	const std::string prompted = hex(mod_.key);
	for (const std::string &input : { std::string("correct horse"), std::string("correct horse\n") }) {
		int fds[2];
		ASSERT_EQ(pipe(fds), 0);
		ASSERT_EQ(write(fds[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
		close(fds[1]);
		env_.stdin_fd = fds[0];
		EXPECT_EQ(run({ "key", "load", "--key-file", "-", "--iterations", "1000" }), 0);
		close(fds[0]);
		if (input.ends_with('\n'))
			EXPECT_NE(hex(mod_.key), prompted);
		else
			EXPECT_EQ(hex(mod_.key), prompted);
	}
}

TEST_F(CliTest, KeyLoadWithSaltFile)
{
	std::string key = file("keyfile", "hunter2\n");
	std::string salt = file("salt", "0123456789abcdef");
	EXPECT_EQ(run({ "key", "load", "--key-file", key, "--salt-file", salt, "--iterations", "1000" }), 0);
	EXPECT_EQ(hex(mod_.key), "85691b54abc117fcc9d8c85da17eaa262e74582dfede41c800dc5c7c2cf9c662");
}

TEST_F(CliTest, KeyLoadRejectsShortSalt)
{
	std::string key = file("keyfile", "hunter2\n");
	std::string salt = file("salt", "0123456789abcde");
	EXPECT_EQ(run({ "key", "load", "--key-file", key, "--salt-file", salt }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: " + salt + ": salt shorter than 16 bytes\n");
	EXPECT_TRUE(mod_.key.empty());
}

TEST_F(CliTest, KeyLoadFromPassphrase)
{
	EXPECT_EQ(run({ "key", "load", "--passphrase", "--iterations", "1000" }), 0);
	EXPECT_EQ(prompts_, 1u);
	EXPECT_EQ(hex(mod_.key), "23f225fbace2f5c4ea5ecb7caf5226b85c668db02bb4dcc5d5f38dde609dd783");
}

TEST_F(CliTest, KeyLoadVerifiesPassphrase)
{
	EXPECT_EQ(run({ "key", "load", "--passphrase", "-y", "--iterations", "1000" }), 0);
	EXPECT_EQ(prompts_, 2u);
	EXPECT_EQ(hex(mod_.key), "23f225fbace2f5c4ea5ecb7caf5226b85c668db02bb4dcc5d5f38dde609dd783");

	mod_.key.clear();
	passphrases_ = { "correct horse", "correct hors" };
	prompts_ = 0;
	EXPECT_EQ(run({ "key", "load", "--passphrase", "--verify-passphrase" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: passphrases do not match\n");
	EXPECT_TRUE(mod_.key.empty());
}

TEST_F(CliTest, KeyLoadArguments)
{
	EXPECT_EQ(run({ "key", "load" }), 1);
	EXPECT_EQ(err_.str(), usage("give --passphrase or --key-file FILE", "key load"));
	EXPECT_EQ(run({ "key", "load", "--passphrase", "--key-file", "x" }), 1);
	EXPECT_EQ(run({ "key", "load", "--key-file", "x", "-y" }), 1);
	for (const char *n : { "999", "abc", "-1", "4294967296" }) {
		EXPECT_EQ(run({ "key", "load", "--key-file", "x", "--iterations", n }), 1);
		EXPECT_EQ(err_.str(), usage(std::string("invalid iteration count '") + n +
						    "': must be a number from 1000 to 2147483647",
					    "key load"));
	}
	EXPECT_EQ(run({ "key" }), 1);
	EXPECT_TRUE(mod_.opens.empty());
	EXPECT_EQ(prompts_, 0u);
}

TEST_F(CliTest, KeyLoadKeyFileErrors)
{
	std::string empty = file("empty", "");
	EXPECT_EQ(run({ "key", "load", "--key-file", empty }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: " + empty + ": empty\n");
	EXPECT_EQ(run({ "key", "load", "--key-file", root_ + "/missing" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: " + root_ + "/missing: No such file or directory\n");
	EXPECT_TRUE(mod_.key.empty());
}

TEST_F(CliTest, KeyLoadChecksTheModuleBeforePrompting)
{
	mod_.open_error = ENOENT;
	EXPECT_EQ(run({ "key", "load", "--passphrase" }), 1);
	EXPECT_EQ(err_.str(), no_module);
	EXPECT_EQ(prompts_, 0u);
}

TEST_F(CliTest, KeyLoadRefusedByModule)
{
	mod_.errors["key_load"] = EBUSY;
	EXPECT_EQ(run({ "key", "load", "--passphrase", "--iterations", "1000" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: key load: Device or resource busy (pages are encrypted with "
			      "the current key: unprotect every process first)\n");
	mod_.errors["key_load"] = EPERM;
	EXPECT_EQ(run({ "key", "load", "--passphrase", "--iterations", "1000" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: key load: Operation not permitted\n");
	mod_.errors["key_load"] = EKEYREJECTED;
	EXPECT_EQ(run({ "key", "load", "--passphrase", "--iterations", "1000" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: key load: wrong key: encrypted pages or the key in use before "
			      "suspend need the key loaded before (check the passphrase, --salt-file and "
			      "--iterations)\n");
}

// --- selftest, version --------------------------------------------------------

TEST_F(CliTest, Selftest)
{
	EXPECT_EQ(run({ "selftest" }), 0);
	EXPECT_EQ(out_.str(), "selftest passed\n");
	EXPECT_EQ(mod_.selftests, 1);
	mod_.errors["selftest"] = EIO;
	EXPECT_EQ(run({ "selftest" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: selftest: Input/output error\n");
	mod_.errors["selftest"] = ENOTTY;
	EXPECT_EQ(run({ "selftest" }), 1);
	EXPECT_EQ(err_.str(), "ramcrypt: selftest: not supported by this module version\n");
}

TEST_F(CliTest, Version)
{
	EXPECT_EQ(run({ "version" }), 0);
	EXPECT_EQ(out_.str(), "ramcrypt " RAMCRYPT_TOOL_VERSION " (ABI " ABI_STR ")\nmodule 0.1.0 (ABI " ABI_STR ")\n");
	EXPECT_EQ(run({ "version", "--json" }), 0);
	EXPECT_EQ(out_.str(), "{\"tool_version\":\"" RAMCRYPT_TOOL_VERSION "\",\"tool_abi\":" ABI_STR ","
			      "\"loaded\":true,\"module_version\":\"0.1.0\",\"module_abi\":" ABI_STR "}\n");
}

TEST_F(CliTest, VersionWithoutModule)
{
	mod_.open_error = ENOENT;
	EXPECT_EQ(run({ "version" }), 0);
	EXPECT_EQ(out_.str(), "ramcrypt " RAMCRYPT_TOOL_VERSION " (ABI " ABI_STR ")\nmodule not loaded\n");
	EXPECT_EQ(run({ "version", "--json" }), 0);
	EXPECT_EQ(out_.str(), "{\"tool_version\":\"" RAMCRYPT_TOOL_VERSION "\",\"tool_abi\":" ABI_STR ",\"loaded\":false}\n");
	EXPECT_EQ(err_.str(), "");
}

TEST_F(CliTest, VersionDeviceNotAccessible)
{
	mod_.open_error = EACCES;
	EXPECT_EQ(run({ "version" }), 1);
	EXPECT_EQ(out_.str(), "ramcrypt " RAMCRYPT_TOOL_VERSION " (ABI " ABI_STR ")\n");
	EXPECT_EQ(err_.str(), "ramcrypt: /dev/ramcrypt: Permission denied\n");
}

} // namespace
} // namespace ramcrypt::test
