"""What a user message says, read by rules: which domain it is about, the constraints and booking values it gives,
what it asks to be told, whether it wants a booking, whether it says "I don't mind" or goodbye.

The rules know the ontology (the values each slot can take: the database's names, foods and stations, and each
slot's allowed values), as any rule-based MultiWOZ system does; they never see a goal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from app.tools.toolbox import Toolbox
from domains import domain as find_domain
from domains.values import DONTCARE, WEEKDAYS, clock

VENUE_DOMAINS = ("hotel", "restaurant", "attraction")
# Names whose word without "the" is an everyday word: they count only with their "the".
COMMON_CORES = ("place", "junction")
DOMAIN_WORDS = {
    "taxi": r"\btaxi|\bcab\b",
    "train": r"\btrains?\b(?! station)|\btickets?\b",
    "hotel": r"\bhotels?\b|\bguest ?houses?\b|\b(?:place|somewhere) to stay\b|\baccommodation\b|\broom\b",
    "restaurant": r"\brestaurants?\b|\b(?:place|somewhere) to eat\b|\bfood\b|\btable\b|\bcuisine\b",
    "attraction": r"\battractions?\b|\bsomething to do\b|\bplace to go\b|\bmuseum|\bcolleges?\b|\bnightclub|"
                  r"\bswimming pool|\bconcert hall|\btheat(?:re|er)|\bcinema|\barchitecture\b|\bentertainment\b|"
                  r"\bmultiple sports\b|\bboat\b|\bparks?\b",
}
REQUESTS = {
    "phone": r"\bphone\b|\bcontact number\b|\btelephone\b", "address": r"\baddress\b",
    "postcode": r"\bpost ?code\b", "entrance fee": r"\b(?:entrance|admission|entry) fee\b",
    "price": r"\bprice\b(?! range)|\bfare\b|\bticket price\b", "duration": r"\btravel time\b|\bjourney time\b|"
    r"\bhow long the journey\b|\bduration\b", "leaveat": r"\bdeparture time\b|\bwhen it leaves\b",
    "arriveby": r"\barrival time\b|\bwhen it arrives\b", "trainid": r"\btrain (?:id|number)\b",
    "car type": r"\b(?:car type|type of car|what car|make of the car|kind of car)\b",
    "area": r"\bthe area\b|\bwhat part of town\b", "type": r"\bthe type\b(?! of)|\bwhat kind of place\b",
    "internet": r"\bwhether (?:they have internet|there is wifi)\b", "parking": r"\bwhether (?:they have|there is) "
    r"(?:free )?parking\b", "stars": r"\bstar rating\b|\bhow many stars\b", "pricerange": r"\bprice range\b",
    "food": r"\btype of food\b|\bwhat food\b|\bthe cuisine\b", "reference": r"\breference\b",
}
ASKING = re.compile(r"\b(?:give me|tell me|what is|what's|what are|know|could i (?:have|get)|can i (?:have|get)|"
                    r"i need the|i'd like the|i would like the|do they have|does it have|is there)\b")
DONT_MIND = re.compile(r"\b(?:don't mind|do not mind|no preference|doesn't matter|does not matter|any \w+(?: \w+)? "
                       r"is fine|don't care|not fussy)\b")
SLOT_WORDS = {"area": r"\barea\b", "pricerange": r"\bprice", "stars": r"\bstar", "type": r"\btype\b",
              "food": r"\bfood\b", "parking": r"\bparking\b", "internet": r"\binternet\b|\bwifi\b"}
TIME = re.compile(r"(?<![\d:.])(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d])|\bnoon\b|\bmidnight\b")
PEOPLE = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
AFTER_COUNT = r"(?=\s*(?:[,.?!]|$|on\b|at\b|from\b|starting\b|please\b))"  # "for 5 on monday", not "for one that"
NUMBER = r"(\d+|zero|one|two|three|four|five)"  # a star rating
STOP = {"a", "an", "the", "some", "serves", "serving", "serve", "with", "that", "which", "any", "good", "nice",
        "great", "of", "kind", "type", "what", "for", "eat", "i", "want", "like", "in", "and", "one", "cheap",
        "moderate", "moderately", "priced", "expensive", "really", "is", "it", "they", "restaurant", "place",
        "somewhere", "to", "find", "need", "looking", "would", "about", "no", "preference", "mind"}
CALLED = re.compile(r"\b(?:called|named) ([a-z][\w' &-]*?)(?=[,.?!]|$| and | in )")
PLACE_END = (r"(?=\s+(?:to|from|and|at|by|after|before|leaving|arriving|departing|heading|going|please|that|which|"
             r"so|around|on)\b|[,.?!]|$)")


@dataclass(frozen=True)
class Ontology:
    """The values the rules know: venue names per domain, foods and stations (from the database)."""

    names: dict[str, tuple[str, ...]]
    foods: tuple[str, ...]
    stations: tuple[str, ...]
    read: dict[tuple[str, str | None], Understood] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def named(self) -> tuple[re.Pattern[str], dict[str, tuple[str, str]]]:
        """One pattern for every venue name (longest first; "the" optional unless the rest is an everyday word),
        and what each spelling it matches names: (domain, name)."""
        spellings: dict[str, tuple[str, str]] = {}
        for domain, names in self.names.items():
            for name in names:
                core = name.removeprefix("the ")
                spellings.setdefault(name, (domain, name))
                if core not in COMMON_CORES:
                    spellings.setdefault(core, (domain, name))
        ordered = sorted(spellings, key=len, reverse=True)
        pattern = re.compile(r"(?<![\w'])(" + "|".join(map(re.escape, ordered)) + r")(?![\w'])") if ordered else \
            re.compile(r"(?!x)x")
        return pattern, spellings

    @classmethod
    def of(cls, toolbox: Toolbox) -> Ontology:
        """The ontology of the toolbox's database."""
        vocabulary = toolbox.catalogue.vocabulary
        names = {d: tuple(n.lower() for n in vocabulary(find_domain(d), find_domain(d).slot("name")))
                 for d in VENUE_DOMAINS}
        train = find_domain("train")
        return cls(names, tuple(vocabulary(find_domain("restaurant"), find_domain("restaurant").slot("food"))),
                   tuple(vocabulary(train, train.slot("departure"))))


