// SPDX-License-Identifier: GPL-2.0
#include "secret.h"

#include "ramcrypt.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ramcrypt {
namespace {

void report_secret(Env &env, const std::string &subject, int error)
{
	env.err << "ramcrypt: " << subject << ": " << ramcrypt_strerror(error) << '\n';
}

void report_open_secret(Env &env, int error)
{
	env.err << "ramcrypt: " RAMCRYPT_DEVICE ": " << std::strerror(error);
	if (error == ENOENT)
		env.err << " (is the ramcrypt module loaded?)";
	env.err << '\n';
}

bool name_ok(Env &env, const std::string &name)
{
	if (ramcrypt_name_valid(name.c_str()))
		return true;
	env.err << "ramcrypt: invalid secret name '" << name
		<< "': use 1 to 64 of the characters A-Z a-z 0-9 _ - .\n";
	return false;
}

// Fetch NAME's blob from the keyring. 0 or the errno, reported.
int load_blob(Env &env, const std::string &name, const std::string &keyring,
	      std::vector<unsigned char> &blob)
{
	blob.resize(RAMCRYPT_SEAL_BLOB_MAX);
	ssize_t n = ramcrypt_blob_load(name.c_str(), keyring.c_str(), blob.data(), blob.size());
	if (n < 0) {
		if (n == -ENOKEY)
			env.err << "ramcrypt: secret " << name << ": not found in keyring " << keyring << '\n';
		else
			report_secret(env, "secret " + name + ": keyring " + keyring, (int)-n);
		return (int)-n;
	}
	blob.resize(static_cast<std::size_t>(n));
	return 0;
}

// Unseal blob into out (protected memory of this process). 0 or the errno, reported.
// Open the device for writing and protect this process; nullptr after an error message.
std::unique_ptr<Device> open_protected(Env &env, const std::string &what)
{
	int error = 0;
	auto dev = env.open_device(Access::write, error);
	if (!dev) {
		report_open_secret(env, error);
		return nullptr;
	}
	ramcrypt_protect p = {};
	if (int e = dev->protect(p)) {
		env.err << "ramcrypt: " << what << ": protecting this process: " << std::strerror(e) << '\n';
		return nullptr;
	}
	return dev;
}

int unseal_blob(Env &env, Device &dev, const std::string &name,
		const std::vector<unsigned char> &blob, Secret &out)
{
	out.resize(RAMCRYPT_SEAL_MAX);
	ramcrypt_unseal u = {};
	u.blob = reinterpret_cast<std::uintptr_t>(blob.data());
	u.blob_len = blob.size();
	u.secret = reinterpret_cast<std::uintptr_t>(out.data());
	u.secret_len = out.size();
	if (int e = dev.unseal(u)) {
		out.clear();
		report_secret(env, "secret " + name, e);
		return e;
	}
	out.resize(u.secret_len);
	return 0;
}

constexpr unsigned char file_magic[4] = { 'R', 'C', 'S', 'F' };
constexpr unsigned char file_version = 1;
constexpr std::size_t file_header = 8;
constexpr std::size_t name_max = 64;
constexpr std::size_t file_max = file_header + name_max + RAMCRYPT_SEAL_BLOB_MAX;

std::string errno_text(const std::string &subject, int e)
{
	return subject + ": " + std::strerror(e);
}

// Write data to path through a temporary file in the same directory, mode 0600, so
// a crash leaves the old file or the new one. "" or the error text.
std::string write_file_atomically(const std::string &path, const std::vector<unsigned char> &data)
{
	std::string tmp = path + ".XXXXXX";
	int fd = mkostemp(tmp.data(), O_CLOEXEC);
	if (fd < 0)
		return errno_text(tmp, errno);
	std::string error;
	for (std::size_t done = 0; done < data.size() && error.empty();) {
		ssize_t n = write(fd, data.data() + done, data.size() - done);
		if (n < 0 && errno != EINTR)
			error = errno_text(path, errno);
		else if (n > 0)
			done += static_cast<std::size_t>(n);
	}
	if (error.empty() && fsync(fd))
		error = errno_text(path, errno);
	if (close(fd) && error.empty())
		error = errno_text(path, errno);
	if (error.empty() && rename(tmp.c_str(), path.c_str()))
		error = errno_text(path, errno);
	if (!error.empty())
		unlink(tmp.c_str());
	return error;
}

std::string read_file(const std::string &path, std::vector<unsigned char> &data)
{
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno_text(path, errno);
	data.resize(file_max + 1);
	std::size_t got = 0;
	std::string error;
	while (got < data.size()) {
		ssize_t n = read(fd, data.data() + got, data.size() - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = errno_text(path, errno);
			break;
		}
		if (n == 0)
			break;
		got += static_cast<std::size_t>(n);
	}
	close(fd);
	data.resize(got);
	return error;
}

} // namespace

