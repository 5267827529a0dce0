// SPDX-License-Identifier: GPL-2.0
// The command line: parse and check the arguments, then run one command.
#pragma once

#include "commands.h"

namespace ramcrypt {

// Returns the exit status: 0, 1 (usage and command errors), or 125/126/127 and
// the command's own status for `run`, which does not return when it succeeds.
int cli_main(Env &env, int argc, const char *const *argv);

} // namespace ramcrypt
