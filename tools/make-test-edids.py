#!/usr/bin/env python3
"""Writes the test EDIDs in tests/data/edid/ (run from the top of the tree).

Realistic base blocks, laid out like the monitors in the public linuxhw/EDID collection:
a preferred detailed timing, range limits, name and serial descriptors, standard timings.
The tests compare vxm's parse with edid-decode's on these, and the simulated workstations
(tests/simhost/*.machine) give them to their monitors.
"""
import os
import struct

OUT = os.path.join("tests", "data", "edid")

# detailed timing descriptors taken from real 4K, 1440p and 1080p monitors
DTD_4K60 = bytes.fromhex("4dd000a0f0703e8030203500544f2100001a")
DTD_1440P144 = bytes.fromhex("56 5e 00 a0 a0 a0 29 50 30 20 35 00 55 50 21 00 00 1a".replace(" ", ""))
DTD_1080P60 = bytes.fromhex("023a801871382d40582c4500544f2100001e")


def mfg_bytes(pnp):
    v = 0
    for c in pnp:
        v = (v << 5) | (ord(c) - ord("A") + 1)
    return struct.pack(">H", v)


def text_desc(tag, text):
    body = text.encode("ascii")[:13]
    if len(body) < 13:
        body += b"\n" + b" " * (12 - len(body))
    return bytes([0, 0, 0, tag, 0]) + body


def raw_text_desc(tag, body):
    # as some monitors write it: the string ends at a NUL, not at 0x0A
    return bytes([0, 0, 0, tag, 0]) + body.ljust(13, b"\0")


def range_desc(vmin, vmax, hmin, hmax, pclk10):
    return bytes([0, 0, 0, 0xFD, 0, vmin, vmax, hmin, hmax, pclk10, 0x00, 0x0A]) + b" " * 6


def edid(pnp, product, serial, week, year, dtd, descs, digital=0xB5, size=(60, 34), ext=0,
         version=(1, 4)):
    b = bytearray(b"\x00\xff\xff\xff\xff\xff\xff\x00")
    b += mfg_bytes(pnp)
    b += struct.pack("<HI", product, serial)
    b += bytes([week, year - 1990, version[0], version[1]])
    b += bytes([digital, size[0], size[1], 0x78, 0x3A])
    b += bytes.fromhex("ee 95 a3 54 4c 99 26 0f 50 54".replace(" ", ""))
    b += bytes([0xA5, 0x4B, 0x00])
    b += bytes.fromhex("d1c0 8180 81c0 a9c0 b300 0101 0101 0101".replace(" ", ""))
    b += dtd
    for d in descs:
        b += d
    assert len(b) == 126, len(b)
    b += bytes([ext])
    b += bytes([(-sum(b)) & 0xFF])
    return bytes(b)


def cta_block():
    # a minimal CTA-861 extension: no data blocks, no detailed timings
    b = bytearray([0x02, 0x03, 0x04, 0x00]) + bytearray(123)
    b += bytes([(-sum(b)) & 0xFF])
    return bytes(b)


def cta_block_with_descriptors(descs):
    # a CTA-861 extension whose detailed-timing area holds display descriptors (several LG
    # models keep their serial number there)
    b = bytearray([0x02, 0x03, 0x04, 0x00])
    for d in descs:
        b += d
    b += bytearray(127 - len(b))
    b += bytes([(-sum(b)) & 0xFF])
    return bytes(b)


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {
        # the example monitor of vxm monitors --json: DEL 41234 serial 12345
        "dell-u2720q.bin": edid("DEL", 41234, 12345, 12, 2021, DTD_4K60, [
            text_desc(0xFF, "ABC123"), text_desc(0xFC, "DELL U2720Q"),
            range_desc(24, 75, 30, 140, 60)]),
        # a gaming monitor whose serial is only a string, with a CTA extension
        "lg-27gl850.bin": edid("GSM", 0x5B7F, 0, 3, 2020, DTD_1440P144, [
            range_desc(48, 144, 30, 230, 30), text_desc(0xFC, "LG ULTRAGEAR"),
            text_desc(0xFF, "003NTXR5Q123")], ext=1) + cta_block(),
        # model year instead of a week, a text descriptor, no serial string
        "aoc-24g2.bin": edid("AOC", 0x2402, 0x00000A1B, 0xFF, 2019, DTD_1080P60, [
            text_desc(0xFE, "AOC GAMING"), text_desc(0xFC, "24G2W1G4"),
            range_desc(48, 146, 30, 160, 17)]),
        # an old EDID 1.3 monitor without name descriptor
        "samsung-old.bin": edid("SAM", 0x0317, 0x4D593432, 45, 2008, DTD_1080P60, [
            range_desc(56, 75, 30, 81, 17), text_desc(0xFE, "S22B300"),
            text_desc(0xFE, "H1AK500000")], digital=0x80, size=(48, 27), version=(1, 3)),
        # the serial string only in the CTA extension; the name ends at a NUL
        "lg-27gp850-cta-serial.bin": edid("GSM", 0x5BBF, 0, 20, 2021, DTD_1440P144, [
            range_desc(48, 165, 30, 230, 30), raw_text_desc(0xFC, b"LG ULTRAGEAR"),
            raw_text_desc(0x10, b"")], ext=1) + cta_block_with_descriptors([
            raw_text_desc(0xFF, b"23362B001483")]),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
