// SPDX-License-Identifier: GPL-2.0
// `ramcrypt secret` and `run --secret` without the module: argument checks, the
// random-key warning and the module's errors. The real sealing is tested in the
// guest (selftests/seal.c, selftests/seal_flow.sh).
#include "cli.h"
#include "fake_device.h"
#include "secret.h"

#include "ramcrypt.h"

#include <gtest/gtest.h>
#include <keyutils.h>

#include <cstring>
#include <iostream>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <fcntl.h>
#include <functional>
#include <iterator>
#include <sys/stat.h>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ramcrypt::test {
namespace {

namespace fs = std::filesystem;

class SecretTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		char dir[] = "/tmp/ramcrypt-secret-test.XXXXXX";
		ASSERT_NE(mkdtemp(dir), nullptr);
		root_ = dir;
		fs::create_directories(root_ + "/sys/module/ramcrypt");
		env_.sysfs = root_ + "/sys";
		env_.procfs = root_;
		env_.open_device = mod_.opener();
		env_.read_passphrase = [](const char *, Secret &) { return std::string("no tty"); };
		env_.stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	void TearDown() override
	{
		close(env_.stdin_fd);
		fs::remove_all(root_);
	}
	int run(std::vector<std::string> args)
	{
		out_.str("");
		err_.str("");
		std::vector<const char *> argv = { "ramcrypt" };
		for (const auto &a : args)
			argv.push_back(a.c_str());
		return cli_main(env_, static_cast<int>(argv.size()), argv.data());
	}
	std::string file(const std::string &name, const std::string &content)
	{
		std::ofstream(root_ + "/" + name, std::ios::binary) << content;
		return root_ + "/" + name;
	}

	std::string root_;
	FakeModule mod_;
	std::ostringstream out_, err_;
	Env env_{ {}, out_, err_, {} };
};

TEST(SecretSpec, Parse)
{
	SecretSpec s;
	EXPECT_EQ("", parse_secret_spec("db-dek.v1", s));
	EXPECT_EQ("db-dek.v1", s.name);
	EXPECT_EQ("DB_DEK_V1", s.var);
	EXPECT_FALSE(s.hex);
	EXPECT_EQ("", parse_secret_spec("dek=DB_KEY:hex", s));
	EXPECT_EQ("dek", s.name);
	EXPECT_EQ("DB_KEY", s.var);
	EXPECT_TRUE(s.hex);
	EXPECT_NE("", parse_secret_spec("dek=", s));
	EXPECT_NE("", parse_secret_spec("dek=A=B", s));
	EXPECT_NE("", parse_secret_spec("dek=:hex", s));
	EXPECT_NE("", parse_secret_spec("bad name", s));
	EXPECT_NE("", parse_secret_spec("", s));
}

