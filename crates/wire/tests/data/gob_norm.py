#!/usr/bin/env python3
"""Prints a normalized JSON view of a gob stream, decoded by the reference decoder
gobdec.py, found in the directory named by GOBDEC_DIR (not part of the repository). tests/gob_golden.rs builds the same view
from the Rust decoder and compares them.

View: interface -> {"iface": name, "value": v}; struct -> {"struct": name, "fields": {..}};
GobEncoder bytes -> {"encoded": name, "decoded": [values]}; map -> {"map": {k: v}}."""
import json, os, sys
sys.path.insert(0, os.environ['GOBDEC_DIR'])
import gobdec

def norm(v):
    if isinstance(v, dict):
        if '@iface' in v:
            return {'iface': v['@iface'], 'value': norm(v['value'])}
        if '@type' in v:
            return {'struct': v['@type'],
                    'fields': {k: norm(x) for k, x in v.items() if k != '@type'}}
        if '@gobencoder' in v:
            return {'encoded': v['@gobencoder'], 'decoded': [norm(x) for x in v['decoded']]}
        return {'map': {str(k): norm(x) for k, x in v.items()}}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, bytes):
        return list(v)
    return v

data = open(sys.argv[1], 'rb').read()
print(json.dumps([norm(x) for x in gobdec.decode_all(data)], sort_keys=True))
