#!/usr/bin/env python3
"""A strict reader of the Prometheus text format (version 0.0.4), for the
metrics suite: reads the exposition on stdin and prints its samples as one
JSON object, {"name{label=\"value\",...}": value}, labels in the order
given. Exits 1 naming the line of the first thing the format forbids or
the conventions the project follows reject: a sample without its family's
HELP and TYPE before it, a family split in two, a duplicate series, a
counter whose name does not end in _total, a bad name, label or value, a
blank line, a missing final newline."""

import json
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def fail(lineno, why, line=""):
    sys.exit("line %d: %s: %r" % (lineno, why, line))


def parse_labels(text, lineno, line):
    """Reads '{a="x",b="y"}' at the start of text; returns (pairs, rest)."""
    pairs, i = [], 1
    while True:
        if text[i] == "}":
            return pairs, text[i + 1:]
        m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", text[i:])
        if not m:
            fail(lineno, "bad label name", line)
        name, i = m.group(1), i + m.end()
        value = ""
        while True:
            if i >= len(text):
                fail(lineno, "unterminated label value", line)
            c = text[i]
            if c == "\\":
                esc = text[i + 1:i + 2]
                if esc not in ("\\", '"', "n"):
                    fail(lineno, "bad escape in a label value", line)
                value += "\n" if esc == "n" else esc
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                fail(lineno, "newline in a label value", line)
            else:
                value += c
                i += 1
        if name in (n for n, _ in pairs):
            fail(lineno, "label given twice", line)
        pairs.append((name, value))
        if text[i:i + 1] == ",":
            i += 1
        elif text[i:i + 1] != "}":
            fail(lineno, "expected , or } after a label", line)


def parse_value(text, lineno, line):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
        fail(lineno, "bad value", line)
    return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)


def main():
    data = sys.stdin.read()
    if not data.endswith("\n"):
        fail(0, "no newline at the end")
    helps, types, done, samples, sampled = {}, {}, set(), {}, set()
    current = None
    for lineno, line in enumerate(data[:-1].split("\n"), 1):
        if line == "":
            fail(lineno, "blank line")
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) (.*)", line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    fail(lineno, "bad HELP or TYPE line", line)
                continue
            kind, name, rest = m.groups()
            if not NAME.match(name):
                fail(lineno, "bad metric name", line)
            if name != current:
                if name in done:
                    fail(lineno, "family given in two places", line)
                if current is not None:
                    done.add(current)
                current = name
            if kind == "HELP":
                if name in helps:
                    fail(lineno, "second HELP", line)
                if re.search(r"\\[^\\n]", rest) or not rest.strip():
                    fail(lineno, "bad or empty HELP text", line)
                helps[name] = rest
            else:
                if name in types or rest not in TYPES:
                    fail(lineno, "second or unknown TYPE", line)
                if name in sampled:
                    fail(lineno, "TYPE after samples", line)
                if rest == "counter" and not name.endswith("_total"):
                    fail(lineno, "a counter's name must end in _total", line)
                types[name] = rest
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
        if not m:
            fail(lineno, "bad sample name", line)
        name, rest = m.group(1), line[m.end():]
        pairs = []
        if rest.startswith("{"):
            pairs, rest = parse_labels(rest, lineno, line)
        if not rest.startswith(" "):
            fail(lineno, "expected a space before the value", line)
        fields = rest[1:].split(" ")
        if len(fields) not in (1, 2):
            fail(lineno, "expected a value and at most a timestamp", line)
        value = parse_value(fields[0], lineno, line)
        if name != current or name not in helps or name not in types:
            fail(lineno, "a sample outside its family, or before its HELP "
                 "and TYPE", line)
        if types[name] == "counter" and (value < 0 or math.isnan(value)):
            fail(lineno, "a counter below 0", line)
        key = name + ("{" + ",".join('%s="%s"' % p for p in pairs) + "}"
                      if pairs else "")
        if key in samples:
            fail(lineno, "series given twice", line)
        samples[key] = value
        sampled.add(name)
    for name in helps:
        if name not in types:
            fail(0, "HELP without TYPE for " + name)
    print(json.dumps(samples, sort_keys=True))


main()
