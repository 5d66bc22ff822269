#!/usr/bin/env python3
"""Fetches the gob ConfigSpec of a builder built into /usr/bin/packer (1.6.6): runs
`packer plugin packer-builder-NAME`, speaks just enough yamux + msgpack RPC to call
Builder.ConfigSpec, and writes the gob bytes. Usage: fetch_builtin_spec.py packer-builder-NAME OUT.
Produced tests/data/builtin_specs/*.gob."""
import os, sys, socket, struct, subprocess, msgpack, time
name = sys.argv[1]
env = dict(os.environ, PACKER_PLUGIN_MAGIC_COOKIE='d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2',
           PACKER_PLUGIN_MIN_PORT='10000', PACKER_PLUGIN_MAX_PORT='25000')
p = subprocess.Popen(['/usr/bin/packer', 'plugin', name], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
try:
    line = p.stdout.readline().decode().strip()
    print(line, file=sys.stderr)
    _, net, addr = line.split('|')
    s = socket.socket(socket.AF_UNIX); s.connect(addr); s.settimeout(10)
    def frame(typ, flags, sid, ln, payload=b''):
        s.sendall(struct.pack('>BBHII', 0, typ, flags, sid, ln) + payload)
    frame(1, 1, 1, 0)
    frame(0, 0, 1, 4, b'\0\0\0\0')
    req = msgpack.packb({'ServiceMethod': 'Builder.ConfigSpec', 'Seq': 0}) + b'\xc0'
    frame(0, 0, 1, len(req), req)
    buf = b''; data = b''
    up = msgpack.Unpacker(raw=False)
    objs = []
    deadline = time.time() + 10
    while len(objs) < 2 and time.time() < deadline:
        chunk = s.recv(65536)
        if not chunk: break
        buf += chunk
        while len(buf) >= 12:
            ver, typ, flags, sid, ln = struct.unpack('>BBHII', buf[:12])
            if typ == 0:
                if len(buf) < 12 + ln: break
                pl = buf[12:12+ln]; buf = buf[12+ln:]
                if sid == 1:
                    data += pl
            else:
                buf = buf[12:]
        if len(data) > 4:
            up = msgpack.Unpacker(raw=False); up.feed(data[4:]); objs = []
            try:
                for o in up: objs.append(o)
            except Exception: pass
    spec = objs[1]['ConfigSpec']
    open(sys.argv[2], 'wb').write(spec)
    print(len(spec), file=sys.stderr)
finally:
    p.kill()
