#!/usr/bin/env python3
"""Regenerates the golden fixtures from the workspace's testdata/packer-1.6.6-captures.

For each capture directory named on the command line, splits core2plugin.bin and
plugin2core.bin into yamux streams and writes, per stream and direction, the payload
bytes after the 4-byte MuxBroker id: <name>/s<id>_<c2p|p2c>.bin.
"""
import os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAP = os.path.join(HERE, '..', '..', '..', '..', 'testdata', 'packer-1.6.6-captures')

def streams(data):
    out, p = {}, 0
    while p + 12 <= len(data):
        _ver, typ, _flags, sid, ln = struct.unpack('>BBHII', data[p:p + 12])
        p += 12
        if typ == 0:
            out.setdefault(sid, bytearray()).extend(data[p:p + ln])
            p += ln
    return out

for name in sys.argv[1:]:
    dst = os.path.join(HERE, name)
    os.makedirs(dst, exist_ok=True)
    for tag, short in (('core2plugin', 'c2p'), ('plugin2core', 'p2c')):
        with open(os.path.join(CAP, name, tag + '.bin'), 'rb') as f:
            for sid, body in streams(f.read()).items():
                if len(body) > 4:
                    with open(os.path.join(dst, 's%d_%s.bin' % (sid, short)), 'wb') as g:
                        g.write(body[4:])