KEYWORDS_ONLY = Ontology({}, (), ())  # reads domains by their words and values by their forms; knows no venue


@dataclass
class Understood:
    """What one user message says."""

    domain: str | None = None  # the domain it names (None: it goes on with the one before)
    values: dict[str, Any] = field(default_factory=dict)  # constraints (dontcare included) and trip places
    book: dict[str, Any] = field(default_factory=dict)  # booking values
    requests: list[str] = field(default_factory=list)
    wants_booking: bool = False
    dont_mind: bool = False  # "I don't mind" with no slot named: about what the agent asked
    closing: bool = False


def understand(text: str, ontology: Ontology, active: str | None) -> Understood:
    """Read one user message, given the domain the dialogue is about so far (remembered per ontology: a dialogue
    is read again at every step)."""
    key = (text, active)
    if key not in ontology.read:
        if len(ontology.read) > 50_000:
            ontology.read.clear()
        ontology.read[key] = _understand(text, ontology, active)
    known = ontology.read[key]
    return replace(known, values=dict(known.values), book=dict(known.book), requests=list(known.requests))


def _understand(text: str, ontology: Ontology, active: str | None) -> Understood:
    said = " " + " ".join(text.lower().replace("’", "'").split()) + " "
    found = Understood()
    taxi = re.search(DOMAIN_WORDS["taxi"], said) is not None or (active == "taxi" and re.search(r"\b(from|to)\b", said))
    if taxi:
        said = _places(said, ontology, found)
    names, said = _names(said, ontology)
    found.domain = _domain(said, names, active, bool(taxi))
    domain = found.domain or active
    if names and domain in names:
        found.values["name"] = names[domain]
    elif domain in VENUE_DOMAINS and (called := CALLED.search(said)):
        found.values["name"] = called[1]  # a name the rules do not know: the search will find what it means
        said = said.replace(called[0], " ")
    said = _requests(said, found)
    said = _dont_mind(said, found)
    _times(said, domain, found)
    _booking(said, domain, found)
    if domain in VENUE_DOMAINS:
        _venue_values(said, domain, ontology, found)
    elif domain == "train":
        _train_values(said, ontology, found)
    found.closing = re.search(r"\b(?:that is all|that's all|that's everything|goodbye|bye)\b", said) is not None
    return found


