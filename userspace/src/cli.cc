// SPDX-License-Identifier: GPL-2.0
#include "cli.h"

#include "doctor.h"
#include "secret.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <climits>
#include <map>
#include <memory>

namespace ramcrypt {
namespace {

bool parse_u64(const std::string &s, std::uint64_t &value)
{
	auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
	return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// pid 0 would mean "the caller" to the module: never what a user means here.
bool parse_pid(const std::string &s, pid_t &pid)
{
	std::uint64_t v;
	if (!parse_u64(s, v) || v == 0 || v > INT_MAX)
		return false;
	pid = static_cast<pid_t>(v);
	return true;
}

// "sub sub" path of the deepest subcommand given, empty if none.
std::string command_path(const CLI::App &app)
{
	std::string path;
	for (const CLI::App *a = &app; !a->get_subcommands().empty();) {
		a = a->get_subcommands().front();
		path += (path.empty() ? "" : " ") + a->get_name();
	}
	return path;
}

// CLI11 2.1 derives usage lines from the options and cannot say that PIDs are
// required or that run takes a command: every command states its own.
class UsageFormatter : public CLI::Formatter {
public:
	std::string make_usage(const CLI::App *app, std::string name) const override
	{
		auto it = usage_.find(app);
		return it == usage_.end() ? CLI::Formatter::make_usage(app, name) : "Usage: " + it->second + "\n";
	}
	void set(const CLI::App *app, std::string usage) { usage_[app] = std::move(usage); }

private:
	std::map<const CLI::App *, std::string> usage_;
};

class Cli {
public:
	explicit Cli(Env &env) : env_(env) {}
	int main(int argc, const char *const *argv);

private:
	int usage_error(const std::string &message);
	std::string parse_error_text(const CLI::ParseError &e) const;
	int unknown(const std::string &arg);
	void build();
	CLI::App *command(CLI::App *parent, const std::string &name, const std::string &description,
			  const std::string &usage);
	int dispatch();

	Env &env_;
	std::shared_ptr<UsageFormatter> usage_ = std::make_shared<UsageFormatter>();
	CLI::App app_{ "Keep the memory of processes encrypted in RAM, with the key in CPU debug "
		       "registers.",
		       "ramcrypt" };
	CLI::App *run_ = nullptr, *protect_ = nullptr, *unprotect_ = nullptr, *set_ = nullptr,
		 *set_window_ = nullptr, *ps_ = nullptr, *status_ = nullptr, *key_ = nullptr,
		 *key_status_ = nullptr, *key_load_ = nullptr, *selftest_ = nullptr, *version_ = nullptr,
		 *doctor_ = nullptr;
	CLI::App *secret_ = nullptr, *secret_seal_ = nullptr, *secret_unseal_ = nullptr, *secret_load_ = nullptr;
	std::string secret_file_;
	CLI::Option *window_opt_ = nullptr, *protect_window_opt_ = nullptr, *iterations_opt_ = nullptr;
	// run's and protect's: the same values, either command's options.
	std::vector<CLI::Option *> secret_window_opts_, age_opts_, secret_age_opts_;
	bool show_version_ = false;
	bool unprotect_all_ = false;

	std::string window_, secret_window_, max_age_, secret_age_;
	std::vector<std::string> pids_;
	bool inherit_exec_ = false;
	std::string set_pid_, set_window_value_;
	bool json_ = false;
	std::vector<std::string> ps_output_;
	bool ps_output_all_ = false;
	PsOptions ps_opts_;
	KeyLoadOptions key_opts_;
	std::string iterations_;
	std::vector<std::string> run_secrets_;
	std::string secure_heap_;	// run --secure-heap[=SIZE]: "" when not given
	RunSecrets secrets_;
	SecretSealOptions seal_opts_;
	std::string unseal_name_;
	std::string doctor_config_;
	bool doctor_config_only_ = false;
};

CLI::App *Cli::command(CLI::App *parent, const std::string &name, const std::string &description,
		       const std::string &usage)
{
	CLI::App *app = parent->add_subcommand(name, description);
	usage_->set(app, "ramcrypt " + usage);
	return app;
}

void Cli::build()
{
	app_.formatter(usage_);
	usage_->set(&app_, "ramcrypt COMMAND [ARGS...]");
	app_.require_subcommand(0, 1);

	const std::string window_help = "Window in pages, at least " + std::to_string(RAMCRYPT_MIN_WINDOW) +
					" (default: the sysctl default)";
	const std::string secret_window_help =
		"Window of the secret regions in pages, at least " + std::to_string(RAMCRYPT_MIN_SECRET_WINDOW) +
		" (default " + std::to_string(RAMCRYPT_MIN_SECRET_WINDOW) + ")";
	const std::string age_help = "Re-encrypt a plaintext page idle this long, 0 never "
				     "(default: the sysctl max_plain_age_ms)";
	const std::string secret_age_help = "Re-encrypt a secret-region page this long after it was decrypted,"
					    " 0 as --max-plain-age (default: the sysctl secret_plain_age_ms)";
	auto tier_options = [&](CLI::App *app) {
		secret_window_opts_.push_back(
			app->add_option("--secret-window", secret_window_, secret_window_help)->type_name("N"));
		age_opts_.push_back(app->add_option("--max-plain-age", max_age_, age_help)->type_name("MS"));
		secret_age_opts_.push_back(
			app->add_option("--secret-age", secret_age_, secret_age_help)->type_name("MS"));
	};

	run_ = command(&app_, "run", "Run COMMAND protected from its first instruction",
		       "run [--window N] [--secret-window N] [--max-plain-age MS] [--secret-age MS] [--secure-heap[=SIZE]] "
		       "[--secret NAME[=VAR[:hex]]]... [--keyring K] [--] COMMAND [ARGS...]");
	window_opt_ = run_->add_option("--window", window_, window_help)
			      ->type_name("N");
	tier_options(run_);
	// One NAME per --secret: a vector option would take COMMAND as a second NAME.
	run_->add_option("--secret", run_secrets_,
			 "Unseal secret NAME into environment variable VAR (default: NAME in upper case)")
		->type_name("NAME[=VAR[:hex]]")
		->allow_extra_args(false);
	// A flag with an optional value: it never takes the next word (the COMMAND).
	run_->add_flag("--secure-heap", secure_heap_,
		       "Start OpenSSL's secure heap of SIZE bytes (K, M suffixes; a power of two;"
		       " default " + std::string(default_secure_heap) + ") in COMMAND and put it in the"
		       " secret tier (dynamically linked OpenSSL 3 programs)")
		->option_text("[=SIZE]");
	run_->add_option("--keyring", secrets_.keyring, "Keyring of the --secret blobs: @u (default), @s, @p, @p:UID")
		->type_name("K");
	run_->prefix_command(); // COMMAND and everything after it are the command's
	run_->footer("Exit status: COMMAND's; 125 if ramcrypt fails, 126 if COMMAND cannot be\n"
		     "executed, 127 if it is not found.");

	protect_ = command(&app_, "protect", "Protect running processes",
			   "protect [--window N] [--secret-window N] [--max-plain-age MS] [--secret-age MS] [--inherit-exec] PID...");
	protect_->add_option("PID", pids_, "Processes to protect")->type_name("");
	protect_window_opt_ = protect_->add_option("--window", window_,
						   window_help)
				      ->type_name("N");
	tier_options(protect_);
	protect_->add_flag("--inherit-exec", inherit_exec_, "Keep protection when the process calls execve");

	unprotect_ = command(&app_, "unprotect", "Decrypt processes and stop protecting them",
			     "unprotect PID... | unprotect --all");
	unprotect_->add_option("PID", pids_, "Processes to unprotect")->type_name("");
	unprotect_->add_flag("--all", unprotect_all_,
			     "Every protected process (needed before a new key can be loaded)");

	set_ = command(&app_, "set", "Change a protected process", "set window PID N");
	set_->require_subcommand(1);
	set_window_ = command(set_, "window", "Set the window of process PID to N pages", "set window PID N");
	set_window_->add_option("PID", set_pid_, "Protected process")->type_name("");
	set_window_->add_option("N", set_window_value_, "Window in pages")->type_name("");

	ps_ = command(&app_, "ps", "List protected processes",
		      "ps [-o [+]LIST | --output-all] [-n] [-r | -J]");
	// One LIST per -o, which may be repeated; a vector option would take more words.
	auto *output = ps_->add_option("-o,--output", ps_output_,
				       "Columns to show, comma-separated; +LIST: the defaults and LIST")
			       ->type_name("LIST")
			       ->allow_extra_args(false);
	ps_->add_flag("--output-all", ps_output_all_, "Show every column")->excludes(output);
	ps_->add_flag("-n,--noheadings", ps_opts_.noheadings, "No header line");
	auto *raw = ps_->add_flag("-r,--raw", ps_opts_.raw, "Raw output: not aligned, spaces in values as \\x20");
	ps_->add_flag("-J,--json", ps_opts_.json, "One JSON object {\"processes\":[...]}, with the same columns")
		->excludes(raw);
	ps_->footer(ps_columns_help());

	status_ = command(&app_, "status", "Show module, key and protection state; fails unless healthy",
			  "status [--json]");
	status_->add_flag("--json", json_, "One JSON object");
	status_->footer("Exit status: 0 healthy, 1 error, 2 degraded, 3 module not loaded.");

	key_ = command(&app_, "key", "Show or load the key", "key status|load ...");
	key_->require_subcommand(1);
	key_status_ = command(key_, "status", "Show the key source and health; fails unless healthy",
			      "key status [--json]");
	key_status_->add_flag("--json", json_, "One JSON object");
	key_status_->footer("Exit status: 0 healthy, 1 error, 2 degraded.");
	key_load_ = command(key_, "load", "Load a key derived from a passphrase (PBKDF2-HMAC-SHA256)",
			    "key load (--passphrase [-y] | --key-file FILE) [--salt-file FILE] [--iterations N]");
	auto *pass = key_load_->add_flag("--passphrase", key_opts_.passphrase,
					 "Ask for the passphrase on the terminal");
	auto *file = key_load_->add_option("--key-file", key_opts_.key_file,
					   "Use the whole of FILE as the passphrase; - is standard input")
			     ->type_name("FILE");
	pass->excludes(file);
	key_load_->add_flag("-y,--verify-passphrase", key_opts_.verify, "Ask for the passphrase twice")
		->needs(pass);
	key_load_->add_option("--salt-file", key_opts_.salt_file,
			      "Salt: the whole of FILE, " + std::to_string(kdf_salt_min) + " to " +
				      std::to_string(kdf_salt_max) + " bytes (default: a fixed string)")
		->type_name("FILE");
	iterations_opt_ = key_load_->add_option("--iterations", iterations_,
						"PBKDF2 iterations (default " +
							std::to_string(kdf_default_iterations) + ")")
				  ->type_name("N");
	key_load_->footer("The same passphrase, salt and iterations give the same key after a reboot.");

	secret_ = command(&app_, "secret", "Seal secrets under the module's key (docs/SEALING.md)",
			  "secret seal|unseal|load ...");
	secret_->require_subcommand(1);
	secret_seal_ = command(secret_, "seal", "Seal a secret from standard input or FILE into a keyring or a file",
			       "secret seal NAME [--keyring K | --output FILE] [--from-file FILE]");
	secret_seal_->add_option("NAME", seal_opts_.name, "Name of the secret")->type_name("");
	auto *seal_keyring = secret_seal_->add_option("--keyring", seal_opts_.keyring,
						      "@u (default), @s, @p, @p:UID or a key id")
				     ->type_name("K");
	secret_seal_->add_option("--output", seal_opts_.output,
				 "Write a sealed-secret file instead (kept across reboots; 'secret load' it)")
		->type_name("FILE")
		->excludes(seal_keyring);
	secret_seal_->add_option("--from-file", seal_opts_.from_file, "Read the secret from FILE (- is standard input)")
		->type_name("FILE");
	secret_unseal_ = command(secret_, "unseal", "Check that NAME unseals, in protected memory; never prints it",
				 "secret unseal NAME [--keyring K]");
	secret_unseal_->add_option("NAME", unseal_name_, "Name of the secret")->type_name("");
	secret_unseal_->add_option("--keyring", seal_opts_.keyring, "@u (default), @s, @p, @p:UID or a key id")
		->type_name("K");
	secret_load_ = command(secret_, "load", "Put a sealed-secret file into a keyring, under the name it was sealed with",
			       "secret load FILE [--keyring K]");
	secret_load_->add_option("FILE", secret_file_, "File written by 'secret seal --output'")->type_name("");
	secret_load_->add_option("--keyring", seal_opts_.keyring, "@u (default), @s, @p, @p:UID or a key id")
		->type_name("K");
	secret_->footer("Programs get a secret with 'ramcrypt run --secret NAME -- PROGRAM' or libramcrypt.");

	selftest_ = command(&app_, "selftest", "Ask the module to run its known-answer tests", "selftest");

	version_ = command(&app_, "version", "Show the versions of this tool and of the module",
			   "version [--json]");
	version_->add_flag("--json", json_, "One JSON object");

	doctor_ = command(&app_, "doctor", "Check whether ramcrypt can run on this host, and how well it protects",
			  "doctor [--config FILE] [--config-only] [--json]");
	doctor_->add_option("--config", doctor_config_,
			    "Kernel config to judge, plain or gzip (default: /proc/config.gz, else "
			    "/boot/config-RELEASE)")
		->type_name("FILE");
	doctor_->add_flag("--config-only", doctor_config_only_,
			  "Judge the kernel config alone, not the state of this host");
	doctor_->add_flag("--json", json_, "One JSON object");
	doctor_->footer("Exit status: 0 all good, 1 ramcrypt cannot run here, 2 it runs with weaker protection.");

	app_.add_flag("-V,--version", show_version_, "Show the version of this tool and exit");

	// Set last: subcommands copy these when they are created, and must not have them.
	app_.footer("Run 'ramcrypt COMMAND --help' for the options of a command; see ramcrypt(8).");
	app_.allow_extras();
}

int Cli::usage_error(const std::string &message)
{
	std::string path = command_path(app_);

	env_.err << "ramcrypt: " << message << "\nTry 'ramcrypt " << (path.empty() ? "" : path + " ")
		 << "--help' for more information.\n";
	return run_->parsed() ? exit_run_failed : exit_failure;
}

// The error text for a bad window, or "".
std::string window_error(const std::string &arg, std::uint64_t &window)
{
	if (parse_u64(arg, window) && window >= RAMCRYPT_MIN_WINDOW)
		return {};
	return "invalid window '" + arg + "': must be a number of pages, at least " +
	       std::to_string(RAMCRYPT_MIN_WINDOW);
}

std::string secret_window_error(const std::string &arg, std::uint64_t &window)
{
	if (parse_u64(arg, window) && window >= RAMCRYPT_MIN_SECRET_WINDOW)
		return {};
	return "invalid secret window '" + arg + "': must be a number of pages, at least " +
	       std::to_string(RAMCRYPT_MIN_SECRET_WINDOW);
}

std::string age_error(const std::string &arg, std::uint64_t &ms)
{
	if (parse_u64(arg, ms) && ms <= RAMCRYPT_PLAIN_AGE_MAX_MS)
		return {};
	return "invalid max plain age '" + arg + "': must be milliseconds, 0 (never) to " +
	       std::to_string(RAMCRYPT_PLAIN_AGE_MAX_MS);
}

std::string secret_age_error(const std::string &arg, std::uint64_t &ms)
{
	if (parse_u64(arg, ms) && ms <= RAMCRYPT_PLAIN_AGE_MAX_MS)
		return {};
	return "invalid secret age '" + arg + "': must be milliseconds, 0 (as --max-plain-age) to " +
	       std::to_string(RAMCRYPT_PLAIN_AGE_MAX_MS);
}

bool given(const std::vector<CLI::Option *> &opts)
{
	return std::any_of(opts.begin(), opts.end(), [](const CLI::Option *o) { return o->count() > 0; });
}

// The error text for missing or bad PIDs, or "".
std::string pids_error(const std::vector<std::string> &args, std::vector<pid_t> &pids)
{
	if (args.empty())
		return "missing PID";
	for (const auto &arg : args) {
		pid_t pid;
		if (!parse_pid(arg, pid))
			return "invalid PID '" + arg + "'";
		pids.push_back(pid);
	}
	return {};
}

int Cli::dispatch()
{
	std::uint64_t window = 0; // 0: the module's default
	ProtectOptions popt;
	std::vector<pid_t> pids;
	std::string error;

	if (show_version_) {
		env_.out << "ramcrypt " << tool_version << '\n';
		return 0;
	}
	if (window_opt_->count() || protect_window_opt_->count())
		error = window_error(window_, window);
	if (error.empty() && given(secret_window_opts_))
		error = secret_window_error(secret_window_, popt.secret_window);
	if (error.empty() && given(age_opts_)) {
		error = age_error(max_age_, popt.max_plain_age_ms);
		popt.plain_age = true;
	}
	if (error.empty() && given(secret_age_opts_)) {
		error = secret_age_error(secret_age_, popt.secret_plain_age_ms);
		popt.secret_age = true;
	}
	if (!error.empty())
		return usage_error(error);
	popt.window = window;
	popt.inherit_exec = inherit_exec_;

	// Arguments no command took. After "run --", CLI11 leaves the command here.
	std::vector<std::string> extras = app_.remaining();
	std::vector<std::string> command = run_->remaining();
	if (run_->parsed() && command.empty())
		command.swap(extras);
	if (!extras.empty())
		return unknown(extras.front());

	if (run_->parsed()) {
		if (command.empty())
			return usage_error("missing command");
		if (command.front().starts_with("-") && !run_->remaining().empty())
			return usage_error("unrecognized option '" + command.front() + "'");
		for (const auto &arg : run_secrets_) {
			SecretSpec spec;
			if (error = parse_secret_spec(arg, spec); !error.empty())
				return usage_error(error);
			secrets_.specs.push_back(spec);
		}
		if (secure_heap_ == "true") // the bare flag
			secure_heap_ = default_secure_heap;
		if (!secure_heap_.empty() && !parse_secure_heap(secure_heap_, popt.secure_heap))
			return usage_error("--secure-heap: '" + secure_heap_ +
					   "' is not a power of two of 4K to 1G bytes (e.g. 64K, 1M)");
		return cmd_run(env_, popt, command, &secrets_);
	}
	if (unprotect_->parsed() && unprotect_all_) {
		if (!pids_.empty())
			return usage_error("--all takes no PID");
		return cmd_unprotect_all(env_);
	}
	if (protect_->parsed() || unprotect_->parsed()) {
		if (error = pids_error(pids_, pids); !error.empty())
			return usage_error(error);
		return protect_->parsed() ? cmd_protect(env_, pids, popt)
					  : cmd_unprotect(env_, pids);
	}
	if (set_window_->parsed()) {
		if (set_pid_.empty() || set_window_value_.empty())
			return usage_error(set_pid_.empty() ? "missing PID" : "missing window");
		error = pids_error({ set_pid_ }, pids);
		if (error.empty())
			error = window_error(set_window_value_, window);
		if (!error.empty())
			return usage_error(error);
		return cmd_set_window(env_, pids.front(), window);
	}
	if (ps_->parsed()) {
		if (error = ps_columns(ps_output_, ps_output_all_, ps_opts_.columns); !error.empty())
			return usage_error(error);
		return cmd_ps(env_, ps_opts_);
	}
	if (status_->parsed())
		return cmd_status(env_, json_);
	if (key_status_->parsed())
		return cmd_key_status(env_, json_);
	if (key_load_->parsed()) {
		if (!key_opts_.passphrase && key_opts_.key_file.empty())
			return usage_error("give --passphrase or --key-file FILE");
		if (iterations_opt_->count()) {
			std::uint64_t n;
			if (!parse_u64(iterations_, n) || n < kdf_min_iterations || n > INT_MAX)
				return usage_error("invalid iteration count '" + iterations_ + "': must be a number from " +
						   std::to_string(kdf_min_iterations) + " to " + std::to_string(INT_MAX));
			key_opts_.iterations = static_cast<unsigned int>(n);
		}
		return cmd_key_load(env_, key_opts_);
	}
	if (secret_seal_->parsed() || secret_unseal_->parsed()) {
		const std::string &name = secret_seal_->parsed() ? seal_opts_.name : unseal_name_;
		if (name.empty())
			return usage_error("missing secret name");
		return secret_seal_->parsed() ? cmd_secret_seal(env_, seal_opts_)
					      : cmd_secret_unseal(env_, name, seal_opts_.keyring);
	}
	if (secret_load_->parsed()) {
		if (secret_file_.empty())
			return usage_error("missing FILE");
		return cmd_secret_load(env_, secret_file_, seal_opts_.keyring);
	}
	if (selftest_->parsed())
		return cmd_selftest(env_);
	if (version_->parsed())
		return cmd_version(env_, json_);
	if (doctor_->parsed())
		return cmd_doctor(env_, doctor_config_, doctor_config_only_, json_);

	env_.err << "ramcrypt: missing command\n" << app_.help();
	return exit_failure;
}

int Cli::unknown(const std::string &arg)
{
	if (arg.starts_with("-"))
		env_.err << "ramcrypt: unrecognized option '" << arg << "'\n";
	else
		env_.err << "ramcrypt: unknown command '" << arg << "'\n";
	env_.err << "Try 'ramcrypt --help' for more information.\n";
	return exit_failure;
}

// The parser's message in the words of the rest of the tool: CLI11's own texts
// ("--window: 1 required N missing", "Could not convert: --json = x") are not for users.
std::string Cli::parse_error_text(const CLI::ParseError &e) const
{
	std::string what = e.what();
	auto before = [&](const std::string &sep) { return what.substr(0, what.find(sep)); };
	auto after = [&](const std::string &sep) {
		auto at = what.find(sep);
		return at == std::string::npos ? std::string() : what.substr(at + sep.size());
	};

	if (dynamic_cast<const CLI::ArgumentMismatch *>(&e) && what.find(" required ") != std::string::npos)
		return "option '" + before(":") + "' needs a value";
	if (dynamic_cast<const CLI::ConversionError *>(&e) && what.starts_with("Could not convert: "))
		return "option '" + before(" = ").substr(19) + "' takes no value";
	if (dynamic_cast<const CLI::ExtrasError *>(&e)) {
		std::string arg = after(" expected: ");
		arg = arg.substr(0, arg.find(' '));
		return (arg.starts_with("-") ? "unrecognized option '" : "unexpected argument '") + arg + "'";
	}
	if (dynamic_cast<const CLI::ExcludesError *>(&e))
		return before(" excludes ") + " and " + after(" excludes ") + " cannot be used together";
	if (dynamic_cast<const CLI::RequiresError *>(&e))
		return before(" requires ") + " needs " + after(" requires ");
	if (dynamic_cast<const CLI::RequiredError *>(&e) && what.find("subcommand") != std::string::npos) {
		const CLI::App *a = &app_;
		while (!a->get_subcommands().empty())
			a = a->get_subcommands().front();
		auto rest = a->remaining();
		return rest.empty() ? "missing command" : "unknown command '" + rest.front() + "'";
	}
	return what;
}

int Cli::main(int argc, const char *const *argv)
{
	build();
	try {
		app_.parse(argc, argv);
	} catch (const CLI::CallForHelp &) {
		env_.out << app_.help();
		return 0;
	} catch (const CLI::CallForAllHelp &) {
		env_.out << app_.help("", CLI::AppFormatMode::All);
		return 0;
	} catch (const CLI::ParseError &e) {
		return usage_error(parse_error_text(e));
	}
	return dispatch();
}

} // namespace

int cli_main(Env &env, int argc, const char *const *argv)
{
	return Cli(env).main(argc, argv);
}

} // namespace ramcrypt
