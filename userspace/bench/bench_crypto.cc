// bench-crypto: the register-only AES-128-XTS page cipher (kmod/cipher-asm.S, host
// build) against OpenSSL's AES-128-XTS on the same 4 KiB pages, pinned to one CPU.
// Prints a markdown report; the last line is
//   ratio_vs_openssl: V  aesni_ratio_vs_openssl: A
// V: our VAES path's page encryption time over OpenSSL's default AES-128-XTS (n/a
// when the CPU has no VAES); A: our AES-NI path's over OpenSSL's with its AVX-512,
// VAES and VPCLMULQDQ code masked off through OPENSSL_ia32cap. OpenSSL reads that
// variable once at start-up, so A is measured in a child process (this binary again,
// same CPU) that times our AES-NI path and the masked OpenSSL interleaved, as the
// parent does for V. Every figure is a median over many short repetitions.

#include <cpuid.h>
#include <openssl/evp.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

extern "C" {
void rc_xts_crypt(uint8_t *dst, const uint8_t *src, unsigned long nbytes, const uint8_t iv[16],
		  int decrypt, const uint8_t key[32]);
void rc_xts_crypt_vaes(uint8_t *dst, const uint8_t *src, unsigned long nbytes,
		       const uint8_t iv[16], int decrypt, const uint8_t key[32]);
}

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kPages = 64;	   // 256 KiB each way: in L2, so AES, not memory, is timed
constexpr int kPasses = 4;	   // per repetition: short, so preemption spoils few
constexpr int kRepetitions = 1001;  // medians over these
constexpr double kWarmupNs = 200e6;  // every case runs this long before timing
// CPUID.7.0 EBX bits 16, 17, 21, 28, 30, 31 (AVX-512 F, DQ, IFMA, CD, BW, VL) and
// ECX bits 9, 10 (VAES, VPCLMULQDQ), masked off in OpenSSL's capability vector.
constexpr const char *kOpenSSLAesniCap = ":~0x600d0230000";
constexpr const char *kChildEnv = "RAMCRYPT_BENCH_CRYPTO_CHILD";

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	return v[v.size() / 2];
}

double now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// CPUID.1:ECX bit 31, set by hypervisors for their guests.
bool vm_guest()
{
	unsigned int a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c >> 31 & 1);
}

// "model name (family F, model M)": hypervisors often shorten the model name.
std::string cpu_model()
{
	std::ifstream f("/proc/cpuinfo");
	std::string name = "unknown", family = "?", model = "?";
	for (std::string line; std::getline(f, line) && line != "";) {
		const auto colon = line.find(':');
		if (colon == std::string::npos || colon + 2 > line.size())
			continue;
		const std::string value = line.substr(colon + 2);
		if (line.rfind("model name", 0) == 0)
			name = value;
		else if (line.rfind("cpu family", 0) == 0)
			family = value;
		else if (line.rfind("model\t", 0) == 0)
			model = value;
	}
	std::string where;
	if (vm_guest())
		where = ", in a virtual machine with " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
			" vCPUs";
	return name + " (family " + family + ", model " + model + ")" + where;
}

bool have_vaes()
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vaes") &&
	       __builtin_cpu_supports("vpclmulqdq");
}

// Pin to the highest-numbered CPU we may run on (CPU 0 takes more interrupts).
int pin_one_cpu()
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	int cpu = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			cpu = c;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -1 : cpu;
}

struct Case {
	std::string name;
	std::function<void(size_t)> op;  // one operation on page i
	double bytes;			  // per operation, for cycles/byte
};

struct Timing {
	double ns, cycles_per_byte;
};

// Interleaved repetitions (frequency drift hits every case alike), after a warm-up.
std::vector<Timing> measure(const std::vector<Case> &cases)
{
	for (const auto &c : cases)
		for (const double t0 = now_ns(); now_ns() - t0 < kWarmupNs / cases.size();)
			for (size_t i = 0; i < kPages; i++)
				c.op(i);
	std::vector<std::vector<double>> ns(cases.size()), cyc(cases.size());
	for (int r = 0; r < kRepetitions; r++) {
		for (size_t c = 0; c < cases.size(); c++) {
			const double t0 = now_ns();
			const uint64_t c0 = __rdtsc();
			for (int p = 0; p < kPasses; p++)
				for (size_t i = 0; i < kPages; i++)
					cases[c].op(i);
			const uint64_t c1 = __rdtsc();
			const double t1 = now_ns();
			const double ops = double(kPasses) * kPages;
			ns[c].push_back((t1 - t0) / ops);
			cyc[c].push_back(double(c1 - c0) / ops / cases[c].bytes);
		}
	}
	std::vector<Timing> out;
	for (size_t c = 0; c < cases.size(); c++)
		out.push_back({median(ns[c]), median(cyc[c])});
	return out;
}

