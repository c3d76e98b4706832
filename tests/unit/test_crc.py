"""The emulator's CRC32C and CRC64NVME (`devstack/crc.py`) are S3's: the CRC catalogue's check
values, published test vectors, and for other inputs the CRC as its definition computes it, bit by
bit with the polynomial as written (not reflected) and reflected input and output, written here
apart from the module's table-driven one."""
from __future__ import annotations

import pytest

from devstack import crc, s3_bodies

CHECK = b"123456789"  # the catalogue's check input
PATTERN_KIB = bytes((7 * i + 3) % 256 for i in range(1024))


def _reflect(value: int, width: int) -> int:
    return int(f"{value:0{width}b}"[::-1], 2)


def _bitwise(data: bytes, width: int, polynomial: int) -> int:
    """A reflected CRC with initial value and final XOR all ones, computed from its definition: each
    byte's bits reflected, shifted into the register most significant first, the result reflected."""
    top, mask = 1 << (width - 1), (1 << width) - 1
    register = mask
    for byte in data:
        register ^= _reflect(byte, 8) << (width - 8)
        for _ in range(8):
            register = ((register << 1) ^ polynomial) & mask if register & top else (register << 1) & mask
    return _reflect(register, width) ^ mask


def crc32c(data: bytes) -> int:
    return _bitwise(data, 32, 0x1EDC6F41)  # CRC-32/ISCSI's polynomial


def crc64nvme(data: bytes) -> int:
    return _bitwise(data, 64, 0xAD93D23594C93659)  # CRC-64/NVME's polynomial


def test_the_catalogues_check_values():
    """CRC-32/ISCSI and CRC-64/NVME of the CRC catalogue (reveng.sourceforge.io)."""
    assert crc.crc32c(CHECK) == 0xE3069283
    assert crc.crc64nvme(CHECK) == 0xAE8B14860A799888


def test_published_vectors():
    """CRC32C: RFC 3720's iSCSI examples (B.4). CRC64NVME: aws-c-checksums' (the CRC awscrt and so
    boto3 compute) and SPDK's, from the NVM Command Set specification."""
    assert crc.crc32c(bytes(32)) == 0x8A9136AA
    assert crc.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc.crc32c(bytes(range(32))) == 0x46DD794E
    assert crc.crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C
    assert crc.crc64nvme(bytes(32)) == 0xCF3473434D4ECF3B
    assert crc.crc64nvme(bytes(range(32))) == 0xB9D9D4A8492CBD7F
    assert crc.crc64nvme(bytes(4096)) == 0x6482D367EB22B64E
    assert crc.crc64nvme(b"\xff" * 4096) == 0xC0DDBA7302ECA3AC


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x80", b"a", CHECK, PATTERN_KIB, PATTERN_KIB + b"\x01\x02\x03"],
                         ids=["empty", "zero", "0x80", "a", "check", "1-KiB-pattern", "1-KiB-and-3"])
def test_the_table_driven_crcs_are_the_bitwise_definitions(data):
    assert crc.crc32c(data) == crc32c(data)
    assert crc.crc64nvme(data) == crc64nvme(data)


def test_the_emulators_header_values_are_s3s():
    """`x-amz-checksum-crc32c` and `-crc64nvme` of b"123456789" as openstack/swift's test/s3api
    pins them against AWS: base64 of the CRC, big endian."""
    assert s3_bodies.CHECKSUMS["crc32c"][1](CHECK) == "4waSgw=="
    assert s3_bodies.CHECKSUMS["crc64nvme"][1](CHECK) == "rosUhgp5mIg="
