// SPDX-License-Identifier: GPL-2.0
// Key derivation against published vectors, and the bounded whole-file readers.
#include "key.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

namespace ramcrypt {
namespace {

std::string pbkdf2_hex(std::string_view pass, std::string_view salt, unsigned int iterations,
		       std::size_t len)
{
	std::vector<unsigned char> out(len);
	EXPECT_TRUE(pbkdf2_sha256({ reinterpret_cast<const unsigned char *>(pass.data()), pass.size() },
				  { reinterpret_cast<const unsigned char *>(salt.data()), salt.size() },
				  iterations, out));
	std::string hex;
	char buf[3];
	for (unsigned char b : out) {
		std::snprintf(buf, sizeof(buf), "%02x", b);
		hex += buf;
	}
	return hex;
}

// RFC 7914 section 11 gives these PBKDF2-HMAC-SHA256 vectors.
TEST(Pbkdf2, Rfc7914Vectors)
{
	EXPECT_EQ(pbkdf2_hex("passwd", "salt", 1, 64),
		  "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
		  "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	EXPECT_EQ(pbkdf2_hex("Password", "NaCl", 80000, 64),
		  "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
		  "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
}

// The RFC 6070 inputs with SHA-256, as widely published; they cover a key
// length that is not a multiple of the hash size and NUL bytes in both inputs.
TEST(Pbkdf2, Rfc6070InputsWithSha256)
{
	EXPECT_EQ(pbkdf2_hex("password", "salt", 4096, 32),
		  "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
	EXPECT_EQ(pbkdf2_hex("passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 40),
		  "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9");
	EXPECT_EQ(pbkdf2_hex(std::string_view("pass\0word", 9), std::string_view("sa\0lt", 5), 4096, 16),
		  "89b69d0516f829893c696226650a8687");
}

class KeyFileTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		char path[] = "/tmp/ramcrypt-key-test.XXXXXX";
		int fd = mkstemp(path);
		ASSERT_GE(fd, 0);
		close(fd);
		path_ = path;
	}
	void TearDown() override { unlink(path_.c_str()); }
	void write(const std::string &content) { std::ofstream(path_, std::ios::binary) << content; }

	std::string path_;
};

TEST_F(KeyFileTest, WholeFileCountsNewlinesAndNulBytes)
{
	const std::string content("line one\nline\0two\n", 18);
	write(content);
	Secret s;
	EXPECT_EQ(read_key_file(path_, -1, s), "");
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(s.data()), s.size()), content);
}

TEST_F(KeyFileTest, LimitIsCryptsetups)
{
	write(std::string(key_file_max, 'k'));
	Secret s;
	EXPECT_EQ(read_key_file(path_, -1, s), "");
	EXPECT_EQ(s.size(), key_file_max);

	write(std::string(key_file_max + 1, 'k'));
	Secret t;
	EXPECT_EQ(read_key_file(path_, -1, t), path_ + ": larger than 8388608 bytes");
	EXPECT_EQ(t.size(), 0u);
}

TEST_F(KeyFileTest, DashIsStandardInput)
{
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	ASSERT_EQ(::write(fds[1], "from stdin", 10), 10);
	close(fds[1]);
	Secret s;
	EXPECT_EQ(read_key_file("-", fds[0], s), "");
	close(fds[0]);
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(s.data()), s.size()), "from stdin");
}

TEST_F(KeyFileTest, SaltBounds)
{
	std::vector<unsigned char> salt;
	write(std::string(kdf_salt_max, 's'));
	EXPECT_EQ(read_salt_file(path_, salt), "");
	EXPECT_EQ(salt.size(), kdf_salt_max);
	write(std::string(kdf_salt_max + 1, 's'));
	EXPECT_EQ(read_salt_file(path_, salt), path_ + ": larger than 1024 bytes");
	write("short");
	EXPECT_EQ(read_salt_file(path_, salt), path_ + ": salt shorter than 16 bytes");
}

TEST(Secret, GrowingKeepsTheBytes)
{
	Secret s;
	std::string expect;
	for (int i = 0; i < 1000; i++) {
		char c = static_cast<char>('a' + i % 26);
		s.append(&c, 1);
		expect += c;
	}
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(s.data()), s.size()), expect);
	s.clear();
	EXPECT_EQ(s.size(), 0u);
	EXPECT_EQ(s.data(), nullptr);
}

} // namespace
} // namespace ramcrypt
