#!/usr/bin/python3
"""Interop check: a stand-in Packer 1.6.6 builder plugin that answers Builder.ConfigSpec
with the gob bytes in $FAKE_SPEC (produced by our Rust encoder), records the Prepare
arguments core sends (core can only build them after decoding our spec) into $FAKE_OUT,
and fails Builder.Run so that the build ends at once.

Install it as ./packer-builder-fakewire next to a template and run `packer build`."""
import os, socket, struct, sys, tempfile, json
import msgpack

spec = open(os.environ['FAKE_SPEC'], 'rb').read()
out_path = os.environ['FAKE_OUT']
if os.environ.get('PACKER_PLUGIN_MAGIC_COOKIE') != 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2':
    sys.exit('not started by packer')
path = tempfile.mktemp(prefix='packer-plugin')
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(1)
sys.stdout.write('5|unix|%s\n' % path)
sys.stdout.flush()
conn, _ = srv.accept()
conn.settimeout(60)

def send(typ, flags, sid, ln, payload=b''):
    conn.sendall(struct.pack('>BBHII', 0, typ, flags, sid, ln) + payload)

def send_data(sid, data):
    for i in range(0, len(data), 16384):
        part = data[i:i + 16384]
        send(0, 0, sid, len(part), part)

buf = b''
stream = b''
acked = False
handshake_done = False
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    buf += chunk
    while len(buf) >= 12:
        _v, typ, flags, sid, ln = struct.unpack('>BBHII', buf[:12])
        if typ == 0:
            if len(buf) < 12 + ln:
                break
            payload = buf[12:12 + ln]
            buf = buf[12 + ln:]
        else:
            payload = b''
            buf = buf[12:]
        if typ == 2 and flags & 1:           # ping: answer
            send(2, 2, 0, ln)
            continue
        if sid != 1:
            continue
        if flags & 1 and not acked:
            send(1, 2, 1, 0)
            acked = True
        stream += payload
    if not handshake_done and len(stream) >= 4:
        send_data(1, stream[:4])
        stream = stream[4:]
        handshake_done = True
    if not handshake_done:
        continue
    while True:
        up = msgpack.Unpacker(raw=False)
        up.feed(stream)
        try:
            hdr = up.unpack()
            body = up.unpack()
        except msgpack.OutOfData:
            break
        stream = stream[up.tell():]
        m = hdr['ServiceMethod']
        if m == 'Builder.ConfigSpec':
            reply, err = {'ConfigSpec': spec}, ''
        elif m == 'Builder.Prepare':
            configs = []
            for c in body['Configs']:
                configs.append(json.loads(c) if isinstance(c, bytes) else c)
            with open(out_path, 'w') as f:
                json.dump(configs, f)
            reply, err = {'GeneratedVars': None, 'Warnings': None, 'Error': None}, ''
        elif m == 'Builder.Run':
            reply, err = {}, 'fakewire: stop after Prepare'
        else:
            reply, err = None, ''
        resp = msgpack.packb({'ServiceMethod': m, 'Seq': hdr['Seq'], 'Error': err}, use_bin_type=True) \
            + msgpack.packb(reply, use_bin_type=True)
        send_data(1, resp)
