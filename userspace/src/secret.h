// SPDX-License-Identifier: GPL-2.0
// `ramcrypt secret seal|unseal` and the sealed secrets `ramcrypt run --secret` hands
// to the command it runs (docs/SEALING.md). Blobs live in kernel keyrings as "user"
// keys "ramcrypt:NAME" (libramcrypt); the module is reached through Env::open_device.
#pragma once

#include "commands.h"
#include "key.h"

#include <memory>
#include <string>
#include <vector>

namespace ramcrypt {

inline constexpr const char *default_keyring = "@u";

struct SecretSealOptions {
	std::string name;
	std::string keyring = default_keyring;
	std::string from_file;	// empty or "-": standard input
	std::string output;	// non-empty: write a sealed-secret file, not the keyring
};
int cmd_secret_seal(Env &env, const SecretSealOptions &opt);
// Put the blob of a sealed-secret file into keyring as NAME (the file's); no module needed.
int cmd_secret_load(Env &env, const std::string &path, const std::string &keyring);

// Sealed-secret files (docs/SEALING.md, "Files"), version 1:
//   0 "RCSF" | 4 version 1 | 5 name length n (1..64) | 6 two zero bytes
//   8 NAME (n bytes) | 8+n the module's blob, as RAMCRYPT_IOC_SEAL gave it
// The blob authenticates itself at unseal; the name is not bound to it.
std::vector<unsigned char> encode_secret_file(const std::string &name, const std::vector<unsigned char> &blob);
// "" or the reason the data is not a valid version 1 file.
std::string decode_secret_file(const std::vector<unsigned char> &data, std::string &name,
			       std::vector<unsigned char> &blob);
// Unseal NAME into this process's protected memory and say so; never prints it.
int cmd_secret_unseal(Env &env, const std::string &name, const std::string &keyring);

// run --secret NAME[=VAR[:hex]]: the secret NAME in the environment variable VAR
// (default: NAME in upper case, '-' and '.' as '_'), raw or as hex.
struct SecretSpec {
	std::string name;
	std::string var;
	bool hex = false;
};
// "" or the error text.
std::string parse_secret_spec(const std::string &arg, SecretSpec &out);

struct RunSecrets {
	std::vector<SecretSpec> specs;
	std::string keyring = default_keyring;
};

// The environment strings "VAR=secret" of run --secret, in protected memory: the
// caller is protected before unseal() is called. putenv(3) points environ at them,
// so execvp() copies them straight into the new program's stack; if the exec fails
// they are removed from environ and wiped.
class SecretEnv {
public:
	SecretEnv() = default;
	~SecretEnv();
	SecretEnv(const SecretEnv &) = delete;
	SecretEnv &operator=(const SecretEnv &) = delete;

	// False after printing the error.
	bool unseal(Env &env, Device &dev, const RunSecrets &secrets);

private:
	std::vector<std::unique_ptr<Secret>> strings_;
};

} // namespace ramcrypt
