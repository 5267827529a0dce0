// SPDX-License-Identifier: GPL-2.0
// Key material for RAMCRYPT_IOC_KEY_LOAD: reading a passphrase or key file and
// deriving the 32-byte key from it with PBKDF2-HMAC-SHA256. Every buffer that holds
// secret bytes is a Secret, which is wiped before its memory is released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace ramcrypt {

// Without --salt-file every host derives the same key from the same passphrase;
// a per-host salt file is better (see ramcrypt(8)).
inline constexpr std::string_view kdf_default_salt = "ramcrypt passphrase key v1";
inline constexpr std::size_t kdf_salt_min = 16;	// 128 bits, NIST SP 800-132
inline constexpr std::size_t kdf_salt_max = 1024;
inline constexpr std::uint64_t kdf_default_iterations = 600000; // OWASP, 2023
inline constexpr std::uint64_t kdf_min_iterations = 1000;	// NIST SP 800-132
inline constexpr std::size_t key_file_max = 8 << 20;	// as cryptsetup
inline constexpr std::size_t passphrase_max = 512;	// as cryptsetup

class Secret {
public:
	Secret() = default;
	~Secret() { clear(); }
	Secret(const Secret &) = delete;
	Secret &operator=(const Secret &) = delete;

	unsigned char *data() { return buf_; }
	const unsigned char *data() const { return buf_; }
	std::size_t size() const { return size_; }
	std::span<const unsigned char> bytes() const { return {buf_, size_}; }

	// Room for n bytes in all. Growing moves the bytes and wipes the old buffer.
	void reserve(std::size_t n);
	void resize(std::size_t n);
	void append(const void *p, std::size_t n);
	// Wipe and release.
	void clear();

private:
	unsigned char *buf_ = nullptr;
	std::size_t size_ = 0;
	std::size_t cap_ = 0;
};

// Each reader returns an empty string on success, else the error text to print
// after "ramcrypt: ".

// Whole file, as cryptsetup --key-file: "-" is stdin_fd, every byte counts (a
// trailing newline too), at most key_file_max bytes, not empty.
std::string read_key_file(const std::string &path, int stdin_fd, Secret &out);

// Whole file, kdf_salt_min to kdf_salt_max bytes.
std::string read_salt_file(const std::string &path, std::vector<unsigned char> &out);

// One line from the terminal fd with echo off, without its newline, at most max
// bytes; prompt() runs once echo is off and returns "" or its error text. The terminal is restored on every return,
// and when SIGINT, SIGTERM, SIGHUP or SIGQUIT arrives meanwhile, before the signal
// takes its default action. Errors name the terminal as name, the line as what.
std::string read_hidden_line(int fd, const std::string &name, const std::function<std::string()> &prompt,
			     std::size_t max, const std::string &what, Secret &out);

// One line from /dev/tty with echo off, without its newline.
std::string read_passphrase_tty(const char *prompt, Secret &out);

// PBKDF2-HMAC-SHA256 (RFC 8018). False only if OpenSSL fails.
bool pbkdf2_sha256(std::span<const unsigned char> passphrase, std::span<const unsigned char> salt,
		   unsigned int iterations, std::span<unsigned char> out);

} // namespace ramcrypt
