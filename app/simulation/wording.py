"""How people write values, for the judges that read a dialogue's text: the goal checker (was an attribute said,
and said right?), the alignment check (did the user say its goal?) and the agenda user (was it told?).

Times in any common spelling (17:00, 5pm, 5:00 pm, 5.00pm, 5am for 05:00), numbers as digits or words, prices
with or without the pound sign, yes/no attributes as statements whose sense is read ("it has free wifi", "no
parking"), and places as whole names.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
# Words that name a yes/no attribute in a sentence, per record field.
YES_NO_WORDS = {"internet": ("internet", "wifi", "wi-fi", "wireless"), "parking": ("parking",)}
SAME_PLACE_RATIO = 90  # whole names spelt differently ("christ college"), not a part of one ("hotel")
_NEGATION = re.compile(r"\b(no|not|none|without|lacks?|neither|nor)\b|n't\b")
_CLAUSE = re.compile(r"[.;,!?\n]+|\s(?:and|but|while|although|whereas)\s")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
pattern = lru_cache(maxsize=16384)(re.compile)  # re's own cache holds 512: the many value patterns would thrash it


def whole(value: str, text: str) -> bool:
    """Is `value` in `text` as a whole value, whatever separates its letters and digits: "CB2 1AB" and "cb21ab",
    "01223 356354" and "01223356354" match, but "4" is not read in "TR8143" or a phone number."""
    characters = re.sub(r"\W", "", value.lower())
    if not characters:  # nothing that could be said
        return True
    return _whole_pattern(characters).search(text.lower()) is not None


@lru_cache(maxsize=4096)
def _whole_pattern(characters: str) -> re.Pattern[str]:
    pattern = r"\W*".join(re.escape(c) for c in characters)
    return re.compile(rf"(?<![^\W_]){pattern}(?![^\W_])")


def loosely(name: str) -> str:
    """A pattern for a name whatever separates its letters ("Christ 's College" is christ's college, "the gandhi"
    may come without its "the"), as a whole (not inside a longer word)."""
    letters = re.sub(r"\W", "", name.lower().removeprefix("the "))
    return r"(?<![^\W_])" + r"\W*".join(re.escape(c) for c in letters) + r"(?![^\W_])"


def phrase(name: str, text: str) -> bool:
    """Is `name` in `text` as whole words ("worth house" is not read in "warkworth house"; "hotel" is not
    "university arms hotel", and the reverse is not true either)."""
    name = " ".join(name.lower().split())
    return bool(name) and pattern(rf"(?<![\w']){re.escape(name)}(?![\w'])").search(text.lower()) is not None


def number_forms(number: int) -> tuple[str, ...]:
    """A whole number as digits and, up to twenty, as a word."""
    return (str(number), NUMBER_WORDS[number]) if 0 <= number < len(NUMBER_WORDS) else (str(number),)


def says_number(number: int, text: str) -> bool:
    """Is the number in `text` as a whole number (digits or a word)?"""
    return any(pattern(rf"(?<![\w.:]){form}(?![\w:]|\.\d)").search(text.lower()) for form in number_forms(number))


def time_forms(hhmm: str) -> tuple[str, ...]:
    """Regular expressions for the ways people write a 24-hour time: 17:00 as 17:00, 17.00, 5pm, 5 pm, 5:00 pm,
    5.00pm, 5 p.m.; 05:11 as 05:11, 5:11, 5:11am; 24:55 (past midnight, as trains write it) also as 00:55 and
    12:55am."""
    match = _CLOCK.match(hhmm)
    if match is None:
        return (re.escape(hhmm.lower()),)
    hour, minute = int(match[1]), match[2]
    forms = [rf"0?{hour}[:.]{minute}"]
    if hour >= 24:
        forms.append(rf"0?{hour - 24}[:.]{minute}")
        hour -= 24
    twelve, suffix = hour % 12 or 12, ("a\\.?m\\.?" if hour < 12 else "p\\.?m\\.?")
    forms.append(rf"{twelve}(?:[:.]{minute})?\s*{suffix}" if minute == "00" else rf"{twelve}[:.]{minute}\s*{suffix}")
    if hour == 12 and minute == "00":
        forms.append("noon|midday")
    return tuple(forms)


def says_time(hhmm: str, text: str) -> bool:
    """Is the 24-hour time `hhmm` in `text`, in any of its common spellings (and not as another time: 5:11pm is
    not 05:11)?"""
    lowered = text.lower()
    for form in time_forms(hhmm):
        for found in pattern(rf"(?<![\w:.])(?:{form})").finditer(lowered):
            after = lowered[found.end():found.end() + 6]
            if "m" in form or not re.match(r"\s*[ap]\.?m\b", after):  # 5:11 followed by "pm" is 17:11
                return True
    return False


def says_price(value: str, text: str) -> bool:
    """A price or fee ("23.60 pounds", "5 pounds", "free") as people write it: £23.60, 23.60 pounds, 23.6 GBP."""
    lowered = value.lower()
    amount = re.match(r"^(\d+(?:\.\d+)?)\s*(?:pounds?|gbp|£)?$", lowered)
    if amount is None:
        return whole(lowered, text)
    number = float(amount[1])
    spelled = {f"{number:g}", f"{number:.2f}", amount[1]}
    units = r"\s*(?:pounds?|gbp|quid)"
    for form in spelled:
        digits = re.escape(form)
        if pattern(rf"£\s*{digits}(?![\d.]*\d)|(?<![\w.£]){digits}{units}\b").search(text.lower()):
            return True
    return False


def says_stars(value: str, text: str) -> bool:
    """A star rating as people write it: 4 stars, four-star, a star rating of 4, "the stars is 4"."""
    if not value.isdigit():
        return whole(value, text)
    forms = "|".join(number_forms(int(value)))
    lowered = text.lower()
    rating = pattern(rf"\b(?:{forms})[- ]stars?\b|\bstars?(?: rating)?(?: is| of)?:? (?:{forms})\b")
    return rating.search(lowered) is not None


def yes_no_statements(attribute: str, text: str) -> list[bool]:
    """What `text` says about a yes/no attribute (internet, parking), clause by clause: True for "it has free wifi"
    or "the internet is yes", False for "no parking" or "the internet is no"."""
    words = YES_NO_WORDS.get(attribute, (attribute,))
    statements = []
    for clause in _CLAUSE.split(text.lower()):
        if any(pattern(rf"\b{re.escape(word)}\b").search(clause) for word in words):
            statements.append(_NEGATION.search(clause) is None)
    return statements


def says_yes_no(attribute: str, value: str, text: str) -> bool:
    """Was the attribute stated, and every statement of it right (a venue with internet, told "the internet is
    no", was told wrong)?"""
    statements = yes_no_statements(attribute, text)
    return bool(statements) and all(statement == (value == "yes") for statement in statements)


def place_key(place: str) -> str:
    """A place's name reduced to what identifies it: lowercase, no punctuation, no leading "the", one spelling of
    guesthouse."""
    text = re.sub(r"[^\w\s]", " ", place.lower().replace("&", " and "))
    text = re.sub(r"\bguest ?house\b", "guesthouse", " ".join(text.split()))
    return text.removeprefix("the ")


def same_place(got: str, wanted: str) -> bool:
    """Do two places name the same place as whole names ("the university arms hotel" is "university arms hotel",
    "christ college" is "christ's college"; "hotel" is not "university arms hotel")?"""
    one, other = place_key(got).replace(" s ", "s "), place_key(wanted).replace(" s ", "s ")
    return bool(one) and (one == other or fuzz.ratio(one, other) >= SAME_PLACE_RATIO)


def says_duration(value: str, text: str) -> bool:
    """A duration ("51 minutes") as people write it: 51 minutes, 51 mins, 51-minute."""
    minutes = value.split()[0] if value.split() else ""
    if not minutes.isdigit():
        return whole(value, text)
    forms = "|".join(number_forms(int(minutes)))
    return pattern(rf"(?<![\w.:])(?:{forms})[- ]?min(?:ute)?s?\b").search(text.lower()) is not None


def says_centre(text: str) -> bool:
    """The centre of town, as people write it: centre, center, central."""
    return pattern(r"\bcent(?:re|er|ral)\b").search(text.lower()) is not None


def says_slot(name: str, kind: str, value: object, text: str) -> bool:
    """Is a constraint or booking value of slot `name` (of kind `kind`, see domains.base.Slot) in `text`, as people
    say it: times and numbers in any common spelling, yes/no as a statement of the right sense, stars, areas and
    price ranges in their usual words, anything else as whole words ("guest house" for guesthouse)?"""
    if kind == "time":
        return says_time(str(value), text)
    if kind == "count" and isinstance(value, int):
        return says_count(name, value, text)
    if name in YES_NO_WORDS:  # said at least once in that sense (a user may say the other first, then switch)
        return (str(value) == "yes") in yes_no_statements(name, text)
    if name == "stars":
        return says_stars(str(value), text)
    if name == "area" and value == "centre":
        return says_centre(text)
    if name == "pricerange" and value == "moderate":
        return phrase("moderate", text) or phrase("moderately priced", text)
    return phrase(str(value), text) or whole(str(value), text)


def says_count(name: str, number: int, text: str) -> bool:
    """A count as people say it for its slot: nights as "3 nights", people as "5 people", "five of us", "a party
    of 5" or "for 5" (not "for 5 nights"); any other count as a whole number."""
    forms = "|".join(number_forms(number))
    lowered = text.lower()
    if name == "stay":
        return pattern(rf"(?<![\w.:])(?:{forms})[- ]nights?\b").search(lowered) is not None
    if name == "people":
        people = pattern(rf"(?<![\w.:])(?:{forms}) (?:people|persons?|guests?|adults?|of us)\b"
                         rf"|\b(?:party|group|table) (?:of|for) (?:{forms})\b"
                         rf"|\bfor (?:{forms})\b(?! (?:nights?|days?|stars?|pm|am|o'clock|minutes?|that|which))")
        return people.search(lowered) is not None
    return says_number(number, text)


_NO_MATCH = re.compile(
    r"\b(?:there (?:is|are) (?:no|none|nothing)|no (?:\w+ ){0,4}(?:restaurants?|hotels?|guest ?houses?|attractions?|"
    r"trains?|places?|venues?|matches|results?|options?)\b|(?:could|can)(?:n't| ?not) find|i found no|"
    r"nothing (?:matches|matching|fits)|none (?:match|fit|of them)|no such|(?:do|does)(?:n't| not) have any|"
    r"(?:don't|do not) have (?:a|an|any)\b)")
_REFUSAL = re.compile(
    r"\b(?:fully booked|booked up|sold out|(?:is|are) full\b|"
    r"no (?:\w+ ){0,2}(?:tables?|rooms?|seats?) (?:available|free|left)|"
    r"not available|unavailable|(?:could|can)(?:n't| ?not) (?:book|reserve|make)|unable to (?:book|reserve)|"
    r"no availability|booking (?:failed|was unsuccessful)|(?:was|were) refused)")


def reports_no_match(reply: str) -> bool:
    """Does a reply say that nothing matched ("I am sorry, there is no hotel like that")?"""
    return _NO_MATCH.search(reply.lower()) is not None


def reports_refusal(reply: str) -> bool:
    """Does a reply say that a booking could not be made ("it is fully booked then")?"""
    return _REFUSAL.search(reply.lower()) is not None
