#!/usr/bin/env python3
"""Cross-checks Spec/examples against the JSON Schema: every valid example must pass the schema, every invalid
example marked "schema": true in the manifest must fail it, and every one marked false (a rule only the codec can
check) must pass it, so that the manifest's claims about the schema stay true. Exit 1 on any disagreement."""
import json
import pathlib
import sys

import jsonschema

root = pathlib.Path(__file__).resolve().parent.parent / "Spec"
schema = json.loads((root / "schema" / "eventack-1.0.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)


def schema_accepts(path):
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False, "not JSON"
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    return not errors, (errors[0].message[:100] if errors else "")


failures = 0
valid = sorted((root / "examples" / "valid").glob("*.json"))
for path in valid:
    ok, why = schema_accepts(path)
    if not ok:
        failures += 1
        print(f"{path}: schema rejects a valid example: {why}")
manifest = json.loads((root / "examples" / "invalid" / "manifest.json").read_text())
for name, entry in sorted(manifest.items()):
    ok, why = schema_accepts(root / "examples" / "invalid" / name)
    if entry["schema"] and ok:
        failures += 1
        print(f"{name}: schema accepts an example it should reject ({entry['code']})")
    if not entry["schema"] and not ok:
        failures += 1
        print(f"{name}: marked codec-only, but the schema rejects it: {why}")
print(f"schema check: {len(valid) + len(manifest) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
