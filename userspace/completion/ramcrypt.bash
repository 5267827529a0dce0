# bash completion for ramcrypt(8)                          -*- shell-script -*-

_ramcrypt_pids()
{
	local pids=(/proc/[0-9]*)
	COMPREPLY=($(compgen -W "${pids[*]#/proc/}" -- "$cur"))
}

# Protected processes when the device is readable, else every process.
_ramcrypt_protected_pids()
{
	local pids
	pids=$(ramcrypt ps -n -o PID 2>/dev/null)
	if [[ -n $pids ]]; then
		COMPREPLY=($(compgen -W "$pids" -- "$cur"))
	else
		_ramcrypt_pids
	fi
}

_ramcrypt()
{
	local cur prev words cword
	_init_completion || return

	if ((cword == 1)); then
		COMPREPLY=($(compgen -W "run protect unprotect set ps status key secret
			selftest version doctor --help --version" -- "$cur"))
		return
	fi

	local i
	case ${words[1]} in
	run)
		# Options end at "--" or at the command; the rest is the command's.
		for ((i = 2; i < cword; i++)); do
			case ${words[i]} in
			--) _command_offset $((i + 1)); return ;;
			--window|--secret-window|--max-plain-age|--secret-age|--secret|--keyring) ((i++)) ;;
			-*) ;;
			*) _command_offset $i; return ;;
			esac
		done
		[[ $prev == --window || $prev == --secret-window || $prev == --max-plain-age || $prev == --secret-age ||
			$prev == --secret ]] && return
		[[ $prev == --keyring ]] && { COMPREPLY=($(compgen -W "@u @s @p" -- "$cur")); return; }
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--window --secret-window --max-plain-age --secret-age --secure-heap
				--secret --keyring -- --help" -- "$cur"))
		else
			_command_offset $cword
		fi
		;;
	protect)
		[[ $prev == --window || $prev == --secret-window || $prev == --max-plain-age || $prev == --secret-age ]] && return
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--window --secret-window --max-plain-age --secret-age --inherit-exec
				--help" -- "$cur"))
		else
			_ramcrypt_pids
		fi
		;;
	unprotect)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--all --help" -- "$cur"))
		else
			_ramcrypt_protected_pids
		fi
		;;
	secret)
		case $prev in
		--keyring) COMPREPLY=($(compgen -W "@u @s @p" -- "$cur")); return ;;
		--from-file | --output) _filedir; return ;;
		esac
		if ((cword == 2)); then
			COMPREPLY=($(compgen -W "seal unseal load --help" -- "$cur"))
		elif [[ $cur == -* && ${words[2]} == seal ]]; then
			COMPREPLY=($(compgen -W "--keyring --output --from-file --help" -- "$cur"))
		elif [[ $cur != -* && ${words[2]} == load ]]; then
			_filedir
		elif [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--keyring --help" -- "$cur"))
		fi
		;;
	set)
		case $cword in
		2) COMPREPLY=($(compgen -W "window --help" -- "$cur")) ;;
		3) [[ ${words[2]} == window ]] && _ramcrypt_protected_pids ;;
		esac
		;;
	ps)
		case $prev in
		-o | --output)
			# Column names from --help, after the ones LIST already has.
			local cols prefix=${cur%"${cur##*[+,]}"}
			cols=$(ramcrypt ps --help 2>/dev/null | sed -n 's/^  [* ]\([A-Z_]*\)  .*/\1/p')
			COMPREPLY=($(compgen -P "$prefix" -W "$cols" -- "${cur##*[+,]}"))
			compopt -o nospace
			return
			;;
		esac
		COMPREPLY=($(compgen -W "-o --output --output-all -n --noheadings -r --raw -J --json
			--help" -- "$cur"))
		;;
	status | version)
		COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		;;
	selftest)
		COMPREPLY=($(compgen -W "--help" -- "$cur"))
		;;
	doctor)
		[[ $prev == --config ]] && { _filedir; return; }
		COMPREPLY=($(compgen -W "--config --config-only --json --help" -- "$cur"))
		;;
	key)
		if ((cword == 2)); then
			COMPREPLY=($(compgen -W "status load --help" -- "$cur"))
			return
		fi
		case ${words[2]} in
		status)
			COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
			;;
		load)
			case $prev in
			--key-file | --salt-file) _filedir; return ;;
			--iterations) return ;;
			esac
			COMPREPLY=($(compgen -W "--passphrase --verify-passphrase --key-file
				--salt-file --iterations --help" -- "$cur"))
			;;
		esac
		;;
	esac
} &&
	complete -F _ramcrypt ramcrypt

# ex: filetype=sh
