#!/usr/bin/env python3
"""What a terminal shows after printing standard input: the lines of a
pyte screen (a VT100/xterm parser), one per output line, trailing spaces
removed.

Used by tests/hostile_output.rs to check that hostile text printed by
git-authenticate cannot clear the screen, move the cursor or forge a line.
The bytes are read the way a permissive terminal reads them: UTF-8, where a
byte that is not UTF-8 stands for the Latin-1 character of that value (so
a raw 0x9B byte is the C1 control CSI), and each LF is preceded by a CR,
as a terminal's line discipline (ONLCR) does; a CR of the text itself
still returns to the start of the line.

Exit status 3 when pyte is missing, so the caller can say so.
"""

import codecs
import sys

try:
    import pyte
except ImportError:
    sys.stderr.write("pyte is not installed (pip install pyte)\n")
    sys.exit(3)

COLUMNS = 2000
LINES = 400


def as_latin1(error):
    bad = error.object[error.start:error.end]
    return "".join(chr(b) for b in bad), error.end


codecs.register_error("latin1-fallback", as_latin1)


def main():
    data = sys.stdin.buffer.read()
    text = data.decode("utf-8", errors="latin1-fallback").replace("\n", "\r\n")
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.Stream(screen)
    stream.feed(text)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
