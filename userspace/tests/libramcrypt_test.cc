// SPDX-License-Identifier: GPL-2.0
// libramcrypt's argument checks and error paths, with the device calls faked: the
// real seal/unseal behaviour is tested in the guest (selftests/seal.c, seal_flow.sh).
#include "ramcrypt.h"
#include "ramcrypt-internal.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

struct Fake {
	int open_error = 0;
	std::vector<int> ioctl_errors;	// one per call, then 0
	std::vector<int> open_flags;
	std::vector<unsigned long> requests;
	__u64 out_len = 0;		// blob_len / secret_len answered on success
	struct ramcrypt_secret_region region = {};	// the last SECRET_REGION request
	int closes = 0;
} fake;

int fake_open(const char *, int flags)
{
	fake.open_flags.push_back(flags);
	if (fake.open_error) {
		errno = fake.open_error;
		return -1;
	}
	return 42;
}

int fake_ioctl(int, unsigned long request, void *arg)
{
	std::size_t i = fake.requests.size();
	fake.requests.push_back(request);
	if (i < fake.ioctl_errors.size() && fake.ioctl_errors[i]) {
		errno = fake.ioctl_errors[i];
		return -1;
	}
	if (request == RAMCRYPT_IOC_SEAL)
		static_cast<struct ramcrypt_seal *>(arg)->blob_len = fake.out_len;
	else if (request == RAMCRYPT_IOC_SECRET_REGION)
		fake.region = *static_cast<struct ramcrypt_secret_region *>(arg);
	else
		static_cast<ramcrypt_unseal *>(arg)->secret_len = fake.out_len;
	return 0;
}

int fake_close(int)
{
	fake.closes++;
	return 0;
}

const ramcrypt_lib_ops fake_ops = { fake_open, fake_ioctl, fake_close };

class Lib : public ::testing::Test {
protected:
	void SetUp() override
	{
		fake = Fake{};
		ramcrypt_lib_set_ops(&fake_ops);
	}
	void TearDown() override { ramcrypt_lib_set_ops(nullptr); }

	unsigned char secret_[RAMCRYPT_SEAL_MAX + 1] = {};
	unsigned char blob_[RAMCRYPT_SEAL_BLOB_MAX] = {};
};

// The pages holding the range, on a read-only descriptor; bad ranges never reach it.
TEST_F(Lib, SecretRegionCoversWholePages)
{
	const unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
	auto *p = reinterpret_cast<const char *>(0x7f0000000000UL + page + 16);

	EXPECT_EQ(0, ramcrypt_secret_region(p, 32));
	ASSERT_EQ(1u, fake.requests.size());
	EXPECT_EQ(RAMCRYPT_IOC_SECRET_REGION, fake.requests[0]);
	EXPECT_EQ(O_RDONLY | O_CLOEXEC, fake.open_flags[0]);
	EXPECT_EQ(0x7f0000000000UL + page, fake.region.addr);
	EXPECT_EQ(48u, fake.region.len);
	EXPECT_EQ(0u, fake.region.flags);
	EXPECT_EQ(1, fake.closes);

	EXPECT_EQ(0, ramcrypt_secret_region(p + page - 16, page + 1));
	EXPECT_EQ(0x7f0000000000UL + 2 * page, fake.region.addr);
	EXPECT_EQ(page + 1, fake.region.len);

	EXPECT_EQ(-EINVAL, ramcrypt_secret_region(nullptr, 1));
	EXPECT_EQ(-EINVAL, ramcrypt_secret_region(p, 0));
	EXPECT_EQ(-EINVAL, ramcrypt_secret_region(p, SIZE_MAX));
	EXPECT_EQ(2u, fake.requests.size());

	fake.ioctl_errors = { 0, 0, EPERM };
	EXPECT_EQ(-EPERM, ramcrypt_secret_region(p, 1));
	EXPECT_NE(nullptr, std::strstr(ramcrypt_strerror(-EPERM), "secret regions"));
}

TEST_F(Lib, NamesArePlain)
{
	EXPECT_EQ(1, ramcrypt_name_valid("db-dek.v1_2"));
	EXPECT_EQ(0, ramcrypt_name_valid(""));
	EXPECT_EQ(0, ramcrypt_name_valid(nullptr));
	EXPECT_EQ(0, ramcrypt_name_valid("a:b"));
	EXPECT_EQ(0, ramcrypt_name_valid("a b"));
	EXPECT_EQ(0, ramcrypt_name_valid("a/b"));
	EXPECT_EQ(1, ramcrypt_name_valid(std::string(64, 'x').c_str()));
	EXPECT_EQ(0, ramcrypt_name_valid(std::string(65, 'x').c_str()));
}

TEST_F(Lib, SealLengthsCheckedBeforeTheDevice)
{
	EXPECT_EQ(-EINVAL, ramcrypt_seal_blob(secret_, 0, blob_, sizeof(blob_)));
	EXPECT_EQ(-EINVAL, ramcrypt_seal_blob(secret_, RAMCRYPT_SEAL_MAX + 1, blob_, sizeof(blob_)));
	EXPECT_EQ(-EINVAL, ramcrypt_seal_blob(nullptr, 16, blob_, sizeof(blob_)));
	EXPECT_EQ(-ENOSPC, ramcrypt_seal_blob(secret_, 17, blob_, RAMCRYPT_SEAL_BLOB_LEN(17) - 1));
	EXPECT_TRUE(fake.open_flags.empty());
}

