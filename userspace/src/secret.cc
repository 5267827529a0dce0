// SPDX-License-Identifier: GPL-2.0
#include "secret.h"

#include "ramcrypt.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string.h>

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

} // namespace

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
	if (std::string error = read_key_file(path, env.stdin_fd, secret); !error.empty()) {
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
