// Host tests of the register-only AES-128-XTS (kmod/cipher-asm.S, RC_USERSPACE build):
// known answers, differential against OpenSSL, and no key material left behind.

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "xts-vectors.h"

extern "C" {
void rc_xts_crypt(uint8_t *dst, const uint8_t *src, unsigned long nbytes, const uint8_t iv[16],
		  int decrypt, const uint8_t key[32]);
void rc_xts_crypt_vaes(uint8_t *dst, const uint8_t *src, unsigned long nbytes,
		       const uint8_t iv[16], int decrypt, const uint8_t key[32]);
void rc_xts_kcv(uint8_t out[16], const uint8_t key[32]);
void rc_zero_page_avx2(void *page);
}

namespace {

using Bytes = std::vector<uint8_t>;
using CryptFn = decltype(&rc_xts_crypt);
constexpr size_t kPage = 4096;

struct Path {
	const char *name;
	CryptFn fn;
	bool wide;  // uses YMM registers
	bool supported() const
	{
		__builtin_cpu_init();
		if (!wide)
			return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vaes") &&
		       __builtin_cpu_supports("vpclmulqdq");
	}
};
void PrintTo(const Path &p, std::ostream *os)
{
	*os << p.name;
}
const Path kPaths[] = {
	{"aesni", rc_xts_crypt, false},
	{"vaes", rc_xts_crypt_vaes, true},
};

// OpenSSL's XTS; it refuses keys whose halves are equal (returns false then).
bool openssl_xts(const uint8_t key[32], const uint8_t iv[16], int enc, const uint8_t *in,
		 uint8_t *out, size_t len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, m = 0;
	bool ok = ctx && EVP_CipherInit_ex(ctx, EVP_aes_128_xts(), nullptr, key, iv, enc) &&
		  EVP_CipherUpdate(ctx, out, &n, in, static_cast<int>(len)) &&
		  EVP_CipherFinal_ex(ctx, out + n, &m) && static_cast<size_t>(n + m) == len;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

void openssl_ecb_block(const uint8_t key[16], int enc, const uint8_t in[16], uint8_t out[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;
	ASSERT_TRUE(ctx && EVP_CipherInit_ex(ctx, EVP_aes_128_ecb(), nullptr, key, nullptr, enc));
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	ASSERT_TRUE(EVP_CipherUpdate(ctx, out, &n, in, 16));
	EVP_CIPHER_CTX_free(ctx);
}

void mul_alpha(uint8_t t[16])
{
	uint8_t carry = t[15] >> 7;
	for (int i = 15; i > 0; i--)
		t[i] = static_cast<uint8_t>(t[i] << 1 | t[i - 1] >> 7);
	t[0] = static_cast<uint8_t>(t[0] << 1 ^ (carry ? 0x87 : 0));
}

// The XTS tweaks T0..T(n-1) of a data unit, from OpenSSL's AES.
std::vector<std::array<uint8_t, 16>> tweaks(const uint8_t key[32], const uint8_t iv[16], size_t n)
{
	std::vector<std::array<uint8_t, 16>> t(n);
	openssl_ecb_block(key + 16, 1, iv, t[0].data());
	for (size_t j = 1; j < n; j++) {
		t[j] = t[j - 1];
		mul_alpha(t[j].data());
	}
	return t;
}

// XTS built from OpenSSL's AES-128-ECB: the reference where OpenSSL's XTS refuses.
Bytes ecb_xts(const uint8_t key[32], const uint8_t iv[16], int enc, const uint8_t *in, size_t len)
{
	Bytes out(len);
	auto t = tweaks(key, iv, len / 16);
	for (size_t b = 0; b < len / 16; b++) {
		uint8_t x[16];
		for (int i = 0; i < 16; i++)
			x[i] = in[16 * b + i] ^ t[b][i];
		openssl_ecb_block(key, enc, x, &out[16 * b]);
		for (int i = 0; i < 16; i++)
			out[16 * b + i] ^= t[b][i];
	}
	return out;
}

// Portable AES-128 key schedule (FIPS-197 5.2), independent of AES-NI, plus the
// InvMixColumns'd middle keys the decryption path holds.
uint8_t gmul(uint8_t a, uint8_t b)
{
	uint8_t p = 0;
	for (; b; b >>= 1, a = static_cast<uint8_t>(a << 1 ^ (a & 0x80 ? 0x1b : 0)))
		if (b & 1)
			p ^= a;
	return p;
}

uint8_t sbox(uint8_t x)
{
	uint8_t inv = 0;
	for (int c = 1; c < 256 && x; c++)
		if (gmul(x, static_cast<uint8_t>(c)) == 1)
			inv = static_cast<uint8_t>(c);
	uint8_t s = inv;
	for (int r = 1; r <= 4; r++)
		s ^= static_cast<uint8_t>(inv << r | inv >> (8 - r));
	return s ^ 0x63;
}

std::vector<std::array<uint8_t, 16>> round_keys(const uint8_t key[16])
{
	std::vector<std::array<uint8_t, 16>> rk(11);
	std::memcpy(rk[0].data(), key, 16);
	uint8_t rcon = 1;
	for (int r = 1; r <= 10; r++) {
		const auto &p = rk[r - 1];
		uint8_t t[4] = {sbox(p[13]), sbox(p[14]), sbox(p[15]), sbox(p[12])};
		t[0] ^= rcon;
		rcon = gmul(rcon, 2);
		for (int i = 0; i < 16; i++)
			rk[r][i] = p[i] ^ (i < 4 ? t[i] : rk[r][i - 4]);
	}
	return rk;
}

std::array<uint8_t, 16> inv_mix_columns(const std::array<uint8_t, 16> &k)
{
	std::array<uint8_t, 16> o{};
	for (int c = 0; c < 4; c++) {
		const uint8_t *a = &k[4 * c];
		for (int r = 0; r < 4; r++)
			o[4 * c + r] = gmul(a[r], 14) ^ gmul(a[(r + 1) % 4], 11) ^
				       gmul(a[(r + 2) % 4], 13) ^ gmul(a[(r + 3) % 4], 9);
	}
	return o;
}

// Registers and stack as the cipher leaves them, captured by rc_test_call_and_dump.
struct CallArgs {
	CryptFn fn;
	uint8_t *dst;
	const uint8_t *src;
	uint64_t nbytes;
	const uint8_t *iv;
	int64_t decrypt;
	const uint8_t *key;
	uint64_t wide;
};
constexpr size_t kStackScan = 4096;
struct Dump {
	uint8_t vec[16][32];  // xmm0-15 (low 16 bytes) or ymm0-15
	uint64_t gpr[9];      // rax rcx rdx rsi rdi r8 r9 r10 r11
	uint8_t stack[kStackScan];
};
static_assert(offsetof(CallArgs, wide) == 56 && offsetof(Dump, gpr) == 512 &&
	      offsetof(Dump, stack) == 584);

extern "C" void rc_test_call_and_dump(const CallArgs *a, Dump *d);
// Zeroes the stack the callee will use, calls it, then saves before anything else
// runs: the vector registers, the caller-saved GPRs (callee-saved ones are restored
// by the ABI) and the stack the callee used.
asm(R"(
	.text
	.p2align 4
	.type rc_test_call_and_dump, @function
rc_test_call_and_dump:
	push	%rbx
	push	%r12
	push	%r13
	mov	%rdi, %rbx
	mov	%rsi, %r12
	lea	-4096(%rsp), %rdi
	mov	$4096, %ecx
	xor	%eax, %eax
	rep stosb
	mov	8(%rbx), %rdi
	mov	16(%rbx), %rsi
	mov	24(%rbx), %rdx
	mov	32(%rbx), %rcx
	mov	40(%rbx), %r8
	mov	48(%rbx), %r9
	call	*(%rbx)
	cmpq	$0, 56(%rbx)
	je	1f
	vmovdqu	%ymm0, 0(%r12)
	vmovdqu	%ymm1, 32(%r12)
	vmovdqu	%ymm2, 64(%r12)
	vmovdqu	%ymm3, 96(%r12)
	vmovdqu	%ymm4, 128(%r12)
	vmovdqu	%ymm5, 160(%r12)
	vmovdqu	%ymm6, 192(%r12)
	vmovdqu	%ymm7, 224(%r12)
	vmovdqu	%ymm8, 256(%r12)
	vmovdqu	%ymm9, 288(%r12)
	vmovdqu	%ymm10, 320(%r12)
	vmovdqu	%ymm11, 352(%r12)
	vmovdqu	%ymm12, 384(%r12)
	vmovdqu	%ymm13, 416(%r12)
	vmovdqu	%ymm14, 448(%r12)
	vmovdqu	%ymm15, 480(%r12)
	jmp	2f
1:
	movdqu	%xmm0, 0(%r12)
	movdqu	%xmm1, 32(%r12)
	movdqu	%xmm2, 64(%r12)
	movdqu	%xmm3, 96(%r12)
	movdqu	%xmm4, 128(%r12)
	movdqu	%xmm5, 160(%r12)
	movdqu	%xmm6, 192(%r12)
	movdqu	%xmm7, 224(%r12)
	movdqu	%xmm8, 256(%r12)
	movdqu	%xmm9, 288(%r12)
	movdqu	%xmm10, 320(%r12)
	movdqu	%xmm11, 352(%r12)
	movdqu	%xmm12, 384(%r12)
	movdqu	%xmm13, 416(%r12)
	movdqu	%xmm14, 448(%r12)
	movdqu	%xmm15, 480(%r12)
2:
	mov	%rax, 512(%r12)
	mov	%rcx, 520(%r12)
	mov	%rdx, 528(%r12)
	mov	%rsi, 536(%r12)
	mov	%rdi, 544(%r12)
	mov	%r8, 552(%r12)
	mov	%r9, 560(%r12)
	mov	%r10, 568(%r12)
	mov	%r11, 576(%r12)
	lea	-4096(%rsp), %rsi
	lea	584(%r12), %rdi
	mov	$4096, %ecx
	rep movsb
	pop	%r13
	pop	%r12
	pop	%rbx
	ret
	.size rc_test_call_and_dump, . - rc_test_call_and_dump
)");

class CipherPath : public ::testing::TestWithParam<Path> {
protected:
	void SetUp() override
	{
		if (!GetParam().supported())
			GTEST_SKIP() << "this CPU lacks the instructions of the " << GetParam().name
				     << " path";
	}
	void crypt(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *iv, int dec,
		   const uint8_t *key)
	{
		GetParam().fn(dst, src, n, iv, dec, key);
	}
};

std::string where(const char *what, size_t i)
{
	return std::string(what) + " #" + std::to_string(i);
}

TEST(XtsVectors, OpenSSLAgrees)
{
	for (size_t v = 0; v < RC_XTS_NVECTORS; v++) {
		const auto &t = rc_xts_vectors[v];
		SCOPED_TRACE(t.name);
		Bytes out(t.len);
		if (std::memcmp(t.key, t.key + 16, 16) == 0) {
			EXPECT_EQ(ecb_xts(t.key, t.iv, 1, t.pt, t.len), Bytes(t.ct, t.ct + t.len));
			EXPECT_EQ(ecb_xts(t.key, t.iv, 0, t.ct, t.len), Bytes(t.pt, t.pt + t.len));
			continue;
		}
		ASSERT_TRUE(openssl_xts(t.key, t.iv, 1, t.pt, out.data(), t.len));
		EXPECT_EQ(out, Bytes(t.ct, t.ct + t.len));
		ASSERT_TRUE(openssl_xts(t.key, t.iv, 0, t.ct, out.data(), t.len));
		EXPECT_EQ(out, Bytes(t.pt, t.pt + t.len));
	}
}

TEST(XtsVectors, ReferenceKeySchedule)
{
	// FIPS-197 Appendix A.1: validates the schedule the register checks rely on.
	const uint8_t key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
				 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
	const std::array<uint8_t, 16> rk10 = {0xd0, 0x14, 0xf9, 0xa8, 0xc9, 0xee, 0x25, 0x89,
					      0xe1, 0x3f, 0x0c, 0xc8, 0xb6, 0x63, 0x0c, 0xa6};
	EXPECT_EQ(round_keys(key)[10], rk10);
}

TEST_P(CipherPath, KnownAnswers)
{
	for (size_t v = 0; v < RC_XTS_NVECTORS; v++) {
		const auto &t = rc_xts_vectors[v];
		SCOPED_TRACE(t.name);
		const Bytes pt(t.pt, t.pt + t.len), ct(t.ct, t.ct + t.len);
		Bytes out(t.len);
		crypt(out.data(), pt.data(), t.len, t.iv, 0, t.key);
		EXPECT_EQ(out, ct);
		crypt(out.data(), ct.data(), t.len, t.iv, 1, t.key);
		EXPECT_EQ(out, pt);
		crypt(out.data(), out.data(), t.len, t.iv, 0, t.key);
		EXPECT_EQ(out, ct) << "in place";
		crypt(out.data(), out.data(), t.len, t.iv, 1, t.key);
		EXPECT_EQ(out, pt) << "in place";
	}
}

TEST_P(CipherPath, KeyCheckValue)
{
	std::mt19937_64 rng(7);
	const uint8_t zero[16] = {};
	for (int i = 0; i < 100; i++) {
		uint8_t key[32], kcv[16], want[16];
		for (auto &b : key)
			b = static_cast<uint8_t>(rng());
		rc_xts_kcv(kcv, key);
		ASSERT_TRUE(openssl_xts(key, zero, 1, zero, want, 16));
		ASSERT_EQ(0, std::memcmp(kcv, want, 16)) << where("key", i);
		crypt(want, zero, 16, zero, 0, key);
		ASSERT_EQ(0, std::memcmp(kcv, want, 16)) << where("key", i);
	}
}

// >= 10,000 random pages, keys and 128-bit tweaks; both directions, out of and in place.
TEST_P(CipherPath, MatchesOpenSSLOnRandomPages)
{
	std::mt19937_64 rng(0x72616d6372797074);
	Bytes pt(kPage), ct(kPage), want(kPage), out(kPage);
	for (size_t i = 0; i < 10000; i++) {
		uint8_t key[32], iv[16];
		do {
			for (auto &b : key)
				b = static_cast<uint8_t>(rng());
		} while (std::memcmp(key, key + 16, 16) == 0);
		for (auto &b : iv)
			b = static_cast<uint8_t>(rng());
		for (auto &b : pt)
			b = static_cast<uint8_t>(rng());

		ASSERT_TRUE(openssl_xts(key, iv, 1, pt.data(), want.data(), kPage));
		crypt(ct.data(), pt.data(), kPage, iv, 0, key);
		ASSERT_EQ(ct, want) << where("encrypt, page", i);
		crypt(out.data(), ct.data(), kPage, iv, 1, key);
		ASSERT_EQ(out, pt) << where("decrypt, page", i);

		ASSERT_TRUE(openssl_xts(key, iv, 0, pt.data(), want.data(), kPage));
		crypt(out.data(), pt.data(), kPage, iv, 1, key);
		ASSERT_EQ(out, want) << where("decrypt of random data, page", i);

		out = pt;
		crypt(out.data(), out.data(), kPage, iv, 0, key);
		ASSERT_EQ(out, ct) << where("in-place encrypt, page", i);
		crypt(out.data(), out.data(), kPage, iv, 1, key);
		ASSERT_EQ(out, pt) << where("in-place decrypt, page", i);
	}
}

// Every block count up to 2 pages (groups plus single-block tails), unaligned
// buffers; nothing past nbytes is written.
TEST_P(CipherPath, MatchesOpenSSLOnAllLengths)
{
	std::mt19937_64 rng(1619);
	for (size_t n = 16; n <= 2 * kPage; n += 16) {
		uint8_t key[32], iv[16];
		for (auto &b : key)
			b = static_cast<uint8_t>(rng());
		for (auto &b : iv)
			b = static_cast<uint8_t>(rng());
		const size_t off = rng() % 16;
		Bytes pt(n + 32), buf(n + 64, 0xa5), want(n);
		for (auto &b : pt)
			b = static_cast<uint8_t>(rng());
		for (int dec = 0; dec < 2; dec++) {
			std::fill(buf.begin(), buf.end(), 0xa5);
			ASSERT_TRUE(openssl_xts(key, iv, !dec, pt.data() + off, want.data(), n));
			crypt(buf.data() + off, pt.data() + off, n, iv, dec, key);
			ASSERT_EQ(0, std::memcmp(buf.data() + off, want.data(), n))
				<< where(dec ? "decrypt, bytes" : "encrypt, bytes", n);
			auto untouched = [](uint8_t b) { return b == 0xa5; };
			ASSERT_TRUE(std::all_of(buf.begin(), buf.begin() + off, untouched)) << n;
			ASSERT_TRUE(std::all_of(buf.begin() + off + n, buf.end(), untouched)) << n;
		}
	}
}

// After a call, the vector registers are zero, and no caller-saved GPR nor the stack
// the cipher used holds any 8-byte half of a key, round key (encryption and
// decryption schedules of K1, schedule of K2) or tweak.
TEST_P(CipherPath, LeavesNoKeyMaterial)
{
	std::mt19937_64 rng(42);
	for (int i = 0; i < 50; i++) {
		uint8_t key[32], iv[16];
		for (auto &b : key)
			b = static_cast<uint8_t>(rng());
		for (auto &b : iv)
			b = static_cast<uint8_t>(rng());
		const size_t n = i % 2 ? kPage : 16 * (1 + rng() % 20);
		const auto k1 = round_keys(key), k2 = round_keys(key + 16);
		std::vector<std::array<uint8_t, 16>> secrets(k1.begin(), k1.end());
		secrets.insert(secrets.end(), k2.begin(), k2.end());
		for (int r = 1; r <= 9; r++)
			secrets.push_back(inv_mix_columns(k1[r]));
		for (const auto &t : tweaks(key, iv, n / 16 + 8))
			secrets.push_back(t);
		std::vector<uint64_t> halves;
		for (const auto &s : secrets) {
			uint64_t h[2];
			std::memcpy(h, s.data(), 16);
			halves.insert(halves.end(), h, h + 2);
		}

		Bytes src(n), dst(n);
		for (auto &b : src)
			b = static_cast<uint8_t>(rng());
		for (int dec = 0; dec < 2; dec++) {
			SCOPED_TRACE(where(dec ? "decrypt, key" : "encrypt, key", i));
			const CallArgs a{GetParam().fn, dst.data(), src.data(), n, iv, dec, key,
					 GetParam().wide};
			auto d = std::make_unique<Dump>();
			std::memset(d.get(), 0, sizeof(*d));
			rc_test_call_and_dump(&a, d.get());

			for (int r = 0; r < 16; r++)
				for (int b = 0; b < 32; b++)
					ASSERT_EQ(d->vec[r][b], 0) << (GetParam().wide ? "ymm" : "xmm") << r;
			for (uint64_t h : halves) {
				for (int r = 0; r < 9; r++)
					ASSERT_NE(d->gpr[r], h) << "GPR #" << r;
				for (size_t o = 0; o + 8 <= kStackScan; o += 8) {
					uint64_t s;
					std::memcpy(&s, d->stack + o, 8);
					ASSERT_NE(s, h) << "stack offset " << o;
				}
			}
			Bytes want(n);
			ASSERT_TRUE(openssl_xts(key, iv, !dec, src.data(), want.data(), n));
			ASSERT_EQ(dst, want);
		}
	}
}

INSTANTIATE_TEST_SUITE_P(Paths, CipherPath, ::testing::ValuesIn(kPaths),
			 [](const auto &info) { return std::string(info.param.name); });

}  // namespace

// The module's plaintext wipe: exactly one page of zeros, nothing around it touched.
TEST(ZeroPage, ZeroesExactlyOnePage)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2"))
		GTEST_SKIP() << "this CPU has no AVX2 (the module then uses clear_page)";
	alignas(64) static uint8_t buf[3 * kPage];
	std::memset(buf, 0xa5, sizeof(buf));
	rc_zero_page_avx2(buf + kPage);
	EXPECT_TRUE(std::all_of(buf, buf + kPage, [](uint8_t b) { return b == 0xa5; }));
	EXPECT_TRUE(std::all_of(buf + kPage, buf + 2 * kPage, [](uint8_t b) { return b == 0; }));
	EXPECT_TRUE(std::all_of(buf + 2 * kPage, buf + 3 * kPage, [](uint8_t b) { return b == 0xa5; }));
}