std::vector<unsigned char> encode_secret_file(const std::string &name, const std::vector<unsigned char> &blob)
{
	std::vector<unsigned char> out(std::begin(file_magic), std::end(file_magic));
	out.push_back(file_version);
	out.push_back(static_cast<unsigned char>(name.size()));
	out.push_back(0);
	out.push_back(0);
	out.insert(out.end(), name.begin(), name.end());
	out.insert(out.end(), blob.begin(), blob.end());
	return out;
}

std::string decode_secret_file(const std::vector<unsigned char> &data, std::string &name,
			       std::vector<unsigned char> &blob)
{
	if (data.size() < file_header || std::memcmp(data.data(), file_magic, sizeof(file_magic)))
		return "not a ramcrypt sealed-secret file";
	if (data[4] != file_version)
		return "sealed-secret file version " + std::to_string(data[4]) + ", this tool reads version " +
		       std::to_string(file_version);
	std::size_t n = data[5];
	if (data[6] || data[7] || n == 0 || n > name_max || data.size() < file_header + n)
		return "damaged sealed-secret file (header)";
	std::string file_name(reinterpret_cast<const char *>(data.data()) + file_header, n);
	if (!ramcrypt_name_valid(file_name.c_str()))
		return "damaged sealed-secret file (name)";
	std::size_t len = data.size() - file_header - n;
	// The module's blob: "RCSL", then whole 16-byte blocks after its 48-byte head.
	const unsigned char *b = data.data() + file_header + n;
	if (len < RAMCRYPT_SEAL_BLOB_LEN(1) || len > RAMCRYPT_SEAL_BLOB_MAX ||
	    (len - RAMCRYPT_SEAL_OVERHEAD) % 16 || std::memcmp(b, "RCSL", 4))
		return "damaged sealed-secret file (blob)";
	name = file_name;
	blob.assign(b, b + len);
	return {};
}

int cmd_secret_load(Env &env, const std::string &path, const std::string &keyring)
{
	std::vector<unsigned char> data, blob;
	std::string name;
	if (std::string error = read_file(path, data); !error.empty()) {
		env.err << "ramcrypt: " << error << '\n';
		return exit_failure;
	}
	if (std::string error = decode_secret_file(data, name, blob); !error.empty()) {
		env.err << "ramcrypt: " << path << ": " << error << '\n';
		return exit_failure;
	}
	if (int r = ramcrypt_blob_store(name.c_str(), keyring.c_str(), blob.data(), blob.size())) {
		report_secret(env, "secret " + name + ": keyring " + keyring, -r);
		return exit_failure;
	}
	env.out << name << ": loaded into keyring " << keyring << '\n';
	return 0;
}

int cmd_secret_seal(Env &env, const SecretSealOptions &opt)
{
	if (!name_ok(env, opt.name))
		return exit_failure;

	// Read the secret into protected memory, so our copy is encrypted in RAM too.
	auto dev = open_protected(env, "secret seal");
	if (!dev)
		return exit_failure;
	Secret secret;
	const std::string path = opt.from_file.empty() ? "-" : opt.from_file;
	std::string error;
	if (path == "-" && isatty(env.stdin_fd)) {
		// Typed: one line, not shown, without its newline.
		auto prompt = [&] {
			env.err << "Enter secret " << opt.name << ": " << std::flush;
			return std::string(env.err ? "" : "standard error: write error");
		};
		error = read_hidden_line(env.stdin_fd, "standard input", prompt, RAMCRYPT_SEAL_MAX, "secret", secret);
	} else {
		error = read_key_file(path, env.stdin_fd, secret);
	}
	if (!error.empty()) {
		env.err << "ramcrypt: " << error << '\n';
		return exit_failure;
	}
	if (secret.size() > RAMCRYPT_SEAL_MAX) {
		env.err << "ramcrypt: secret " << opt.name << ": " << secret.size()
			<< " bytes, at most " << RAMCRYPT_SEAL_MAX << " can be sealed\n";
		return exit_failure;
	}
	ramcrypt_status st = {};
	if (dev->status(st) == 0 && st.key_source == RAMCRYPT_KEY_RANDOM)
		env.err << "ramcrypt: warning: the module's key is random: secret " << opt.name
			<< " cannot be unsealed after a reboot or a module reload (seal it under a "
			   "passphrase key: ramcrypt key load)\n";

	std::vector<unsigned char> blob(RAMCRYPT_SEAL_BLOB_MAX);
	struct ramcrypt_seal s = {};
	s.secret = reinterpret_cast<std::uintptr_t>(secret.data());
	s.secret_len = secret.size();
	s.blob = reinterpret_cast<std::uintptr_t>(blob.data());
	s.blob_len = blob.size();
	int e = dev->seal(s);
	secret.clear();
	if (e) {
		report_secret(env, "secret seal", e);
		return exit_failure;
	}
	if (!opt.output.empty()) {
		blob.resize(s.blob_len);
		if (std::string error = write_file_atomically(opt.output, encode_secret_file(opt.name, blob));
		    !error.empty()) {
			env.err << "ramcrypt: " << error << '\n';
			return exit_failure;
		}
		return 0;
	}
	if (int r = ramcrypt_blob_store(opt.name.c_str(), opt.keyring.c_str(), blob.data(), s.blob_len)) {
		report_secret(env, "secret " + opt.name + ": keyring " + opt.keyring, -r);
		return exit_failure;
	}
	return 0;
}

