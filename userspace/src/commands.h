// SPDX-License-Identifier: GPL-2.0
// The ramcrypt commands. Each takes its arguments already validated, talks to the
// module only through Env::open_device, prints to Env::out/err and returns the
// process exit status, so tests can drive every path with a fake device.
#pragma once

#include "device.h"
#include "key.h"
#include "ps.h"

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace ramcrypt {

// Exit statuses. run follows timeout(1)/nice(1); the others use 1 like util-linux.
inline constexpr int exit_failure = 1;
inline constexpr int exit_run_failed = 125;
inline constexpr int exit_cannot_invoke = 126;
inline constexpr int exit_not_found = 127;
// status and key status, for monitors: 1 stays "could not tell" (an error).
inline constexpr int exit_degraded = 2;
inline constexpr int exit_not_loaded = 3;

struct Env {
	std::function<std::unique_ptr<Device>(Access, int &error)> open_device;
	std::ostream &out;
	std::ostream &err;
	// Prompt and read one passphrase; "" on success, else the error text.
	std::function<std::string(const char *prompt, Secret &out)> read_passphrase;
	std::string procfs = "/proc";
	std::string sysfs = "/sys";
	std::string boot = "/boot";	// doctor: config-RELEASE of the running kernel
	int stdin_fd = STDIN_FILENO;
};

// The same text the kernel module reports as its version, for `ramcrypt version`.
extern const char tool_version[];

// What run and protect ask of the module (struct ramcrypt_protect); 0: its default.
struct ProtectOptions {
	std::uint64_t window = 0;		// ordinary window
	std::uint64_t secret_window = 0;	// secret tier, 0: RAMCRYPT_MIN_SECRET_WINDOW
	bool plain_age = false;			// max_plain_age_ms is the process's own
	std::uint64_t max_plain_age_ms = 0;	// with plain_age; 0: no idle expiry
	bool secret_age = false;		// secret_plain_age_ms is the process's own
	std::uint64_t secret_plain_age_ms = 0;	// with secret_age; 0: as max_plain_age_ms
	bool inherit_exec = false;		// protect only; run always inherits
	std::uint64_t secure_heap = 0;		// run only: OpenSSL secure heap bytes, 0: none
};

// run --secure-heap's default, and its parser: bytes with an optional K, M or G
// suffix, a power of two from 4 KiB to 1 GiB (what CRYPTO_secure_malloc_init takes).
inline constexpr const char *default_secure_heap = "256K";
bool parse_secure_heap(const std::string &arg, std::uint64_t &bytes);

struct RunSecrets;
// secrets: sealed secrets to unseal into the environment once protected (secret.h).
int cmd_run(Env &env, const ProtectOptions &opt, const std::vector<std::string> &command,
	    const RunSecrets *secrets = nullptr);
int cmd_protect(Env &env, const std::vector<pid_t> &pids, const ProtectOptions &opt);
int cmd_unprotect(Env &env, const std::vector<pid_t> &pids);
int cmd_unprotect_all(Env &env);
int cmd_set_window(Env &env, pid_t pid, std::uint64_t window);
int cmd_ps(Env &env, const PsOptions &opt);
int cmd_status(Env &env, bool json);
int cmd_key_status(Env &env, bool json);

struct KeyLoadOptions {
	bool passphrase = false;	// else key_file
	bool verify = false;		// ask for the passphrase twice
	std::string key_file;
	std::string salt_file;		// empty: kdf_default_salt
	unsigned int iterations = kdf_default_iterations;
};
int cmd_key_load(Env &env, const KeyLoadOptions &opt);

int cmd_selftest(Env &env);
int cmd_version(Env &env, bool json);

} // namespace ramcrypt
