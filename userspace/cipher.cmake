# Register-only AES-XTS cipher built for the host: tests and bench-crypto.
# The same kmod/cipher-asm.S as the module, with the key passed in memory
# (RC_USERSPACE) instead of read from the debug registers.

find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)

add_library(ramcrypt_cipher STATIC ${RAMCRYPT_TOP}/kmod/cipher-asm.S)
target_compile_definitions(ramcrypt_cipher PRIVATE RC_USERSPACE)

if(BUILD_TESTING)
	add_executable(cipher_test tests/cipher_test.cc)
	# kmod/ for xts-vectors.h, the known-answer table the module's load-time test uses too.
	target_include_directories(cipher_test PRIVATE ${RAMCRYPT_TOP}/kmod)
	target_link_libraries(cipher_test PRIVATE ramcrypt_cipher OpenSSL::Crypto GTest::gtest_main)
	gtest_discover_tests(cipher_test)
endif()

if(RAMCRYPT_WORKLOADS)
	add_executable(bench_crypto bench/bench_crypto.cc)
	target_link_libraries(bench_crypto PRIVATE ramcrypt_cipher OpenSSL::Crypto)
endif()