struct Bench {
	uint8_t key[32];
	uint8_t *src, *dst;
	std::vector<std::array<uint8_t, 16>> ivs;
	EVP_CIPHER_CTX *ossl[2];

	Bench()
	{
		std::mt19937_64 rng(2024);
		do {
			for (auto &b : key)
				b = static_cast<uint8_t>(rng());
		} while (std::memcmp(key, key + 16, 16) == 0);
		src = static_cast<uint8_t *>(std::aligned_alloc(kPage, kPages * kPage));
		dst = static_cast<uint8_t *>(std::aligned_alloc(kPage, kPages * kPage));
		for (size_t i = 0; i < kPages * kPage; i++)
			src[i] = static_cast<uint8_t>(rng());
		// The module's tweak: a fresh 64-bit counter per page encryption.
		ivs.resize(kPages);
		for (size_t i = 0; i < kPages; i++) {
			uint64_t ctr = 1000 + i;
			ivs[i] = {};
			std::memcpy(ivs[i].data(), &ctr, 8);
		}
		// OpenSSL keeps its expanded key in its context; per page only the IV is set.
		for (int dec = 0; dec < 2; dec++) {
			ossl[dec] = EVP_CIPHER_CTX_new();
			if (!ossl[dec] || !EVP_CipherInit_ex(ossl[dec], EVP_aes_128_xts(), nullptr,
							      key, nullptr, !dec)) {
				std::printf("bench-crypto: OpenSSL AES-128-XTS unavailable\n");
				std::exit(1);
			}
		}
	}
	~Bench()
	{
		for (auto *c : ossl)
			EVP_CIPHER_CTX_free(c);
		std::free(src);
		std::free(dst);
	}
	Case openssl(const std::string &name, int dec)
	{
		return {name,
			[this, dec](size_t i) {
				int n;
				EVP_CipherInit_ex(ossl[dec], nullptr, nullptr, nullptr, ivs[i].data(), -1);
				EVP_CipherUpdate(ossl[dec], dst + i * kPage, &n, src + i * kPage, kPage);
			},
			kPage};
	}
	Case ours(const std::string &name, decltype(&rc_xts_crypt) fn, int dec, size_t bytes = kPage)
	{
		return {name,
			[this, fn, dec, bytes](size_t i) {
				fn(dst + i * kPage, src + i * kPage, bytes, ivs[i].data(), dec, key);
			},
			double(bytes)};
	}
};

// The child: our AES-NI path against OpenSSL with OPENSSL_ia32cap set by the parent.
int child_main()
{
	Bench b;
	const std::vector<Case> cases = {
		b.ours("aesni_enc", rc_xts_crypt, 0), b.ours("aesni_dec", rc_xts_crypt, 1),
		b.openssl("ossl_enc", 0), b.openssl("ossl_dec", 1)};
	const auto t = measure(cases);
	for (size_t c = 0; c < cases.size(); c++)
		std::printf("%s %.6f %.6f\n", cases[c].name.c_str(), t[c].ns, t[c].cycles_per_byte);
	return 0;
}

// Run this binary as the child; its "name ns cycles_per_byte" lines.
std::map<std::string, Timing> run_child()
{
	std::map<std::string, Timing> out;
	int fd[2];
	if (pipe(fd))
		return out;
	const pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		setenv("OPENSSL_ia32cap", kOpenSSLAesniCap, 1);
		setenv(kChildEnv, "1", 1);
		execl("/proc/self/exe", "bench_crypto", static_cast<char *>(nullptr));
		_exit(127);
	}
	close(fd[1]);
	FILE *f = fdopen(fd[0], "r");
	char name[64];
	double ns, cyc;
	while (f && std::fscanf(f, "%63s %lf %lf", name, &ns, &cyc) == 3)
		out[name] = {ns, cyc};
	if (f)
		std::fclose(f);
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		out.clear();
	return out;
}

void row(const char *name, const Timing &t, double bytes, double base_ns)
{
	std::printf("| %s | %.0f | %.3f | %.2f | %.2f |\n", name, t.ns, t.cycles_per_byte,
		    bytes / t.ns, base_ns > 0 ? t.ns / base_ns : 0.0);
}

}  // namespace

