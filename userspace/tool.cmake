# The ramcrypt tool, its man page, bash completion and host tests.

find_package(CLI11 2.1 CONFIG REQUIRED)
find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)
# doctor reads /proc/config.gz.
find_package(ZLIB REQUIRED)
# ps: tables as util-linux prints them; JSON for every --json.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SMARTCOLS REQUIRED IMPORTED_TARGET smartcols)
find_package(nlohmann_json 3.9 CONFIG REQUIRED)

# The tool and the module share one version number, kept in kmod/ramcrypt.h.
file(STRINGS ${RAMCRYPT_TOP}/kmod/ramcrypt.h _rc_version REGEX "^#define RAMCRYPT_VERSION_")
foreach(_part MAJOR MINOR PATCH)
	if(NOT _rc_version MATCHES "RAMCRYPT_VERSION_${_part}[ \t]+([0-9]+)")
		message(FATAL_ERROR "RAMCRYPT_VERSION_${_part} not found in kmod/ramcrypt.h")
	endif()
	set(_rc_${_part} ${CMAKE_MATCH_1})
endforeach()
set(RAMCRYPT_TOOL_VERSION "${_rc_MAJOR}.${_rc_MINOR}.${_rc_PATCH}")
set(_rc_dir ${CMAKE_CURRENT_LIST_DIR})

# A static tool, for systems without its shared libraries (scripts/guest-run copies
# the shared ones into the test guest).
option(RAMCRYPT_STATIC_TOOL "Link the ramcrypt tool statically" OFF)

# Everything but main(), so the host tests drive the same code.
add_library(ramcrypt_tool STATIC
	${_rc_dir}/src/cli.cc
	${_rc_dir}/src/commands.cc
	${_rc_dir}/src/device.cc
	${_rc_dir}/src/doctor.cc
	${_rc_dir}/src/key.cc
	${_rc_dir}/src/output.cc
	${_rc_dir}/src/ps.cc)
target_include_directories(ramcrypt_tool PUBLIC ${_rc_dir}/src)
target_include_directories(ramcrypt_tool BEFORE PUBLIC ${RAMCRYPT_UAPI})
target_compile_definitions(ramcrypt_tool PRIVATE RAMCRYPT_TOOL_VERSION="${RAMCRYPT_TOOL_VERSION}"
	RAMCRYPT_PRELOAD_PATH="${CMAKE_INSTALL_FULL_LIBDIR}/ramcrypt/ramcrypt-preload.so")
if(RAMCRYPT_STATIC_TOOL)
	find_library(RAMCRYPT_LIBCRYPTO_STATIC libcrypto.a REQUIRED)
	find_library(RAMCRYPT_LIBZ_STATIC libz.a REQUIRED)
	# Debian ships no libsmartcols.a: a static tool needs util-linux built from source.
	find_library(RAMCRYPT_LIBSMARTCOLS_STATIC libsmartcols.a REQUIRED)
	target_include_directories(ramcrypt_tool PUBLIC ${SMARTCOLS_INCLUDE_DIRS})
	target_link_libraries(ramcrypt_tool PUBLIC CLI11::CLI11 nlohmann_json::nlohmann_json ${RAMCRYPT_LIBCRYPTO_STATIC}
		${RAMCRYPT_LIBZ_STATIC} ${RAMCRYPT_LIBSMARTCOLS_STATIC})
else()
	target_link_libraries(ramcrypt_tool PUBLIC CLI11::CLI11 nlohmann_json::nlohmann_json OpenSSL::Crypto ZLIB::ZLIB
		PkgConfig::SMARTCOLS)
endif()

add_executable(ramcrypt ${_rc_dir}/src/main.cc)
target_link_libraries(ramcrypt PRIVATE ramcrypt_tool)
if(RAMCRYPT_STATIC_TOOL)
	target_link_options(ramcrypt PRIVATE -static)
endif()

install(TARGETS ramcrypt RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES ${_rc_dir}/completion/ramcrypt.bash
	DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME ramcrypt)

find_program(SCDOC scdoc)
if(SCDOC)
	set(_rc_man ${PROJECT_BINARY_DIR}/ramcrypt.8)
	add_custom_command(OUTPUT ${_rc_man}
		COMMAND sh -c "${SCDOC} < ${RAMCRYPT_TOP}/docs/ramcrypt.8.scd > ${_rc_man}"
		DEPENDS ${RAMCRYPT_TOP}/docs/ramcrypt.8.scd
		COMMENT "Building ramcrypt.8"
		VERBATIM)
	add_custom_target(ramcrypt_man ALL DEPENDS ${_rc_man})
	install(FILES ${_rc_man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
else()
	message(STATUS "scdoc not found: the ramcrypt(8) man page is not built")
endif()

if(NOT BUILD_TESTING)
	return()
endif()
add_executable(ramcrypt_tool_test
	${_rc_dir}/tests/cli_test.cc
	${_rc_dir}/tests/key_test.cc
	${_rc_dir}/tests/output_test.cc
	${_rc_dir}/tests/binary_test.cc
	${_rc_dir}/tests/doctor_test.cc)
target_link_libraries(ramcrypt_tool_test PRIVATE ramcrypt_tool GTest::gtest_main)
target_compile_definitions(ramcrypt_tool_test PRIVATE
	RAMCRYPT_TEST_CONFIGS="${_rc_dir}/tests/configs"
	RAMCRYPT_TOOL_VERSION="${RAMCRYPT_TOOL_VERSION}"
	RAMCRYPT_TOOL_PATH="$<TARGET_FILE:ramcrypt>")
add_dependencies(ramcrypt_tool_test ramcrypt)
gtest_discover_tests(ramcrypt_tool_test)
