// SPDX-License-Identifier: GPL-2.0
// `ramcrypt secret` and `run --secret` without the module: argument checks, the
// random-key warning and the module's errors. The real sealing is tested in the
// guest (selftests/seal.c, selftests/seal_flow.sh).
#include "cli.h"
#include "fake_device.h"
#include "secret.h"

#include <gtest/gtest.h>

#include <fcntl.h>
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

} // namespace
} // namespace ramcrypt::test
