"""Errors that point at source: `FILE:LINE:COL: error: message`, the line, a caret."""

from __future__ import annotations

import bisect
import os


class Source:
    """A named text; turns character offsets into (line, column), both from 1."""

    def __init__(self, name: str, text: str):
        self.name = name
        self.text = text
        self._starts: list[int] | None = None
        self._ascii: bool | None = None

    @property
    def ascii(self) -> bool:
        """Is the text all ASCII (then no name needs normalising)?"""
        if self._ascii is None:
            self._ascii = self.text.isascii()
        return self._ascii

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._starts = starts
        return self._starts

    def line_col(self, pos: int) -> tuple[int, int]:
        starts = self._line_starts()
        line = bisect.bisect_right(starts, pos) - 1
        return line + 1, pos - starts[line] + 1

    def line_text(self, line: int) -> str:
        starts = self._line_starts()
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[starts[line - 1] : end]


def shown(name) -> str:
    """A name from the file system as text that any encoder takes: bytes that are not UTF-8
    (which Python keeps as surrogate escapes) are shown as `\\xNN`, e.g. `bad\\xff`."""
    text = os.fsdecode(name)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape") if _only_escapes(text) else None
        if raw is None:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
        return raw.decode("utf-8", "backslashreplace")


def _only_escapes(text: str) -> bool:
    """Are the surrogates in text all of the kind os.fsdecode makes (U+DC80..U+DCFF)?"""
    return all(not "\ud800" <= ch <= "\udfff" or "\udc80" <= ch <= "\udcff" for ch in text)


SHOWN = 120  # characters of a source line an error shows at most


def _short(text: str, limit: int = 400) -> str:
    """A message quoting the user's text stays readable (and small) however long that text is."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class GradError(Exception):
    """A problem with the user's input: always exit status 2, never a traceback.

    `start`/`end` are offsets into `source.text`; without a source the error
    is about an option or a file as a whole.
    """

    status = 2

    def __init__(self, message: str, source: Source | None = None,
                 start: int = 0, end: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.start = start
        self.end = start + 1 if end is None else end
        self.hint = hint
        self.filename: str | None = None   # the file an error without a source is about, if any

    @property
    def file(self) -> str | None:
        """The file (or the name given to `gradcli.parse`) the error is in; None for an option."""
        return self.filename if self.source is None else self.source.name

    @property
    def line(self) -> int | None:
        """1-based line of the error, or None when it is about an option or a file as a whole."""
        return None if self.source is None else self.source.line_col(min(self.start, len(self.source.text)))[0]

    @property
    def column(self) -> int | None:
        """1-based column (in characters) of the error, or None like `line`."""
        return None if self.source is None else self.source.line_col(min(self.start, len(self.source.text)))[1]

    def __str__(self) -> str:
        """FILE:LINE:COL: error: ..., the line and a caret (as the command line prints it); an
        error about an option or a whole file is its message (and hint) alone."""
        if self.source is None:
            return self.message + (f"\n  hint: {self.hint}" if self.hint else "")
        return self.render(shorten=False)

    def located(self, source: Source) -> "GradError":
        """Attach a source when the raiser only knew offsets."""
        if self.source is None:
            self.source = source
        return self

    def render(self, shorten: bool = True) -> str:
        """What the command line prints; `shorten`: a message quoting a huge text is cut."""
        short = _short if shorten else (lambda text: text)
        if self.source is None:
            text = f"error: {short(self.message)}"
            return text + (f"\n  hint: {short(self.hint)}" if self.hint else "")
        src = self.source
        line, col = src.line_col(min(self.start, len(src.text)))
        code = src.line_text(line).replace("\t", " ")
        end_line, end_col = src.line_col(min(max(self.end, self.start + 1), len(src.text)))
        width = (end_col - col) if end_line == line and end_col > col else 1
        width = max(1, min(width, len(code) - col + 1)) if len(code) >= col else 1
        gutter = f"{line} | "
        at = col - 1
        if len(code) > SHOWN:  # a long line: a window around the caret, so no error is huge
            first = max(0, min(at - SHOWN // 4, len(code) - SHOWN))
            code = ("…" if first else "") + code[first:first + SHOWN] + ("…" if first + SHOWN < len(code) else "")
            at = at - first + (1 if first else 0)
            width = min(width, SHOWN - (at - (1 if first else 0)))
        out = [f"{src.name}:{line}:{col}: error: {short(self.message)}",
               f"{gutter}{code}",
               " " * (len(gutter) + at) + "^" + "~" * (width - 1)]
        if self.hint:
            out.append(f"  hint: {short(self.hint)}")
        return "\n".join(out)


class GradientMismatch(AssertionError):
    """A hand-written derivative (a claim, a Python gradient) disagrees with the reference.

    An AssertionError, so that pytest reports it as a failed test; its message is the
    check's text report (worst entries first) and `report` the report itself.
    """

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


class NumericError(GradError):
    """A value or derivative became NaN or infinite at the point (exit status 2)."""


# Letters of other scripts that look like Latin ones (Unicode's confusables, the common ones):
# a name typed with them is another name, and the hint says so.
CONFUSABLES = {
    # Cyrillic
    "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y",
    "\u0445": "x", "\u0456": "i", "\u0458": "j", "\u0455": "s", "\u0501": "d", "\u051b": "q",
    "\u051d": "w", "\u04bb": "h", "\u04cf": "l",
    "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H",
    "\u041e": "O", "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0425": "X", "\u0423": "Y",
    "\u0406": "I", "\u0408": "J", "\u0405": "S",
    # Greek
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I",
    "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T",
    "\u03a5": "Y", "\u03a7": "X", "\u03bf": "o", "\u03bd": "v",
}


def confusable_hint(name: str, candidates=()) -> str | None:
    """A hint for a name written with a letter of another script that looks like a Latin one
    (Cyrillic `х` for `x`): the Latin name when it is defined, or when the name mixes scripts."""
    if name.isascii():
        return None
    odd = [ch for ch in dict.fromkeys(name) if ch in CONFUSABLES]
    if not odd:
        return None
    import unicodedata

    latin = "".join(CONFUSABLES.get(ch, ch) for ch in name)
    ch = odd[0]
    words = unicodedata.name(ch).split()          # CYRILLIC SMALL LETTER HA
    letter = f"'{ch}' is the {words[0].capitalize()} {' '.join(words[1:]).lower()} (U+{ord(ch):04X})"
    if latin in set(candidates):
        return f"did you mean '{latin}'? {letter}, not the Latin '{CONFUSABLES[ch]}'"
    if any(c.isascii() and c.isalpha() for c in name) or latin.isascii():
        return f"{letter}, which looks like the Latin '{CONFUSABLES[ch]}': type the name in Latin letters"
    return None


def did_you_mean(name: str, candidates) -> str | None:
    import difflib

    confusable = confusable_hint(name, candidates)
    if confusable:
        return confusable
    names = sorted(set(candidates))
    prefixed = [c for c in names if len(c) > 1 and (name.startswith(c) or c.startswith(name))]
    close = prefixed[:1] or difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