def _names(said: str, ontology: Ontology) -> tuple[dict[str, str], str]:
    pattern, spellings = ontology.named
    names: dict[str, str] = {}
    for match in pattern.finditer(said):
        domain, name = spellings[match[1]]
        names.setdefault(domain, name)
    return names, pattern.sub(" ", said)


def _places(said: str, ontology: Ontology, found: Understood) -> str:
    """A trip's places: "from X", "to X" (a venue by its whole name, "the hotel", a station or any named place)."""
    pattern, spellings = ontology.named
    for slot, word in (("departure", r"from|pick me up (?:at|from)"), ("destination", r"to|going to|heading to")):
        for match in re.finditer(rf"\b(?:{word}) (?:the )?", said):
            rest = said[match.end():]
            known = pattern.match(rest)
            name = spellings[known[1]][1] if known else None
            ended = re.match(rf"([a-z][\w' &-]*?){PLACE_END}", rest)
            place = name or (ended[1].strip() if ended else "")
            if not place or place.split()[0] in {"leave", "arrive", "get", "be", "go", "book", "pick", "make", "know",
                                                 "have", "find"}:
                continue
            found.values[slot] = _place(place, ontology)
            said = said[:match.start()] + " " + rest[len(known[1]) if known else len(place):]
            break
    return said


def _place(place: str, ontology: Ontology) -> str:
    for names in ontology.names.values():
        for name in names:
            if place in (name, name.removeprefix("the ")):
                return name
    types = {"hotel": "hotel", "guesthouse": "hotel", "guest house": "hotel", "restaurant": "restaurant",
             "attraction": "attraction"}
    return f"@{types[place]}" if place in types else place  # "@hotel": the hotel this dialogue found


def _domain(said: str, names: dict[str, str], active: str | None, taxi: bool) -> str | None:
    if taxi and re.search(DOMAIN_WORDS["taxi"], said):
        return "taxi"
    if re.search(DOMAIN_WORDS["train"], said):
        return "train"
    hits = [(m.start(), d) for d in VENUE_DOMAINS if (m := re.search(DOMAIN_WORDS[d], said))]
    if hits:
        return min(hits)[1]
    if names:
        return active if active in names else next(iter(names))
    return "taxi" if taxi else None


def _requests(said: str, found: Understood) -> str:
    for sentence in re.split(r"(?<=[.?!])\s+", said):
        if not ASKING.search(sentence) or DONT_MIND.search(sentence):
            continue
        for attribute, pattern in REQUESTS.items():
            if re.search(pattern, sentence):
                found.requests.append(attribute)
                said = re.sub(pattern, " ", said)
    return said


def _dont_mind(said: str, found: Understood) -> str:
    """"I don't mind about the area": the slots it names (or, naming none, what the agent asked) are dontcare; the
    sentence says nothing else."""
    kept = []
    for sentence in re.split(r"(?<=[.?!])\s+", said):
        if DONT_MIND.search(sentence):
            named = [slot for slot, pattern in SLOT_WORDS.items() if re.search(pattern, sentence)]
            found.values.update(dict.fromkeys(named, DONTCARE))
            found.dont_mind = found.dont_mind or not named
        else:
            kept.append(sentence)
    return " " + " ".join(kept) + " "


def _times(said: str, domain: str | None, found: Understood) -> None:
    for match in TIME.finditer(said):
        if not (match[2] or match[3] or match[0] in ("noon", "midnight")):
            continue  # a bare number is a count, not a time
        try:
            value = clock(match[0].replace(".", ":", 1) if match[2] else match[0].replace(".", ""), past_midnight=True)
        except ValueError:
            continue
        before = said[max(0, match.start() - 24):match.start()]
        if re.search(r"\b(?:by|before|arriv\w*|get there)\W*$|\b(?:arriv\w*|get there) by\W*$", before):
            found.values["arriveby"] = value
        elif domain in ("train", "taxi") or re.search(r"\b(?:after|leav\w*|depart\w*)\W*$", before):
            found.values["leaveat"] = value
        else:
            found.book["time"] = value