TEST_F(Lib, BlobSizes)
{
	EXPECT_EQ(64u, RAMCRYPT_SEAL_BLOB_LEN(1));
	EXPECT_EQ(64u, RAMCRYPT_SEAL_BLOB_LEN(16));
	EXPECT_EQ(80u, RAMCRYPT_SEAL_BLOB_LEN(17));
	EXPECT_EQ(48u + 4096u, RAMCRYPT_SEAL_BLOB_MAX);
}

TEST_F(Lib, SealNeedsAWritableDeviceUnsealDoesNot)
{
	fake.out_len = RAMCRYPT_SEAL_BLOB_LEN(32);
	EXPECT_EQ((ssize_t)RAMCRYPT_SEAL_BLOB_LEN(32), ramcrypt_seal_blob(secret_, 32, blob_, sizeof(blob_)));
	fake.out_len = 32;
	EXPECT_EQ(32, ramcrypt_unseal_blob(blob_, RAMCRYPT_SEAL_BLOB_LEN(32), secret_, sizeof(secret_)));
	ASSERT_EQ(2u, fake.open_flags.size());
	EXPECT_EQ(O_RDWR, fake.open_flags[0] & O_ACCMODE);
	EXPECT_EQ(O_RDONLY, fake.open_flags[1] & O_ACCMODE);
	EXPECT_EQ((std::vector<unsigned long>{ RAMCRYPT_IOC_SEAL, RAMCRYPT_IOC_UNSEAL }), fake.requests);
	EXPECT_EQ(2, fake.closes);
}

TEST_F(Lib, ModuleErrorsComeBackNegated)
{
	for (int e : { EPERM, EKEYREJECTED, EBADMSG, EINVAL, ENOSPC, EKEYREVOKED, ENOTTY }) {
		fake = Fake{};
		fake.ioctl_errors = { e };
		EXPECT_EQ(-e, ramcrypt_unseal_blob(blob_, 64, secret_, sizeof(secret_))) << e;
		EXPECT_EQ(1, fake.closes);
	}
}

TEST_F(Lib, InterruptedCallsAreRepeated)
{
	fake.ioctl_errors = { EINTR, EINTR };
	fake.out_len = 5;
	EXPECT_EQ(5, ramcrypt_unseal_blob(blob_, 64, secret_, sizeof(secret_)));
	EXPECT_EQ(3u, fake.requests.size());
}

TEST_F(Lib, MissingDevice)
{
	fake.open_error = ENOENT;
	EXPECT_EQ(-ENOENT, ramcrypt_seal_blob(secret_, 16, blob_, sizeof(blob_)));
	EXPECT_NE(nullptr, std::strstr(ramcrypt_strerror(-ENOENT), "module loaded"));
}

TEST_F(Lib, BadNamesAndKeyringsFailBeforeAnyWork)
{
	EXPECT_EQ(-EINVAL, ramcrypt_seal("bad name", "@u", secret_, 16));
	EXPECT_EQ(-EINVAL, ramcrypt_unseal_into("bad/name", "@u", secret_, sizeof(secret_)));
	EXPECT_EQ(-EINVAL, ramcrypt_blob_store("dek", "@x", blob_, 64));
	EXPECT_EQ(-EINVAL, ramcrypt_blob_load("dek", "@p:x", blob_, sizeof(blob_)));
	EXPECT_EQ(-EINVAL, ramcrypt_blob_load("dek", "-3", blob_, sizeof(blob_)));
	EXPECT_EQ(-EINVAL, ramcrypt_unseal_into("dek", "@u", secret_, 0));
	EXPECT_TRUE(fake.open_flags.empty());
}

// KEY_SPEC_USER_KEYRING is -4: a missing name in @u must read ENOKEY, not -4 (EINTR).
TEST_F(Lib, MissingNameInTheUserKeyringIsEnokey)
{
	std::string name = "ramcrypt-test-missing-" + std::to_string(getpid());
	ssize_t n = ramcrypt_blob_load(name.c_str(), "@u", blob_, sizeof(blob_));
	if (n == -ENOSYS || n == -EPERM || n == -EACCES)
		GTEST_SKIP() << "no usable keyrings here: " << ramcrypt_strerror((int)n);
	EXPECT_EQ(-ENOKEY, n) << ramcrypt_strerror((int)n);
	EXPECT_EQ(-ENOKEY, ramcrypt_blob_load(name.c_str(), "@s", blob_, sizeof(blob_)));
}

TEST_F(Lib, ErrorTextsSaySomethingUseful)
{
	EXPECT_NE(nullptr, std::strstr(ramcrypt_strerror(-EPERM), "protected"));
	EXPECT_NE(nullptr, std::strstr(ramcrypt_strerror(-EKEYREJECTED), "another ramcrypt key"));
	EXPECT_NE(nullptr, std::strstr(ramcrypt_strerror(-EBADMSG), "tampered"));
	EXPECT_STREQ(std::strerror(EIO), ramcrypt_strerror(-EIO));
}

} // namespace
