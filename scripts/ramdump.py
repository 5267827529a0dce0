"""RAM dumps of a QEMU guest and the search of them, shared by scripts/attack and
scripts/check-deploy: the QMP client that stops the guest and dumps its memory, the
needles a secret or an RSA private key leaves in RAM, and build/attack/dump-scan, which
finds every needle in one pass over an image.

  qmp = QMP(socket_path); qmp.cmd("stop"); qmp.cmd("dump-guest-memory", paging=False,
        protocol="file:" + image); hits = scan(image, needle_file); qmp.cmd("cont")
"""
import json, os, socket, subprocess, time

from cryptography.hazmat.primitives import serialization

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "build", "attack")
SCANNER_SRC = os.path.join(TOP, "userspace", "workloads", "dump-scan.c")
SCANNER = os.path.join(OUT, "dump-scan")


def secret_needles(prefix, secret):
    n = {f"{prefix}.whole": secret}
    for i in range(0, len(secret), 16):
        n[f"{prefix}.piece{i // 16}"] = secret[i:i + 16]
    for i in range(0, len(secret), 8):
        n[f"{prefix}.word{i // 8}"] = secret[i:i + 8]
    return n


RSA_VALUES = ("d", "p", "q", "dP", "dQ", "qInv")


def rsa_needles(prefix, pem_path):
    """Every private value of an RSA key, as OpenSSL's BIGNUMs hold it (little-endian
    64-bit limbs, i.e. the number's little-endian bytes) and big-endian (DER, and what
    a program printing it would hold); pieces: each little-endian limb, each big-endian
    16-byte piece. And the DER encoding."""
    with open(pem_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    pn = key.private_numbers()
    values = dict(zip(RSA_VALUES, (pn.d, pn.p, pn.q, pn.dmp1, pn.dmq1, pn.iqmp)))
    n = {}
    for name, v in values.items():
        size = (v.bit_length() + 7) // 8
        le, be = v.to_bytes(size, "little"), v.to_bytes(size, "big")
        n[f"{prefix}.{name}.le"] = le
        n[f"{prefix}.{name}.be"] = be
        for i in range(0, size - 7, 8):
            n[f"{prefix}.{name}.limb{i // 8}"] = le[i:i + 8]
        for i in range(0, size - 15, 16):
            n[f"{prefix}.{name}.bepiece{i // 16}"] = be[i:i + 16]
    n[f"{prefix}.der"] = key.private_bytes(serialization.Encoding.DER,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    return n


class QMP:
    def __init__(self, path, timeout=60):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.f = self.sock.makefile("rw")
        json.loads(self.f.readline())  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            msg = json.loads(self.f.readline())
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise RuntimeError(f"QMP {name}: {msg['error']}")


def build_scanner():
    os.makedirs(OUT, exist_ok=True)
    if (not os.path.exists(SCANNER)
            or os.path.getmtime(SCANNER) < os.path.getmtime(SCANNER_SRC)):
        subprocess.run(["cc", "-O2", "-Wall", "-o", SCANNER, SCANNER_SRC], check=True)


def scan(path, needle_file):
    """{label: [count, offsets...]} for every needle dump-scan finds in the image."""
    out = subprocess.run(["nice", "-n", "10", SCANNER, needle_file, path], capture_output=True,
                         text=True, check=True).stdout
    hits = {}
    for line in out.splitlines():
        label, count, *offs = line.split()
        hits[label] = [int(count)] + [int(o) for o in offs]
    return hits


def tls_key(workdir, stem):
    key, cert = os.path.join(workdir, f"{stem}-key.pem"), os.path.join(workdir, f"{stem}-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", f"/CN={stem}"],
                   check=True, capture_output=True)
    return key, cert


def write_needles(path, needles):
    """The needle file dump-scan reads: one "LABEL HEX" a line."""
    with open(path, "w") as f:
        for label, v in needles.items():
            f.write(f"{label} {v.hex()}\n")


def elf_phys(path, offset):
    """The guest-physical address of a byte offset in a dump-guest-memory ELF image
    (paging=False: every PT_LOAD segment is a range of guest RAM), or None."""
    import struct
    with open(path, "rb") as f:
        hdr = f.read(64)
        phoff, = struct.unpack_from("<Q", hdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", hdr, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, _, p_offset, _, p_paddr, p_filesz = struct.unpack_from("<IIQQQQ", table, i * phentsize)
        if p_type == 1 and p_offset <= offset < p_offset + p_filesz:
            return p_paddr + offset - p_offset
    return None


def page_evidence(path, offset):
    """What the 4 KiB page holding a hit looks like, to tell its owner: a user stack or
    heap page holds user pointers (0x55.., 0x7f..), a kernel page kernel pointers
    (0xffff..), a freed page whatever its last owner left. The page's bytes are kept
    (hex): the secrets are the harness's own test values."""
    import struct
    start = offset - offset % 4096
    with open(path, "rb") as f:
        f.seek(start)
        page = f.read(4096)
    words = struct.unpack_from("<512Q", page.ljust(4096, b"\0"))
    phys = elf_phys(path, offset)
    return {"offset": offset, "phys": None if phys is None else hex(phys),
            "in_page": offset - start,
            "nonzero_bytes": sum(1 for b in page if b),
            "user_ptrs": sum(1 for w in words if 0x550000000000 <= w < 0x800000000000),
            "kernel_ptrs": sum(1 for w in words if w >= 0xffff800000000000),
            "page": page.hex()}
