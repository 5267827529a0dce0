// SPDX-License-Identifier: GPL-2.0
// ramcrypt(8): the command-line tool for the ramcrypt kernel module.
#include "cli.h"

#include <clocale>
#include <iostream>

int main(int argc, char **argv)
{
	// Character classes only, as util-linux: libsmartcols then shows valid UTF-8 in
	// process names as it is, not as \xHH; messages stay in English.
	std::setlocale(LC_CTYPE, "");
	ramcrypt::Env env{
		.open_device = ramcrypt::open_device,
		.out = std::cout,
		.err = std::cerr,
		.read_passphrase = ramcrypt::read_passphrase_tty,
	};
	int status = ramcrypt::cli_main(env, argc, argv);

	// Like util-linux close_stdout(): output that was lost must not look like success.
	if (!std::cout.flush()) {
		std::cerr << "ramcrypt: write error\n";
		return status ? status : ramcrypt::exit_failure;
	}
	return status;
}
