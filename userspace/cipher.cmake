# Register-only AES-XTS cipher built for the host: tests and bench-crypto.
