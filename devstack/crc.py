"""CRC32C and CRC64NVME, two of S3's checksum algorithms, for the emulator's checks
(`devstack/s3_bodies.py`). They are computed here, in Python, not with awscrt (where botocore gets
them): with awscrt installed, botocore signs with awscrt's signers instead of its own, so every
process of the local stack (API, pollers, tests) would sign with other code than the Lambda
package, which has no awscrt, and the unit tests comparing Obelisk's signer with botocore's would
compare it with awscrt's. No client of the stack sends these algorithms (Obelisk's writes and
boto3's default send CRC32), so a table-driven CRC, a byte per step, is fast enough.

Both are the reflected CRCs of the CRC catalogue (reveng.sourceforge.io), initial value and final
XOR all ones, the value big-endian in S3's base64 headers:
- CRC32C is CRC-32/ISCSI (Castagnoli): polynomial 0x1EDC6F41, 0x82F63B78 reflected; check
  (the CRC of b"123456789") 0xE3069283.
- CRC64NVME is CRC-64/NVME: polynomial 0xAD93D23594C93659,
  0x9A6C9329AC4BC9B5 reflected; check 0xAE8B14860A799888."""
from __future__ import annotations


def _table(reflected_polynomial: int) -> tuple[int, ...]:
    """The CRC of each byte value, shifted out one bit at a time: the step a byte takes."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ reflected_polynomial if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


CRC32C_TABLE = _table(0x82F63B78)
CRC64NVME_TABLE = _table(0x9A6C9329AC4BC9B5)


def _reflected_crc(data: bytes, table: tuple[int, ...], ones: int) -> int:
    crc = ones
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ ones


def crc32c(data: bytes) -> int:
    return _reflected_crc(data, CRC32C_TABLE, 0xFFFFFFFF)


def crc64nvme(data: bytes) -> int:
    return _reflected_crc(data, CRC64NVME_TABLE, 0xFFFFFFFFFFFFFFFF)
