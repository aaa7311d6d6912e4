#!/usr/bin/env python3
"""The house's shape, checked: in proto/, net/, server/, client/ and include/, no file over 600 lines, no
line over 100 columns and no function over 80 lines (header to closing brace); in tests/, no file over 1,200 lines (a
test file holds many small cases). .clang-format keeps the columns when a file is formatted.

    scripts/check-shape.py          checks, prints every offence as FILE:LINE: what, exits 1 if any
    scripts/check-shape.py --list   also prints the ten longest functions

A function is found the simple way: an opening brace whose statement reads like a function
definition (a parameter list, not a control statement, a class, a namespace, an initializer
or a lambda's inside), at a scope that is not already a function; its length counts the lines
from its header to its closing brace. Strings, characters and comments are skipped."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = ["proto", "net", "server", "client", "include"]
MAX_FILE, MAX_TEST_FILE, MAX_COLUMNS, MAX_FUNCTION = 600, 1200, 100, 80
NOT_FUNCTION = re.compile(r"^\s*(if|for|while|switch|catch|do|else|try|return|namespace|class|struct|"
                          r"union|enum|extern)\b")


def sources(folders):
    for folder in folders:
        for base, _, files in os.walk(os.path.join(ROOT, folder)):
            for f in sorted(files):
                if f.endswith((".cpp", ".hpp", ".h")):
                    yield os.path.join(base, f)


def code_only(text):
    """The text with comments, strings and character literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (min(j, n) - i - 1) + (c if j < n else ""))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(code):
    """(name, first line, line count) of each function body at a non-function scope."""
    found, stack, start, statement = [], [], 0, ""
    line = 1
    for ch in code:
        if ch == "\n":
            line += 1
        if ch == "{":
            head = statement.strip()
            in_function = any(kind == "function" for kind, _, _ in stack)
            is_function = (not in_function and ")" in head and not NOT_FUNCTION.match(head)
                           and not head.endswith("=") and not re.search(r"\]\s*\(.*\)\s*(mutable)?\s*(->.*)?$", head)
                           and "=" not in head.split("(")[0])
            name = re.findall(r"([~\w:]+)\s*\(", head)
            stack.append(("function" if is_function else "scope", start, name[0] if name else "?"))
            statement = ""
            start = line
        elif ch == "}":
            if stack:
                kind, first, name = stack.pop()
                if kind == "function":
                    found.append((name, first, line - first + 1))
            statement = ""
            start = line
        elif ch == ";":
            statement = ""
            start = line
        else:
            if not statement.strip() and not ch.isspace():
                start = line
            statement += ch
    return found


def main():
    listing = "--list" in sys.argv[1:]
    offences, longest = [], []
    for folders, max_lines, core in ((CORE, MAX_FILE, True), (["tests"], MAX_TEST_FILE, False)):
        for path in sources(folders):
            rel = os.path.relpath(path, ROOT)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            lines = text.split("\n")
            if len(lines) - 1 > max_lines:
                offences.append(f"{rel}:1: {len(lines) - 1} lines (at most {max_lines})")
            if not core:
                continue
            for no, l in enumerate(lines, 1):
                if len(l) > MAX_COLUMNS:
                    offences.append(f"{rel}:{no}: {len(l)} columns (at most {MAX_COLUMNS})")
            for name, first, count in functions(code_only(text)):
                longest.append((count, f"{rel}:{first}: {name}"))
                if count > MAX_FUNCTION:
                    offences.append(f"{rel}:{first}: function {name} is {count} lines (at most {MAX_FUNCTION})")
    for o in offences:
        print(o)
    if listing:
        for count, where in sorted(longest, reverse=True)[:10]:
            print(f"{count:5d}  {where}")
    if offences:
        print(f"check-shape: {len(offences)} offence(s)", file=sys.stderr)
        return 1
    print("check-shape: every file, line and function within its limits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