int main()
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("sse4.1")) {
		std::printf("bench-crypto: this CPU has no AES-NI/SSE4.1; nothing to measure\n");
		return 1;
	}
	if (std::getenv(kChildEnv))
		return child_main();

	const int cpu = pin_one_cpu();
	const bool vaes = have_vaes();
	std::vector<Timing> t;
	std::vector<Case> cases;
	{
		Bench b;
		cases = {b.ours("ramcrypt AES-NI encrypt", rc_xts_crypt, 0),
			 b.ours("ramcrypt AES-NI decrypt", rc_xts_crypt, 1),
			 b.openssl("OpenSSL encrypt", 0),
			 b.openssl("OpenSSL decrypt", 1),
			 b.ours("ramcrypt AES-NI, one block", rc_xts_crypt, 0, 16)};
		if (vaes) {
			cases.push_back(b.ours("ramcrypt VAES encrypt", rc_xts_crypt_vaes, 0));
			cases.push_back(b.ours("ramcrypt VAES decrypt", rc_xts_crypt_vaes, 1));
			cases.push_back(b.ours("ramcrypt VAES, one block", rc_xts_crypt_vaes, 0, 16));
		}
		t = measure(cases);
	}
	auto get = [&](const std::string &n) {
		for (size_t c = 0; c < cases.size(); c++)
			if (cases[c].name == n)
				return t[c];
		return Timing{0, 0};
	};
	const auto child = run_child();
	if (child.size() != 4) {
		std::printf("bench-crypto: the AES-NI comparison (child process) failed\n");
		return 1;
	}

	const double ossl_enc = get("OpenSSL encrypt").ns, ossl_dec = get("OpenSSL decrypt").ns;
	std::printf("## AES-128-XTS, 4 KiB pages: ramcrypt register-only cipher vs OpenSSL\n\n");
	std::printf("CPU: %s, pinned to CPU %d  \n", cpu_model().c_str(), cpu);
	std::printf("OpenSSL: %s  \n", OpenSSL_version(OPENSSL_VERSION));
	std::printf("%zu pages in L2, %d passes per repetition, median of %d interleaved "
		    "repetitions after a %.0f ms warm-up. ramcrypt expands both keys on every "
		    "call (they live only in registers); OpenSSL reuses its expanded key and only "
		    "sets the IV per page.\n\n",
		    kPages, kPasses, kRepetitions, kWarmupNs / 1e6);

	std::printf("### Against OpenSSL's default AES-128-XTS (this process)\n\n");
	std::printf("| operation | ns/op | cycles/byte (TSC) | GB/s | time vs OpenSSL |\n");
	std::printf("|---|---:|---:|---:|---:|\n");
	for (const char *n : {"ramcrypt AES-NI encrypt", "ramcrypt AES-NI decrypt",
			      "ramcrypt VAES encrypt", "ramcrypt VAES decrypt", "OpenSSL encrypt",
			      "OpenSSL decrypt"}) {
		if (get(n).ns == 0)
			continue;
		row(n, get(n), kPage, std::strstr(n, "decrypt") ? ossl_dec : ossl_enc);
	}
	std::printf("\nOne 16-byte block per call (mostly the two key expansions and the "
		    "initial tweak):\n\n");
	std::printf("| operation | ns/call | cycles/byte (TSC) | GB/s | time vs a page |\n");
	std::printf("|---|---:|---:|---:|---:|\n");
	row("ramcrypt AES-NI, one block", get("ramcrypt AES-NI, one block"), 16,
	    get("ramcrypt AES-NI encrypt").ns);
	if (vaes)
		row("ramcrypt VAES, one block", get("ramcrypt VAES, one block"), 16,
		    get("ramcrypt VAES encrypt").ns);

	std::printf("\n### Against OpenSSL with OPENSSL_ia32cap=%s (child process)\n\n",
		    kOpenSSLAesniCap);
	std::printf("AVX-512, VAES and VPCLMULQDQ masked: OpenSSL's AES-NI code, the fair "
		    "comparison for our AES-NI path (OpenSSL before 3.2 has no VAES XTS at all, "
		    "so there both OpenSSL rows run the same code).\n\n");
	std::printf("| operation | ns/op | cycles/byte (TSC) | GB/s | time vs OpenSSL |\n");
	std::printf("|---|---:|---:|---:|---:|\n");
	const double c_enc = child.at("ossl_enc").ns, c_dec = child.at("ossl_dec").ns;
	row("ramcrypt AES-NI encrypt", child.at("aesni_enc"), kPage, c_enc);
	row("ramcrypt AES-NI decrypt", child.at("aesni_dec"), kPage, c_dec);
	row("OpenSSL (AES-NI) encrypt", child.at("ossl_enc"), kPage, c_enc);
	row("OpenSSL (AES-NI) decrypt", child.at("ossl_dec"), kPage, c_dec);

	std::printf("\ncycles/byte counts TSC ticks, which run at a fixed rate, not the core clock "
		    "(turbo or power saving changes the core's cycles per tick).  \n");
	std::printf("The module uses the %s path on this CPU (VAES needs AVX2, VAES and "
		    "VPCLMULQDQ). The ratios below are page encryption times: the VAES path over "
		    "default OpenSSL, the AES-NI path over OpenSSL's AES-NI code.\n\n",
		    vaes ? "VAES" : "AES-NI");
	char v[32] = "n/a";
	if (vaes)
		std::snprintf(v, sizeof(v), "%.2f", get("ramcrypt VAES encrypt").ns / ossl_enc);
	std::printf("ratio_vs_openssl: %s  aesni_ratio_vs_openssl: %.2f\n", v,
		    child.at("aesni_enc").ns / c_enc);
	return 0;
}
