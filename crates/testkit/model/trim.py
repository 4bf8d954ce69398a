#!/usr/bin/env python3
"""Writes cloudwatch.json: the shapes of CloudWatch's API model that the test kit's CBOR <-> JSON
translation needs (type, structure members, list member, map key/value, error code), taken from
the botocore model moto itself uses. Run with the emulator's Python after a moto/botocore bump:

    .venv/emulator/bin/python crates/testkit/model/trim.py > crates/testkit/model/cloudwatch.json
"""
import gzip
import json
import os

import botocore

path = os.path.join(os.path.dirname(botocore.__file__), "data/cloudwatch/2010-08-01/service-2.json.gz")
with gzip.open(path) as f:
    model = json.load(f)

shapes = {}
for name, shape in model["shapes"].items():
    out = {"type": shape["type"]}
    if shape["type"] == "structure":
        out["members"] = {m: s["shape"] for m, s in shape.get("members", {}).items()}
        code = shape.get("error", {}).get("code")
        if code:
            out["code"] = code
    elif shape["type"] == "list":
        out["member"] = shape["member"]["shape"]
    elif shape["type"] == "map":
        out["key"] = shape["key"]["shape"]
        out["value"] = shape["value"]["shape"]
    shapes[name] = out
operations = {
    name: {k: op[k]["shape"] for k in ("input", "output") if k in op}
    for name, op in model["operations"].items()
}
print(json.dumps({"botocore": botocore.__version__, "targetPrefix": model["metadata"]["targetPrefix"],
                  "operations": operations, "shapes": shapes}, sort_keys=True, separators=(",", ":")))
