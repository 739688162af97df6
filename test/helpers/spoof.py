"""Sends one UDP datagram with a forged source address (raw socket; root only).

Usage: spoof.py SRC_IP SRC_PORT DST_IP DST_PORT HEX_PAYLOAD
   or: spoof.py < lines of "SRC_IP SRC_PORT DST_IP DST_PORT HEX_PAYLOAD" (many, in order)
A test helper of udpchat's: it lets a test replay a captured datagram as if it came
from anywhere, the way an attacker on the network could.
"""
import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def send(raw: socket.socket, src_ip: str, src_port: str, dst_ip: str, dst_port: str, payload_hex: str) -> None:
    payload = bytes.fromhex(payload_hex)
    udp_length = 8 + len(payload)
    udp = struct.pack("!HHHH", int(src_port), int(dst_port), udp_length, 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, 20 + udp_length, 0, 0, 64, socket.IPPROTO_UDP, 0,
        socket.inet_aton(src_ip), socket.inet_aton(dst_ip),
    )
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    raw.sendto(ip + udp, (dst_ip, 0))


def main() -> None:
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    if len(sys.argv) > 1:
        send(raw, *sys.argv[1:6])
        return
    for line in sys.stdin:
        if line.strip():
            send(raw, *line.split())


main()
