#!/usr/bin/env python3
"""md2man.py - turn docs/hotspy.1.md into a man(7) page.

usage: md2man.py SOURCE.md OUTPUT.1 [VERSION]

The manual page is written once, in Markdown, and read on GitHub or with
man(1). This converter knows the few constructs the page uses, and fails on
nothing: text it does not recognise is kept as plain text.

  # TITLE(1)                     the .TH line
  ## SECTION / ### Subsection    .SH / .SS
  **bold**, *italic*, `code`     \\fB \\fI, code in bold as man pages set it
  **term**                       a definition list: the term on one line,
  : text (indented lines go on)  the definition on the next (.TP)
  - item / 1. item               .IP lists
  ``` fenced blocks ```          .nf/.fi, no filling, no inline markup
  | a | b | tables               kept as preformatted lines
"""
import re
import sys

INLINE = re.compile(r"(\*\*(?P<b>.+?)\*\*|`(?P<c>[^`]+)`|(?<![\w*])\*(?P<i>[^*\s][^*]*?)\*(?![\w*]))")


def escape(text):
    """Text for roff: backslashes doubled, dashes that are options kept
    as hyphen-minus, a line's leading dot or quote made harmless."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return text


def inline(text):
    out, at = [], 0
    for m in INLINE.finditer(text):
        out.append(escape(text[at:m.start()]))
        if m.group("b") is not None:
            out.append("\\fB" + inline(m.group("b")) + "\\fR")
        elif m.group("c") is not None:
            out.append("\\fB" + escape(m.group("c")) + "\\fR")
        else:
            out.append("\\fI" + inline(m.group("i")) + "\\fR")
        at = m.end()
    out.append(escape(text[at:]))
    return "".join(out)


def line_safe(text):
    """A roff text line may not start with a control character."""
    return "\\&" + text if text[:1] in (".", "'") else text


def convert(lines, version):
    out = []
    para = []           # lines of the paragraph being collected
    i = 0

    def flush():
        if para:
            out.append(line_safe(inline(" ".join(s.strip() for s in para))))
            del para[:]

    while i < len(lines):
        line = lines[i].rstrip("\n")
        m = re.match(r"^# (\S+)\((\d)\)\s*$", line)
        if m:
            flush()
            out.append('.TH "%s" "%s" "" "hotspy %s" "User Commands"' %
                       (m.group(1), m.group(2), version))
            i += 1
            continue
        m = re.match(r"^(#{2,3}) (.*)$", line)
        if m:
            flush()
            out.append("%s \"%s\"" % (".SH" if len(m.group(1)) == 2 else ".SS",
                                      inline(m.group(2)).replace('"', "\\(dq")))
            i += 1
            continue
        if line.startswith("```"):
            flush()
            out.append(".PP")
            out.append(".nf")
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(line_safe(escape(lines[i].rstrip("\n"))))
                i += 1
            out.append(".fi")
            i += 1
            continue
        if line.startswith("|"):
            flush()
            out.append(".PP")
            out.append(".nf")
            while i < len(lines) and lines[i].startswith("|"):
                row = lines[i].rstrip("\n")
                if not re.match(r"^\|[\s:|-]+\|$", row):
                    cells = [c.strip() for c in row.strip("|").split("|")]
                    out.append(line_safe(inline("  ".join(cells))))
                i += 1
            out.append(".fi")
            continue
        if i + 1 < len(lines) and lines[i + 1].startswith(": ") and line.strip():
            flush()
            out.append(".TP")
            out.append(line_safe(inline(line.strip())))
            i += 1
            body = [lines[i][2:].strip()]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                body.append(lines[i].strip())
                i += 1
            out.append(line_safe(inline(" ".join(body))))
            continue
        m = re.match(r"^(\s*)([-*]|\d+\.) (.*)$", line)
        if m:
            flush()
            mark = "\\(bu" if m.group(2) in ("-", "*") else m.group(2)
            body = [m.group(3)]
            i += 1
            while (i < len(lines) and lines[i].startswith("  ") and lines[i].strip() and
                   not re.match(r"^\s*([-*]|\d+\.) ", lines[i])):
                body.append(lines[i].strip())
                i += 1
            out.append('.IP "%s" 4' % mark)
            out.append(line_safe(inline(" ".join(body))))
            continue
        if not line.strip():
            flush()
            if out and out[-1] not in (".PP",) and not out[-1].startswith((".SH", ".SS", ".TH")):
                out.append(".PP")
            i += 1
            continue
        para.append(line)
        i += 1
    flush()
    while out and out[-1] == ".PP":
        out.pop()
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    version = argv[3] if len(argv) == 4 else ""
    try:
        with open(argv[1], encoding="utf-8") as f:
            text = convert(f.readlines(), version)
        with open(argv[2], "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        sys.stderr.write("md2man.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
