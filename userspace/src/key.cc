// SPDX-License-Identifier: GPL-2.0
#include "key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <fcntl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

namespace ramcrypt {

void Secret::reserve(std::size_t n)
{
	if (n <= cap_)
		return;

	auto *buf = new unsigned char[n];
	// Best effort: keep the bytes out of swap where RLIMIT_MEMLOCK allows.
	mlock(buf, n);
	if (size_)
		std::memcpy(buf, buf_, size_);
	std::size_t size = size_;
	clear();
	buf_ = buf;
	cap_ = n;
	size_ = size;
}

void Secret::resize(std::size_t n)
{
	reserve(n);
	if (n > size_)
		std::memset(buf_ + size_, 0, n - size_);
	size_ = n;
}

void Secret::append(const void *p, std::size_t n)
{
	if (size_ + n > cap_)
		reserve(std::max(size_ + n, 2 * cap_));
	std::memcpy(buf_ + size_, p, n);
	size_ += n;
}

void Secret::clear()
{
	if (buf_) {
		OPENSSL_cleanse(buf_, cap_);
		munlock(buf_, cap_);
		delete[] buf_;
	}
	buf_ = nullptr;
	size_ = cap_ = 0;
}

namespace {

std::string errno_text(const std::string &subject, int err)
{
	return subject + ": " + std::strerror(err);
}

// Read fd to its end into out, failing once more than max bytes arrive.
std::string read_all(int fd, const std::string &name, std::size_t max, Secret &out)
{
	unsigned char chunk[4096];
	std::string error;

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = errno_text(name, errno);
			break;
		}
		if (n == 0)
			break;
		if (out.size() + n > max) {
			error = name + ": larger than " + std::to_string(max) + " bytes";
			break;
		}
		out.append(chunk, n);
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	if (error.empty() && out.size() == 0)
		error = name + ": empty";
	if (!error.empty())
		out.clear();
	return error;
}

volatile sig_atomic_t caught_signal;

void on_signal(int sig)
{
	caught_signal = sig;
}

} // namespace

std::string read_key_file(const std::string &path, int stdin_fd, Secret &out)
{
	if (path == "-")
		return read_all(stdin_fd, "standard input", key_file_max, out);

	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno_text(path, errno);
	std::string error = read_all(fd, path, key_file_max, out);
	close(fd);
	return error;
}

std::string read_salt_file(const std::string &path, std::vector<unsigned char> &out)
{
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno_text(path, errno);

	Secret buf; // not secret, but the same bounded whole-file read
	std::string error = read_all(fd, path, kdf_salt_max, buf);
	close(fd);
	if (!error.empty())
		return error;
	if (buf.size() < kdf_salt_min)
		return path + ": salt shorter than " + std::to_string(kdf_salt_min) + " bytes";
	out.assign(buf.data(), buf.data() + buf.size());
	return {};
}

std::string read_hidden_line(int fd, const std::string &name, const std::function<std::string()> &prompt,
			     std::size_t max, const std::string &what, Secret &out)
{
	termios saved;
	if (tcgetattr(fd, &saved) < 0)
		return errno_text(name, errno);

	// A signal during the prompt must not leave the terminal without echo: catch
	// it, restore the terminal, then let it take its default action. Ctrl-Z waits.
	const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = {}, old[std::size(signals)];
	sigset_t stop, old_mask;

	sa.sa_handler = on_signal; // no SA_RESTART: read() returns EINTR
	sigemptyset(&sa.sa_mask);
	caught_signal = 0;
	for (std::size_t i = 0; i < std::size(signals); i++)
		sigaction(signals[i], &sa, &old[i]);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTSTP);
	sigprocmask(SIG_BLOCK, &stop, &old_mask);

	// Echo off before the prompt, so nothing typed after it is shown.
	termios quiet = saved;
	quiet.c_lflag &= ~ECHO;
	quiet.c_lflag |= ECHONL; // the terminal ends the prompt line itself
	std::string error;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0)
		error = errno_text(name, errno);
	else
		error = prompt();

	out.reserve(max);
	bool too_long = false;
	unsigned char c = 0;
	while (error.empty() && !caught_signal) {
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			error = errno_text(name, errno);
		if (n <= 0 || c == '\n')
			break;
		if (out.size() == max)
			too_long = true; // keep reading so the rest of the line is not left behind
		else
			out.append(&c, 1);
	}
	OPENSSL_cleanse(&c, sizeof(c));

	tcsetattr(fd, TCSAFLUSH, &saved);
	sigprocmask(SIG_SETMASK, &old_mask, nullptr);
	for (std::size_t i = 0; i < std::size(signals); i++)
		sigaction(signals[i], &old[i], nullptr);

	if (caught_signal) {
		out.clear();
		raise(caught_signal);
		return "interrupted";
	}
	if (error.empty() && too_long)
		error = what + " longer than " + std::to_string(max) + " bytes";
	if (error.empty() && out.size() == 0)
		error = "empty " + what;
	if (!error.empty())
		out.clear();
	return error;
}

std::string read_passphrase_tty(const char *prompt, Secret &out)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno_text("/dev/tty", errno) + " (use --key-file - to read standard input)";

	std::string error = read_hidden_line(
		fd, "/dev/tty",
		[&] {
			if (write(fd, prompt, std::strlen(prompt)) < 0)
				return errno_text("/dev/tty", errno);
			return std::string();
		},
		passphrase_max, "passphrase", out);
	close(fd);
	return error;
}

bool pbkdf2_sha256(std::span<const unsigned char> passphrase, std::span<const unsigned char> salt,
		   unsigned int iterations, std::span<unsigned char> out)
{
	return PKCS5_PBKDF2_HMAC(reinterpret_cast<const char *>(passphrase.data()),
				 static_cast<int>(passphrase.size()), salt.data(),
				 static_cast<int>(salt.size()), static_cast<int>(iterations),
				 EVP_sha256(), static_cast<int>(out.size()), out.data()) == 1;
}

} // namespace ramcrypt