def _booking(said: str, domain: str | None, found: Understood) -> None:
    found.wants_booking = re.search(r"\bbook|\breserv|\bbooking\b", said) is not None
    if match := re.search(rf"\b{PEOPLE}[- ]nights?\b", said):
        found.book["stay"] = _number(match[1])
    if match := re.search(rf"\b{PEOPLE} (?:people|persons?|guests?|adults?|of us)\b|\b(?:party|group|table) "
                          rf"(?:of|for) {PEOPLE}\b|\bfor {PEOPLE}{AFTER_COUNT}", said):
        found.book["people"] = _number(next(g for g in match.groups() if g))
    for day in WEEKDAYS:
        if re.search(rf"\b{day}\b", said):
            (found.values if domain == "train" else found.book)["day"] = day


def _venue_values(said: str, domain: str, ontology: Ontology, found: Understood) -> None:
    declared = find_domain(domain)
    slots = {s.name for s in declared.slots}
    if domain == "restaurant" and (food := _food(said, ontology)):
        found.values["food"], said = food[0], said.replace(food[1], " ")  # "north indian" holds no area
    if match := re.search(r"\b(centre|center|central|north|south|east|west)\b", said):
        found.values["area"] = declared.slot("area").normalise(match[1])
    if "pricerange" in slots and (match := re.search(r"\b(cheap|moderate|expensive)", said)):
        found.values["pricerange"] = match[1]
    if domain == "hotel":
        _hotel_values(said, found, named="name" in found.values)
    if domain == "attraction" and (match := re.search(
            r"\b(architecture|boat|cinema|college|concert ?hall|entertainment|museum|multiple sports|nightclub|"
            r"night club|park|swimming ?pool|theat(?:re|er))s?\b", said)):
        found.values["type"] = declared.slot("type").normalise(match[1])


def _hotel_values(said: str, found: Understood, named: bool) -> None:
    if re.search(r"\bguest ?houses?\b", said):
        found.values["type"] = "guesthouse"
    elif not named and re.search(r"\b(?:an?|is a)(?: \w+){0,3}? hotels?\b", said):  # "a hotel called X" is X
        found.values["type"] = "hotel"
    if match := re.search(rf"\b{NUMBER}[- ]stars?\b|\bstar rating of {NUMBER}\b|\brated {NUMBER} stars?\b", said):
        found.values["stars"] = str(_number(next(g for g in match.groups() if g)))
    for slot, pattern in (("parking", r"\bparking\b"), ("internet", r"\binternet\b|\bwi-?fi\b")):
        for clause in re.split(r"[.;!?]|,| and | but ", said):
            if re.search(pattern, clause) and slot not in found.values:
                negated = re.search(r"\b(?:no|not|without|don't|doesn't)\b|n't\b", clause)
                found.values[slot] = "no" if negated else "yes"


def _food(said: str, ontology: Ontology) -> tuple[str, str] | None:
    """The food a message asks for ("that serves north indian food": the words just before "food" that are no
    filler), and the words that said it."""
    for match in re.finditer(r"((?:[a-z]+ ){1,3})(?:food|cuisine)\b", said):
        words: list[str] = []
        for word in reversed(match[1].split()):
            if word in STOP:
                break
            words.insert(0, word)
        if words:
            food = " ".join(words)
            return (f"the {food}" if f"the {food}" in ontology.foods else food), match[0]
    return None


def _train_values(said: str, ontology: Ontology, found: Understood) -> None:
    for station in sorted(ontology.stations, key=len, reverse=True):
        for match in re.finditer(rf"\b((?:\w+ ){{0,2}}){re.escape(station)}\b", said):
            lead = match[1]
            slot = "destination" if re.search(r"\b(?:to|into|for|in)\s*$", lead) else \
                "departure" if re.search(r"\b(?:from|leaving|departing|out of)\s*$", lead) else None
            if slot and slot not in found.values:
                found.values[slot] = station
        said = said.replace(station, " ")


def _number(word: str) -> int:
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
    return words.index(word) if word in words else int(word)