TEST_F(SecretTest, SealNeedsAValidName)
{
	EXPECT_EQ(1, run({ "secret", "seal" }));
	EXPECT_NE(err_.str().find("missing secret name"), std::string::npos) << err_.str();
	EXPECT_EQ(1, run({ "secret", "seal", "bad/name" }));
	EXPECT_NE(err_.str().find("invalid secret name 'bad/name'"), std::string::npos) << err_.str();
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(SecretTest, SealRefusesEmptyAndOversizeSecrets)
{
	EXPECT_EQ(1, run({ "secret", "seal", "dek" })); // stdin is /dev/null
	EXPECT_NE(err_.str().find("empty"), std::string::npos) << err_.str();
	EXPECT_EQ(1, run({ "secret", "seal", "dek", "--from-file", file("big", std::string(4097, 'x')) }));
	EXPECT_EQ(err_.str(), "ramcrypt: secret dek: 4097 bytes, at most 4096 can be sealed\n");
	// The secret is read only once this process is protected.
	EXPECT_EQ(2u, mod_.protects.size());
}

TEST_F(SecretTest, SealWarnsUnderARandomKeyAndReportsModuleErrors)
{
	// The fake device predates sealing: ENOTTY, as an ABI 1 module answers.
	mod_.status.key_source = RAMCRYPT_KEY_RANDOM;
	EXPECT_EQ(1, run({ "secret", "seal", "dek", "--from-file", file("dek", "0123456789abcdef") }));
	EXPECT_NE(err_.str().find("warning: the module's key is random"), std::string::npos) << err_.str();
	EXPECT_NE(err_.str().find("ramcrypt: secret seal: the ramcrypt module does not support sealing"),
		  std::string::npos)
		<< err_.str();
	ASSERT_EQ(1u, mod_.opens.size());
	EXPECT_EQ(Access::write, mod_.opens[0]);

	mod_.status.key_source = RAMCRYPT_KEY_PASSPHRASE;
	EXPECT_EQ(1, run({ "secret", "seal", "dek", "--from-file", root_ + "/dek" }));
	EXPECT_EQ(err_.str().find("warning"), std::string::npos) << err_.str();
}

TEST_F(SecretTest, RunRejectsBadSecretSpecsBeforeAnything)
{
	EXPECT_EQ(125, run({ "run", "--secret", "a:b", "--", "true" }));
	EXPECT_NE(err_.str().find("invalid secret name 'a:b'"), std::string::npos) << err_.str();
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(SecretTest, RunFailsWithoutTheSecretAndDoesNotExec)
{
	// No such key in the user keyring: run fails with 125 after protecting itself.
	std::string name = "ramcrypt-test-missing-" + std::to_string(getpid());
	EXPECT_EQ(125, run({ "run", "--secret", name, "--", "/bin/false" }));
	EXPECT_NE(err_.str().find("secret " + name), std::string::npos) << err_.str();
	ASSERT_EQ(1u, mod_.protects.size());
	EXPECT_EQ(RAMCRYPT_PROTECT_INHERIT_EXEC, mod_.protects[0].flags);
}

TEST_F(SecretTest, UnsealOnlyChecksAndNeedsTheBlob)
{
	std::string name = "ramcrypt-test-missing-" + std::to_string(getpid());
	EXPECT_EQ(1, run({ "secret", "unseal", name }));
	EXPECT_NE(err_.str().find("secret " + name), std::string::npos) << err_.str();
	EXPECT_EQ(out_.str(), "");
}

// --- sealed-secret files: secret seal --output, secret load ---------------------

// A module that seals: a blob of the right length and magic with the secret in the
// clear (the real construction is tested in the guest, selftests/seal.c).
class SealingDevice final : public FakeDevice {
public:
	using FakeDevice::FakeDevice;
	int seal(struct ramcrypt_seal &s) override
	{
		std::size_t need = RAMCRYPT_SEAL_BLOB_LEN(s.secret_len);
		if (s.blob_len < need)
			return ENOSPC;
		auto *b = reinterpret_cast<unsigned char *>(static_cast<std::uintptr_t>(s.blob));
		std::memset(b, 0, need);
		std::memcpy(b, "RCSL", 4);
		std::memcpy(b + RAMCRYPT_SEAL_OVERHEAD, reinterpret_cast<const void *>(static_cast<std::uintptr_t>(s.secret)),
			    s.secret_len);
		s.blob_len = need;
		return 0;
	}
};

std::vector<unsigned char> bytes_of(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	return { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
}

class SecretFileTest : public SecretTest {
protected:
	void SetUp() override
	{
		SecretTest::SetUp();
		// A fresh session keyring of our own: nothing leaks into the caller's, and
		// it goes away with this process.
		ASSERT_GE(keyctl_join_session_keyring(nullptr), 0);
		env_.open_device = [this](Access a, int &e) -> std::unique_ptr<Device> {
			mod_.opens.push_back(a);
			e = 0;
			return std::make_unique<SealingDevice>(mod_);
		};
	}
	const std::string name_ = "rc-file-" + std::to_string(getpid());
};

TEST_F(SecretFileTest, SealToAFileThenLoadIntoAKeyring)
{
	const std::string path = root_ + "/dek.rcs";
	EXPECT_EQ(0, run({ "secret", "seal", name_, "--output", path, "--from-file", file("dek", "0123456789abcdef") }))
		<< err_.str();
	auto data = bytes_of(path);
	ASSERT_EQ(data.size(), 8 + name_.size() + RAMCRYPT_SEAL_BLOB_LEN(16));
	std::string head(data.begin(), data.begin() + 8 + name_.size() + 4);
	EXPECT_EQ(head, std::string("RCSF\x01", 5) + char(name_.size()) + std::string(2, '\0') + name_ + "RCSL");
	struct stat st;
	ASSERT_EQ(stat(path.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0600u);
	unsigned char blob[RAMCRYPT_SEAL_BLOB_MAX];
	EXPECT_EQ(-ENOKEY, ramcrypt_blob_load(name_.c_str(), "@s", blob, sizeof(blob))); // a file, not a key

	// After a reboot the keyrings are empty: load puts the file's blob back.
	EXPECT_EQ(0, run({ "secret", "load", path, "--keyring", "@s" })) << err_.str();
	EXPECT_EQ(out_.str(), name_ + ": loaded into keyring @s\n");
	ASSERT_EQ(ramcrypt_blob_load(name_.c_str(), "@s", blob, sizeof(blob)),
		  static_cast<ssize_t>(RAMCRYPT_SEAL_BLOB_LEN(16)));
	EXPECT_EQ(0, std::memcmp(blob, data.data() + 8 + name_.size(), RAMCRYPT_SEAL_BLOB_LEN(16)));
	EXPECT_EQ(0, std::memcmp(blob + RAMCRYPT_SEAL_OVERHEAD, "0123456789abcdef", 16));
}

TEST_F(SecretFileTest, OutputReplacesAFileWhole)
{
	const std::string path = file("dek.rcs", "old contents");
	chmod(path.c_str(), 0644);
	EXPECT_EQ(0, run({ "secret", "seal", name_, "--output", path, "--from-file", file("dek", "x") }));
	struct stat st;
	ASSERT_EQ(stat(path.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0600u);
	EXPECT_EQ(bytes_of(path).size(), 8 + name_.size() + RAMCRYPT_SEAL_BLOB_LEN(1));
	EXPECT_EQ(1, run({ "secret", "seal", name_, "--output", root_ + "/no/such/dir/f", "--from-file", root_ + "/dek" }));
	EXPECT_NE(err_.str().find("No such file or directory"), std::string::npos) << err_.str();
}

TEST_F(SecretFileTest, OutputAndKeyringExclude)
{
	EXPECT_EQ(1, run({ "secret", "seal", "dek", "--output", "f", "--keyring", "@s" }));
	EXPECT_EQ(err_.str(), "ramcrypt: --keyring and --output cannot be used together\n"
			      "Try 'ramcrypt secret seal --help' for more information.\n");
	EXPECT_EQ(1, run({ "secret", "load" }));
	EXPECT_NE(err_.str().find("missing FILE"), std::string::npos) << err_.str();
	EXPECT_TRUE(mod_.opens.empty());
}

TEST_F(SecretFileTest, LoadRefusesWhatIsNotAFileOfOurs)
{
	std::vector<unsigned char> blob(RAMCRYPT_SEAL_BLOB_LEN(16), 0);
	std::memcpy(blob.data(), "RCSL", 4);
	auto good = encode_secret_file("dek", blob);
	struct Case {
		std::function<void(std::vector<unsigned char> &)> damage;
		std::string error;
	};
	std::vector<Case> cases = {
		{ [](auto &d) { d[0] = 'X'; }, "not a ramcrypt sealed-secret file" },
		{ [](auto &d) { d.resize(5); }, "not a ramcrypt sealed-secret file" },
		{ [](auto &d) { d[4] = 2; }, "sealed-secret file version 2, this tool reads version 1" },
		{ [](auto &d) { d[6] = 1; }, "damaged sealed-secret file (header)" },
		{ [](auto &d) { d[5] = 0; }, "damaged sealed-secret file (header)" },
		{ [](auto &d) { d[5] = 65; }, "damaged sealed-secret file (header)" },
		{ [](auto &d) { d[9] = '/'; }, "damaged sealed-secret file (name)" },
		{ [](auto &d) { d[11] = 'X'; }, "damaged sealed-secret file (blob)" },
		{ [](auto &d) { d.pop_back(); }, "damaged sealed-secret file (blob)" },
		{ [](auto &d) { d.resize(8 + 3 + 48); }, "damaged sealed-secret file (blob)" },
		{ [](auto &d) { d.resize(8 + 3 + RAMCRYPT_SEAL_BLOB_MAX + 16); }, "damaged sealed-secret file (blob)" },
	};
	std::string name;
	std::vector<unsigned char> out;
	ASSERT_EQ("", decode_secret_file(good, name, out));
	EXPECT_EQ(name, "dek");
	EXPECT_EQ(out, blob);
	for (std::size_t i = 0; i < cases.size(); i++) {
		auto d = good;
		cases[i].damage(d);
		std::string path = root_ + "/bad" + std::to_string(i);
		std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char *>(d.data()), d.size());
		EXPECT_EQ(1, run({ "secret", "load", path, "--keyring", "@s" })) << i;
		EXPECT_EQ(err_.str(), "ramcrypt: " + path + ": " + cases[i].error + "\n") << i;
	}
	EXPECT_EQ(1, run({ "secret", "load", root_ + "/missing" }));
	EXPECT_EQ(err_.str(), "ramcrypt: " + root_ + "/missing: No such file or directory\n");
	EXPECT_TRUE(mod_.opens.empty()); // load needs no module
}

// --- secret seal at a terminal: the secret is typed with echo off ---------------

// secret seal NAME --output FILE in a child on a new pseudo-terminal, as when an
// admin types the secret; the parent plays the terminal.
class SealTtyTest : public SecretTest {
protected:
	void SetUp() override
	{
		SecretTest::SetUp();
		path_ = root_ + "/typed.rcs";
		std::fflush(nullptr); // no buffered output of ours in the child
		pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
		ASSERT_GE(pid_, 0) << std::strerror(errno);
		if (pid_ == 0) {
			// The child: standard input, output and error are the terminal.
			Env env{ {}, std::cout, std::cerr, {} };
			env.open_device = [this](Access, int &e) -> std::unique_ptr<Device> {
				e = 0;
				return std::make_unique<SealingDevice>(mod_);
			};
			const char *argv[] = { "ramcrypt", "secret", "seal", "typed", "--output", path_.c_str() };
			int rc = cli_main(env, 6, argv);
			std::cout.flush();
			std::cerr.flush();
			_exit(rc);
		}
		// Hold the terminal open, to read its modes after the child is gone.
		slave_ = open(ptsname(master_), O_RDWR | O_NOCTTY | O_CLOEXEC);
		ASSERT_GE(slave_, 0) << std::strerror(errno);
	}
	void TearDown() override
	{
		if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0) {
			kill(pid_, SIGKILL);
			waitpid(pid_, nullptr, 0);
		}
		if (slave_ >= 0)
			close(slave_);
		if (master_ >= 0)
			close(master_);
		SecretTest::TearDown();
	}

	// What the terminal shows until it shows want (or 10 s pass, or the child is gone).
	std::string read_until(const std::string &want)
	{
		for (int waited = 0; screen_.find(want) == std::string::npos && waited < 10000;) {
			pollfd p = { master_, POLLIN, 0 };
			if (poll(&p, 1, 100) <= 0) {
				waited += 100;
				continue;
			}
			char buf[256];
			ssize_t n = read(master_, buf, sizeof(buf));
			if (n <= 0)
				break;
			screen_.append(buf, static_cast<std::size_t>(n));
		}
		return screen_;
	}
	bool echo() const
	{
		termios t;
		EXPECT_EQ(tcgetattr(slave_, &t), 0);
		return t.c_lflag & ECHO;
	}
	int wait_child()
	{
		int status = -1;
		pid_t got = 0;
		for (int waited = 0; (got = waitpid(pid_, &status, WNOHANG)) == 0 && waited < 10000; waited += 50)
			usleep(50000);
		if (got == 0) {
			ADD_FAILURE() << "the tool did not end within 10 s";
			kill(pid_, SIGKILL);
			waitpid(pid_, &status, 0);
		}
		pid_ = -1;
		// What it printed last: the terminal holds it until read.
		for (pollfd p = { master_, POLLIN, 0 }; poll(&p, 1, 200) > 0;) {
			char buf[256];
			ssize_t n = read(master_, buf, sizeof(buf));
			if (n <= 0)
				break;
			screen_.append(buf, static_cast<std::size_t>(n));
		}
		return status;
	}

	// The prompt; false after 10 s without it.
	bool prompted() { return read_until(prompt).find(prompt) != std::string::npos; }

	const std::string prompt = "Enter secret typed: ";
	std::string path_;
	pid_t pid_ = -1;
	int master_ = -1, slave_ = -1;
	std::string screen_;
};

TEST_F(SealTtyTest, TypedSecretIsNotShown)
{
	ASSERT_TRUE(prompted()) << screen_;
	EXPECT_FALSE(echo()) << "echo is on at the prompt";
	const std::string typed = "s3cret typed at the prompt";
	ASSERT_EQ(write(master_, (typed + "\n").data(), typed.size() + 1), static_cast<ssize_t>(typed.size() + 1));
	int status = wait_child();
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0) << screen_;
	EXPECT_EQ(screen_.find("s3cret"), std::string::npos) << "the terminal showed the secret: " << screen_;
	EXPECT_TRUE(echo()) << "echo left off";

	// Sealed: the line as typed, without its newline.
	std::string name;
	std::vector<unsigned char> blob;
	ASSERT_EQ("", decode_secret_file(bytes_of(path_), name, blob));
	EXPECT_EQ(name, "typed");
	ASSERT_EQ(blob.size(), RAMCRYPT_SEAL_BLOB_LEN(typed.size()));
	EXPECT_EQ(std::string(blob.begin() + RAMCRYPT_SEAL_OVERHEAD, blob.begin() + RAMCRYPT_SEAL_OVERHEAD + typed.size()),
		  typed);
}

TEST_F(SealTtyTest, EmptyLineIsRefused)
{
	ASSERT_TRUE(prompted()) << screen_;
	ASSERT_EQ(write(master_, "\n", 1), 1);
	int status = wait_child();
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 1);
	EXPECT_NE(screen_.find("ramcrypt: empty secret"), std::string::npos) << screen_;
	EXPECT_TRUE(echo());
	EXPECT_FALSE(fs::exists(path_));
}

// Ctrl-C at the prompt: the terminal gets its echo back, then SIGINT ends the tool.
TEST_F(SealTtyTest, InterruptRestoresEcho)
{
	ASSERT_TRUE(prompted()) << screen_;
	ASSERT_FALSE(echo());
	ASSERT_EQ(write(master_, "half\x03", 5), 5); // VINTR: the line discipline sends SIGINT
	int status = wait_child();
	ASSERT_TRUE(WIFSIGNALED(status)) << screen_;
	EXPECT_EQ(WTERMSIG(status), SIGINT);
	EXPECT_TRUE(echo()) << "echo left off after SIGINT";
	EXPECT_FALSE(fs::exists(path_));
}

TEST_F(SealTtyTest, TerminateRestoresEcho)
{
	ASSERT_TRUE(prompted()) << screen_;
	ASSERT_FALSE(echo());
	ASSERT_EQ(kill(pid_, SIGTERM), 0);
	int status = wait_child();
	ASSERT_TRUE(WIFSIGNALED(status)) << screen_;
	EXPECT_EQ(WTERMSIG(status), SIGTERM);
	EXPECT_TRUE(echo()) << "echo left off after SIGTERM";
}

} // namespace
} // namespace ramcrypt::test