int cmd_secret_unseal(Env &env, const std::string &name, const std::string &keyring)
{
	if (!name_ok(env, name))
		return exit_failure;
	std::vector<unsigned char> blob;
	if (load_blob(env, name, keyring, blob))
		return exit_failure;

	// The module unseals only into a protected process: become one first.
	auto dev = open_protected(env, "secret unseal");
	if (!dev)
		return exit_failure;
	Secret secret;
	if (unseal_blob(env, *dev, name, blob, secret))
		return exit_failure;
	env.out << name << ": " << secret.size()
		<< " bytes, unsealed into this process's protected memory and wiped\n";
	return 0;
}

std::string parse_secret_spec(const std::string &arg, SecretSpec &out)
{
	std::string name = arg, var;
	bool hex = false;

	if (auto eq = arg.find('='); eq != std::string::npos) {
		name = arg.substr(0, eq);
		var = arg.substr(eq + 1);
		if (var.ends_with(":hex")) {
			hex = true;
			var.resize(var.size() - 4);
		}
		if (var.empty() || var.find_first_of("=:") != std::string::npos)
			return "invalid --secret '" + arg + "': use NAME[=VAR[:hex]]";
	}
	if (!ramcrypt_name_valid(name.c_str()))
		return "invalid secret name '" + name + "': use 1 to 64 of the characters A-Z a-z 0-9 _ - .";
	if (var.empty()) {
		for (char c : name)
			var += (c == '-' || c == '.') ? '_' : (c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	}
	out = { name, var, hex };
	return {};
}

SecretEnv::~SecretEnv()
{
	for (auto &s : strings_) {
		std::string var(reinterpret_cast<const char *>(s->data()));
		var.resize(var.find('='));
		unsetenv(var.c_str());	// environ must not point at wiped memory
	}
	strings_.clear();		// each Secret wipes itself
}

bool SecretEnv::unseal(Env &env, Device &dev, const RunSecrets &secrets)
{
	static const char digits[] = "0123456789abcdef";

	for (const auto &spec : secrets.specs) {
		std::vector<unsigned char> blob;
		Secret value;
		if (load_blob(env, spec.name, secrets.keyring, blob) ||
		    unseal_blob(env, dev, spec.name, blob, value))
			return false;
		if (!spec.hex && std::memchr(value.data(), 0, value.size())) {
			env.err << "ramcrypt: secret " << spec.name
				<< " holds a NUL byte, which an environment variable cannot carry: use --secret "
				<< spec.name << "=" << spec.var << ":hex\n";
			return false;
		}
		auto s = std::make_unique<Secret>();
		s->reserve(spec.var.size() + 2 + (spec.hex ? 2 : 1) * value.size());
		s->append(spec.var.data(), spec.var.size());
		s->append("=", 1);
		for (std::size_t i = 0; i < value.size(); i++) {
			unsigned char c = value.data()[i];
			if (spec.hex) {
				char h[2] = { digits[c >> 4], digits[c & 15] };
				s->append(h, 2);
			} else {
				s->append(&c, 1);
			}
		}
		s->append("", 1);
		if (putenv(reinterpret_cast<char *>(s->data()))) {
			env.err << "ramcrypt: secret " << spec.name << ": " << std::strerror(errno) << '\n';
			return false;
		}
		strings_.push_back(std::move(s));
	}
	return true;
}

} // namespace ramcrypt
