# Files for running ramcrypt on a server (README "On your own server"): the key unit,
# its helper and settings, the udev rule, and examples for modprobe.d, modules-load.d
# and a systemd drop-in that runs an existing service protected. Included by
# userspace/CMakeLists.txt.
#
# systemd and udev look in /lib (Debian) or /usr/lib, and systemd also in
# /usr/local/lib; udev never in /usr/local: set RAMCRYPT_UDEV_RULESDIR for such a prefix.
set(RAMCRYPT_SYSTEMD_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
	CACHE PATH "Where systemd units are installed")
set(RAMCRYPT_UDEV_RULESDIR "${CMAKE_INSTALL_PREFIX}/lib/udev/rules.d"
	CACHE PATH "Where udev rules are installed")

set(_rc_deploy ${CMAKE_CURRENT_LIST_DIR})
set(RAMCRYPT_SBIN ${CMAKE_INSTALL_FULL_SBINDIR}/ramcrypt)
set(RAMCRYPT_KEY_HELPER ${CMAKE_INSTALL_FULL_LIBEXECDIR}/ramcrypt/ramcrypt-key)
set(RAMCRYPT_DEFAULTS ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default/ramcrypt)
foreach(_f ramcrypt-key.service ramcrypt-key examples/ramcrypt-protect.conf)
	configure_file(${_rc_deploy}/${_f}.in ${PROJECT_BINARY_DIR}/deploy/${_f} @ONLY)
endforeach()

install(FILES ${PROJECT_BINARY_DIR}/deploy/ramcrypt-key.service DESTINATION ${RAMCRYPT_SYSTEMD_UNITDIR})
install(PROGRAMS ${PROJECT_BINARY_DIR}/deploy/ramcrypt-key DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/ramcrypt)
install(FILES ${_rc_deploy}/ramcrypt.default DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default
	RENAME ramcrypt)
install(FILES ${_rc_deploy}/60-ramcrypt.rules DESTINATION ${RAMCRYPT_UDEV_RULESDIR})
install(FILES
	${PROJECT_BINARY_DIR}/deploy/examples/ramcrypt-protect.conf
	${_rc_deploy}/examples/modprobe.d-ramcrypt.conf
	${_rc_deploy}/examples/modules-load.d-ramcrypt.conf
	${_rc_deploy}/examples/README
	DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
